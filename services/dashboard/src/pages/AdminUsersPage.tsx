import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import type { NewUser, User, UserChange } from "../api/gateway.gen";
import { answer, errorMessage } from "../api/http";
import { getServices } from "../app/services";
import { formatDate } from "../format";
import { Dialog } from "../ui/Dialog";
import { FeedbackLine, ListStatus, type Feedback } from "../ui/Feedback";
import { useTitle } from "../ui/hooks";
import { NeedAdmin } from "./NotFoundPage";

const USERS = ["admin", "users"] as const;

export function AdminUsersPage({ isAdmin }: { isAdmin: boolean }) {
  if (!isAdmin) return <NeedAdmin title="Users" />;
  return <UsersAdmin />;
}

function UsersAdmin() {
  useTitle("Users");
  const { api } = getServices();
  const queryClient = useQueryClient();
  const users = useQuery({
    queryKey: USERS,
    queryFn: ({ signal }) => answer(api.GET("/api/v1/admin/users", { signal })),
  });
  const [feedback, setFeedback] = useState<Feedback | null>(null);
  const [resetFor, setResetFor] = useState<User | null>(null);

  const change = useMutation({
    mutationFn: ({ user, body }: { user: User; body: UserChange }) =>
      answer(api.PATCH("/api/v1/admin/users/{user_id}", { params: { path: { user_id: user.id } }, body })),
    onSuccess: (user) => {
      setFeedback({ kind: "ok", text: `${user.email}: role ${user.role}, ${user.disabled ? "disabled" : "enabled"}.` });
      return queryClient.invalidateQueries({ queryKey: USERS });
    },
    onError: (error, { user }) => setFeedback({ kind: "error", text: `Could not change ${user.email}: ${errorMessage(error)}` }),
  });

  return (
    <>
      <h1 tabIndex={-1}>Users</h1>
      <CreateUserForm />
      <section aria-labelledby="users-heading">
        <h2 id="users-heading">All users</h2>
        <FeedbackLine feedback={feedback} />
        <ListStatus query={users} what="users" />
        {users.data && (
          <div className="table-wrap" role="region" aria-labelledby="users-heading" tabIndex={0}>
            <table className="admin-table">
              <caption className="visually-hidden">Users, with their role and status</caption>
              <thead>
                <tr>
                  <th scope="col">Email</th>
                  <th scope="col">Role</th>
                  <th scope="col">Status</th>
                  <th scope="col">Created</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {users.data.map((user) => (
                  <tr key={user.id}>
                    <th scope="row">{user.email}</th>
                    <td>{user.role}</td>
                    <td>{user.disabled ? "Disabled" : "Active"}</td>
                    <td>{formatDate(user.created_at)}</td>
                    <td>
                      <div className="actions">
                        <button
                          type="button"
                          className="button button--small"
                          disabled={change.isPending}
                          onClick={() => change.mutate({ user, body: { role: user.role === "admin" ? "user" : "admin" } })}
                          aria-label={`${user.role === "admin" ? "Make user" : "Make admin"}: ${user.email}`}
                        >
                          {user.role === "admin" ? "Make user" : "Make admin"}
                        </button>
                        <button
                          type="button"
                          className="button button--small"
                          disabled={change.isPending}
                          onClick={() => change.mutate({ user, body: { disabled: !user.disabled } })}
                          aria-label={`${user.disabled ? "Enable" : "Disable"}: ${user.email}`}
                        >
                          {user.disabled ? "Enable" : "Disable"}
                        </button>
                        <button
                          type="button"
                          className="button button--small"
                          onClick={() => setResetFor(user)}
                          aria-label={`Reset password: ${user.email}`}
                        >
                          Reset password
                        </button>
                      </div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <ResetPasswordDialog user={resetFor} onClose={() => setResetFor(null)} onDone={(text) => setFeedback({ kind: "ok", text })} />
    </>
  );
}

type Role = NonNullable<NewUser["role"]>;
/** The roles an admin may give (the classroom's instructor and student: ADR 0023). */
const ROLES: readonly Role[] = ["user", "instructor", "student", "admin"];

function roleOf(value: string): Role {
  return ROLES.find((choice) => choice === value) ?? "user";
}

function CreateUserForm() {
  const { api } = getServices();
  const queryClient = useQueryClient();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState<Role>("user");
  const [done, setDone] = useState<string | null>(null);
  const create = useMutation({
    mutationFn: (body: NewUser) => answer(api.POST("/api/v1/admin/users", { body })),
    onSuccess: (user) => {
      setDone(`Created ${user.email} (${user.role}).`);
      setEmail("");
      setPassword("");
      setRole("user");
      return queryClient.invalidateQueries({ queryKey: USERS });
    },
  });
  const tooShort = password.length > 0 && password.length < 12;

  function submit(event: FormEvent<HTMLFormElement>): void {
    event.preventDefault();
    setDone(null);
    if (password.length < 12) return;
    create.mutate({ email: email.trim(), password, role });
  }

  return (
    <section aria-labelledby="create-user-heading" className="panel">
      <h2 id="create-user-heading">Create a user</h2>
      <form className="inline-form" onSubmit={submit}>
        <div className="field">
          <label htmlFor="new-user-email">Email</label>
          <input id="new-user-email" type="email" required autoComplete="off" value={email} onChange={(e) => setEmail(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="new-user-password">Password</label>
          <input
            id="new-user-password"
            type="password"
            required
            minLength={12}
            autoComplete="new-password"
            aria-describedby="new-user-password-hint"
            aria-invalid={tooShort || undefined}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
          <span id="new-user-password-hint" className="hint">
            At least 12 characters.
          </span>
        </div>
        <div className="field">
          <label htmlFor="new-user-role">Role</label>
          <select id="new-user-role" value={role} onChange={(e) => setRole(roleOf(e.target.value))}>
            {ROLES.map((choice) => (
              <option key={choice} value={choice}>
                {choice}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" className="button button--primary" disabled={create.isPending}>
          Create user
        </button>
      </form>
      {create.isError && (
        <p className="form-error" role="alert">
          {errorMessage(create.error)}
        </p>
      )}
      {done && (
        <p className="form-ok" role="status">
          {done}
        </p>
      )}
    </section>
  );
}

function ResetPasswordDialog({ user, onClose, onDone }: { user: User | null; onClose: () => void; onDone: (text: string) => void }) {
  const { api } = getServices();
  const queryClient = useQueryClient();
  const [password, setPassword] = useState("");
  const reset = useMutation({
    mutationFn: ({ id, password: next }: { id: string; password: string }) =>
      answer(
        api.POST("/api/v1/admin/users/{user_id}/password", {
          params: { path: { user_id: id } },
          body: { password: next },
        }),
      ),
    onSuccess: (changed) => {
      onDone(`The password of ${changed.email} was reset; their sessions have ended.`);
      close();
      return queryClient.invalidateQueries({ queryKey: USERS });
    },
  });

  function close(): void {
    setPassword("");
    reset.reset();
    onClose();
  }

  function submit(event: FormEvent<HTMLFormElement>): void {
    event.preventDefault();
    if (!user || password.length < 12) return;
    reset.mutate({ id: user.id, password });
  }

  return (
    <Dialog open={user !== null} title={user ? `Reset the password of ${user.email}` : "Reset password"} onClose={close}>
      <form onSubmit={submit}>
        <div className="field">
          <label htmlFor="reset-password">New password</label>
          <input
            id="reset-password"
            type="password"
            required
            minLength={12}
            autoComplete="new-password"
            aria-describedby="reset-password-hint"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            autoFocus
          />
          <span id="reset-password-hint" className="hint">
            At least 12 characters. Every session of this user ends.
          </span>
        </div>
        {reset.isError && (
          <p className="form-error" role="alert">
            {errorMessage(reset.error)}
          </p>
        )}
        <div className="dialog-actions">
          <button type="button" className="button" onClick={close}>
            Cancel
          </button>
          <button type="submit" className="button button--primary" disabled={reset.isPending}>
            Reset password
          </button>
        </div>
      </form>
    </Dialog>
  );
}
