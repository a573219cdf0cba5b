/* The execute node alone, with a fake tool standing in for pytest: what
 * runs, how often (retries), and what is recorded when nothing runs. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "node_support.h"

static qf_nt_t T;
static void teardown(void) {
  qf_nt_fini(&T);
}
TestSuite(node_execute, .fini = teardown, .timeout = 30);

#define FAKE                                                         \
  "{\"nl_input\":\"run the unit tests\",\"options\":{\"tool_name\":" \
  "\"fake_tool\",\"args\":{\"test_path\":\"tests\"}}}"

static int execute(const char *body) {
  qf_nt_start(&T, body);
  qf_nt_run_until(&T, "execute");
  qf_error_t err;
  return qf_nt_node(&T, "execute", &err);
}

static const qf_tool_call_t *only_call(void) {
  cr_assert_eq(T.s.evidence->ntool_calls, 1);
  return &T.s.evidence->tool_calls[0];
}

Test(node_execute, the_fake_tool_runs_once_in_its_own_directory) {
  qf_nt_setup(&T, NULL);
  qf_fake.junit = (qf_junit_summary_t){.tests = 4, .passed = 3, .failures = 1};
  cr_assert_eq(execute(FAKE), 0);
  cr_expect_eq(qf_fake.calls, 1);
  char want[512];
  snprintf(want, sizeof want, "%s/%s/tools/fake_tool", T.arts, QF_NT_RUN_ID);
  char real[4096];
  cr_assert_not_null(realpath(want, real));
  cr_expect(strstr(qf_fake.tool_dir, "/tools/fake_tool") != NULL, "%s",
            qf_fake.tool_dir);
  cr_expect_str_eq(qf_fake.workspace, T.s.workspace);
  cr_expect_eq(qf_fake.timeout_s, 30, "the planned timeout");
  const qf_tool_call_t *c = only_call();
  cr_expect_str_eq(c->tool_name, "fake_tool");
  cr_expect_eq(c->status, QF_TOOL_SUCCESS);
  cr_expect_eq(c->attempts, 1);
  cr_expect(T.s.has_junit);
  cr_expect_eq(T.s.junit.failures, 1);
}

Test(node_execute, infrastructure_failures_are_retried_within_the_policy) {
  qf_nt_setup(&T, NULL);
  qf_fake.infra_failures = 2;
  qf_fake.duration_ms = 100;
  cr_assert_eq(execute(FAKE), 0);
  cr_expect_eq(qf_fake.calls, 3, "two retries (max_retries 2)");
  const qf_tool_call_t *c = only_call();
  cr_expect_eq(c->status, QF_TOOL_SUCCESS);
  cr_expect_eq(c->attempts, 3);
  cr_expect_eq(c->retries_used, 2);
  cr_expect_eq(c->duration_ms, 300, "every attempt's time counts");
}

Test(node_execute, retries_stop_at_max_retries) {
  qf_nt_setup(&T, NULL);
  qf_fake.infra_failures = 10;
  cr_assert_eq(execute(FAKE), 0);
  cr_expect_eq(qf_fake.calls, 3);
  const qf_tool_call_t *c = only_call();
  cr_expect_eq(c->status, QF_TOOL_FAILED);
  cr_expect(strstr(c->error_message, "fake infrastructure failure 3") != NULL,
            "%s", c->error_message);
}

Test(node_execute, a_failing_test_is_never_retried) {
  qf_nt_setup(&T, NULL);
  qf_fake.status = QF_TOOL_FAILED;
  cr_assert_eq(execute(FAKE), 0);
  cr_expect_eq(qf_fake.calls, 1);
  cr_expect_eq(only_call()->status, QF_TOOL_FAILED);
}

Test(node_execute, a_canceled_tool_abandons_the_run) {
  qf_nt_setup(&T, NULL);
  qf_fake.canceled = 1;
  cr_expect_eq(execute(FAKE), QF_ECANCELED);
  cr_expect_eq(T.s.evidence->ntool_calls, 0, "nothing to decide on");
}

Test(node_execute, a_dry_run_records_a_skipped_call_and_runs_nothing) {
  qf_nt_setup(&T, NULL);
  cr_assert_eq(execute("{\"nl_input\":\"x\",\"options\":{\"tool_name\":"
                       "\"fake_tool\",\"dry_run\":true}}"),
               0);
  cr_expect_eq(qf_fake.calls, 0);
  cr_expect_eq(only_call()->status, QF_TOOL_SKIPPED);
  cr_expect_str_eq(only_call()->decision_source, "dry_run");
}

Test(node_execute, a_blocked_request_records_the_block_and_runs_nothing) {
  qf_nt_setup(&T, NULL);
  qf_fake.refuse_arg = "test_path";
  cr_assert_eq(execute(FAKE), 0);
  cr_expect_eq(qf_fake.calls, 0);
  cr_expect_eq(only_call()->status, QF_TOOL_FAILED);
  cr_expect_str_eq(only_call()->decision_source, "policy_block");
}
