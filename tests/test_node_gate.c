/* The gate node alone (decides and records), and the driver over every
 * node with the fake tool and a fake clock. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "node_support.h"
#include "support.h"

static qf_nt_t T;
static void teardown(void) {
  qf_nt_fini(&T);
}
TestSuite(node_gate, .fini = teardown, .timeout = 30);

static void gate(const char *nl) {
  char body[256];
  snprintf(body, sizeof body,
           "{\"nl_input\":\"%s\",\"options\":{\"tool_name\":\"fake_tool\"}}",
           nl);
  qf_nt_start(&T, body);
  qf_nt_run_until(&T, "gate");
  qf_error_t err;
  cr_assert_eq(qf_nt_node(&T, "gate", &err), 0, "%s", err.message);
  cr_assert(T.s.decided);
}

Test(node_gate, failing_tests_fail_and_the_evidence_says_so) {
  qf_nt_setup(&T, NULL);
  qf_fake.junit = (qf_junit_summary_t){.tests = 3, .passed = 2, .failures = 1};
  gate("run the unit tests");
  cr_expect_eq(T.s.result.decision, QF_DECISION_FAIL);
  cr_expect_str_eq(T.s.result.rules[0], "junit_has_failures");
  cr_expect_str_eq(T.s.evidence->decision.decision, "FAIL");
  cr_expect_str_eq(T.s.evidence->governance.decision_source, "gate_evaluator");
  char buf[65536];
  qf_test_slurp(T.s.evidence_path, buf, sizeof buf);
  cr_expect(strstr(buf, "junit_has_failures") != NULL, "written to the file");
}

Test(node_gate, passing_tests_pass) {
  qf_nt_setup(&T, NULL);
  qf_fake.junit = (qf_junit_summary_t){.tests = 3, .passed = 3};
  gate("run the unit tests");
  cr_expect_eq(T.s.result.decision, QF_DECISION_PASS, "%s", T.s.result.reason);
  cr_expect_str_eq(T.s.result.rules[0], "junit_all_passed");
}

Test(node_gate, a_high_risk_request_needs_a_human_after_execute) {
  qf_nt_setup(&T, NULL);
  qf_fake.junit = (qf_junit_summary_t){.tests = 1, .passed = 1};
  gate("deploy it");
  cr_expect_eq(T.s.result.decision, QF_DECISION_NEED_HITL);
  cr_expect_str_eq(T.s.result.rules[0], "high_risk_keyword:deploy");
}

typedef struct seen {
  int n;
  char names[8][32];
  long long ms[8];
} seen_t;

static int on_node(const qf_run_state_t *s, const char *node, long long ms,
                   void *ctx, qf_error_t *err) {
  (void)s;
  (void)err;
  seen_t *x = ctx;
  snprintf(x->names[x->n], sizeof x->names[0], "%s", node);
  x->ms[x->n++] = ms;
  return 0;
}

Test(node_gate, the_driver_runs_every_node_in_order_timed_by_the_clock) {
  qf_nt_setup(&T, NULL);
  qf_nt_start(&T,
              "{\"nl_input\":\"run the unit tests\",\"options\":{"
              "\"tool_name\":\"fake_tool\"}}");
  seen_t x = {0};
  qf_error_t err;
  cr_assert_eq(qf_pipeline_run(&T.s, &T.cfg, on_node, &x, &err), 0, "%s",
               err.message);
  cr_assert_eq(x.n, (int)qf_pipeline_nnodes());
  for (int i = 0; i < x.n; i++) {
    cr_expect_str_eq(x.names[i], qf_pipeline_node_at((size_t)i)->name);
    cr_expect_eq(x.ms[i], 7, "the fake clock advances 7 ms per read");
  }
  cr_expect_eq(qf_fake.calls, 1);
  cr_expect_eq(T.s.result.decision, QF_DECISION_PASS, "%s", T.s.result.reason);
  cr_expect_null(qf_pipeline_node("no_such_node"));
  cr_expect_eq(qf_pipeline_node_index("gate"), (int)qf_pipeline_nnodes() - 1);
}
