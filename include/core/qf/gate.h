/* gate.h: the decision. An ordered table of rules (reference section 3.2,
 * plus the budget short-circuit of 1.7 and the dry-run rule of DESIGN.md
 * section 7); the first rule that applies decides:
 *
 *   budget    governance.short_circuited     FAIL   budget_elapsed_exceeded
 *   refused   a tool call the plan refused      FAIL   tool_execution_failed
 *             (decision_source policy_block)
 *   high_risk keyword or pattern in input     NEED_HITL high_risk_keyword:<h>
 *   dry_run   nothing was executed            PASS   dry_run
 *   junit     summary.tests > 0               PASS   junit_all_passed
 *                                             FAIL   junit_has_failures
 *   tools     tool calls present              PASS   all_tools_succeeded
 *                                             FAIL   tool_execution_failed
 *                                             PASS   fallback_no_strict_check
 *   no data   otherwise                       FAIL   no_execution_data
 *
 * Pure: no I/O, no allocation. */
#ifndef QF_GATE_H
#define QF_GATE_H

#include <stddef.h>

#include "qf/evidence.h"
#include "qf/policy.h"

typedef enum qf_decision {
  QF_DECISION_PASS = 0,
  QF_DECISION_FAIL = 1,
  QF_DECISION_NEED_HITL = 2
} qf_decision_t;

#define QF_GATE_REASON_MAX 1024
#define QF_GATE_RULE_MAX 192
#define QF_GATE_RULES_MAX 4

typedef struct qf_gate_result {
  qf_decision_t decision;
  char reason[QF_GATE_REASON_MAX];
  char rules[QF_GATE_RULES_MAX][QF_GATE_RULE_MAX]; /* triggered_rules */
  size_t nrules;
  const char *decided_by; /* "gate" or "budget" (static) */
} qf_gate_result_t;

/* "PASS", "FAIL", "NEED_HITL". */
const char *qf_decision_name(qf_decision_t d);
int qf_decision_parse(const char *s, qf_decision_t *out) QF_MUSTCHECK;

/* The enforce_budget node: when the tool time spent exceeds the policy's
 * cost_governance.timeout_s (strictly), marks ev->governance short-circuited
 * with reason "budget_elapsed_exceeded" and returns 1; else 0. */
int qf_gate_enforce_budget(qf_evidence_t *ev, const qf_policy_t *policy);

/* Decides on ev under policy. */
void qf_gate_eval(const qf_evidence_t *ev, const qf_policy_t *policy,
                  qf_gate_result_t *out);

/* The decision as JSON: {"decision", "reason", "triggered_rules",
 * "decided_by", "policy_version", "policy_hash"} (policy may be NULL: the
 * policy keys are null then). Caller frees with cJSON_Delete. */
int qf_gate_result_to_json(const qf_gate_result_t *r, const qf_policy_t *policy,
                           cJSON **out, qf_error_t *err) QF_MUSTCHECK;

/* Records r as ev's decision (and governance.decision_source). */
int qf_gate_record(qf_evidence_t *ev, const qf_gate_result_t *r,
                   qf_error_t *err) QF_MUSTCHECK;

#endif
