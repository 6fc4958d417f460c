-- The classroom: classes, every notebook event (raw, a hypertable with TimescaleDB), and the
-- relational model the class views read (students, notebooks, cells, cell executions, and
-- each student's latest state per cell). Same tables and answers on plain PostgreSQL.

CREATE TABLE classes (
    id text PRIMARY KEY,
    title text NOT NULL,
    owner_id text,                       -- the instructor (auth user id); NULL: admins only
    collect_code boolean NOT NULL DEFAULT false,
    pseudonymise boolean NOT NULL DEFAULT false,
    salt text NOT NULL,                  -- per-class, for pseudonymised student ids
    planned_cells integer,
    api_key_id text,                     -- the class's producer key (auth's id)
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX classes_owner_idx ON classes (owner_id);

-- The idempotency key: an event id is stored once, whatever its time or how often it comes.
CREATE TABLE class_event_ids (
    event_id uuid PRIMARY KEY,
    class_id text NOT NULL,
    stored_at timestamptz NOT NULL DEFAULT now()
);

-- Every event as it was accepted (attributes: the producer's JSON object, camelCase).
CREATE TABLE class_events (
    event_time timestamptz NOT NULL,
    event_id uuid NOT NULL,
    class_id text NOT NULL,
    event_type text NOT NULL,
    student_id text NOT NULL,
    notebook_path text,
    cell_index integer,
    has_error boolean NOT NULL DEFAULT false,
    attributes jsonb NOT NULL
);
CREATE INDEX class_events_class_time_idx ON class_events (class_id, event_time DESC);
CREATE INDEX class_events_student_idx ON class_events (class_id, student_id, event_time DESC);

CREATE TABLE class_students (
    class_id text NOT NULL REFERENCES classes (id),
    student_id text NOT NULL,
    first_seen timestamptz NOT NULL,
    last_activity timestamptz NOT NULL,
    PRIMARY KEY (class_id, student_id)
);

CREATE TABLE class_notebooks (
    class_id text NOT NULL REFERENCES classes (id),
    notebook_path text NOT NULL,
    first_seen timestamptz NOT NULL,
    last_activity timestamptz NOT NULL,
    events bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (class_id, notebook_path)
);

CREATE TABLE class_cells (
    class_id text NOT NULL,
    notebook_path text NOT NULL,
    cell_index integer NOT NULL,
    cell_id text NOT NULL,
    cell_type text,
    PRIMARY KEY (class_id, notebook_path, cell_index),
    FOREIGN KEY (class_id, notebook_path) REFERENCES class_notebooks (class_id, notebook_path)
);

-- One row per cell_executed event.
CREATE TABLE cell_executions (
    executed_at timestamptz NOT NULL,
    event_id uuid NOT NULL,
    class_id text NOT NULL,
    notebook_path text NOT NULL,
    cell_index integer NOT NULL,
    student_id text NOT NULL,
    succeeded boolean NOT NULL,
    duration_ms double precision,
    error_name text,
    execution_count integer
);
CREATE INDEX cell_executions_class_idx
    ON cell_executions (class_id, notebook_path, executed_at);

-- Each student's latest state on each cell (by event time, whatever the arrival order): what
-- the overview and the heatmap read, one row per student and cell.
CREATE TABLE cell_states (
    class_id text NOT NULL,
    notebook_path text NOT NULL,
    student_id text NOT NULL,
    cell_index integer NOT NULL,
    runs integer NOT NULL,
    errors integer NOT NULL,
    last_succeeded boolean NOT NULL,
    first_run_at timestamptz NOT NULL,
    last_run_at timestamptz NOT NULL,
    PRIMARY KEY (class_id, notebook_path, student_id, cell_index)
);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        PERFORM create_hypertable('class_events', 'event_time',
                                  chunk_time_interval => interval '7 days');
        PERFORM create_hypertable('cell_executions', 'executed_at',
                                  chunk_time_interval => interval '7 days');
    END IF;
END
$$;
