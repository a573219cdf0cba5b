/* decision.c: the decision messages, the gate's and a human's (see
 * decision.h). */
#include "qf/decision.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qf/json.h"
#include "qf/utf8.h"

static int oom(qf_error_t *err) {
  return qf_error_set(err, QF_ENOMEM, "out of memory");
}

static cJSON *summary_json(const qf_junit_summary_t *s) {
  cJSON *o = cJSON_CreateObject();
  int ok = o && cJSON_AddNumberToObject(o, "tests", (double)s->tests) &&
           cJSON_AddNumberToObject(o, "failures", (double)s->failures) &&
           cJSON_AddNumberToObject(o, "errors", (double)s->errors) &&
           cJSON_AddNumberToObject(o, "skipped", (double)s->skipped) &&
           cJSON_AddNumberToObject(o, "passed", (double)s->passed) &&
           cJSON_AddNumberToObject(o, "time", s->time_s);
  if (!ok) cJSON_Delete(o);
  return ok ? o : NULL;
}

static cJSON *str_or_null(const char *s) {
  return qf_json_str_or_null(s);
}

cJSON *qf_decision_failures_json(const qf_junit_failures_t *f) {
  cJSON *a = cJSON_CreateArray();
  for (size_t i = 0; a && f && i < f->n; i++) {
    const qf_junit_failure_t *it = &f->items[i];
    cJSON *o = cJSON_CreateObject();
    int ok = o && qf_json_add(o, "suite", str_or_null(it->suite)) &&
             qf_json_add(o, "name", cJSON_CreateString(it->name)) &&
             qf_json_add(o, "kind", cJSON_CreateString(it->kind)) &&
             qf_json_add(o, "message", str_or_null(it->message)) &&
             qf_json_add(o, "file", str_or_null(it->file)) &&
             qf_json_add(o, "line",
                         it->line > 0 ? cJSON_CreateNumber((double)it->line)
                                      : cJSON_CreateNull());
    if (!ok || !qf_json_append(a, o)) {
      if (!ok) cJSON_Delete(o);
      cJSON_Delete(a);
      return NULL;
    }
  }
  return a;
}

/* What was tested, for the decision: a git source's repo and commit, or
 * null for the worker's own workspace. */
static cJSON *source_json(const qf_evidence_source_t *src) {
  if (!src || !src->kind || strcmp(src->kind, "git") != 0)
    return cJSON_CreateNull();
  cJSON *o = cJSON_CreateObject();
  int ok = o && qf_json_add(o, "repo", str_or_null(src->repo)) &&
           qf_json_add(o, "ref", str_or_null(src->ref)) &&
           qf_json_add(o, "commit", str_or_null(src->commit));
  if (!ok) cJSON_Delete(o);
  return ok ? o : NULL;
}

static int add_tested(cJSON *o, const qf_junit_failures_t *f,
                      const qf_evidence_source_t *src) {
  return qf_json_add(o, "failures", qf_decision_failures_json(f)) &&
         qf_json_add(o, "failures_total",
                     cJSON_CreateNumber(f ? (double)f->total : 0)) &&
         qf_json_add(o, "source", source_json(src));
}

int qf_decision_gate_message(const qf_gate_result_t *r,
                             const qf_decision_facts_t *f, cJSON **out,
                             qf_error_t *err) {
  cJSON *o = NULL;
  int rc = qf_gate_result_to_json(r, f->policy, &o, err);
  if (rc < 0) return rc;
  int ok =
      qf_json_add(o, "run_id", cJSON_CreateString(f->run_id)) &&
      qf_json_add(o, "final",
                  cJSON_CreateBool(r->decision != QF_DECISION_NEED_HITL)) &&
      qf_json_add(o, "approval_id", cJSON_CreateNull()) &&
      qf_json_add(o, "summary", summary_json(f->summary)) &&
      add_tested(o, f->failures, f->source) &&
      qf_json_add(o, "evidence_path", qf_json_str_or_null(f->evidence_path)) &&
      qf_json_add(o, "correlation_id", qf_json_str_or_null(f->correlation_id));
  if (ok && f->policy == NULL) /* a restored run: the hash it ran under */
    ok = cJSON_ReplaceItemInObject(o, "policy_hash",
                                   qf_json_str_or_null(f->policy_hash));
  if (ok && f->evidence_url)
    ok = qf_json_add(o, "evidence_url", cJSON_CreateString(f->evidence_url));
  if (!ok) {
    cJSON_Delete(o);
    return oom(err);
  }
  *out = o;
  return QF_OK;
}

/* A final FAIL that no gate decided: refused or error. */
static int end_message(const char *run_id, const char *decided_by,
                       const char *rule, const char *reason,
                       const char *correlation_id, cJSON **out,
                       qf_error_t *err) {
  cJSON *o = cJSON_CreateObject(), *rules = cJSON_CreateArray();
  int ok = o && rules && qf_json_append(rules, cJSON_CreateString(rule));
  if (!ok) cJSON_Delete(rules);
  ok = ok && qf_json_add(o, "triggered_rules", rules) &&
       qf_json_add(o, "decision", cJSON_CreateString("FAIL")) &&
       qf_json_add(o, "reason", cJSON_CreateString(reason ? reason : "")) &&
       qf_json_add(o, "decided_by", cJSON_CreateString(decided_by)) &&
       qf_json_add(o, "policy_version", cJSON_CreateNull()) &&
       qf_json_add(o, "policy_hash", cJSON_CreateNull()) &&
       qf_json_add(o, "run_id", cJSON_CreateString(run_id)) &&
       qf_json_add(o, "final", cJSON_CreateTrue()) &&
       qf_json_add(o, "approval_id", cJSON_CreateNull()) &&
       qf_json_add(o, "summary", summary_json(&(qf_junit_summary_t){0})) &&
       add_tested(o, NULL, NULL) &&
       qf_json_add(o, "evidence_path", cJSON_CreateNull()) &&
       qf_json_add(o, "correlation_id", qf_json_str_or_null(correlation_id));
  if (!ok) {
    cJSON_Delete(o);
    return oom(err);
  }
  *out = o;
  return QF_OK;
}

int qf_decision_refusal_message(const char *run_id, const char *reason,
                                const char *correlation_id, cJSON **out,
                                qf_error_t *err) {
  return end_message(run_id, "refused", "request_refused", reason,
                     correlation_id, out, err);
}

int qf_decision_error_message(const char *run_id, const char *reason,
                              const char *correlation_id, cJSON **out,
                              qf_error_t *err) {
  return end_message(run_id, "error", "run_error", reason, correlation_id, out,
                     err);
}

/* ------------------------------------------------------ a human decision */

int qf_decision_judge(const qf_human_input_t *h, qf_verdict_t *v,
                      qf_error_t *err) {
  const char *who = h->decided_by ? h->decided_by : "?";
  memset(v, 0, sizeof *v);
  if (h->status && strcmp(h->status, "approved") == 0) {
    v->decision = QF_DECISION_PASS, v->decided_by = "approval";
    v->rule = "approval:approved";
    qf_utf8_snprintf(v->reason, sizeof v->reason, "approved by %s%s%s", who,
                     h->comment ? ": " : "", h->comment ? h->comment : "");
  } else if (h->status && strcmp(h->status, "rejected") == 0) {
    v->decision = QF_DECISION_FAIL, v->decided_by = "approval";
    v->rule = "approval:rejected";
    qf_utf8_snprintf(v->reason, sizeof v->reason, "rejected by %s: %s", who,
                     h->reason ? h->reason : "");
  } else if (h->status && strcmp(h->status, "expired") == 0) {
    v->decision = QF_DECISION_FAIL, v->decided_by = "expiry";
    v->rule = "approval:expired";
    qf_utf8_snprintf(v->reason, sizeof v->reason,
                     "the approval expired at %s without a decision",
                     h->expires_at ? h->expires_at : "?");
  } else {
    return qf_error_set(err, QF_EINVAL, "approval status '%s' is not final",
                        h->status ? h->status : "(none)");
  }
  return QF_OK;
}

int qf_decision_final_rules(const cJSON *parked_message, const qf_verdict_t *v,
                            cJSON **out, qf_error_t *err) {
  const cJSON *old =
      cJSON_GetObjectItemCaseSensitive(parked_message, "triggered_rules");
  cJSON *rules =
      cJSON_IsArray(old) ? cJSON_Duplicate(old, 1) : cJSON_CreateArray();
  if (rules == NULL || !qf_json_append(rules, cJSON_CreateString(v->rule))) {
    cJSON_Delete(rules);
    return oom(err);
  }
  *out = rules;
  return QF_OK;
}

/* Replaces *slot with a copy of s (NULL allowed); 0 on OOM. */
static int set_str(char **slot, const char *s) {
  char *d = s ? strdup(s) : NULL;
  if (s && d == NULL) return 0;
  free(*slot);
  *slot = d;
  return 1;
}

int qf_decision_apply_human(qf_evidence_t *ev, const qf_human_input_t *h,
                            const qf_verdict_t *v, const cJSON *rules,
                            qf_error_t *err) {
  qf_governance_t *g = &ev->governance;
  int expired = strcmp(v->decided_by, "expiry") == 0;
  if (!set_str(&g->decision_source, v->decided_by) ||
      !set_str(&g->approver, expired ? NULL : h->decided_by) ||
      !set_str(&g->approval_comment, h->comment ? h->comment : h->reason))
    return oom(err);
  /* A long comment is kept as far as the evidence reader accepts it. */
  if (g->approval_comment)
    qf_utf8_cut(g->approval_comment, QF_EVIDENCE_COMMENT_MAX);
  const char *names[QF_GATE_RULES_MAX + 1];
  size_t n = 0;
  for (const cJSON *r = rules ? rules->child : NULL;
       r && n < QF_GATE_RULES_MAX + 1; r = r->next)
    if (cJSON_IsString(r)) names[n++] = r->valuestring;
  return qf_evidence_set_decision(ev, qf_decision_name(v->decision), v->reason,
                                  names, n, v->decided_by, err);
}

int qf_decision_human_message(const cJSON *parked_message,
                              const qf_verdict_t *v, const cJSON *rules,
                              const char *evidence_path, cJSON **out,
                              qf_error_t *err) {
  cJSON *m = cJSON_Duplicate(parked_message, 1);
  struct {
    const char *key;
    cJSON *value;
  } set[] = {
      {"decision", cJSON_CreateString(qf_decision_name(v->decision))},
      {"reason", cJSON_CreateString(v->reason)},
      {"triggered_rules", cJSON_Duplicate(rules, 1)},
      {"final", cJSON_CreateTrue()},
      {"decided_by", cJSON_CreateString(v->decided_by)},
      {"evidence_path", qf_json_str_or_null(evidence_path)},
  };
  int ok = m != NULL;
  for (size_t i = 0; i < sizeof set / sizeof set[0]; i++) {
    if (ok && set[i].value &&
        cJSON_ReplaceItemInObject(m, set[i].key, set[i].value))
      continue;
    cJSON_Delete(set[i].value);
    ok = 0;
  }
  if (!ok) {
    cJSON_Delete(m);
    return oom(err);
  }
  *out = m;
  return QF_OK;
}
