/* The README's quick start, run for real from a clean clone on a second
 * pair of local servers (other ports): it must reach its end with the
 * three expected decisions. And the README's two commands must be exactly
 * what the quick start and .ci/run use. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "support.h"

/* Ports of the clone's own RabbitMQ and PostgreSQL. */
#define PORTS                                      \
  "QF_LOCAL_AMQP_PORT=5681 QF_LOCAL_PG_PORT=5441 " \
  "QF_LOCAL_EPMD_PORT=4381 QF_TOPOLOGY_PREFIX=qs"

static char clone_dir[128];

static void stop_clone(void) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "cd %s && %s bash deploy/local/quickstart.sh stop",
           clone_dir, PORTS);
  qf_test_proc_t p;
  qf_test_run((const char *[]){"bash", "-c", cmd, NULL}, NULL, 120, &p);
  qf_test_proc_fini(&p);
}

TestSuite(quickstart, .fini = stop_clone, .timeout = 1200);

Test(quickstart, reaches_the_end_with_three_decisions) {
  char cmd[1024];
  const char *tmp = qf_test_tmpdir();
  /* The servers run as the postgres and rabbitmq users: they must be able
   * to reach the clone's state directory. */
  cr_assert_eq(chmod(tmp, 0755), 0);
  snprintf(clone_dir, sizeof clone_dir, "%s/qf", tmp);
  snprintf(cmd, sizeof cmd,
           "git clone -q %s %s && cd %s && %s bash deploy/local/quickstart.sh",
           QF_SOURCE_DIR, clone_dir, clone_dir, PORTS);
  qf_test_proc_t p;
  qf_test_run((const char *[]){"bash", "-c", cmd, NULL}, NULL, 1100, &p);
  cr_expect_eq(p.status, 0, "quick start failed:\n%s\n%s", p.out.data,
               p.err.data);
  const char *out = p.out.data;
  cr_expect_not_null(strstr(out, "PASS: all 3 tests passed"), "%s", out);
  cr_expect_not_null(strstr(out, "FAIL: 1 of 3 tests failed"), "%s", out);
  cr_expect_not_null(strstr(out, "PASS: approved by qf_demo_approver"), "%s",
                     out);
  cr_expect_not_null(strstr(out, "decisions: passing=0 failing=1 high-risk=0"),
                     "%s", out);
  cr_expect_not_null(strstr(out, "evidence: "), "%s", out);
  qf_test_proc_fini(&p);
}

Test(quickstart, readme_commands_are_what_quickstart_and_ci_use) {
  char readme[65536], ci[4096];
  qf_test_slurp(QF_SOURCE_DIR "/README.md", readme, sizeof readme);
  qf_test_slurp(QF_SOURCE_DIR "/.ci/run", ci, sizeof ci);
  const char *qs = strstr(readme, "## Quick start");
  cr_assert_not_null(qs);
  const char *block = strstr(qs, "```sh\n");
  cr_assert_not_null(block);
  cr_expect_eq(strncmp(block + 6, "deploy/local/quickstart.sh", 26), 0,
               "first quick-start command: %.80s", block + 6);
  const char *second = strchr(block + 6, '\n') + 1;
  cr_expect_eq(strncmp(second, "tests/run.sh", 12), 0,
               "second quick-start command: %.80s", second);
  cr_expect_not_null(strstr(ci, "exec bash tests/run.sh"), "%s", ci);
}
