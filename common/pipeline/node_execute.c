/* node_execute.c: runs the tool (with retries), or records why it did
 * not run (refused, dry run). */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "qf/fsutil.h"

#include "nodes.h"

/* Runs the tool, again after a timeout or an infrastructure failure while
 * cost_governance.max_retries allows; a failing test is never retried.
 * Each attempt starts from an empty tool directory. */
static int run_attempts(qf_run_state_t *s, const qf_run_cfg_t *cfg,
                        qf_tool_call_t *call, qf_tool_outcome_t *o,
                        qf_error_t *err) {
  char dir[PATH_MAX];
  const qf_tool_t *tool = qf_tools_lookup(cfg->tools, s->request->tool_name);
  int rc = qf__run_dir(s, cfg, 2, dir, sizeof dir, err);
  if (rc < 0) return rc;
  qf_tool_ctx_t ctx = {
      s->policy,          s->run_id,          s->workspace,     dir,
      s->timeout_s,       s->request->args,   cfg->tick,        cfg->tick_ctx,
      cfg->on_tool_start, cfg->cgroup_parent, cfg->tool_waiting};
  long long total_ms = 0;
  for (int attempt = 1;; attempt++) {
    qf_tool_outcome_fini(o); /* an earlier attempt's failures */
    memset(o, 0, sizeof *o);
    rc = qf_fs_mkdirs(dir, err);
    if (rc == QF_OK) rc = qf_fs_empty_dir(dir, err);
    if (rc == QF_OK) rc = tool->run(&ctx, o, err);
    if (rc < 0) return rc;
    /* A tool stopped by its caller (shutdown, Ctrl-C) says nothing about
     * the change under test: the run is abandoned, to be run again. */
    if (o->canceled)
      return qf_error_set(err, QF_ECANCELED, "%s was canceled",
                          s->request->tool_name);
    total_ms += o->duration_ms;
    call->attempts = attempt;
    if (!o->infra_failure || attempt > s->max_retries) break;
    call->retries_used++;
  }
  call->duration_ms = total_ms;
  return QF_OK;
}

static void describe_outcome(qf_run_state_t *s, qf_tool_outcome_t *o,
                             qf_tool_call_t *call, char *msg, size_t n) {
  call->status = o->status;
  call->has_exit_code = o->has_exit_code;
  call->exit_code = o->exit_code;
  call->steps_total = o->steps_total;
  call->steps_passed = o->steps_passed;
  call->steps_failed = o->steps_failed;
  /* What the output cap cut is said in the evidence too. */
  snprintf(msg, n, "%s%s%s", o->error_message,
           o->error_message[0] && o->output_truncated ? "; " : "",
           o->output_truncated ? "output truncated at the log cap" : "");
  call->error_message = msg[0] ? msg : NULL;
  s->has_junit = o->has_junit;
  s->junit = o->junit;
  /* The failing cases move into the evidence, so the checkpoint after
   * execute keeps them for whoever finishes the run. */
  qf_junit_failures_fini(&s->evidence->failures);
  s->evidence->failures = o->failures;
  qf_junit_failures_init(&o->failures);
}

/* execute: a refused or dry-run request records a tool call without
 * running anything; otherwise the tool runs (with retries). */
int qf__node_execute(qf_run_state_t *s, const qf_run_cfg_t *cfg,
                     qf_error_t *err) {
  qf_tool_call_t call = {.tool_name = s->request->tool_name, .attempts = 1};
  char msg[QF_EVIDENCE_ERROR_MAX + 64];
  qf_tool_outcome_t o;
  memset(&o, 0, sizeof o);
  if (s->blocked != NULL) {
    call.status = QF_TOOL_FAILED;
    call.error_message = s->blocked;
    call.decision_source = s->blocked_source;
  } else if (s->request->dry_run) {
    call.status = QF_TOOL_SKIPPED;
    call.error_message = "dry_run";
    call.decision_source = "dry_run";
  } else {
    /* A run resumed at execute (approved before it ran) checks its
     * commit out here, on whichever worker resumed it. */
    int rc = qf__source_prepare(s, cfg, err);
    if (rc == QF_OK) rc = run_attempts(s, cfg, &call, &o, err);
    if (rc == QF_OK) describe_outcome(s, &o, &call, msg, sizeof msg);
    qf_tool_outcome_fini(&o);
    if (rc < 0) return rc;
  }
  return qf_evidence_add_tool_call(s->evidence, &call, err);
}
