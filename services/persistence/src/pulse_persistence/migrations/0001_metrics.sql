-- Series catalog and narrow metric rows. Unique on (series_id, time): redelivered points are
-- written once. With TimescaleDB (preloaded), metrics becomes a hypertable; the table, the
-- queries and their answers are the same on plain PostgreSQL.
--
-- pulse:supersedes sha256=3e0c84fbeb3b68d48a750e49631628ea12cfa76b9e8bc20aa1aa8c28b72bdb1f
-- (the first text read shared_preload_libraries, which only privileged roles may; where it
-- ran, it did exactly what this text does.)

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

-- TimescaleDB is used when it is installed in this database, or when the server preloads it:
-- its loader then defines the setting timescaledb.disable_load, which any role may read (the
-- list shared_preload_libraries needs pg_read_all_settings, which service roles don't have).
-- The extension is trusted, so a role with CREATE on the database may install it; a role that
-- may not is told what to do rather than silently given plain tables on a TimescaleDB server.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')
       OR (EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
           AND current_setting('timescaledb.disable_load', true) IS NOT NULL) THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS timescaledb;
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE EXCEPTION 'TimescaleDB is preloaded on this server but not installed in '
                'database %, and role % may not install it', current_database(), current_user
                USING HINT = 'run CREATE EXTENSION timescaledb in that database as its owner '
                    'or a superuser (deploy/postgres/roles.sql does), then start again';
        END;
        PERFORM create_hypertable('metrics', 'time', chunk_time_interval => interval '1 day');
    END IF;
END
$$;
