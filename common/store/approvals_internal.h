/* approvals_internal.h: what approvals.c (reading, listing) and
 * approvals_decide.c (deciding, sweeping) share. Not public. */
#ifndef QF_APPROVALS_INTERNAL_H
#define QF_APPROVALS_INTERNAL_H

#include <stddef.h>

#include "qf/approvals.h"

/* ISO 8601 UTC text of a timestamptz column, independent of the session's
 * TimeZone setting. */
#define QF__APPROVALS_TS(col) \
  "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* The columns row_read of approvals.c expects (in the order of its enum),
 * over an approvals row (or a CTE returning approvals.*) aliased a and its
 * run aliased r. */
#define QF__APPROVAL_COLS \
  "a.id, a.run_id, a.status, a.stage, a.triggered_rule, a.requested_by, " \
  "a.decided_by, a.reason, a.comment, " QF__APPROVALS_TS(                 \
      "a.created_at") ", " QF__APPROVALS_TS("a.expires_at") ", "          \
  QF__APPROVALS_TS("a.decided_at") ", " QF__APPROVALS_TS(                 \
      "a.resume_published_at") ", "                                       \
  "r.request->>'nl_input', r.request->'options'->>'tool_name', "          \
  "r.evidence_path, r.correlation_id, r.evidence->'summary', "             \
  "jsonb_build_object('args', r.request->'options'->'args', 'workspace', "  \
  "r.request->'workspace', 'source', coalesce(r.evidence->'source', "       \
  "r.request->'source'), 'failures', r.evidence->'failures', "              \
  "'failures_total', r.evidence->'failures_total', 'approvers', "           \
  "to_jsonb(a.approvers), 'prevent_self_approval', "                        \
  "a.prevent_self_approval)"

#define QF__APPROVAL_FROM "a LEFT JOIN runs r ON r.run_id = a.run_id"

/* Runs a query selecting QF__APPROVAL_COLS and reads all its rows into a
 * new array (*out NULL when *n is 0; free with qf_approvals_free). */
int qf__approvals_query(qf_db_t *db, const char *sql, int nparams,
                        const char *const *params, qf_approval_t **out,
                        size_t *n, qf_error_t *err);
/* QF_EINVAL unless id is a UUID. */
int qf__approvals_check_id(const char *id, qf_error_t *err);
/* QF_EINVAL unless limit is in 1..QF_APPROVALS_LIST_MAX. */
int qf__approvals_check_limit(int limit, qf_error_t *err);

#endif
