/** One student's timeline: every event of theirs in the class, newest first. */
import type { UseQueryResult } from "@tanstack/react-query";
import { formatDateTime } from "../format";
import { ListStatus } from "../ui/Feedback";
import { cellNumber } from "./heatmap";
import type { NotebookEvent, StudentTimeline } from "./types";

function outcome(event: NotebookEvent): { mark: string; text: string; kind: "ok" | "error" | "other" } {
  if (event.eventType !== "cell_executed") return { mark: "•", text: event.eventType.replace(/_/g, " "), kind: "other" };
  const cell = typeof event.cellIndex === "number" ? `cell ${cellNumber(event.cellIndex)}` : "a cell";
  if (event.hasError) return { mark: "✗", text: `ran ${cell}: ${event.errorName ?? "error"}`, kind: "error" };
  return { mark: "✓", text: `ran ${cell}`, kind: "ok" };
}

export function Timeline({ query, student }: { query: UseQueryResult<StudentTimeline>; student: string }) {
  const events = [...(query.data?.events ?? [])].sort((a, b) => Date.parse(b.eventTime) - Date.parse(a.eventTime));
  return (
    <div data-testid="student-timeline" data-student={student}>
      <ListStatus query={query} what={`timeline of ${student}`} />
      {query.isSuccess && events.length === 0 && <p className="hint">No events of {student} in this class.</p>}
      {query.data?.truncated && <p className="hint">Only the latest {events.length} events are shown.</p>}
      {events.length > 0 && (
        <ol className="timeline" aria-label={`Events of ${student}, newest first`}>
          {events.map((event) => {
            const { mark, text, kind } = outcome(event);
            const time = Date.parse(event.eventTime);
            return (
              <li key={event.eventId} className={`feed-item feed-item--${kind}`} data-outcome={kind}>
                <span className="feed-mark" aria-hidden="true">
                  {mark}
                </span>
                <span className="feed-text">
                  {text}
                  {event.notebookPath && <span className="hint"> · {event.notebookPath}</span>}
                  {typeof event.executionDurationMs === "number" && (
                    <span className="hint"> · {Math.round(event.executionDurationMs)} ms</span>
                  )}
                  {event.hasError && event.errorMessage && <span className="timeline-error">{event.errorMessage}</span>}
                </span>
                <time className="feed-time" dateTime={new Date(time).toISOString()}>
                  {formatDateTime(time)}
                </time>
              </li>
            );
          })}
        </ol>
      )}
    </div>
  );
}
