/* approvals.c: reading and listing approvals, and their JSON form (see
 * include/store/qf/approvals.h). Deciding and the approver's sweeps are in
 * approvals_decide.c; both read rows through qf__approvals_query. */
#include "qf/approvals.h"

#include "approvals_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The columns of QF__APPROVAL_COLS (approvals_internal.h), in order. */
enum {
  COL_ID,
  COL_RUN_ID,
  COL_STATUS,
  COL_STAGE,
  COL_RULE,
  COL_REQUESTED_BY,
  COL_DECIDED_BY,
  COL_REASON,
  COL_COMMENT,
  COL_CREATED_AT,
  COL_EXPIRES_AT,
  COL_DECIDED_AT,
  COL_PUBLISHED_AT,
  COL_NL_INPUT,
  COL_TOOL_NAME,
  COL_EVIDENCE_PATH,
  COL_CORRELATION_ID,
  COL_SUMMARY,
  COL_DETAILS,
  NCOLS
};

static const char *const statuses[] = {"pending", "approved", "rejected",
                                       "expired"};

/* The string members, in the order of the SELECT's columns from
 * COL_STATUS on: one list serves reading and freeing. */
static const size_t string_members[] = {
    offsetof(qf_approval_t, status),
    offsetof(qf_approval_t, stage),
    offsetof(qf_approval_t, triggered_rule),
    offsetof(qf_approval_t, requested_by),
    offsetof(qf_approval_t, decided_by),
    offsetof(qf_approval_t, reason),
    offsetof(qf_approval_t, comment),
    offsetof(qf_approval_t, created_at),
    offsetof(qf_approval_t, expires_at),
    offsetof(qf_approval_t, decided_at),
    offsetof(qf_approval_t, resume_published_at),
    offsetof(qf_approval_t, nl_input),
    offsetof(qf_approval_t, tool_name),
    offsetof(qf_approval_t, evidence_path),
    offsetof(qf_approval_t, correlation_id)};
#define NSTRINGS (sizeof string_members / sizeof string_members[0])

static char **member(qf_approval_t *a, size_t i) {
  return (char **)((char *)a + string_members[i]);
}

void qf_approval_fini(qf_approval_t *a) {
  if (a == NULL) return;
  for (size_t i = 0; i < NSTRINGS; i++)
    free(*member(a, i));
  cJSON_Delete(a->summary);
  cJSON_Delete(a->details);
  memset(a, 0, sizeof *a);
}

void qf_approvals_free(qf_approval_t *list, size_t n) {
  if (list == NULL) return;
  for (size_t i = 0; i < n; i++)
    qf_approval_fini(&list[i]);
  free(list);
}

/* ------------------------------------------------------------- reading */

static char *text_col(const PGresult *res, int row, int col, int *bad) {
  if (PQgetisnull(res, row, col)) return NULL;
  char *s = strdup(PQgetvalue(res, row, col));
  if (s == NULL) *bad = 1;
  return s;
}

/* Reads row `row` of a result selecting QF__APPROVAL_COLS into a. */
static int row_read(const PGresult *res, int row, qf_approval_t *a,
                    qf_error_t *err) {
  int bad = 0;
  memset(a, 0, sizeof *a);
  if (PQnfields(res) != NCOLS)
    return qf_error_set(err, QF_EINTERNAL, "approvals: %d columns, not %d",
                        PQnfields(res), NCOLS);
  snprintf(a->id, sizeof a->id, "%s", PQgetvalue(res, row, COL_ID));
  snprintf(a->run_id, sizeof a->run_id, "%s", PQgetvalue(res, row, COL_RUN_ID));
  _Static_assert(NSTRINGS == COL_SUMMARY - COL_STATUS,
                 "one string member per column from status to summary");
  for (size_t i = 0; i < NSTRINGS; i++)
    *member(a, i) = text_col(res, row, COL_STATUS + (int)i, &bad);
  if (!PQgetisnull(res, row, COL_SUMMARY)) {
    a->summary = cJSON_Parse(PQgetvalue(res, row, COL_SUMMARY));
    if (a->summary == NULL) bad = 1;
  }
  if (!PQgetisnull(res, row, COL_DETAILS)) {
    a->details = cJSON_Parse(PQgetvalue(res, row, COL_DETAILS));
    if (a->details == NULL) bad = 1;
  }
  if (!bad) return QF_OK;
  qf_approval_fini(a);
  return qf_error_set(err, QF_ENOMEM, "out of memory reading an approval");
}

/* Reads every row of res into a new array. */
static int rows_read(const PGresult *res, qf_approval_t **out, size_t *n,
                     qf_error_t *err) {
  int rows = PQntuples(res);
  *out = NULL;
  *n = 0;
  if (rows == 0) return QF_OK;
  qf_approval_t *list = calloc((size_t)rows, sizeof *list);
  if (list == NULL) return qf_error_set(err, QF_ENOMEM, "out of memory");
  for (int i = 0; i < rows; i++) {
    int rc = row_read(res, i, &list[i], err);
    if (rc < 0) {
      qf_approvals_free(list, (size_t)i);
      return rc;
    }
  }
  *out = list;
  *n = (size_t)rows;
  return QF_OK;
}

/* Runs a query selecting QF__APPROVAL_COLS and reads all its rows. */
int qf__approvals_query(qf_db_t *db, const char *sql, int nparams,
                        const char *const *params, qf_approval_t **out,
                        size_t *n, qf_error_t *err) {
  PGresult *res = NULL;
  int rc = qf_db_exec(db, sql, nparams, params, &res, err);
  if (rc == QF_OK) rc = rows_read(res, out, n, err);
  PQclear(res);
  return rc;
}

int qf__approvals_check_id(const char *id, qf_error_t *err) {
  if (qf_uuid_is_valid(id)) return QF_OK;
  return qf_error_set(err, QF_EINVAL, "'%s' is not an approval id (a UUID)",
                      id ? id : "(null)");
}

int qf__approvals_check_limit(int limit, qf_error_t *err) {
  if (limit >= 1 && limit <= QF_APPROVALS_LIST_MAX) return QF_OK;
  return qf_error_set(err, QF_EINVAL, "limit %d is not in 1..%d", limit,
                      QF_APPROVALS_LIST_MAX);
}

int qf_approvals_list(qf_db_t *db, const char *status, const char *run_id,
                      int limit, qf_approval_t **out, size_t *n,
                      qf_error_t *err) {
  int rc = qf__approvals_check_limit(limit, err);
  if (rc < 0) return rc;
  if (status != NULL && strcmp(status, "all") == 0) status = NULL;
  if (status != NULL) {
    size_t i = 0;
    while (i < 4 && strcmp(status, statuses[i]) != 0)
      i++;
    if (i == 4)
      return qf_error_set(err, QF_EINVAL,
                          "status '%s' is not pending, approved, rejected, "
                          "expired or all",
                          status);
  }
  if (run_id != NULL && !qf_uuid_is_valid(run_id))
    return qf_error_set(err, QF_EINVAL, "'%s' is not a run id (a UUID)",
                        run_id);
  char lim[16];
  snprintf(lim, sizeof lim, "%d", limit);
  const char *p[] = {status, run_id, lim};
  return qf__approvals_query(db,
                             "SELECT " QF__APPROVAL_COLS
                             " FROM approvals " QF__APPROVAL_FROM
                             " WHERE ($1::text IS NULL OR a.status = $1::text)"
                             " AND ($2::uuid IS NULL OR a.run_id = $2::uuid)"
                             " ORDER BY a.created_at DESC, a.id LIMIT $3::int",
                             3, p, out, n, err);
}

int qf_approvals_get(qf_db_t *db, const char *id, qf_approval_t *out,
                     qf_error_t *err) {
  memset(out, 0, sizeof *out);
  int rc = qf__approvals_check_id(id, err);
  if (rc < 0) return rc;
  qf_approval_t *list = NULL;
  size_t n = 0;
  const char *p[] = {id};
  rc = qf__approvals_query(db,
                           "SELECT " QF__APPROVAL_COLS
                           " FROM approvals " QF__APPROVAL_FROM
                           " WHERE a.id = $1::uuid",
                           1, p, &list, &n, err);
  if (rc < 0) return rc;
  if (n == 0) return qf_error_set(err, QF_ENOENT, "no approval %s", id);
  *out = list[0]; /* moves the members */
  free(list);
  return QF_OK;
}

/* ---------------------------------------------------------------- JSON */

static int add_str(cJSON *o, const char *key, const char *v) {
  cJSON *item = v ? cJSON_CreateString(v) : cJSON_CreateNull();
  if (item == NULL) return -1;
  if (!cJSON_AddItemToObject(o, key, item)) {
    cJSON_Delete(item);
    return -1;
  }
  return 0;
}

int qf_approval_to_json(const qf_approval_t *a, cJSON **out, qf_error_t *err) {
  cJSON *o = cJSON_CreateObject();
  if (o == NULL) return qf_error_set(err, QF_ENOMEM, "out of memory");
  struct {
    const char *key, *value;
  } f[] = {{"id", a->id},
           {"run_id", a->run_id},
           {"status", a->status},
           {"stage", a->stage},
           {"triggered_rule", a->triggered_rule},
           {"requested_by", a->requested_by},
           {"decided_by", a->decided_by},
           {"reason", a->reason},
           {"comment", a->comment},
           {"created_at", a->created_at},
           {"expires_at", a->expires_at},
           {"decided_at", a->decided_at},
           {"resume_published_at", a->resume_published_at},
           {"nl_input", a->nl_input},
           {"tool_name", a->tool_name},
           {"evidence_path", a->evidence_path},
           {"correlation_id", a->correlation_id}};
  int bad = 0;
  for (size_t i = 0; i < sizeof f / sizeof f[0] && !bad; i++)
    bad = add_str(o, f[i].key, f[i].value) < 0;
  if (!bad) {
    cJSON *s = a->summary ? cJSON_Duplicate(a->summary, 1) : cJSON_CreateNull();
    if (s == NULL || !cJSON_AddItemToObject(o, "summary", s)) {
      cJSON_Delete(s);
      bad = 1;
    }
  }
  if (!bad) {
    cJSON *d = a->details ? cJSON_Duplicate(a->details, 1) : cJSON_CreateNull();
    if (d == NULL || !cJSON_AddItemToObject(o, "details", d)) {
      cJSON_Delete(d);
      bad = 1;
    }
  }
  if (bad) {
    cJSON_Delete(o);
    return qf_error_set(err, QF_ENOMEM, "out of memory");
  }
  *out = o;
  return QF_OK;
}

int qf_approvals_pending_ages(qf_db_t *db, long counts[3], qf_error_t *err) {
  PGresult *res = NULL;
  int rc = qf_db_exec(
      db,
      "SELECT count(*) FILTER (WHERE created_at > now() - interval '1 hour'), "
      "count(*) FILTER (WHERE created_at <= now() - interval '1 hour' AND "
      "created_at > now() - interval '1 day'), count(*) FILTER (WHERE "
      "created_at <= now() - interval '1 day') FROM approvals WHERE status = "
      "'pending'",
      0, NULL, &res, err);
  for (int i = 0; rc == QF_OK && i < 3; i++)
    counts[i] = atol(PQgetvalue(res, 0, i));
  PQclear(res);
  return rc;
}
