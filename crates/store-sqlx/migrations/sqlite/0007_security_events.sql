-- The security log: every change to a user's second factor or to an organisation's policy,
-- written in the same statement as the change, and the failures and locks in between. No
-- secret and no code is ever stored here. The id orders the log and pages it (newest first);
-- the oldest rows past the store's retention are deleted as new events arrive (by id, so no
-- index on the time costs every logged write, and the newest id, never deleted, is never
-- handed out again).
CREATE TABLE twostep_security_events (
    id         INTEGER PRIMARY KEY,
    user_id    TEXT    NOT NULL,
    at         INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    actor      TEXT,
    org        TEXT,
    ip         TEXT,
    user_agent TEXT
);
CREATE INDEX twostep_security_events_user ON twostep_security_events (user_id, id);
CREATE INDEX twostep_security_events_actor ON twostep_security_events (actor, id)
    WHERE actor IS NOT NULL;
CREATE INDEX twostep_security_events_org ON twostep_security_events (org, id)
    WHERE org IS NOT NULL;

-- A write to an account that carries an event sets `logged_event` (the event as JSON) with
-- its other columns, and this trigger moves it into the log and empties the column, all in
-- that one statement: atomic, and one round trip, as the statement PostgreSQL runs
-- (`WITH changed AS (UPDATE … RETURNING 1) INSERT … FROM changed`), which SQLite lacks.
ALTER TABLE twostep_accounts ADD COLUMN logged_event TEXT;
CREATE TRIGGER twostep_accounts_logged_event
AFTER UPDATE OF logged_event ON twostep_accounts
WHEN NEW.logged_event IS NOT NULL
BEGIN
    INSERT INTO twostep_security_events (user_id, at, kind, actor, org, ip, user_agent)
    VALUES (
        json_extract(NEW.logged_event, '$.user_id'),
        json_extract(NEW.logged_event, '$.at'),
        json_extract(NEW.logged_event, '$.kind'),
        json_extract(NEW.logged_event, '$.actor'),
        json_extract(NEW.logged_event, '$.org'),
        json_extract(NEW.logged_event, '$.ip'),
        json_extract(NEW.logged_event, '$.user_agent')
    );
    UPDATE twostep_accounts SET logged_event = NULL WHERE user_id = NEW.user_id;
END;
