/**
 * The tab's long-lived objects, created once and kept outside React so that switching pages
 * keeps the socket, the subscriptions and the buffers: the API client, the session, the live
 * socket, the series store and the channel hub; plus snapshots to sessionStorage so a reload
 * resumes where it was.
 */
import { QueryClient } from "@tanstack/react-query";
import { answer, createApiClient, type ApiClient } from "../api/http";
import { Session, type LockManagerLike } from "../auth/session";
import { LogsChannel } from "../audit/channel";
import { LiveHub } from "../live/hub";
import { applySnapshot, clearSnapshot, loadSnapshot, saveSnapshot, type StorageLike } from "../live/snapshot";
import { LiveSocket, type NetworkStatus } from "../live/socket";
import { SeriesStore } from "../live/store";
import { NotificationsChannel } from "../notifications/channel";

export interface Services {
  api: ApiClient;
  session: Session;
  socket: LiveSocket;
  store: SeriesStore;
  hub: LiveHub;
  /** The user's own `notifications` channel and the unread count the bell shows. */
  notifications: NotificationsChannel;
  /** The `logs` channel (admins): the Logs page's live tail. */
  logs: LogsChannel;
  queryClient: QueryClient;
}

let services: Services | null = null;

export function getServices(): Services {
  services ??= createServices();
  return services;
}

function sessionStorageOrNull(): StorageLike | null {
  try {
    const storage = window.sessionStorage;
    storage.getItem("pulse.probe");
    return storage;
  } catch {
    return null;
  }
}

function browserLocks(): LockManagerLike | null {
  const locks = typeof navigator !== "undefined" ? navigator.locks : undefined;
  if (!locks || typeof locks.request !== "function") return null;
  return {
    request: <T,>(name: string, callback: () => Promise<T>) =>
      locks.request(name, callback) as unknown as Promise<T>,
  };
}

function browserNetwork(): NetworkStatus {
  return {
    isOnline: () => navigator.onLine !== false,
    subscribe: (listener) => {
      window.addEventListener("online", listener);
      window.addEventListener("offline", listener);
      return () => {
        window.removeEventListener("online", listener);
        window.removeEventListener("offline", listener);
      };
    },
  };
}

function createServices(): Services {
  const storage = sessionStorageOrNull();
  const channel = typeof BroadcastChannel === "function" ? new BroadcastChannel("pulse-auth") : null;

  // The client and the session need each other: the client asks the session for tokens.
  let session: Session | null = null;
  const api = createApiClient({
    getToken: () => session?.getToken() ?? Promise.resolve(null),
    refreshToken: (rejected) => session?.refresh(rejected).catch(() => null) ?? Promise.resolve(null),
  });
  session = new Session({
    login: (body) => answer(api.POST("/api/v1/auth/login", { body })),
    refresh: () => answer(api.POST("/api/v1/auth/refresh", { body: {} })),
    logout: () => answer(api.POST("/api/v1/auth/logout", { body: {} })),
    me: () => answer(api.GET("/api/v1/auth/me")),
    storage,
    locks: browserLocks(),
    channel,
  });
  const theSession = session;

  const store = new SeriesStore();
  const socket = new LiveSocket({
    url: () => `${window.location.protocol === "https:" ? "wss" : "ws"}://${window.location.host}/ws`,
    tokens: {
      current: (minValidityMs) => theSession.getToken(minValidityMs),
      refresh: () => theSession.refresh(),
      onToken: (listener) => theSession.onToken(listener),
    },
    onUnauthorized: () => theSession.signOutLocal("Your session has ended. Please log in again."),
    network: browserNetwork(),
  });
  const hub = new LiveHub(socket, store, (query, signal) =>
    answer(api.GET("/api/v1/metrics", { params: { query }, signal })),
  );
  const notifications = new NotificationsChannel(socket, () =>
    answer(api.GET("/api/v1/notifications/unread")),
  );
  const logs = new LogsChannel(socket);
  socket.setListener({
    onReady: () => {
      hub.onReady();
      notifications.onReady();
      logs.onReady();
    },
    onFrame: (frame) => {
      if (notifications.owns(frame)) notifications.onFrame(frame);
      else if (logs.owns(frame)) logs.onFrame(frame);
      else hub.onFrame(frame);
    },
    onClose: () => {
      hub.onClose();
      notifications.onClose();
      logs.onClose();
    },
  });

  const queryClient = new QueryClient({
    defaultOptions: {
      queries: { retry: 1, refetchOnWindowFocus: false, staleTime: 10_000 },
    },
  });

  // A reload within a few minutes resumes the channels instead of reloading history.
  if (storage) {
    const snapshot = loadSnapshot(storage, Date.now());
    if (snapshot) hub.restore(applySnapshot(snapshot, store), snapshot.savedAt);
  }
  const save = (): void => {
    if (storage && theSession.state.get().status === "signedIn") {
      saveSnapshot(storage, store, hub.snapshot(), Date.now());
    }
  };
  // pagehide fires on every reload, close and navigation away; a beforeunload listener as well
  // would only save twice (and keeps some browsers from caching the page for back/forward).
  window.addEventListener("pagehide", save);
  window.setInterval(save, 10_000);
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) save();
    else store.resume();
  });

  // The socket lives while someone is signed in.
  let signedIn = false;
  const follow = (): void => {
    const state = theSession.state.get();
    if (state.status === "signedIn" && !signedIn) {
      signedIn = true;
      socket.start();
    } else if (state.status === "signedOut") {
      if (signedIn || storage) {
        socket.stop();
        hub.reset();
        notifications.reset();
        logs.reset();
        store.clear();
        queryClient.clear();
        if (storage) clearSnapshot(storage);
      }
      signedIn = false;
    }
  };
  theSession.state.subscribe(follow);
  void theSession.init();

  return { api, session: theSession, socket, store, hub, notifications, logs, queryClient };
}
