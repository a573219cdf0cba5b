-- 004_leases: one owner per run, the submitters waiting on it, and runs
-- that end without a gate (refused, error).
--
-- A claim takes a lease (lease_owner, lease_expires_at), renewed while the
-- run is worked on; a delivery of a run whose lease is live does not run
-- it but records its reply_to in run_waiters, and the owner's decision
-- goes to every waiter. An expired lease lets the next delivery take the
-- run over; it first kills the tool the previous owner left (tool_pgid on
-- tool_host, checked against the process's start time so that a reused
-- PID is never killed, and its cgroup tool_cgroup where it had one).

ALTER TABLE runs
  ADD COLUMN lease_owner      text,
  ADD COLUMN lease_expires_at timestamptz,
  -- The broker's count of failed deliveries of the message last claimed
  -- (x-delivery-count): at the queue's limit the broker will not deliver
  -- it again, and a run left without a live lease is finished by a sweep.
  ADD COLUMN deliveries       integer NOT NULL DEFAULT 0
                              CHECK (deliveries >= 0),
  ADD COLUMN tool_pgid        integer CHECK (tool_pgid IS NULL OR tool_pgid > 1),
  ADD COLUMN tool_host        text,
  ADD COLUMN tool_started     bigint,
  ADD COLUMN tool_cgroup      text,
  ADD CONSTRAINT runs_lease_whole CHECK (
    (lease_owner IS NULL) = (lease_expires_at IS NULL));

-- The sweep looks for unfinished runs whose lease ran out.
CREATE INDEX runs_unfinished_lease_idx ON runs (lease_expires_at)
  WHERE status IN ('received', 'running');

ALTER TABLE runs DROP CONSTRAINT runs_decided_by_check;
ALTER TABLE runs ADD CONSTRAINT runs_decided_by_check
  CHECK (decided_by IN ('gate', 'budget', 'approval', 'expiry', 'refused',
                        'error'));

-- Every reply_to that sent the same request while another delivery of
-- it was being worked on (or while it waited for a human).
CREATE TABLE run_waiters (
  run_id         uuid NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
  reply_to       text NOT NULL CHECK (length(reply_to) BETWEEN 1 AND 255),
  correlation_id text,
  added_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, reply_to)
);

REVOKE ALL ON run_waiters FROM PUBLIC;
GRANT SELECT, INSERT ON run_waiters TO qf_worker;
GRANT SELECT ON run_waiters TO qf_approver;

-- As in 003, plus one way out of a parked run: once its approval was
-- decided, a run whose resume cannot finish may end FAIL by error (never
-- PASS: an error never lets a change ship).
CREATE OR REPLACE FUNCTION runs_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  ap approvals;
BEGIN
  IF OLD.status = 'decided' AND
     (NEW.status, NEW.decision, NEW.reason, NEW.triggered_rules,
      NEW.decided_by, NEW.final, NEW.decided_at, NEW.evidence,
      NEW.evidence_path, NEW.decision_message, NEW.policy_version,
      NEW.policy_hash, NEW.request)
     IS DISTINCT FROM
     (OLD.status, OLD.decision, OLD.reason, OLD.triggered_rules,
      OLD.decided_by, OLD.final, OLD.decided_at, OLD.evidence,
      OLD.evidence_path, OLD.decision_message, OLD.policy_version,
      OLD.policy_hash, OLD.request) THEN
    RAISE EXCEPTION 'run % is decided (% by %), and a decision is final',
      OLD.run_id, OLD.decision, OLD.decided_by
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  IF NEW.request IS DISTINCT FROM OLD.request THEN
    RAISE EXCEPTION 'run %: its request cannot change', OLD.run_id
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF OLD.status = 'awaiting_approval' AND NEW.status <> 'awaiting_approval'
  THEN
    SELECT * INTO ap FROM approvals WHERE run_id = OLD.run_id
     ORDER BY created_at DESC, id DESC LIMIT 1;
    IF NOT FOUND OR ap.status = 'pending' THEN
      RAISE EXCEPTION 'run % waits for a human: only the decision of its '
        'approval can move it', OLD.run_id
        USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT ((NEW.status = 'running' AND ap.status = 'approved' AND
             ap.stage = 'before_execute') OR
            (NEW.status = 'decided' AND NEW.decision = 'PASS' AND
             NEW.decided_by = 'approval' AND ap.status = 'approved') OR
            (NEW.status = 'decided' AND NEW.decision = 'FAIL' AND
             NEW.decided_by = 'approval' AND ap.status = 'rejected') OR
            (NEW.status = 'decided' AND NEW.decision = 'FAIL' AND
             NEW.decided_by = 'expiry' AND ap.status = 'expired') OR
            (NEW.status = 'decided' AND NEW.decision = 'FAIL' AND
             NEW.decided_by = 'error')) THEN
      RAISE EXCEPTION 'run %: % (% by %) does not follow approval %, which '
        'is %', OLD.run_id, NEW.status, NEW.decision, NEW.decided_by, ap.id,
        ap.status USING ERRCODE = 'insufficient_privilege';
    END IF;
  END IF;
  RETURN NEW;
END
$$;
