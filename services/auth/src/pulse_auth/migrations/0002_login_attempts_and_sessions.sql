-- A login attempt is recorded as a failure before its password is checked (under a lock per
-- throttle key, so parallel guesses cannot all pass the throttle at once); an attempt that
-- succeeds deletes its own rows again, found by attempt_id. Older rows have none.
ALTER TABLE auth.login_failures ADD COLUMN attempt_id uuid;

-- The jti of the access token issued with each refresh token: a logout that sends only its
-- access token still finds, and revokes, the session (refresh chain) it belongs to.
ALTER TABLE auth.refresh_tokens ADD COLUMN access_jti text;
CREATE INDEX refresh_tokens_access_jti_idx ON auth.refresh_tokens (access_jti)
    WHERE access_jti IS NOT NULL;
