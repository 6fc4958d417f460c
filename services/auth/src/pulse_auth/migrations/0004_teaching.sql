-- The classroom (issue 14, ADR 0023): two more roles, and a class's producer key names its
-- class (ingest takes the events' class from the key).

ALTER TABLE auth.users DROP CONSTRAINT users_role_check;
ALTER TABLE auth.users ADD CONSTRAINT users_role_check
    CHECK (role IN ('admin', 'user', 'instructor', 'student'));

ALTER TABLE auth.api_keys ADD COLUMN class_id text;
