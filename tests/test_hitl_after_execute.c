/* The human in the loop with hitl.stage after_execute (the shipped
 * policy): a high-risk run executes its tool, parks awaiting approval, and
 * `qf approve` / `qf reject` resume it to its final decision on
 * <p>.decisions and on reply_to, with who, when and why in the database
 * and the evidence. The fixture (roles, worker, approver): hitl_support.h.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hitl_support.h"

TestSuite(hitl, .init = hitl_setup, .fini = hitl_teardown, .timeout = 240);

/* -------------------------------------------------------------- approve */

Test(hitl, alice_approves_and_the_run_passes_on_decisions_and_reply_to) {
  start_worker(NULL);
  char run_id[QF_UUID_STR_LEN + 1], corr[128];
  publish_request("approve", "ci-bot", "tests/passing", reply_q, run_id, corr,
                  sizeof corr);

  /* NEED_HITL on <p>.hitl (the approver's queue; no approver runs yet). */
  qf_amqp_message_t m;
  cr_assert_eq(qf_wt_get(&T, T.topo.hitl, &m, 1, 90), 1, "nothing on %s\n%s",
               T.topo.hitl, logs());
  cJSON *need = cJSON_ParseWithLength(m.body, m.body_len);
  cr_assert_not_null(need, "%s", m.body);
  cr_expect_str_eq(m.routing_key, "decision.need_hitl");
  cr_expect_str_eq(m.correlation_id, corr);
  qf_amqp_message_fini(&m);
  cr_assert_str_eq(str(need, "decision"), "NEED_HITL", "%s",
                   str(need, "reason"));
  cr_expect_str_eq(str(need, "run_id"), run_id);
  cr_expect_str_eq(str(need, "correlation_id"), corr);
  cr_expect(!is_final(need));
  cr_expect_str_eq(str(need, "decided_by"), "gate");
  cr_expect(has_rule(need, "high_risk_keyword:production"));
  char id[QF_UUID_STR_LEN + 1];
  snprintf(id, sizeof id, "%s", str(need, "approval_id"));
  cr_assert(qf_uuid_is_valid(id), "approval_id '%s'", id);
  cJSON_Delete(need);
  cr_expect_eq(qf_wt_queue_count(&T, T.topo.hitl), 0);

  /* The same NEED_HITL on the decisions exchange. */
  char id2[QF_UUID_STR_LEN + 1];
  wait_need_hitl(run_id, id2);
  cr_expect_str_eq(id2, id);

  /* The run is parked, the delivery acked, the approval pending. */
  cr_expect_str_eq(q1("SELECT status FROM runs WHERE run_id = $1", run_id),
                   "awaiting_approval");
  cr_expect_str_eq(approval_col(id, "status"), "pending");
  cr_expect_str_eq(approval_col(id, "run_id"), run_id);
  cr_expect_str_eq(approval_col(id, "requested_by"), "ci-bot");
  cr_expect_str_eq(approval_col(id, "decided_by"), "NULL");
  cr_expect_eq(qf_wt_queue_count(&T, T.topo.queue), 0, "nothing held open");

  const char *args[] = {"approve", id, "--comment", "ok", NULL};
  qf_test_proc_t p;
  qf_as(ALICE, NULL, args, &p);
  cr_assert_eq(p.status, 0, "qf approve: %s%s", p.out.data, p.err.data);
  cr_expect(strstr(p.out.data, "approved by") != NULL, "%s", p.out.data);
  cr_expect(strstr(p.out.data, "resume published") != NULL, "%s", p.out.data);
  qf_test_proc_fini(&p);

  /* The final PASS on <p>.decisions, once. */
  cJSON *fin = one_final_decision(run_id, 60, 3);
  cr_expect_str_eq(str(fin, "decision"), "PASS", "%s", str(fin, "reason"));
  cr_expect_str_eq(str(fin, "decided_by"), "approval");
  cr_expect_str_eq(str(fin, "approval_id"), id);
  cr_expect_str_eq(str(fin, "correlation_id"), corr);
  char want[256];
  snprintf(want, sizeof want, "approved by %s: ok", role[ALICE]);
  cr_expect_str_eq(str(fin, "reason"), want);
  cr_expect(has_rule(fin, "high_risk_keyword:production"));
  cr_expect(has_rule(fin, "approval:approved"));
  char evidence_path[1024];
  snprintf(evidence_path, sizeof evidence_path, "%s",
           str(fin, "evidence_path"));
  cJSON_Delete(fin);

  /* reply_to got the NEED_HITL, then the final PASS, with the request's
   * correlation_id. */
  qf_amqp_message_t r[3];
  cr_assert_eq(qf_wt_get(&T, reply_q, r, 2, 30), 2, "reply_to\n%s", logs());
  cr_expect_eq(qf_wt_get(&T, reply_q, &r[2], 1, 2), 0, "a third reply");
  const char *want_dec[] = {"NEED_HITL", "PASS"};
  for (int i = 0; i < 2; i++) {
    cJSON *d = cJSON_ParseWithLength(r[i].body, r[i].body_len);
    cr_assert_not_null(d, "%s", r[i].body);
    cr_expect_str_eq(r[i].correlation_id, corr);
    cr_expect_str_eq(str(d, "run_id"), run_id);
    cr_expect_str_eq(str(d, "correlation_id"), corr);
    cr_expect_str_eq(str(d, "decision"), want_dec[i]);
    cr_expect_eq(is_final(d), i == 1);
    if (i == 1) cr_expect_str_eq(str(d, "decided_by"), "approval");
    cJSON_Delete(d);
    qf_amqp_message_fini(&r[i]);
  }

  /* Who, when and why, from the authenticated session user. */
  cr_expect_str_eq(approval_col(id, "status"), "approved");
  cr_expect_str_eq(approval_col(id, "decided_by"), role[ALICE]);
  cr_expect_str_eq(approval_col(id, "comment"), "ok");
  cr_expect_str_eq(approval_col(id, "reason"), "NULL");
  cr_expect_str_eq(
      q1("SELECT decided_at BETWEEN created_at AND now() FROM approvals "
         "WHERE id = $1",
         id),
      "t", "decided_at is set, after the approval was opened");
  cr_expect_str_eq(
      q1("SELECT resume_published_at >= decided_at FROM approvals WHERE id "
         "= $1",
         id),
      "t", "resume_published_at is set");
  snprintf(want, sizeof want, "%s ok", role[ALICE]);
  cr_expect_str_eq(q1("SELECT actor || ' ' || (data->>'comment') FROM "
                      "run_events WHERE run_id = $1 AND event = "
                      "'approved'",
                      run_id),
                   want);
  cr_expect_str_eq(q1("SELECT status || ' ' || decision || ' ' || decided_by "
                      "|| ' ' || final FROM runs WHERE run_id = $1",
                      run_id),
                   "decided PASS approval true");
  cr_expect_eq(events(run_id, "resolved"), 1);
  cr_expect_eq(events(run_id, "node.execute"), 1, "the tool ran once");

  /* The evidence records the approval too. */
  char *text = read_file(evidence_path);
  cr_assert_not_null(text, "evidence '%s'", evidence_path);
  cJSON *ev = cJSON_Parse(text);
  free(text);
  cr_assert_not_null(ev);
  const cJSON *g = cJSON_GetObjectItemCaseSensitive(ev, "governance");
  cr_expect_str_eq(str(g, "approver"), role[ALICE]);
  cr_expect_str_eq(str(g, "approval_comment"), "ok");
  cr_expect_str_eq(str(g, "decision_source"), "approval");
  cJSON_Delete(ev);
  qf_test_assert_evidence_valid(evidence_path);
  cr_expect_eq(qf_wt_queue_count(&T, T.topo.queue), 0);
  finish();
}

/* --------------------------------------------------------------- reject */

Test(hitl, bob_rejects_with_a_reason_and_the_run_fails) {
  start_worker(NULL);
  char run_id[QF_UUID_STR_LEN + 1], corr[128], id[QF_UUID_STR_LEN + 1];
  publish_request("reject", "ci-bot", "tests/passing", reply_q, run_id, corr,
                  sizeof corr);
  wait_need_hitl(run_id, id);
  const char *reason = "not during the release freeze";
  const char *args[] = {"reject", id, "--reason", reason, NULL};
  qf_test_proc_t p;
  qf_as(BOB, NULL, args, &p);
  cr_assert_eq(p.status, 0, "qf reject: %s%s", p.out.data, p.err.data);
  qf_test_proc_fini(&p);

  cJSON *fin = one_final_decision(run_id, 60, 3);
  cr_expect_str_eq(str(fin, "decision"), "FAIL", "%s", str(fin, "reason"));
  cr_expect_str_eq(str(fin, "decided_by"), "approval");
  cr_expect(strstr(str(fin, "reason"), reason) != NULL, "reason '%s'",
            str(fin, "reason"));
  cr_expect(strstr(str(fin, "reason"), role[BOB]) != NULL, "reason '%s'",
            str(fin, "reason"));
  cr_expect(has_rule(fin, "approval:rejected"));
  cr_expect_str_eq(str(fin, "correlation_id"), corr);
  cJSON_Delete(fin);

  cr_expect_str_eq(approval_col(id, "status"), "rejected");
  cr_expect_str_eq(approval_col(id, "decided_by"), role[BOB]);
  cr_expect_str_eq(approval_col(id, "reason"), reason);
  cr_expect_str_neq(approval_col(id, "decided_at"), "NULL");
  cr_expect_str_neq(approval_col(id, "resume_published_at"), "NULL");
  cr_expect_str_eq(q1("SELECT status || ' ' || decision || ' ' || decided_by "
                      "FROM runs WHERE run_id = $1",
                      run_id),
                   "decided FAIL approval");
  cr_expect_eq(events(run_id, "rejected"), 1);
  cr_expect_eq(events(run_id, "resolved"), 1);

  /* The reply_to's last message is the final FAIL. */
  qf_amqp_message_t r[2];
  cr_assert_eq(qf_wt_get(&T, reply_q, r, 2, 30), 2, "%s", logs());
  cJSON *d = cJSON_ParseWithLength(r[1].body, r[1].body_len);
  cr_expect_str_eq(str(d, "decision"), "FAIL");
  cr_expect_str_eq(r[1].correlation_id, corr);
  cJSON_Delete(d);
  qf_amqp_message_fini(&r[0]);
  qf_amqp_message_fini(&r[1]);
  finish();
}

/* A 100 KB reason of multi-byte characters: the run still finishes (no
 * character is cut in half, so PostgreSQL takes every document), the
 * reason reaches the decision, and qf gate reads back the evidence the
 * worker wrote (the writer's bounds are the reader's), never turning the
 * rejection recorded there into an approval. */
Test(hitl, a_long_multibyte_reason_round_trips_to_qf_gate) {
  start_worker(NULL);
  char run_id[QF_UUID_STR_LEN + 1], corr[128], id[QF_UUID_STR_LEN + 1];
  publish_request("utf8", "ci-bot", "tests/passing", reply_q, run_id, corr,
                  sizeof corr);
  wait_need_hitl(run_id, id);
  static char reason[100 * 1024 + 8];
  size_t n = 0;
  while (n + 5 < sizeof reason - 1) { /* "ü€": 2 + 3 bytes */
    memcpy(reason + n, "\xc3\xbc\xe2\x82\xac", 5);
    n += 5;
  }
  reason[n] = '\0';
  const char *args[] = {"reject", id, "--reason", reason, NULL};
  qf_test_proc_t p;
  qf_as(BOB, NULL, args, &p);
  cr_assert_eq(p.status, 0, "qf reject: %s", p.err.data);
  qf_test_proc_fini(&p);
  cJSON *fin = one_final_decision(run_id, 60, 3);
  cr_expect_str_eq(str(fin, "decision"), "FAIL");
  cr_expect(strstr(str(fin, "reason"), "\xc3\xbc\xe2\x82\xac") != NULL);
  char path[1024];
  snprintf(path, sizeof path, "%s", str(fin, "evidence_path"));
  cJSON_Delete(fin);
  cr_expect_str_eq(q1("SELECT status || ' ' || decided_by FROM runs WHERE "
                      "run_id = $1",
                      run_id),
                   "decided approval");
  const char *gate[] = {QF_TEST_BIN,  "gate",
                        "--evidence", path,
                        "--policy",   QF_SOURCE_DIR "/policy/default.yaml",
                        NULL};
  qf_test_run(gate, NULL, 60, &p);
  /* It reads it (not 65), and the rejecter named in the file is not
   * taken for an approval: the high-risk input needs a human again. */
  cr_expect_eq(p.status, 2, "qf gate reads the worker's evidence: %d %s%s",
               p.status, p.out.data, p.err.data);
  cr_expect_not_null(strstr(p.out.data, "cannot be checked"), "%s", p.out.data);
  qf_test_proc_fini(&p);
  finish();
}
