/* QF_CONCURRENCY: several tool runs at once in one worker process, real
 * pytest suites against the local RabbitMQ and PostgreSQL. Each suite
 * writes when it started and ended; with QF_CONCURRENCY=3 the two runs
 * overlap (and each runs once, decided, its lease its own), with the
 * default they do not; dry runs arriving meanwhile are decided while the
 * tools run. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker_support.h"

static qf_wt_t T;

static void setup(void) {
  qf_wt_init(&T);
}

static void teardown(void) {
  qf_wt_fini(&T);
}

TestSuite(worker_concurrency, .init = setup, .fini = teardown, .timeout = 300);

#define READY "\"event\":\"worker.ready\""

static int count_sql(const char *sql) {
  return atoi(qf_wt_query(&T, sql));
}

/* tests/span<i>/: sleeps s seconds, writing "start end" (seconds since
 * the epoch, fractional) to <dir>/span<i> when done. */
static void span_test(int i, int s) {
  char rel[64], text[1024];
  snprintf(rel, sizeof rel, "tests/span%d/test_span.py", i);
  snprintf(text, sizeof text,
           "import time\n\n\n"
           "def test_span():\n"
           "    start = time.time()\n"
           "    time.sleep(%d)\n"
           "    with open('%s/span%d', 'a') as f:\n"
           "        f.write('%%f %%f\\n' %% (start, time.time()))\n",
           s, T.dir, i);
  qf_wt_write_demo_file(&T, rel, text);
}

/* The spans suite i ran in (one line each run); returns how many. */
static int spans(int i, double *start, double *end) {
  char path[400];
  snprintf(path, sizeof path, "%s/span%d", T.dir, i);
  FILE *f = fopen(path, "r");
  int n = 0;
  while (f && fscanf(f, "%lf %lf", start, end) == 2)
    n++;
  if (f) fclose(f);
  return n;
}

/* Sends the two span suites, message ids <prefix>-<tag>-<i>. */
static void send_spans(const char *tag) {
  for (int i = 0; i < 2; i++) {
    char mid[96], path[32];
    snprintf(mid, sizeof mid, "%s-%s-%d", T.prefix, tag, i);
    snprintf(path, sizeof path, "tests/span%d", i);
    const char *body = qf_wt_request("run the span tests", path, 0, 60);
    qf_wt_publish(&T, body, strlen(body), mid, mid, NULL);
  }
}

/* Sends both suites (and, with dry, three dry runs after them), waits
 * for their decisions; returns whether the two tool runs overlapped. */
static int run_two(const char *const *env, int dry) {
  span_test(0, 4);
  span_test(1, 4);
  qf_wt_start_worker(&T, 0, env);
  qf_wt_wait_log(&T, 0, 1, 60, READY, NULL);
  send_spans("span");
  for (int i = 0; i < dry; i++) {
    char mid[96];
    snprintf(mid, sizeof mid, "%s-dry-%d", T.prefix, i);
    const char *body =
        qf_wt_request("run the login tests", "tests/passing", 1, 60);
    qf_wt_publish(&T, body, strlen(body), mid, mid, NULL);
  }
  cJSON *got[8];
  int n = qf_wt_decisions(&T, got, 2 + dry, 60);
  cr_assert_eq(n, 2 + dry, "%d decisions\n%s", n, qf_wt_log_tail(&T, 0));
  for (int i = 0; i < n; i++) {
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(got[i], "decision");
    cr_expect(cJSON_IsString(d) && strcmp(d->valuestring, "PASS") == 0);
    cJSON_Delete(got[i]);
  }
  double s0 = 0, e0 = 0, s1 = 0, e1 = 0;
  cr_assert_eq(spans(0, &s0, &e0), 1, "suite 0 ran once");
  cr_assert_eq(spans(1, &s1, &e1), 1, "suite 1 ran once");
  cr_expect_eq(count_sql("SELECT count(*) FROM run_events WHERE event = "
                         "'decided'"),
               2 + dry);
  cr_expect_eq(count_sql("SELECT count(*) FROM run_events WHERE event = "
                         "'node.execute'"),
               2, "one checkpoint per tool run");
  return s0 < e1 && s1 < e0;
}

Test(worker_concurrency, two_suites_run_side_by_side_dry_runs_meanwhile) {
  /* Three at once: the two suites, and a slot for what comes meanwhile. */
  const char *env[] = {"QF_CONCURRENCY=3", NULL};
  cr_expect(run_two(env, 3), "the two tool runs did not overlap\n%s",
            qf_wt_log_tail(&T, 0));
  /* The dry runs sent after the suites were decided while they ran. */
  cr_expect_eq(count_sql("SELECT count(*) FROM runs r, runs s WHERE "
                         "r.request->'options'->>'dry_run' = 'true' AND "
                         "s.request->'options'->>'dry_run' = 'false' AND "
                         "r.decided_at < s.decided_at"),
               6, "each dry run decided before both suites\n%s",
               qf_wt_log_tail(&T, 0));
  cr_expect_eq(count_sql("SELECT count(*) FROM runs WHERE lease_owner IS NOT "
                         "NULL"),
               0, "every lease released");
}

Test(worker_concurrency, by_default_one_tool_runs_at_a_time) {
  cr_expect_not(run_two(NULL, 0), "the two tool runs overlapped\n%s",
                qf_wt_log_tail(&T, 0));
}

Test(worker_concurrency, sigterm_lets_both_running_suites_finish) {
  span_test(0, 3);
  span_test(1, 3);
  const char *env[] = {"QF_CONCURRENCY=2", "QF_SHUTDOWN_GRACE_S=30", NULL};
  qf_wt_start_worker(&T, 0, env);
  qf_wt_wait_log(&T, 0, 1, 60, READY, NULL);
  send_spans("term");
  qf_wt_wait_log(&T, 0, 2, 60, "\"event\":\"node.done\"", "\"node\":\"plan\"",
                 NULL);
  cr_assert_eq(qf_wt_stop_worker(&T, 0, SIGTERM, 60), 0, "%s",
               qf_wt_log_tail(&T, 0));
  cJSON *got[2] = {NULL, NULL};
  cr_expect_eq(qf_wt_decisions(&T, got, 2, 10), 2, "%s", qf_wt_log_tail(&T, 0));
  for (int i = 0; i < 2; i++)
    cJSON_Delete(got[i]);
  cr_expect_eq(count_sql("SELECT count(*) FROM runs WHERE status = 'decided'"),
               2);
  cr_expect_eq(qf_wt_queue_count(&T, T.topo.queue), 0);
}

/* The lease owner is the worker: two deliveries of one request running
 * side by side in it would both hold "its" lease. The second waits for the
 * first instead, and both reply queues get the one decision. */
Test(worker_concurrency, a_copy_sent_while_its_tool_runs_here_waits_for_it) {
  span_test(0, 3);
  const char *env[] = {"QF_CONCURRENCY=2", NULL};
  qf_wt_start_worker(&T, 0, env);
  qf_wt_wait_log(&T, 0, 1, 60, READY, NULL);
  char qa[128], qb[128], mid[96];
  qf_wt_reply_queue(&T, qa, sizeof qa, "reply.a");
  qf_wt_reply_queue(&T, qb, sizeof qb, "reply.b");
  snprintf(mid, sizeof mid, "%s-copy", T.prefix);
  const char *body = qf_wt_request("run the span tests", "tests/span0", 0, 60);
  qf_wt_publish(&T, body, strlen(body), mid, "corr-a", qa);
  qf_wt_wait_log(&T, 0, 1, 60, "\"event\":\"node.done\"", "\"node\":\"plan\"",
                 NULL);
  qf_wt_publish(&T, body, strlen(body), mid, "corr-b", qb);
  cJSON *a = qf_wt_reply_from(&T, qa, 60), *b = qf_wt_reply_from(&T, qb, 60);
  const cJSON *ra = cJSON_GetObjectItemCaseSensitive(a, "run_id");
  const cJSON *rb = cJSON_GetObjectItemCaseSensitive(b, "run_id");
  cr_expect(cJSON_IsString(ra) && cJSON_IsString(rb) &&
            strcmp(ra->valuestring, rb->valuestring) == 0);
  cJSON_Delete(a);
  cJSON_Delete(b);
  double s = 0, e = 0;
  cr_expect_eq(spans(0, &s, &e), 1, "the tool ran once\n%s",
               qf_wt_log_tail(&T, 0));
  cr_expect_eq(qf_wt_count_log(&T, 0, "\"event\":\"delivery.waiting\"", NULL),
               1, "%s", qf_wt_log_tail(&T, 0));
  cr_expect_eq(count_sql("SELECT count(*) FROM run_events WHERE event = "
                         "'decided'"),
               1);
}
