/** A tiny hash router: #/, #/series/<source>/<name>, #/admin/users, #/admin/api-keys, #/login. */
import { useSyncExternalStore } from "react";

export type Route =
  | { page: "overview" }
  | { page: "series"; source: string; name: string }
  | { page: "users" }
  | { page: "apiKeys" }
  | { page: "login" }
  | { page: "notFound"; hash: string };

export function parseHash(hash: string): Route {
  const path = hash.replace(/^#/, "") || "/";
  if (path === "/" || path === "") return { page: "overview" };
  if (path === "/login") return { page: "login" };
  if (path === "/admin/users") return { page: "users" };
  if (path === "/admin/api-keys") return { page: "apiKeys" };
  const series = /^\/series\/([^/]+)\/([^/]+)$/.exec(path);
  if (series) {
    try {
      return { page: "series", source: decodeURIComponent(series[1]!), name: decodeURIComponent(series[2]!) };
    } catch {
      return { page: "notFound", hash };
    }
  }
  return { page: "notFound", hash };
}

export function seriesHref(source: string, name: string): string {
  return `#/series/${encodeURIComponent(source)}/${encodeURIComponent(name)}`;
}

export function navigate(hash: string, replace = false): void {
  if (replace) {
    const url = new URL(window.location.href);
    url.hash = hash;
    window.history.replaceState(null, "", url);
    window.dispatchEvent(new HashChangeEvent("hashchange"));
  } else {
    window.location.hash = hash;
  }
}

function subscribe(listener: () => void): () => void {
  window.addEventListener("hashchange", listener);
  return () => window.removeEventListener("hashchange", listener);
}

function getHash(): string {
  return window.location.hash;
}

export function useHash(): string {
  return useSyncExternalStore(subscribe, getHash);
}
