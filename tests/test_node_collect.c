/* The collect node alone: artifacts, summary, repro, the evidence file. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "node_support.h"
#include "support.h"

static qf_nt_t T;
static void teardown(void) {
  qf_nt_fini(&T);
}
TestSuite(node_collect, .fini = teardown, .timeout = 30);

static void collect(void) {
  qf_nt_start(&T,
              "{\"nl_input\":\"x\",\"options\":{\"tool_name\":"
              "\"fake_tool\"}}");
  qf_nt_run_until(&T, "collect");
  qf_error_t err;
  cr_assert_eq(qf_nt_node(&T, "collect", &err), 0, "%s", err.message);
}

Test(node_collect, collects_the_tool_output_for_the_evidence) {
  qf_nt_setup(&T, NULL);
  qf_fake.junit = (qf_junit_summary_t){.tests = 2, .passed = 2, .time_s = 1.5};
  collect();
  const qf_evidence_t *ev = T.s.evidence;
  cr_assert_eq(ev->nartifacts, 1, "the fake tool's log");
  char want[128];
  snprintf(want, sizeof want, "%s/tools/fake_tool/fake.log", QF_NT_RUN_ID);
  cr_expect_str_eq(ev->artifacts[0].path, want);
  cr_expect_eq(strlen(ev->artifacts[0].sha256), 64);
  cr_expect_eq(ev->summary.tests, 2);
  cr_expect_eq(ev->summary.passed, 2);
  cr_expect(ev->has_repro);
  cr_expect_not_null(ev->repro.version);
  cr_expect_null(ev->repro.git_sha, "the workspace is not a repository");
  /* Written once, by gate: nothing on disk yet. */
  cr_expect_null(T.s.evidence_path);
  qf_error_t err;
  cr_assert_eq(qf_nt_node(&T, "gate", &err), 0, "%s", err.message);
  cr_assert_not_null(T.s.evidence_path);
  qf_test_assert_evidence_valid(T.s.evidence_path);
}

Test(node_collect, a_resumed_collect_does_not_count_artifacts_twice) {
  qf_nt_setup(&T, NULL);
  collect();
  qf_error_t err;
  cr_assert_eq(qf_nt_node(&T, "collect", &err), 0, "%s", err.message);
  cr_expect_eq(T.s.evidence->nartifacts, 1);
}

/* A dry run under an artifacts root nobody made yet (a fresh deployment):
 * no tool made a folder, and collect makes the run's own. */
Test(node_collect, a_dry_run_under_a_new_artifacts_root_is_collected) {
  qf_nt_setup(&T, NULL);
  char fresh[300];
  snprintf(fresh, sizeof fresh, "%s/not/yet", T.arts);
  T.cfg.artifacts_root = fresh;
  qf_nt_start(&T,
              "{\"nl_input\":\"x\",\"options\":{\"tool_name\":"
              "\"fake_tool\",\"dry_run\":true}}");
  qf_nt_run_until(&T, "collect");
  qf_error_t err;
  cr_assert_eq(qf_nt_node(&T, "collect", &err), 0, "%s", err.message);
  cr_expect_eq(T.s.evidence->nartifacts, 0);
  cr_assert_eq(qf_nt_node(&T, "gate", &err), 0, "%s", err.message);
  cr_expect_eq(strncmp(T.s.evidence_path, fresh, strlen(fresh)), 0, "%s",
               T.s.evidence_path);
}
