/**
 * The classes the user may see, and for instructors and admins a form to create one. A new
 * class's producer key is shown once, with the lines students run in their notebook.
 */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState, type FormEvent } from "react";
import type { Me } from "../api/gateway.gen";
import { answer, errorMessage } from "../api/http";
import { classHref } from "../app/router";
import { formatDate } from "../format";
import { ListStatus } from "../ui/Feedback";
import { useTitle } from "../ui/hooks";
import { classKeys, classroomApi, useClasses } from "./api";
import type { CreatedClass, NewClass } from "./types";

export function canTeach(me: Me): boolean {
  return me.role === "admin" || me.role === "instructor";
}

/** The class id rule of the contracts (a slug: it names a subject and a channel). */
export const CLASS_ID_PATTERN = "[a-z0-9][a-z0-9\\-]{0,62}";

export function ClassesPage({ me }: { me: Me }) {
  useTitle("Classes");
  const classes = useClasses();
  const [created, setCreated] = useState<CreatedClass | null>(null);
  const teaches = canTeach(me);
  const isAdmin = me.role === "admin";
  const list = [...(classes.data?.classes ?? [])].sort((a, b) => a.title.localeCompare(b.title));

  return (
    <>
      <h1 tabIndex={-1}>Classes</h1>
      {!teaches && (
        <p className="notice" role="note">
          Your own progress in these classes is on <a href="#/my-progress">My progress</a>.
        </p>
      )}
      {teaches && (created ? <NewClassKey created={created} onDone={() => setCreated(null)} /> : <CreateClassForm isAdmin={isAdmin} onCreated={setCreated} />)}
      <section aria-labelledby="classes-heading">
        <h2 id="classes-heading">{isAdmin ? "All classes" : teaches ? "Your classes" : "Your classes as a student"}</h2>
        <ListStatus query={classes} what="classes" />
        {classes.isSuccess && list.length === 0 && (
          <p>{teaches ? "No classes yet: create one above." : "You are in no class yet."}</p>
        )}
        {list.length > 0 && (
          <div className="table-wrap" role="region" aria-labelledby="classes-heading" tabIndex={0}>
            <table className="admin-table" data-testid="classes-table">
              <caption className="visually-hidden">Classes with their settings</caption>
              <thead>
                <tr>
                  <th scope="col">Title</th>
                  <th scope="col">Id</th>
                  {isAdmin && <th scope="col">Owner</th>}
                  <th scope="col">Cells</th>
                  <th scope="col">Code collected</th>
                  <th scope="col">Pseudonyms</th>
                  <th scope="col">Created</th>
                </tr>
              </thead>
              <tbody>
                {list.map((c) => (
                  <tr key={c.id} data-class={c.id}>
                    <th scope="row">{teaches ? <a href={classHref(c.id)}>{c.title}</a> : c.title}</th>
                    <td>
                      <code>{c.id}</code>
                    </td>
                    {isAdmin && <td>{c.owner_id ?? "none (from producers)"}</td>}
                    <td>{c.planned_cells ?? "—"}</td>
                    <td>{c.collect_code ? "Yes" : "No"}</td>
                    <td>{c.pseudonymise ? "Yes" : "No"}</td>
                    <td>{formatDate(c.created_at)}</td>
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

function CreateClassForm({ isAdmin, onCreated }: { isAdmin: boolean; onCreated: (created: CreatedClass) => void }) {
  const queryClient = useQueryClient();
  const [id, setId] = useState("");
  const [title, setTitle] = useState("");
  const [cells, setCells] = useState("");
  const [collectCode, setCollectCode] = useState(false);
  const [pseudonymise, setPseudonymise] = useState(false);
  const [owner, setOwner] = useState("");
  const create = useMutation({
    mutationFn: (body: NewClass) => answer(classroomApi().POST("/api/v1/classes", { body })),
    onSuccess: (created) => {
      setId("");
      setTitle("");
      setCells("");
      setOwner("");
      onCreated(created);
      return queryClient.invalidateQueries({ queryKey: classKeys.all });
    },
  });

  function submit(event: FormEvent<HTMLFormElement>): void {
    event.preventDefault();
    const body: NewClass = { id: id.trim(), title: title.trim(), collect_code: collectCode, pseudonymise };
    if (cells.trim()) body.planned_cells = Number(cells);
    if (isAdmin && owner.trim()) body.owner_id = owner.trim();
    create.mutate(body);
  }

  return (
    <section aria-labelledby="create-class-heading" className="panel">
      <h2 id="create-class-heading">Create a class</h2>
      <form className="inline-form" onSubmit={submit} data-testid="create-class">
        <div className="field">
          <label htmlFor="class-title">Title</label>
          <input id="class-title" required maxLength={200} value={title} onChange={(e) => setTitle(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="class-id">Id</label>
          <input
            id="class-id"
            required
            pattern={CLASS_ID_PATTERN}
            maxLength={63}
            aria-describedby="class-id-hint"
            value={id}
            onChange={(e) => setId(e.target.value.toLowerCase())}
          />
          <span className="hint" id="class-id-hint">
            a-z, 0-9 and “-”, e.g. py101-2026
          </span>
        </div>
        <div className="field">
          <label htmlFor="class-cells">Cells (optional)</label>
          <input id="class-cells" type="number" min={1} max={100000} inputMode="numeric" value={cells} onChange={(e) => setCells(e.target.value)} />
        </div>
        {isAdmin && (
          <div className="field">
            <label htmlFor="class-owner">Owner user id (optional)</label>
            <input id="class-owner" maxLength={200} value={owner} onChange={(e) => setOwner(e.target.value)} />
          </div>
        )}
        <fieldset className="field scopes">
          <legend>Privacy</legend>
          <label className="check">
            <input type="checkbox" checked={collectCode} onChange={(e) => setCollectCode(e.target.checked)} />
            <span>Collect the cells’ code</span>
          </label>
          <label className="check">
            <input type="checkbox" checked={pseudonymise} onChange={(e) => setPseudonymise(e.target.checked)} />
            <span>Pseudonymise student ids</span>
          </label>
        </fieldset>
        <button type="submit" className="button button--primary" disabled={create.isPending}>
          Create class
        </button>
      </form>
      {create.isError && (
        <p className="form-error" role="alert">
          {errorMessage(create.error)}
        </p>
      )}
    </section>
  );
}

/** Where students' notebooks send their events: ingest on the same host, port 8001 (as
 * `make run` starts it), unless the instructor says otherwise. */
function defaultEndpoint(): string {
  return `${window.location.protocol}//${window.location.hostname}:8001`;
}

export function notebookSnippet(endpoint: string, secret: string): string {
  return `%load_ext pulse_notebook\n%pulse_config endpoint=${endpoint} key=${secret} student=YOUR_EMAIL`;
}

function NewClassKey({ created, onDone }: { created: CreatedClass; onDone: () => void }) {
  const [copied, setCopied] = useState<string | null>(null);
  const [endpoint, setEndpoint] = useState(defaultEndpoint);
  const headingRef = useRef<HTMLHeadingElement>(null);
  const snippetRef = useRef<HTMLElement>(null);
  const secretRef = useRef<HTMLElement>(null);
  useEffect(() => headingRef.current?.focus(), []);
  const snippet = notebookSnippet(endpoint.trim() || defaultEndpoint(), created.secret);

  async function copy(text: string, node: HTMLElement | null, what: string): Promise<void> {
    try {
      await navigator.clipboard.writeText(text);
      setCopied(`${what} copied to the clipboard.`);
    } catch {
      if (node) {
        const range = document.createRange();
        range.selectNodeContents(node);
        const selection = window.getSelection();
        selection?.removeAllRanges();
        selection?.addRange(range);
      }
      setCopied(`Could not copy automatically: the ${what.toLowerCase()} is selected, press Ctrl+C (⌘C).`);
    }
  }

  return (
    <section aria-labelledby="class-key-heading" className="panel panel--secret">
      <h2 id="class-key-heading" tabIndex={-1} ref={headingRef}>
        Class “{created.class.title}” created
      </h2>
      <p className="notice" role="note">
        <strong>Copy the producer key now: you will not see it again.</strong> Pulse keeps only its hash. It lets
        notebooks send events to this class only.
      </p>
      <p className="secret">
        <code ref={secretRef} data-testid="class-key-secret">
          {created.secret}
        </code>
      </p>
      <div className="field">
        <label htmlFor="ingest-endpoint">Ingest endpoint the students’ notebooks reach</label>
        <input id="ingest-endpoint" value={endpoint} onChange={(e) => setEndpoint(e.target.value)} />
      </div>
      <p>Students run these two lines in their notebook, with the email they log in to Pulse with:</p>
      <pre className="secret snippet">
        <code ref={snippetRef} data-testid="class-snippet">
          {snippet}
        </code>
      </pre>
      <p className="secret-actions">
        <button type="button" className="button button--primary" onClick={() => void copy(created.secret, secretRef.current, "Key")}>
          Copy key
        </button>
        <button type="button" className="button" onClick={() => void copy(snippet, snippetRef.current, "Snippet")}>
          Copy snippet
        </button>
        <a className="button" href={classHref(created.class.id)}>
          Open the class
        </a>
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
