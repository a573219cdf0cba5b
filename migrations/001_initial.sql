-- 001_initial: runs, approvals, run_events, and the two group roles.
--
-- Applied by `qf migrate` inside one transaction (so this file must not
-- contain BEGIN/COMMIT or statements that cannot run in a transaction).
-- Roles are cluster-wide, so they are created only when missing; privileges
-- are per database and are granted here.

-- Group roles (NOLOGIN). Login roles join them: GRANT qf_worker TO ci;
-- Roles are cluster-wide while migrations lock per database: two
-- databases migrated at once may both try to create them, so the loser's
-- duplicate is not an error.
DO $$
BEGIN
  CREATE ROLE qf_worker NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;
DO $$
BEGIN
  CREATE ROLE qf_approver NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

-- One row per run (run_id = UUIDv5 of the request's message_id). The
-- worker claims it with INSERT ... ON CONFLICT DO NOTHING and checkpoints
-- the pipeline state into it after every node.
CREATE TABLE runs (
  run_id          uuid PRIMARY KEY,
  message_id      text,
  status          text NOT NULL DEFAULT 'received'
                  CHECK (status IN ('received', 'running', 'awaiting_approval',
                                    'decided')),
  current_node    text
                  CHECK (current_node IN ('normalize', 'load_policy', 'plan',
                                          'execute', 'enforce_budget',
                                          'collect', 'gate')),
  attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  request         jsonb NOT NULL,
  checkpoint      jsonb,
  evidence        jsonb,
  evidence_path   text,
  decision        text CHECK (decision IN ('PASS', 'FAIL', 'NEED_HITL')),
  reason          text,
  triggered_rules jsonb NOT NULL DEFAULT '[]'::jsonb
                  CHECK (jsonb_typeof(triggered_rules) = 'array'),
  decided_by      text CHECK (decided_by IN ('gate', 'budget', 'approval',
                                             'expiry')),
  final           boolean NOT NULL DEFAULT false,
  policy_version  text,
  policy_hash     text,
  requested_by    text,
  reply_to        text,
  correlation_id  text,
  worker          text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  decided_at      timestamptz,
  -- A decided run has a final decision; a parked run has a pending one.
  CONSTRAINT runs_decided_has_decision CHECK (
    status <> 'decided' OR (decision IS NOT NULL AND final AND
                            decided_by IS NOT NULL AND decided_at IS NOT NULL)),
  CONSTRAINT runs_parked_is_hitl CHECK (
    status <> 'awaiting_approval' OR (decision = 'NEED_HITL' AND NOT final)),
  CONSTRAINT runs_final_is_decided CHECK (NOT final OR status = 'decided')
);

-- The worker looks runs up by primary key; operators and sweeps by status.
CREATE INDEX runs_status_updated_idx ON runs (status, updated_at);
CREATE INDEX runs_created_idx ON runs (created_at DESC);

-- At most one pending approval per run; decisions are compare-and-set
-- updates guarded by status = 'pending'.
CREATE TABLE approvals (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  run_id              uuid NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
  status              text NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'approved', 'rejected',
                                        'expired')),
  stage               text NOT NULL DEFAULT 'after_execute'
                      CHECK (stage IN ('after_execute', 'before_execute')),
  triggered_rule      text,
  requested_by        text,
  decided_by          text,
  reason              text,
  comment             text,
  created_at          timestamptz NOT NULL DEFAULT now(),
  expires_at          timestamptz NOT NULL,
  decided_at          timestamptz,
  resume_published_at timestamptz,
  CONSTRAINT approvals_expiry_after_creation CHECK (expires_at > created_at),
  -- Pending means undecided; anything else was decided by someone, when.
  CONSTRAINT approvals_decision_complete CHECK (
    (status = 'pending') =
    (decided_at IS NULL AND decided_by IS NULL)),
  CONSTRAINT approvals_reject_has_reason CHECK (
    status <> 'rejected' OR (reason IS NOT NULL AND length(reason) > 0)),
  CONSTRAINT approvals_resume_after_decision CHECK (
    resume_published_at IS NULL OR status <> 'pending')
);

CREATE UNIQUE INDEX approvals_one_pending_per_run
  ON approvals (run_id) WHERE status = 'pending';
CREATE INDEX approvals_run_idx ON approvals (run_id);
CREATE INDEX approvals_status_created_idx ON approvals (status, created_at DESC);
-- The approver's sweeps: overdue pending approvals, and decided approvals
-- whose resume message was never published.
CREATE INDEX approvals_pending_expiry_idx
  ON approvals (expires_at) WHERE status = 'pending';
CREATE INDEX approvals_unpublished_idx
  ON approvals (decided_at) WHERE status <> 'pending'
                              AND resume_published_at IS NULL;

-- Defence in depth behind the compare-and-set UPDATE: a human decision is
-- recorded as the authenticated session user (never a name the client
-- sends), and once an approval leaves 'pending' its decision is frozen;
-- only resume_published_at may still be set, once.
CREATE FUNCTION approvals_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.status <> 'pending' THEN
    IF (NEW.status, NEW.decided_by, NEW.decided_at, NEW.reason, NEW.comment)
       IS DISTINCT FROM
       (OLD.status, OLD.decided_by, OLD.decided_at, OLD.reason, OLD.comment)
    THEN
      RAISE EXCEPTION 'approval % is already % (by % at %)',
        OLD.id, OLD.status, OLD.decided_by, OLD.decided_at
        USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.resume_published_at IS NOT NULL AND
       NEW.resume_published_at IS DISTINCT FROM OLD.resume_published_at THEN
      RAISE EXCEPTION 'approval %: resume already published at %',
        OLD.id, OLD.resume_published_at USING ERRCODE = 'check_violation';
    END IF;
  ELSIF NEW.status IN ('approved', 'rejected') THEN
    NEW.decided_by := session_user;
    NEW.decided_at := now();
  ELSIF NEW.status = 'expired' THEN
    NEW.decided_by := 'expiry';
    NEW.decided_at := now();
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER approvals_guard BEFORE UPDATE ON approvals
  FOR EACH ROW EXECUTE FUNCTION approvals_guard();

-- Append-only audit trail of every step of every run.
CREATE TABLE run_events (
  id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_id uuid NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
  event  text NOT NULL CHECK (length(event) BETWEEN 1 AND 100),
  actor  text NOT NULL DEFAULT session_user,
  at     timestamptz NOT NULL DEFAULT now(),
  data   jsonb
);

CREATE INDEX run_events_run_at_idx ON run_events (run_id, at, id);

-- Least privilege. Nobody but the owner may delete or rewrite history.
REVOKE ALL ON runs, approvals, run_events FROM PUBLIC;

-- The worker owns runs, appends events, and opens approvals. It may insert
-- only the columns that describe the request for approval: a new row is
-- always pending, and the decision columns are never the worker's to set.
GRANT SELECT, INSERT, UPDATE ON runs TO qf_worker;
GRANT SELECT, INSERT ON run_events TO qf_worker;
GRANT SELECT ON approvals TO qf_worker;
GRANT INSERT (run_id, stage, triggered_rule, requested_by, expires_at)
  ON approvals TO qf_worker;

-- The approver reads runs, decides approvals and marks resumes published.
GRANT SELECT ON runs TO qf_approver;
GRANT SELECT, INSERT ON run_events TO qf_approver;
GRANT SELECT ON approvals TO qf_approver;
GRANT UPDATE (status, decided_by, reason, comment, decided_at,
              resume_published_at)
  ON approvals TO qf_approver;
