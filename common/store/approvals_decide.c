/* approvals_decide.c: deciding an approval, marking its resume published,
 * and the approver's sweeps (see include/store/qf/approvals.h).
 *
 * Every state change is a compare-and-set UPDATE guarded by the status the
 * caller expects. Under READ COMMITTED a concurrent UPDATE of the same row
 * waits for the first to commit, re-checks its WHERE clause on the new row
 * version and changes nothing; the loser then re-reads the row to say who
 * won. The approvals_guard trigger is the second line: it writes
 * decided_by/decided_at itself and refuses any later change of a decision.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qf/approvals.h"
#include "approvals_internal.h"

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
    "RETURNING *) SELECT " QF__APPROVAL_COLS " FROM " QF__APPROVAL_FROM;

static const char SQL_REJECT[] =
    "WITH a AS (UPDATE approvals SET status = 'rejected', reason = $2::text "
    "WHERE id = $1::uuid AND status = 'pending' AND expires_at > now() "
    "RETURNING *) SELECT " QF__APPROVAL_COLS " FROM " QF__APPROVAL_FROM;

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
  rc = qf__approvals_query(db, x->approve ? SQL_APPROVE : SQL_REJECT, 2, p,
                           &won, &n, err);
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
  int rc = qf__approvals_check_id(id, err);
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
  int rc = qf__approvals_check_id(id, err);
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
  int rc = qf__approvals_check_limit(limit, err);
  if (rc < 0) return rc;
  char lim[16];
  snprintf(lim, sizeof lim, "%d", limit);
  const char *p[] = {lim};
  /* One statement: the data-modifying CTEs run exactly once, so the
   * expiry and its audit rows commit together. The due rows are picked
   * in a MATERIALIZED CTE: as a plain IN (subquery) the planner may
   * rescan the subquery per row and LIMIT would bound nothing. The outer
   * status check keeps the compare-and-set even so. */
  return qf__approvals_query(
      db,
      "WITH due AS MATERIALIZED (SELECT id FROM approvals WHERE status = "
      "'pending' AND expires_at <= now() ORDER BY expires_at LIMIT $1::int "
      "FOR UPDATE SKIP LOCKED), "
      "a AS (UPDATE approvals SET status = 'expired' WHERE status = "
      "'pending' AND id IN (SELECT id FROM due) RETURNING *), "
      "ev AS (INSERT INTO run_events (run_id, event, actor, data) SELECT "
      "run_id, 'expired', session_user, jsonb_build_object('approval_id', "
      "id, 'expires_at', " QF__APPROVALS_TS("expires_at") ") FROM a) "
      "SELECT " QF__APPROVAL_COLS " FROM " QF__APPROVAL_FROM
      " ORDER BY a.expires_at, a.id",
      1, p, out, n, err);
}

int qf_approvals_claim_unpublished(qf_db_t *db, int limit, qf_approval_t **out,
                                   size_t *n, qf_error_t *err) {
  *out = NULL;
  *n = 0;
  int rc = qf__approvals_check_limit(limit, err);
  if (rc < 0) return rc;
  if (PQtransactionStatus(qf_db_conn(db)) != PQTRANS_INTRANS)
    return qf_error_set(err, QF_EINVAL,
                        "claim_unpublished needs an open transaction");
  char lim[16];
  snprintf(lim, sizeof lim, "%d", limit);
  const char *p[] = {lim};
  /* Lock only the approvals rows: the approver role may not lock runs. */
  return qf__approvals_query(
      db,
      "SELECT " QF__APPROVAL_COLS " FROM approvals " QF__APPROVAL_FROM
      " WHERE a.status <> 'pending' AND a.resume_published_at "
      "IS NULL ORDER BY a.decided_at, a.id LIMIT $1::int "
      "FOR UPDATE OF a SKIP LOCKED",
      1, p, out, n, err);
}
