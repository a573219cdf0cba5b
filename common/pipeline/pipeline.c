/* pipeline.c: the driver loop, the run state's lifecycle, and the
 * decision message of a decided run. The nodes are in node_*.c (the table
 * in nodes.c), checkpoints in checkpoint.c. */
#include "qf/pipeline.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qf/decision.h"

void qf_run_state_init(qf_run_state_t *s, const char *run_id,
                       qf_request_t *request) {
  memset(s, 0, sizeof *s);
  if (run_id) {
    strncpy(s->run_id, run_id, sizeof s->run_id - 1);
    s->run_id[sizeof s->run_id - 1] = '\0';
  }
  s->request = request;
}

void qf_run_state_fini(qf_run_state_t *s) {
  if (s == NULL) return;
  qf_request_free(s->request);
  free(s->workspace);
  qf_source_tree_free(s->tree); /* the worktree goes with the run */
  qf_policy_free(s->policy);
  free(s->policy_hash);
  free(s->blocked);
  free(s->blocked_source);
  qf_evidence_free(s->evidence);
  free(s->evidence_path);
  cJSON_free(s->evidence_text);
  qf_fs_owed_drop(&s->evidence_owed);
  memset(s, 0, sizeof *s);
}

int qf_pipeline_run(qf_run_state_t *s, const qf_run_cfg_t *cfg,
                    qf_node_done_fn done, void *done_ctx, qf_error_t *err) {
  /* A resumed run reloads the policy first: it is not checkpointed. */
  int load = qf_pipeline_node_index("load_policy");
  if (s->policy == NULL && s->next > (size_t)load) {
    int rc = qf_pipeline_node("load_policy")->run(s, cfg, err);
    if (rc < 0) return rc;
  }
  const qf_node_t *n;
  while ((n = qf_pipeline_node_at(s->next)) != NULL) {
    int64_t started = qf_clock_read(cfg->clock);
    int rc = n->run(s, cfg, err);
    if (rc < 0) return qf_error_prefix(err, "%s", n->name);
    s->next++;
    long long ms = (long long)(qf_clock_read(cfg->clock) - started);
    if (done && (rc = done(s, n->name, ms, done_ctx, err)) < 0) return rc;
    if (s->parked) return QF_OK; /* waits for a human before execute */
  }
  return QF_OK;
}

int qf_pipeline_approve_parked(qf_run_state_t *s, const char *approver,
                               const char *comment, qf_error_t *err) {
  qf_governance_t *g = &s->evidence->governance;
  char *a = strdup(approver ? approver : "");
  char *c = comment ? strdup(comment) : NULL;
  if (a == NULL || (comment && c == NULL)) {
    free(a);
    free(c);
    return qf_error_set(err, QF_ENOMEM, "out of memory");
  }
  free(g->approver);
  free(g->approval_comment);
  g->approver = a;
  g->approval_comment = c;
  g->approval_verified = 1; /* the worker read it from the database */
  s->parked = s->decided = 0;
  memset(&s->result, 0, sizeof s->result);
  return QF_OK;
}

int qf_pipeline_decision_json(const qf_run_state_t *s,
                              const char *correlation_id,
                              const char *evidence_url, cJSON **out,
                              qf_error_t *err) {
  if (!s->decided || s->evidence == NULL)
    return qf_error_set(err, QF_EINVAL, "run %s is not decided", s->run_id);
  qf_decision_facts_t f = {
      .run_id = s->run_id,
      .summary = &s->evidence->summary,
      .evidence_path = s->evidence_path,
      .correlation_id = correlation_id,
      .policy = s->policy,
      .policy_hash = s->policy_hash,
      .evidence_url = evidence_url,
      .failures = &s->evidence->failures,
      .source = s->evidence->has_source ? &s->evidence->source : NULL};
  return qf_decision_gate_message(&s->result, &f, out, err);
}
