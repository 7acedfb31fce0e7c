-- Every write to a credential moves its revision on; the writes that complete a flow are
-- conditional on the revision the flow saw when it began, so each flow completes once.
ALTER TABLE twostep_accounts ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;

-- Pending states (login challenges, email codes) that completed: a copy of one cannot
-- complete again. Rows whose expires_at has passed are deleted as new ones arrive.
CREATE TABLE twostep_consumed_states (
    user_id    TEXT    NOT NULL,
    state_id   BYTEA   NOT NULL,
    expires_at BIGINT  NOT NULL,
    PRIMARY KEY (user_id, state_id)
);
CREATE INDEX twostep_consumed_states_expiry ON twostep_consumed_states (expires_at);
