-- The recovery codes (about 1.2 KiB) moved to the end of the row. A sign-in with a TOTP code
-- rewrites the step, the counters, the revision and the completed challenges, and
-- PostgreSQL logs an update as the bytes between the row's unchanged prefix and unchanged
-- suffix: with the codes in the middle, every sign-in logged them again (about 1.4 KiB of
-- WAL a sign-in, 0.2 KiB with them last). Same data, same names and constraint; nothing
-- reads the columns by position.
ALTER TABLE twostep_accounts ADD COLUMN recovery_codes_last TEXT;
UPDATE twostep_accounts SET recovery_codes_last = recovery_codes;
-- Drops the CHECK that pairs the codes with the secret too; it is made again below.
ALTER TABLE twostep_accounts DROP COLUMN recovery_codes;
ALTER TABLE twostep_accounts RENAME COLUMN recovery_codes_last TO recovery_codes;
ALTER TABLE twostep_accounts ADD CONSTRAINT twostep_accounts_check
    CHECK ((secret_ciphertext IS NULL) = (recovery_codes IS NULL));
