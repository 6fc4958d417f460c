-- The audit trail (docs/audit.md): one row per HTTP request or WebSocket session answered by
-- the gateway or ingest (audit_access), one per step of a multi-step task (audit_task_steps),
-- both from the LOGS stream; and every refused message from DEADLETTER (audit_dead_letters),
-- with what an admin did about it. Each record is stored once: its producer's key (access,
-- steps) or a hash of the dead letter as sent (dead letters) is unique, so a redelivered
-- batch adds nothing. With TimescaleDB the first two are hypertables whose retention is a
-- policy (policies.py); on plain PostgreSQL persistence's retention task deletes the same rows.

CREATE TABLE audit_access (
    id bigint GENERATED ALWAYS AS IDENTITY,
    key uuid NOT NULL,
    created_at timestamptz NOT NULL,
    trace_id text NOT NULL,
    service text NOT NULL,
    method text NOT NULL,
    route text NOT NULL,
    path text NOT NULL,
    request_header jsonb NOT NULL,
    request_body jsonb,
    response_status smallint NOT NULL,
    response_body jsonb,
    duration_ms double precision NOT NULL,
    ip_address text,
    user_id text,
    frames_in integer,
    frames_out integer,
    close_code integer,
    CONSTRAINT audit_access_key UNIQUE (key, created_at)
);
CREATE INDEX audit_access_time_idx ON audit_access (created_at DESC, id DESC);
CREATE INDEX audit_access_trace_idx ON audit_access (trace_id);
CREATE INDEX audit_access_user_idx ON audit_access (user_id, created_at DESC);
CREATE INDEX audit_access_status_idx ON audit_access (response_status, created_at DESC);

CREATE TABLE audit_task_steps (
    id bigint GENERATED ALWAYS AS IDENTITY,
    key uuid NOT NULL,
    created_at timestamptz NOT NULL,
    trace_id text NOT NULL,
    service text NOT NULL,
    task_id uuid NOT NULL,
    task_name text NOT NULL,
    step_name text NOT NULL,
    status text NOT NULL CHECK (status IN ('START', 'IN_PROGRESS', 'SUCCESS', 'FAILED')),
    input_data jsonb,
    output_data jsonb,
    error_message text,
    stack_trace text,
    execution_order integer NOT NULL,
    CONSTRAINT audit_task_steps_key UNIQUE (key, created_at)
);
CREATE INDEX audit_task_steps_time_idx ON audit_task_steps (created_at DESC, id DESC);
CREATE INDEX audit_task_steps_trace_idx ON audit_task_steps (trace_id);
CREATE INDEX audit_task_steps_task_idx ON audit_task_steps (task_id, execution_order);
CREATE INDEX audit_task_steps_name_idx ON audit_task_steps (task_name, created_at DESC);

CREATE TABLE audit_dead_letters (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key bytea NOT NULL UNIQUE,              -- BLAKE2b-128 of the DeadLetter message as sent
    origin text NOT NULL,
    reason text NOT NULL,
    data bytea NOT NULL,
    headers jsonb NOT NULL DEFAULT '{}'::jsonb,
    trace_id text,
    received_at timestamptz NOT NULL,
    stored_at timestamptz NOT NULL DEFAULT now(),
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'replayed', 'discarded')),
    replays integer NOT NULL DEFAULT 0,
    replayed_at timestamptz,
    replayed_by text,
    discarded_at timestamptz,
    discarded_by text
);
CREATE INDEX audit_dead_letters_status_idx ON audit_dead_letters (status, id DESC);
CREATE INDEX audit_dead_letters_trace_idx ON audit_dead_letters (trace_id);
CREATE INDEX audit_dead_letters_received_idx ON audit_dead_letters (received_at);

-- The trace of the request or message that brought each notebook event.
ALTER TABLE class_events ADD COLUMN trace_id text;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        PERFORM create_hypertable('audit_access', 'created_at',
            chunk_time_interval => interval '1 day');
        PERFORM create_hypertable('audit_task_steps', 'created_at',
            chunk_time_interval => interval '1 day');
    END IF;
END
$$;
