-- 003_approval_rules: the rules of an approval live on its row and the
-- database enforces them, whatever client decides; a decided run is final;
-- the audit trail's actor is the database's word, not the caller's.
--
-- Before: qf approve checked the approver list and self-approval against
-- whatever policy file its caller named, and a qf_approver login could
-- UPDATE the decision columns itself. Now deciding is one function
-- (qf_decide_approval) and a trigger that refuses, for any session and any
-- path (the function, or a table owner's hand-written UPDATE):
--   a superuser (who could bypass anything: approvers are ordinary logins),
--   a session user that is not a member of qf_approver,
--   one not in the approver list stored when the approval was opened,
--   the requester when self-approval is prevented (identities compared
--   case-insensitively, surrounding blanks ignored; an unknown requester
--   cannot be told apart from the approver, so that is refused too),
--   an overdue approval, and a second decision.

-- The rules in force when the worker opened the approval (hitl.approvers,
-- an empty list meaning any member of qf_approver, and
-- hitl.prevent_self_approval); requested_by is the requester.
ALTER TABLE approvals
  ADD COLUMN approvers text[] NOT NULL DEFAULT '{}',
  ADD COLUMN prevent_self_approval boolean NOT NULL DEFAULT true;

-- An identity as every rule compares it.
CREATE FUNCTION qf_identity(who text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT lower(btrim(who)) $$;

-- Why the session user may not decide approval a now (NULL: it may).
CREATE FUNCTION qf_decider_refusal(a approvals) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
  who text := session_user;
BEGIN
  IF (SELECT rolsuper FROM pg_roles WHERE rolname = session_user) THEN
    RETURN format('database role %s is a superuser, and superusers may not '
                  'decide approvals: decide as an ordinary member of '
                  'qf_approver', who);
  END IF;
  IF NOT pg_has_role(session_user, 'qf_approver', 'MEMBER') THEN
    RETURN format('database role %s is not a member of qf_approver, so it '
                  'may not decide approvals (an administrator grants it: '
                  'GRANT qf_approver TO %s)', who, who);
  END IF;
  IF cardinality(a.approvers) > 0 AND NOT EXISTS (
       SELECT 1 FROM unnest(a.approvers) x
        WHERE qf_identity(x) = qf_identity(who)) THEN
    RETURN format('database role %s is not in hitl.approvers of approval %s '
                  '(%s, stored when it was opened)', who, a.id,
                  array_to_string(a.approvers, ', '));
  END IF;
  IF a.prevent_self_approval AND (a.requested_by IS NULL OR
                                  btrim(a.requested_by) = '') THEN
    RETURN format('approval %s has no known requester, so self-approval '
                  'cannot be ruled out (hitl.prevent_self_approval)', a.id);
  END IF;
  IF a.prevent_self_approval AND
     qf_identity(a.requested_by) = qf_identity(who) THEN
    RETURN format('approval %s was requested by %s, who may not decide it '
                  '(hitl.prevent_self_approval)', a.id, a.requested_by);
  END IF;
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION approvals_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  refusal text;
BEGIN
  -- What the approval is about and its rules never change.
  IF (NEW.id, NEW.run_id, NEW.stage, NEW.requested_by, NEW.approvers,
      NEW.prevent_self_approval, NEW.created_at, NEW.expires_at)
     IS DISTINCT FROM
     (OLD.id, OLD.run_id, OLD.stage, OLD.requested_by, OLD.approvers,
      OLD.prevent_self_approval, OLD.created_at, OLD.expires_at) THEN
    RAISE EXCEPTION 'approval %: its run, requester, rules and deadline '
      'cannot change', OLD.id USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF OLD.status <> 'pending' THEN
    IF (NEW.status, NEW.decided_by, NEW.decided_at, NEW.reason, NEW.comment)
       IS DISTINCT FROM
       (OLD.status, OLD.decided_by, OLD.decided_at, OLD.reason, OLD.comment)
    THEN
      RAISE EXCEPTION 'approval % is already % by % at %',
        OLD.id, OLD.status, OLD.decided_by, OLD.decided_at
        USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF OLD.resume_published_at IS NOT NULL AND
       NEW.resume_published_at IS DISTINCT FROM OLD.resume_published_at THEN
      RAISE EXCEPTION 'approval %: resume already published at %',
        OLD.id, OLD.resume_published_at
        USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
  ELSIF NEW.status IN ('approved', 'rejected') THEN
    refusal := qf_decider_refusal(OLD);
    IF refusal IS NOT NULL THEN
      RAISE EXCEPTION '%', refusal USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.expires_at <= now() THEN
      RAISE EXCEPTION 'approval % expired at %', OLD.id, OLD.expires_at
        USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    NEW.decided_by := session_user;
    NEW.decided_at := now();
  ELSIF NEW.status = 'expired' THEN
    IF OLD.expires_at > now() THEN
      RAISE EXCEPTION 'approval % is not due until %', OLD.id, OLD.expires_at
        USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    NEW.decided_by := 'expiry';
    NEW.decided_at := now();
  ELSIF (NEW.decided_by, NEW.decided_at, NEW.reason, NEW.comment)
        IS DISTINCT FROM (NULL, NULL, NULL, NULL) THEN
    RAISE EXCEPTION 'approval % is pending: it has no decision to record',
      OLD.id USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END
$$;

-- Deciding: the one way for an approver. It runs as the owner (the
-- approver role has no UPDATE on the decision columns), while the trigger
-- judges session_user, the login that called it. Zero rows: it was not
-- pending and due (decided meanwhile, or overdue); the caller says which.
CREATE FUNCTION qf_decide_approval(p_id uuid, p_approve boolean, p_text text)
RETURNS SETOF approvals
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  a approvals;
BEGIN
  IF NOT p_approve AND (p_text IS NULL OR btrim(p_text) = '') THEN
    RAISE EXCEPTION 'a rejection needs a reason'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  UPDATE approvals
     SET status = CASE WHEN p_approve THEN 'approved' ELSE 'rejected' END,
         comment = CASE WHEN p_approve THEN p_text END,
         reason = CASE WHEN p_approve THEN NULL ELSE p_text END
   WHERE id = p_id AND status = 'pending' AND expires_at > now()
  RETURNING * INTO a;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  INSERT INTO run_events (run_id, event, data)
  VALUES (a.run_id, a.status,
          jsonb_build_object('approval_id', a.id::text,
                             CASE WHEN p_approve THEN 'comment'
                                  ELSE 'reason' END, p_text));
  RETURN NEXT a;
END
$$;

-- The approver's expiry sweep, also as the owner: at most p_limit pending
-- approvals whose deadline passed, oldest first, skipping rows another
-- session holds; each gets its "expired" event.
CREATE FUNCTION qf_expire_approvals(p_limit integer) RETURNS SETOF approvals
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
  WITH due AS MATERIALIZED (
    SELECT id FROM approvals
     WHERE status = 'pending' AND expires_at <= now()
     ORDER BY expires_at LIMIT p_limit FOR UPDATE SKIP LOCKED),
  a AS (
    UPDATE approvals SET status = 'expired'
     WHERE status = 'pending' AND id IN (SELECT id FROM due) RETURNING *),
  ev AS (
    INSERT INTO run_events (run_id, event, data)
    SELECT run_id, 'expired',
           jsonb_build_object('approval_id', id::text, 'expires_at',
             to_char(expires_at AT TIME ZONE 'UTC',
                     'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
      FROM a)
  SELECT * FROM a ORDER BY expires_at, id
$$;

REVOKE ALL ON FUNCTION qf_decide_approval(uuid, boolean, text),
                       qf_expire_approvals(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION qf_decide_approval(uuid, boolean, text),
                          qf_expire_approvals(integer) TO qf_approver;

-- The approver role keeps only what is not a decision.
REVOKE UPDATE (status, decided_by, reason, comment, decided_at)
  ON approvals FROM qf_approver;
-- The worker stores the rules with the approval it opens.
GRANT INSERT (approvers, prevent_self_approval) ON approvals TO qf_worker;

-- The audit trail: the actor is the session user, whatever the caller
-- wrote; what the caller called itself (a worker's host:pid) follows in
-- parentheses, marked as its own claim: "qf_worker_1 (host:4711)".
CREATE FUNCTION run_events_actor() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.actor IS NOT NULL AND NEW.actor <> session_user THEN
    NEW.actor := format('%s (%s)', session_user, left(NEW.actor, 200));
  ELSE
    NEW.actor := session_user;
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER run_events_actor BEFORE INSERT ON run_events
  FOR EACH ROW EXECUTE FUNCTION run_events_actor();

-- A decided run is final, and a run parked for a human moves only as its
-- approval was decided: approved before execute -> running; approved ->
-- PASS by approval; rejected -> FAIL by approval; expired -> FAIL by
-- expiry. The worker role cannot forge a decision around the approval.
CREATE FUNCTION runs_guard() RETURNS trigger
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
             NEW.decided_by = 'expiry' AND ap.status = 'expired')) THEN
      RAISE EXCEPTION 'run %: % (% by %) does not follow approval %, which '
        'is %', OLD.run_id, NEW.status, NEW.decision, NEW.decided_by, ap.id,
        ap.status USING ERRCODE = 'insufficient_privilege';
    END IF;
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER runs_guard BEFORE UPDATE ON runs
  FOR EACH ROW EXECUTE FUNCTION runs_guard();
