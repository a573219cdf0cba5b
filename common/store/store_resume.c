/* store_resume.c: the store's side of resuming a run parked for a human:
 * load the run with its approval, send an approved run parked before
 * execute back to running, and record the human's final decision. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qf/store.h"
#include "store_internal.h"

void qf_resume_row_fini(qf_resume_row_t *r) {
  if (r == NULL) return;
  qf_run_row_fini(&r->run);
  free(r->approval_status);
  free(r->stage);
  free(r->decided_by);
  free(r->reason);
  free(r->comment);
  free(r->expires_at);
  memset(r, 0, sizeof *r);
}

/* The approval's columns, after the run's in the SELECT of
 * qf_store_load_resume. */
static int read_resume(const PGresult *res, qf_resume_row_t *out,
                       qf_error_t *err) {
  int bad = 0, col = QF__STORE_RUN_NCOLS;
  int rc = qf__store_run_read(res, &out->run, err);
  if (rc < 0) return rc;
  out->approval_status = qf__store_text_col(res, col++, &bad);
  out->stage = qf__store_text_col(res, col++, &bad);
  out->decided_by = qf__store_text_col(res, col++, &bad);
  out->reason = qf__store_text_col(res, col++, &bad);
  out->comment = qf__store_text_col(res, col++, &bad);
  out->expires_at = qf__store_text_col(res, col++, &bad);
  if (!bad) return QF_OK;
  /* The message first: fini clears run_id. */
  rc = qf_error_set(err, QF_ENOMEM, "run %s: cannot load its row",
                    out->run.run_id);
  qf_resume_row_fini(out);
  return rc;
}

int qf_store_load_resume(qf_store_t *st, const char *run_id,
                         const char *approval_id, qf_resume_row_t *out,
                         qf_error_t *err) {
  PGresult *res = NULL;
  const char *p[] = {run_id, approval_id};
  memset(out, 0, sizeof *out);
  int rc = qf_db_exec(
      st->db,
      "SELECT " QF__STORE_RUN_COLS("r.") ", "
      "a.status, a.stage, a.decided_by, a.reason, a.comment, "
      "to_char(a.expires_at AT TIME ZONE 'UTC', "
      "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
      "FROM runs r JOIN approvals a ON a.run_id = r.run_id "
      "WHERE r.run_id = $1::uuid AND a.id = $2::uuid",
      2, p, &res, err);
  if (rc < 0) return rc;
  if (PQntuples(res) == 0)
    rc = qf_error_set(err, QF_ENOENT, "no approval %s for run %s", approval_id,
                      run_id);
  else
    rc = read_resume(res, out, err);
  PQclear(res);
  return rc;
}

typedef struct parked_ctx {
  qf_store_t *st;
  const char *run_id, *approval_id;
  char deliveries[16];
  qf_tool_trace_t *previous;
} parked_ctx_t;

static void read_previous(const PGresult *res, qf_tool_trace_t *t) {
  if (t == NULL) return;
  t->pgid = atoi(PQgetvalue(res, 0, 0));
  snprintf(t->host, sizeof t->host, "%s", PQgetvalue(res, 0, 1));
  t->started = atoll(PQgetvalue(res, 0, 2));
  snprintf(t->cgroup, sizeof t->cgroup, "%s", PQgetvalue(res, 0, 3));
}

static int resume_parked_tx(qf_db_t *db, void *arg, qf_error_t *err) {
  parked_ctx_t *x = arg;
  PGresult *res = NULL;
  const char *p[] = {x->run_id, x->st->owner, x->st->lease_s_text,
                     x->deliveries};
  /* The lease as in a claim: a resume redelivered while another owner
   * runs the tool leaves it alone. The old row (o) says which tool a
   * previous owner recorded. */
  int rc = qf_db_exec(
      db,
      "UPDATE runs r SET status = 'running', updated_at = now(), "
      "lease_owner = $2, lease_expires_at = CASE WHEN $2::text IS NULL THEN "
      "NULL ELSE now() + make_interval(secs => $3::integer) END, tool_pgid "
      "= NULL, tool_cgroup = NULL, deliveries = $4::integer FROM (SELECT "
      "run_id, coalesce(tool_pgid, 0) AS pgid, "
      "coalesce(tool_host, '') AS host, coalesce(tool_started, 0) AS started, "
      "coalesce(tool_cgroup, '') AS cgroup, deliveries FROM runs WHERE run_id "
      "= $1::uuid "
      "FOR UPDATE) o WHERE r.run_id = "
      "o.run_id AND (r.status = 'awaiting_approval' OR (r.status = 'running' "
      "AND ($2::text IS NULL OR r.lease_owner IS NULL OR r.lease_owner = $2 "
      "OR r.lease_expires_at < now() OR $4::integer > o.deliveries))) "
      "RETURNING o.pgid, o.host, o.started, o.cgroup",
      4, p, &res, err);
  if (rc < 0) return rc;
  int moved = PQntuples(res) == 1;
  if (moved) read_previous(res, x->previous);
  PQclear(res);
  if (!moved) return qf__store_conflict(db, x->run_id, err);
  cJSON *data = cJSON_CreateObject();
  if (data == NULL ||
      !cJSON_AddStringToObject(data, "approval_id", x->approval_id)) {
    cJSON_Delete(data);
    return qf_error_set(err, QF_ENOMEM, "out of memory");
  }
  rc = qf__store_add_event(db, x->run_id, "resumed", x->st->owner, data, err);
  cJSON_Delete(data);
  return rc;
}

int qf_store_resume_parked(qf_store_t *st, const char *run_id,
                           const char *approval_id, int deliveries,
                           qf_tool_trace_t *previous, qf_error_t *err) {
  if (previous) memset(previous, 0, sizeof *previous);
  parked_ctx_t x = {.st = st,
                    .run_id = run_id,
                    .approval_id = approval_id,
                    .previous = previous};
  snprintf(x.deliveries, sizeof x.deliveries, "%d",
           deliveries < 0 ? 0 : deliveries);
  return qf_db_tx(st->db, resume_parked_tx, &x, err);
}

typedef struct resolve_ctx {
  qf_store_t *st;
  const qf_resolve_t *r;
  char *rules, *evidence, *message;
  cJSON *waiters;
} resolve_ctx_t;

static int resolve_tx(qf_db_t *db, void *arg, qf_error_t *err) {
  resolve_ctx_t *x = arg;
  const qf_resolve_t *r = x->r;
  PGresult *res = NULL;
  const char *p[] = {r->run_id,     r->decision, r->reason,        x->rules,
                     r->decided_by, x->evidence, r->evidence_path, x->message};
  int rc = qf_db_exec(
      db,
      "UPDATE runs SET status = 'decided', decision = $2, reason = $3, "
      "triggered_rules = $4::jsonb, decided_by = $5, final = true, "
      "evidence = $6::jsonb, evidence_path = $7, decision_message = "
      "$8::jsonb, decided_at = now(), updated_at = now(), lease_owner = NULL, "
      "lease_expires_at = NULL "
      "WHERE run_id = $1::uuid AND status IN ('awaiting_approval', "
      "'running') RETURNING run_id",
      8, p, &res, err);
  if (rc < 0) return rc;
  int moved = PQntuples(res) == 1;
  PQclear(res);
  if (!moved) return qf__store_conflict(db, r->run_id, err);
  cJSON *data = cJSON_CreateObject();
  if (data == NULL || !cJSON_AddStringToObject(data, "decision", r->decision) ||
      !cJSON_AddStringToObject(data, "approval_id", r->approval_id) ||
      !cJSON_AddStringToObject(data, "decided_by", r->decided_by)) {
    cJSON_Delete(data);
    return qf_error_set(err, QF_ENOMEM, "out of memory");
  }
  rc = qf__store_add_event(db, r->run_id, "resolved", x->st->owner, data, err);
  cJSON_Delete(data);
  cJSON_Delete(x->waiters);
  x->waiters = NULL;
  if (rc == QF_OK) rc = qf__store_waiters(db, r->run_id, &x->waiters, err);
  return rc;
}

int qf_store_resolve(qf_store_t *st, const qf_resolve_t *r, cJSON **waiters_out,
                     qf_error_t *err) {
  resolve_ctx_t x = {.st = st, .r = r};
  int rc =
      qf__store_doc_text(r->triggered_rules, "triggered_rules", &x.rules, err);
  if (rc == QF_OK)
    rc = qf__store_doc_text(r->evidence, "evidence", &x.evidence, err);
  if (rc == QF_OK)
    rc = qf__store_doc_text(r->decision_message, "decision message", &x.message,
                            err);
  if (rc == QF_OK) rc = qf_db_tx(st->db, resolve_tx, &x, err);
  if (rc == QF_OK && waiters_out) {
    *waiters_out = x.waiters;
    x.waiters = NULL;
  }
  cJSON_Delete(x.waiters);
  cJSON_free(x.rules);
  cJSON_free(x.evidence);
  cJSON_free(x.message);
  return rc;
}
