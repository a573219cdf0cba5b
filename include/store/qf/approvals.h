/* approvals.h: the human side of NEED_HITL (tables approvals, runs and
 * run_events of migrations/001 and 002; DESIGN.md sections 2 to 5).
 *
 * A parked run has one pending approval. A human decides it with one
 * compare-and-set UPDATE (WHERE status = 'pending' AND expires_at > now())
 * in a transaction that also appends the decision to run_events; the
 * approvals_guard trigger records decided_by = session_user and
 * decided_at = now() and freezes the decision afterwards. Then the caller
 * publishes the resume message (qf/resume_msg.h; this module never talks
 * to the broker) and marks it here: resume_published_at is set, once. A
 * decision whose resume was never published (broker down, crash) is found again
 * by qf_approvals_claim_unpublished; overdue approvals are closed by
 * qf_approvals_expire_due. Both are for the approver process.
 *
 * Every function works for a login role that is only a member of
 * qf_approver (SELECT on runs and approvals, UPDATE of the decision
 * columns, INSERT into run_events). The approver's identity is always the
 * PostgreSQL session user, never a name the caller passes.
 *
 * Timestamps are ISO 8601 UTC text with second precision
 * ("2026-05-01T12:00:00Z"). Errors are the db module's codes plus:
 *   QF_EINVAL    an id that is not a UUID, an unknown status filter, a
 *                rejection without a reason
 *   QF_ENOENT    no approval with that id
 *   QF_EPERM     the session user may not decide (not a member of
 *                qf_approver, not in hitl.approvers, self-approval), or
 *                the database refused a statement (SQLSTATE 42501)
 *   QF_ECONFLICT already decided, or expired
 * err->message is a sentence for a human ("approval <id> is already
 * approved by alice at 2026-...").
 *
 * One qf_db_t per thread; nothing here logs.
 */
#ifndef QF_APPROVALS_H
#define QF_APPROVALS_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "qf/db.h"
#include "qf/err.h"
#include "qf/policy.h"
#include "qf/uuid.h"

/* Most rows one list or sweep returns. */
#define QF_APPROVALS_LIST_MAX 10000

/* An approval and what the human needs to know about its run. Every
 * pointer is owned by the struct (qf_approval_fini); a NULL string is SQL
 * NULL. */
typedef struct qf_approval {
  char id[QF_UUID_STR_LEN + 1];
  char run_id[QF_UUID_STR_LEN + 1];
  char *status;         /* pending|approved|rejected|expired */
  char *stage;          /* after_execute|before_execute */
  char *triggered_rule; /* the gate's rule, e.g. "high_risk_keyword:prod" */
  char *requested_by;   /* who asked for the run */
  char *decided_by;     /* session user, or "expiry"; NULL while pending */
  char *reason;         /* why it was rejected */
  char *comment;        /* the approver's comment */
  char *created_at, *expires_at, *decided_at, *resume_published_at;
  /* From the runs row: */
  char *nl_input;       /* request->>'nl_input' */
  char *tool_name;      /* request->'options'->>'tool_name' */
  char *evidence_path;  /* runs.evidence_path */
  char *correlation_id; /* runs.correlation_id, echoed on the resume */
  cJSON *summary;       /* evidence->'summary', NULL when none */
  cJSON *details;       /* {args, workspace, source, failures, failures_total,
                           approvers, prevent_self_approval}: what an approver
                           weighs (nulls where the run has none) */
} qf_approval_t;

/* Releases the members and zeroes a. NULL allowed; idempotent. */
void qf_approval_fini(qf_approval_t *a);

/* Releases an array of n approvals from a list or sweep (and the array).
 * NULL allowed. */
void qf_approvals_free(qf_approval_t *list, size_t n);

/* The approval as a JSON object with every member above (SQL NULL as
 * null). On success *out is owned by the caller (cJSON_Delete). Returns 0
 * or QF_ENOMEM. */
int qf_approval_to_json(const qf_approval_t *a, cJSON **out,
                        qf_error_t *err) QF_MUSTCHECK;

/* Lists approvals, newest first, at most limit (1..QF_APPROVALS_LIST_MAX).
 * status is "pending", "approved", "rejected", "expired", or NULL/"all"
 * for any; run_id (may be NULL) restricts to one run. On success *out is
 * an array of *n approvals the caller frees with qf_approvals_free (NULL
 * when *n is 0). */
int qf_approvals_list(qf_db_t *db, const char *status, const char *run_id,
                      int limit, qf_approval_t **out, size_t *n,
                      qf_error_t *err) QF_MUSTCHECK;

/* Reads one approval. On success *out is filled (caller calls
 * qf_approval_fini); on failure it is zeroed. QF_ENOENT when none. */
int qf_approvals_get(qf_db_t *db, const char *id, qf_approval_t *out,
                     qf_error_t *err) QF_MUSTCHECK;

/* Decides approval id as the session user: approve nonzero approves (text
 * is the optional comment), zero rejects (text is the reason, required,
 * non-empty). The database decides whether the session user may, by the
 * rules stored on the approval when the worker opened it (migration 003:
 * qf_decide_approval and the approvals_guard trigger), whatever this
 * client believes:
 *   a superuser, a role that is not a member of qf_approver, one not in
 *   the stored hitl.approvers, or the requester when self-approval is
 *   prevented (for rejections too; identities compared case-insensitively)
 *   is refused (QF_EPERM, the database's sentence);
 *   the approval must exist (QF_ENOENT), be pending and not overdue
 *   (QF_ECONFLICT, re-read to say who won or when it expired);
 *   run_events gets "approved" or "rejected" (actor: the session user).
 * On success and on QF_ECONFLICT *out holds the approval as it now is
 * (caller calls qf_approval_fini); otherwise it is zeroed. */
int qf_approvals_decide(qf_db_t *db, const char *id, int approve,
                        const char *text, qf_approval_t *out,
                        qf_error_t *err) QF_MUSTCHECK;

/* Marks the resume of approval id published: UPDATE ... SET
 * resume_published_at = now() WHERE id = $1 AND status <> 'pending' AND
 * resume_published_at IS NULL. *marked (may be NULL) is 1 when this call
 * set it, 0 when it was already set. QF_ENOENT when there is no approval
 * with that id, QF_ECONFLICT when it is still pending. Runs in the caller's
 * transaction when one is open (after qf_approvals_claim_unpublished), else on
 * its own. */
int qf_approvals_mark_published(qf_db_t *db, const char *id, int *marked,
                                qf_error_t *err) QF_MUSTCHECK;

/* The approver's expiry sweep, one transaction: sets status 'expired'
 * (the trigger records decided_by 'expiry') on at most limit pending
 * approvals whose expires_at has passed, oldest deadline first, skipping
 * rows another session holds (FOR UPDATE SKIP LOCKED), and appends
 * "expired" to run_events for each (data {approval_id, expires_at}). On
 * success *out is an array of the *n approvals it expired (caller frees
 * with qf_approvals_free; NULL when *n is 0). Their resumes still have to
 * be published. */
int qf_approvals_expire_due(qf_db_t *db, int limit, qf_approval_t **out,
                            size_t *n, qf_error_t *err) QF_MUSTCHECK;

/* Inside a transaction the CALLER opened (qf_db_begin): locks and returns
 * at most limit decided approvals whose resume was never published,
 * oldest decision first, skipping rows another session holds (SELECT ...
 * FOR UPDATE OF approvals SKIP LOCKED), so two approver processes never
 * publish the same one at once. The caller publishes each resume, calls
 * qf_approvals_mark_published, and commits (the locks last until then).
 * Ownership of *out as for qf_approvals_list. QF_EINVAL when no
 * transaction is open. */
int qf_approvals_claim_unpublished(qf_db_t *db, int limit, qf_approval_t **out,
                                   size_t *n, qf_error_t *err) QF_MUSTCHECK;

/* Pending approvals by age: younger than an hour, up to a day, older
 * (for the approver's qf_approvals_pending gauge). */
int qf_approvals_pending_ages(qf_db_t *db, long counts[3],
                              qf_error_t *err) QF_MUSTCHECK;

#endif
