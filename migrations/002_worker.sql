-- 002_worker: what the worker needs to re-publish a decided run on
-- redelivery without running anything: the decision message it published,
-- and the approval (if any) that the run is parked on.

ALTER TABLE runs
  ADD COLUMN decision_message jsonb
    CHECK (decision_message IS NULL OR jsonb_typeof(decision_message) = 'object'),
  ADD COLUMN approval_id uuid;

-- A decided or parked run has the message that announced it.
ALTER TABLE runs
  ADD CONSTRAINT runs_decided_has_message
    CHECK (status NOT IN ('decided', 'awaiting_approval')
           OR decision_message IS NOT NULL);
