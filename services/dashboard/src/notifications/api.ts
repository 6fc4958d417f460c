/** The query keys of the notifications' and alert rules' pages (the calls go through the
 * app's one API client, whose generated `paths` hold every route). */
export const notifyKeys = {
  rules: ["alerts", "rules"] as const,
  /** One rule with its firing series (under `rules`: invalidating the list refreshes it). */
  rule: (ruleId: string) => ["alerts", "rules", ruleId] as const,
  preview: (condition: string) => ["alerts", "preview", condition] as const,
  users: ["admin", "users"] as const,
};
