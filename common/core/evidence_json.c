/* evidence_json.c: the evidence document as JSON (the form written to
 * evidence.json and described by schemas/evidence.v1.schema.json). The
 * model itself is in evidence.c; reading a document back is in
 * evidence_parse.c. */
#include "qf/evidence.h"
#include "qf/json.h"

/* cJSON_Add* return NULL on failure, and a failed add leaves the item
 * unowned; these helpers keep the bookkeeping in one place. */
static int add_str(cJSON *o, const char *key, const char *v) {
  cJSON *item = v ? cJSON_CreateString(v) : cJSON_CreateNull();
  if (item == NULL) return 0;
  if (!cJSON_AddItemToObject(o, key, item)) {
    cJSON_Delete(item);
    return 0;
  }
  return 1;
}

static int add_num(cJSON *o, const char *key, double v) {
  return cJSON_AddNumberToObject(o, key, v) != NULL;
}

static int add_bool(cJSON *o, const char *key, int v) {
  return cJSON_AddBoolToObject(o, key, v) != NULL;
}

static cJSON *tool_call_json(const qf_tool_call_t *c) {
  cJSON *o = cJSON_CreateObject();
  int ok = o && add_str(o, "tool_name", c->tool_name) &&
           add_str(o, "status", qf_tool_status_name(c->status)) &&
           add_num(o, "duration_ms", (double)c->duration_ms) &&
           (c->has_exit_code ? add_num(o, "exit_code", c->exit_code)
                             : add_str(o, "exit_code", NULL)) &&
           add_num(o, "steps_total", (double)c->steps_total) &&
           add_num(o, "steps_passed", (double)c->steps_passed) &&
           add_num(o, "steps_failed", (double)c->steps_failed) &&
           add_str(o, "error_message", c->error_message) &&
           add_str(o, "decision_source", c->decision_source) &&
           add_num(o, "attempts", c->attempts) &&
           add_num(o, "retries_used", c->retries_used);
  if (!ok) cJSON_Delete(o);
  return ok ? o : NULL;
}

static cJSON *artifact_json(const qf_artifact_t *a) {
  cJSON *o = cJSON_CreateObject();
  int ok = o && add_str(o, "type", a->type) && add_str(o, "path", a->path) &&
           add_num(o, "size", (double)a->size) && add_str(o, "mime", a->mime) &&
           add_str(o, "sha256", a->sha256[0] ? a->sha256 : NULL);
  if (!ok) cJSON_Delete(o);
  return ok ? o : NULL;
}

static cJSON *summary_json(const qf_junit_summary_t *s) {
  cJSON *o = cJSON_CreateObject();
  int ok = o && add_num(o, "tests", (double)s->tests) &&
           add_num(o, "failures", (double)s->failures) &&
           add_num(o, "errors", (double)s->errors) &&
           add_num(o, "skipped", (double)s->skipped) &&
           add_num(o, "passed", (double)s->passed) &&
           add_num(o, "time", s->time_s);
  if (!ok) cJSON_Delete(o);
  return ok ? o : NULL;
}

/* One failing test case; unknowns are null (line 0 included), so a reader
 * never mistakes "not reported" for a value. */
static cJSON *failure_json(const qf_junit_failure_t *f) {
  cJSON *o = cJSON_CreateObject();
  int ok = o && add_str(o, "suite", f->suite) && add_str(o, "name", f->name) &&
           add_str(o, "kind", f->kind) && add_str(o, "message", f->message) &&
           add_str(o, "file", f->file) &&
           (f->line > 0 ? add_num(o, "line", (double)f->line)
                        : add_str(o, "line", NULL));
  if (!ok) cJSON_Delete(o);
  return ok ? o : NULL;
}

static int add_source(cJSON *o, const qf_evidence_t *ev) {
  if (!ev->has_source) return add_str(o, "source", NULL);
  const qf_evidence_source_t *s = &ev->source;
  cJSON *src = cJSON_CreateObject();
  if (src == NULL || !add_str(src, "kind", s->kind) ||
      !add_str(src, "repo", s->repo) || !add_str(src, "ref", s->ref) ||
      !add_str(src, "commit", s->commit) ||
      !add_str(src, "workspace", s->workspace)) {
    cJSON_Delete(src);
    return 0;
  }
  return qf_json_add(o, "source", src);
}

static cJSON *repro_json(const qf_repro_t *r) {
  cJSON *o = cJSON_CreateObject();
  int ok = o && add_str(o, "git_sha", r->git_sha) &&
           add_str(o, "git_branch", r->git_branch) &&
           (r->git_dirty < 0 ? add_str(o, "git_dirty", NULL)
                             : add_bool(o, "git_dirty", r->git_dirty)) &&
           add_str(o, "version", r->version) &&
           add_str(o, "platform", r->platform);
  if (!ok) cJSON_Delete(o);
  return ok ? o : NULL;
}

static cJSON *governance_json(const qf_governance_t *g) {
  cJSON *o = cJSON_CreateObject(), *budget = cJSON_CreateObject();
  cJSON *limits = cJSON_CreateObject();
  int ok = o && budget && limits &&
           add_num(budget, "elapsed_ms_total", (double)g->elapsed_ms_total) &&
           add_num(budget, "attempts_total", (double)g->attempts_total) &&
           add_num(budget, "retries_used_total", (double)g->retries_used_total);
  if (ok && g->has_policy_limits)
    ok = add_num(limits, "timeout_s", g->timeout_s) &&
         add_num(limits, "max_retries", g->max_retries);
  else if (ok)
    ok = add_str(limits, "timeout_s", NULL) &&
         add_str(limits, "max_retries", NULL);
  ok = ok && qf_json_add(o, "budget", budget);
  budget = NULL;
  ok = ok && qf_json_add(o, "policy_limits", limits);
  limits = NULL;
  ok = ok && add_bool(o, "short_circuited", g->short_circuited) &&
       add_str(o, "short_circuit_reason", g->short_circuit_reason) &&
       add_str(o, "decision_source", g->decision_source) &&
       add_str(o, "approver", g->approver) &&
       add_str(o, "approval_comment", g->approval_comment);
  cJSON_Delete(budget);
  cJSON_Delete(limits);
  if (!ok) cJSON_Delete(o);
  return ok ? o : NULL;
}

static cJSON *decision_json(const qf_evidence_decision_t *d) {
  cJSON *o = cJSON_CreateObject(), *rules = cJSON_CreateArray();
  int ok = o && rules;
  for (size_t i = 0; ok && i < d->nrules; i++) {
    cJSON *r = cJSON_CreateString(d->triggered_rules[i]);
    ok = r && cJSON_AddItemToArray(rules, r);
    if (!ok) cJSON_Delete(r);
  }
  ok = ok && add_str(o, "decision", d->decision) &&
       add_str(o, "reason", d->reason) &&
       qf_json_add(o, "triggered_rules", rules);
  rules = NULL;
  ok = ok && add_str(o, "decided_by", d->decided_by);
  cJSON_Delete(rules);
  if (!ok) cJSON_Delete(o);
  return ok ? o : NULL;
}

/* Appends one item per element, built by fn. */
static int add_array(cJSON *o, const char *key, const void *base, size_t n,
                     size_t elem, cJSON *(*fn)(const void *)) {
  cJSON *arr = cJSON_CreateArray();
  int ok = arr != NULL;
  for (size_t i = 0; ok && i < n; i++) {
    cJSON *item = fn((const char *)base + i * elem);
    ok = item && cJSON_AddItemToArray(arr, item);
    if (!ok) cJSON_Delete(item);
  }
  if (!ok) {
    cJSON_Delete(arr);
    return 0;
  }
  return qf_json_add(o, key, arr);
}

static cJSON *tool_call_any(const void *p) {
  return tool_call_json(p);
}

static cJSON *artifact_any(const void *p) {
  return artifact_json(p);
}

static cJSON *failure_any(const void *p) {
  return failure_json(p);
}

static int add_policy(cJSON *o, const qf_evidence_t *ev) {
  if (ev->policy_hash == NULL) return add_str(o, "policy", NULL);
  cJSON *p = cJSON_CreateObject();
  if (p == NULL || !add_str(p, "version", ev->policy_version) ||
      !add_str(p, "hash", ev->policy_hash)) {
    cJSON_Delete(p);
    return 0;
  }
  return qf_json_add(o, "policy", p);
}

static cJSON *environment_json(const qf_evidence_t *ev) {
  cJSON *o = cJSON_CreateObject();
  if (o == NULL || !add_str(o, "environment_id", ev->environment_id)) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

int qf_evidence_to_json(const qf_evidence_t *ev, cJSON **out, qf_error_t *err) {
  cJSON *o = cJSON_CreateObject();
  int ok = o && add_str(o, "run_id", ev->run_id) &&
           add_str(o, "input_nl", ev->input_nl) &&
           qf_json_add(o, "environment", environment_json(ev)) &&
           add_bool(o, "dry_run", ev->dry_run) &&
           add_array(o, "tool_calls", ev->tool_calls, ev->ntool_calls,
                     sizeof *ev->tool_calls, tool_call_any) &&
           add_array(o, "artifacts", ev->artifacts, ev->nartifacts,
                     sizeof *ev->artifacts, artifact_any) &&
           qf_json_add(o, "summary", summary_json(&ev->summary)) &&
           add_array(o, "failures", ev->failures.items, ev->failures.n,
                     sizeof *ev->failures.items, failure_any) &&
           add_num(o, "failures_total", (double)ev->failures.total) &&
           add_source(o, ev) &&
           (ev->has_repro ? qf_json_add(o, "repro", repro_json(&ev->repro))
                          : add_str(o, "repro", NULL)) &&
           qf_json_add(o, "governance", governance_json(&ev->governance)) &&
           add_policy(o, ev) &&
           (ev->has_decision
                ? qf_json_add(o, "decision", decision_json(&ev->decision))
                : add_str(o, "decision", NULL)) &&
           add_str(o, "ai_review", NULL) &&
           add_str(o, "collected_at", ev->collected_at) &&
           add_str(o, "$schema", QF_EVIDENCE_SCHEMA_ID);
  if (!ok) {
    cJSON_Delete(o);
    return qf_error_set(err, QF_ENOMEM, "out of memory building evidence");
  }
  *out = o;
  return QF_OK;
}
