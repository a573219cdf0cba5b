/* qf runs and qf runs show against a real worker's runs: the table, the
 * JSON, the filters, one run with its events and stored evidence, and the
 * exit codes for what is not there or not valid. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "support.h"
#include "worker_support.h"

static qf_wt_t T;
static void setup(void) {
  qf_wt_init(&T);
}
static void teardown(void) {
  qf_wt_fini(&T);
}
TestSuite(cmd_runs, .init = setup, .fini = teardown, .timeout = 120);

static char env_db[600];

static int runs(const char *const *args, qf_test_proc_t *p) {
  const char *argv[16] = {QF_TEST_BIN, "runs"};
  size_t n = 2;
  for (size_t i = 0; args[i] && n < 15; i++)
    argv[n++] = args[i];
  argv[n] = NULL;
  snprintf(env_db, sizeof env_db, "QF_DATABASE_URL=%s", T.worker_db_url);
  const char *env[] = {env_db, NULL};
  qf_test_run(argv, env, 60, p);
  return p->status;
}

/* Two decided runs: a dry run and a real one. */
static void two_runs(char ids[2][QF_UUID_STR_LEN + 1]) {
  qf_wt_start_worker(&T, 0, NULL);
  qf_wt_wait_log(&T, 0, 1, 60, "\"event\":\"worker.ready\"", NULL);
  const char *dry = qf_wt_request("a dry run", "tests/passing", 1, 60);
  const char *real =
      qf_wt_request("run the login tests", "tests/passing", 0, 60);
  qf_wt_publish(&T, dry, strlen(dry), "runs-dry", NULL, NULL);
  qf_wt_publish(&T, real, strlen(real), "runs-real", NULL, NULL);
  cJSON *d[2];
  cr_assert_eq(qf_wt_decisions(&T, d, 2, 90), 2, "%s", qf_wt_log_tail(&T, 0));
  cJSON_Delete(d[0]);
  cJSON_Delete(d[1]);
  qf_wt_run_id("runs-dry", ids[0]);
  qf_wt_run_id("runs-real", ids[1]);
}

Test(cmd_runs, lists_and_shows_runs_as_stored) {
  char ids[2][QF_UUID_STR_LEN + 1];
  two_runs(ids);
  qf_test_proc_t p;
  cr_assert_eq(runs((const char *[]){NULL}, &p), 0, "%s", p.err.data);
  cr_expect_not_null(strstr(p.out.data, "RUN_ID"), "%s", p.out.data);
  cr_expect_not_null(strstr(p.out.data, ids[0]));
  cr_expect_not_null(strstr(p.out.data, ids[1]));
  cr_expect_not_null(strstr(p.out.data, "decided"));
  qf_test_proc_fini(&p);

  cr_assert_eq(runs((const char *[]){"--json", "--since", "1h", NULL}, &p), 0);
  cJSON *list = cJSON_Parse(p.out.data);
  cr_assert(cJSON_IsArray(list), "%s", p.out.data);
  cr_expect_eq(cJSON_GetArraySize(list), 2);
  cJSON_Delete(list);
  qf_test_proc_fini(&p);

  cr_assert_eq(
      runs((const char *[]){"--json", "--since", "2099-01-01T00:00:00Z", NULL},
           &p),
      0);
  list = cJSON_Parse(p.out.data);
  cr_expect_eq(cJSON_GetArraySize(list), 0, "nothing changed after 2099");
  cJSON_Delete(list);
  qf_test_proc_fini(&p);

  cr_assert_eq(runs((const char *[]){"--status", "running", NULL}, &p), 0);
  cr_expect_not_null(strstr(p.out.data, "no runs"), "%s", p.out.data);
  qf_test_proc_fini(&p);

  cr_assert_eq(
      runs((const char *[]){"show", ids[1], "--evidence", "--json", NULL}, &p),
      0, "%s", p.err.data);
  cJSON *r = cJSON_Parse(p.out.data);
  cr_assert_not_null(r, "%s", p.out.data);
  cr_expect_str_eq(cJSON_GetObjectItem(r, "status")->valuestring, "decided");
  cr_expect(cJSON_IsObject(cJSON_GetObjectItem(r, "evidence")),
            "the evidence from PostgreSQL");
  const cJSON *ev = cJSON_GetObjectItem(r, "events");
  cr_expect_eq(cJSON_GetArraySize(ev), 3, "claimed, node.execute, decided");
  cJSON_Delete(r);
  qf_test_proc_fini(&p);

  cr_assert_eq(runs((const char *[]){"show", ids[0], NULL}, &p), 0);
  cr_expect_not_null(strstr(p.out.data, "events:"), "%s", p.out.data);
  cr_expect_not_null(strstr(p.out.data, "claimed"));
  cr_expect_null(strstr(p.out.data, "evidence:"), "only with --evidence");
  qf_test_proc_fini(&p);
}

Test(cmd_runs, says_what_is_missing_or_wrong) {
  qf_test_proc_t p;
  cr_expect_eq(
      runs((const char *[]){"show", "6f1c2f1e-0000-5000-8000-0000000000ff",
                            NULL},
           &p),
      1, "%s", p.err.data);
  cr_expect_not_null(strstr(p.err.data, "no such run"), "%s", p.err.data);
  qf_test_proc_fini(&p);
  cr_expect_eq(runs((const char *[]){"show", "not-a-uuid", NULL}, &p), 64);
  qf_test_proc_fini(&p);
  cr_expect_eq(runs((const char *[]){"--status", "bogus", NULL}, &p), 64);
  cr_expect_not_null(strstr(p.err.data, "--status"), "%s", p.err.data);
  qf_test_proc_fini(&p);
  cr_expect_eq(runs((const char *[]){"--since", "yesterday", NULL}, &p), 64);
  qf_test_proc_fini(&p);
  cr_expect_eq(runs((const char *[]){"--limit", "0", NULL}, &p), 64);
  qf_test_proc_fini(&p);
}
