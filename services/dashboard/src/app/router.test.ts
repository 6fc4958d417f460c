import { describe, expect, it } from "vitest";
import { classHref, inboxHref, parseHash, seriesHref } from "./router";

describe("the hash router", () => {
  it("keeps a series page's range in the URL, so a reload shows the same range", () => {
    expect(seriesHref("web 1", "cpu")).toBe("#/series/web%201/cpu");
    expect(seriesHref("web1", "cpu", { id: "15m" })).toBe("#/series/web1/cpu?range=15m");
    const custom = seriesHref("web1", "cpu", { id: "custom", from: 1_000, to: 61_000 });
    expect(custom).toBe("#/series/web1/cpu?range=custom&from=1000&to=61000");
    expect(parseHash(custom)).toEqual({
      page: "series",
      source: "web1",
      name: "cpu",
      range: { id: "custom", from: 1_000, to: 61_000 },
    });
    expect(parseHash("#/series/web%201/cpu?range=7d")).toEqual({
      page: "series",
      source: "web 1",
      name: "cpu",
      range: { id: "7d" },
    });
  });

  it("falls back to live 5 min for an unknown or incomplete range", () => {
    for (const query of ["", "?range=2y", "?range=custom", "?range=custom&from=5&to=4", "?range=custom&from=x&to=9"]) {
      expect(parseHash(`#/series/web1/cpu${query}`)).toMatchObject({ page: "series", range: { id: "live5m" } });
    }
  });

  it("knows the other pages and refuses malformed series paths", () => {
    expect(parseHash("")).toEqual({ page: "overview" });
    expect(parseHash("#/admin/users")).toEqual({ page: "users" });
    expect(parseHash("#/admin/api-keys")).toEqual({ page: "apiKeys" });
    expect(parseHash("#/series/%E0%A4%A/cpu")).toEqual({ page: "notFound", hash: "#/series/%E0%A4%A/cpu" });
  });

  it("keeps a class's notebook and drilled-into student in the URL", () => {
    expect(parseHash("#/classes")).toEqual({ page: "classes" });
    expect(parseHash("#/my-progress")).toEqual({ page: "myProgress" });
    expect(parseHash("#/classes/py101")).toEqual({ page: "class", classId: "py101", notebook: null, student: null });
    const href = classHref("py101", { notebook: "week 1/intro.ipynb", student: "ada@example.com" });
    expect(href).toBe("#/classes/py101?notebook=week+1%2Fintro.ipynb&student=ada%40example.com");
    expect(parseHash(href)).toEqual({
      page: "class",
      classId: "py101",
      notebook: "week 1/intro.ipynb",
      student: "ada@example.com",
    });
    expect(parseHash("#/classes/py101/extra")).toEqual({ page: "notFound", hash: "#/classes/py101/extra" });
  });

  it("keeps the inbox's filter in the URL, and knows the notification and rule pages", () => {
    expect(inboxHref()).toBe("#/inbox");
    expect(inboxHref("unread")).toBe("#/inbox?state=unread");
    expect(parseHash("#/inbox?state=archived")).toEqual({ page: "inbox", state: "archived" });
    expect(parseHash("#/inbox?state=bogus")).toEqual({ page: "inbox", state: "all" });
    expect(parseHash("#/admin/notify")).toEqual({ page: "notify" });
    expect(parseHash("#/alerts/rules")).toEqual({ page: "rules" });
  });
});

describe("the audit pages' routes", () => {
  it("knows the logs (with its tab and filters), a trace and the dead letters", () => {
    expect(parseHash("#/admin/logs")).toEqual({ page: "logs", tab: "requests", query: "" });
    expect(parseHash("#/admin/logs?status=5xx&method=POST")).toEqual({ page: "logs", tab: "requests", query: "status=5xx&method=POST" });
    expect(parseHash("#/admin/logs?tab=tasks&outcome=FAILED")).toEqual({ page: "logs", tab: "tasks", query: "tab=tasks&outcome=FAILED" });
    expect(parseHash("#/traces/4bf92f3577b34da6a3ce929d0e0e4736")).toEqual({ page: "trace", traceId: "4bf92f3577b34da6a3ce929d0e0e4736" });
    expect(parseHash("#/traces/%E0%A4%A")).toEqual({ page: "notFound", hash: "#/traces/%E0%A4%A" });
    expect(parseHash("#/admin/dead-letters?status=any")).toEqual({ page: "deadLetters", query: "status=any" });
  });
});
