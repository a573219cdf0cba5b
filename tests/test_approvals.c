/* Approvals against the real local PostgreSQL and RabbitMQ: `qf approvals`,
 * `qf approval show`, `qf approve`, `qf reject` as login roles created per
 * test (two approvers, a worker, and one in neither group), and the
 * approver process's sweeps (qf_approvals_expire_due,
 * qf_approvals_claim_unpublished) as a role that is only a member of
 * qf_approver. */
#include <amqp.h>
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qf/amqp.h"
#include "qf/approvals.h"
#include "qf/resume_msg.h"
#include "support.h"

#define DEFAULT_POLICY QF_SOURCE_DIR "/policy/default.yaml"

static char url[512]; /* the test database, as the superuser */
enum { ALICE, BOB, CI, EVE, NROLES };
static char role[NROLES][64]; /* login role names, unique per process */
static char role_url[NROLES][600];
static char prefix[64];    /* topology prefix, unique per test */
static char exchange[128]; /* <prefix>.requests */

static qf_db_t *connect_as(const char *u) {
  qf_db_t *db = NULL;
  qf_error_t err;
  cr_assert_eq(qf_db_connect(u, "qf-test", &db, &err), 0, "%s", err.message);
  return db;
}

/* Runs sql with up to two parameters; returns the first value of the first
 * row (static buffer; "" for no row, "NULL" for SQL NULL) or the QF code's
 * name when it fails. */
static const char *query(qf_db_t *db, const char *sql, const char *p1,
                         const char *p2) {
  static char out[4096];
  PGresult *res = NULL;
  qf_error_t err;
  const char *p[] = {p1, p2};
  int n = p2 ? 2 : p1 ? 1 : 0;
  int rc = qf_db_exec(db, sql, n, n ? p : NULL, &res, &err);
  if (rc < 0) {
    snprintf(out, sizeof out, "%s", qf_err_name(rc));
    return out;
  }
  if (PQntuples(res) == 0 || PQnfields(res) == 0)
    out[0] = '\0';
  else
    snprintf(out, sizeof out, "%s",
             PQgetisnull(res, 0, 0) ? "NULL" : PQgetvalue(res, 0, 0));
  PQclear(res);
  return out;
}

/* query on a fresh superuser connection to the test database. */
static const char *admin(const char *sql, const char *p1, const char *p2) {
  static char out[4096];
  qf_db_t *db = connect_as(url);
  snprintf(out, sizeof out, "%s", query(db, sql, p1, p2));
  qf_db_free(db);
  return out;
}

/* A decision written behind the rules' back, for fixtures only: the
 * administrator disables the triggers for its session (superusers may not
 * decide by the rules themselves). set: "status = ..., ..." */
static void admin_decided(const char *set, const char *id1, const char *id2) {
  char sql[512];
  snprintf(sql, sizeof sql,
           "UPDATE approvals SET %s, decided_by = 'fixture', decided_at = "
           "now() WHERE id IN ($1%s)",
           set, id2 ? ", $2" : "");
  qf_db_t *db = connect_as(url);
  cr_assert_str_eq(
      query(db, "SET session_replication_role = replica", NULL, NULL), "");
  cr_assert_str_eq(query(db, sql, id1, id2), "");
  qf_db_free(db);
}

static void admin_server(const char *sql) {
  qf_db_t *db = connect_as(qf_test_require_env("QF_DATABASE_URL"));
  (void)query(db, sql, NULL, NULL);
  qf_db_free(db);
}

static void make_role(int i, const char *tag, const char *group) {
  char sql[256];
  snprintf(role[i], sizeof role[i], "qf_t_ap_%s%ld", tag, (long)getpid());
  snprintf(sql, sizeof sql, "DROP ROLE IF EXISTS %s", role[i]);
  admin_server(sql);
  snprintf(sql, sizeof sql, "CREATE ROLE %s LOGIN PASSWORD 'pw-%s'%s%s",
           role[i], role[i], group ? " IN ROLE " : "", group ? group : "");
  cr_assert_str_eq(admin(sql, NULL, NULL), "", "%s", sql);
  char pw[96];
  snprintf(pw, sizeof pw, "pw-%s", role[i]);
  qf_test_db_url_as(url, role[i], pw, role_url[i], sizeof role_url[i]);
}

static void setup(void) {
  static int counter;
  qf_test_db_create("qf_appr", url, sizeof url);
  char env_url[600];
  snprintf(env_url, sizeof env_url, "QF_DATABASE_URL=%s", url);
  const char *const env[] = {env_url, NULL};
  const char *argv[] = {
      QF_TEST_BIN, "migrate", "--quiet", "--dir", QF_SOURCE_DIR "/migrations",
      NULL};
  qf_test_proc_t p;
  qf_test_run(argv, env, 120, &p);
  cr_assert_eq(p.status, 0, "qf migrate: %s", p.err.data);
  qf_test_proc_fini(&p);
  make_role(ALICE, "alice", "qf_approver");
  make_role(BOB, "bob", "qf_approver");
  make_role(CI, "ci", "qf_worker");
  make_role(EVE, "eve", NULL);
  snprintf(prefix, sizeof prefix, "qft_ap%ld_%d", (long)getpid(), counter++);
  snprintf(exchange, sizeof exchange, "%s.requests", prefix);
}

static qf_amqp_t *amqp_connect_plain(void) {
  qf_amqp_opts_t o = {.url = qf_test_require_env("QF_AMQP_URL"),
                      .connection_name = "qf-test-approvals"};
  qf_amqp_t *c = NULL;
  qf_error_t err;
  cr_assert_eq(qf_amqp_connect(&o, &c, &err), 0, "%s", err.message);
  return c;
}

static void teardown(void) {
  qf_test_db_drop(url);
  char sql[128];
  for (int i = 0; i < NROLES; i++) {
    snprintf(sql, sizeof sql, "DROP ROLE IF EXISTS %.63s", role[i]);
    admin_server(sql);
  }
  /* The test declared <prefix>.requests (durable): remove it. */
  qf_amqp_t *c = amqp_connect_plain();
  amqp_exchange_delete(qf_amqp_state(c), 1, amqp_cstring_bytes(exchange), 0);
  qf_error_t err;
  if (qf_amqp_rpc_check(c, "exchange.delete", &err) < 0)
    fprintf(stderr, "exchange.delete %s: %s\n", exchange, err.message);
  qf_amqp_free(c);
}

TestSuite(approvals, .init = setup, .fini = teardown, .timeout = 240);

/* ---------------------------------------------------------------- seeds */

typedef struct seeded {
  char run_id[64], id[64];
} seeded_t;

/* A parked run (NEED_HITL, awaiting approval) and its pending approval
 * requested by requested_by, decided by the rules the worker would have
 * stored (approvers: an array literal such as "{bob}", or NULL for any
 * approver); expired: the deadline has passed already. */
#define COMMIT "0123456789abcdef0123456789abcdef01234567"

static seeded_t seed_rules(const char *requested_by, int expired,
                           const char *approvers) {
  seeded_t s;
  snprintf(s.run_id, sizeof s.run_id, "%.40s",
           admin("INSERT INTO runs (run_id, message_id, status, request, "
                 "evidence, evidence_path, decision, reason, final, "
                 "decided_by, decision_message, requested_by, "
                 "correlation_id) VALUES (gen_random_uuid(), 'msg-1', "
                 "'awaiting_approval', '{\"nl_input\": \"deploy the release "
                 "to prod\", \"options\": {\"tool_name\": \"run_pytest\", "
                 "\"args\": {\"test_path\": \"tests/cart\"}}, \"workspace\": "
                 "\"shop\"}', "
                 "'{\"summary\": {\"tests\": 42, \"failed\": 0}, "
                 "\"failures\": [{\"name\": \"test_cents\", \"message\": "
                 "\"assert 2 == 2.5\"}], \"source\": {\"kind\": \"git\", "
                 "\"repo\": \"https://git.example/shop.git\", \"ref\": "
                 "\"main\", \"commit\": \"" COMMIT "\"}}', "
                 "'/srv/artifacts/r1/evidence.json', 'NEED_HITL', "
                 "'high-risk request', false, 'gate', '{}', $1, 'corr-7') "
                 "RETURNING run_id",
                 requested_by, NULL));
  cr_assert_eq(strlen(s.run_id), 36, "seed run: %s", s.run_id);
  char sql[512];
  snprintf(sql, sizeof sql,
           "INSERT INTO approvals (run_id, triggered_rule, requested_by, "
           "created_at, expires_at, approvers) VALUES ($1, "
           "'high_risk_keyword:prod', $2, %s, '%s') RETURNING id",
           expired ? "now() - interval '2 hours', now() - interval '1 hour'"
                   : "now(), now() + interval '1 hour'",
           approvers ? approvers : "{}");
  snprintf(s.id, sizeof s.id, "%.40s", admin(sql, s.run_id, requested_by));
  cr_assert_eq(strlen(s.id), 36, "seed approval: %s", s.id);
  return s;
}

static seeded_t seed(const char *requested_by, int expired) {
  return seed_rules(requested_by, expired, NULL);
}

static const char *approval_col(const char *id, const char *col) {
  char sql[256];
  snprintf(sql, sizeof sql, "SELECT %s::text FROM approvals WHERE id = $1",
           col);
  return admin(sql, id, NULL);
}

/* ------------------------------------------------------------- running */

/* Runs qf as login role who with the test's topology; extra args after
 * the subcommand. amqp_url NULL: the local broker. */
static void qf_as(int who, const char *policy, const char *amqp_url,
                  const char *const *args, qf_test_proc_t *p) {
  char e_db[700], e_amqp[600], e_prefix[128], e_policy[600];
  snprintf(e_db, sizeof e_db, "QF_DATABASE_URL=%s", role_url[who]);
  snprintf(e_amqp, sizeof e_amqp, "QF_AMQP_URL=%s",
           amqp_url ? amqp_url : qf_test_require_env("QF_AMQP_URL"));
  snprintf(e_prefix, sizeof e_prefix, "QF_TOPOLOGY_PREFIX=%s", prefix);
  snprintf(e_policy, sizeof e_policy, "QF_POLICY=%s",
           policy ? policy : DEFAULT_POLICY);
  const char *const env[] = {
      e_db, e_amqp, e_prefix, e_policy, "QF_PUBLISH_TIMEOUT_S=10", NULL};
  const char *argv[16] = {QF_TEST_BIN};
  size_t n = 1;
  for (size_t i = 0; args[i] && n < 15; i++)
    argv[n++] = args[i];
  argv[n] = NULL;
  qf_test_run(argv, env, 120, p);
}

/* A server-named queue bound to <prefix>.requests "resume" (the test
 * declares the exchange: no worker runs here). */
static qf_amqp_t *resume_queue(char **queue) {
  qf_amqp_t *c = amqp_connect_plain();
  qf_error_t err;
  cr_assert_eq(qf_amqp_declare_exchange(c, exchange, "direct", &err), 0, "%s",
               err.message);
  cr_assert_eq(qf_amqp_declare_queue(c, "", 1, NULL, queue, &err), 0, "%s",
               err.message);
  cr_assert_eq(qf_amqp_bind_queue(c, *queue, exchange, "resume", &err), 0, "%s",
               err.message);
  return c;
}

/* Expects exactly one resume message for s on queue, then none. */
static void expect_one_resume(qf_amqp_t *c, const char *queue,
                              const seeded_t *s) {
  qf_amqp_message_t m;
  qf_error_t err;
  cr_assert_eq(qf_amqp_get(c, queue, 1, 5000, &m, &err), 0, "%s", err.message);
  cJSON *body = cJSON_Parse(m.body);
  cr_assert_not_null(body, "%s", m.body);
  cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(body, "run_id")),
                   s->run_id);
  cr_expect_str_eq(
      cJSON_GetStringValue(cJSON_GetObjectItem(body, "approval_id")), s->id);
  cr_expect_eq(cJSON_GetArraySize(body), 2, "%s", m.body);
  char mid[80];
  snprintf(mid, sizeof mid, "resume:%s", s->id);
  cr_expect_str_eq(m.message_id, mid);
  cr_expect_str_eq(m.content_type, "application/json");
  cr_expect_str_eq(m.correlation_id, "corr-7");
  cr_expect_str_eq(m.routing_key, "resume");
  cJSON_Delete(body);
  qf_amqp_message_fini(&m);
  cr_expect_eq(qf_amqp_get(c, queue, 1, 1500, &m, &err), QF_ETIMEDOUT,
               "exactly one resume");
}

/* --------------------------------------------------------------- tests */

Test(approvals, list_and_show_say_what_waits_text_and_json) {
  seeded_t s = seed("ci-bot", 0);
  seeded_t done = seed("ci-bot", 0);
  admin_decided("status = 'rejected', reason = 'no'", done.id, NULL);
  qf_test_proc_t p;
  /* The default: one aligned row each, the full id to paste. */
  const char *table[] = {"approvals", NULL};
  qf_as(ALICE, NULL, NULL, table, &p);
  cr_assert_eq(p.status, 0, "%s", p.err.data);
  const char *cols[] = {"APPROVAL",
                        "STATUS",
                        "REQUESTED_BY",
                        "RULE",
                        s.id,
                        "pending ",
                        "ci-bot",
                        "high_risk_keyword:prod",
                        "deploy the release to prod"};
  for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++)
    cr_expect(strstr(p.out.data, cols[i]) != NULL, "no '%s' in:\n%s", cols[i],
              p.out.data);
  cr_expect(strstr(p.out.data, done.id) == NULL, "pending only by default");
  int lines = 0;
  for (const char *c = p.out.data; *c; c++)
    lines += *c == '\n';
  cr_expect_eq(lines, 2, "a header and one row:\n%s", p.out.data);
  qf_test_proc_fini(&p);
  /* --long: each whole. */
  const char *list[] = {"approvals", "--long", NULL};
  qf_as(ALICE, NULL, NULL, list, &p);
  cr_assert_eq(p.status, 0, "%s", p.err.data);
  const char *want[] = {s.id,
                        s.run_id,
                        "deploy the release to prod",
                        "run_pytest",
                        "ci-bot",
                        "high_risk_keyword:prod",
                        "\"tests\":42",
                        "/srv/artifacts/r1/evidence.json",
                        "created",
                        "expires",
                        "pending"};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    cr_expect(strstr(p.out.data, want[i]) != NULL, "no '%s' in:\n%s", want[i],
              p.out.data);
  cr_expect(strstr(p.out.data, done.id) == NULL, "pending only by default");
  qf_test_proc_fini(&p);

  const char *json[] = {"approvals", "--json", "--status", "all", NULL};
  qf_as(BOB, NULL, NULL, json, &p);
  cr_assert_eq(p.status, 0, "%s", p.err.data);
  cJSON *arr = cJSON_Parse(p.out.data);
  cr_assert(cJSON_IsArray(arr), "%s", p.out.data);
  cr_expect_eq(cJSON_GetArraySize(arr), 2);
  cJSON *item;
  int seen = 0;
  cJSON_ArrayForEach(item, arr) {
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(item, "id"));
    if (strcmp(id, s.id) != 0) continue;
    seen = 1;
    cr_expect_str_eq(
        cJSON_GetStringValue(cJSON_GetObjectItem(item, "nl_input")),
        "deploy the release to prod");
    cr_expect_str_eq(
        cJSON_GetStringValue(cJSON_GetObjectItem(item, "tool_name")),
        "run_pytest");
    cr_expect_str_eq(
        cJSON_GetStringValue(cJSON_GetObjectItem(item, "triggered_rule")),
        "high_risk_keyword:prod");
    cr_expect_str_eq(
        cJSON_GetStringValue(cJSON_GetObjectItem(item, "evidence_path")),
        "/srv/artifacts/r1/evidence.json");
    cr_expect_eq(
        cJSON_GetObjectItem(cJSON_GetObjectItem(item, "summary"), "tests")
            ->valueint,
        42);
    const char *created =
        cJSON_GetStringValue(cJSON_GetObjectItem(item, "created_at"));
    const char *expires =
        cJSON_GetStringValue(cJSON_GetObjectItem(item, "expires_at"));
    cr_expect(created && strlen(created) == 20 && created[19] == 'Z', "%s",
              created);
    cr_expect(expires && strcmp(expires, created) > 0);
    cr_expect(cJSON_IsNull(cJSON_GetObjectItem(item, "decided_by")));
  }
  cr_expect(seen);
  cJSON_Delete(arr);
  qf_test_proc_fini(&p);

  const char *by_run[] = {"approvals", "--run",  done.run_id, "--status",
                          "rejected",  "--json", NULL};
  qf_as(ALICE, NULL, NULL, by_run, &p);
  cr_assert_eq(p.status, 0, "%s", p.err.data);
  cr_expect(strstr(p.out.data, done.id) && !strstr(p.out.data, s.id), "%s",
            p.out.data);
  qf_test_proc_fini(&p);

  const char *show[] = {"approval", "show", s.id, NULL};
  qf_as(ALICE, NULL, NULL, show, &p);
  cr_assert_eq(p.status, 0, "%s", p.err.data);
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    cr_expect(strstr(p.out.data, want[i]) != NULL, "no '%s' in:\n%s", want[i],
              p.out.data);
  /* What the approver weighs: arguments, the commit, what failed, who may
   * decide. */
  const char *weigh[] = {
      "arguments        {\"test_path\":\"tests/cart\"}",
      "workspace        shop",
      "source           https://git.example/shop.git at " COMMIT " (main)",
      "failed           test_cents: assert 2 == 2.5",
      "who may decide   any member of qf_approver, not the requester"};
  for (size_t i = 0; i < sizeof weigh / sizeof weigh[0]; i++)
    cr_expect(strstr(p.out.data, weigh[i]) != NULL, "no '%s' in:\n%s", weigh[i],
              p.out.data);
  qf_test_proc_fini(&p);

  const char *show_json[] = {"approval", "show", done.id, "--json", NULL};
  qf_as(ALICE, NULL, NULL, show_json, &p);
  cr_assert_eq(p.status, 0, "%s", p.err.data);
  cJSON *o = cJSON_Parse(p.out.data);
  cr_assert(cJSON_IsObject(o), "%s", p.out.data);
  cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(o, "status")),
                   "rejected");
  cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(o, "reason")),
                   "no");
  cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(o, "run_id")),
                   done.run_id);
  cJSON_Delete(o);
  qf_test_proc_fini(&p);

  const char *none[] = {"approval", "show",
                        "00000000-0000-4000-8000-000000000000", NULL};
  qf_as(ALICE, NULL, NULL, none, &p);
  cr_expect_eq(p.status, 1);
  cr_expect(strstr(p.err.data, "no approval 00000000-") != NULL, "%s",
            p.err.data);
  qf_test_proc_fini(&p);

  const char *bad[] = {"approval", "show", "not-a-uuid", NULL};
  qf_as(ALICE, NULL, NULL, bad, &p);
  cr_expect_eq(p.status, 64, "%s", p.err.data);
  qf_test_proc_fini(&p);
  const char *bad_status[] = {"approvals", "--status", "maybe", NULL};
  qf_as(ALICE, NULL, NULL, bad_status, &p);
  cr_expect_eq(p.status, 64, "%s", p.err.data);
  qf_test_proc_fini(&p);
}

Test(approvals, alice_approves_with_comment_and_the_resume_is_published) {
  seeded_t s = seed("ci-bot", 0);
  char *queue = NULL;
  qf_amqp_t *c = resume_queue(&queue);
  qf_test_proc_t p;
  const char *args[] = {"approve", s.id, "--comment", "ship it, I checked",
                        NULL};
  qf_as(ALICE, NULL, NULL, args, &p);
  cr_assert_eq(p.status, 0, "%s%s", p.out.data, p.err.data);
  cr_expect(strstr(p.out.data, "approved by") != NULL, "%s", p.out.data);
  qf_test_proc_fini(&p);

  cr_expect_str_eq(approval_col(s.id, "status"), "approved");
  cr_expect_str_eq(approval_col(s.id, "decided_by"), role[ALICE]);
  cr_expect_str_eq(approval_col(s.id, "comment"), "ship it, I checked");
  cr_expect_str_neq(approval_col(s.id, "decided_at"), "NULL");
  cr_expect_str_eq(approval_col(s.id, "reason"), "NULL");
  char ev[256];
  snprintf(ev, sizeof ev, "%s %s ship it, I checked", role[ALICE], s.id);
  cr_expect_str_eq(
      admin("SELECT actor || ' ' || (data->>'approval_id') || ' ' || "
            "(data->>'comment') FROM run_events WHERE run_id = $1 AND event "
            "= 'approved'",
            s.run_id, NULL),
      ev);
  expect_one_resume(c, queue, &s);
  cr_expect_str_neq(approval_col(s.id, "resume_published_at"), "NULL");
  free(queue);
  qf_amqp_free(c);
}

Test(approvals, bob_rejects_with_a_reason_and_reject_needs_one) {
  seeded_t s = seed("ci-bot", 0);
  char *queue = NULL;
  qf_amqp_t *c = resume_queue(&queue);
  qf_test_proc_t p;
  const char *no_reason[] = {"reject", s.id, NULL};
  qf_as(BOB, NULL, NULL, no_reason, &p);
  cr_expect_eq(p.status, 64, "%s", p.err.data);
  cr_expect(strstr(p.err.data, "--reason") != NULL, "%s", p.err.data);
  qf_test_proc_fini(&p);
  const char *empty_reason[] = {"reject", s.id, "--reason", "", NULL};
  qf_as(BOB, NULL, NULL, empty_reason, &p);
  cr_expect_eq(p.status, 64, "%s", p.err.data);
  qf_test_proc_fini(&p);
  cr_expect_str_eq(approval_col(s.id, "status"), "pending");

  const char *args[] = {"reject", s.id, "--reason", "not on a Friday", NULL};
  qf_as(BOB, NULL, NULL, args, &p);
  cr_assert_eq(p.status, 0, "%s%s", p.out.data, p.err.data);
  qf_test_proc_fini(&p);
  cr_expect_str_eq(approval_col(s.id, "status"), "rejected");
  cr_expect_str_eq(approval_col(s.id, "decided_by"), role[BOB]);
  cr_expect_str_eq(approval_col(s.id, "reason"), "not on a Friday");
  cr_expect_str_eq(approval_col(s.id, "comment"), "NULL");
  char ev[256];
  snprintf(ev, sizeof ev, "%s not on a Friday", role[BOB]);
  cr_expect_str_eq(admin("SELECT actor || ' ' || (data->>'reason') FROM "
                         "run_events WHERE run_id = $1 AND event = "
                         "'rejected'",
                         s.run_id, NULL),
                   ev);
  expect_one_resume(c, queue, &s);
  cr_expect_str_neq(approval_col(s.id, "resume_published_at"), "NULL");

  /* A second decision is refused and changes nothing. */
  const char *again[] = {"approve", s.id, NULL};
  qf_as(ALICE, NULL, NULL, again, &p);
  cr_expect_eq(p.status, 1);
  char msg[256];
  snprintf(msg, sizeof msg, "approval %s is already rejected by %s at ", s.id,
           role[BOB]);
  cr_expect(strstr(p.err.data, msg) != NULL, "%s", p.err.data);
  qf_test_proc_fini(&p);
  cr_expect_str_eq(approval_col(s.id, "status"), "rejected");
  free(queue);
  qf_amqp_free(c);
}

Test(approvals, unknown_and_malformed_ids) {
  qf_test_proc_t p;
  const char *unknown[] = {"approve", "7b0e5a62-1111-4222-8333-444455556666",
                           NULL};
  qf_as(ALICE, NULL, NULL, unknown, &p);
  cr_expect_eq(p.status, 1);
  cr_expect(strstr(p.err.data,
                   "no approval 7b0e5a62-1111-4222-8333-444455556666") != NULL,
            "%s", p.err.data);
  qf_test_proc_fini(&p);
  const char *bad[] = {"reject", "42", "--reason", "x", NULL};
  qf_as(ALICE, NULL, NULL, bad, &p);
  cr_expect_eq(p.status, 64);
  cr_expect(strstr(p.err.data, "not an approval id") != NULL, "%s", p.err.data);
  qf_test_proc_fini(&p);
  const char *none[] = {"approve", NULL};
  qf_as(ALICE, NULL, NULL, none, &p);
  cr_expect_eq(p.status, 64);
  qf_test_proc_fini(&p);
}

Test(approvals, self_approval_is_refused) {
  seeded_t s = seed(role[ALICE], 0);
  qf_test_proc_t p;
  const char *args[] = {"approve", s.id, NULL};
  qf_as(ALICE, NULL, NULL, args, &p);
  cr_expect_eq(p.status, 1);
  cr_expect(strstr(p.err.data, "requested by") != NULL &&
                strstr(p.err.data, "prevent_self_approval") != NULL,
            "%s", p.err.data);
  qf_test_proc_fini(&p);
  cr_expect_str_eq(approval_col(s.id, "status"), "pending");
  cr_expect_str_eq(admin("SELECT count(*) FROM run_events", NULL, NULL), "0");
}

Test(approvals, only_members_of_qf_approver_may_decide) {
  seeded_t s = seed("ci-bot", 0);
  qf_test_proc_t p;
  const char *args[] = {"approve", s.id, NULL};
  qf_as(EVE, NULL, NULL, args, &p);
  cr_expect_eq(p.status, 1);
  cr_expect(strstr(p.err.data, "is not a member of qf_approver") != NULL, "%s",
            p.err.data);
  qf_test_proc_fini(&p);
  const char *rej[] = {"reject", s.id, "--reason", "mine", NULL};
  qf_as(CI, NULL, NULL, rej, &p);
  cr_expect_eq(p.status, 1);
  cr_expect(strstr(p.err.data, "is not a member of qf_approver") != NULL, "%s",
            p.err.data);
  qf_test_proc_fini(&p);
  cr_expect_str_eq(approval_col(s.id, "status"), "pending");

  /* Nor can the worker's role by hand-written SQL. */
  qf_db_t *w = connect_as(role_url[CI]);
  cr_expect_str_eq(query(w,
                         "UPDATE approvals SET status = 'approved' WHERE id "
                         "= $1 RETURNING id",
                         s.id, NULL),
                   "EPERM");
  cr_expect_str_eq(query(w,
                         "UPDATE approvals SET comment = 'x', decided_by = "
                         "'ci' WHERE id = $1",
                         s.id, NULL),
                   "EPERM");
  cr_expect_str_eq(query(w, "DELETE FROM approvals WHERE id = $1", s.id, NULL),
                   "EPERM");
  qf_db_free(w);
  cr_expect_str_eq(approval_col(s.id, "status"), "pending");
}

Test(approvals, hitl_approvers_listing_only_bob_refuses_alice) {
  /* The list is the one stored with the approval when it was opened. */
  char list[128];
  snprintf(list, sizeof list, "{%s}", role[BOB]);
  seeded_t s = seed_rules("ci-bot", 0, list);
  char *queue = NULL;
  qf_amqp_t *c = resume_queue(&queue);
  qf_test_proc_t p;
  const char *args[] = {"approve", s.id, NULL};
  qf_as(ALICE, NULL, NULL, args, &p);
  cr_expect_eq(p.status, 1);
  cr_expect(strstr(p.err.data, "not in hitl.approvers") != NULL, "%s",
            p.err.data);
  qf_test_proc_fini(&p);
  cr_expect_str_eq(approval_col(s.id, "status"), "pending");
  qf_as(BOB, NULL, NULL, args, &p);
  cr_expect_eq(p.status, 0, "%s", p.err.data);
  qf_test_proc_fini(&p);
  cr_expect_str_eq(approval_col(s.id, "decided_by"), role[BOB]);
  expect_one_resume(c, queue, &s);
  free(queue);
  qf_amqp_free(c);
}

Test(approvals, an_expired_approval_cannot_be_decided) {
  seeded_t s = seed("ci-bot", 1);
  qf_test_proc_t p;
  const char *args[] = {"approve", s.id, NULL};
  qf_as(ALICE, NULL, NULL, args, &p);
  cr_expect_eq(p.status, 1);
  char msg[128];
  snprintf(msg, sizeof msg, "approval %s expired at ", s.id);
  cr_expect(strstr(p.err.data, msg) != NULL, "%s", p.err.data);
  qf_test_proc_fini(&p);
  cr_expect_str_eq(approval_col(s.id, "status"), "pending",
                   "left for the expiry sweep");
  cr_expect_str_eq(admin("SELECT count(*) FROM run_events", NULL, NULL), "0");
}

Test(approvals, broker_down_after_commit_keeps_the_decision_exit_3) {
  seeded_t s = seed("ci-bot", 0);
  char amqp[128];
  snprintf(amqp, sizeof amqp, "amqp://guest:guest@127.0.0.1:%d/",
           qf_test_closed_port());
  qf_test_proc_t p;
  const char *args[] = {"approve", s.id, "--comment", "ok", NULL};
  qf_as(ALICE, NULL, amqp, args, &p);
  cr_expect_eq(p.status, 3, "%s%s", p.out.data, p.err.data);
  cr_expect(strstr(p.err.data, "decision stands") != NULL &&
                strstr(p.err.data, "qf approver") != NULL,
            "%s", p.err.data);
  cr_expect(strstr(p.err.data, "guest:guest") == NULL, "password leaked");
  qf_test_proc_fini(&p);
  cr_expect_str_eq(approval_col(s.id, "status"), "approved");
  cr_expect_str_eq(approval_col(s.id, "resume_published_at"), "NULL");

  /* The approver's sweep finds it. */
  qf_db_t *db = connect_as(role_url[BOB]);
  qf_error_t err;
  cr_assert_eq(qf_db_begin(db, &err), 0);
  qf_approval_t *list = NULL;
  size_t n = 0;
  cr_assert_eq(qf_approvals_claim_unpublished(db, 10, &list, &n, &err), 0, "%s",
               err.message);
  cr_expect_eq(n, 1);
  cr_expect_str_eq(list[0].id, s.id);
  cr_expect_str_eq(list[0].comment, "ok");
  qf_approvals_free(list, n);
  qf_db_rollback(db);
  qf_db_free(db);
}

/* Starts `qf VERB ID ...` as role who, output into files under dir. */
static pid_t spawn_decision(int who, const char *dir, int i,
                            const char *const *args) {
  pid_t pid = fork();
  cr_assert(pid >= 0);
  if (pid > 0) return pid;
  char path[256];
  snprintf(path, sizeof path, "%s/%d.err", dir, i);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  dup2(fd, 2);
  snprintf(path, sizeof path, "%s/%d.out", dir, i);
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  dup2(fd, 1);
  setenv("QF_DATABASE_URL", role_url[who], 1);
  setenv("QF_TOPOLOGY_PREFIX", prefix, 1);
  setenv("QF_POLICY", DEFAULT_POLICY, 1);
  const char *argv[8] = {QF_TEST_BIN};
  for (int k = 0; args[k] && k < 6; k++)
    argv[k + 1] = args[k];
  execv(QF_TEST_BIN, (char *const *)argv);
  _exit(127);
}

Test(approvals, twenty_racing_decisions_one_wins_one_resume) {
  enum { N = 20 };
  seeded_t s = seed("ci-bot", 0);
  char *queue = NULL;
  qf_amqp_t *c = resume_queue(&queue);
  const char *dir = qf_test_tmpdir();
  char d[64];
  snprintf(d, sizeof d, "%s", dir);
  const char *approve[] = {"approve", s.id, "--comment", "race", NULL};
  const char *reject[] = {"reject", s.id, "--reason", "race", NULL};
  pid_t pids[N];
  for (int i = 0; i < N; i++)
    pids[i] =
        spawn_decision(i % 2 ? BOB : ALICE, d, i, i % 2 ? reject : approve);
  int wins = 0, already = 0;
  for (int i = 0; i < N; i++) {
    int st = 0;
    cr_assert_eq(waitpid(pids[i], &st, 0), pids[i]);
    cr_assert(WIFEXITED(st));
    char path[128], buf[2048];
    snprintf(path, sizeof path, "%s/%d.err", d, i);
    qf_test_slurp(path, buf, sizeof buf);
    if (WEXITSTATUS(st) == 0) {
      wins++;
    } else {
      cr_expect_eq(WEXITSTATUS(st), 1, "%d: %s", i, buf);
      if (strstr(buf, " is already approved by ") ||
          strstr(buf, " is already rejected by "))
        already++;
      else
        cr_expect_fail("loser %d says: %s", i, buf);
    }
  }
  cr_expect_eq(wins, 1);
  cr_expect_eq(already, N - 1);
  const char *status = approval_col(s.id, "status");
  cr_expect(strcmp(status, "approved") == 0 || strcmp(status, "rejected") == 0);
  cr_expect_str_eq(admin("SELECT count(*) FROM run_events WHERE event IN "
                         "('approved', 'rejected')",
                         NULL, NULL),
                   "1");
  expect_one_resume(c, queue, &s);
  free(queue);
  qf_amqp_free(c);
}

/* ------------------------------------------------- the library, directly */

Test(approvals, decide_in_the_library_reports_the_winner) {
  seeded_t s = seed("ci-bot", 0);
  qf_db_t *a = connect_as(role_url[ALICE]), *b = connect_as(role_url[BOB]);
  qf_approval_t out;
  qf_error_t err;
  cr_assert_eq(qf_approvals_decide(a, s.id, 1, NULL, &out, &err), 0, "%s",
               err.message);
  cr_expect_str_eq(out.status, "approved");
  cr_expect_str_eq(out.decided_by, role[ALICE]);
  cr_expect_null(out.comment);
  cr_expect_str_eq(out.nl_input, "deploy the release to prod");
  cr_expect_str_eq(out.correlation_id, "corr-7");
  qf_approval_fini(&out);
  cr_expect_eq(qf_approvals_decide(b, s.id, 0, "late", &out, &err),
               QF_ECONFLICT);
  cr_expect_str_eq(out.status, "approved", "out holds the current row");
  cr_expect_str_eq(out.decided_by, role[ALICE]);
  qf_approval_fini(&out);
  cr_expect_eq(qf_approvals_decide(b, s.id, 0, "", &out, &err), QF_EINVAL);
  cr_expect_eq(qf_approvals_decide(b, "nope", 1, NULL, &out, &err), QF_EINVAL);
  int marked = -1;
  cr_expect_eq(qf_approvals_mark_published(b, s.id, &marked, &err), 0, "%s",
               err.message);
  cr_expect_eq(marked, 1);
  cr_expect_eq(qf_approvals_mark_published(a, s.id, &marked, &err), 0);
  cr_expect_eq(marked, 0, "marked once");
  seeded_t p = seed("ci-bot", 0);
  cr_expect_eq(qf_approvals_mark_published(a, p.id, &marked, &err),
               QF_ECONFLICT, "a pending approval has no resume");
  cr_expect_eq(qf_approvals_mark_published(
                   a, "00000000-0000-4000-8000-000000000000", &marked, &err),
               QF_ENOENT);
  qf_db_free(a);
  qf_db_free(b);
}

Test(approvals, expire_due_closes_only_overdue_pending_approvals) {
  seeded_t old1 = seed("ci-bot", 1), old2 = seed("ci-bot", 1);
  seeded_t fresh = seed("ci-bot", 0);
  qf_db_t *db = connect_as(role_url[BOB]);
  qf_approval_t *list = NULL;
  size_t n = 0;
  qf_error_t err;
  cr_assert_eq(qf_approvals_expire_due(db, 1, &list, &n, &err), 0, "%s",
               err.message);
  cr_expect_eq(n, 1, "limit: %zu %s", n, err.message);
  qf_approvals_free(list, n);
  cr_assert_eq(qf_approvals_expire_due(db, 10, &list, &n, &err), 0, "%s",
               err.message);
  cr_expect_eq(n, 1);
  cr_expect_str_eq(list[0].status, "expired");
  cr_expect_str_eq(list[0].decided_by, "expiry");
  cr_expect_not_null(list[0].decided_at);
  cr_expect_str_eq(list[0].nl_input, "deploy the release to prod");
  qf_approvals_free(list, n);
  cr_expect_str_eq(approval_col(old1.id, "status"), "expired");
  cr_expect_str_eq(approval_col(old2.id, "status"), "expired");
  cr_expect_str_eq(approval_col(fresh.id, "status"), "pending");
  char ev[128];
  snprintf(ev, sizeof ev, "2 %s", role[BOB]);
  cr_expect_str_eq(admin("SELECT count(*) || ' ' || min(actor) FROM "
                         "run_events WHERE event = 'expired' AND data ? "
                         "'approval_id' AND data ? 'expires_at'",
                         NULL, NULL),
                   ev);
  cr_assert_eq(qf_approvals_expire_due(db, 10, &list, &n, &err), 0);
  cr_expect_eq(n, 0);
  cr_expect_null(list);
  /* An expired approval is refused like a decided one. */
  qf_approval_t out;
  cr_expect_eq(qf_approvals_decide(db, old1.id, 1, NULL, &out, &err),
               QF_ECONFLICT);
  cr_expect(strstr(err.message, "expired at") != NULL, "%s", err.message);
  qf_approval_fini(&out);
  qf_db_free(db);
}

Test(approvals, claim_unpublished_skips_rows_another_session_holds) {
  seeded_t x = seed("ci-bot", 0), y = seed("ci-bot", 0);
  seeded_t pending = seed("ci-bot", 0);
  (void)pending;
  admin_decided("status = 'approved'", x.id, y.id);
  qf_db_t *s1 = connect_as(role_url[ALICE]), *s2 = connect_as(role_url[BOB]);
  qf_approval_t *l1 = NULL, *l2 = NULL;
  size_t n1 = 0, n2 = 0;
  qf_error_t err;
  cr_expect_eq(qf_approvals_claim_unpublished(s1, 1, &l1, &n1, &err), QF_EINVAL,
               "needs the caller's transaction");
  cr_assert_eq(qf_db_begin(s1, &err), 0);
  cr_assert_eq(qf_db_begin(s2, &err), 0);
  cr_assert_eq(qf_approvals_claim_unpublished(s1, 1, &l1, &n1, &err), 0, "%s",
               err.message);
  cr_assert_eq(qf_approvals_claim_unpublished(s2, 10, &l2, &n2, &err), 0, "%s",
               err.message);
  cr_assert_eq(n1, 1);
  cr_assert_eq(n2, 1, "the other row only, without waiting");
  cr_expect_str_neq(l1[0].id, l2[0].id);
  int marked = 0;
  cr_expect_eq(qf_approvals_mark_published(s1, l1[0].id, &marked, &err), 0,
               "%s", err.message);
  cr_expect_eq(marked, 1);
  cr_expect_eq(qf_approvals_mark_published(s2, l2[0].id, &marked, &err), 0);
  cr_assert_eq(qf_db_commit(s1, &err), 0, "%s", err.message);
  cr_assert_eq(qf_db_commit(s2, &err), 0, "%s", err.message);
  qf_approvals_free(l1, n1);
  qf_approvals_free(l2, n2);
  cr_expect_str_neq(approval_col(x.id, "resume_published_at"), "NULL");
  cr_expect_str_neq(approval_col(y.id, "resume_published_at"), "NULL");
  cr_assert_eq(qf_db_begin(s1, &err), 0);
  cr_assert_eq(qf_approvals_claim_unpublished(s1, 10, &l1, &n1, &err), 0);
  cr_expect_eq(n1, 0);
  qf_db_rollback(s1);
  qf_db_free(s1);
  qf_db_free(s2);
}
