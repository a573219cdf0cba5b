/* The qf program's command-line contract: version, help, usage errors. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "qf/version.h"
#include "support.h"

static int run(const char *const *argv, qf_test_proc_t *p) {
  qf_test_run(argv, NULL, 30, p);
  return p->status;
}

Test(cli, version_prints_the_version) {
  qf_test_proc_t p;
  cr_expect_eq(run((const char *[]){QF_TEST_BIN, "--version", NULL}, &p), 0);
  cr_expect_str_eq(p.out.data, "qf " QF_VERSION "\n");
  qf_test_proc_fini(&p);
}

Test(cli, unknown_subcommand_exits_64_with_usage) {
  qf_test_proc_t p;
  cr_expect_eq(run((const char *[]){QF_TEST_BIN, "frobnicate", NULL}, &p), 64);
  cr_expect_not_null(strstr(p.err.data, "unknown command 'frobnicate'"));
  cr_expect_not_null(strstr(p.err.data, "usage: qf"));
  cr_expect_str_eq(p.out.data, "");
  qf_test_proc_fini(&p);
}

Test(cli, no_arguments_is_a_usage_error) {
  qf_test_proc_t p;
  cr_expect_eq(run((const char *[]){QF_TEST_BIN, NULL}, &p), 64);
  cr_expect_not_null(strstr(p.err.data, "usage: qf"));
  qf_test_proc_fini(&p);
}

Test(cli, help_lists_commands) {
  qf_test_proc_t p;
  cr_expect_eq(run((const char *[]){QF_TEST_BIN, "help", NULL}, &p), 0);
  cr_expect_not_null(strstr(p.out.data, "migrate"));
  qf_test_proc_fini(&p);
  cr_expect_eq(run((const char *[]){QF_TEST_BIN, "--help", NULL}, &p), 0);
  cr_expect_not_null(strstr(p.out.data, "migrate"));
  qf_test_proc_fini(&p);
  cr_expect_eq(run((const char *[]){QF_TEST_BIN, "help", "nope", NULL}, &p),
               64);
  qf_test_proc_fini(&p);
}

Test(cli, every_subcommand_has_help) {
  static const char *const cmds[] = {"migrate", "gate", "junit", "policy",
                                     "evals"};
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
    qf_test_proc_t p;
    cr_expect_eq(
        run((const char *[]){QF_TEST_BIN, cmds[i], "--help", NULL}, &p), 0,
        "%s --help", cmds[i]);
    cr_expect_not_null(strstr(p.out.data, "usage: qf "), "%s", cmds[i]);
    qf_test_proc_fini(&p);
    cr_expect_eq(run((const char *[]){QF_TEST_BIN, "help", cmds[i], NULL}, &p),
                 0);
    qf_test_proc_fini(&p);
  }
}

Test(cli, migrate_usage_errors) {
  qf_test_proc_t p;
  cr_expect_eq(
      run((const char *[]){QF_TEST_BIN, "migrate", "--bogus", NULL}, &p), 64);
  cr_expect_not_null(strstr(p.err.data, "unknown option --bogus"));
  qf_test_proc_fini(&p);
  const char *const env[] = {"QF_DATABASE_URL=", NULL};
  qf_test_run((const char *[]){QF_TEST_BIN, "migrate", NULL}, env, 30, &p);
  cr_expect_eq(p.status, 64);
  cr_expect_not_null(strstr(p.err.data, "QF_DATABASE_URL"));
  qf_test_proc_fini(&p);
}

Test(cli, bad_log_level_is_a_usage_error) {
  qf_test_proc_t p;
  const char *const env[] = {"QF_LOG_LEVEL=shouty", NULL};
  qf_test_run((const char *[]){QF_TEST_BIN, "migrate", NULL}, env, 30, &p);
  cr_expect_eq(p.status, 64);
  cr_expect_not_null(strstr(p.err.data, "QF_LOG_LEVEL"));
  qf_test_proc_fini(&p);
}

Test(cli, unreachable_database_exits_3_without_leaking_the_password) {
  qf_test_proc_t p;
  const char *const env[] = {
      "QF_DATABASE_URL=postgresql://u:hunter2@127.0.0.1:1/qf", NULL};
  qf_test_run((const char *[]){QF_TEST_BIN, "migrate", NULL}, env, 30, &p);
  cr_expect_eq(p.status, 3, "stderr: %s", p.err.data);
  cr_expect_null(strstr(p.err.data, "hunter2"));
  cr_expect_not_null(strstr(p.err.data, "cannot connect"));
  qf_test_proc_fini(&p);
}

/* qf worker checks its policy once, at start, fail closed: an invalid one
 * exits 65 naming the key before anything connects; a bad prefix is 64. */
Test(cli, worker_refuses_an_invalid_policy_or_prefix_at_start) {
  char path[128];
  snprintf(path, sizeof path, "%s/bad.yaml", qf_test_tmpdir());
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  fputs("version: \"x\"\ncost_governance: {timeout_s: -1}\n", f);
  fclose(f);
  const char *env[] = {"QF_DATABASE_URL=postgresql://x@127.0.0.1:1/x", NULL};
  qf_test_proc_t p;
  qf_test_run((const char *[]){QF_TEST_BIN, "worker", "--policy", path, NULL},
              env, 30, &p);
  cr_expect_eq(p.status, 65, "%s", p.err.data);
  cr_expect(strstr(p.err.data, "timeout_s") != NULL, "%s", p.err.data);
  qf_test_proc_fini(&p);
  qf_test_run((const char *[]){QF_TEST_BIN, "worker", "--prefix", "", NULL},
              env, 30, &p);
  cr_expect_eq(p.status, 64, "%s", p.err.data);
  cr_expect(strstr(p.err.data, "invalid --prefix") != NULL, "%s", p.err.data);
  qf_test_proc_fini(&p);
}
