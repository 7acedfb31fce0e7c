-- A policy's own revision: a change is written only at the revision it read (before, the
-- compare-and-set compared the policy's JSON text). Rows that exist were written once.
ALTER TABLE twostep_org_policies ADD COLUMN revision BIGINT NOT NULL DEFAULT 1;
