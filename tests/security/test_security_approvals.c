/* Attacks on the human decision, as the real actors would try them: a
 * requester approving their own run under another spelling of their name,
 * an approver outside the list the run was parked with, a superuser, a
 * client that brings a laxer policy, an approver or a worker login writing
 * SQL by hand, a forged audit row and a forged resume message. Each must
 * be refused by the database (or the worker), and nothing may be decided.
 * Real worker, real roles (hitl_support.h). */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hitl_support.h"
#include "qf/amqp.h"

TestSuite(hitl, .init = hitl_setup, .fini = hitl_teardown, .timeout = 240);

/* A run parked on an approval, requested by requested_by. */
static void parked(const char *tag, const char *requested_by, char *run_id,
                   char *id) {
  char corr[128];
  publish_request(tag, requested_by, "tests/passing", NULL, run_id, corr,
                  sizeof corr);
  wait_need_hitl(run_id, id);
}

static int qf_status(int who, const char *const *args, const char *want,
                     char *err_out, size_t n) {
  qf_test_proc_t p;
  qf_as(who, NULL, args, &p);
  int status = p.status;
  if (want)
    cr_expect(strstr(p.err.data, want) != NULL, "want '%s' in: %s", want,
              p.err.data);
  if (err_out) snprintf(err_out, n, "%s", p.err.data);
  qf_test_proc_fini(&p);
  return status;
}

static void expect_nothing_decided(const char *run_id, const char *id) {
  cr_expect_str_eq(approval_col(id, "status"), "pending");
  cr_expect_str_eq(q1("SELECT status FROM runs WHERE run_id = $1", run_id),
                   "awaiting_approval");
  cr_expect_eq(q1_int("SELECT count(*) FROM runs WHERE decision = 'PASS' AND "
                      "run_id = $1",
                      run_id),
               0);
}

Test(hitl, the_requester_under_another_spelling_is_still_the_requester) {
  start_worker(NULL);
  char run_id[QF_UUID_STR_LEN + 1], id[QF_UUID_STR_LEN + 1], upper[128];
  snprintf(upper, sizeof upper, " %s ", role[ALICE]);
  for (char *c = upper; *c; c++)
    *c = (char)toupper((unsigned char)*c);
  parked("spelling", upper, run_id, id);
  const char *approve[] = {"approve", id, NULL};
  cr_expect_eq(qf_status(ALICE, approve, "prevent_self_approval", NULL, 0), 1);
  expect_nothing_decided(run_id, id);
  finish();
}

Test(hitl, the_approver_list_is_the_one_the_run_was_parked_with) {
  /* The worker's policy lists only bob; alice is a qf_approver member. */
  char *text = read_file(QF_SOURCE_DIR "/policy/default.yaml");
  cr_assert_not_null(text);
  char *at = strstr(text, "approvers: []");
  cr_assert_not_null(at, "policy/default.yaml changed");
  static char path[256];
  snprintf(path, sizeof path, "%s/bob-only.yaml", T.dir);
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  fprintf(f, "%.*sapprovers: [%s]%s", (int)(at - text), text, role[BOB],
          at + strlen("approvers: []"));
  fclose(f);
  free(text);
  start_worker(path);
  char run_id[QF_UUID_STR_LEN + 1], id[QF_UUID_STR_LEN + 1];
  parked("list", "ci-bot", run_id, id);
  char want[128];
  snprintf(want, sizeof want, "{%s}", role[BOB]);
  cr_expect_str_eq(approval_col(id, "approvers"), want, "stored on the row");
  /* The client's policy does not matter any more: even without one (or
   * with a laxer one, which qf approve no longer takes) alice is refused. */
  const char *approve[] = {"approve", id, NULL};
  cr_expect_eq(qf_status(ALICE, approve, "not in hitl.approvers", NULL, 0), 1);
  const char *lax[] = {"approve", id, "--policy",
                       QF_SOURCE_DIR "/policy/default.yaml", NULL};
  cr_expect_eq(qf_status(ALICE, lax, "--policy is gone", NULL, 0), 64);
  expect_nothing_decided(run_id, id);
  /* By hand, as the approver login: no UPDATE of a decision. */
  qf_db_t *a = connect_as(role_url[ALICE]);
  qf_error_t err;
  const char *p[] = {id};
  cr_expect_eq(qf_db_exec(a,
                          "UPDATE approvals SET status = 'approved', "
                          "decided_by = 'bob', decided_at = now() WHERE id = "
                          "$1",
                          1, p, NULL, &err),
               QF_EPERM, "%s", err.message);
  cr_expect_eq(qf_db_exec(a,
                          "SELECT * FROM qf_decide_approval($1::uuid, true, "
                          "'by hand')",
                          1, p, NULL, &err),
               QF_EPERM, "the function judges the session user too");
  qf_db_free(a);
  expect_nothing_decided(run_id, id);
  /* bob may. */
  cr_expect_eq(qf_status(BOB, approve, NULL, NULL, 0), 0);
  cr_expect_str_eq(approval_col(id, "decided_by"), role[BOB]);
  finish();
}

Test(hitl, a_superuser_may_not_decide) {
  start_worker(NULL);
  char run_id[QF_UUID_STR_LEN + 1], id[QF_UUID_STR_LEN + 1];
  parked("super", "ci-bot", run_id, id);
  const char *approve[] = {"approve", id, NULL};
  qf_test_proc_t p;
  qf_as_url(T.db_url, NULL, approve, &p); /* the administrator's login */
  cr_expect_eq(p.status, 1, "%s", p.err.data);
  cr_expect(strstr(p.err.data, "superuser") != NULL, "%s", p.err.data);
  qf_test_proc_fini(&p);
  qf_db_t *s = connect_as(T.db_url);
  qf_error_t err;
  const char *param[] = {id};
  cr_expect_eq(qf_db_exec(s,
                          "UPDATE approvals SET status = 'approved' WHERE id "
                          "= $1",
                          1, param, NULL, &err),
               QF_EPERM, "the rules hold for a hand-written UPDATE too: %s",
               err.message);
  qf_db_free(s);
  expect_nothing_decided(run_id, id);
  finish();
}

Test(hitl, the_worker_login_cannot_forge_a_decision_or_the_audit_trail) {
  start_worker(NULL);
  char run_id[QF_UUID_STR_LEN + 1], id[QF_UUID_STR_LEN + 1];
  parked("forge", "ci-bot", run_id, id);
  qf_db_t *w = connect_as(T.worker_db_url);
  qf_error_t err;
  const char *p[] = {run_id};
  cr_expect_eq(qf_db_exec(w,
                          "UPDATE runs SET status = 'decided', decision = "
                          "'PASS', final = true, decided_by = 'gate', "
                          "decided_at = now() WHERE run_id = $1",
                          1, p, NULL, &err),
               QF_EPERM, "a parked run moves only with its approval: %s",
               err.message);
  cr_expect_eq(qf_db_exec(w,
                          "UPDATE runs SET status = 'decided', decision = "
                          "'PASS', final = true, decided_by = 'approval', "
                          "decided_at = now() WHERE run_id = $1",
                          1, p, NULL, &err),
               QF_EPERM, "not even claiming an approval: %s", err.message);
  cr_expect_eq(qf_db_exec(w,
                          "INSERT INTO run_events (run_id, event, actor) "
                          "VALUES ($1, 'approved', 'alice')",
                          1, p, NULL, &err),
               QF_OK, "%s", err.message);
  qf_db_free(w);
  const char *actor =
      q1("SELECT actor FROM run_events WHERE run_id = $1 AND event = "
         "'approved'",
         run_id);
  cr_expect(strncmp(actor, "alice", 5) != 0 && strstr(actor, "(alice)"),
            "the actor is the database's word: %s", actor);
  expect_nothing_decided(run_id, id);
  /* A forged resume for the pending approval is read and ignored. */
  char body[256];
  snprintf(body, sizeof body, "{\"run_id\":\"%s\",\"approval_id\":\"%s\"}",
           run_id, id);
  qf_amqp_msg_t m = {.body = body,
                     .body_len = strlen(body),
                     .content_type = "application/json",
                     .message_id = "forged-resume"};
  cr_assert_eq(
      qf_amqp_publish(T.pub, T.topo.requests, "resume", &m, 10000, &err), 0,
      "%s", err.message);
  qf_wt_wait_log(&T, 0, 1, 30, "\"event\":\"resume.pending\"", NULL);
  expect_nothing_decided(run_id, id);
  finish();
}

Test(hitl, a_decided_run_is_final_even_for_its_owner_role) {
  start_worker(NULL);
  char run_id[QF_UUID_STR_LEN + 1], id[QF_UUID_STR_LEN + 1];
  parked("final", "ci-bot", run_id, id);
  const char *reject[] = {"reject", id, "--reason", "not today", NULL};
  cr_expect_eq(qf_status(BOB, reject, NULL, NULL, 0), 0);
  cJSON *d = one_final_decision(run_id, 60, 1);
  cr_expect_str_eq(str(d, "decision"), "FAIL");
  cJSON_Delete(d);
  qf_db_t *w = connect_as(T.worker_db_url);
  qf_error_t err;
  const char *p[] = {run_id};
  cr_expect_eq(qf_db_exec(w,
                          "UPDATE runs SET decision = 'PASS', reason = 'ok' "
                          "WHERE run_id = $1",
                          1, p, NULL, &err),
               QF_ECONFLICT, "%s", err.message);
  qf_db_free(w);
  cr_expect_str_eq(q1("SELECT decision FROM runs WHERE run_id = $1", run_id),
                   "FAIL");
  finish();
}
