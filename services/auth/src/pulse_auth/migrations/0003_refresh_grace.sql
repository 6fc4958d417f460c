-- Two refreshes of one token at once (two tabs, one cookie) are a race, not a theft: for a
-- short grace period after a token is spent, presenting it again returns the same successor.
-- To give it again without storing it readable, the spent token's row keeps the pair it was
-- answered with, sealed under a key derived from the spent token itself (docs/adr/0011).
-- The seal is dropped once the successor is spent, the chain is revoked, or the grace period
-- is over (the index finds those).
ALTER TABLE auth.refresh_tokens ADD COLUMN successor_sealed bytea;
CREATE INDEX refresh_tokens_sealed_idx ON auth.refresh_tokens (used_at)
    WHERE successor_sealed IS NOT NULL;
