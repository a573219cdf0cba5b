/* One owner per run (migration 004, store_lease.c) against the real local
 * PostgreSQL, as the worker role: the lease a claim takes, waiters, take-
 * overs, a lease lost, releases, and the runs a sweep ends. Two stores
 * with different owners play two workers. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "store_support.h"
#include "support.h"

#define RUN_ID "6f1c2f1e-0000-5000-8000-00000000000b"
#define REQUEST "{\"repo\": \"acme/app\", \"n\": 2}"

static void setup(void) {
  qf_st_setup("qf_lease");
}
static void teardown(void) {
  qf_st_teardown();
}
TestSuite(store_lease, .init = setup, .fini = teardown, .timeout = 120);

static qf_store_t *worker(const char *owner) {
  qf_store_t *st = qf_st_open();
  cr_assert_eq(qf_store_set_lease(st, owner, 30), 0);
  return st;
}

static int claim(qf_store_t *st, const char *owner, const char *reply_to,
                 int deliveries, qf_run_row_t *row) {
  qf_claim_t c = {.run_id = RUN_ID,
                  .message_id = "m-lease",
                  .request_json = REQUEST,
                  .reply_to = reply_to,
                  .correlation_id = reply_to,
                  .worker = owner,
                  .deliveries = deliveries};
  qf_error_t err;
  int rc = qf_store_claim(st, &c, row, NULL, &err);
  cr_assert_eq(rc, 0, "%s", err.message);
  return rc;
}

static int checkpoint(qf_store_t *st, qf_error_t *err) {
  cJSON *cp = cJSON_Parse("{\"done\": [\"normalize\"]}");
  int rc = qf_store_checkpoint(st, RUN_ID, "plan", cp, 1, err);
  cJSON_Delete(cp);
  return rc;
}

/* The waiters' reply_to values, comma-separated (static buffer). */
static const char *waiters(const qf_run_row_t *row) {
  static char out[512];
  out[0] = '\0';
  const cJSON *w;
  cJSON_ArrayForEach(w, row->waiters) {
    const cJSON *to = cJSON_GetObjectItemCaseSensitive(w, "reply_to");
    strncat(out, out[0] ? "," : "", sizeof out - strlen(out) - 1);
    strncat(out, to->valuestring, sizeof out - strlen(out) - 1);
  }
  return out;
}

static void expire_lease(void) {
  cr_assert_str_eq(qf_st_admin1("UPDATE runs SET lease_expires_at = now() - "
                                "interval '1 minute' RETURNING 1",
                                NULL),
                   "1");
}

Test(store_lease, a_live_lease_makes_a_second_delivery_a_waiter) {
  qf_store_t *a = worker("host:1"), *b = worker("host:2");
  qf_run_row_t row;
  claim(a, "host:1", "reply.a", 0, &row);
  cr_expect_not(row.leased_elsewhere);
  qf_run_row_fini(&row);
  claim(b, "host:2", "reply.b", 0, &row);
  cr_expect(row.leased_elsewhere, "host:1's lease is live");
  cr_expect_str_eq(row.lease_owner, "host:1");
  cr_expect_str_eq(waiters(&row), "reply.a,reply.b",
                   "the run's own reply_to first, then the waiter");
  qf_run_row_fini(&row);
  /* The run's own reply_to is not added twice. */
  claim(b, "host:2", "reply.a", 0, &row);
  cr_expect_str_eq(waiters(&row), "reply.a,reply.b");
  qf_run_row_fini(&row);
  cr_expect_str_eq(
      qf_st_admin1("SELECT attempts || ' ' || worker FROM runs", NULL),
      "1 host:1", "a waiting delivery claims nothing");
  cr_expect_str_eq(qf_st_admin1("SELECT count(*) FROM run_events WHERE event "
                                "= 'waiting'",
                                NULL),
                   "2");
  /* The owner checkpoints and finishes; the finish hands the waiters. */
  qf_error_t err;
  cr_expect_eq(checkpoint(a, &err), 0, "%s", err.message);
  cJSON *msg = cJSON_Parse("{\"decision\": \"PASS\"}"), *w = NULL;
  qf_finish_t f = {.run_id = RUN_ID,
                   .decision = "PASS",
                   .reason = "ok",
                   .decided_by = "gate",
                   .decision_message = msg};
  cr_assert_eq(qf_store_finish(a, &f, NULL, &w, &err), 0, "%s", err.message);
  cr_assert(cJSON_IsArray(w) && cJSON_GetArraySize(w) == 2);
  cJSON_Delete(w);
  cJSON_Delete(msg);
  cr_expect_str_eq(qf_st_admin1("SELECT coalesce(lease_owner, 'none') FROM "
                                "runs",
                                NULL),
                   "none", "a decided run holds no lease");
  qf_store_close(a);
  qf_store_close(b);
}

Test(store_lease, an_expired_lease_is_taken_over_with_the_tool_it_left) {
  qf_store_t *a = worker("host:1"), *b = worker("host:2");
  qf_run_row_t row;
  qf_error_t err;
  claim(a, "host:1", "reply.a", 0, &row);
  qf_run_row_fini(&row);
  qf_tool_trace_t t = {.pgid = 4242, .host = "box/boot", .started = 777};
  cr_assert_eq(qf_store_renew_lease(a, RUN_ID, &t, &err), 0, "%s", err.message);
  expire_lease();
  claim(b, "host:2", "reply.b", 0, &row);
  cr_expect_not(row.leased_elsewhere);
  cr_expect(row.taken_over);
  cr_expect_eq(row.previous.pgid, 4242);
  cr_expect_str_eq(row.previous.host, "box/boot");
  cr_expect_eq(row.previous.started, 777);
  qf_run_row_fini(&row);
  /* The old owner's lease is gone: it may change nothing any more. */
  cr_expect_eq(qf_store_renew_lease(a, RUN_ID, NULL, &err), QF_ECONFLICT);
  cr_expect(strstr(err.message, "host:2") != NULL, "%s", err.message);
  cr_expect_eq(checkpoint(a, &err), QF_ECONFLICT);
  cr_expect_eq(checkpoint(b, &err), 0, "%s", err.message);
  cr_expect_str_eq(qf_st_admin1("SELECT worker || ' ' || coalesce(tool_pgid, "
                                "0) FROM runs",
                                NULL),
                   "host:2 0", "the new owner starts with no tool recorded");
  cr_expect_str_eq(qf_st_admin1("SELECT data->>'owner' FROM run_events WHERE "
                                "event = 'claimed' ORDER BY id DESC LIMIT 1",
                                NULL),
                   "host:1", "the take-over names the previous owner");
  qf_store_close(a);
  qf_store_close(b);
}

Test(store_lease, the_owners_delivery_coming_back_is_taken_at_once) {
  qf_store_t *a = worker("host:1"), *b = worker("host:2");
  qf_run_row_t row;
  claim(a, "host:1", "reply.a", 0, &row);
  qf_run_row_fini(&row);
  /* The broker counts one failed delivery more than the owner claimed:
   * this is the owner's own delivery, returned, not a re-sent copy. */
  claim(b, "host:2", "reply.a", 1, &row);
  cr_expect_not(row.leased_elsewhere);
  cr_expect(row.taken_over);
  qf_run_row_fini(&row);
  cr_expect_str_eq(qf_st_admin1("SELECT lease_owner || ' ' || deliveries "
                                "FROM runs",
                                NULL),
                   "host:2 1");
  qf_store_close(a);
  qf_store_close(b);
}

Test(store_lease, a_released_lease_lets_the_next_delivery_run_it) {
  qf_store_t *a = worker("host:1"), *b = worker("host:2");
  qf_run_row_t row;
  qf_error_t err;
  claim(a, "host:1", "reply.a", 0, &row);
  qf_run_row_fini(&row);
  cr_assert_eq(qf_store_release_lease(b, RUN_ID, &err), 0);
  cr_expect_str_eq(qf_st_admin1("SELECT lease_owner FROM runs", NULL), "host:1",
                   "only the owner's release counts");
  cr_assert_eq(qf_store_release_lease(a, RUN_ID, &err), 0, "%s", err.message);
  /* Given back, its request is queued again: nothing for a sweep. */
  cr_expect_str_eq(qf_st_admin1("SELECT deliveries || ' ' || (updated_at > "
                                "now() - interval '5 s') FROM runs",
                                NULL),
                   "0 true");
  claim(b, "host:2", "reply.b", 0, &row);
  cr_expect_not(row.leased_elsewhere);
  cr_expect_not(row.taken_over, "nobody held it");
  qf_run_row_fini(&row);
  qf_store_close(a);
  qf_store_close(b);
}

static cJSON *error_message(void) {
  return cJSON_Parse("{\"decision\": \"FAIL\", \"decided_by\": \"error\"}");
}

Test(store_lease, a_sweep_ends_only_runs_nobody_will_finish) {
  qf_store_t *a = worker("host:1"), *sweeper = worker("host:9");
  qf_run_row_t row;
  qf_error_t err;
  /* Claimed on the queue's last delivery (limit 3: count 3). */
  claim(a, "host:1", "reply.a", 3, &row);
  qf_run_row_fini(&row);
  qf_sweep_t s = {.grace_s = 0, .stuck_s = 3600, .delivery_limit = 3, .max = 5};
  char ids[5][QF_UUID_STR_LEN + 1];
  cr_expect_eq(qf_store_stuck_runs(sweeper, &s, ids, &err), 0,
               "a live lease is not stuck");
  cJSON *msg = error_message();
  qf_end_t e = {RUN_ID, "error", "abandoned", msg, 0};
  cr_expect_eq(qf_store_end_run(sweeper, &e, NULL, &err), QF_ECONFLICT,
               "a sweep never ends a run under a live lease");
  expire_lease();
  s.delivery_limit = 4;
  cr_expect_eq(qf_store_stuck_runs(sweeper, &s, ids, &err), 0,
               "below the limit the broker delivers it again");
  s.delivery_limit = 3;
  cr_assert_eq(qf_store_stuck_runs(sweeper, &s, ids, &err), 1, "%s",
               err.message);
  cr_expect_str_eq(ids[0], RUN_ID);
  cr_assert_eq(qf_store_end_run(sweeper, &e, &row, &err), 0, "%s", err.message);
  cr_expect_eq(row.status, QF_RUN_DECIDED);
  cr_expect_str_eq(qf_st_admin1("SELECT decision || ' ' || decided_by || ' ' "
                                "|| reason FROM runs",
                                NULL),
                   "FAIL error abandoned");
  qf_run_row_fini(&row);
  cr_expect_eq(qf_store_end_run(sweeper, &e, NULL, &err), QF_ECONFLICT,
               "ended once");
  cJSON_Delete(msg);
  qf_store_close(a);
  qf_store_close(sweeper);
}

Test(store_lease, the_owner_ends_its_run_refused) {
  qf_store_t *a = worker("host:1"), *b = worker("host:2");
  qf_run_row_t row;
  qf_error_t err;
  claim(a, "host:1", "reply.a", 0, &row);
  qf_run_row_fini(&row);
  cJSON *msg = error_message();
  qf_end_t e = {RUN_ID, "refused", "workspace: no such directory", msg, 1};
  cr_expect_eq(qf_store_end_run(b, &e, NULL, &err), QF_ECONFLICT,
               "not b's run");
  cr_assert_eq(qf_store_end_run(a, &e, NULL, &err), 0, "%s", err.message);
  cr_expect_str_eq(qf_st_admin1("SELECT decided_by FROM runs", NULL),
                   "refused");
  e.decided_by = "gate";
  cr_expect_eq(qf_store_end_run(a, &e, NULL, &err), QF_EINVAL,
               "only refused or error end a run without its gate");
  cJSON_Delete(msg);
  qf_store_close(a);
  qf_store_close(b);
}

Test(store_lease, a_parked_run_with_a_pending_approval_cannot_end_in_error) {
  qf_store_t *a = worker("host:1");
  qf_run_row_t row;
  qf_error_t err;
  claim(a, "host:1", "reply.a", 0, &row);
  qf_run_row_fini(&row);
  cJSON *m = cJSON_Parse("{\"decision\": \"NEED_HITL\"}");
  qf_finish_t f = {.run_id = RUN_ID,
                   .decision = "NEED_HITL",
                   .reason = "risky",
                   .decided_by = "gate",
                   .decision_message = m,
                   .triggered_rule = "prod",
                   .expires_after_s = 60};
  cr_assert_eq(qf_store_finish(a, &f, NULL, NULL, &err), 0, "%s", err.message);
  cJSON_Delete(m);
  cJSON *msg = error_message();
  qf_end_t e = {RUN_ID, "error", "abandoned", msg, 0};
  cr_expect_lt(qf_store_end_run(a, &e, NULL, &err), 0,
               "a human decides this run, not a sweep");
  cr_expect_str_eq(qf_st_admin1("SELECT status FROM runs", NULL),
                   "awaiting_approval");
  /* A second delivery of the parked request becomes a waiter for the
   * human's decision. */
  claim(a, "host:1", "reply.b", 0, &row);
  cr_expect_str_eq(waiters(&row), "reply.a,reply.b");
  qf_run_row_fini(&row);
  cJSON_Delete(msg);
  qf_store_close(a);
}

/* A waiter added after the run was decided would never be answered: the
 * store says so, and the caller re-publishes the decision instead. */
Test(store_lease, a_waiter_for_a_decided_run_is_refused) {
  qf_store_t *a = worker("host:1");
  qf_run_row_t row;
  qf_error_t err;
  claim(a, "host:1", "reply.a", 0, &row);
  qf_run_row_fini(&row);
  cr_expect_eq(qf_store_add_waiter(a, RUN_ID, "reply.c", NULL, &err), 0, "%s",
               err.message);
  cJSON *msg = cJSON_Parse("{\"decision\": \"PASS\"}");
  qf_finish_t f = {.run_id = RUN_ID,
                   .decision = "PASS",
                   .reason = "ok",
                   .decided_by = "gate",
                   .decision_message = msg};
  cJSON *w = NULL;
  cr_assert_eq(qf_store_finish(a, &f, NULL, &w, &err), 0, "%s", err.message);
  cr_expect_eq(cJSON_GetArraySize(w), 2, "reply.a and reply.c");
  cJSON_Delete(w);
  cJSON_Delete(msg);
  cr_expect_eq(qf_store_add_waiter(a, RUN_ID, "reply.d", NULL, &err),
               QF_ECONFLICT);
  qf_store_close(a);
}
