#include "qf/gate.h"
#include "qf/utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const decision_names[] = {"PASS", "FAIL", "NEED_HITL"};

const char *qf_decision_name(qf_decision_t d) {
  return (unsigned)d < 3 ? decision_names[d] : "FAIL";
}

int qf_decision_parse(const char *s, qf_decision_t *out) {
  for (int i = 0; s != NULL && i < 3; i++) {
    if (strcmp(s, decision_names[i]) == 0) {
      *out = (qf_decision_t)i;
      return QF_OK;
    }
  }
  return QF_EINVAL;
}

static int decide(qf_gate_result_t *r, qf_decision_t d, const char *rule,
                  const char *fmt, ...) QF_PRINTF(4, 5);

static int decide(qf_gate_result_t *r, qf_decision_t d, const char *rule,
                  const char *fmt, ...) {
  va_list ap;
  r->decision = d;
  r->nrules = 1;
  snprintf(r->rules[0], sizeof r->rules[0], "%s", rule);
  va_start(ap, fmt);
  vsnprintf(r->reason, sizeof r->reason, fmt, ap);
  qf_utf8_trim_tail(r->reason);
  va_end(ap);
  return 1;
}

static long long budget_limit_ms(const qf_policy_t *p) {
  return (long long)(p ? p->timeout_s : 300) * 1000;
}

int qf_gate_enforce_budget(qf_evidence_t *ev, const qf_policy_t *policy) {
  qf_governance_t *g = &ev->governance;
  if (g->elapsed_ms_total <= budget_limit_ms(policy)) return 0;
  char *reason = strdup("budget_elapsed_exceeded");
  if (reason == NULL) return 1; /* still short-circuited: fail closed */
  free(g->short_circuit_reason);
  g->short_circuit_reason = reason;
  g->short_circuited = 1;
  return 1;
}

/* Each rule returns 1 when it decided. */
typedef int (*rule_fn)(const qf_evidence_t *, const qf_policy_t *,
                       qf_gate_result_t *);

static int rule_budget(const qf_evidence_t *ev, const qf_policy_t *p,
                       qf_gate_result_t *r) {
  if (!ev->governance.short_circuited) return 0;
  long long limit = ev->governance.has_policy_limits
                        ? (long long)ev->governance.timeout_s * 1000
                        : budget_limit_ms(p);
  r->decided_by = "budget";
  return decide(r, QF_DECISION_FAIL, "budget_elapsed_exceeded",
                "over budget: %lldms > %lldms "
                "(policy.cost_governance.timeout_s=%llds)",
                ev->governance.elapsed_ms_total, limit, limit / 1000);
}

static void failed_tools_reason(const qf_evidence_t *ev, char *out, size_t n);

static int rule_high_risk(const qf_evidence_t *ev, const qf_policy_t *p,
                          qf_gate_result_t *r) {
  char hit[QF_GATE_RULE_MAX - 32];
  if (p == NULL || ev->input_nl == NULL ||
      !qf_policy_high_risk(p, ev->input_nl, hit, sizeof hit))
    return 0;
  /* Approved by a human before the tool ran (hitl.stage before_execute),
   * as the database said: the rule is satisfied; the other rules decide,
   * and qf_gate_eval records the approval among the triggered rules. An
   * approver that is only written in the evidence (qf gate --evidence on
   * a file anyone may edit, or a rejection's decider) counts for
   * nothing. */
  if (ev->governance.approver != NULL && ev->governance.approval_verified)
    return 0;
  decide(r, QF_DECISION_NEED_HITL, "", "high-risk keyword detected: %s%s", hit,
         ev->governance.approver != NULL
             ? " (the approval the evidence names cannot be checked here: "
               "only one the database decided counts)"
             : "");
  snprintf(r->rules[0], sizeof r->rules[0], "high_risk_keyword:%s", hit);
  return 1;
}

/* The plan refused the request (a tool outside the allowlist or unknown,
 * an argument the tool does not accept): nothing ran, and no later rule
 * may turn that into PASS, neither a dry run, the fallback rule, nor an
 * approval of a high-risk input. */
static int rule_refused(const qf_evidence_t *ev, const qf_policy_t *p,
                        qf_gate_result_t *r) {
  (void)p;
  for (size_t i = 0; i < ev->ntool_calls; i++) {
    const char *src = ev->tool_calls[i].decision_source;
    if (src && strcmp(src, "policy_block") == 0) {
      decide(r, QF_DECISION_FAIL, "tool_execution_failed", "%s", "");
      failed_tools_reason(ev, r->reason, sizeof r->reason);
      return 1;
    }
  }
  return 0;
}

static int rule_dry_run(const qf_evidence_t *ev, const qf_policy_t *p,
                        qf_gate_result_t *r) {
  (void)p;
  if (!ev->dry_run) return 0;
  return decide(r, QF_DECISION_PASS, "dry_run",
                "dry run: nothing was executed; the request is valid and "
                "not high-risk");
}

static int rule_junit(const qf_evidence_t *ev, const qf_policy_t *p,
                      qf_gate_result_t *r) {
  const qf_junit_summary_t *s = &ev->summary;
  if (s->tests <= 0) return 0;
  long long max_f = p ? p->max_failures : 0, max_e = p ? p->max_errors : 0;
  if (s->errors <= max_e && s->failures <= max_f)
    return decide(r, QF_DECISION_PASS, "junit_all_passed",
                  "all %lld tests passed", s->tests);
  return decide(r, QF_DECISION_FAIL, "junit_has_failures",
                "%lld of %lld tests failed", s->failures + s->errors, s->tests);
}

/* "tool execution failed: a (msg); b" with each message cut to 100 bytes
 * (on a character boundary) and newlines flattened, as the reference
 * reports them. */
static void failed_tools_reason(const qf_evidence_t *ev, char *out, size_t n) {
  size_t len = (size_t)snprintf(out, n, "tool execution failed: ");
  int first = 1;
  for (size_t i = 0; i < ev->ntool_calls && len < n; i++) {
    const qf_tool_call_t *c = &ev->tool_calls[i];
    if (c->status == QF_TOOL_SUCCESS) continue;
    char msg[104] = "";
    if (c->error_message) {
      snprintf(msg, sizeof msg, "%.*s",
               (int)qf_utf8_cut_len(c->error_message, 100), c->error_message);
      for (char *q = msg; *q; q++)
        if (*q == '\n' || *q == '\r') *q = ' ';
    }
    int w = snprintf(out + len, n - len, "%s%s%s%s%s", first ? "" : "; ",
                     c->tool_name, msg[0] ? " (" : "", msg, msg[0] ? ")" : "");
    len += w > 0 ? (size_t)w : 0;
    first = 0;
    if (len >= n) qf_utf8_trim_tail(out);
  }
}

static int rule_tools(const qf_evidence_t *ev, const qf_policy_t *p,
                      qf_gate_result_t *r) {
  if (ev->ntool_calls == 0) return 0;
  if (p != NULL && !p->require_all_tools_success)
    return decide(r, QF_DECISION_PASS, "fallback_no_strict_check",
                  "fallback passed (no strict tool check)");
  for (size_t i = 0; i < ev->ntool_calls; i++) {
    if (ev->tool_calls[i].status != QF_TOOL_SUCCESS) {
      decide(r, QF_DECISION_FAIL, "tool_execution_failed", "%s", "");
      failed_tools_reason(ev, r->reason, sizeof r->reason);
      return 1;
    }
  }
  return decide(r, QF_DECISION_PASS, "all_tools_succeeded",
                "all tools succeeded");
}

static int rule_no_data(const qf_evidence_t *ev, const qf_policy_t *p,
                        qf_gate_result_t *r) {
  (void)ev;
  (void)p;
  return decide(r, QF_DECISION_FAIL, "no_execution_data",
                "no execution data available");
}

static const rule_fn rule_table[] = {rule_budget,  rule_refused, rule_high_risk,
                                     rule_dry_run, rule_junit,   rule_tools,
                                     rule_no_data};

static void note_approval(const qf_evidence_t *ev, const qf_policy_t *p,
                          qf_gate_result_t *r) {
  char hit[QF_GATE_RULE_MAX - 48];
  if (ev->governance.approver == NULL || !ev->governance.approval_verified ||
      p == NULL || ev->input_nl == NULL || r->nrules >= QF_GATE_RULES_MAX ||
      !qf_policy_high_risk(p, ev->input_nl, hit, sizeof hit))
    return;
  snprintf(r->rules[r->nrules++], QF_GATE_RULE_MAX,
           "high_risk_keyword:%s:approved", hit);
}

void qf_gate_eval(const qf_evidence_t *ev, const qf_policy_t *policy,
                  qf_gate_result_t *out) {
  memset(out, 0, sizeof *out);
  out->decided_by = "gate";
  for (size_t i = 0; i < sizeof rule_table / sizeof rule_table[0]; i++) {
    if (rule_table[i](ev, policy, out)) {
      note_approval(ev, policy, out);
      return;
    }
  }
}

int qf_gate_result_to_json(const qf_gate_result_t *r, const qf_policy_t *p,
                           cJSON **out, qf_error_t *err) {
  cJSON *o = cJSON_CreateObject();
  cJSON *rules = cJSON_AddArrayToObject(o, "triggered_rules");
  int ok =
      o && rules &&
      cJSON_AddStringToObject(o, "decision", qf_decision_name(r->decision)) &&
      cJSON_AddStringToObject(o, "reason", r->reason) &&
      cJSON_AddStringToObject(o, "decided_by", r->decided_by);
  for (size_t i = 0; ok && i < r->nrules; i++) {
    cJSON *s = cJSON_CreateString(r->rules[i]);
    ok = s && cJSON_AddItemToArray(rules, s);
    if (!ok) cJSON_Delete(s);
  }
  if (ok && p)
    ok = cJSON_AddStringToObject(o, "policy_version", p->version) &&
         cJSON_AddStringToObject(o, "policy_hash", p->hash);
  else if (ok)
    ok = cJSON_AddNullToObject(o, "policy_version") &&
         cJSON_AddNullToObject(o, "policy_hash");
  if (!ok) {
    cJSON_Delete(o);
    return qf_error_set(err, QF_ENOMEM, "out of memory");
  }
  *out = o;
  return QF_OK;
}

int qf_gate_record(qf_evidence_t *ev, const qf_gate_result_t *r,
                   qf_error_t *err) {
  const char *rules[QF_GATE_RULES_MAX];
  for (size_t i = 0; i < r->nrules; i++)
    rules[i] = r->rules[i];
  char *source =
      strdup(strcmp(r->decided_by, "budget") == 0 ? "governance_short_circuit"
                                                  : "gate_evaluator");
  if (source == NULL) return qf_error_set(err, QF_ENOMEM, "out of memory");
  free(ev->governance.decision_source);
  ev->governance.decision_source = source;
  return qf_evidence_set_decision(ev, qf_decision_name(r->decision), r->reason,
                                  rules, r->nrules, r->decided_by, err);
}
