/* pipeline_nodes.c: the seven nodes. Each reads and writes only the run
 * state; the driver, checkpoints and messages are in pipeline.c. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "qf/fsutil.h"
#include "qf/pipeline.h"
#include "qf/repro.h"

/* Repro commands (git) are bounded: evidence must not wait on a wedged
 * repository. */
#define REPRO_TIMEOUT_MS 5000

static char *dup_or_oom(const char *s, int *ok) {
  char *d = s ? strdup(s) : NULL;
  if (s && d == NULL) *ok = 0;
  return d;
}

static int oom(qf_error_t *err) {
  return qf_error_set(err, QF_ENOMEM, "out of memory");
}

/* normalize: the request was validated and normalized when it was parsed;
 * here its workspace is resolved inside the workspace root and the
 * evidence document is started. */
static int node_normalize(qf_run_state_t *s, const qf_run_cfg_t *cfg,
                          qf_error_t *err) {
  char root[PATH_MAX], ws[PATH_MAX], joined[PATH_MAX];
  const char *rel = s->request->workspace;
  struct stat st;
  if (realpath(cfg->workspace_root, root) == NULL)
    return qf_error_set(err, QF_EVALIDATE, "workspace root %s: %s",
                        cfg->workspace_root, strerror(errno));
  if (rel != NULL) {
    int rc = qf_tools_check_path("workspace", rel, root, NULL, err);
    if (rc == QF_OK) rc = qf_fs_join(joined, sizeof joined, root, rel, err);
    if (rc < 0) return rc;
  } else {
    snprintf(joined, sizeof joined, "%s", root);
  }
  if (realpath(joined, ws) == NULL || stat(ws, &st) < 0 || !S_ISDIR(st.st_mode))
    return qf_error_set(err, QF_EVALIDATE, "workspace: '%s' is not a directory",
                        rel ? rel : root);
  free(s->workspace);
  if ((s->workspace = strdup(ws)) == NULL) return oom(err);
  qf_evidence_free(s->evidence);
  s->evidence = NULL;
  int rc = qf_evidence_new(s->run_id, s->request->nl_input,
                           s->request->environment_id, &s->evidence, err);
  if (rc == QF_OK) s->evidence->dry_run = s->request->dry_run;
  return rc;
}

/* load_policy: fail closed; an unreadable or invalid policy stops the run. */
static int node_load_policy(qf_run_state_t *s, const qf_run_cfg_t *cfg,
                            qf_error_t *err) {
  qf_policy_free(s->policy);
  s->policy = NULL;
  int rc = qf_policy_load(cfg->policy_path, &s->policy, err);
  if (rc < 0) return rc;
  int ok = 1;
  free(s->policy_hash);
  free(s->evidence->policy_version);
  free(s->evidence->policy_hash);
  s->policy_hash = dup_or_oom(s->policy->hash, &ok);
  s->evidence->policy_version = dup_or_oom(s->policy->version, &ok);
  s->evidence->policy_hash = dup_or_oom(s->policy->hash, &ok);
  return ok ? QF_OK : oom(err);
}

static int block(qf_run_state_t *s, const char *why, const char *source,
                 qf_error_t *err) {
  int ok = 1;
  s->blocked = dup_or_oom(why, &ok);
  s->blocked_source = dup_or_oom(source, &ok);
  return ok ? QF_OK : oom(err);
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
  snprintf(r->reason, sizeof r->reason,
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
static int node_plan(qf_run_state_t *s, const qf_run_cfg_t *cfg,
                     qf_error_t *err) {
  (void)cfg;
  const qf_policy_t *p = s->policy;
  const char *name = s->request->tool_name;
  qf_error_t why;
  s->timeout_s = s->request->timeout_s < p->timeout_s ? s->request->timeout_s
                                                      : p->timeout_s;
  s->max_retries = p->max_retries;
  free(s->blocked);
  free(s->blocked_source);
  s->blocked = s->blocked_source = NULL;
  const qf_tool_t *tool = qf_tools_find(name);
  if (!qf_policy_tool_allowed(p, name)) {
    snprintf(why.message, sizeof why.message,
             "tool '%s' is not in the policy allowlist", name);
    return block(s, why.message, "policy_block", err);
  }
  if (tool == NULL) {
    snprintf(why.message, sizeof why.message, "tool not found: %s", name);
    return block(s, why.message, NULL, err);
  }
  qf_error_clear(&why);
  if (tool->validate(s->request->args, s->workspace, p, &why) < 0)
    return block(s, why.message, "policy_block", err);
  return park_if_needed(s);
}

/* <artifacts root>/<run_id>[/tools[/<tool>]] */
static int run_dir(const qf_run_state_t *s, const qf_run_cfg_t *cfg, int depth,
                   char *out, size_t n, qf_error_t *err) {
  char tmp[PATH_MAX];
  int rc = qf_fs_join(out, n, cfg->artifacts_root, s->run_id, err);
  if (rc == QF_OK && depth > 0) {
    memcpy(tmp, out, sizeof tmp);
    rc = qf_fs_join(out, n, tmp, "tools", err);
  }
  if (rc == QF_OK && depth > 1) {
    memcpy(tmp, out, sizeof tmp);
    rc = qf_fs_join(out, n, tmp, s->request->tool_name, err);
  }
  return rc;
}

/* Runs the tool, again after a timeout or an infrastructure failure while
 * cost_governance.max_retries allows; a failing test is never retried.
 * Each attempt starts from an empty tool directory. */
static int run_attempts(qf_run_state_t *s, const qf_run_cfg_t *cfg,
                        qf_tool_call_t *call, qf_tool_outcome_t *o,
                        qf_error_t *err) {
  char dir[PATH_MAX];
  const qf_tool_t *tool = qf_tools_find(s->request->tool_name);
  int rc = run_dir(s, cfg, 2, dir, sizeof dir, err);
  if (rc < 0) return rc;
  qf_tool_ctx_t ctx = {s->policy, s->run_id,    s->workspace,
                       dir,       s->timeout_s, s->request->args,
                       cfg->tick, cfg->tick_ctx};
  long long total_ms = 0;
  for (int attempt = 1;; attempt++) {
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

static void describe_outcome(qf_run_state_t *s, const qf_tool_outcome_t *o,
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
}

/* execute: a refused or dry-run request records a tool call without
 * running anything; otherwise the tool runs (with retries). */
static int node_execute(qf_run_state_t *s, const qf_run_cfg_t *cfg,
                        qf_error_t *err) {
  qf_tool_call_t call = {.tool_name = s->request->tool_name, .attempts = 1};
  char msg[QF_EVIDENCE_ERROR_MAX + 64];
  qf_tool_outcome_t o;
  if (s->blocked != NULL) {
    call.status = QF_TOOL_FAILED;
    call.error_message = s->blocked;
    call.decision_source = s->blocked_source;
  } else if (s->request->dry_run) {
    call.status = QF_TOOL_SKIPPED;
    call.error_message = "dry_run";
    call.decision_source = "dry_run";
  } else {
    int rc = run_attempts(s, cfg, &call, &o, err);
    if (rc < 0) return rc;
    describe_outcome(s, &o, &call, msg, sizeof msg);
  }
  return qf_evidence_add_tool_call(s->evidence, &call, err);
}

/* enforce_budget: the tool time spent against cost_governance.timeout_s. */
static int node_enforce_budget(qf_run_state_t *s, const qf_run_cfg_t *cfg,
                               qf_error_t *err) {
  (void)cfg;
  (void)err;
  qf_evidence_account(s->evidence, s->policy->timeout_s, s->max_retries);
  qf_gate_enforce_budget(s->evidence, s->policy);
  return QF_OK;
}

static int write_evidence(qf_run_state_t *s, const qf_run_cfg_t *cfg,
                          qf_error_t *err) {
  char dir[PATH_MAX];
  int rc = run_dir(s, cfg, 0, dir, sizeof dir, err);
  free(s->evidence_path);
  s->evidence_path = NULL;
  return rc < 0 ? rc
                : qf_evidence_write(s->evidence, dir, &s->evidence_path, err);
}

/* collect: artifacts, summary, repro; the evidence is written even when
 * the budget short-circuited the run. */
static int node_collect(qf_run_state_t *s, const qf_run_cfg_t *cfg,
                        qf_error_t *err) {
  char dir[PATH_MAX];
  int dropped = 0;
  int rc = run_dir(s, cfg, 1, dir, sizeof dir, err);
  if (rc < 0) return rc;
  qf_evidence_t *ev = s->evidence;
  for (size_t i = 0; i < ev->nartifacts; i++) { /* a resumed collect */
    free(ev->artifacts[i].type);
    free(ev->artifacts[i].path);
    free(ev->artifacts[i].mime);
  }
  ev->nartifacts = 0;
  rc = qf_pipeline_collect_artifacts(ev, cfg->artifacts_root, dir, s->policy,
                                     &dropped, err);
  if (rc < 0) return rc;
  qf_evidence_summarize(ev, s->has_junit ? &s->junit : NULL);
  if (!ev->has_repro &&
      qf_repro_collect(ev, s->workspace, REPRO_TIMEOUT_MS) < 0)
    return oom(err);
  qf_evidence_stamp(ev);
  return write_evidence(s, cfg, err);
}

/* gate: decides, and saves what was decided in the evidence. */
static int node_gate(qf_run_state_t *s, const qf_run_cfg_t *cfg,
                     qf_error_t *err) {
  qf_gate_eval(s->evidence, s->policy, &s->result);
  int rc = qf_gate_record(s->evidence, &s->result, err);
  if (rc == QF_OK) rc = write_evidence(s, cfg, err);
  if (rc == QF_OK) s->decided = 1;
  return rc;
}

const qf_node_t qf_pipeline_nodes[] = {
    {"normalize", node_normalize},
    {"load_policy", node_load_policy},
    {"plan", node_plan},
    {"execute", node_execute},
    {"enforce_budget", node_enforce_budget},
    {"collect", node_collect},
    {"gate", node_gate},
};
const size_t qf_pipeline_nnodes =
    sizeof qf_pipeline_nodes / sizeof qf_pipeline_nodes[0];
