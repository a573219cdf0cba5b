/* The database drops the worker's connection while its tool runs: the
 * checkpoint after execute is retried in place once the connection is
 * back, so the finished tool is not run again. A real worker; the tool
 * marks every start of its own in a file. */
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
TestSuite(worker_checkpoint, .init = setup, .fini = teardown, .timeout = 120);

Test(worker_checkpoint, a_database_blip_after_the_tool_does_not_rerun_it) {
  char marker[256], test[512];
  snprintf(marker, sizeof marker, "%s/starts.txt", T.dir);
  snprintf(test, sizeof test,
           "import time\n\n\ndef test_marked():\n"
           "    with open('%s', 'a') as f:\n"
           "        f.write('start\\n')\n"
           "    time.sleep(3)\n",
           marker);
  qf_wt_write_demo_file(&T, "tests/marked/test_marked.py", test);
  qf_wt_start_worker(&T, 0, NULL);
  qf_wt_wait_log(&T, 0, 1, 30, "\"event\":\"worker.ready\"", NULL);
  const char *req =
      qf_wt_request("run the marked tests", "tests/marked", 0, 60);
  qf_wt_publish(&T, req, strlen(req), "ckpt-1", "ckpt-1", NULL);
  qf_wt_wait_log(&T, 0, 1, 60, "\"event\":\"node.done\"", "\"node\":\"plan\"",
                 NULL);
  qf_test_sleep_ms(1000); /* the tool is running */
  char sql[256];
  snprintf(sql, sizeof sql,
           "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
           "WHERE usename = '%s_w'",
           T.prefix);
  cr_assert_neq(strcmp(qf_wt_query(&T, sql), "0"), 0,
                "the worker had no session to drop");
  cJSON *d = NULL;
  cr_assert_eq(qf_wt_decisions(&T, &d, 1, 60), 1, "no decision\n%s",
               qf_wt_log_tail(&T, 0));
  cr_expect_str_eq(cJSON_GetObjectItemCaseSensitive(d, "decision")->valuestring,
                   "PASS");
  cJSON_Delete(d);
  char *starts = qf_test_read_all(marker);
  cr_assert_not_null(starts);
  cr_expect_str_eq(starts, "start\n", "the tool ran once: %s\n%s", starts,
                   qf_wt_log_tail(&T, 0));
  free(starts);
  cr_expect_geq(
      qf_wt_count_log(&T, 0, "\"event\":\"db.checkpoint_retry\"", NULL), 1,
      "%s", qf_wt_log_tail(&T, 0));
}
