/* node_plan.c: the effective timeout and retries, whether the tool may
 * run, and the park before execute (hitl.stage before_execute). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodes.h"
#include "qf/utf8.h"

static int block(qf_run_state_t *s, const char *why, const char *source,
                 qf_error_t *err) {
  int ok = 1;
  s->blocked = qf__dup_or_oom(why, &ok);
  s->blocked_source = qf__dup_or_oom(source, &ok);
  return ok ? QF_OK : qf__oom(err);
}

/* hitl.stage before_execute: a high-risk request that no human approved
 * yet stops here, before anything runs, as NEED_HITL. */
static int park_if_needed(qf_run_state_t *s) {
  char hit[QF_GATE_RULE_MAX - 32];
  if (s->policy->hitl.stage != QF_HITL_BEFORE_EXECUTE ||
      s->evidence->governance.approver != NULL ||
      !qf_policy_high_risk(s->policy, s->request->nl_input, hit, sizeof hit))
    return QF_OK;
  qf_gate_result_t *r = &s->result;
  memset(r, 0, sizeof *r);
  r->decision = QF_DECISION_NEED_HITL;
  r->decided_by = "gate";
  r->nrules = 1;
  snprintf(r->rules[0], sizeof r->rules[0], "high_risk_keyword:%s", hit);
  qf_utf8_snprintf(
      r->reason, sizeof r->reason,
      "high-risk keyword detected: %s (approval required before the "
      "tool runs)",
      hit);
  s->parked = s->decided = 1;
  return QF_OK;
}

/* plan: the effective timeout and retries, and whether the tool may run
 * at all. The allowlist is checked before the tool is looked up (as the
 * reference does), and arguments are validated here, so a refused request
 * never starts a process. */
int qf__node_plan(qf_run_state_t *s, const qf_run_cfg_t *cfg, qf_error_t *err) {
  const qf_policy_t *p = s->policy;
  const char *name = s->request->tool_name;
  qf_error_t why;
  s->timeout_s = s->request->timeout_s < p->timeout_s ? s->request->timeout_s
                                                      : p->timeout_s;
  s->max_retries = p->max_retries;
  free(s->blocked);
  free(s->blocked_source);
  s->blocked = s->blocked_source = NULL;
  const qf_tool_t *tool = qf_tools_lookup(cfg->tools, name);
  if (!qf_policy_tool_allowed(p, name)) {
    snprintf(why.message, sizeof why.message,
             "tool '%s' is not in the policy allowlist", name);
    return block(s, why.message, "policy_block", err);
  }
  if (tool == NULL) {
    /* Unknown to this worker: refused like a tool outside the allowlist. */
    snprintf(why.message, sizeof why.message, "tool not found: %s", name);
    return block(s, why.message, "policy_block", err);
  }
  /* Only a request that may run fetches anything. */
  int rc = qf__source_prepare(s, cfg, err);
  if (rc < 0) return rc;
  qf_error_clear(&why);
  if (tool->validate(s->request->args, s->workspace, p, &why) < 0)
    return block(s, why.message, "policy_block", err);
  return park_if_needed(s);
}
