/* Rolling restarts cost a run nothing: three workers in turn are stopped
 * (SIGTERM, a 1 s grace) while the run's tool is busy, each hands the run
 * on instead of requeueing it, and a fourth finishes it: one decision, no
 * dead letter, although the queue allows only 3 delivery attempts. */
#include <criterion/criterion.h>
#include <signal.h>
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
TestSuite(worker_drain, .init = setup, .fini = teardown, .timeout = 240);

Test(worker_drain, three_drains_of_one_run_end_in_one_decision) {
  qf_wt_write_demo_file(&T, "tests/slow/test_slow.py",
                        "import time\n\n\ndef test_slow():\n"
                        "    time.sleep(8)\n");
  const char *req = qf_wt_request("run the slow tests", "tests/slow", 0, 60);
  const char *quick[] = {"QF_SHUTDOWN_GRACE_S=1", "QF_DELIVERY_LIMIT=3", NULL};
  for (int i = 0; i < 3; i++) {
    qf_wt_start_worker(&T, 0, quick);
    if (i == 0) { /* the first worker declares the queue */
      qf_wt_wait_log(&T, 0, 1, 60, "\"event\":\"worker.ready\"", NULL);
      qf_wt_publish(&T, req, strlen(req), "drain-1", "drain-1", NULL);
    }
    /* (the log of worker 0 runs on across its restarts) */
    qf_wt_wait_log(&T, 0, i + 1, 60, "\"event\":\"delivery.received\"", NULL);
    qf_test_sleep_ms(1500); /* the tool is running */
    cr_assert_eq(qf_wt_stop_worker(&T, 0, SIGTERM, 30), 0, "drain %d\n%s", i,
                 qf_wt_log_tail(&T, 0));
    cr_expect_eq(
        qf_wt_count_log(&T, 0, "\"event\":\"delivery.handed_on\"", NULL), i + 1,
        "drain %d: %s", i, qf_wt_log_tail(&T, 0));
  }
  const char *patient[] = {"QF_DELIVERY_LIMIT=3", NULL};
  qf_wt_start_worker(&T, 0, patient);
  cJSON *d[2];
  cr_assert_eq(qf_wt_decisions(&T, d, 1, 90), 1, "no decision\n%s",
               qf_wt_log_tail(&T, 0));
  cr_expect_str_eq(
      cJSON_GetObjectItemCaseSensitive(d[0], "decision")->valuestring, "PASS");
  cJSON_Delete(d[0]);
  cr_expect_eq(qf_wt_decisions(&T, d, 1, 3), 0, "one decision only");
  cr_expect_eq(qf_wt_queue_count(&T, T.topo.dead_queue), 0, "no dead letter");
  cr_expect_str_eq(qf_wt_query(&T, "SELECT status FROM runs"), "decided");
}
