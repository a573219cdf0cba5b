/* Runs that need no tool, settled as a batch (QF_PREFETCH above 1): real
 * workers against the local RabbitMQ and PostgreSQL. Queued dry runs are
 * recorded several to a transaction, each once; a worker killed in the
 * middle of its batches loses nothing and decides nothing twice; at the
 * default prefetch a dry run is one transaction. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "qf/fsutil.h"

#include "worker_support.h"

static qf_wt_t T;

static void setup(void) {
  qf_wt_init(&T);
}

static void teardown(void) {
  qf_wt_fini(&T);
}

TestSuite(worker_batch, .init = setup, .fini = teardown, .timeout = 400);

#define READY "\"event\":\"worker.ready\""

static int count_sql(const char *sql) {
  return atoi(qf_wt_query(&T, sql));
}

/* n dry runs, one in five high-risk (parked for a human), queued before
 * any worker consumes (a first worker declares the queue, then stops);
 * returns how many of them park. */
static int publish_dry_runs(int n, const char *tag) {
  int hitl = 0;
  qf_wt_start_worker(&T, 2, NULL);
  qf_wt_wait_log(&T, 2, 1, 60, READY, NULL);
  cr_assert_eq(qf_wt_stop_worker(&T, 2, SIGTERM, 30), 0);
  for (int i = 0; i < n; i++) {
    char mid[128], corr[64];
    snprintf(mid, sizeof mid, "%s-%s-%d", T.prefix, tag, i);
    snprintf(corr, sizeof corr, "c-%d", i);
    int risky = i % 5 == 4;
    hitl += risky;
    const char *body = qf_wt_request(
        risky ? "smoke test the prod deploy" : "run the login tests",
        "tests/passing", 1, 60);
    qf_wt_publish(&T, body, strlen(body), mid, corr, NULL);
  }
  return hitl;
}

/* Decisions until n distinct runs were seen (re-published copies are
 * allowed: at least once); returns how many distinct runs. */
static int distinct_decisions(int n, int timeout_s) {
  char(*seen)[QF_UUID_STR_LEN + 1] = calloc((size_t)n, sizeof *seen);
  int distinct = 0;
  time_t end = time(NULL) + timeout_s;
  while (distinct < n && time(NULL) < end) {
    cJSON *got[32];
    int k = qf_wt_decisions(&T, got, 32, 2);
    for (int i = 0; i < k; i++) {
      const cJSON *id = cJSON_GetObjectItemCaseSensitive(got[i], "run_id");
      int known = 0;
      for (int s = 0; cJSON_IsString(id) && s < distinct && !known; s++)
        known = strcmp(seen[s], id->valuestring) == 0;
      if (cJSON_IsString(id) && !known && distinct < n)
        snprintf(seen[distinct++], sizeof seen[0], "%s", id->valuestring);
      cJSON_Delete(got[i]);
    }
  }
  free(seen);
  return distinct;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static char *read_text(const char *path) {
  char *text = NULL;
  size_t len = 0;
  qf_error_t err;
  cr_assert_eq(qf_fs_read(path, 1 << 20, &text, &len, &err), 0, "%s",
               err.message);
  return text;
}

/* Every run's evidence file is there, whole: its run_id is the run's. */
static void expect_evidence_files(int n) {
  PGresult *r = qf_wt_query_res(&T, "SELECT run_id, evidence_path FROM runs");
  cr_assert_eq(PQntuples(r), n);
  for (int i = 0; i < n; i++) {
    char *text = read_text(PQgetvalue(r, i, 1));
    cJSON *ev = cJSON_Parse(text);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(ev, "run_id");
    cr_expect(
        cJSON_IsString(id) && strcmp(id->valuestring, PQgetvalue(r, i, 0)) == 0,
        "%s: %.80s", PQgetvalue(r, i, 1), text);
    cJSON_Delete(ev);
    free(text);
  }
  PQclear(r);
}

/* Every run decided or parked exactly once, with its approval. */
static void expect_each_once(int n, int hitl) {
  cr_expect_eq(count_sql("SELECT count(*) FROM runs"), n);
  cr_expect_eq(count_sql("SELECT count(*) FROM run_events WHERE event IN "
                         "('decided', 'parked')"),
               n, "a run decided twice");
  cr_expect_eq(count_sql("SELECT count(DISTINCT run_id) FROM run_events "
                         "WHERE event IN ('decided', 'parked')"),
               n);
  cr_expect_eq(count_sql("SELECT count(*) FROM approvals"), hitl);
  cr_expect_eq(count_sql("SELECT count(*) FROM runs WHERE status = "
                         "'awaiting_approval'"),
               hitl);
  cr_expect_eq(qf_wt_queue_count(&T, T.topo.queue), 0);
  cr_expect_eq(qf_wt_queue_count(&T, T.topo.dead_queue), 0);
}

Test(worker_batch, queued_dry_runs_are_recorded_in_batches_each_once) {
  enum { N = 160 };
  int hitl = publish_dry_runs(N, "b");
  const char *env[] = {"QF_PREFETCH=16", NULL};
  qf_wt_start_worker(&T, 0, env);
  cr_assert_eq(distinct_decisions(N, 120), N, "%s", qf_wt_log_tail(&T, 0));
  cJSON *extra[1];
  cr_expect_eq(qf_wt_decisions(&T, extra, 1, 2), 0,
               "a decision published "
               "twice without a fault");
  expect_each_once(N, hitl);
  /* Several runs to a transaction (rows of one transaction share its
   * xmin), and each run's events in the transaction of its row. */
  int txs = count_sql("SELECT count(DISTINCT xmin::text) FROM runs");
  cr_expect_leq(txs, N / 4, "%d transactions for %d queued dry runs", txs, N);
  cr_expect_eq(count_sql("SELECT count(*) FROM run_events e JOIN runs r "
                         "USING (run_id) WHERE e.xmin <> r.xmin"),
               0);
  cr_expect_eq(count_sql("SELECT count(*) FROM runs WHERE attempts <> 1"), 0);
  cr_expect_eq(qf_wt_count_log(&T, 0, "\"event\":\"delivery.acked\"", NULL), N);
  /* Their fsyncs were paid while the batches committed: all there. */
  expect_evidence_files(N);
}

Test(worker_batch, a_dry_run_at_prefetch_1_is_one_transaction) {
  enum { N = 10 };
  int hitl = publish_dry_runs(N, "one");
  qf_wt_start_worker(&T, 0, NULL);
  cr_assert_eq(distinct_decisions(N, 60), N, "%s", qf_wt_log_tail(&T, 0));
  expect_each_once(N, hitl);
  cr_expect_eq(count_sql("SELECT count(DISTINCT xmin::text) FROM runs"), N);
  cr_expect_eq(count_sql("SELECT count(*) FROM run_events e JOIN runs r "
                         "USING (run_id) WHERE e.xmin <> r.xmin"),
               0, "the events in the run's one transaction");
  cr_expect_eq(count_sql("SELECT count(*) FROM approvals a JOIN runs r "
                         "USING (run_id) WHERE a.xmin <> r.xmin OR "
                         "a.id <> r.approval_id"),
               0, "the approval in it too");
}

Test(worker_batch, kill_9_mid_batch_loses_nothing_and_decides_nothing_twice) {
  enum { N = 400 };
  int hitl = publish_dry_runs(N, "k");
  const char *env[] = {"QF_PREFETCH=16", NULL};
  qf_wt_start_worker(&T, 0, env);
  int at = 0;
  for (int i = 0; i < 600 && at < 40; i++) {
    sleep_ms(10);
    at = count_sql("SELECT count(*) FROM runs");
  }
  cr_assert_geq(at, 40, "worker 0 made no progress\n%s", qf_wt_log_tail(&T, 0));
  cr_assert_eq(qf_wt_stop_worker(&T, 0, SIGKILL, 10), 128 + SIGKILL);
  at = count_sql("SELECT count(*) FROM runs");
  cr_assert_lt(at, N, "killed after the end: nothing was in flight");
  qf_wt_start_worker(&T, 1, env);
  qf_wt_wait_log(&T, 1, 1, 60, READY, NULL);
  cr_assert_eq(distinct_decisions(N, 180), N,
               "decisions lost after the kill (%d runs then)\n%s", at,
               qf_wt_log_tail(&T, 1));
  expect_each_once(N, hitl);
  /* What worker 0 recorded but had not acked came back to worker 1, which
   * found the run decided and re-published it: claimed again, never
   * decided again. */
  cr_expect_eq(count_sql("SELECT count(*) FROM runs WHERE attempts > 2"), 0);
  expect_evidence_files(N);
}

/* A copy of a decided request runs its pipeline before it learns that
 * the run exists: its evidence is never put in the recorded run's place.
 * And a worker that dies after its commit but before its evidence file
 * was put in place leaves none; the run's next delivery, a re-publish,
 * writes it again from the database. */
Test(worker_batch,
     a_copy_keeps_the_evidence_file_and_a_re_publish_restores_it) {
  publish_dry_runs(1, "gone");
  qf_wt_start_worker(&T, 0, NULL);
  cr_assert_eq(distinct_decisions(1, 60), 1, "%s", qf_wt_log_tail(&T, 0));
  char path[4096], mid[128];
  snprintf(path, sizeof path, "%s",
           qf_wt_query(&T, "SELECT evidence_path FROM runs"));
  expect_evidence_files(1);
  char *before = read_text(path);
  snprintf(mid, sizeof mid, "%s-gone-0", T.prefix);
  const char *body =
      qf_wt_request("run the login tests", "tests/passing", 1, 60);
  qf_wt_publish(&T, body, strlen(body), mid, "copy", NULL);
  qf_wt_wait_log(&T, 0, 1, 60, "\"event\":\"run.republish\"", NULL);
  cr_assert_eq(distinct_decisions(1, 60), 1, "the copy is answered");
  char *after = read_text(path);
  cr_expect_str_eq(after, before, "the copy replaced the recorded evidence");
  free(before);
  free(after);
  cr_assert_eq(unlink(path), 0, "%s", path);
  /* What the killed worker left beside it goes too. */
  char stale[4200];
  snprintf(stale, sizeof stale, "%.*s/.evidence.json.AbC123",
           (int)(strrchr(path, '/') - path), path);
  FILE *f = fopen(stale, "w");
  cr_assert_not_null(f, "%s", stale);
  fclose(f);
  qf_wt_publish(&T, body, strlen(body), mid, "again", NULL);
  qf_wt_wait_log(&T, 0, 1, 60, "\"event\":\"evidence.restored\"", NULL);
  cr_assert_eq(distinct_decisions(1, 60), 1, "re-published");
  expect_evidence_files(1);
  cr_expect_neq(access(stale, F_OK), 0, "%s is still there", stale);
  cr_expect_eq(count_sql("SELECT count(*) FROM run_events WHERE event = "
                         "'decided'"),
               1, "re-published, not decided again");
}
