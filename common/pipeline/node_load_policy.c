/* node_load_policy.c: loads the policy, fail closed. */
#include <stdlib.h>

#include "nodes.h"

/* load_policy: the policy in force (the worker's source keeps the last
 * good version of its file); without a source the file is loaded, fail
 * closed: an unreadable or invalid policy stops the run. */
int qf__node_load_policy(qf_run_state_t *s, const qf_run_cfg_t *cfg,
                         qf_error_t *err) {
  qf_policy_free(s->policy);
  s->policy = NULL;
  int rc = cfg->policies ? qf_policy_source_get(cfg->policies, &s->policy, err)
                         : qf_policy_load(cfg->policy_path, &s->policy, err);
  if (rc < 0) return rc;
  int ok = 1;
  free(s->policy_hash);
  free(s->evidence->policy_version);
  free(s->evidence->policy_hash);
  s->policy_hash = qf__dup_or_oom(s->policy->hash, &ok);
  s->evidence->policy_version = qf__dup_or_oom(s->policy->version, &ok);
  s->evidence->policy_hash = qf__dup_or_oom(s->policy->hash, &ok);
  return ok ? QF_OK : qf__oom(err);
}
