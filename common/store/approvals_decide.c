/* approvals_decide.c: deciding an approval, marking its resume published,
 * and the approver's sweeps (see include/store/qf/approvals.h).
 *
 * Deciding and expiring go through the database's own functions
 * (migration 003), which judge the session user against the rules stored
 * on the approval: no client, this one included, can loosen them. Each is
 * a compare-and-set UPDATE guarded by status = 'pending'; under READ
 * COMMITTED a concurrent UPDATE of the same row waits for the first to
 * commit, re-checks its WHERE clause on the new row version and changes
 * nothing; the loser then re-reads the row to say who won.
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
  qf_approval_t row; /* the approval after the decision, or as it is */
} decide_ctx_t;

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

/* qf_decide_approval (migration 003) decides as the session user and
 * refuses whoever the approval's stored rules do not allow; the event is
 * appended there too. */
static const char SQL_DECIDE[] = "SELECT " QF__APPROVAL_COLS
                                 " FROM qf_decide_approval($1::uuid, "
                                 "$2::boolean, $3::text) " QF__APPROVAL_FROM;

/* A login that is not a member of qf_approver may not even read the
 * approval; say so plainly before the database's "permission denied". */
static int check_member(qf_db_t *db, qf_error_t *err) {
  PGresult *res = NULL;
  int rc = qf_db_exec(db,
                      "SELECT session_user::text, pg_has_role(session_user, "
                      "'qf_approver', 'MEMBER')",
                      0, NULL, &res, err);
  if (rc < 0) return rc;
  char user[128];
  snprintf(user, sizeof user, "%s", PQgetvalue(res, 0, 0));
  int member = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
  PQclear(res);
  if (member) return QF_OK;
  return qf_error_set(err, QF_EPERM,
                      "database role %s is not a member of qf_approver, so "
                      "it may not decide approvals (an administrator grants "
                      "it: GRANT qf_approver TO %s)",
                      user, user);
}

static int decide_body(qf_db_t *db, void *arg, qf_error_t *err) {
  decide_ctx_t *x = arg;
  qf_approval_fini(&x->row); /* from an attempt that was retried */
  int rc = check_member(db, err);
  if (rc == QF_OK) rc = qf_approvals_get(db, x->id, &x->row, err);
  if (rc < 0) return rc;
  if (strcmp(x->row.status, "pending") != 0)
    return refuse_decided(&x->row, err);
  qf_approval_t *won = NULL;
  size_t n = 0;
  const char *p[] = {x->id, x->approve ? "true" : "false", x->text};
  rc = qf__approvals_query(db, SQL_DECIDE, 3, p, &won, &n, err);
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
  return QF_OK;
}

int qf_approvals_decide(qf_db_t *db, const char *id, int approve,
                        const char *text, qf_approval_t *out, qf_error_t *err) {
  memset(out, 0, sizeof *out);
  int rc = qf__approvals_check_id(id, err);
  if (rc < 0) return rc;
  if (!approve && (text == NULL || text[0] == '\0'))
    return qf_error_set(err, QF_EINVAL, "a rejection needs a reason");
  decide_ctx_t x = {.id = id, .approve = approve, .text = text};
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
  /* qf_expire_approvals (migration 003) expires as the owner, one
   * statement: the expiry and its audit rows commit together. */
  return qf__approvals_query(
      db,
      "SELECT " QF__APPROVAL_COLS
      " FROM qf_expire_approvals($1::int) " QF__APPROVAL_FROM
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
