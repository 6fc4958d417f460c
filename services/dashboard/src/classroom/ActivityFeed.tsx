/** The live activity feed: the latest events, newest first (student, cell, ok or the error). */
import { formatDateTime } from "../format";
import { describeAction, type FeedItem } from "./feed";

const MARK = { ok: "✓", error: "✗", other: "•" } as const;

export function ActivityFeed({ items, onSelect }: { items: FeedItem[]; onSelect: (student: string) => void }) {
  if (items.length === 0) return <p className="hint">No activity yet.</p>;
  return (
    <ol className="feed" data-testid="activity-feed" aria-label="Latest activity, newest first">
      {items.map((item) => (
        <li key={item.id} className={`feed-item feed-item--${item.outcome}`} data-outcome={item.outcome}>
          <span className="feed-mark" aria-hidden="true">
            {MARK[item.outcome]}
          </span>
          <span className="feed-text">
            <button type="button" className="link-button" onClick={() => onSelect(item.student)}>
              {item.student}
            </button>
            <span> {describeAction(item)}</span>
          </span>
          <time className="feed-time" dateTime={new Date(item.time).toISOString()}>
            {formatDateTime(item.time)}
          </time>
        </li>
      ))}
    </ol>
  );
}
