/* node_enforce_budget.c: the tool time spent against
 * cost_governance.timeout_s. */

#include "nodes.h"

/* enforce_budget: the tool time spent against cost_governance.timeout_s. */
int qf__node_enforce_budget(qf_run_state_t *s, const qf_run_cfg_t *cfg,
                            qf_error_t *err) {
  (void)cfg;
  (void)err;
  qf_evidence_account(s->evidence, s->policy->timeout_s, s->max_retries);
  qf_gate_enforce_budget(s->evidence, s->policy);
  return QF_OK;
}
