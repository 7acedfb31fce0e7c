-- The console's own tables (twostep's are the store's migrations). Run at every start;
-- each statement does nothing when its table or index exists.
CREATE TABLE IF NOT EXISTS web_users (
    email TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL);
-- Sign-ups waiting for the link mailed to their address.
CREATE TABLE IF NOT EXISTS web_signups (
    token TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    org TEXT NOT NULL,
    expires_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS web_members (
    org TEXT NOT NULL,
    email TEXT NOT NULL,
    role TEXT NOT NULL,
    joined_at BIGINT NOT NULL,
    PRIMARY KEY (org, email));
-- One owner per organisation, even when two first sign-ups race.
CREATE UNIQUE INDEX IF NOT EXISTS web_members_one_owner
    ON web_members (org) WHERE role = 'owner';
