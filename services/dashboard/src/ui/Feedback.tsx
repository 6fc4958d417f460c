import type { UseQueryResult } from "@tanstack/react-query";
import { errorMessage } from "../api/http";

/** The outcome of the last action on an admin page: announced politely, errors as alerts. */
export interface Feedback {
  kind: "ok" | "error";
  text: string;
}

export function FeedbackLine({ feedback }: { feedback: Feedback | null }) {
  if (!feedback) return null;
  const error = feedback.kind === "error";
  return (
    <p className={error ? "form-error" : "form-ok"} role={error ? "alert" : "status"}>
      {feedback.text}
    </p>
  );
}

/** "Loading …" while a list loads, the API's words when it cannot. */
export function ListStatus({ query, what }: { query: UseQueryResult<unknown>; what: string }) {
  if (query.isPending) return <p role="status">Loading {what}…</p>;
  if (query.isError) {
    return (
      <p className="form-error" role="alert">
        Could not load the {what}: {errorMessage(query.error)}
      </p>
    );
  }
  return null;
}
