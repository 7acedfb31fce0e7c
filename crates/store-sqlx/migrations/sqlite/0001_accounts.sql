-- One row per user: the second factor (all NULL while 2FA is off) and the failure counters.
-- Credential and counters share the row so that a login's one conditional UPDATE can accept
-- the TOTP step and settle the counters together.
CREATE TABLE twostep_accounts (
    user_id              TEXT    PRIMARY KEY NOT NULL,
    -- The TOTP secret, sealed (AEAD); the id of the key that sealed it.
    secret_key_id        TEXT,
    secret_ciphertext    BLOB,
    -- TotpParams as JSON.
    totp_params          TEXT,
    last_accepted_step   INTEGER,
    -- RecoveryCodeSet as JSON: Argon2id PHC strings and used-at times, never a code.
    recovery_codes       TEXT,
    enabled_at           INTEGER,
    window_start         INTEGER NOT NULL DEFAULT 0,
    window_failures      INTEGER NOT NULL DEFAULT 0,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    CHECK ((secret_ciphertext IS NULL) = (recovery_codes IS NULL))
);

-- One row per organisation that ever stored a policy: OrgPolicy as JSON.
CREATE TABLE twostep_org_policies (
    org_id TEXT PRIMARY KEY NOT NULL,
    policy TEXT NOT NULL
);
