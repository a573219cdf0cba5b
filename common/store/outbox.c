/* outbox.c: the webhook outbox's queries (outbox.h). */
#include "qf/outbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int qf_outbox_add(qf_db_t *db, const char *event, const char *dedup_key,
                  const char *body, int *added, qf_error_t *err) {
  const char *p[] = {event, dedup_key, body};
  PGresult *res = NULL;
  int rc = qf_db_exec(db,
                      "INSERT INTO webhook_outbox (event, dedup_key, body) "
                      "VALUES ($1, $2, $3::jsonb) ON CONFLICT (dedup_key) DO "
                      "NOTHING RETURNING id",
                      3, p, &res, err);
  if (rc == QF_OK && added) *added = PQntuples(res) > 0;
  PQclear(res);
  return rc;
}

int qf_outbox_add_decided_runs(qf_db_t *db, int window_s, int *added,
                               qf_error_t *err) {
  char w[16];
  snprintf(w, sizeof w, "%d", window_s);
  const char *p[] = {w};
  PGresult *res = NULL;
  /* The body is the decision message itself: what every consumer of the
   * decisions exchange reads. */
  int rc = qf_db_exec(
      db,
      "INSERT INTO webhook_outbox (event, dedup_key, body) SELECT "
      "'run.decided', 'run.decided:' || run_id, jsonb_build_object('run_id', "
      "run_id, 'decision', decision, 'reason', reason, 'decided_by', "
      "decided_by, 'requested_by', requested_by, 'request', "
      "request->>'nl_input', 'source', evidence->'source', 'failures', "
      "coalesce(evidence->'failures', '[]'::jsonb), 'summary', "
      "evidence->'summary') FROM runs WHERE status = 'decided' AND "
      "decided_at > now() - make_interval(secs => $1::integer) ON CONFLICT "
      "(dedup_key) DO NOTHING RETURNING id",
      1, p, &res, err);
  if (rc == QF_OK && added) *added = PQntuples(res);
  PQclear(res);
  return rc;
}

int qf_outbox_add_decided_approvals(qf_db_t *db, int window_s, int decided,
                                    int expired, int *added, qf_error_t *err) {
  char w[16];
  snprintf(w, sizeof w, "%d", window_s);
  const char *p[] = {w, decided ? "t" : "f", expired ? "t" : "f"};
  PGresult *res = NULL;
  /* Whoever decided (qf approve, qf reject, an expiry sweep), the event is
   * queued once: its key is the approval's. */
  int rc = qf_db_exec(
      db,
      "INSERT INTO webhook_outbox (event, dedup_key, body) SELECT e.event, "
      "e.event || ':' || a.id, jsonb_build_object('approval_id', a.id, "
      "'run_id', a.run_id, 'status', a.status, 'decided_by', a.decided_by, "
      "'decided_at', a.decided_at, 'comment', a.comment, 'reason', a.reason, "
      "'requested_by', a.requested_by, 'rule', a.triggered_rule, "
      "'expires_at', a.expires_at, 'request', r.request->>'nl_input') FROM "
      "approvals a LEFT JOIN runs r ON r.run_id = a.run_id CROSS JOIN LATERAL "
      "(SELECT CASE WHEN a.status = 'expired' THEN 'approval.expired' ELSE "
      "'approval.decided' END AS event) e WHERE a.status <> 'pending' AND "
      "a.decided_at > now() - make_interval(secs => $1::integer) AND "
      "((a.status = 'expired' AND $3::boolean) OR (a.status <> 'expired' AND "
      "$2::boolean)) ON CONFLICT (dedup_key) DO NOTHING RETURNING id",
      3, p, &res, err);
  if (rc == QF_OK && added) *added = PQntuples(res);
  PQclear(res);
  return rc;
}

int qf_outbox_claim(qf_db_t *db, int limit, qf_outbox_row_t **out, size_t *n,
                    qf_error_t *err) {
  char l[16];
  snprintf(l, sizeof l, "%d", limit);
  const char *p[] = {l};
  PGresult *res = NULL;
  *out = NULL;
  *n = 0;
  int rc = qf_db_exec(db,
                      "SELECT id, event, body::text, attempts FROM "
                      "webhook_outbox WHERE delivered_at IS NULL AND "
                      "failed_at IS NULL AND next_attempt_at <= now() ORDER "
                      "BY id LIMIT $1::integer FOR UPDATE SKIP LOCKED",
                      1, p, &res, err);
  int rows = rc == QF_OK ? PQntuples(res) : 0;
  qf_outbox_row_t *r = rows ? calloc((size_t)rows, sizeof *r) : NULL;
  if (rows && r == NULL) rc = qf_error_set(err, QF_ENOMEM, "out of memory");
  for (int i = 0; rc == QF_OK && i < rows; i++) {
    r[i].id = atoll(PQgetvalue(res, i, 0));
    snprintf(r[i].event, sizeof r[i].event, "%s", PQgetvalue(res, i, 1));
    r[i].body = strdup(PQgetvalue(res, i, 2));
    r[i].attempts = atoi(PQgetvalue(res, i, 3));
    if (r[i].body == NULL) rc = qf_error_set(err, QF_ENOMEM, "out of memory");
  }
  PQclear(res);
  if (rc < 0) {
    qf_outbox_free(r, (size_t)rows);
    return rc;
  }
  *out = r;
  *n = (size_t)rows;
  return QF_OK;
}

int qf_outbox_delivered(qf_db_t *db, long long id, qf_error_t *err) {
  char s[32];
  snprintf(s, sizeof s, "%lld", id);
  const char *p[] = {s};
  return qf_db_exec(db,
                    "UPDATE webhook_outbox SET delivered_at = now(), "
                    "attempts = attempts + 1, last_error = NULL WHERE id = "
                    "$1::bigint",
                    1, p, NULL, err);
}

int qf_outbox_failed(qf_db_t *db, long long id, const char *error, int delay_s,
                     int final, qf_error_t *err) {
  char s[32], d[16];
  snprintf(s, sizeof s, "%lld", id);
  snprintf(d, sizeof d, "%d", delay_s);
  const char *p[] = {s, error, d, final ? "t" : "f"};
  return qf_db_exec(db,
                    "UPDATE webhook_outbox SET attempts = attempts + 1, "
                    "last_error = $2, next_attempt_at = now() + "
                    "make_interval(secs => $3::integer), failed_at = CASE "
                    "WHEN $4::boolean THEN now() END WHERE id = $1::bigint",
                    4, p, NULL, err);
}

void qf_outbox_free(qf_outbox_row_t *rows, size_t n) {
  for (size_t i = 0; rows && i < n; i++)
    free(rows[i].body);
  free(rows);
}
