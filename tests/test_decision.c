/* The decision module: the gate's message and a human's decision, pure. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "qf/decision.h"
#include "qf/utf8.h"

#define RUN "6d5b1c2a-0f3e-4b7a-9c8d-112233445566"

static const char *str(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static qf_verdict_t judge(const char *status, const char *comment,
                          const char *reason) {
  qf_human_input_t h = {status, "alice", comment, reason,
                        "2026-05-01T12:00:00Z"};
  qf_verdict_t v;
  qf_error_t err;
  cr_assert_eq(qf_decision_judge(&h, &v, &err), 0, "%s", err.message);
  return v;
}

Test(decision, approved_is_pass_by_approval) {
  qf_verdict_t v = judge("approved", "looks fine", NULL);
  cr_expect_eq(v.decision, QF_DECISION_PASS);
  cr_expect_str_eq(v.decided_by, "approval");
  cr_expect_str_eq(v.rule, "approval:approved");
  cr_expect_str_eq(v.reason, "approved by alice: looks fine");
  cr_expect_str_eq(judge("approved", NULL, NULL).reason, "approved by alice");
}

Test(decision, rejected_is_fail_by_approval) {
  qf_verdict_t v = judge("rejected", NULL, "flaky suite");
  cr_expect_eq(v.decision, QF_DECISION_FAIL);
  cr_expect_str_eq(v.decided_by, "approval");
  cr_expect_str_eq(v.rule, "approval:rejected");
  cr_expect_str_eq(v.reason, "rejected by alice: flaky suite");
}

Test(decision, expired_is_fail_by_expiry) {
  qf_verdict_t v = judge("expired", NULL, NULL);
  cr_expect_eq(v.decision, QF_DECISION_FAIL);
  cr_expect_str_eq(v.decided_by, "expiry");
  cr_expect_str_eq(v.rule, "approval:expired");
  cr_expect_str_eq(v.reason,
                   "the approval expired at 2026-05-01T12:00:00Z "
                   "without a decision");
}

Test(decision, a_pending_approval_decides_nothing) {
  qf_human_input_t h = {"pending", NULL, NULL, NULL, NULL};
  qf_verdict_t v;
  qf_error_t err;
  cr_expect_eq(qf_decision_judge(&h, &v, &err), QF_EINVAL);
  cr_expect(strstr(err.message, "pending") != NULL, "%s", err.message);
  h.status = "approvedish";
  cr_expect_eq(qf_decision_judge(&h, &v, &err), QF_EINVAL);
}

static cJSON *parked(void) {
  return cJSON_Parse(
      "{\"triggered_rules\":[\"high_risk_keyword:prod\"],\"decision\":"
      "\"NEED_HITL\",\"reason\":\"high-risk\",\"decided_by\":\"gate\","
      "\"policy_version\":\"1.0\",\"policy_hash\":\"abc\",\"run_id\":\"" RUN
      "\",\"final\":false,\"approval_id\":\"a-1\",\"summary\":{},"
      "\"evidence_path\":\"/old\",\"correlation_id\":\"c-9\"}");
}

Test(decision, the_human_message_is_the_parked_one_made_final) {
  cJSON *p = parked(), *rules = NULL, *m = NULL;
  qf_verdict_t v = judge("rejected", NULL, "no");
  qf_error_t err;
  cr_assert_eq(qf_decision_final_rules(p, &v, &rules, &err), 0);
  cr_assert_eq(cJSON_GetArraySize(rules), 2);
  cr_expect_str_eq(cJSON_GetArrayItem(rules, 0)->valuestring,
                   "high_risk_keyword:prod");
  cr_expect_str_eq(cJSON_GetArrayItem(rules, 1)->valuestring,
                   "approval:rejected");
  cr_assert_eq(qf_decision_human_message(p, &v, rules, "/new", &m, &err), 0);
  cr_expect_str_eq(str(m, "decision"), "FAIL");
  cr_expect_str_eq(str(m, "decided_by"), "approval");
  cr_expect_str_eq(str(m, "reason"), "rejected by alice: no");
  cr_expect_str_eq(str(m, "evidence_path"), "/new");
  cr_expect(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "final")));
  cr_expect_str_eq(str(m, "approval_id"), "a-1", "kept from the parked one");
  cr_expect_str_eq(str(m, "correlation_id"), "c-9");
  cr_expect_str_eq(str(m, "decision"), "FAIL");
  cr_expect_str_eq(str(p, "decision"), "NEED_HITL", "the input is unchanged");
  cJSON_Delete(m);
  cJSON_Delete(rules);
  cJSON_Delete(p);
}

Test(decision, the_evidence_records_who_decided) {
  qf_evidence_t *ev = NULL;
  qf_error_t err;
  cr_assert_eq(qf_evidence_new(RUN, "deploy", NULL, &ev, &err), 0);
  cJSON *rules = cJSON_Parse(
      "[\"high_risk_keyword:deploy\","
      "\"approval:approved\"]");
  qf_human_input_t h = {"approved", "alice", "ok", NULL, NULL};
  qf_verdict_t v = judge("approved", "ok", NULL);
  cr_assert_eq(qf_decision_apply_human(ev, &h, &v, rules, &err), 0);
  cr_expect_str_eq(ev->governance.decision_source, "approval");
  cr_expect_str_eq(ev->governance.approver, "alice");
  cr_expect_str_eq(ev->governance.approval_comment, "ok");
  cr_expect_str_eq(ev->decision.decision, "PASS");
  cr_expect_eq(ev->decision.nrules, 2);
  qf_human_input_t x = {"expired", "expiry", NULL, NULL, "2026-01-01T00:00Z"};
  v = judge("expired", NULL, NULL);
  cr_assert_eq(qf_decision_apply_human(ev, &x, &v, rules, &err), 0);
  cr_expect_null(ev->governance.approver, "nobody approved an expiry");
  cr_expect_str_eq(ev->decision.decided_by, "expiry");
  cJSON_Delete(rules);
  qf_evidence_free(ev);
}

Test(decision, the_gate_message_carries_the_run_facts) {
  qf_gate_result_t r = {.decision = QF_DECISION_NEED_HITL,
                        .reason = "high-risk keyword detected: prod",
                        .nrules = 1,
                        .decided_by = "gate"};
  strcpy(r.rules[0], "high_risk_keyword:prod");
  qf_junit_summary_t sum = {.tests = 3, .passed = 3};
  qf_decision_facts_t f = {.run_id = RUN,
                           .summary = &sum,
                           .evidence_path = "/a/evidence.json",
                           .policy_hash = "restored-hash"};
  cJSON *m = NULL;
  qf_error_t err;
  cr_assert_eq(qf_decision_gate_message(&r, &f, &m, &err), 0);
  cr_expect_str_eq(str(m, "decision"), "NEED_HITL");
  cr_expect(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(m, "final")));
  cr_expect(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(m, "approval_id")));
  cr_expect(
      cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(m, "correlation_id")));
  cr_expect_str_eq(str(m, "policy_hash"), "restored-hash");
  cr_expect_null(cJSON_GetObjectItemCaseSensitive(m, "evidence_url"));
  const cJSON *s = cJSON_GetObjectItemCaseSensitive(m, "summary");
  cr_expect_eq(cJSON_GetObjectItemCaseSensitive(s, "tests")->valueint, 3);
  cJSON_Delete(m);
  f.evidence_url = "https://qf.example/runs/x/evidence.json";
  r.decision = QF_DECISION_PASS;
  cr_assert_eq(qf_decision_gate_message(&r, &f, &m, &err), 0);
  cr_expect_str_eq(str(m, "evidence_url"), f.evidence_url);
  cr_expect(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "final")));
  cJSON_Delete(m);
}

Test(decision, a_refusal_is_final_fail_by_refused_with_the_reason) {
  cJSON *m = NULL;
  qf_error_t err;
  cr_assert_eq(qf_decision_refusal_message(RUN,
                                           "options.tool_name: must be "
                                           "a string",
                                           "corr-1", &m, &err),
               0);
  cr_expect_str_eq(str(m, "decision"), "FAIL");
  cr_expect_str_eq(str(m, "decided_by"), "refused");
  cr_expect_str_eq(str(m, "reason"), "options.tool_name: must be a string");
  cr_expect_str_eq(str(m, "run_id"), RUN);
  cr_expect_str_eq(str(m, "correlation_id"), "corr-1");
  cr_expect(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "final")));
  cr_expect(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(m, "evidence_path")));
  const cJSON *s = cJSON_GetObjectItemCaseSensitive(m, "summary");
  cr_expect_eq(cJSON_GetObjectItemCaseSensitive(s, "tests")->valueint, 0);
  cr_expect_str_eq(
      cJSON_GetArrayItem(cJSON_GetObjectItem(m, "triggered_rules"), 0)
          ->valuestring,
      "request_refused");
  cJSON_Delete(m);
}

Test(decision, a_long_multibyte_comment_round_trips_through_the_evidence) {
  size_t big = 100 * 1024;
  char *comment = malloc(big + 1);
  cr_assert_not_null(comment);
  comment[0] = 'x'; /* then 2-byte characters: every even cut halves one */
  size_t i = 1;
  for (; i + 2 <= big; i += 2)
    memcpy(comment + i, "\xc3\xa9", 2); /* e acute */
  comment[i] = '\0';
  qf_evidence_t *ev = NULL, *back = NULL;
  qf_error_t err;
  cr_assert_eq(qf_evidence_new(RUN, "deploy", NULL, &ev, &err), 0);
  cJSON *rules = cJSON_Parse("[\"approval:approved\"]");
  qf_human_input_t h = {"approved", "alice", comment, NULL, NULL};
  qf_verdict_t v;
  cr_assert_eq(qf_decision_judge(&h, &v, &err), 0);
  cr_expect_eq(qf_utf8_validate(v.reason, strlen(v.reason), NULL), 0);
  cr_assert_eq(qf_decision_apply_human(ev, &h, &v, rules, &err), 0);
  size_t kept = strlen(ev->governance.approval_comment);
  cr_expect_leq(kept, QF_EVIDENCE_COMMENT_MAX);
  cr_expect_eq(qf_utf8_validate(ev->governance.approval_comment, kept, NULL),
               0);
  qf_evidence_stamp(ev);
  cJSON *doc = NULL;
  cr_assert_eq(qf_evidence_to_json(ev, &doc, &err), 0);
  char *text = cJSON_PrintUnformatted(doc);
  cr_assert_eq(qf_evidence_from_json(text, strlen(text), "test", &back, &err),
               0, "qf reads back what it wrote: %s", err.message);
  cr_expect_str_eq(back->governance.approval_comment,
                   ev->governance.approval_comment);
  cJSON_free(text);
  cJSON_Delete(doc);
  cJSON_Delete(rules);
  qf_evidence_free(back);
  qf_evidence_free(ev);
  free(comment);
}
