import { useEffect, useState } from "react";
import type { Me } from "../api/gateway.gen";
import type { Route } from "../app/router";
import { getServices } from "../app/services";
import type { ConnectionState } from "../live/socket";
import { Bell } from "../notifications/Bell";
import { useObservable } from "./hooks";

export function Header({ me, route }: { me: Me; route: Route }) {
  const { session } = getServices();
  const isAdmin = me.role === "admin";
  const teaches = isAdmin || me.role === "instructor";
  const isStudent = me.role === "student";
  const [leaving, setLeaving] = useState(false);
  const current = (page: Route["page"]) => (route.page === page ? ("page" as const) : undefined);

  return (
    <header className="app-header">
      <a className="brand" href="#/">
        <span aria-hidden="true" className="brand-mark" />
        Pulse
      </a>
      <nav aria-label="Main">
        <ul>
          {!isStudent && (
            <li>
              <a href="#/" aria-current={current("overview") ?? (route.page === "series" ? "location" : undefined)}>
                Overview
              </a>
            </li>
          )}
          {teaches && (
            <li>
              <a href="#/classes" aria-current={current("classes") ?? (route.page === "class" ? "location" : undefined)}>
                Classes
              </a>
            </li>
          )}
          {isStudent && (
            <li>
              <a href="#/my-progress" aria-current={current("myProgress") ?? (route.page === "overview" ? "page" : undefined)}>
                My progress
              </a>
            </li>
          )}
          {teaches && (
            <li>
              <a href="#/alerts/rules" aria-current={current("rules")}>
                Alerts
              </a>
            </li>
          )}
          {isAdmin && (
            <>
              <li>
                <a href="#/admin/users" aria-current={current("users")}>
                  Users
                </a>
              </li>
              <li>
                <a href="#/admin/api-keys" aria-current={current("apiKeys")}>
                  API keys
                </a>
              </li>
              <li>
                <a href="#/admin/logs" aria-current={current("logs") ?? (route.page === "trace" ? "location" : undefined)}>
                  Logs
                </a>
              </li>
              <li>
                <a href="#/admin/dead-letters" aria-current={current("deadLetters")}>
                  Dead letters
                </a>
              </li>
            </>
          )}
        </ul>
      </nav>
      <div className="header-end">
        <Bell route={route} />
        <ConnectionIndicator />
        <span className="user-email" title={`Signed in as ${me.email} (${me.role})`}>
          <span className="visually-hidden">Signed in as </span>
          {me.email}
        </span>
        <button
          type="button"
          className="button button--on-dark"
          disabled={leaving}
          onClick={() => {
            setLeaving(true);
            void session.logout().finally(() => setLeaving(false));
          }}
        >
          Log out
        </button>
      </div>
    </header>
  );
}

function label(state: ConnectionState, now: number): string {
  switch (state.status) {
    case "open":
      return "Live";
    case "connecting":
      return "Connecting…";
    case "reconnecting":
      return `Reconnecting in ${Math.max(1, Math.ceil((state.retryAt - now) / 1000))} s…`;
    case "offline":
      return "Offline";
  }
}

export function ConnectionIndicator() {
  const { socket } = getServices();
  const state = useObservable(socket.state);
  const [now, setNow] = useState(() => Date.now());

  useEffect(() => {
    setNow(Date.now());
    if (state.status !== "reconnecting") return;
    const timer = window.setInterval(() => setNow(Date.now()), 500);
    return () => window.clearInterval(timer);
  }, [state]);

  return (
    <div
      role="status"
      data-testid="connection"
      data-state={state.status}
      className={`connection connection--${state.status}`}
    >
      <span className="connection-dot" aria-hidden="true" />
      <span className="connection-text">{label(state, now)}</span>
    </div>
  );
}
