-- The security log: every change to a user's second factor or to an organisation's policy,
-- written in the same statement as the change, and the failures and locks in between. No
-- secret and no code is ever stored here. The id orders the log and pages it (newest first);
-- the oldest rows past the store's retention are deleted as new events arrive (by id, so
-- no index on the time costs every logged write).
CREATE TABLE twostep_security_events (
    id         BIGSERIAL PRIMARY KEY,
    user_id    TEXT   NOT NULL,
    at         BIGINT NOT NULL,
    kind       TEXT   NOT NULL,
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
