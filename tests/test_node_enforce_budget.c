/* The enforce_budget node alone: tool time against the budget. */
#include <criterion/criterion.h>
#include <string.h>

#include "node_support.h"

static qf_nt_t T;
static void teardown(void) {
  qf_nt_fini(&T);
}
TestSuite(node_enforce_budget, .fini = teardown, .timeout = 30);

static void budget(long long tool_ms) {
  qf_nt_setup(&T, NULL);
  qf_fake.duration_ms = tool_ms;
  qf_nt_start(&T,
              "{\"nl_input\":\"x\",\"options\":{\"tool_name\":"
              "\"fake_tool\"}}");
  qf_nt_run_until(&T, "enforce_budget");
  qf_error_t err;
  cr_assert_eq(qf_nt_node(&T, "enforce_budget", &err), 0, "%s", err.message);
}

Test(node_enforce_budget, over_the_budget_short_circuits) {
  budget(30001);
  const qf_governance_t *g = &T.s.evidence->governance;
  cr_expect(g->short_circuited);
  cr_expect_str_eq(g->short_circuit_reason, "budget_elapsed_exceeded");
  cr_expect_eq(g->elapsed_ms_total, 30001);
  cr_expect_eq(g->timeout_s, 30);
}

Test(node_enforce_budget, exactly_the_budget_is_within_it) {
  budget(30000);
  cr_expect_not(T.s.evidence->governance.short_circuited);
  cr_expect_eq(T.s.evidence->governance.attempts_total, 1);
}
