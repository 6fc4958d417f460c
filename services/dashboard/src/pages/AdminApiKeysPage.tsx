import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState, type FormEvent } from "react";
import type { ApiKey, CreatedApiKey, NewApiKey } from "../api/gateway.gen";
import { answer, errorMessage } from "../api/http";
import { getServices } from "../app/services";
import { formatDate } from "../format";
import { FeedbackLine, ListStatus, type Feedback } from "../ui/Feedback";
import { useTitle } from "../ui/hooks";
import { NeedAdmin } from "./NotFoundPage";

const KEYS = ["admin", "api-keys"] as const;
type Scope = NewApiKey["scopes"][number];
const SCOPES: ReadonlyArray<{ scope: Scope; help: string }> = [
  { scope: "ingest:metrics", help: "post metrics to ingest" },
  { scope: "ingest:events", help: "post events to ingest" },
];

export function AdminApiKeysPage({ isAdmin }: { isAdmin: boolean }) {
  if (!isAdmin) return <NeedAdmin title="API keys" />;
  return <ApiKeysAdmin />;
}

function ApiKeysAdmin() {
  useTitle("API keys");
  const { api } = getServices();
  const queryClient = useQueryClient();
  const keys = useQuery({
    queryKey: KEYS,
    queryFn: ({ signal }) => answer(api.GET("/api/v1/admin/api-keys", { signal })),
  });
  const [created, setCreated] = useState<CreatedApiKey | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [feedback, setFeedback] = useState<Feedback | null>(null);

  const revoke = useMutation({
    mutationFn: (key: ApiKey) => answer(api.DELETE("/api/v1/admin/api-keys/{api_key_id}", { params: { path: { api_key_id: key.id } } })),
    onSuccess: (key) => {
      setConfirming(null);
      setFeedback({ kind: "ok", text: `Revoked “${key.name}”. Ingest refuses it within seconds.` });
      return queryClient.invalidateQueries({ queryKey: KEYS });
    },
    onError: (error, key) => setFeedback({ kind: "error", text: `Could not revoke “${key.name}”: ${errorMessage(error)}` }),
  });

  return (
    <>
      <h1 tabIndex={-1}>API keys</h1>
      {created ? (
        <NewSecret created={created} onDone={() => setCreated(null)} />
      ) : (
        <CreateKeyForm onCreated={setCreated} />
      )}
      <section aria-labelledby="keys-heading">
        <h2 id="keys-heading">All keys</h2>
        <FeedbackLine feedback={feedback} />
        <ListStatus query={keys} what="API keys" />
        {keys.data && keys.data.length === 0 && <p>No API keys yet.</p>}
        {keys.data && keys.data.length > 0 && (
          <div className="table-wrap" role="region" aria-labelledby="keys-heading" tabIndex={0}>
            <table className="admin-table">
              <caption className="visually-hidden">API keys with their scopes and use</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Prefix</th>
                  <th scope="col">Scopes</th>
                  <th scope="col">Created</th>
                  <th scope="col">Last used</th>
                  <th scope="col">Revoked</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {keys.data.map((key) => (
                  <tr key={key.id}>
                    <th scope="row">{key.name}</th>
                    <td>
                      <code>{key.prefix}</code>
                    </td>
                    <td>{key.scopes.join(", ")}</td>
                    <td>{formatDate(key.created_at)}</td>
                    <td>{key.last_used_at ? formatDate(key.last_used_at) : "Never"}</td>
                    <td>{key.revoked_at ? formatDate(key.revoked_at) : "No"}</td>
                    <td>
                      {key.revoked_at ? (
                        "—"
                      ) : confirming === key.id ? (
                        <span className="confirm" role="group" aria-label={`Confirm revoking ${key.name}`}>
                          <span>Revoke “{key.name}”?</span>
                          <button
                            type="button"
                            className="button button--small button--danger"
                            disabled={revoke.isPending}
                            onClick={() => revoke.mutate(key)}
                            autoFocus
                          >
                            Yes, revoke
                          </button>
                          <button type="button" className="button button--small" onClick={() => setConfirming(null)}>
                            Cancel
                          </button>
                        </span>
                      ) : (
                        <button
                          type="button"
                          className="button button--small"
                          onClick={() => {
                            setFeedback(null);
                            setConfirming(key.id);
                          }}
                          aria-label={`Revoke: ${key.name}`}
                        >
                          Revoke
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}

function CreateKeyForm({ onCreated }: { onCreated: (created: CreatedApiKey) => void }) {
  const { api } = getServices();
  const queryClient = useQueryClient();
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<Scope[]>(["ingest:metrics"]);
  const [problem, setProblem] = useState<string | null>(null);
  const create = useMutation({
    mutationFn: (body: NewApiKey) => answer(api.POST("/api/v1/admin/api-keys", { body })),
    onSuccess: (created) => {
      setName("");
      onCreated(created);
      return queryClient.invalidateQueries({ queryKey: KEYS });
    },
  });

  function submit(event: FormEvent<HTMLFormElement>): void {
    event.preventDefault();
    if (!scopes.length) {
      setProblem("Choose at least one scope.");
      return;
    }
    setProblem(null);
    create.mutate({ name: name.trim(), scopes });
  }

  return (
    <section aria-labelledby="create-key-heading" className="panel">
      <h2 id="create-key-heading">Create an API key</h2>
      <form className="inline-form" onSubmit={submit}>
        <div className="field">
          <label htmlFor="new-key-name">Name</label>
          <input id="new-key-name" required maxLength={100} value={name} onChange={(e) => setName(e.target.value)} />
        </div>
        <fieldset className="field scopes">
          <legend>Scopes</legend>
          {SCOPES.map(({ scope, help }) => (
            <label key={scope} className="check">
              <input
                type="checkbox"
                checked={scopes.includes(scope)}
                onChange={(e) =>
                  setScopes((current) => (e.target.checked ? [...current, scope] : current.filter((s) => s !== scope)))
                }
              />
              <span>
                {scope} <span className="hint">({help})</span>
              </span>
            </label>
          ))}
        </fieldset>
        <button type="submit" className="button button--primary" disabled={create.isPending}>
          Create key
        </button>
      </form>
      {(problem || create.isError) && (
        <p className="form-error" role="alert">
          {problem ?? errorMessage(create.error)}
        </p>
      )}
    </section>
  );
}

function NewSecret({ created, onDone }: { created: CreatedApiKey; onDone: () => void }) {
  const [copied, setCopied] = useState<string | null>(null);
  const secretRef = useRef<HTMLElement>(null);
  const headingRef = useRef<HTMLHeadingElement>(null);
  useEffect(() => headingRef.current?.focus(), []);

  async function copy(): Promise<void> {
    try {
      await navigator.clipboard.writeText(created.secret);
      setCopied("Copied to the clipboard.");
    } catch {
      // No clipboard access: select the text so Ctrl+C works.
      const node = secretRef.current;
      if (node) {
        const range = document.createRange();
        range.selectNodeContents(node);
        const selection = window.getSelection();
        selection?.removeAllRanges();
        selection?.addRange(range);
      }
      setCopied("Could not copy automatically: the secret is selected, press Ctrl+C (⌘C).");
    }
  }

  return (
    <section aria-labelledby="secret-heading" className="panel panel--secret">
      <h2 id="secret-heading" tabIndex={-1} ref={headingRef}>
        New API key “{created.api_key.name}”
      </h2>
      <p className="notice" role="note">
        <strong>Copy this secret now: you will not see it again.</strong> Pulse keeps only its hash.
      </p>
      <p className="secret">
        <code ref={secretRef} data-testid="api-key-secret">
          {created.secret}
        </code>
      </p>
      <p className="secret-actions">
        <button type="button" className="button button--primary" onClick={() => void copy()}>
          Copy secret
        </button>
        <button type="button" className="button" onClick={onDone}>
          Done
        </button>
        <span role="status" className="form-ok">
          {copied}
        </span>
      </p>
    </section>
  );
}
