/**
 * The alert rules' REST calls: the app's one API client (its access token, refresh and retry),
 * typed by the hand-written routes of ./types.ts. (The notifications' routes are generated:
 * the app's client has them as it is.)
 */
import type { Client } from "openapi-fetch";
import type { ApiClient } from "../api/http";
import type { AlertsPaths } from "./types";

export type AlertsApi = Client<AlertsPaths, "application/json">;

/** The app's client, typed by the alerts routes. TEMPORARY cast: after the merge of the alerts
 * routes the generated `paths` hold them and the app's client is used as it is. */
export function alertsApi(api: ApiClient): AlertsApi {
  return api as unknown as AlertsApi;
}

export const notifyKeys = {
  rules: ["alerts", "rules"] as const,
  users: ["admin", "users"] as const,
};
