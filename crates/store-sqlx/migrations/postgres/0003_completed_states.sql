-- The login challenges an account's sign-ins completed, kept in its row and written by the
-- same conditional UPDATE that accepts the step or uses the recovery code: a copy of a
-- challenge is found spent on the read, and a sign-in stays one read and one write. Entries
-- are `<32 hex digits of the id>:<expiry>`, comma-separated; expired ones are dropped as new
-- ones are written.
ALTER TABLE twostep_accounts ADD COLUMN completed_states TEXT NOT NULL DEFAULT '';
