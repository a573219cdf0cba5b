/* store_lease.c: one owner per run (see include/store/qf/store.h): the
 * lease a claim takes and renews, the waiters of other deliveries, and the
 * runs that end without a gate, found by a sweep when nobody will finish
 * them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qf/store.h"
#include "store_internal.h"

int qf_store_set_lease(qf_store_t *st, const char *owner, int lease_s) {
  if (st == NULL || lease_s < 0 || (lease_s > 0 && owner == NULL))
    return QF_EINVAL;
  char *copy = lease_s > 0 ? strdup(owner) : NULL;
  if (lease_s > 0 && copy == NULL) return QF_ENOMEM;
  free(st->owner);
  st->owner = copy;
  st->lease_s = lease_s;
  snprintf(st->lease_s_text, sizeof st->lease_s_text, "%d", lease_s);
  return QF_OK;
}

int qf_store_renew_lease(qf_store_t *st, const char *run_id,
                         const qf_tool_trace_t *tool, qf_error_t *err) {
  if (st == NULL || st->owner == NULL || !qf_uuid_is_valid(run_id))
    return qf_error_set(err, QF_EINVAL, "renew needs a lease and a run id");
  char pgid[16], started[24];
  snprintf(pgid, sizeof pgid, "%d", tool ? tool->pgid : 0);
  snprintf(started, sizeof started, "%lld", tool ? tool->started : 0);
  const char *p[] = {run_id,
                     st->owner,
                     st->lease_s_text,
                     tool ? "true" : "false",
                     pgid,
                     tool ? tool->host : NULL,
                     started,
                     tool && tool->cgroup[0] ? tool->cgroup : NULL};
  PGresult *res = NULL;
  int rc = qf_db_exec(
      st->db,
      "UPDATE runs SET lease_expires_at = now() + make_interval(secs => "
      "$3::integer), tool_pgid = CASE WHEN $4::boolean THEN "
      "nullif($5::integer, 0) ELSE tool_pgid END, tool_host = CASE WHEN "
      "$4::boolean THEN $6 ELSE tool_host END, tool_started = CASE WHEN "
      "$4::boolean THEN $7::bigint ELSE tool_started END, tool_cgroup = CASE "
      "WHEN $4::boolean THEN $8 ELSE tool_cgroup END WHERE run_id = $1::uuid "
      "AND lease_owner = $2 AND status IN ('received', 'running') RETURNING 1",
      8, p, &res, err);
  if (rc == QF_OK && PQntuples(res) == 0)
    rc = qf__store_conflict(st->db, run_id, err);
  PQclear(res);
  return rc;
}

int qf_store_release_lease(qf_store_t *st, const char *run_id,
                           qf_error_t *err) {
  if (st == NULL || !qf_uuid_is_valid(run_id))
    return qf_error_set(err, QF_EINVAL, "release needs a run id");
  if (st->owner == NULL) return QF_OK;
  const char *p[] = {run_id, st->owner};
  /* Given back: its request is queued again (requeued, or handed on as a
   * new message the broker has not counted), so the sweep must not take
   * the run for abandoned. */
  return qf_db_exec(st->db,
                    "UPDATE runs SET lease_owner = NULL, lease_expires_at = "
                    "NULL, deliveries = 0, updated_at = now() WHERE run_id = "
                    "$1::uuid AND lease_owner = $2",
                    2, p, NULL, err);
}

int qf__store_waiters(qf_db_t *db, const char *run_id, cJSON **out,
                      qf_error_t *err) {
  PGresult *res = NULL;
  const char *p[] = {run_id};
  int bad = 0;
  *out = NULL;
  int rc = qf_db_exec(db,
                      "SELECT " QF__STORE_WAITERS(
                          "r.") " FROM runs r WHERE r.run_id = $1::uuid",
                      1, p, &res, err);
  if (rc == QF_OK && PQntuples(res) == 1) {
    *out = qf__store_json_col(res, 0, &bad);
    if (bad) rc = qf_error_set(err, QF_ENOMEM, "out of memory");
  }
  PQclear(res);
  return rc;
}

int qf__store_add_waiter(qf_db_t *db, const char *run_id, const char *reply_to,
                         const char *correlation_id, qf_error_t *err) {
  if (reply_to == NULL || reply_to[0] == '\0') return QF_OK;
  const char *p[] = {run_id, reply_to, correlation_id};
  return qf_db_exec(db,
                    "INSERT INTO run_waiters (run_id, reply_to, "
                    "correlation_id) SELECT $1::uuid, $2, $3 WHERE $2 IS "
                    "DISTINCT FROM (SELECT reply_to FROM runs WHERE run_id = "
                    "$1::uuid) ON CONFLICT (run_id, reply_to) DO NOTHING",
                    3, p, NULL, err);
}

typedef struct waiter_ctx {
  const char *run_id, *reply_to, *correlation_id;
} waiter_ctx_t;

/* Under the run's row lock: a finish in progress commits first (and we
 * see the run decided), or waits for us (and its waiters read sees us). */
static int waiter_tx(qf_db_t *db, void *arg, qf_error_t *err) {
  waiter_ctx_t *x = arg;
  PGresult *res = NULL;
  const char *p[] = {x->run_id};
  int rc = qf_db_exec(db,
                      "SELECT status FROM runs WHERE run_id = $1::uuid FOR "
                      "UPDATE",
                      1, p, &res, err);
  if (rc < 0) return rc;
  const char *status = PQntuples(res) ? PQgetvalue(res, 0, 0) : "";
  if (PQntuples(res) == 0)
    rc = qf_error_set(err, QF_ENOENT, "run %s does not exist", x->run_id);
  else if (strcmp(status, "received") != 0 && strcmp(status, "running") != 0)
    rc = qf_error_set(err, QF_ECONFLICT, "run %s is already %s", x->run_id,
                      status);
  PQclear(res);
  if (rc < 0) return rc;
  return qf__store_add_waiter(db, x->run_id, x->reply_to, x->correlation_id,
                              err);
}

int qf_store_add_waiter(qf_store_t *st, const char *run_id,
                        const char *reply_to, const char *correlation_id,
                        qf_error_t *err) {
  if (st == NULL || !qf_uuid_is_valid(run_id))
    return qf_error_set(err, QF_EINVAL, "a waiter needs a run id");
  if (reply_to && strlen(reply_to) > 255)
    return qf_error_set(err, QF_EINVAL, "reply_to is over 255 bytes");
  waiter_ctx_t x = {run_id, reply_to, correlation_id};
  return qf_db_tx(st->db, waiter_tx, &x, err);
}

/* ------------------------------------------------------------- ending */

typedef struct end_ctx {
  qf_store_t *st;
  const qf_end_t *e;
  const char *message;
  qf_run_row_t row;
} end_ctx_t;

static int end_tx(qf_db_t *db, void *arg, qf_error_t *err) {
  end_ctx_t *x = arg;
  const qf_end_t *e = x->e;
  qf_run_row_fini(&x->row);
  const char *p[] = {e->run_id,  e->decided_by, e->reason,
                     x->message, x->st->owner,  e->as_owner ? "true" : "false"};
  /* As the owner: the run must be ours. As a sweep: nobody may hold a
   * live lease on it. A parked run may end only once its approval was
   * decided (runs_guard, migration 004). */
  int rc = qf__store_read_one(
      db,
      "UPDATE runs SET status = 'decided', decision = 'FAIL', reason = $3, "
      "decided_by = $2, final = true, triggered_rules = '[]'::jsonb, "
      "decision_message = $4::jsonb, decided_at = now(), updated_at = now(), "
      "lease_owner = NULL, lease_expires_at = NULL WHERE run_id = $1::uuid "
      "AND (status = 'awaiting_approval' OR (status IN ('received', "
      "'running') AND CASE WHEN $6::boolean THEN ($5::text IS NULL OR "
      "lease_owner = $5) ELSE (lease_expires_at IS NULL OR lease_expires_at "
      "< now()) END)) RETURNING " QF__STORE_RUN_COLS("runs."),
      6, p, &x->row, err);
  if (rc == QF_ENOENT) return qf__store_conflict(db, e->run_id, err);
  if (rc < 0) return rc;
  /* Waiters that joined while we waited for the row are seen only by a
   * statement that starts after the UPDATE. */
  cJSON_Delete(x->row.waiters);
  rc = qf__store_waiters(db, e->run_id, &x->row.waiters, err);
  if (rc < 0) return rc;
  cJSON *data = cJSON_CreateObject();
  if (data == NULL ||
      !cJSON_AddStringToObject(data, "decided_by", e->decided_by) ||
      !cJSON_AddStringToObject(data, "reason", e->reason)) {
    cJSON_Delete(data);
    return qf_error_set(err, QF_ENOMEM, "out of memory");
  }
  rc = qf__store_add_event(db, e->run_id, "ended", x->st->owner, data, err);
  cJSON_Delete(data);
  return rc;
}

int qf_store_end_run(qf_store_t *st, const qf_end_t *e, qf_run_row_t *out,
                     qf_error_t *err) {
  if (st == NULL || e == NULL || !qf_uuid_is_valid(e->run_id) ||
      e->reason == NULL || !cJSON_IsObject(e->decision_message) ||
      e->decided_by == NULL ||
      (strcmp(e->decided_by, "error") != 0 &&
       strcmp(e->decided_by, "refused") != 0))
    return qf_error_set(err, QF_EINVAL,
                        "ending a run needs a run id, a reason, a decision "
                        "message and decided_by error or refused");
  end_ctx_t x = {.st = st, .e = e};
  char *message = NULL;
  int rc = qf__store_doc_text(e->decision_message, "the decision message",
                              &message, err);
  x.message = message;
  if (rc == QF_OK) rc = qf_db_tx(st->db, end_tx, &x, err);
  cJSON_free(message);
  if (rc == QF_OK && out != NULL)
    *out = x.row;
  else
    qf_run_row_fini(&x.row);
  return rc;
}

/* -------------------------------------------------------------- sweep */

int qf_store_stuck_runs(qf_store_t *st, const qf_sweep_t *s,
                        char (*out)[QF_UUID_STR_LEN + 1], qf_error_t *err) {
  if (st == NULL || s == NULL || s->max <= 0 || s->grace_s < 0 ||
      s->stuck_s < 0 || s->delivery_limit < 0)
    return qf_error_set(err, QF_EINVAL, "a sweep needs limits");
  char grace[16], stuck[16], limit[16], max[16];
  snprintf(grace, sizeof grace, "%d", s->grace_s);
  snprintf(stuck, sizeof stuck, "%d", s->stuck_s);
  snprintf(limit, sizeof limit, "%d", s->delivery_limit);
  snprintf(max, sizeof max, "%d", s->max);
  const char *p[] = {grace, stuck, limit, max};
  PGresult *res = NULL;
  /* A quorum queue gives a message up after delivery_limit failed
   * deliveries: a run whose last claim was at the limit and whose lease
   * then ran out will not be delivered again. A parked run whose approval
   * was decided and resumed long ago lost its resume the same way. */
  int rc = qf_db_exec(
      st->db,
      "SELECT r.run_id FROM runs r WHERE (r.status IN ('received', "
      "'running') AND coalesce(r.lease_expires_at, r.updated_at) < now() - "
      "make_interval(secs => $1::integer) AND (r.deliveries >= $3::integer "
      "OR coalesce(r.lease_expires_at, r.updated_at) < now() - "
      "make_interval(secs => $2::integer))) OR (r.status = "
      "'awaiting_approval' AND EXISTS (SELECT 1 FROM approvals a WHERE a.id "
      "= r.approval_id AND a.status <> 'pending' AND a.resume_published_at < "
      "now() - make_interval(secs => $2::integer))) ORDER BY r.updated_at "
      "LIMIT $4::integer",
      4, p, &res, err);
  if (rc < 0) return rc;
  int n = PQntuples(res);
  for (int i = 0; i < n; i++)
    snprintf(out[i], QF_UUID_STR_LEN + 1, "%s", PQgetvalue(res, i, 0));
  PQclear(res);
  return n;
}
