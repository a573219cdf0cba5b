/* The plan node alone: the effective timeout and retries, refusals that
 * start nothing, and the park before execute. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "node_support.h"

static qf_nt_t T;
static void teardown(void) {
  qf_nt_fini(&T);
}
TestSuite(node_plan, .fini = teardown, .timeout = 30);

static void plan(const char *policy, const char *body) {
  qf_nt_setup(&T, policy);
  qf_nt_start(&T, body);
  qf_nt_run_until(&T, "plan");
  qf_error_t err;
  cr_assert_eq(qf_nt_node(&T, "plan", &err), 0, "%s", err.message);
}

Test(node_plan, clamps_the_timeout_to_the_budget) {
  plan(NULL,
       "{\"nl_input\":\"x\",\"options\":{\"tool_name\":\"fake_tool\","
       "\"timeout_s\":900}}");
  cr_expect_eq(T.s.timeout_s, 30);
  cr_expect_eq(T.s.max_retries, 2);
  cr_expect_null(T.s.blocked);
  cr_expect_not(T.s.parked);
}

Test(node_plan, a_tool_outside_the_allowlist_is_a_policy_block) {
  plan(NULL,
       "{\"nl_input\":\"x\",\"options\":{\"tool_name\":"
       "\"run_playwright\"}}");
  cr_assert_not_null(T.s.blocked);
  cr_expect(strstr(T.s.blocked, "allowlist") != NULL, "%s", T.s.blocked);
  cr_expect_str_eq(T.s.blocked_source, "policy_block");
}

Test(node_plan, an_unknown_tool_is_a_policy_block_too) {
  plan("version: \"x\"\ntools: {allowlist: [ghost_tool]}\n",
       "{\"nl_input\":\"x\",\"options\":{\"tool_name\":\"ghost_tool\"}}");
  cr_assert_not_null(T.s.blocked);
  cr_expect_str_eq(T.s.blocked, "tool not found: ghost_tool");
  cr_expect_str_eq(T.s.blocked_source, "policy_block");
}

Test(node_plan, the_tool_validates_its_arguments) {
  qf_nt_setup(&T, NULL);
  qf_fake.refuse_arg = "secret";
  qf_nt_start(&T,
              "{\"nl_input\":\"x\",\"options\":{\"tool_name\":"
              "\"fake_tool\",\"args\":{\"secret\":\"1\"}}}");
  qf_nt_run_until(&T, "plan");
  qf_error_t err;
  cr_assert_eq(qf_nt_node(&T, "plan", &err), 0, "%s", err.message);
  cr_assert_not_null(T.s.blocked);
  cr_expect(strstr(T.s.blocked, "refused by the fake tool") != NULL);
  cr_expect_str_eq(T.s.blocked_source, "policy_block");
  cr_expect_eq(qf_fake.calls, 0, "a refused request starts nothing");
}

Test(node_plan, parks_a_high_risk_request_before_execute) {
  plan(
      "version: \"x\"\nhigh_risk_keywords: [deploy]\n"
      "tools: {allowlist: [fake_tool]}\nhitl: {stage: before_execute}\n",
      "{\"nl_input\":\"deploy it\",\"options\":{\"tool_name\":"
      "\"fake_tool\"}}");
  cr_expect(T.s.parked);
  cr_expect(T.s.decided);
  cr_expect_eq(T.s.result.decision, QF_DECISION_NEED_HITL);
  cr_expect_str_eq(T.s.result.rules[0], "high_risk_keyword:deploy");
}

Test(node_plan, after_execute_does_not_park) {
  plan(NULL,
       "{\"nl_input\":\"deploy it\",\"options\":{\"tool_name\":"
       "\"fake_tool\"}}");
  cr_expect_not(T.s.parked);
  cr_expect_not(T.s.decided);
}
