-- The alerts service owns the "alerts" schema: the rules, and the state of every series a
-- rule watches that is not at rest (docs/alerts.md).

CREATE SCHEMA IF NOT EXISTS alerts;

CREATE TABLE alerts.rules (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    -- The condition as its contract's JSON ({"type": "threshold", ...}); its class, for the
    -- classroom conditions, is also a column so that an instructor's rules are found by it.
    condition jsonb NOT NULL,
    class_id text,
    severity text NOT NULL CHECK (severity IN ('info', 'success', 'warning', 'error')),
    recipients jsonb NOT NULL,
    enabled boolean NOT NULL DEFAULT true,
    owner_id text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rules_class_idx ON alerts.rules (class_id) WHERE class_id IS NOT NULL;

-- One row, bumped in the same transaction as every change of a rule: the evaluator reads it
-- each tick and loads the rules again when it moved.
CREATE TABLE alerts.rules_version (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    version bigint NOT NULL
);
INSERT INTO alerts.rules_version (version) VALUES (0);

-- A (rule, series) whose condition holds: pending until it held for the rule's duration,
-- then firing until it clears, then resolved until the "resolved" notification is answered
-- (then the row goes). fire_sent / resolve_sent: the notifier answered that create; the
-- dedupe keys are made of rule, series and fired_at, so a create sent again after a crash
-- is a no-op at the notifier.
CREATE TABLE alerts.firing (
    rule_id uuid NOT NULL REFERENCES alerts.rules (id) ON DELETE CASCADE,
    series text NOT NULL,
    state text NOT NULL CHECK (state IN ('pending', 'firing', 'resolved')),
    since timestamptz NOT NULL,
    last_value double precision,
    fired_at timestamptz,
    fire_sent boolean NOT NULL DEFAULT false,
    resolved_at timestamptz,
    resolve_sent boolean NOT NULL DEFAULT false,
    PRIMARY KEY (rule_id, series)
);
CREATE INDEX firing_unsent_idx ON alerts.firing (rule_id)
    WHERE (state = 'firing' AND NOT fire_sent) OR state = 'resolved';
