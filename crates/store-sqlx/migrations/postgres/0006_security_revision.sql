-- The security revision: one more with every change to the second factor itself (enabled,
-- recovery codes re-issued, disabled, reset, forgotten), never with a sign-in. Applications
-- mix it into their session validation, so a session signed in before such a change is
-- signed out. Added after the recovery codes: a sign-in leaves both unchanged, and
-- PostgreSQL logs only the bytes between a row's unchanged prefix and suffix.
ALTER TABLE twostep_accounts ADD COLUMN security_revision BIGINT NOT NULL DEFAULT 0;
