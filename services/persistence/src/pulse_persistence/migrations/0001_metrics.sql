-- Series catalog and narrow metric rows. Unique on (series_id, time): redelivered points are
-- written once. With TimescaleDB (preloaded), metrics becomes a hypertable; the table, the
-- queries and their answers are the same on plain PostgreSQL.

CREATE TABLE series (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source text NOT NULL,
    name text NOT NULL,
    unit text,
    tags jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT series_source_name_key UNIQUE (source, name)
);

CREATE INDEX series_name_idx ON series (name);

CREATE TABLE metrics (
    time timestamptz NOT NULL,
    series_id integer NOT NULL REFERENCES series (id),
    value double precision NOT NULL,
    CONSTRAINT metrics_series_time_key UNIQUE (series_id, time)
);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
       AND current_setting('shared_preload_libraries') LIKE '%timescaledb%' THEN
        CREATE EXTENSION IF NOT EXISTS timescaledb;
        PERFORM create_hypertable('metrics', 'time', chunk_time_interval => interval '1 day');
    END IF;
END
$$;
