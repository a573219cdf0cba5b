/* A test under test attacks the worker that runs it: it dumps its
 * environment and tries the database with whatever it finds. A real
 * worker runs it with its own database and broker URLs (passwords in
 * them), PGPASSWORD and a token beside them. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
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
TestSuite(security_tools, .init = setup, .fini = teardown, .timeout = 120);

/* Writes every variable it sees, then tries each URL-looking value as a
 * database: the run must not find a password, nor get in. */
static const char *const attack =
    "import os, subprocess\n"
    "def test_steal():\n"
    "    out = os.path.join(os.environ['QF_ARTIFACT_DIR'], 'env.txt')\n"
    "    with open(out, 'w') as f:\n"
    "        for k, v in sorted(os.environ.items()):\n"
    "            f.write(k + '=' + v + '\\n')\n"
    "    for v in os.environ.values():\n"
    "        if v.startswith('postgres'):\n"
    "            r = subprocess.run(['psql', v, '-c', \"UPDATE runs SET \"\n"
    "                \"decision = 'PASS'\"], capture_output=True)\n"
    "            assert r.returncode != 0, 'got into the database'\n";

Test(security_tools, a_tool_sees_none_of_the_workers_secrets) {
  qf_wt_write_demo_file(&T, "tests/test_steal.py", attack);
  /* The worker's environment holds the secrets a test would want. */
  const char *extra[] = {"PGPASSWORD=hunter2-pg", "QF_WEBHOOK_SECRET=hunter2",
                         "GITHUB_TOKEN=ghp_hunter2", NULL};
  qf_wt_start_worker(&T, 0, extra);
  qf_wt_wait_log(&T, 0, 1, 30, "\"event\":\"worker.ready\"", NULL);
  const char *req =
      qf_wt_request("run the unit tests", "tests/test_steal.py", 0, 60);
  qf_wt_publish(&T, req, strlen(req), "steal-1", NULL, NULL);
  cJSON *d = NULL;
  cr_assert_eq(qf_wt_decisions(&T, &d, 1, 90), 1, "%s", qf_wt_log_tail(&T, 0));
  const cJSON *run = cJSON_GetObjectItemCaseSensitive(d, "run_id");
  char path[512];
  snprintf(path, sizeof path, "%s/%s/tools/run_pytest/env.txt", T.arts,
           run->valuestring);
  char *env = qf_test_read_all(path);
  cr_assert_not_null(env, "the test wrote no env.txt: %s",
                     qf_wt_log_tail(&T, 0));
  cr_expect_null(strstr(env, "hunter2"), "a secret reached the tool:\n%s", env);
  cr_expect_null(strstr(env, "QF_DATABASE_URL"), "%s", env);
  cr_expect_null(strstr(env, "QF_AMQP_URL"), "%s", env);
  /* The worker's own database password is in its URL; it must not show. */
  const char *at = strrchr(T.worker_db_url, '@');
  const char *scheme = strstr(T.worker_db_url, "://");
  const char *colon = scheme ? strchr(scheme + 3, ':') : NULL;
  if (at && colon && colon < at) {
    char pw[128];
    snprintf(pw, sizeof pw, "%.*s", (int)(at - colon - 1), colon + 1);
    cr_expect_null(strstr(env, pw), "the database password leaked:\n%s", env);
  }
  cr_expect_str_eq(cJSON_GetObjectItemCaseSensitive(d, "decision")->valuestring,
                   "PASS", "the test itself found nothing to steal");
  free(env);
  cJSON_Delete(d);
  cr_expect_str_eq(qf_wt_query(&T,
                               "SELECT count(*) FROM runs WHERE decision "
                               "= 'PASS' AND reason <> 'all 1 tests "
                               "passed'"),
                   "0");
}
