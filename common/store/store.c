/* store.c: the worker's runs in PostgreSQL (see include/store/qf/store.h):
 * the connection, reading a run row, and the helpers the transactions of
 * store_run.c and store_resume.c share.
 *
 * Every operation is one transaction through qf_db_tx, so a serialization
 * failure or deadlock retries the whole body; bodies therefore reset their
 * outputs at the start of each attempt. State changes are compare-and-set
 * updates guarded by the run's status: the row lock taken by the first
 * UPDATE makes a concurrent one wait, re-check its WHERE clause after the
 * first commits, and find nothing to change. */
#include "qf/store.h"

#include "store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* jsonb values up to 255 MiB are legal, but a document this large is a
 * runaway tool report: refuse it before it costs the server memory. */
#define STORE_MAX_DOC_BYTES ((size_t)16 * 1024 * 1024)

#define STORE_APP_DEFAULT "qf-worker"

/* Longest a statement (or a wait for a row lock) may take. */
#define STORE_STATEMENT_TIMEOUT "30s"

/* The runs.status values, indexed by qf_run_status_t: the one table every
 * reader of a run row goes through (qf__store_run_read). */
static const char *const status_names[] = {"received", "running",
                                           "awaiting_approval", "decided"};
_Static_assert(sizeof status_names / sizeof status_names[0] ==
                   QF_RUN_DECIDED + 1,
               "one name per qf_run_status_t");

/* Every statement is bounded: a lock held by a stuck session, or a
 * server that stopped answering, fails the call (QF_ETIMEDOUT) instead of
 * hanging the worker; the delivery is then requeued. */
static int connect_bounded(qf_store_t *st, qf_db_t **out, qf_error_t *err) {
  qf_db_t *db = NULL;
  int rc = qf_db_connect(st->conninfo, st->app, &db, err);
  if (rc == QF_OK)
    rc = qf_db_exec(db, "SET statement_timeout = '" STORE_STATEMENT_TIMEOUT "'",
                    0, NULL, NULL, err);
  if (rc == QF_OK)
    rc = qf_db_exec(db, "SET lock_timeout = '" STORE_STATEMENT_TIMEOUT "'", 0,
                    NULL, NULL, err);
  if (rc < 0) {
    qf_db_free(db);
    return rc;
  }
  *out = db;
  return QF_OK;
}

int qf_store_open(const char *conninfo, const char *app, qf_store_t **out,
                  qf_error_t *err) {
  if (conninfo == NULL || out == NULL)
    return qf_error_set(err, QF_EINVAL, "store: no connection string");
  int rc = QF_ENOMEM;
  qf_store_t *st = calloc(1, sizeof *st);
  if (st == NULL) goto fail;
  st->conninfo = strdup(conninfo);
  st->app = strdup(app ? app : STORE_APP_DEFAULT);
  snprintf(st->lease_s_text, sizeof st->lease_s_text, "0");
  if (st->conninfo == NULL || st->app == NULL) goto fail;
  rc = connect_bounded(st, &st->db, err);
  if (rc < 0) goto out;
  *out = st;
  return QF_OK;
fail:
  qf_error_set(err, QF_ENOMEM, "out of memory");
out:
  qf_store_close(st);
  return rc;
}

void qf_store_close(qf_store_t *st) {
  if (st == NULL) return;
  qf_db_free(st->db);
  free(st->conninfo);
  free(st->app);
  free(st->owner);
  free(st);
}

qf_db_t *qf_store_db(qf_store_t *st) {
  return st ? st->db : NULL;
}

int qf_store_reconnect(qf_store_t *st, qf_error_t *err) {
  if (st == NULL) return qf_error_set(err, QF_EINVAL, "store: NULL");
  if (st->db != NULL && PQstatus(qf_db_conn(st->db)) == CONNECTION_OK) {
    /* libpq notices a dead server only when it next talks to it; a
     * transaction left open by a failed caller would fail the probe. */
    qf_db_rollback(st->db);
    int rc = qf_db_exec(st->db, "SELECT 1", 0, NULL, NULL, err);
    if (rc != QF_EDBCONN) return rc;
  }
  qf_db_t *fresh = NULL;
  int rc = connect_bounded(st, &fresh, err);
  if (rc < 0) return rc;
  qf_db_free(st->db);
  st->db = fresh;
  return QF_OK;
}

void qf_run_row_fini(qf_run_row_t *row) {
  if (row == NULL) return;
  cJSON_Delete(row->checkpoint);
  cJSON_Delete(row->decision_message);
  cJSON_Delete(row->evidence);
  free(row->reply_to);
  free(row->correlation_id);
  cJSON_Delete(row->waiters);
  free(row->lease_owner);
  free(row->evidence_path);
  memset(row, 0, sizeof *row);
}

/* ------------------------------------------------------------- helpers */

static int parse_status(const char *s, qf_run_status_t *out) {
  for (size_t i = 0; i < sizeof status_names / sizeof status_names[0]; i++)
    if (strcmp(s, status_names[i]) == 0) {
      *out = (qf_run_status_t)i;
      return 0;
    }
  return -1;
}

/* NULL for SQL NULL; *bad set when the jsonb text does not parse (cJSON
 * allocation failure included). */
cJSON *qf__store_json_col(const PGresult *res, int col, int *bad) {
  if (PQgetisnull(res, 0, col)) return NULL;
  cJSON *j = cJSON_Parse(PQgetvalue(res, 0, col));
  if (j == NULL) *bad = 1;
  return j;
}

char *qf__store_text_col(const PGresult *res, int col, int *bad) {
  if (PQgetisnull(res, 0, col)) return NULL;
  char *s = strdup(PQgetvalue(res, 0, col));
  if (s == NULL) *bad = 1;
  return s;
}

/* Reads the run columns of row 0; see store_internal.h. */
int qf__store_run_read(const PGresult *res, qf_run_row_t *row,
                       qf_error_t *err) {
  int bad = 0;
  memset(row, 0, sizeof *row);
  if (PQnfields(res) < QF__STORE_RUN_NCOLS)
    return qf_error_set(err, QF_EINTERNAL, "store: %d columns, not %d",
                        PQnfields(res), QF__STORE_RUN_NCOLS);
  snprintf(row->run_id, sizeof row->run_id, "%s", PQgetvalue(res, 0, 0));
  if (parse_status(PQgetvalue(res, 0, 1), &row->status) < 0)
    return qf_error_set(err, QF_EINTERNAL, "run %s has unknown status %s",
                        row->run_id, PQgetvalue(res, 0, 1));
  row->attempts = atoi(PQgetvalue(res, 0, 2));
  row->checkpoint = qf__store_json_col(res, 3, &bad);
  row->decision_message = qf__store_json_col(res, 4, &bad);
  row->evidence = qf__store_json_col(res, 5, &bad);
  row->reply_to = qf__store_text_col(res, 6, &bad);
  row->correlation_id = qf__store_text_col(res, 7, &bad);
  row->waiters = qf__store_json_col(res, 8, &bad);
  row->lease_owner = qf__store_text_col(res, 9, &bad);
  row->lease_live = PQgetvalue(res, 0, 10)[0] == 't';
  row->evidence_path = qf__store_text_col(res, 11, &bad);
  if (!bad) return QF_OK;
  /* The message first: fini clears run_id. */
  int rc =
      qf_error_set(err, QF_ENOMEM, "run %s: cannot load its row", row->run_id);
  qf_run_row_fini(row);
  return rc;
}

/* Appends a run_events row; data is borrowed. A NULL actor records the
 * session user (the column's default). */
int qf__store_add_event(qf_db_t *db, const char *run_id, const char *event,
                        const char *actor, const cJSON *data, qf_error_t *err) {
  char *text = cJSON_PrintUnformatted(data);
  if (text == NULL) return qf_error_set(err, QF_ENOMEM, "out of memory");
  const char *p[] = {run_id, event, actor, text};
  int rc = qf_db_exec(db,
                      "INSERT INTO run_events (run_id, event, actor, data) "
                      "VALUES ($1, $2, coalesce($3, session_user), $4::jsonb)",
                      4, p, NULL, err);
  cJSON_free(text);
  return rc;
}

/* Explains why a compare-and-set UPDATE changed nothing. */
int qf__store_conflict(qf_db_t *db, const char *run_id, qf_error_t *err) {
  PGresult *res = NULL;
  const char *p[] = {run_id};
  int rc = qf_db_exec(db,
                      "SELECT status, coalesce(lease_owner, '(none)') FROM "
                      "runs WHERE run_id = $1",
                      1, p, &res, err);
  if (rc < 0) return rc;
  const char *status = PQntuples(res) ? PQgetvalue(res, 0, 0) : "";
  if (PQntuples(res) == 0)
    rc = qf_error_set(err, QF_ENOENT, "run %s does not exist", run_id);
  else if (strcmp(status, "running") == 0 || strcmp(status, "received") == 0)
    rc = qf_error_set(err, QF_ECONFLICT,
                      "run %s is %s under another lease (owner %s)", run_id,
                      status, PQgetvalue(res, 0, 1));
  else
    rc =
        qf_error_set(err, QF_ECONFLICT, "run %s is already %s", run_id, status);
  PQclear(res);
  return rc;
}

/* Serializes a document that will be stored as jsonb, refusing one over
 * STORE_MAX_DOC_BYTES. *out is NULL for a NULL doc; caller cJSON_free()s. */
int qf__store_doc_text(const cJSON *doc, const char *what, char **out,
                       qf_error_t *err) {
  *out = NULL;
  if (doc == NULL) return QF_OK;
  char *text = cJSON_PrintUnformatted(doc);
  if (text == NULL) return qf_error_set(err, QF_ENOMEM, "out of memory");
  size_t n = strlen(text);
  if (n > STORE_MAX_DOC_BYTES) {
    cJSON_free(text);
    return qf_error_set(err, QF_ETOOBIG, "%s is %zu bytes, over the %zu limit",
                        what, n, STORE_MAX_DOC_BYTES);
  }
  *out = text;
  return QF_OK;
}

/* ------------------------------------------------------------- loading */

int qf__store_read_one(qf_db_t *db, const char *sql, int n,
                       const char *const *params, qf_run_row_t *row,
                       qf_error_t *err) {
  PGresult *res = NULL;
  int rc = qf_db_exec(db, sql, n, params, &res, err);
  if (rc < 0) return rc;
  if (PQntuples(res) == 0)
    rc = qf_error_set(err, QF_ENOENT, "run %s does not exist",
                      n > 0 ? params[0] : "(none)");
  else
    rc = qf__store_run_read(res, row, err);
  PQclear(res);
  return rc;
}

int qf_store_load(qf_store_t *st, const char *run_id, qf_run_row_t *out,
                  qf_error_t *err) {
  const char *p[] = {run_id};
  return qf__store_read_one(st->db,
                            "SELECT " QF__STORE_RUN_COLS(
                                "runs.") " FROM runs WHERE run_id = $1::uuid",
                            1, p, out, err);
}
