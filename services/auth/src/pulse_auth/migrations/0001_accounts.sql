-- Auth owns the "auth" schema: accounts, refresh tokens, API keys, signing keys, and the
-- login failures that rate-limit guessing. Secrets are stored only as hashes (passwords:
-- Argon2id; refresh tokens and API key secrets: SHA-256 of 256 random bits).

CREATE SCHEMA IF NOT EXISTS auth;

CREATE TABLE auth.users (
    id uuid PRIMARY KEY,
    email text NOT NULL,
    password_hash text NOT NULL,
    role text NOT NULL CHECK (role IN ('admin', 'user')),
    disabled boolean NOT NULL DEFAULT false,
    -- Access tokens carry the version they were issued under; raising it (disable, role
    -- change, password reset) makes every earlier token of this user stop working.
    token_version integer NOT NULL DEFAULT 0,
    tokens_revoked_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON auth.users (lower(email));

CREATE TABLE auth.refresh_tokens (
    id uuid PRIMARY KEY,
    family_id uuid NOT NULL,
    parent_id uuid REFERENCES auth.refresh_tokens (id),
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    token_hash bytea NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    revoked_at timestamptz
);
CREATE INDEX refresh_tokens_family_idx ON auth.refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON auth.refresh_tokens (user_id);

CREATE TABLE auth.api_keys (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    prefix text NOT NULL UNIQUE,
    secret_hash bytea NOT NULL,
    scopes text[] NOT NULL,
    created_by uuid REFERENCES auth.users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at timestamptz
);

CREATE TABLE auth.signing_keys (
    kid text PRIMARY KEY,
    private_pem text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    retired_at timestamptz
);

-- Single access tokens revoked before they expire (a logout).
CREATE TABLE auth.revoked_tokens (
    jti text PRIMARY KEY,
    user_id uuid NOT NULL,
    until timestamptz NOT NULL
);

CREATE TABLE auth.login_failures (
    key text NOT NULL,
    failed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_key_idx ON auth.login_failures (key, failed_at);
