/* The run store against the real local PostgreSQL, logged in as a role that
 * is only a member of qf_worker, so a statement needing more privilege than
 * the migrations grant fails here. */
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "qf/store.h"
#include "store_support.h"
#include "support.h"

#define RUN_ID "6f1c2f1e-0000-5000-8000-00000000000a"

static void setup(void) {
  qf_st_setup("qf_store");
}

static void teardown(void) {
  qf_st_teardown();
}

TestSuite(store, .init = setup, .fini = teardown, .timeout = 120);

static qf_claim_t claim_of(const char *worker) {
  return (qf_claim_t){.run_id = RUN_ID,
                      .message_id = "msg-1",
                      .request_json = "{\"repo\": \"acme/app\", \"n\": 1}",
                      .requested_by = "ci",
                      .reply_to = "qf.replies",
                      .correlation_id = "corr-1",
                      .worker = worker};
}

static void claim(qf_store_t *st, const char *worker, qf_run_row_t *row,
                  int *created) {
  qf_claim_t c = claim_of(worker);
  qf_error_t err;
  cr_assert_eq(qf_store_claim(st, &c, row, created, &err), 0, "%s",
               err.message);
}

static void checkpoint(qf_store_t *st, const char *node, long long ms) {
  cJSON *cp = cJSON_Parse("{\"done\": [\"normalize\"], \"plan\": {\"k\": 1}}");
  cr_assert_not_null(cp);
  qf_error_t err;
  int rc = qf_store_checkpoint(st, RUN_ID, node, cp, ms, &err);
  cJSON_Delete(cp);
  cr_assert_eq(rc, 0, "%s", err.message);
}

/* The documents of one finish; finish_fini frees them. */
typedef struct fin {
  qf_finish_t f;
  cJSON *rules, *evidence, *message;
} fin_t;

static void finish_init(fin_t *x, const char *decision) {
  x->rules = cJSON_Parse("[\"tests_must_pass\"]");
  x->evidence = cJSON_Parse("{\"summary\": {\"tests\": 42, \"failed\": 0}}");
  x->message = cJSON_CreateObject();
  cr_assert(x->rules && x->evidence && x->message);
  cJSON_AddStringToObject(x->message, "run_id", RUN_ID);
  cJSON_AddStringToObject(x->message, "decision", decision);
  cJSON_AddNullToObject(x->message, "approval_id");
  x->f = (qf_finish_t){.run_id = RUN_ID,
                       .decision = decision,
                       .reason = "because",
                       .triggered_rules = x->rules,
                       .decided_by = "gate",
                       .evidence = x->evidence,
                       .evidence_path = "/var/lib/qf/evidence.json",
                       .policy_version = "1",
                       .policy_hash = "abc",
                       .decision_message = x->message,
                       .stage = "after_execute",
                       .triggered_rule = "prod_deploy",
                       .requested_by = "ci",
                       .expires_after_s = 3600};
}

static void finish_fini(fin_t *x) {
  cJSON_Delete(x->rules);
  cJSON_Delete(x->evidence);
  cJSON_Delete(x->message);
}

static int finish(qf_store_t *st, const char *decision, cJSON **msg,
                  qf_error_t *err) {
  fin_t x;
  finish_init(&x, decision);
  int rc = qf_store_finish(st, &x.f, msg, NULL, err);
  finish_fini(&x);
  return rc;
}

Test(store, claim_creates_the_run_then_finds_it) {
  qf_store_t *st = qf_st_open();
  qf_run_row_t row;
  int created = -1;
  claim(st, "host:1", &row, &created);
  cr_expect_eq(created, 1);
  cr_expect_str_eq(row.run_id, RUN_ID);
  cr_expect_eq(row.status, QF_RUN_RECEIVED);
  cr_expect_eq(row.attempts, 1);
  cr_expect_null(row.checkpoint);
  cr_expect_null(row.decision_message);
  cr_expect_null(row.evidence);
  cr_expect_str_eq(row.reply_to, "qf.replies");
  cr_expect_str_eq(row.correlation_id, "corr-1");
  qf_run_row_fini(&row);

  claim(st, "host:2", &row, &created);
  cr_expect_eq(created, 0);
  cr_expect_eq(row.attempts, 2);
  cr_expect_eq(row.status, QF_RUN_RECEIVED);
  qf_run_row_fini(&row);

  qf_db_t *db = qf_store_db(st);
  cr_expect_str_eq(
      qf_st_query1(db,
                   "SELECT jsonb_typeof(request) || ':' || (request "
                   "->> 'repo') || ':' || (request -> 'n')::text FROM "
                   "runs WHERE run_id = $1",
                   RUN_ID),
      "object:acme/app:1", "the request is stored as jsonb");
  cr_expect_str_eq(
      qf_st_query1(db,
                   "SELECT concat_ws(',', message_id, requested_by, "
                   "worker, attempts) FROM runs WHERE run_id = $1",
                   RUN_ID),
      "msg-1,ci,host:2,2");

  /* Optional fields may be NULL. */
  qf_claim_t c = {.run_id = "6f1c2f1e-0000-5000-8000-00000000000b",
                  .request_json = "{}",
                  .worker = "host:1"};
  qf_error_t err;
  cr_assert_eq(qf_store_claim(st, &c, &row, &created, &err), 0, "%s",
               err.message);
  cr_expect_null(row.reply_to);
  cr_expect_null(row.correlation_id);
  qf_run_row_fini(&row);
  c.run_id = "not-a-uuid";
  cr_expect_eq(qf_store_claim(st, &c, &row, &created, &err), QF_EINVAL);
  qf_store_close(st);
}

Test(store, checkpoint_is_stored_and_returned_by_the_next_claim) {
  qf_store_t *st = qf_st_open();
  qf_run_row_t row;
  int created;
  claim(st, "host:1", &row, &created);
  qf_run_row_fini(&row);
  checkpoint(st, "plan", 12);
  qf_db_t *db = qf_store_db(st);
  cr_expect_str_eq(
      qf_st_query1(db,
                   "SELECT status || ',' || current_node || ',' || "
                   "(checkpoint -> 'plan' ->> 'k') FROM runs WHERE "
                   "run_id = $1",
                   RUN_ID),
      "running,plan,1");

  claim(st, "host:2", &row, &created);
  cr_expect_eq(row.status, QF_RUN_RUNNING);
  cr_assert_not_null(row.checkpoint);
  cJSON *done = cJSON_GetObjectItemCaseSensitive(row.checkpoint, "done");
  cr_expect_eq(cJSON_GetArraySize(done), 1);
  cr_expect_str_eq(cJSON_GetArrayItem(done, 0)->valuestring, "normalize");
  qf_run_row_fini(&row);

  cJSON *cp = cJSON_CreateObject();
  qf_error_t err;
  cr_expect_eq(qf_store_checkpoint(st, RUN_ID, "bogus", cp, 1, &err),
               QF_EVALIDATE, "current_node has a CHECK: %s", err.message);
  cr_expect_eq(qf_store_checkpoint(st, "6f1c2f1e-0000-5000-8000-0000000000ff",
                                   "plan", cp, 1, &err),
               QF_ENOENT, "%s", err.message);
  cJSON_Delete(cp);
  qf_store_close(st);
}

Test(store, finish_pass_decides_the_run_and_freezes_it) {
  qf_store_t *st = qf_st_open();
  qf_run_row_t row;
  int created;
  claim(st, "host:1", &row, &created);
  qf_run_row_fini(&row);
  checkpoint(st, "gate", 3);
  qf_error_t err;
  cJSON *msg = NULL;
  cr_assert_eq(finish(st, "PASS", &msg, &err), 0, "%s", err.message);
  cr_assert_not_null(msg);
  cr_expect(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(msg, "approval_id")));
  cJSON_Delete(msg);

  qf_db_t *db = qf_store_db(st);
  cr_expect_str_eq(
      qf_st_query1(
          db,
          "SELECT concat_ws(',', status, decision, final, decided_by, "
          "decided_at IS NOT NULL, approval_id IS NULL, reason, "
          "evidence_path, policy_version, policy_hash) FROM runs WHERE "
          "run_id = $1",
          RUN_ID),
      "decided,PASS,t,gate,t,t,because,/var/lib/qf/evidence.json,1,"
      "abc");
  cr_expect_str_eq(
      qf_st_query1(db,
                   "SELECT evidence -> 'summary' ->> 'tests' FROM runs "
                   "WHERE run_id = $1",
                   RUN_ID),
      "42", "evidence is queryable jsonb");
  cr_expect_str_eq(
      qf_st_query1(db,
                   "SELECT (triggered_rules ->> 0) || ',' || "
                   "(decision_message ->> 'decision') FROM runs WHERE "
                   "run_id = $1",
                   RUN_ID),
      "tests_must_pass,PASS");
  cr_expect_str_eq(qf_st_query1(db, "SELECT count(*) FROM approvals", NULL),
                   "0");

  claim(st, "host:2", &row, &created);
  cr_expect_eq(row.status, QF_RUN_DECIDED);
  cr_assert_not_null(row.decision_message);
  cr_expect_str_eq(
      cJSON_GetObjectItemCaseSensitive(row.decision_message, "decision")
          ->valuestring,
      "PASS");
  cJSON *summary = cJSON_GetObjectItemCaseSensitive(row.evidence, "summary");
  cr_expect_eq(
      cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(summary, "tests")),
      42, "a redelivery can re-publish the stored evidence");
  qf_run_row_fini(&row);

  cJSON *cp = cJSON_CreateObject();
  cr_expect_eq(qf_store_checkpoint(st, RUN_ID, "gate", cp, 1, &err),
               QF_ECONFLICT);
  cr_expect_not_null(strstr(err.message, "already decided"), "%s", err.message);
  cJSON_Delete(cp);
  cr_expect_eq(finish(st, "FAIL", NULL, &err), QF_ECONFLICT, "%s", err.message);
  cr_expect_str_eq(qf_st_query1(db, "SELECT decision FROM runs", NULL), "PASS");
  qf_store_close(st);
}

Test(store, finish_need_hitl_parks_the_run_with_one_pending_approval) {
  qf_store_t *st = qf_st_open();
  qf_run_row_t row;
  int created;
  claim(st, "host:1", &row, &created);
  qf_run_row_fini(&row);
  fin_t x;
  finish_init(&x, "NEED_HITL");
  qf_error_t err;
  cJSON *msg = NULL;
  cr_assert_eq(qf_store_finish(st, &x.f, &msg, NULL, &err), 0, "%s",
               err.message);
  cr_expect(
      cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(x.message, "approval_id")),
      "the caller's message is left alone");
  finish_fini(&x);

  qf_db_t *db = qf_store_db(st);
  char id[64];
  snprintf(
      id, sizeof id, "%s",
      qf_st_query1(db, "SELECT id FROM approvals WHERE run_id = $1", RUN_ID));
  cr_assert_eq(strlen(id), 36, "%s", id);
  const cJSON *mid = cJSON_GetObjectItemCaseSensitive(msg, "approval_id");
  cr_assert(cJSON_IsString(mid));
  cr_expect_str_eq(mid->valuestring, id);
  cJSON_Delete(msg);

  cr_expect_str_eq(
      qf_st_query1(db,
                   "SELECT concat_ws(',', status, stage, triggered_rule, "
                   "requested_by, abs(extract(epoch FROM expires_at - now()) - "
                   "3600) < 30) FROM approvals",
                   NULL),
      "pending,after_execute,prod_deploy,ci,t");
  char want[200];
  snprintf(want, sizeof want, "awaiting_approval,NEED_HITL,f,t,gate,%s,%s", id,
           id);
  cr_expect_str_eq(
      qf_st_query1(db,
                   "SELECT concat_ws(',', status, decision, final, "
                   "decided_at IS NULL, decided_by, approval_id, "
                   "decision_message ->> 'approval_id') FROM runs",
                   NULL),
      want);

  cr_expect_eq(finish(st, "NEED_HITL", NULL, &err), QF_ECONFLICT, "%s",
               err.message);
  cr_expect_eq(finish(st, "PASS", NULL, &err), QF_ECONFLICT, "%s", err.message);
  cr_expect_not_null(strstr(err.message, "already awaiting_approval"), "%s",
                     err.message);
  cr_expect_str_eq(qf_st_query1(db, "SELECT count(*) FROM approvals", NULL),
                   "1");
  cJSON *cp = cJSON_CreateObject();
  cr_expect_eq(qf_store_checkpoint(st, RUN_ID, "gate", cp, 1, &err),
               QF_ECONFLICT);
  cJSON_Delete(cp);
  qf_store_close(st);
}

/* A status this worker does not know (a newer migration's) is an error on
 * both reads of a run row, never mistaken for a run just received. */
Test(store, an_unknown_status_fails_both_reads_of_the_run) {
  qf_store_t *st = qf_st_open();
  qf_run_row_t row;
  int created;
  claim(st, "host:1", &row, &created);
  qf_run_row_fini(&row);
  qf_error_t err;
  cJSON *msg = NULL;
  cr_assert_eq(finish(st, "NEED_HITL", &msg, &err), 0, "%s", err.message);
  const cJSON *mid = cJSON_GetObjectItemCaseSensitive(msg, "approval_id");
  cr_assert(cJSON_IsString(mid));
  char id[64];
  snprintf(id, sizeof id, "%s", mid->valuestring);
  cJSON_Delete(msg);
  /* Only the column's CHECK stands in the way of such a row. */
  cr_assert_str_eq(
      qf_st_admin1("ALTER TABLE runs DROP CONSTRAINT runs_status_check", NULL),
      "");
  cr_assert_str_eq(
      qf_st_admin1("ALTER TABLE runs DISABLE TRIGGER runs_guard", NULL), "");
  cr_assert_str_eq(qf_st_admin1("UPDATE runs SET status = 'paused'", NULL), "");

  cr_expect_eq(qf_store_load(st, RUN_ID, &row, &err), QF_EINTERNAL, "%s",
               err.message);
  cr_expect_not_null(strstr(err.message, RUN_ID), "%s", err.message);
  cr_expect_not_null(strstr(err.message, "unknown status paused"), "%s",
                     err.message);
  qf_run_row_fini(&row);

  qf_resume_row_t r;
  cr_expect_eq(qf_store_load_resume(st, RUN_ID, id, &r, &err), QF_EINTERNAL,
               "%s", err.message);
  cr_expect_not_null(strstr(err.message, RUN_ID), "%s", err.message);
  cr_expect_not_null(strstr(err.message, "unknown status paused"), "%s",
                     err.message);
  qf_resume_row_fini(&r);
  qf_store_close(st);
}

Test(store, run_events_record_each_step_in_order_with_the_worker) {
  qf_store_t *st = qf_st_open();
  qf_run_row_t row;
  int created;
  claim(st, "host:7", &row, &created);
  qf_run_row_fini(&row);
  checkpoint(st, "normalize", 5);
  checkpoint(st, "plan", 250);
  qf_error_t err;
  cr_assert_eq(finish(st, "NEED_HITL", NULL, &err), 0, "%s", err.message);
  qf_db_t *db = qf_store_db(st);
  /* The actor is the database's word (the session user); the worker's name
   * for itself follows as its claim. */
  char me[128], want[1024];
  snprintf(me, sizeof me, "%s", qf_st_query1(db, "SELECT session_user", NULL));
  snprintf(want, sizeof want,
           "claimed/%s (host:7),node.normalize/%s (host:7),node.plan/%s "
           "(host:7),parked/%s (host:7)",
           me, me, me, me);
  cr_expect_str_eq(
      qf_st_query1(db,
                   "SELECT string_agg(event || '/' || actor, ',' ORDER "
                   "BY id) FROM run_events WHERE run_id = $1",
                   RUN_ID),
      want);
  cr_expect_str_eq(
      qf_st_query1(db,
                   "SELECT string_agg(coalesce(data ->> 'attempt', "
                   "data ->> 'duration_ms', data ->> 'decision'), ',' "
                   "ORDER BY id) FROM run_events",
                   NULL),
      "1,5,250,NEED_HITL");
  cr_expect_str_eq(
      qf_st_query1(db,
                   "SELECT (e.data ->> 'approval_id') = a.id::text "
                   "FROM run_events e, approvals a WHERE e.event = "
                   "'parked'",
                   NULL),
      "t");
  cr_expect_str_eq(
      qf_st_query1(db,
                   "SELECT data ->> 'worker' FROM run_events WHERE "
                   "event = 'claimed'",
                   NULL),
      "host:7");
  qf_store_close(st);
}

/* A child of the race: finishes the run on its own connection and exits
 * 0 when it won, 1 on QF_ECONFLICT, 2 otherwise. */
static void racer(const char *decision) {
  qf_store_t *st = NULL;
  qf_error_t err;
  if (qf_store_open(qf_st_wurl, "qf-racer", &st, &err) < 0) _exit(3);
  fin_t x;
  finish_init(&x, decision);
  int rc = qf_store_finish(st, &x.f, NULL, NULL, &err);
  finish_fini(&x);
  qf_store_close(st);
  if (rc < 0 && rc != QF_ECONFLICT) fprintf(stderr, "racer: %s\n", err.message);
  _exit(rc == 0 ? 0 : rc == QF_ECONFLICT ? 1 : 2);
}

static void wait_for_lock_waiters(qf_db_t *db, const char *want) {
  for (int i = 0; i < 200; i++) {
    if (strcmp(
            qf_st_query1(db,
                         "SELECT count(*) FROM pg_stat_activity WHERE "
                         "application_name = 'qf-racer' AND wait_event_type = "
                         "'Lock'",
                         NULL),
            want) == 0)
      return;
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  cr_assert_fail("the racers never all waited on the run's lock");
}

Test(store, racing_finishes_commit_exactly_once) {
  static const char *const decisions[] = {"NEED_HITL", "PASS", "NEED_HITL"};
  enum { N = 3 };
  qf_store_t *st = qf_st_open();
  qf_run_row_t row;
  int created;
  claim(st, "host:1", &row, &created);
  qf_run_row_fini(&row);
  /* The starting gate: a transaction holding the run's row lock, so every
   * racer is inside its own transaction, blocked, before any can commit. */
  qf_db_t *gate = qf_st_connect_as(qf_st_url);
  cr_assert_str_eq(qf_st_query1(gate, "BEGIN", NULL), "");
  cr_assert_str_eq(qf_st_query1(gate,
                                "SELECT status FROM runs WHERE run_id = $1 FOR "
                                "UPDATE",
                                RUN_ID),
                   "received");
  pid_t pids[N];
  for (int i = 0; i < N; i++) {
    pids[i] = fork();
    cr_assert_geq(pids[i], 0);
    if (pids[i] == 0) racer(decisions[i]);
  }
  qf_db_t *db = qf_st_connect_as(qf_st_url);
  wait_for_lock_waiters(db, "3");
  cr_assert_str_eq(qf_st_query1(gate, "COMMIT", NULL), "");
  int winners = 0, losers = 0, winner = -1;
  for (int i = 0; i < N; i++) {
    int status;
    cr_assert_eq(waitpid(pids[i], &status, 0), pids[i]);
    cr_assert(WIFEXITED(status));
    if (WEXITSTATUS(status) == 0) winners++, winner = i;
    if (WEXITSTATUS(status) == 1) losers++;
  }
  cr_assert_eq(winners, 1);
  cr_expect_eq(losers, N - 1, "the others see QF_ECONFLICT");
  int hitl = strcmp(decisions[winner], "NEED_HITL") == 0;
  cr_expect_str_eq(qf_st_query1(db, "SELECT count(*) FROM approvals", NULL),
                   hitl ? "1" : "0", "no orphan approval from a loser");
  cr_expect_str_eq(
      qf_st_query1(db,
                   "SELECT count(*) FROM run_events WHERE event IN "
                   "('decided', 'parked')",
                   NULL),
      "1");
  cr_expect_str_eq(qf_st_query1(db, "SELECT decision FROM runs", NULL),
                   decisions[winner]);
  if (hitl)
    cr_expect_str_eq(qf_st_query1(db,
                                  "SELECT r.approval_id = a.id FROM runs r, "
                                  "approvals a",
                                  NULL),
                     "t");
  qf_db_free(db);
  qf_db_free(gate);
  qf_store_close(st);
}

/* Ends the store's server session from an admin connection, waiting until
 * the backend is gone. */
static void terminate(qf_store_t *st) {
  char pid[32];
  snprintf(pid, sizeof pid, "%d", PQbackendPID(qf_db_conn(qf_store_db(st))));
  cr_assert_str_eq(
      qf_st_admin1("SELECT pg_terminate_backend($1::integer, 5000)", pid), "t");
}

Test(store, lost_connection_is_reported_and_reconnect_restores_service) {
  qf_store_t *st = qf_st_open();
  qf_run_row_t row;
  int created;
  qf_error_t err;
  claim(st, "host:1", &row, &created);
  qf_run_row_fini(&row);
  qf_db_t *before = qf_store_db(st);
  cr_expect_eq(qf_store_reconnect(st, &err), 0, "%s", err.message);
  cr_expect_eq(qf_store_db(st), before, "a healthy session is kept");

  terminate(st);
  qf_claim_t c = claim_of("host:1");
  cr_expect_eq(qf_store_claim(st, &c, &row, &created, &err), QF_EDBCONN, "%s",
               err.message);
  cJSON *cp = cJSON_CreateObject();
  cr_expect_eq(qf_store_checkpoint(st, RUN_ID, "plan", cp, 1, &err), QF_EDBCONN,
               "%s", err.message);

  cr_assert_eq(qf_store_reconnect(st, &err), 0, "%s", err.message);
  cr_expect_eq(qf_store_checkpoint(st, RUN_ID, "plan", cp, 1, &err), 0, "%s",
               err.message);
  cJSON_Delete(cp);
  claim(st, "host:1", &row, &created);
  cr_expect_eq(row.attempts, 2, "the failed claim did not count");
  cr_expect_eq(row.status, QF_RUN_RUNNING);
  qf_run_row_fini(&row);

  /* Killed while idle: libpq still reports CONNECTION_OK until it talks to
   * the server, so reconnect has to probe. */
  terminate(st);
  cr_assert_eq(PQstatus(qf_db_conn(qf_store_db(st))), CONNECTION_OK);
  cr_assert_eq(qf_store_reconnect(st, &err), 0, "%s", err.message);
  claim(st, "host:1", &row, &created);
  cr_expect_eq(row.attempts, 3);
  qf_run_row_fini(&row);
  qf_store_close(st);
}

Test(store, oversize_documents_are_refused_before_sending) {
  qf_store_t *st = qf_st_open();
  qf_run_row_t row;
  int created;
  qf_error_t err;
  claim(st, "host:1", &row, &created);
  qf_run_row_fini(&row);
  size_t n = 16u * 1024 * 1024 + 1;
  char *big = malloc(n + 1);
  cr_assert_not_null(big);
  memset(big, 'x', n);
  big[n] = '\0';
  cJSON *doc = cJSON_CreateObject();
  cr_assert_not_null(cJSON_AddStringToObject(doc, "log", big));
  free(big);

  cr_expect_eq(qf_store_checkpoint(st, RUN_ID, "execute", doc, 1, &err),
               QF_ETOOBIG, "%s", err.message);
  fin_t x;
  finish_init(&x, "NEED_HITL");
  x.f.evidence = doc;
  cr_expect_eq(qf_store_finish(st, &x.f, NULL, NULL, &err), QF_ETOOBIG, "%s",
               err.message);
  finish_fini(&x);
  cJSON_Delete(doc);

  qf_db_t *db = qf_store_db(st);
  cr_expect_str_eq(
      qf_st_query1(db,
                   "SELECT concat_ws(',', status, checkpoint IS NULL, "
                   "(SELECT count(*) FROM approvals), (SELECT count(*) "
                   "FROM run_events)) FROM runs",
                   NULL),
      "received,t,0,1", "nothing was stored");
  /* Just under the limit is fine. */
  cJSON *ok = cJSON_CreateObject();
  cr_assert_not_null(cJSON_AddStringToObject(ok, "s", "small"));
  cr_expect_eq(qf_store_checkpoint(st, RUN_ID, "execute", ok, 1, &err), 0, "%s",
               err.message);
  cJSON_Delete(ok);
  qf_store_close(st);
}

Test(store, invalid_finishes_are_refused) {
  qf_store_t *st = qf_st_open();
  qf_run_row_t row;
  int created;
  qf_error_t err;
  claim(st, "host:1", &row, &created);
  qf_run_row_fini(&row);
  fin_t x;
  finish_init(&x, "MAYBE");
  cr_expect_eq(qf_store_finish(st, &x.f, NULL, NULL, &err), QF_EINVAL);
  x.f.decision = "NEED_HITL";
  x.f.expires_after_s = 0;
  cr_expect_eq(qf_store_finish(st, &x.f, NULL, NULL, &err), QF_EINVAL);
  x.f.decision = "PASS";
  x.f.decision_message = x.rules; /* an array, not an object */
  cr_expect_eq(qf_store_finish(st, &x.f, NULL, NULL, &err), QF_EINVAL);
  x.f.decision_message = x.message;
  x.f.run_id = "6f1c2f1e-0000-5000-8000-0000000000ff";
  cr_expect_eq(qf_store_finish(st, &x.f, NULL, NULL, &err), QF_ENOENT, "%s",
               err.message);
  finish_fini(&x);
  cr_expect_str_eq(
      qf_st_query1(qf_store_db(st), "SELECT status FROM runs", NULL),
      "received");
  qf_store_close(st);
}
