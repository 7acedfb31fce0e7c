-- The recovery codes moved to the end of the row, as on PostgreSQL (where a sign-in's
-- update then logs less); one column order for both. SQLite cannot drop a column a CHECK
-- names, so the table is made anew and filled. Same data, same names and constraint;
-- nothing reads the columns by position.
CREATE TABLE twostep_accounts_new (
    user_id              TEXT    PRIMARY KEY NOT NULL,
    secret_key_id        TEXT,
    secret_ciphertext    BLOB,
    totp_params          TEXT,
    last_accepted_step   INTEGER,
    enabled_at           INTEGER,
    window_start         INTEGER NOT NULL DEFAULT 0,
    window_failures      INTEGER NOT NULL DEFAULT 0,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    revision             INTEGER NOT NULL DEFAULT 0,
    completed_states     TEXT    NOT NULL DEFAULT '',
    -- RecoveryCodeSet as JSON: Argon2id PHC strings and used-at times, never a code.
    recovery_codes       TEXT,
    CHECK ((secret_ciphertext IS NULL) = (recovery_codes IS NULL))
);
INSERT INTO twostep_accounts_new (user_id, secret_key_id, secret_ciphertext, totp_params,
    last_accepted_step, enabled_at, window_start, window_failures, consecutive_failures,
    revision, completed_states, recovery_codes)
SELECT user_id, secret_key_id, secret_ciphertext, totp_params, last_accepted_step,
    enabled_at, window_start, window_failures, consecutive_failures, revision,
    completed_states, recovery_codes
FROM twostep_accounts;
DROP TABLE twostep_accounts;
ALTER TABLE twostep_accounts_new RENAME TO twostep_accounts;
