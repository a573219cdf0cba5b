/* A run that ran no tool, recorded in one statement (qf_store_record_*),
 * against the real local PostgreSQL as a role that is only a member of
 * qf_worker: the run row in its final state, its approval, its events, one
 * transaction per record alone and one for a batch, and a run that exists
 * already left alone. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qf/store.h"
#include "store_support.h"

static void setup(void) {
  qf_st_setup("qf_store_record");
}

static void teardown(void) {
  qf_st_teardown();
}

TestSuite(store_record, .init = setup, .fini = teardown, .timeout = 120);

/* The run ids of this suite: ...0001, ...0002, ... */
static const char *run_id(int i) {
  static char ids[8][QF_UUID_STR_LEN + 1];
  snprintf(ids[i], sizeof ids[i], "6f1c2f1e-0000-5000-8000-%012d", i + 1);
  return ids[i];
}

typedef struct rec {
  qf_claim_t c;
  qf_finish_t f;
  cJSON *rules, *evidence, *message, *node_ms;
  const char *approvers[2];
  qf_record_t r;
} rec_t;

/* Prepares the record of run i with decision d. */
static void rec_init(rec_t *x, int i, const char *d) {
  memset(x, 0, sizeof *x);
  x->rules = cJSON_Parse("[\"dry_run\"]");
  x->evidence = cJSON_Parse("{\"summary\": {\"tests\": 0}, \"dry_run\": true}");
  x->node_ms = cJSON_Parse("{\"plan\": 1, \"gate\": 2}");
  x->message = cJSON_CreateObject();
  cr_assert(x->rules && x->evidence && x->node_ms && x->message);
  cJSON_AddStringToObject(x->message, "run_id", run_id(i));
  cJSON_AddStringToObject(x->message, "decision", d);
  cJSON_AddNullToObject(x->message, "approval_id");
  x->approvers[0] = "alice";
  x->approvers[1] = "bob";
  x->c = (qf_claim_t){.run_id = run_id(i),
                      .message_id = "msg",
                      .request_json = "{\"nl_input\": \"run the tests\"}",
                      .requested_by = "ci",
                      .reply_to = "qf.replies",
                      .correlation_id = "corr",
                      .worker = "host:7"};
  x->f = (qf_finish_t){.run_id = run_id(i),
                       .decision = d,
                       .reason = "dry run",
                       .triggered_rules = x->rules,
                       .decided_by = "gate",
                       .evidence = x->evidence,
                       .evidence_path = "/var/lib/qf/e.json",
                       .policy_version = "1.0",
                       .policy_hash = "abc",
                       .decision_message = x->message,
                       .stage = "after_execute",
                       .triggered_rule = "prod_deploy",
                       .requested_by = "ci",
                       .expires_after_s = 3600,
                       .approvers = x->approvers,
                       .napprovers = 2,
                       .prevent_self_approval = 1,
                       .node_ms = x->node_ms};
  qf_error_t err;
  cr_assert_eq(qf_store_record_prepare(&x->c, &x->f, &x->r, &err), 0, "%s",
               err.message);
}

static void rec_fini(rec_t *x) {
  qf_store_record_fini(&x->r);
  cJSON_Delete(x->rules);
  cJSON_Delete(x->evidence);
  cJSON_Delete(x->message);
  cJSON_Delete(x->node_ms);
}

static void count_call(void *ctx) {
  (*(int *)ctx)++;
}

/* Commits, checking that the work meant for the wait ran once. */
static void commit(qf_store_t *st, rec_t **x, size_t n) {
  qf_record_t *r[8];
  for (size_t i = 0; i < n; i++)
    r[i] = &x[i]->r;
  qf_error_t err;
  int calls = 0;
  cr_assert_eq(qf_store_record_commit(st, r, n, count_call, &calls, &err), 0,
               "%s", err.message);
  cr_assert_eq(calls, 1, "meanwhile runs once while the commit is sent");
}

Test(store_record, a_pass_is_one_transaction_with_both_events) {
  qf_store_t *st = qf_st_open();
  rec_t x, *p = &x;
  rec_init(&x, 0, "PASS");
  cr_expect_str_eq(x.r.approval_id, "", "no approval for a PASS");
  long long before = qf_db_round_trips(qf_store_db(st));
  commit(st, &p, 1);
  cr_expect_eq(qf_db_round_trips(qf_store_db(st)) - before, 2,
               "prepared once, then one round trip");
  cr_expect(x.r.inserted);
  cr_expect_str_eq(
      qf_st_admin1("SELECT concat_ws(',', status, decision, final, decided_by, "
                   "decided_at IS NOT NULL, attempts, worker, lease_owner IS "
                   "NULL, evidence->'summary'->>'tests', requested_by, "
                   "decision_message->>'decision') FROM runs",
                   NULL),
      "decided,PASS,t,gate,t,1,host:7,t,0,ci,PASS");
  /* One transaction: the row and both events carry the same xmin. */
  cr_expect_str_eq(
      qf_st_admin1("SELECT string_agg(e.event || ':' || (e.xmin = r.xmin), "
                   "',' ORDER BY e.id) FROM run_events e JOIN runs r USING "
                   "(run_id)",
                   NULL),
      "claimed:true,decided:true");
  cr_expect_str_eq(
      qf_st_admin1(
          "SELECT (data->'node_ms'->>'gate') || (data->>'decision') FROM "
          "run_events WHERE event = 'decided'",
          NULL),
      "2PASS");
  cr_expect_str_eq(qf_st_admin1("SELECT count(*) FROM approvals", NULL), "0");
  rec_fini(&x);
  qf_store_close(st);
}

Test(store_record, need_hitl_parks_with_the_approval_the_message_names) {
  qf_store_t *st = qf_st_open();
  rec_t x, *p = &x;
  rec_init(&x, 0, "NEED_HITL");
  cr_assert_eq(strlen(x.r.approval_id), 36);
  const cJSON *mid =
      cJSON_GetObjectItemCaseSensitive(x.r.message, "approval_id");
  cr_assert(cJSON_IsString(mid));
  cr_expect_str_eq(mid->valuestring, x.r.approval_id);
  commit(st, &p, 1);
  cr_expect(x.r.inserted);
  char want[300];
  snprintf(want, sizeof want, "awaiting_approval,f,t,%s,%s", x.r.approval_id,
           x.r.approval_id);
  cr_expect_str_eq(
      qf_st_admin1("SELECT concat_ws(',', status, final, decided_at IS NULL, "
                   "approval_id, decision_message->>'approval_id') FROM runs",
                   NULL),
      want);
  snprintf(want, sizeof want,
           "%s,pending,after_execute,prod_deploy,ci,{alice,"
           "bob},t,t",
           x.r.approval_id);
  cr_expect_str_eq(
      qf_st_admin1("SELECT concat_ws(',', id, status, stage, triggered_rule, "
                   "requested_by, approvers, prevent_self_approval, "
                   "abs(extract(epoch FROM expires_at - now()) - 3600) < 30) "
                   "FROM approvals",
                   NULL),
      want);
  cr_expect_str_eq(qf_st_admin1("SELECT string_agg(event, ',' ORDER BY id) "
                                "FROM run_events",
                                NULL),
                   "claimed,parked");
  rec_fini(&x);
  qf_store_close(st);
}

Test(store_record, a_run_that_exists_is_left_alone) {
  qf_store_t *st = qf_st_open();
  rec_t a, b, *pa = &a, *pb = &b;
  rec_init(&a, 0, "NEED_HITL");
  rec_init(&b, 0, "PASS"); /* the same run, decided otherwise */
  commit(st, &pa, 1);
  commit(st, &pb, 1);
  cr_expect(a.r.inserted);
  cr_expect_not(b.r.inserted, "a second record of the run inserts nothing");
  cr_expect_str_eq(
      qf_st_admin1("SELECT status || ',' || decision FROM runs", NULL),
      "awaiting_approval,NEED_HITL");
  cr_expect_str_eq(qf_st_admin1("SELECT count(*) FROM run_events", NULL), "2");
  cr_expect_str_eq(qf_st_admin1("SELECT count(*) FROM approvals", NULL), "1");
  rec_fini(&a);
  rec_fini(&b);
  qf_store_close(st);
}

Test(store_record, a_batch_is_one_commit_in_one_round_trip) {
  qf_store_t *st = qf_st_open();
  rec_t x[4], *p[4];
  const char *d[] = {"PASS", "NEED_HITL", "FAIL", "PASS"};
  for (int i = 0; i < 4; i++)
    p[i] = &x[i];
  rec_init(&x[2], 2, "PASS"); /* recorded before: the batch leaves it */
  commit(st, &p[2], 1);
  rec_fini(&x[2]);
  for (int i = 0; i < 4; i++)
    rec_init(&x[i], i, d[i]);
  long long before = qf_db_round_trips(qf_store_db(st));
  commit(st, p, 4);
  cr_expect_eq(qf_db_round_trips(qf_store_db(st)) - before, 1,
               "a prepared batch is one round trip");
  for (int i = 0; i < 4; i++)
    cr_expect_eq(x[i].r.inserted, i != 2, "run %d", i);
  cr_expect_str_eq(qf_st_admin1("SELECT count(*) FROM runs", NULL), "4");
  /* Runs 0, 1 and 3 came in the batch: one transaction for the three. */
  cr_expect_str_eq(qf_st_admin1("SELECT count(DISTINCT xmin::text) FROM runs "
                                "WHERE run_id <> $1",
                                run_id(2)),
                   "1");
  cr_expect_str_eq(qf_st_admin1("SELECT count(*) FROM run_events", NULL), "8");
  /* Each run's events together, the runs in the batch's order. */
  cr_expect_str_eq(qf_st_admin1("SELECT string_agg(right(run_id::text, 1) || "
                                "event, ',' ORDER BY id) FROM run_events "
                                "WHERE run_id <> $1",
                                run_id(2)),
                   "1claimed,1decided,2claimed,2parked,4claimed,4decided");
  cr_expect_str_eq(qf_st_admin1("SELECT count(*) FROM approvals", NULL), "1");
  cr_expect_str_eq(
      qf_st_admin1("SELECT decision FROM runs WHERE run_id = $1", run_id(2)),
      "PASS", "the earlier record of run 2 stands");
  for (int i = 0; i < 4; i++)
    rec_fini(&x[i]);
  qf_store_close(st);
}

Test(store_record, a_failing_batch_records_nothing) {
  qf_store_t *st = qf_st_open();
  rec_t x[2], *p[2] = {&x[0], &x[1]};
  rec_init(&x[0], 0, "PASS");
  rec_init(&x[1], 1, "PASS");
  free(x[1].r.text[8]); /* the decision: runs_decision_check refuses it */
  x[1].r.text[8] = strdup("MAYBE");
  qf_record_t *r[2] = {&x[0].r, &x[1].r};
  qf_error_t err;
  int rc = qf_store_record_commit(st, r, 2, NULL, NULL, &err);
  cr_expect(rc < 0, "a run the database refuses fails the batch");
  cr_expect(strstr(err.message, "runs_decision_check") != NULL, "%s",
            err.message);
  cr_expect_str_eq(qf_st_admin1("SELECT count(*) FROM runs", NULL), "0",
                   "rolled back whole");
  /* The connection is usable again, in no transaction or pipeline. */
  commit(st, p, 1);
  cr_expect(x[0].r.inserted);
  rec_fini(&x[0]);
  rec_fini(&x[1]);
  qf_store_close(st);
}

Test(store_record, two_records_of_one_run_in_a_batch_insert_the_first) {
  qf_store_t *st = qf_st_open();
  rec_t x[3], *p[3] = {&x[0], &x[1], &x[2]};
  rec_init(&x[0], 0, "NEED_HITL");
  rec_init(&x[1], 1, "PASS");
  rec_init(&x[2], 0, "PASS"); /* a second delivery of run 0 */
  commit(st, p, 3);
  cr_expect(x[0].r.inserted);
  cr_expect(x[1].r.inserted);
  cr_expect_not(x[2].r.inserted, "the later copy goes the claiming way");
  cr_expect_str_eq(
      qf_st_admin1("SELECT decision FROM runs WHERE run_id = $1", run_id(0)),
      "NEED_HITL");
  cr_expect_str_eq(qf_st_admin1("SELECT string_agg(event, ',' ORDER BY id) "
                                "FROM run_events WHERE run_id = $1",
                                run_id(0)),
                   "claimed,parked", "one claim and one park, in order");
  cr_expect_str_eq(qf_st_admin1("SELECT count(*) FROM approvals", NULL), "1");
  for (int i = 0; i < 3; i++)
    rec_fini(&x[i]);
  qf_store_close(st);
}

/* The batch goes to PostgreSQL as one JSON document: strings with quotes,
 * backslashes, control characters and non-ASCII come out as they went in. */
Test(store_record, strings_are_stored_as_they_are) {
  qf_store_t *st = qf_st_open();
  static const char odd[] = "say \"hi\" \\ \\u0041\n\ttab \x01 caf\xc3\xa9";
  rec_t x, *p = &x;
  rec_init(&x, 0, "NEED_HITL");
  x.c.correlation_id = odd;
  x.f.reason = odd;
  x.c.requested_by = "o'brien \"ci\"";
  qf_store_record_fini(&x.r);
  qf_error_t err;
  cr_assert_eq(qf_store_record_prepare(&x.c, &x.f, &x.r, &err), 0, "%s",
               err.message);
  commit(st, &p, 1);
  cr_expect_str_eq(qf_st_admin1("SELECT correlation_id FROM runs", NULL), odd);
  cr_expect_str_eq(qf_st_admin1("SELECT reason FROM runs", NULL), odd);
  cr_expect_str_eq(qf_st_admin1("SELECT requested_by FROM approvals", NULL),
                   "o'brien \"ci\"");
  cr_expect_str_eq(qf_st_admin1("SELECT approvers::text FROM approvals", NULL),
                   "{alice,bob}");
  rec_fini(&x);
  qf_store_close(st);
}
