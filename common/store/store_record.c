/* store_record.c: a run decided (or parked for a human) without a tool,
 * recorded whole in one statement: the run row in its final state, its
 * pending approval, its "claimed" and "decided"/"parked" events. DESIGN
 * 4b: such a run costs one transaction and one round trip; several are
 * recorded in one pipelined transaction (one commit for the batch).
 *
 * The statement inserts only a run that does not exist yet (ON CONFLICT
 * DO NOTHING): a run that another delivery created meanwhile is left as
 * it is, and the caller goes the claiming way for it (qf_store_claim). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qf/store.h"
#include "qf/uuid.h"
#include "store_internal.h"

enum { NPARAMS = 27 };

/* One statement, so one implicit transaction: the approval and the
 * events exist only when the run row was inserted by it. */
static const char RECORD_SQL[] =
    "WITH ins AS (INSERT INTO runs (run_id, message_id, request, "
    "requested_by, reply_to, correlation_id, worker, attempts, deliveries, "
    "status, decision, reason, triggered_rules, decided_by, final, evidence, "
    "evidence_path, policy_version, policy_hash, decision_message, "
    "approval_id, decided_at, checkpoint) VALUES ($1, $2, $3::jsonb, $4, $5, "
    "$6, $7, 1, $8::integer, CASE WHEN $9::text = 'NEED_HITL' THEN "
    "'awaiting_approval' ELSE 'decided' END, $9::text, $10, $11::jsonb, $12, "
    "$9::text <> 'NEED_HITL', $13::jsonb, $14, $15, $16, $17::jsonb, "
    "$18::uuid, CASE WHEN $9::text <> 'NEED_HITL' THEN now() END, "
    "$19::jsonb) ON CONFLICT (run_id) DO NOTHING RETURNING run_id), "
    "ap AS (INSERT INTO approvals (id, run_id, stage, triggered_rule, "
    "requested_by, expires_at, approvers, prevent_self_approval) SELECT "
    "$18::uuid, run_id, $20, $21, $4, now() + make_interval(secs => "
    "$22::integer), ARRAY(SELECT jsonb_array_elements_text($23::jsonb)), "
    "$24::boolean FROM ins WHERE $18::uuid IS NOT NULL), "
    "ev AS (INSERT INTO run_events (run_id, event, actor, data) SELECT "
    "ins.run_id, e.event, $7, e.data FROM ins, (VALUES (1, 'claimed', "
    "$25::jsonb), (2, $26::text, $27::jsonb)) AS e(n, event, data) ORDER BY "
    "e.n) SELECT count(*) FROM ins";

static char *dup_or_null(const char *s, int *bad) {
  char *d = s ? strdup(s) : NULL;
  if (s && d == NULL) *bad = 1;
  return d;
}

static char *json_text(const cJSON *doc, int *bad) {
  char *t = doc ? cJSON_PrintUnformatted(doc) : NULL;
  if (doc && t == NULL) *bad = 1;
  return t;
}

/* The two events' data, as qf_store_claim and qf_store_finish write them
 * (a recorded run's only claim is its first attempt). */
static int event_texts(const qf_claim_t *c, const qf_finish_t *f,
                       const char *approval_id, char **claimed, char **final) {
  cJSON *a = qf__store_claim_event(c, 1, NULL);
  cJSON *b = qf__store_final_event(f, approval_id);
  int bad = a == NULL || b == NULL;
  *claimed = bad ? NULL : json_text(a, &bad);
  *final = bad ? NULL : json_text(b, &bad);
  cJSON_Delete(a);
  cJSON_Delete(b);
  return bad ? QF_ENOMEM : QF_OK;
}

/* The decision message as published: with the approval's id when parked. */
static int message_copy(const qf_finish_t *f, qf_record_t *r) {
  r->message = cJSON_Duplicate(f->decision_message, 1);
  if (r->message == NULL) return QF_ENOMEM;
  if (r->approval_id[0] == '\0') return QF_OK;
  cJSON_DeleteItemFromObjectCaseSensitive(r->message, "approval_id");
  return cJSON_AddStringToObject(r->message, "approval_id", r->approval_id)
             ? QF_OK
             : QF_ENOMEM;
}

static int fill(const qf_claim_t *c, const qf_finish_t *f, qf_record_t *r) {
  int bad = 0, hitl = strcmp(f->decision, "NEED_HITL") == 0;
  char deliveries[16], expires[16];
  snprintf(deliveries, sizeof deliveries, "%d", c->deliveries);
  snprintf(expires, sizeof expires, "%d", hitl ? f->expires_after_s : 0);
  if (hitl && qf_uuid_v4(r->approval_id) < 0) return QF_EINTERNAL;
  if (message_copy(f, r) < 0) return QF_ENOMEM;
  const char *plain[] = {c->run_id,
                         c->message_id,
                         c->request_json,
                         c->requested_by,
                         c->reply_to,
                         c->correlation_id,
                         c->worker,
                         deliveries,
                         f->decision,
                         f->reason,
                         NULL,
                         f->decided_by,
                         NULL,
                         f->evidence_path,
                         f->policy_version,
                         f->policy_hash,
                         NULL,
                         hitl ? r->approval_id : NULL,
                         NULL,
                         f->stage ? f->stage : "after_execute",
                         f->triggered_rule,
                         expires};
  for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
    r->text[i] = dup_or_null(plain[i], &bad);
  r->text[10] = f->triggered_rules ? json_text(f->triggered_rules, &bad)
                                   : dup_or_null("[]", &bad);
  r->text[12] = f->evidence_text ? dup_or_null(f->evidence_text, &bad)
                                 : json_text(f->evidence, &bad);
  r->text[16] = json_text(r->message, &bad);
  r->text[18] = json_text(f->checkpoint, &bad);
  r->text[22] = qf__store_approvers_json(f);
  if (r->text[22] == NULL) bad = 1;
  r->text[23] = dup_or_null(f->prevent_self_approval ? "true" : "false", &bad);
  r->text[25] = dup_or_null(hitl ? "parked" : "decided", &bad);
  if (bad || event_texts(c, f, r->approval_id, &r->text[24], &r->text[26]) < 0)
    return QF_ENOMEM;
  for (int i = 0; i < NPARAMS; i++)
    r->params[i] = r->text[i];
  return QF_OK;
}

int qf_store_record_prepare(const qf_claim_t *c, const qf_finish_t *f,
                            qf_record_t *r, qf_error_t *err) {
  memset(r, 0, sizeof *r);
  int rc = qf__store_finish_check(f, err);
  if (rc < 0) return rc;
  if (c == NULL || c->request_json == NULL || c->worker == NULL ||
      strcmp(c->run_id, f->run_id) != 0)
    return qf_error_set(err, QF_EINVAL,
                        "a record needs the claim of the same run");
  rc = fill(c, f, r);
  if (rc < 0) {
    qf_store_record_fini(r);
    return qf_error_set(err, rc, "run %s: cannot prepare its record",
                        f->run_id);
  }
  return QF_OK;
}

const char *qf_store_record_message(const qf_record_t *r) {
  return r->text[16];
}

const char *qf_store_record_evidence(const qf_record_t *r) {
  return r->text[12];
}

void qf_store_record_fini(qf_record_t *r) {
  if (r == NULL) return;
  for (int i = 0; i < NPARAMS; i++)
    free(r->text[i]);
  cJSON_Delete(r->message);
  memset(r, 0, sizeof *r);
}

/* Statement i's single value: how many runs it inserted (0 or 1). */
static void read_inserted(qf_record_t *r, PGresult *res) {
  r->inserted = res && PQntuples(res) == 1 && atoi(PQgetvalue(res, 0, 0)) == 1;
  PQclear(res);
}

int qf_store_record_commit(qf_store_t *st, qf_record_t *const *r, size_t n,
                           qf_db_meanwhile_fn meanwhile, void *ctx,
                           qf_error_t *err) {
  if (st == NULL || n == 0 || n > QF_STORE_RECORD_MAX)
    return qf_error_set(err, QF_EINVAL, "record: 1 to %d runs",
                        QF_STORE_RECORD_MAX);
  qf_db_stmt_t s[QF_STORE_RECORD_MAX];
  PGresult *res[QF_STORE_RECORD_MAX];
  for (size_t i = 0; i < n; i++)
    s[i] = (qf_db_stmt_t){"qf_record", RECORD_SQL, NPARAMS, r[i]->params};
  int rc = qf_db_exec_batch(st->db, s, n, meanwhile, ctx, res, err);
  if (rc < 0) return rc;
  for (size_t i = 0; i < n; i++)
    read_inserted(r[i], res[i]);
  return QF_OK;
}
