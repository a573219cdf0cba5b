/* The normalize node alone: the workspace is resolved inside the root,
 * and the evidence document is started. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node_support.h"

static qf_nt_t T;
static void setup(void) {
  qf_nt_setup(&T, NULL);
}
static void teardown(void) {
  qf_nt_fini(&T);
}
TestSuite(node_normalize, .init = setup, .fini = teardown, .timeout = 30);

Test(node_normalize, resolves_the_workspace_and_starts_the_evidence) {
  char sub[256], real[4096];
  snprintf(sub, sizeof sub, "%s/proj", T.ws);
  cr_assert_eq(mkdir(sub, 0755), 0);
  qf_nt_start(
      &T,
      "{\"nl_input\":\"run the unit tests\",\"workspace\":"
      "\"proj\",\"environment_id\":\"5f0c7a3e-1b2d-4c5e-8f90-0123456789ab\"}");
  qf_error_t err;
  cr_assert_eq(qf_nt_node(&T, "normalize", &err), 0, "%s", err.message);
  cr_assert_not_null(realpath(sub, real));
  cr_expect_str_eq(T.s.workspace, real);
  cr_assert_not_null(T.s.evidence);
  cr_expect_str_eq(T.s.evidence->run_id, QF_NT_RUN_ID);
  cr_expect_str_eq(T.s.evidence->input_nl, "run the unit tests");
  cr_expect_str_eq(T.s.evidence->environment_id,
                   "5f0c7a3e-1b2d-4c5e-8f90-0123456789ab");
  cr_expect_eq(T.s.evidence->ntool_calls, 0);
}

Test(node_normalize, a_missing_workspace_is_invalid_input) {
  qf_nt_start(&T, "{\"nl_input\":\"x\",\"workspace\":\"no-such-dir\"}");
  qf_error_t err;
  cr_expect_eq(qf_nt_node(&T, "normalize", &err), QF_EVALIDATE);
  cr_expect(strstr(err.message, "no-such-dir") != NULL, "%s", err.message);
  cr_expect_null(T.s.evidence, "nothing is started for a bad workspace");
}

Test(node_normalize, a_symlink_out_of_the_root_is_refused) {
  char link[256];
  snprintf(link, sizeof link, "%s/escape", T.ws);
  cr_assert_eq(symlink("/etc", link), 0);
  qf_nt_start(&T, "{\"nl_input\":\"x\",\"workspace\":\"escape\"}");
  qf_error_t err;
  cr_expect_eq(qf_nt_node(&T, "normalize", &err), QF_EVALIDATE);
  cr_expect(strstr(err.message, "workspace") != NULL, "%s", err.message);
}
