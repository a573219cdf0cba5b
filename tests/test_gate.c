/* The gate's ordered rule table (reference 3.2 and its notes, the budget
 * short-circuit of 1.7, the dry-run rule of DESIGN.md 7), table-driven. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "qf/gate.h"
#include "qf/utf8.h"
#include "support.h"

/* A tool call in a case: status, error message, duration and steps. */
typedef struct call {
  const char *tool;
  qf_tool_status_t status;
  const char *error;
  long long duration_ms;
} call_t;

typedef struct gate_case {
  const char *name;
  const char *policy_yaml; /* NULL: policy/default.yaml */
  const char *nl;
  int dry_run;
  long long tests, failures, errors, skipped;
  call_t calls[3];
  qf_decision_t want;
  const char *rule;       /* the one triggered rule */
  const char *reason;     /* substring of the reason */
  const char *decided_by; /* gate or budget */
} gate_case_t;

#define OK_CALL \
  { "run_pytest", QF_TOOL_SUCCESS, NULL, 100 }

static const gate_case_t cases[] = {
    {"all tests pass",
     NULL,
     "run the unit tests",
     0,
     5,
     0,
     0,
     0,
     {OK_CALL},
     QF_DECISION_PASS,
     "junit_all_passed",
     "all 5 tests passed",
     "gate"},
    {"failures and errors both count",
     NULL,
     "run the unit tests",
     0,
     5,
     1,
     1,
     0,
     {OK_CALL},
     QF_DECISION_FAIL,
     "junit_has_failures",
     "2 of 5 tests failed",
     "gate"},
    {"high risk beats all passing",
     NULL,
     "smoke test production login",
     0,
     5,
     0,
     0,
     0,
     {OK_CALL},
     QF_DECISION_NEED_HITL,
     "high_risk_keyword:production",
     "high-risk keyword detected: production",
     "gate"},
    {"high risk beats failing",
     NULL,
     "drop the users table",
     0,
     5,
     3,
     0,
     0,
     {OK_CALL},
     QF_DECISION_NEED_HITL,
     "high_risk_keyword:drop",
     "high-risk",
     "gate"},
    {"pattern when no keyword",
     NULL,
     "then sudo reboot",
     0,
     1,
     0,
     0,
     0,
     {OK_CALL},
     QF_DECISION_NEED_HITL,
     "high_risk_keyword:pattern:\\bsudo\\b",
     "pattern:\\bsudo\\b",
     "gate"},
    {"pre-prod is the word prod",
     NULL,
     "check pre-prod login",
     0,
     1,
     0,
     0,
     0,
     {OK_CALL},
     QF_DECISION_NEED_HITL,
     "high_risk_keyword:prod",
     "prod",
     "gate"},
    {"prod_db is one word",
     NULL,
     "check prod_db login",
     0,
     1,
     0,
     0,
     0,
     {OK_CALL},
     QF_DECISION_PASS,
     "junit_all_passed",
     "all 1 tests",
     "gate"},
    {"skipped never decides",
     NULL,
     "run tests",
     0,
     3,
     0,
     0,
     3,
     {OK_CALL},
     QF_DECISION_PASS,
     "junit_all_passed",
     "all 3 tests passed",
     "gate"},
    {"thresholds are inclusive",
     "junit_pass_rule: {max_failures: 1, max_errors: 1}\n",
     "run tests",
     0,
     4,
     1,
     1,
     0,
     {OK_CALL},
     QF_DECISION_PASS,
     "junit_all_passed",
     "all 4",
     "gate"},
    {"one over the threshold fails",
     "junit_pass_rule: {max_failures: 1, max_errors: 0}\n",
     "run tests",
     0,
     4,
     2,
     0,
     0,
     {OK_CALL},
     QF_DECISION_FAIL,
     "junit_has_failures",
     "2 of 4",
     "gate"},
    {"zero tests, tools succeeded",
     NULL,
     "run tests",
     0,
     0,
     0,
     0,
     0,
     {OK_CALL},
     QF_DECISION_PASS,
     "all_tools_succeeded",
     "all tools succeeded",
     "gate"},
    {"zero tests, no tools",
     NULL,
     "run tests",
     0,
     0,
     0,
     0,
     0,
     {{0}},
     QF_DECISION_FAIL,
     "no_execution_data",
     "no execution data",
     "gate"},
    {"no tests collected",
     NULL,
     "run tests",
     0,
     0,
     0,
     0,
     0,
     {{"run_pytest", QF_TOOL_FAILED,
       "pytest exited with code 5: no tests were collected", 50}},
     QF_DECISION_FAIL,
     "tool_execution_failed",
     "tool execution failed: run_pytest (pytest exited with code 5: no tests "
     "were collected)",
     "gate"},
    {"every failed tool is listed",
     NULL,
     "run tests",
     0,
     0,
     0,
     0,
     0,
     {{"run_pytest", QF_TOOL_TIMEOUT, "timed out after 120s", 10},
      {"run_playwright", QF_TOOL_FAILED, NULL, 10},
      OK_CALL},
     QF_DECISION_FAIL,
     "tool_execution_failed",
     "run_pytest (timed out after 120s); run_playwright",
     "gate"},
    {"policy block is a failed tool",
     NULL,
     "run tests",
     0,
     0,
     0,
     0,
     0,
     {{"run_shell", QF_TOOL_FAILED,
       "tool 'run_shell' is not in the policy allowlist", 0}},
     QF_DECISION_FAIL,
     "tool_execution_failed",
     "run_shell (tool 'run_shell'",
     "gate"},
    {"fallback without strict check",
     "fallback_rule: {require_all_tools_success: false}\n",
     "run tests",
     0,
     0,
     0,
     0,
     0,
     {{"run_pytest", QF_TOOL_FAILED, "boom", 10}},
     QF_DECISION_PASS,
     "fallback_no_strict_check",
     "fallback passed",
     "gate"},
    {"over budget fails even when high risk",
     "cost_governance: {timeout_s: 1}\n"
     "high_risk_keywords: [production]\n",
     "deploy to production",
     0,
     5,
     0,
     0,
     0,
     {{"run_pytest", QF_TOOL_SUCCESS, NULL, 2000}},
     QF_DECISION_FAIL,
     "budget_elapsed_exceeded",
     "2000ms > 1000ms",
     "budget"},
    {"budget is strictly greater",
     "cost_governance: {timeout_s: 1}\n",
     "run tests",
     0,
     5,
     0,
     0,
     0,
     {{"run_pytest", QF_TOOL_SUCCESS, NULL, 1000}},
     QF_DECISION_PASS,
     "junit_all_passed",
     "all 5",
     "gate"},
    {"dry run passes",
     NULL,
     "run the unit tests",
     1,
     0,
     0,
     0,
     0,
     {{"run_pytest", QF_TOOL_SKIPPED, "dry_run", 0}},
     QF_DECISION_PASS,
     "dry_run",
     "dry run",
     "gate"},
    {"dry run of a risky request needs a human",
     NULL,
     "truncate the orders",
     1,
     0,
     0,
     0,
     0,
     {{"run_pytest", QF_TOOL_SKIPPED, "dry_run", 0}},
     QF_DECISION_NEED_HITL,
     "high_risk_keyword:truncate",
     "truncate",
     "gate"},
    {"a skipped call outside a dry run fails",
     NULL,
     "run tests",
     0,
     0,
     0,
     0,
     0,
     {{"run_pytest", QF_TOOL_SKIPPED, NULL, 0}},
     QF_DECISION_FAIL,
     "tool_execution_failed",
     "run_pytest",
     "gate"},
    {"first keyword in the text is reported",
     NULL,
     "remove the release branch",
     0,
     1,
     0,
     0,
     0,
     {OK_CALL},
     QF_DECISION_NEED_HITL,
     "high_risk_keyword:remove",
     "remove",
     "gate"},
};

static qf_policy_t *policy_for(const gate_case_t *c) {
  qf_policy_t *p = NULL;
  qf_error_t err;
  int rc = c->policy_yaml
               ? qf_policy_parse(c->policy_yaml, strlen(c->policy_yaml),
                                 "case.yaml", &p, &err)
               : qf_policy_load(QF_SOURCE_DIR "/policy/default.yaml", &p, &err);
  cr_assert_eq(rc, 0, "%s: policy: %s", c->name, err.message);
  return p;
}

static qf_evidence_t *evidence_for(const gate_case_t *c, const qf_policy_t *p) {
  qf_evidence_t *ev = NULL;
  qf_error_t err;
  cr_assert_eq(qf_evidence_new("0b6f6f0e-4a3c-5d7e-9f10-1234567890ab", c->nl,
                               NULL, &ev, &err),
               0);
  ev->dry_run = c->dry_run;
  for (int i = 0; i < 3 && c->calls[i].tool; i++) {
    qf_tool_call_t call = {.tool_name = (char *)c->calls[i].tool,
                           .status = c->calls[i].status,
                           .error_message = (char *)c->calls[i].error,
                           .duration_ms = c->calls[i].duration_ms};
    cr_assert_eq(qf_evidence_add_tool_call(ev, &call, &err), 0);
  }
  qf_junit_summary_t j = {.tests = c->tests,
                          .failures = c->failures,
                          .errors = c->errors,
                          .skipped = c->skipped};
  qf_evidence_summarize(ev, &j);
  ev->summary = j; /* the case's summary, even when tests == 0 */
  qf_evidence_account(ev, p->timeout_s, p->max_retries);
  return ev;
}

Test(gate, rule_table) {
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const gate_case_t *c = &cases[i];
    qf_policy_t *p = policy_for(c);
    qf_evidence_t *ev = evidence_for(c, p);
    qf_gate_result_t r;
    int tripped = qf_gate_enforce_budget(ev, p);
    cr_expect_eq(tripped, strcmp(c->decided_by, "budget") == 0, "%s", c->name);
    qf_gate_eval(ev, p, &r);
    cr_expect_eq(r.decision, c->want, "%s: got %s (%s)", c->name,
                 qf_decision_name(r.decision), r.reason);
    cr_expect_eq(r.nrules, 1, "%s", c->name);
    cr_expect_str_eq(r.rules[0], c->rule, "%s", c->name);
    cr_expect_not_null(strstr(r.reason, c->reason), "%s: reason '%s'", c->name,
                       r.reason);
    cr_expect_str_eq(r.decided_by, c->decided_by, "%s", c->name);
    qf_evidence_free(ev);
    qf_policy_free(p);
  }
}

Test(gate, long_tool_errors_are_cut_to_100_bytes_on_one_line) {
  gate_case_t c = {"long", NULL, "run tests", 0, 0, 0, 0, 0, {{0}}, 0, 0, 0, 0};
  char msg[300];
  memset(msg, 'x', sizeof msg - 1);
  msg[sizeof msg - 1] = '\0';
  msg[10] = '\n';
  c.calls[0] = (call_t){"run_pytest", QF_TOOL_FAILED, msg, 1};
  qf_policy_t *p = policy_for(&c);
  qf_evidence_t *ev = evidence_for(&c, p);
  qf_gate_result_t r;
  qf_gate_eval(ev, p, &r);
  const char *open = strchr(r.reason, '(');
  cr_assert_not_null(open, "%s", r.reason);
  cr_expect_eq(strchr(open, ')') - open - 1, 100, "%s", r.reason);
  cr_expect_null(strchr(r.reason, '\n'));
  qf_evidence_free(ev);
  qf_policy_free(p);
}

Test(gate, decision_is_recorded_in_the_evidence_and_as_json) {
  gate_case_t c = cases[0];
  qf_policy_t *p = policy_for(&c);
  qf_evidence_t *ev = evidence_for(&c, p);
  qf_gate_result_t r;
  qf_error_t err;
  qf_gate_eval(ev, p, &r);
  cr_assert_eq(qf_gate_record(ev, &r, &err), 0);
  cr_expect_str_eq(ev->decision.decision, "PASS");
  cr_expect_str_eq(ev->decision.triggered_rules[0], "junit_all_passed");
  cr_expect_str_eq(ev->governance.decision_source, "gate_evaluator");
  cJSON *j = NULL;
  cr_assert_eq(qf_gate_result_to_json(&r, p, &j, &err), 0);
  cr_expect_str_eq(cJSON_GetObjectItem(j, "decision")->valuestring, "PASS");
  cr_expect_str_eq(cJSON_GetObjectItem(j, "policy_hash")->valuestring, p->hash);
  cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "triggered_rules")),
               1);
  cJSON_Delete(j);
  qf_evidence_free(ev);
  qf_policy_free(p);
}

Test(gate, decision_names_round_trip) {
  qf_decision_t d;
  for (int i = 0; i < 3; i++) {
    cr_assert_eq(qf_decision_parse(qf_decision_name((qf_decision_t)i), &d), 0);
    cr_expect_eq(d, (qf_decision_t)i);
  }
  cr_expect_eq(qf_decision_parse("pass", &d), QF_EINVAL);
}

/* The refusal wins: a tool call the plan refused (decision_source
 * policy_block) is never PASS, whatever a later rule would say. */
static void expect_refusal_fails(const char *policy_yaml, const char *nl,
                                 int dry_run, const char *why) {
  qf_policy_t *p = NULL;
  qf_evidence_t *ev = NULL;
  qf_error_t err;
  int rc = policy_yaml
               ? qf_policy_parse(policy_yaml, strlen(policy_yaml), "case.yaml",
                                 &p, &err)
               : qf_policy_load(QF_SOURCE_DIR "/policy/default.yaml", &p, &err);
  cr_assert_eq(rc, 0, "%s", err.message);
  cr_assert_eq(qf_evidence_new("0b6f6f0e-4a3c-5d7e-9f10-1234567890ab", nl, NULL,
                               &ev, &err),
               0);
  ev->dry_run = dry_run;
  qf_tool_call_t call = {
      .tool_name = "run_shell",
      .status = QF_TOOL_FAILED,
      .error_message = "tool 'run_shell' is not in the policy allowlist",
      .decision_source = "policy_block",
      .attempts = 1};
  cr_assert_eq(qf_evidence_add_tool_call(ev, &call, &err), 0);
  qf_evidence_account(ev, p->timeout_s, p->max_retries);
  qf_gate_result_t r;
  qf_gate_eval(ev, p, &r);
  cr_expect_eq(r.decision, QF_DECISION_FAIL, "%s: %s", why, r.reason);
  cr_expect_str_eq(r.rules[0], "tool_execution_failed", "%s", why);
  cr_expect(strstr(r.reason, "not in the policy allowlist") != NULL, "%s: %s",
            why, r.reason);
  qf_evidence_free(ev);
  qf_policy_free(p);
}

Test(gate, a_refusal_is_never_pass) {
  expect_refusal_fails(NULL, "run tests", 1, "a dry run");
  expect_refusal_fails(NULL, "deploy to production", 0,
                       "a high-risk input (no approval may pass it)");
  expect_refusal_fails(NULL, "deploy to production", 1, "a high-risk dry run");
  expect_refusal_fails("fallback_rule: {require_all_tools_success: false}\n",
                       "run tests", 0, "the fallback rule");
}

Test(gate, reasons_cut_multibyte_messages_on_character_boundaries) {
  qf_policy_t *p = NULL;
  qf_evidence_t *ev = NULL;
  qf_error_t err;
  cr_assert_eq(qf_policy_load(QF_SOURCE_DIR "/policy/default.yaml", &p, &err),
               0);
  cr_assert_eq(qf_evidence_new("0b6f6f0e-4a3c-5d7e-9f10-1234567890ab",
                               "run tests", NULL, &ev, &err),
               0);
  char msg[400];
  size_t n = 0;
  msg[n++] = 'x'; /* 1 + 3k bytes: the 100-byte cut falls inside a char */
  while (n + 3 < sizeof msg) {
    memcpy(msg + n, "\xe2\x82\xac", 3);
    n += 3;
  }
  msg[n] = '\0';
  qf_tool_call_t call = {.tool_name = "run_pytest",
                         .status = QF_TOOL_FAILED,
                         .error_message = msg,
                         .attempts = 1};
  for (int i = 0; i < 12; i++) /* long enough to fill the whole reason */
    cr_assert_eq(qf_evidence_add_tool_call(ev, &call, &err), 0);
  qf_gate_result_t r;
  qf_gate_eval(ev, p, &r);
  cr_expect_str_eq(r.rules[0], "tool_execution_failed");
  cr_expect_eq(qf_utf8_validate(r.reason, strlen(r.reason), NULL), 0,
               "the reason is valid UTF-8: %s", r.reason);
  qf_evidence_free(ev);
  qf_policy_free(p);
}

/* An approver written in the evidence (a rejection's decider, or a name
 * anyone typed into the file) never satisfies the high-risk rule: only an
 * approval the worker checked in the database does. */
Test(gate, only_a_checked_approval_satisfies_the_high_risk_rule) {
  gate_case_t c = {
      "approved?", NULL, "deploy to production", 0, 3, 0, 0, 0, {OK_CALL}, 0, 0,
      0,           0};
  qf_policy_t *p = policy_for(&c);
  qf_evidence_t *ev = evidence_for(&c, p);
  ev->governance.approver = strdup("mallory");
  qf_gate_result_t r;
  qf_gate_eval(ev, p, &r);
  cr_expect_eq(r.decision, QF_DECISION_NEED_HITL, "%s", r.reason);
  cr_expect_not_null(strstr(r.reason, "cannot be checked"), "%s", r.reason);
  ev->governance.approval_verified = 1;
  qf_gate_eval(ev, p, &r);
  cr_expect_eq(r.decision, QF_DECISION_PASS, "%s", r.reason);
  cr_expect_eq(r.nrules, 2);
  cr_expect_not_null(strstr(r.rules[1], ":approved"), "%s", r.rules[1]);
  qf_evidence_free(ev);
  qf_policy_free(p);
}
