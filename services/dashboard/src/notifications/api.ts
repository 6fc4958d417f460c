/**
 * The notifications' and alert rules' REST calls: the app's one API client (its access token,
 * refresh and retry), typed by the hand-written routes of ./types.ts.
 */
import type { Client } from "openapi-fetch";
import type { ApiClient } from "../api/http";
import type { NotifyPaths } from "./types";

export type NotifyApi = Client<NotifyPaths, "application/json">;

/** The app's client, typed by the notifications and alerts routes. TEMPORARY cast: after the
 * merge the generated `paths` hold these routes and the app's client is used as it is. */
export function notifyApi(api: ApiClient): NotifyApi {
  return api as unknown as NotifyApi;
}

export const notifyKeys = {
  rules: ["alerts", "rules"] as const,
  users: ["admin", "users"] as const,
};
