-- The notifier owns the "notify" schema: every user's notifications, one counter row per
-- inbox (its unread count and version, changed in the transaction of every change), and the
-- outbox those changes are published from (docs/notifications.md, "The notifier").
-- Plain PostgreSQL: nothing here needs TimescaleDB, and it behaves the same with it.

CREATE SCHEMA IF NOT EXISTS notify;

CREATE TABLE notify.notifications (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recipient text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('info', 'success', 'warning', 'error')),
    title text NOT NULL,
    body text NOT NULL DEFAULT '',
    link jsonb,
    source text NOT NULL CHECK (source IN ('admin', 'rule', 'system')),
    created_by text,
    -- A second create with the same key for the same recipient adds nothing (NULLs differ).
    dedupe_key text,
    created_at timestamptz NOT NULL DEFAULT now(),
    read_at timestamptz,
    seen_at timestamptz,
    archived_at timestamptz,
    UNIQUE (recipient, dedupe_key)
);
-- A user's page, newest first (the "all", "read" and "archived" filters scan it).
CREATE INDEX notifications_recipient_idx ON notify.notifications (recipient, id DESC);
-- The unread filter and "mark all read".
CREATE INDEX notifications_unread_idx ON notify.notifications (recipient, id DESC)
    WHERE read_at IS NULL AND archived_at IS NULL;
-- The retention sweep.
CREATE INDEX notifications_archived_at_idx ON notify.notifications (archived_at)
    WHERE archived_at IS NOT NULL;
CREATE INDEX notifications_read_at_idx ON notify.notifications (read_at)
    WHERE read_at IS NOT NULL AND archived_at IS NULL;

-- One row per user with notifications: the unread count (not read, not archived) and the
-- version, raised by one per change. Every change locks this row first, so a user's changes
-- are serialised, numbered in commit order, and enter the outbox in that order.
CREATE TABLE notify.inboxes (
    user_id text PRIMARY KEY,
    unread integer NOT NULL DEFAULT 0 CHECK (unread >= 0),
    version bigint NOT NULL DEFAULT 0
);

-- Changes committed but not yet acknowledged by JetStream; published in id order, each with
-- Nats-Msg-Id notify-<id>, and deleted after the ack.
CREATE TABLE notify.outbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject text NOT NULL,
    payload bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
