-- 006_webhook_outbox: notifications that reach people. Every webhook event
-- is a row first (in the transaction of what it reports where it can be),
-- then delivered by an approver with retries and backoff over minutes; a
-- row is never dropped: it ends delivered, or failed with its last error.
CREATE TABLE webhook_outbox (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event           text NOT NULL CHECK (event IN ('approval.needed',
                    'approval.decided', 'approval.expired', 'run.decided')),
  dedup_key       text NOT NULL UNIQUE,
  body            jsonb NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  delivered_at    timestamptz,
  failed_at       timestamptz,
  last_error      text
);

CREATE INDEX webhook_outbox_due_idx ON webhook_outbox (next_attempt_at)
  WHERE delivered_at IS NULL AND failed_at IS NULL;
CREATE INDEX runs_decided_at_idx ON runs (decided_at)
  WHERE status = 'decided';

GRANT SELECT, INSERT, UPDATE ON webhook_outbox TO qf_approver;
