-- Pulse's database roles: each service that keeps data in PostgreSQL logs in as its own role,
-- not a superuser, and owns its own objects; neither is granted anything on the other's.
--
--   pulse_auth     auth and migrate-auth. Owns the schema "auth" and everything in it
--                  (accounts, password hashes, refresh tokens, API keys, signing keys).
--   pulse_metrics  persistence and migrate. Owns series, metrics, the rollups and the
--                  classroom tables in "public".
--   pulse_notify   notifier and migrate-notifier. Owns the schema "notify" (notifications,
--                  the inboxes' counters, the outbox).
--   pulse_alerts   alerts and migrate-alerts. Owns the schema "alerts" (rules, firing state).
--
-- Run once, as the superuser, on the Pulse database, by psql with the variables
-- auth_password, metrics_password, notify_password, alerts_password and dbname:
-- deploy/postgres/10-pulse-roles.sh does that
-- on the database's first start. On a database Pulse already used with a single role, run
-- that script by hand (docs/operations.md): it also hands the existing objects over.
-- tests/contract/test_database_roles.py runs this file against a real PostgreSQL.

BEGIN;

CREATE ROLE pulse_auth LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
    PASSWORD :'auth_password';
CREATE ROLE pulse_metrics LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
    PASSWORD :'metrics_password';
CREATE ROLE pulse_notify LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
    PASSWORD :'notify_password';
CREATE ROLE pulse_alerts LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
    PASSWORD :'alerts_password';

-- auth's first migration runs CREATE SCHEMA IF NOT EXISTS auth, which needs CREATE on the
-- database (checked even when the schema exists); the schema is then auth's own.
GRANT CONNECT, CREATE ON DATABASE :"dbname" TO pulse_auth;
GRANT CONNECT, CREATE ON DATABASE :"dbname" TO pulse_alerts;  -- the same, for "alerts"
-- The same for the notifier's CREATE SCHEMA IF NOT EXISTS notify.
GRANT CONNECT, CREATE ON DATABASE :"dbname" TO pulse_notify;
-- persistence stages each batch in a temporary table of its connection.
GRANT CONNECT, TEMPORARY ON DATABASE :"dbname" TO pulse_metrics;

-- Since PostgreSQL 15 only the database owner may create in "public" (everyone may still use
-- it): persistence's tables live there. auth only reaches the migration ledger there.
GRANT USAGE ON SCHEMA public TO pulse_alerts;
GRANT USAGE, CREATE ON SCHEMA public TO pulse_metrics;
GRANT USAGE ON SCHEMA public TO pulse_auth, pulse_notify;

-- "$user" leads the default search_path, and pulse_auth may create schemas: one named
-- pulse_metrics could shadow persistence's tables. persistence resolves names in public only.
ALTER ROLE pulse_metrics SET search_path = public;

-- TimescaleDB, when this server preloads it: installed by the superuser, since pulse_metrics
-- may not create in the database (its migration uses the extension when it finds it here, and
-- stops with a hint when the server preloads TimescaleDB but the database lacks it).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
       AND current_setting('timescaledb.disable_load', true) IS NOT NULL THEN
        CREATE EXTENSION IF NOT EXISTS timescaledb;
    END IF;
END
$$;

-- The migration ledger both share (pulse_runtime.database, same definition): created here,
-- owned by the superuser, so neither role needs to create it. Each may read it and add rows;
-- neither may change or delete a row.
CREATE TABLE IF NOT EXISTS pulse_migrations (
    owner text NOT NULL,
    version text NOT NULL,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner, version)
);
GRANT SELECT, INSERT ON pulse_migrations TO pulse_auth, pulse_metrics, pulse_notify, pulse_alerts;

-- A database Pulse used before with one role: hand its objects to their owners. On a fresh
-- database there are none yet (the migration jobs create them, as their owners).
DO $$
DECLARE
    item record;
BEGIN
    IF to_regnamespace('auth') IS NOT NULL THEN
        ALTER SCHEMA auth OWNER TO pulse_auth;
    END IF;
    IF to_regnamespace('notify') IS NOT NULL THEN
        ALTER SCHEMA notify OWNER TO pulse_notify;
    END IF;
    FOR item IN
        SELECT c.oid::regclass AS relation, c.relkind, n.nspname
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE (n.nspname IN ('auth', 'notify') AND c.relkind IN ('r', 'p'))
           OR (n.nspname = 'public'
               AND c.relname IN ('series', 'metrics', 'metrics_1m', 'metrics_1h',
                                 'classes', 'class_event_ids', 'class_events',
                                 'class_students', 'class_notebooks', 'class_cells',
                                 'cell_executions', 'cell_states',
                                 'audit_access', 'audit_task_steps', 'audit_dead_letters')
               AND c.relkind IN ('r', 'p', 'v'))
    LOOP
        -- A table's owner takes its indexes, identity sequences and (TimescaleDB) chunks
        -- along; the rollups are continuous aggregates (views), handed over as such.
        EXECUTE format(
            'ALTER %s %s OWNER TO %I',
            CASE WHEN item.relkind = 'v' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END,
            item.relation,
            CASE item.nspname
                WHEN 'auth' THEN 'pulse_auth'
                WHEN 'notify' THEN 'pulse_notify'
                ELSE 'pulse_metrics'
            END
        );
    END LOOP;
END
$$;

COMMIT;
