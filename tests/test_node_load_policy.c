/* The load_policy node alone: fail closed, and the policy's identity in
 * the state and the evidence. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "node_support.h"

static qf_nt_t T;
static void teardown(void) {
  qf_nt_fini(&T);
}
TestSuite(node_load_policy, .fini = teardown, .timeout = 30);

Test(node_load_policy, records_version_and_hash) {
  qf_nt_setup(&T, NULL);
  qf_nt_start(&T, "{\"nl_input\":\"run the unit tests\"}");
  qf_nt_run_until(&T, "load_policy");
  qf_error_t err;
  cr_assert_eq(qf_nt_node(&T, "load_policy", &err), 0, "%s", err.message);
  cr_assert_not_null(T.s.policy);
  cr_expect_str_eq(T.s.policy->version, "node-test");
  cr_expect_eq(strlen(T.s.policy_hash), 64, "a sha256 in hex");
  cr_expect_str_eq(T.s.evidence->policy_hash, T.s.policy_hash);
  cr_expect_str_eq(T.s.evidence->policy_version, "node-test");
}

Test(node_load_policy, an_invalid_policy_stops_the_run_naming_the_line) {
  qf_nt_setup(&T, "version: \"x\"\ncost_governance:\n  timeout_s: -5\n");
  qf_nt_start(&T, "{\"nl_input\":\"run the unit tests\"}");
  qf_nt_run_until(&T, "load_policy");
  qf_error_t err;
  int rc = qf_nt_node(&T, "load_policy", &err);
  cr_expect(rc == QF_EVALIDATE || rc == QF_EPARSE, "%s", qf_err_name(rc));
  cr_expect(strstr(err.message, "timeout_s") != NULL, "%s", err.message);
  cr_expect_null(T.s.policy);
}

Test(node_load_policy, a_missing_policy_file_fails_closed) {
  qf_nt_setup(&T, NULL);
  qf_nt_start(&T, "{\"nl_input\":\"run the unit tests\"}");
  qf_nt_run_until(&T, "load_policy");
  T.cfg.policy_path = "/nonexistent/policy.yaml";
  qf_error_t err;
  cr_expect_lt(qf_nt_node(&T, "load_policy", &err), 0);
  cr_expect_null(T.s.policy);
}
