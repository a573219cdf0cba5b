/* Secrets in errors and logs: every command that connects is given
 * database and broker URLs of the shapes that used to leak their password
 * (a '/' or a bad %-escape in it, an escaped blank in a keyword value),
 * pointing at a closed port so that they fail; nothing they print may
 * hold the password. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "support.h"

TestSuite(security_secrets, .timeout = 120);

#define SECRET "Hunt3r"

static void expect_clean(const char *what, const char *const *argv,
                         const char *db, const char *amqp, int timeout_s) {
  char e_db[512], e_amqp[512];
  snprintf(e_db, sizeof e_db, "QF_DATABASE_URL=%s", db);
  snprintf(e_amqp, sizeof e_amqp, "QF_AMQP_URL=%s", amqp);
  const char *env[] = {e_db, e_amqp, "QF_MAX_BACKOFF_S=1", NULL};
  qf_test_proc_t p;
  qf_test_run(argv, env, timeout_s, &p);
  const char *out = p.out.data ? p.out.data : "";
  const char *err = p.err.data ? p.err.data : "";
  cr_expect_null(strstr(out, SECRET), "qf %s printed the password:\n%s", what,
                 out);
  cr_expect_null(strstr(err, SECRET), "qf %s printed the password:\n%s", what,
                 err);
  cr_expect_neq(p.status, 0, "qf %s cannot have connected", what);
  cr_expect(strlen(err) > 0, "qf %s said nothing", what);
  qf_test_proc_fini(&p);
}

Test(security_secrets, no_command_prints_a_password) {
  int port = qf_test_closed_port();
  char dbs[4][256], amqps[3][256];
  snprintf(dbs[0], sizeof dbs[0],
           "postgresql://qf:pa/" SECRET "@127.0.0.1:%d/qf", port);
  snprintf(dbs[1], sizeof dbs[1],
           "postgresql://qf:" SECRET "%%ZZ@127.0.0.1:%d/qf", port);
  snprintf(dbs[2], sizeof dbs[2],
           "host=127.0.0.1 port=%d user=qf password=a\\ " SECRET " dbname=qf",
           port);
  snprintf(dbs[3], sizeof dbs[3],
           "postgresql://qf@127.0.0.1:%d/qf?password=" SECRET, port);
  snprintf(amqps[0], sizeof amqps[0],
           "amqp://guest:pa/" SECRET "@127.0.0.1:%d/", port);
  snprintf(amqps[1], sizeof amqps[1], "amqp://guest:" SECRET "@127.0.0.1:%d/",
           port);
  snprintf(amqps[2], sizeof amqps[2],
           "amqp://guest:" SECRET "%%ZZ@127.0.0.1:%d/", port);
  const char *migrate[] = {QF_TEST_BIN, "migrate", "--quiet", NULL};
  const char *approvals[] = {QF_TEST_BIN, "approvals", NULL};
  /* qf submit retries an unreachable broker (within --wait, else 60 s):
   * three seconds of its messages are enough. */
  const char *submit[] = {
      "/usr/bin/timeout", "-s",   "TERM",          "3", QF_TEST_BIN,
      "submit",           "--nl", "run the tests", NULL};
  /* The worker retries forever: three seconds of its log are enough. */
  const char *worker[] = {"/usr/bin/timeout", "-s",     "TERM", "3",
                          QF_TEST_BIN,        "worker", NULL};
  const char *approve[] = {QF_TEST_BIN, "approve",
                           "6f1c2f1e-0000-5000-8000-000000000001", NULL};
  const char *approver[] = {"/usr/bin/timeout", "-s",       "TERM", "3",
                            QF_TEST_BIN,        "approver", NULL};
  for (int d = 0; d < 4; d++) {
    expect_clean("migrate", migrate, dbs[d], amqps[1], 30);
    expect_clean("approvals", approvals, dbs[d], amqps[1], 30);
    expect_clean("approve", approve, dbs[d], amqps[1], 30);
    expect_clean("approver", approver, dbs[d], amqps[d % 3], 30);
  }
  for (int a = 0; a < 3; a++) {
    expect_clean("submit", submit, dbs[0], amqps[a], 30);
    expect_clean("worker", worker, dbs[a], amqps[a], 30);
  }
}
