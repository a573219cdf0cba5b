/* One owner per run, with real workers: a re-sent copy of a running
 * request waits for its decision instead of running the tool beside it; a
 * worker taking over a killed worker's run first kills what its tool left;
 * a run whose request the broker gave up is ended by a sweep; a run that
 * fails on its last delivery ends in error. Tool runs are counted by a
 * marker the test's own tool writes each time it starts. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "worker_support.h"

#define READY "\"event\":\"worker.ready\""

static qf_wt_t T;
static void setup(void) {
  qf_wt_init(&T);
}
static void teardown(void) {
  qf_wt_fini(&T);
}
TestSuite(worker_lease, .init = setup, .fini = teardown, .timeout = 240);

static char marker[256], orphan_pid[256];

/* A test that appends a line to the marker at every start, starts a
 * grandchild (`sleep 300`, in the tool's process group) whose PID it
 * writes down, and sleeps first_s on its first start, 1 s after. */
static void marked_test(int first_s) {
  char text[2048];
  snprintf(marker, sizeof marker, "%s/marker", T.dir);
  snprintf(orphan_pid, sizeof orphan_pid, "%s/orphan.pid", T.dir);
  snprintf(text, sizeof text,
           "import os, subprocess, time\n\n\n"
           "def test_marked():\n"
           "    with open('%s', 'a') as f:\n"
           "        f.write('%%d\\n' %% os.getpid())\n"
           "    with open('%s') as f:\n"
           "        starts = len(f.readlines())\n"
           "    if starts == 1:\n"
           "        p = subprocess.Popen(['sleep', '300'])\n"
           "        with open('%s', 'w') as f:\n"
           "            f.write(str(p.pid))\n"
           "    time.sleep(%d if starts == 1 else 1)\n",
           marker, marker, orphan_pid, first_s);
  qf_wt_write_demo_file(&T, "tests/marked/test_marked.py", text);
}

static int lines_of(const char *path) {
  FILE *f = fopen(path, "r");
  int n = 0, c;
  if (f == NULL) return 0;
  while ((c = fgetc(f)) != EOF)
    n += c == '\n';
  fclose(f);
  return n;
}

static void wait_lines(const char *path, int n, int timeout_s) {
  for (int i = 0; i < timeout_s * 10 && lines_of(path) < n; i++)
    qf_test_sleep_ms(100);
  cr_assert_geq(lines_of(path), n, "%s: fewer than %d lines\n%s", path, n,
                qf_wt_log_tail(&T, 0));
}

static long read_pid(const char *path) {
  FILE *f = fopen(path, "r");
  long pid = 0;
  if (f) {
    if (fscanf(f, "%ld", &pid) != 1) pid = 0;
    fclose(f);
  }
  return pid;
}

static const char *str(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : "";
}

Test(worker_lease, a_resent_copy_waits_for_the_running_tool) {
  const char *env[] = {"QF_LEASE_S=6", NULL};
  qf_wt_start_worker(&T, 0, env);
  qf_wt_start_worker(&T, 1, env);
  qf_wt_wait_log(&T, 0, 1, 60, READY, NULL);
  qf_wt_wait_log(&T, 1, 1, 60, READY, NULL);
  marked_test(6);
  char qa[128], qb[128];
  qf_wt_reply_queue(&T, qa, sizeof qa, "reply.a");
  qf_wt_reply_queue(&T, qb, sizeof qb, "reply.b");
  const char *body =
      qf_wt_request("run the marked test", "tests/marked", 0, 60);
  qf_wt_publish(&T, body, strlen(body), "lease-resent", "corr-a", qa);
  wait_lines(marker, 1, 60); /* the tool is running */
  qf_wt_publish(&T, body, strlen(body), "lease-resent", "corr-b", qb);
  cJSON *a = qf_wt_reply_from(&T, qa, 90), *b = qf_wt_reply_from(&T, qb, 90);
  cr_expect_str_eq(str(a, "decision"), "PASS");
  cr_expect_str_eq(str(b, "decision"), "PASS");
  cr_expect_str_eq(str(a, "run_id"), str(b, "run_id"));
  cJSON_Delete(a);
  cJSON_Delete(b);
  cr_expect_eq(lines_of(marker), 1, "the tool ran once");
  cr_expect_eq(
      qf_wt_count_log(&T, 0, "\"event\":\"delivery.waiting\"", NULL) +
          qf_wt_count_log(&T, 1, "\"event\":\"delivery.waiting\"", NULL),
      1, "the copy waited\n%s\n%s", qf_wt_log_tail(&T, 0),
      qf_wt_log_tail(&T, 1));
  cr_expect_str_eq(qf_wt_query(&T,
                               "SELECT count(*) FROM run_events WHERE "
                               "event = 'node.execute'"),
                   "1");
  cr_expect_str_eq(qf_wt_query(&T, "SELECT count(*) FROM run_waiters"), "1");
  cr_expect_eq(qf_wt_queue_count(&T, T.topo.dead_queue), 0);
}

Test(worker_lease, the_worker_taking_over_kills_what_the_dead_one_left) {
  const char *env[] = {"QF_LEASE_S=3", NULL};
  qf_wt_start_worker(&T, 0, env);
  qf_wt_wait_log(&T, 0, 1, 60, READY, NULL);
  marked_test(60);
  const char *body =
      qf_wt_request("run the marked test", "tests/marked", 0, 90);
  qf_wt_publish(&T, body, strlen(body), "lease-takeover", NULL, NULL);
  wait_lines(marker, 1, 60);
  for (int i = 0; i < 50 && read_pid(orphan_pid) == 0; i++)
    qf_test_sleep_ms(100);
  long orphan = read_pid(orphan_pid);
  cr_assert_gt(orphan, 0);
  qf_test_sleep_ms(1000); /* the tool's process group is recorded */
  qf_wt_stop_worker(&T, 0, SIGKILL, 10);
  if (!qf_test_pid_runs(orphan))
    cr_assert_fail("the tool's child died with its worker");
  qf_wt_start_worker(&T, 1, env);
  cJSON *d[1];
  cr_assert_eq(qf_wt_decisions(&T, d, 1, 90), 1, "no decision\n%s",
               qf_wt_log_tail(&T, 1));
  cr_expect_str_eq(str(d[0], "decision"), "PASS");
  cJSON_Delete(d[0]);
  cr_expect_not(qf_test_pid_runs(orphan),
                "the new owner killed the leftover %ld", orphan);
  if (qf_test_pid_runs(orphan)) kill((pid_t)orphan, SIGKILL);
  cr_expect_eq(
      qf_wt_count_log(&T, 1, "\"event\":\"run.leftover_killed\"", NULL), 1,
      "%s", qf_wt_log_tail(&T, 1));
  cr_expect_eq(lines_of(marker), 2, "cut off by the kill, run again once");
  cr_expect_str_eq(qf_wt_query(&T,
                               "SELECT count(*) FROM run_events WHERE "
                               "event = 'claimed' AND data->>'owner' IS "
                               "NOT NULL"),
                   "1", "the claim names the previous owner");
}

Test(worker_lease, a_run_the_broker_gave_up_is_ended_by_a_sweep) {
  /* Delivery limit 1: two deliveries, both cut off by a kill -9. */
  const char *env[] = {"QF_LEASE_S=3", "QF_DELIVERY_LIMIT=1",
                       "QF_SWEEP_INTERVAL_S=1", NULL};
  char qa[128];
  qf_wt_reply_queue(&T, qa, sizeof qa, "reply.sweep");
  marked_test(60);
  const char *body =
      qf_wt_request("run the marked test", "tests/marked", 0, 90);
  for (int i = 0; i < 2; i++) {
    qf_wt_start_worker(&T, 0, env);
    qf_wt_wait_log(&T, 0, i + 1, 60, READY, NULL);
    if (i == 0)
      qf_wt_publish(&T, body, strlen(body), "lease-sweep", "corr-s", qa);
    wait_lines(marker, i + 1, 60);
    qf_test_sleep_ms(500);
    qf_wt_stop_worker(&T, 0, SIGKILL, 10);
  }
  qf_wt_kill_leftover_tools(&T);
  qf_wt_start_worker(&T, 1, env);
  cJSON *d = qf_wt_reply_from(&T, qa, 60);
  cr_expect_str_eq(str(d, "decision"), "FAIL");
  cr_expect_str_eq(str(d, "decided_by"), "error");
  cr_expect(strstr(str(d, "reason"), "abandoned") != NULL, "%s",
            str(d, "reason"));
  cJSON_Delete(d);
  cJSON *dd[1];
  cr_assert_eq(qf_wt_decisions(&T, dd, 1, 10), 1, "announced like any");
  cr_expect_str_eq(str(dd[0], "decided_by"), "error");
  cJSON_Delete(dd[0]);
  cr_expect_str_eq(qf_wt_query(&T,
                               "SELECT status || ' ' || decided_by FROM "
                               "runs"),
                   "decided error");
  cr_expect_eq(qf_wt_count_log(&T, 1, "\"event\":\"run.swept\"", NULL), 1);
  cr_expect_eq(lines_of(marker), 2);
  /* Nobody took the run over, so nobody killed the first tool's child. */
  long orphan = read_pid(orphan_pid);
  if (orphan > 0) kill((pid_t)orphan, SIGKILL);
}

Test(worker_lease, a_run_failing_on_its_last_delivery_ends_in_error) {
  /* Nothing can be written under the artifacts root: every delivery fails
   * on our side, which is retried, until the last the queue allows. */
  char arts[300];
  snprintf(arts, sizeof arts, "QF_ARTIFACTS_ROOT=%s/not-a-dir/arts", T.dir);
  char file[256];
  snprintf(file, sizeof file, "%s/not-a-dir", T.dir);
  FILE *f = fopen(file, "w");
  cr_assert_not_null(f);
  fclose(f);
  const char *env[] = {arts, "QF_DELIVERY_LIMIT=1", NULL};
  char qa[128];
  qf_wt_reply_queue(&T, qa, sizeof qa, "reply.last");
  qf_wt_start_worker(&T, 0, env);
  qf_wt_wait_log(&T, 0, 1, 60, READY, NULL);
  const char *body = qf_wt_request("a dry run", "tests/passing", 1, 60);
  qf_wt_publish(&T, body, strlen(body), "lease-last", "corr-l", qa);
  cJSON *d = qf_wt_reply_from(&T, qa, 60);
  cr_expect_str_eq(str(d, "decision"), "FAIL");
  cr_expect_str_eq(str(d, "decided_by"), "error");
  cr_expect(strstr(str(d, "reason"), "last delivery") != NULL, "%s",
            str(d, "reason"));
  cJSON_Delete(d);
  /* The first delivery, a fresh dry run, failed before anything of it
   * was recorded (it is recorded whole when decided): the last one is the
   * only claim. */
  cr_expect_str_eq(qf_wt_query(&T,
                               "SELECT status || ' ' || decided_by || ' ' "
                               "|| attempts FROM runs"),
                   "decided error 1");
  cr_expect_eq(qf_wt_queue_count(&T, T.topo.dead_queue), 1,
               "the request is kept for a replay");
}

/* Checkpoints go where they save work (DESIGN 4): a dry run writes its
 * claim and its decision, nothing per node; the nodes' times go into the
 * decision's event. */
Test(worker_lease, a_dry_run_is_its_claim_and_its_decision) {
  qf_wt_start_worker(&T, 0, NULL);
  qf_wt_wait_log(&T, 0, 1, 60, READY, NULL);
  const char *body = qf_wt_request("a dry run", "tests/passing", 1, 60);
  qf_wt_publish(&T, body, strlen(body), "dry-cost", NULL, NULL);
  cJSON *d[1];
  cr_assert_eq(qf_wt_decisions(&T, d, 1, 60), 1, "%s", qf_wt_log_tail(&T, 0));
  cJSON_Delete(d[0]);
  cr_expect_str_eq(qf_wt_query(&T,
                               "SELECT string_agg(event, ',' ORDER BY id) "
                               "FROM run_events"),
                   "claimed,decided");
  cr_expect_str_eq(qf_wt_query(&T,
                               "SELECT count(*) FROM jsonb_object_keys(("
                               "SELECT data->'node_ms' FROM run_events "
                               "WHERE event = 'decided'))"),
                   "7", "every node's time is in the decision's event");
}
