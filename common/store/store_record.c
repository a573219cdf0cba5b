/* store_record.c: a run decided (or parked for a human) without a tool,
 * recorded whole in one statement: the run row in its final state, its
 * pending approval, its "claimed" and "decided"/"parked" events. DESIGN
 * 4b: such a run costs one transaction and one round trip; a batch of
 * them is the same one statement over all its runs (one commit).
 *
 * The statement inserts only a run that does not exist yet (ON CONFLICT
 * DO NOTHING): a run that another delivery created meanwhile is left as
 * it is, and the caller goes the claiming way for it (qf_store_claim). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "qf/store.h"
#include "qf/strbuf.h"
#include "qf/uuid.h"
#include "store_internal.h"

enum { NPARAMS = 27 };

/* One statement, so one implicit transaction, for the whole batch: the
 * runs come as one JSON array of records ($1, built by batch_json), so
 * PostgreSQL parses them once and checks the runs table's constraints
 * once per batch, not once per run (ExecConstraints reads each CHECK's
 * stored expression per statement: a quarter of its CPU per run when
 * each run had its own statement). The approvals and events exist only
 * for the runs the statement inserted; it returns their ids. */
static const char RECORD_SQL[] =
    "WITH src AS MATERIALIZED (SELECT * FROM jsonb_to_recordset($1::jsonb) "
    "AS x(n integer, run_id uuid, message_id text, request jsonb, "
    "requested_by text, reply_to text, correlation_id text, worker text, "
    "deliveries integer, decision text, reason text, triggered_rules jsonb, "
    "decided_by text, evidence jsonb, evidence_path text, policy_version "
    "text, policy_hash text, decision_message jsonb, approval_id uuid, "
    "checkpoint jsonb, stage text, triggered_rule text, expires_s integer, "
    "approvers jsonb, prevent_self_approval boolean, claimed jsonb, "
    "final_event text, final_data jsonb)), "
    "ins AS (INSERT INTO runs (run_id, message_id, request, requested_by, "
    "reply_to, correlation_id, worker, attempts, deliveries, status, "
    "decision, reason, triggered_rules, decided_by, final, evidence, "
    "evidence_path, policy_version, policy_hash, decision_message, "
    "approval_id, decided_at, checkpoint) SELECT run_id, message_id, "
    "request, requested_by, reply_to, correlation_id, worker, 1, deliveries, "
    "CASE WHEN decision = 'NEED_HITL' THEN 'awaiting_approval' ELSE "
    "'decided' END, decision, reason, triggered_rules, decided_by, decision "
    "<> 'NEED_HITL', evidence, evidence_path, policy_version, policy_hash, "
    "decision_message, approval_id, CASE WHEN decision <> 'NEED_HITL' THEN "
    "now() END, checkpoint FROM src ORDER BY n ON CONFLICT (run_id) DO "
    "NOTHING RETURNING run_id), "
    "ap AS (INSERT INTO approvals (id, run_id, stage, triggered_rule, "
    "requested_by, expires_at, approvers, prevent_self_approval) SELECT "
    "s.approval_id, s.run_id, s.stage, s.triggered_rule, s.requested_by, "
    "now() + make_interval(secs => s.expires_s), ARRAY(SELECT "
    "jsonb_array_elements_text(s.approvers)), s.prevent_self_approval FROM "
    "src s JOIN ins USING (run_id) WHERE s.approval_id IS NOT NULL ORDER BY "
    "s.n), "
    "ev AS (INSERT INTO run_events (run_id, event, actor, data) SELECT "
    "s.run_id, e.event, s.worker, e.data FROM src s JOIN ins USING (run_id) "
    "CROSS JOIN LATERAL (VALUES (1, 'claimed', s.claimed), (2, "
    "s.final_event, s.final_data)) AS e(k, event, data) ORDER BY s.n, e.k) "
    "SELECT run_id FROM ins";

/* The record's fields in $1, in the order of qf_record_t.text: the name
 * of each in the statement's recordset and how its text goes into JSON:
 * 's' a string, 'j' JSON text this module or its callers printed with
 * cJSON (one whole value, never a message's bytes), 'r' a number or
 * boolean literal fill() wrote. NULL is null whatever the kind. */
static const struct {
  const char *name;
  char kind;
} FIELDS[NPARAMS] = {
    {"run_id", 's'},           {"message_id", 's'},
    {"request", 'j'},          {"requested_by", 's'},
    {"reply_to", 's'},         {"correlation_id", 's'},
    {"worker", 's'},           {"deliveries", 'r'},
    {"decision", 's'},         {"reason", 's'},
    {"triggered_rules", 'j'},  {"decided_by", 's'},
    {"evidence", 'j'},         {"evidence_path", 's'},
    {"policy_version", 's'},   {"policy_hash", 's'},
    {"decision_message", 'j'}, {"approval_id", 's'},
    {"checkpoint", 'j'},       {"stage", 's'},
    {"triggered_rule", 's'},   {"expires_s", 'r'},
    {"approvers", 'j'},        {"prevent_self_approval", 'r'},
    {"claimed", 'j'},          {"final_event", 's'},
    {"final_data", 'j'},
};

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

/* One record as an object of $1's array; n is its place in the batch
 * (the order its run and events are inserted in). */
static int record_json(qf_strbuf_t *sb, const qf_record_t *r, size_t n) {
  int rc = qf_strbuf_printf(sb, "%s{\"n\":%zu", sb->len ? "," : "[", n);
  for (int i = 0; rc == QF_OK && i < NPARAMS; i++) {
    const char *v = r->text[i];
    rc = qf_strbuf_printf(sb, ",\"%s\":", FIELDS[i].name);
    if (rc < 0) break;
    if (v == NULL)
      rc = qf_strbuf_puts(sb, "null");
    else if (FIELDS[i].kind != 's')
      rc = qf_strbuf_puts(sb, v);
    else if ((rc = qf_strbuf_putc(sb, '"')) == QF_OK &&
             (rc = qf_strbuf_json_escape(sb, v)) == QF_OK)
      rc = qf_strbuf_putc(sb, '"');
  }
  return rc == QF_OK ? qf_strbuf_putc(sb, '}') : rc;
}

/* An earlier record of the batch for the same run (two deliveries of one
 * request): only the first is sent; the later ones are not inserted and
 * go the claiming way, as a run another delivery made does. */
static int seen_before(qf_record_t *const *r, size_t i) {
  for (size_t k = 0; k < i; k++)
    if (strcmp(r[k]->text[0], r[i]->text[0]) == 0) return 1;
  return 0;
}

static int batch_json(qf_strbuf_t *sb, qf_record_t *const *r, size_t n,
                      unsigned char *sent) {
  int rc = QF_OK;
  qf_strbuf_reset(sb);
  for (size_t i = 0; rc == QF_OK && i < n; i++) {
    sent[i] = !seen_before(r, i);
    if (sent[i]) rc = record_json(sb, r[i], i);
  }
  return rc == QF_OK ? qf_strbuf_putc(sb, ']') : rc;
}

/* The statement returns the id of each run it inserted. */
static void read_inserted(qf_record_t *const *r, size_t n,
                          const unsigned char *sent, PGresult *res) {
  int rows = res ? PQntuples(res) : 0;
  for (size_t i = 0; i < n; i++) {
    r[i]->inserted = 0;
    for (int k = 0; sent[i] && k < rows; k++)
      if (strcasecmp(PQgetvalue(res, k, 0), r[i]->text[0]) == 0)
        r[i]->inserted = 1;
  }
}

int qf_store_record_commit(qf_store_t *st, qf_record_t *const *r, size_t n,
                           qf_db_meanwhile_fn meanwhile, void *ctx,
                           qf_error_t *err) {
  if (st == NULL || n == 0 || n > QF_STORE_RECORD_MAX)
    return qf_error_set(err, QF_EINVAL, "record: 1 to %d runs",
                        QF_STORE_RECORD_MAX);
  unsigned char sent[QF_STORE_RECORD_MAX];
  qf_strbuf_t sb;
  qf_strbuf_init(&sb);
  PGresult *res = NULL;
  int rc = batch_json(&sb, r, n, sent);
  if (rc < 0) {
    rc = qf_error_set(err, rc, "record: cannot build the batch of %zu", n);
    goto out;
  }
  const char *p[] = {sb.data};
  qf_db_stmt_t s = {"qf_record", RECORD_SQL, 1, p};
  rc = qf_db_exec_meanwhile(st->db, &s, meanwhile, ctx, &res, err);
  if (rc == QF_OK) read_inserted(r, n, sent, res);
out:
  PQclear(res);
  qf_strbuf_fini(&sb);
  return rc;
}
