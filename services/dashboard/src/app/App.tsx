import { useEffect, useRef } from "react";
import type { Me } from "../api/gateway.gen";
import { RulesPage } from "../alerts/RulesPage";
import { DeadLettersPage } from "../audit/DeadLettersPage";
import { LogsPage } from "../audit/LogsPage";
import { TracePage } from "../audit/TracePage";
import { InboxPage } from "../notifications/InboxPage";
import { SendPage } from "../notifications/SendPage";
import { ClassesPage } from "../classroom/ClassesPage";
import { ClassPage } from "../classroom/ClassPage";
import { MyProgressPage } from "../classroom/MyProgressPage";
import { AdminApiKeysPage } from "../pages/AdminApiKeysPage";
import { AdminUsersPage } from "../pages/AdminUsersPage";
import { LoginPage } from "../pages/LoginPage";
import { NotFoundPage } from "../pages/NotFoundPage";
import { OverviewPage } from "../pages/OverviewPage";
import { SeriesPage } from "../pages/SeriesPage";
import { Header } from "../ui/Header";
import { useObservable } from "../ui/hooks";
import { navigate, parseHash, useHash, type Route } from "./router";
import { getServices } from "./services";

const RETURN_KEY = "pulse.returnTo";

function rememberReturn(hash: string): void {
  try {
    window.sessionStorage.setItem(RETURN_KEY, hash);
  } catch {
    /* not kept */
  }
}

function takeReturn(): string {
  try {
    const hash = window.sessionStorage.getItem(RETURN_KEY);
    window.sessionStorage.removeItem(RETURN_KEY);
    if (hash && hash.startsWith("#/") && parseHash(hash).page !== "login") return hash;
  } catch {
    /* none */
  }
  return "#/";
}

export function App() {
  const { session } = getServices();
  const state = useObservable(session.state);
  const hash = useHash();
  const route = parseHash(hash);

  useEffect(() => {
    if (state.status === "signedOut" && route.page !== "login") {
      // Come back here after logging in again, unless the person logged out on purpose.
      if (!state.loggedOut) rememberReturn(hash || "#/");
      navigate("#/login", true);
    } else if (state.status === "signedIn" && route.page === "login") {
      navigate(takeReturn(), true);
    }
  }, [state, route.page, hash]);

  if (state.status === "checking") {
    return (
      <main id="main" className="splash">
        <p role="status">Loading Pulse…</p>
      </main>
    );
  }
  if (state.status === "signedOut") {
    return <LoginPage notice={state.message ?? null} />;
  }
  return <Shell me={state.me} route={route} />;
}

function Shell({ me, route }: { me: Me; route: Route }) {
  const mainRef = useRef<HTMLElement>(null);
  const first = useRef(true);
  const isAdmin = me.role === "admin";
  // A new page, not a new range of the same series (or another notebook or student of the
  // same class), moves focus to the heading.
  const routeKey =
    route.page === "series"
      ? `series:${route.source}:${route.name}`
      : route.page === "class"
        ? `class:${route.classId}`
        : route.page === "inbox"
          ? "inbox" // another filter is the same page
          : route.page === "logs"
            ? `logs:${route.tab}` // other filters are the same page
            : route.page === "deadLetters"
              ? "deadLetters"
              : JSON.stringify(route);

  // Move focus to the new page's heading after navigation (not on the first load).
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    mainRef.current?.querySelector<HTMLElement>("h1")?.focus();
  }, [routeKey]);

  return (
    <>
      <a
        className="skip-link"
        href="#main"
        onClick={(event) => {
          event.preventDefault();
          mainRef.current?.focus();
        }}
      >
        Skip to content
      </a>
      <Header me={me} route={route} />
      <main id="main" ref={mainRef} tabIndex={-1}>
        <Page route={route} me={me} isAdmin={isAdmin} />
      </main>
    </>
  );
}

function Page({ route, me, isAdmin }: { route: Route; me: Me; isAdmin: boolean }) {
  switch (route.page) {
    case "overview":
    case "login":
      // A student's home is their own progress (they see no metrics or classes of others).
      return me.role === "student" ? <MyProgressPage me={me} /> : <OverviewPage />;
    case "series":
      return (
        <SeriesPage key={`${route.source}:${route.name}`} source={route.source} name={route.name} range={route.range} />
      );
    case "users":
      return <AdminUsersPage isAdmin={isAdmin} />;
    case "apiKeys":
      return <AdminApiKeysPage isAdmin={isAdmin} />;
    case "classes":
      return <ClassesPage me={me} />;
    case "class":
      return <ClassPage key={route.classId} classId={route.classId} notebook={route.notebook} student={route.student} />;
    case "myProgress":
      return <MyProgressPage me={me} />;
    case "inbox":
      return <InboxPage me={me} filter={route.state} />;
    case "notify":
      return <SendPage isAdmin={isAdmin} />;
    case "rules":
      return <RulesPage me={me} />;
    case "logs":
      return <LogsPage isAdmin={isAdmin} tab={route.tab} query={route.query} />;
    case "trace":
      return <TracePage key={route.traceId} isAdmin={isAdmin} traceId={route.traceId} />;
    case "deadLetters":
      return <DeadLettersPage isAdmin={isAdmin} query={route.query} />;
    case "notFound":
      return <NotFoundPage />;
  }
}
