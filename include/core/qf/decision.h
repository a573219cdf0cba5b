/* decision.h: every decision a run ends with, and the one module that
 * builds decision messages (DESIGN.md section 3).
 *
 *   the gate's (or the budget's)  qf_decision_gate_message
 *   a refusal (never run)         qf_decision_refusal_message
 *   a run that cannot finish      qf_decision_error_message
 *   a human's, on a parked run    approved -> PASS, decided_by approval
 *                                 rejected -> FAIL, decided_by approval
 *                                 expired  -> FAIL, decided_by expiry
 *                                 (qf_decision_judge, then
 *                                  qf_decision_apply_human and
 *                                  qf_decision_human_message)
 *
 * Pure: no I/O. The worker reads the rows and writes the files.
 */
#ifndef QF_DECISION_H
#define QF_DECISION_H

#include <cjson/cJSON.h>

#include "qf/err.h"
#include "qf/evidence.h"
#include "qf/gate.h"
#include "qf/policy.h"

/* What a decision message says besides the decision itself. Borrowed. */
typedef struct qf_decision_facts {
  const char *run_id;
  const qf_junit_summary_t *summary; /* the evidence's summary */
  const char *evidence_path;         /* may be NULL */
  const char *correlation_id;        /* may be NULL */
  const qf_policy_t *policy; /* the policy it ran under, or NULL for a */
  const char *policy_hash;   /* restored run: only the hash is known */
  const char *evidence_url;  /* may be NULL: no evidence_url member */
  const qf_junit_failures_t *failures; /* may be NULL: none */
  const qf_evidence_source_t *source;  /* may be NULL: the workspace */
} qf_decision_facts_t;

/* The failing test cases as a decision message carries them:
 * [{suite, name, kind, message, file, line}] (nulls where unknown). */
cJSON *qf_decision_failures_json(const qf_junit_failures_t *f);

/* The gate's decision message: {decision, reason, triggered_rules,
 * decided_by, policy_version, policy_hash, run_id, final, approval_id
 * (null; the store sets it for a parked run), summary, failures (the
 * first failing cases), failures_total, source ({repo, ref, commit} of a
 * git source, else null), evidence_path, correlation_id[, evidence_url]}.
 * Caller frees *out with cJSON_Delete. */
int qf_decision_gate_message(const qf_gate_result_t *r,
                             const qf_decision_facts_t *f, cJSON **out,
                             qf_error_t *err) QF_MUSTCHECK;

/* The answer to a request that is never run (it cannot be parsed or
 * validated, or its message_id belongs to a different request): a final
 * FAIL with decided_by "refused", triggered_rules ["request_refused"],
 * the reason, an empty summary, and nulls for what a run would have
 * (approval_id, evidence_path, policy). correlation_id may be NULL. Caller
 * frees *out with cJSON_Delete. */
int qf_decision_refusal_message(const char *run_id, const char *reason,
                                const char *correlation_id, cJSON **out,
                                qf_error_t *err) QF_MUSTCHECK;

/* The answer of a run that cannot finish (its request was given up after
 * failed deliveries, nobody holds it any more): as a refusal, but
 * decided_by "error" and triggered_rules ["run_error"]. An error never
 * lets a change ship. */
int qf_decision_error_message(const char *run_id, const char *reason,
                              const char *correlation_id, cJSON **out,
                              qf_error_t *err) QF_MUSTCHECK;

/* A decided approval, as the store read it. Borrowed. */
typedef struct qf_human_input {
  const char *status;     /* approved, rejected or expired */
  const char *decided_by; /* the approver's role, or "expiry" */
  const char *comment;    /* the approver's comment, or NULL */
  const char *reason;     /* the rejection's reason, or NULL */
  const char *expires_at; /* ISO 8601 */
} qf_human_input_t;

/* The human's decision as the run's final decision. */
typedef struct qf_verdict {
  qf_decision_t decision;
  const char *decided_by; /* "approval" or "expiry" (static) */
  const char *rule;       /* approval:approved|rejected|expired (static) */
  char reason[QF_GATE_REASON_MAX];
} qf_verdict_t;

/* Judges a decided approval. QF_EINVAL for a status that is not final
 * (pending, or unknown): there is nothing to decide yet. */
int qf_decision_judge(const qf_human_input_t *h, qf_verdict_t *v,
                      qf_error_t *err) QF_MUSTCHECK;

/* The final triggered_rules: the parked message's, then v->rule. Caller
 * frees *out with cJSON_Delete. */
int qf_decision_final_rules(const cJSON *parked_message, const qf_verdict_t *v,
                            cJSON **out, qf_error_t *err) QF_MUSTCHECK;

/* Records the human's decision in the parked run's evidence: governance
 * (decision_source, approver unless expired, the comment or reason) and
 * the decision with rules (an array of strings). */
int qf_decision_apply_human(qf_evidence_t *ev, const qf_human_input_t *h,
                            const qf_verdict_t *v, const cJSON *rules,
                            qf_error_t *err) QF_MUSTCHECK;

/* The final decision message: the parked one with decision, reason,
 * triggered_rules, decided_by and evidence_path replaced and final true.
 * Caller frees *out with cJSON_Delete. */
int qf_decision_human_message(const cJSON *parked_message,
                              const qf_verdict_t *v, const cJSON *rules,
                              const char *evidence_path, cJSON **out,
                              qf_error_t *err) QF_MUSTCHECK;

#endif
