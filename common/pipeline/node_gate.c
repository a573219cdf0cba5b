/* node_gate.c: decides, and saves what was decided in the evidence. */

#include "nodes.h"

/* gate: decides, and saves what was decided in the evidence. */
int qf__node_gate(qf_run_state_t *s, const qf_run_cfg_t *cfg, qf_error_t *err) {
  qf_gate_eval(s->evidence, s->policy, &s->result);
  int rc = qf_gate_record(s->evidence, &s->result, err);
  if (rc == QF_OK) rc = qf__write_evidence(s, cfg, err);
  if (rc == QF_OK) s->decided = 1;
  return rc;
}
