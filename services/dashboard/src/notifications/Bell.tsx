/**
 * The bell in the header: a link to the inbox with the live unread count (every role), and a
 * polite live region that says the count when it changes (not on the first load).
 */
import { useEffect, useRef, useState } from "react";
import type { Route } from "../app/router";
import { getServices } from "../app/services";
import { useObservable } from "../ui/hooks";
import { badgeText, unreadLabel } from "./unread";

export function Bell({ route }: { route: Route }) {
  const { notifications } = getServices();
  const count = useObservable(notifications.count.state);
  const unread = count?.unread ?? null;
  const [said, setSaid] = useState("");
  const previous = useRef<number | null>(null);

  useEffect(() => {
    if (unread === null) return;
    if (previous.current !== null && previous.current !== unread) {
      setSaid(unread === 0 ? "No unread notifications" : `${unread} unread notification${unread === 1 ? "" : "s"}`);
    }
    previous.current = unread;
  }, [unread]);

  return (
    <>
      <a
        className="bell"
        href="#/inbox"
        data-testid="bell"
        data-unread={unread ?? ""}
        aria-label={unreadLabel(unread)}
        aria-current={route.page === "inbox" ? "page" : undefined}
      >
        <svg className="bell-icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
          <path
            fill="currentColor"
            d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1Z"
          />
        </svg>
        {unread !== null && unread > 0 && (
          <span className="bell-badge" aria-hidden="true">
            {badgeText(unread)}
          </span>
        )}
      </a>
      <span className="visually-hidden" role="status" aria-live="polite" data-testid="bell-announcement">
        {said}
      </span>
    </>
  );
}
