import { describe, expect, it } from "vitest";
import { emptyInbox, inboxReducer, linkTarget, matches, type Inbox, type InboxAction } from "./inbox";
import type { InboxState, Notification, NotificationPage } from "./types";

const AT = "2026-05-01T10:00:00Z";

function note(id: number, fields: Partial<Notification> = {}): Notification {
  return {
    id,
    recipient: "u1",
    kind: "info",
    title: `n${id}`,
    body: "",
    link: null,
    source: "admin",
    created_at: AT,
    read_at: null,
    seen_at: null,
    archived_at: null,
    ...fields,
  };
}

function page(items: Notification[], version: number, next: number | null = null): NotificationPage {
  return { items, next_before_id: next, unread: 0, version };
}

function run(filter: InboxState, ...actions: InboxAction[]): Inbox {
  return actions.reduce(inboxReducer, emptyInbox(filter));
}

const ids = (inbox: Inbox) => inbox.items.map((n) => n.id);
const change = (kind: InboxAction & { type: "change" }): InboxAction => kind;
const mark = (c: "read" | "unread" | "seen" | "archived", list: number[], version: number | null = null) =>
  change({ type: "change", change: c, ids: list, version, at: AT });

describe("the inbox reducer", () => {
  it("loads pages newest first, each notification once, and follows the cursor", () => {
    const inbox = run(
      "all",
      { type: "page", filter: "all", page: page([note(9), note(8)], 5, 8), append: false },
      { type: "page", filter: "all", page: page([note(8), note(7)], 5, null), append: true },
    );
    expect(ids(inbox)).toEqual([9, 8, 7]);
    expect(inbox.next).toBeNull();
    expect(inbox.loaded).toBe(true);
  });

  it("ignores a page of a filter left since", () => {
    let inbox = run("all", { type: "filter", filter: "unread" });
    inbox = inboxReducer(inbox, { type: "page", filter: "all", page: page([note(1)], 1), append: false });
    expect(inbox.filter).toBe("unread");
    expect(inbox.items).toEqual([]);
    expect(inbox.loaded).toBe(false);
  });

  it("adds a created notification at the top once, whatever the repeats", () => {
    const created = change({ type: "change", change: "created", ids: [], notification: note(10), version: 6, at: AT });
    const inbox = run("unread", { type: "page", filter: "unread", page: page([note(9)], 5), append: false }, created, created);
    expect(ids(inbox)).toEqual([10, 9]);
    expect(inbox.version).toBe(6);
    // Not in the archived list.
    expect(ids(run("archived", created))).toEqual([]);
  });

  it("keeps live arrivals when the first page comes after them", () => {
    const created = change({ type: "change", change: "created", ids: [], notification: note(10), version: 6, at: AT });
    const inbox = run("all", created, { type: "page", filter: "all", page: page([note(9)], 6), append: false });
    expect(ids(inbox)).toEqual([10, 9]);
    expect(inbox.stale).toBe(false);
  });

  it("marks read and unread in place in the all list, idempotently", () => {
    const loaded = run("all", { type: "page", filter: "all", page: page([note(2), note(1)], 3), append: false });
    const read = inboxReducer(loaded, mark("read", [1], 4));
    expect(read.items.find((n) => n.id === 1)?.read_at).toBe(AT);
    expect(inboxReducer(read, mark("read", [1], 4))).toBe(read);
    const unread = inboxReducer(read, mark("unread", [1], 5));
    expect(unread.items.find((n) => n.id === 1)?.read_at).toBeNull();
    expect(ids(unread)).toEqual([2, 1]);
  });

  it("removes what leaves the filter: read from unread, archived from all", () => {
    const unread = run("unread", { type: "page", filter: "unread", page: page([note(2), note(1)], 3), append: false }, mark("read", [2, 1]));
    expect(ids(unread)).toEqual([]);
    const all = run("all", { type: "page", filter: "all", page: page([note(2), note(1)], 3), append: false }, mark("archived", [1]));
    expect(ids(all)).toEqual([2]);
  });

  it("is stale when a change may bring in a notification it does not hold", () => {
    const read = run("read", { type: "page", filter: "read", page: page([note(1, { read_at: AT })], 3), append: false });
    expect(inboxReducer(read, mark("read", [5], 4)).stale).toBe(true);
    expect(inboxReducer(read, mark("seen", [5], 4)).stale).toBe(false);
    const archived = run("archived", { type: "page", filter: "archived", page: page([], 3), append: false });
    expect(inboxReducer(archived, mark("archived", [5], 4)).stale).toBe(true);
    // A reload clears it.
    const again = inboxReducer(inboxReducer(read, mark("read", [5], 4)), {
      type: "page",
      filter: "read",
      page: page([note(5, { read_at: AT }), note(1, { read_at: AT })], 4),
      append: false,
    });
    expect(again.stale).toBe(false);
    expect(ids(again)).toEqual([5, 1]);
  });

  it("is stale when a page is older than a change already applied", () => {
    const inbox = run("all", mark("seen", [1], 9), { type: "page", filter: "all", page: page([note(1)], 8), append: false });
    expect(inbox.stale).toBe(true);
  });

  it("marks seen without moving anything", () => {
    const inbox = run("unread", { type: "page", filter: "unread", page: page([note(1)], 1), append: false }, mark("seen", [1], 2));
    expect(inbox.items[0]?.seen_at).toBe(AT);
    expect(ids(inbox)).toEqual([1]);
  });

  it("takes absent timestamps (omitted by the gateway) as not yet", () => {
    const { read_at: _r, seen_at: _s, archived_at: _a, ...bare } = note(3);
    expect(matches(bare, "unread")).toBe(true);
    expect(matches(bare, "all")).toBe(true);
    const inbox = run("unread", { type: "page", filter: "unread", page: page([bare], 1), append: false }, mark("read", [3], 2));
    expect(ids(inbox)).toEqual([]);
  });

  it("knows which notifications belong to each filter", () => {
    const archived = note(1, { archived_at: AT, read_at: AT });
    expect(matches(archived, "archived")).toBe(true);
    expect(matches(archived, "all")).toBe(false);
    expect(matches(archived, "read")).toBe(false);
    expect(matches(note(2), "unread")).toBe(true);
    expect(matches(note(2, { read_at: AT }), "read")).toBe(true);
  });
});

describe("where a link leads", () => {
  const hrefs = {
    series: (source: string, name: string) => `#/series/${source}/${name}`,
    cls: (classId: string, student?: string) => `#/classes/${classId}${student ? `?student=${student}` : ""}`,
  };
  it("turns each kind into its page, a trace into text", () => {
    expect(linkTarget({ kind: "series", target: "host-1:cpu" }, hrefs)).toMatchObject({ href: "#/series/host-1/cpu" });
    expect(linkTarget({ kind: "class", target: "py101" }, hrefs)).toMatchObject({ href: "#/classes/py101" });
    expect(linkTarget({ kind: "student", target: "py101:ada" }, hrefs)).toMatchObject({ href: "#/classes/py101?student=ada" });
    expect(linkTarget({ kind: "trace", target: "4bf92f35" }, hrefs)).toEqual({ trace: "4bf92f35" });
  });
  it("refuses malformed targets", () => {
    expect(linkTarget({ kind: "series", target: "cpu" }, hrefs)).toBeNull();
    expect(linkTarget({ kind: "student", target: "py101:" }, hrefs)).toBeNull();
    expect(linkTarget({ kind: "other", target: "x" }, hrefs)).toBeNull();
  });
});
