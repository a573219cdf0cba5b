/* approvals.c: listing, deciding, expiring and resuming approvals (see
 * include/qf/approvals.h).
 *
 * Every state change is a compare-and-set UPDATE guarded by the status the
 * caller expects. Under READ COMMITTED a concurrent UPDATE of the same row
 * waits for the first to commit, re-checks its WHERE clause on the new row
 * version and changes nothing; the loser then re-reads the row to say who
 * won. The approvals_guard trigger is the second line: it writes
 * decided_by/decided_at itself and refuses any later change of a decision.
 */
#include "qf/approvals.h"

#include <stdlib.h>
#include <string.h>

/* ISO 8601 UTC text of a timestamptz column, independent of the session's
 * TimeZone setting. */
#define TS(col) \
  "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* The columns row_read expects, over an approvals row (or a CTE returning
 * approvals.*) aliased a and its run aliased r. */
#define APPROVAL_COLS \
  "a.id, a.run_id, a.status, a.stage, a.triggered_rule, a.requested_by, "   \
  "a.decided_by, a.reason, a.comment, " TS("a.created_at") ", " TS(         \
      "a.expires_at") ", " TS("a.decided_at") ", " TS(                      \
      "a.resume_published_at") ", r.request->>'nl_input', "                 \
                               "r.request->'options'->>'tool_name', "       \
                               "r.evidence_path, r.correlation_id, "        \
                               "r.evidence->'summary'"

#define APPROVAL_FROM "a LEFT JOIN runs r ON r.run_id = a.run_id"

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

/* Reads row `row` of a result selecting APPROVAL_COLS into a. */
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

/* Runs a query selecting APPROVAL_COLS and reads all its rows. */
static int query_list(qf_db_t *db, const char *sql, int nparams,
                      const char *const *params, qf_approval_t **out, size_t *n,
                      qf_error_t *err) {
  PGresult *res = NULL;
  int rc = qf_db_exec(db, sql, nparams, params, &res, err);
  if (rc == QF_OK) rc = rows_read(res, out, n, err);
  PQclear(res);
  return rc;
}

static int check_id(const char *id, qf_error_t *err) {
  if (qf_uuid_is_valid(id)) return QF_OK;
  return qf_error_set(err, QF_EINVAL, "'%s' is not an approval id (a UUID)",
                      id ? id : "(null)");
}

static int check_limit(int limit, qf_error_t *err) {
  if (limit >= 1 && limit <= QF_APPROVALS_LIST_MAX) return QF_OK;
  return qf_error_set(err, QF_EINVAL, "limit %d is not in 1..%d", limit,
                      QF_APPROVALS_LIST_MAX);
}

int qf_approvals_list(qf_db_t *db, const char *status, const char *run_id,
                      int limit, qf_approval_t **out, size_t *n,
                      qf_error_t *err) {
  int rc = check_limit(limit, err);
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
  return query_list(db,
                    "SELECT " APPROVAL_COLS " FROM approvals " APPROVAL_FROM
                    " WHERE ($1::text IS NULL OR a.status = $1::text)"
                    " AND ($2::uuid IS NULL OR a.run_id = $2::uuid)"
                    " ORDER BY a.created_at DESC, a.id LIMIT $3::int",
                    3, p, out, n, err);
}

int qf_approvals_get(qf_db_t *db, const char *id, qf_approval_t *out,
                     qf_error_t *err) {
  memset(out, 0, sizeof *out);
  int rc = check_id(id, err);
  if (rc < 0) return rc;
  qf_approval_t *list = NULL;
  size_t n = 0;
  const char *p[] = {id};
  rc = query_list(db,
                  "SELECT " APPROVAL_COLS " FROM approvals " APPROVAL_FROM
                  " WHERE a.id = $1::uuid",
                  1, p, &list, &n, err);
  if (rc < 0) return rc;
  if (n == 0) return qf_error_set(err, QF_ENOENT, "no approval %s", id);
  *out = list[0]; /* moves the members */
  free(list);
  return QF_OK;
}

/* ------------------------------------------------------------ deciding */

typedef struct decide_ctx {
  const char *id;
  int approve;
  const char *text;
  const qf_policy_t *policy;
  qf_approval_t row; /* the approval after the decision, or as it is */
} decide_ctx_t;

/* The session user's name into user (size n), and whether it may decide
 * approvals at all (member of qf_approver, listed in hitl.approvers). */
static int check_approver(qf_db_t *db, const qf_policy_t *policy, char *user,
                          size_t n, qf_error_t *err) {
  PGresult *res = NULL;
  int rc = qf_db_exec(db,
                      "SELECT session_user::text, pg_has_role(session_user, "
                      "'qf_approver', 'MEMBER')",
                      0, NULL, &res, err);
  if (rc < 0) return rc;
  snprintf(user, n, "%s", PQgetvalue(res, 0, 0));
  int member = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
  PQclear(res);
  if (!member)
    return qf_error_set(err, QF_EPERM,
                        "database role %s is not a member of qf_approver, "
                        "so it may not decide approvals (an administrator "
                        "grants it: GRANT qf_approver TO %s)",
                        user, user);
  if (policy == NULL || policy->hitl.approvers.n == 0) return QF_OK;
  for (size_t i = 0; i < policy->hitl.approvers.n; i++)
    if (strcmp(policy->hitl.approvers.items[i], user) == 0) return QF_OK;
  return qf_error_set(err, QF_EPERM,
                      "database role %s is not in hitl.approvers of the "
                      "policy %s",
                      user, policy->path ? policy->path : "in use");
}

/* Why an approval cannot be decided (it is in a->status, or overdue). */
static int refuse_decided(const qf_approval_t *a, qf_error_t *err) {
  const char *st = a->status ? a->status : "?";
  if (strcmp(st, "pending") == 0 || strcmp(st, "expired") == 0)
    return qf_error_set(err, QF_ECONFLICT, "approval %s expired at %s", a->id,
                        a->expires_at ? a->expires_at : "?");
  return qf_error_set(
      err, QF_ECONFLICT, "approval %s is already %s by %s at %s", a->id, st,
      a->decided_by ? a->decided_by : "?", a->decided_at ? a->decided_at : "?");
}

/* Appends the decision to run_events (actor: the session user). */
static int decide_event(qf_db_t *db, const decide_ctx_t *x, qf_error_t *err) {
  const char *p[] = {x->row.run_id, x->approve ? "approved" : "rejected",
                     x->row.id, x->approve ? "comment" : "reason", x->text};
  return qf_db_exec(db,
                    "INSERT INTO run_events (run_id, event, actor, data) "
                    "VALUES ($1::uuid, $2::text, session_user, "
                    "jsonb_build_object('approval_id', $3::text, $4::text, "
                    "$5::text))",
                    5, p, NULL, err);
}

static const char SQL_APPROVE[] =
    "WITH a AS (UPDATE approvals SET status = 'approved', comment = $2::text "
    "WHERE id = $1::uuid AND status = 'pending' AND expires_at > now() "
    "RETURNING *) SELECT " APPROVAL_COLS " FROM " APPROVAL_FROM;

static const char SQL_REJECT[] =
    "WITH a AS (UPDATE approvals SET status = 'rejected', reason = $2::text "
    "WHERE id = $1::uuid AND status = 'pending' AND expires_at > now() "
    "RETURNING *) SELECT " APPROVAL_COLS " FROM " APPROVAL_FROM;

static int decide_body(qf_db_t *db, void *arg, qf_error_t *err) {
  decide_ctx_t *x = arg;
  char user[128];
  qf_approval_fini(&x->row); /* from an attempt that was retried */
  int rc = check_approver(db, x->policy, user, sizeof user, err);
  if (rc == QF_OK) rc = qf_approvals_get(db, x->id, &x->row, err);
  if (rc < 0) return rc;
  if (strcmp(x->row.status, "pending") != 0)
    return refuse_decided(&x->row, err);
  int prevent_self = x->policy ? x->policy->hitl.prevent_self_approval : 1;
  if (prevent_self && x->row.requested_by != NULL &&
      strcmp(x->row.requested_by, user) == 0)
    return qf_error_set(err, QF_EPERM,
                        "approval %s was requested by %s, who may not decide "
                        "it (hitl.prevent_self_approval)",
                        x->id, user);
  qf_approval_t *won = NULL;
  size_t n = 0;
  const char *p[] = {x->id, x->text};
  rc = query_list(db, x->approve ? SQL_APPROVE : SQL_REJECT, 2, p, &won, &n,
                  err);
  if (rc < 0) return rc;
  if (n == 0) {
    /* Someone decided it since we read it, or it fell due: say which. */
    qf_approval_fini(&x->row);
    rc = qf_approvals_get(db, x->id, &x->row, err);
    return rc < 0 ? rc : refuse_decided(&x->row, err);
  }
  qf_approval_fini(&x->row);
  x->row = won[0];
  free(won);
  return decide_event(db, x, err);
}

int qf_approvals_decide(qf_db_t *db, const char *id, int approve,
                        const char *text, const qf_policy_t *policy,
                        qf_approval_t *out, qf_error_t *err) {
  memset(out, 0, sizeof *out);
  int rc = check_id(id, err);
  if (rc < 0) return rc;
  if (!approve && (text == NULL || text[0] == '\0'))
    return qf_error_set(err, QF_EINVAL, "a rejection needs a reason");
  decide_ctx_t x = {
      .id = id, .approve = approve, .text = text, .policy = policy};
  rc = qf_db_tx(db, decide_body, &x, err);
  if (rc == QF_OK || rc == QF_ECONFLICT)
    *out = x.row;
  else
    qf_approval_fini(&x.row);
  return rc;
}

int qf_approvals_mark_published(qf_db_t *db, const char *id, int *marked,
                                qf_error_t *err) {
  if (marked) *marked = 0;
  int rc = check_id(id, err);
  if (rc < 0) return rc;
  PGresult *res = NULL;
  const char *p[] = {id};
  rc = qf_db_exec(db,
                  "UPDATE approvals SET resume_published_at = now() "
                  "WHERE id = $1::uuid AND status <> 'pending' AND "
                  "resume_published_at IS NULL RETURNING id",
                  1, p, &res, err);
  if (rc < 0) return rc;
  int done = PQntuples(res) == 1;
  PQclear(res);
  if (done) {
    if (marked) *marked = 1;
    return QF_OK;
  }
  qf_approval_t a;
  rc = qf_approvals_get(db, id, &a, err);
  if (rc < 0) return rc;
  if (strcmp(a.status, "pending") == 0)
    rc = qf_error_set(err, QF_ECONFLICT, "approval %s is still pending", id);
  qf_approval_fini(&a);
  return rc;
}

/* --------------------------------------------------------------- sweeps */

int qf_approvals_expire_due(qf_db_t *db, int limit, qf_approval_t **out,
                            size_t *n, qf_error_t *err) {
  *out = NULL;
  *n = 0;
  int rc = check_limit(limit, err);
  if (rc < 0) return rc;
  char lim[16];
  snprintf(lim, sizeof lim, "%d", limit);
  const char *p[] = {lim};
  /* One statement: the data-modifying CTEs run exactly once, so the
   * expiry and its audit rows commit together. The due rows are picked
   * in a MATERIALIZED CTE: as a plain IN (subquery) the planner may
   * rescan the subquery per row and LIMIT would bound nothing. The outer
   * status check keeps the compare-and-set even so. */
  return query_list(
      db,
      "WITH due AS MATERIALIZED (SELECT id FROM approvals WHERE status = "
      "'pending' AND expires_at <= now() ORDER BY expires_at LIMIT $1::int "
      "FOR UPDATE SKIP LOCKED), "
      "a AS (UPDATE approvals SET status = 'expired' WHERE status = "
      "'pending' AND id IN (SELECT id FROM due) RETURNING *), "
      "ev AS (INSERT INTO run_events (run_id, event, actor, data) SELECT "
      "run_id, 'expired', session_user, jsonb_build_object('approval_id', "
      "id, 'expires_at', " TS("expires_at") ") FROM a) "
      "SELECT " APPROVAL_COLS " FROM " APPROVAL_FROM
      " ORDER BY a.expires_at, a.id",
      1, p, out, n, err);
}

int qf_approvals_claim_unpublished(qf_db_t *db, int limit, qf_approval_t **out,
                                   size_t *n, qf_error_t *err) {
  *out = NULL;
  *n = 0;
  int rc = check_limit(limit, err);
  if (rc < 0) return rc;
  if (PQtransactionStatus(qf_db_conn(db)) != PQTRANS_INTRANS)
    return qf_error_set(err, QF_EINVAL,
                        "claim_unpublished needs an open transaction");
  char lim[16];
  snprintf(lim, sizeof lim, "%d", limit);
  const char *p[] = {lim};
  /* Lock only the approvals rows: the approver role may not lock runs. */
  return query_list(db,
                    "SELECT " APPROVAL_COLS " FROM approvals " APPROVAL_FROM
                    " WHERE a.status <> 'pending' AND a.resume_published_at "
                    "IS NULL ORDER BY a.decided_at, a.id LIMIT $1::int "
                    "FOR UPDATE OF a SKIP LOCKED",
                    1, p, out, n, err);
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
  if (bad) {
    cJSON_Delete(o);
    return qf_error_set(err, QF_ENOMEM, "out of memory");
  }
  *out = o;
  return QF_OK;
}
