import { useState, type FormEvent } from "react";
import { errorMessage } from "../api/http";
import { getServices } from "../app/services";
import { useTitle } from "../ui/hooks";

export function LoginPage({ notice }: { notice: string | null }) {
  useTitle("Log in");
  const { session } = getServices();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>): Promise<void> {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await session.login(email.trim(), password);
      setPassword("");
    } catch (caught) {
      setError(errorMessage(caught));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main id="main" className="login-page">
      <div className="login-card">
        <p className="login-brand" aria-hidden="true">
          <span className="brand-mark" /> Pulse
        </p>
        <h1>Log in to Pulse</h1>
        {notice && !error && (
          <p className="notice" role="status">
            {notice}
          </p>
        )}
        <form onSubmit={(event) => void submit(event)} noValidate={false}>
          <div className="field">
            <label htmlFor="login-email">Email</label>
            <input
              id="login-email"
              name="email"
              type="email"
              autoComplete="username"
              required
              value={email}
              onChange={(event) => setEmail(event.target.value)}
            />
          </div>
          <div className="field">
            <label htmlFor="login-password">Password</label>
            <input
              id="login-password"
              name="password"
              type="password"
              autoComplete="current-password"
              required
              value={password}
              onChange={(event) => setPassword(event.target.value)}
            />
          </div>
          {error && (
            <p className="form-error" role="alert">
              {error}
            </p>
          )}
          <button type="submit" className="button button--primary" disabled={busy}>
            {busy ? "Logging in…" : "Log in"}
          </button>
        </form>
      </div>
    </main>
  );
}
