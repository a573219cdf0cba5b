/* The `qf approver` process's sweeps: it expires an undecided approval
 * (a final FAIL decided by expiry, too late for an approve), and it
 * publishes the resume of an approve command that died between its commit
 * and its publish. The fixture (roles, worker, approver): hitl_support.h.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hitl_support.h"

TestSuite(hitl, .init = hitl_setup, .fini = hitl_teardown, .timeout = 240);

/* --------------------------------------------------------------- expiry */

Test(hitl, an_undecided_approval_is_expired_by_the_approver) {
  const char *policy = write_policy("after_execute", 2);
  start_worker(policy);
  start_approver(1);
  char run_id[QF_UUID_STR_LEN + 1], corr[128], id[QF_UUID_STR_LEN + 1];
  publish_request("expiry", "ci-bot", "tests/passing", reply_q, run_id, corr,
                  sizeof corr);
  wait_need_hitl(run_id, id);
  cr_expect_eq(
      q1_int("SELECT round(extract(epoch FROM expires_at - created_at)) FROM "
             "approvals WHERE id = $1",
             id),
      2, "hitl.expires_after_s");

  cJSON *fin = one_final_decision(run_id, 30, 3);
  cr_expect_str_eq(str(fin, "decision"), "FAIL", "%s", str(fin, "reason"));
  cr_expect_str_eq(str(fin, "decided_by"), "expiry");
  cr_expect(strstr(str(fin, "reason"), "expired") != NULL, "%s",
            str(fin, "reason"));
  cr_expect(has_rule(fin, "approval:expired"));
  cr_expect_str_eq(str(fin, "correlation_id"), corr);
  char evidence_path[1024];
  snprintf(evidence_path, sizeof evidence_path, "%s",
           str(fin, "evidence_path"));
  cJSON_Delete(fin);
  /* The evidence: expiry decided, nobody approved. */
  char *ev_text = read_file(evidence_path);
  cr_assert_not_null(ev_text, "evidence '%s'", evidence_path);
  cJSON *ev = cJSON_Parse(ev_text);
  free(ev_text);
  const cJSON *g = cJSON_GetObjectItemCaseSensitive(ev, "governance");
  cr_expect_str_eq(str(g, "decision_source"), "expiry");
  cr_expect(!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(g, "approver")),
            "no approver for an expired approval");
  cJSON_Delete(ev);
  qf_test_assert_evidence_valid(evidence_path);

  cr_expect_str_eq(approval_col(id, "status"), "expired");
  cr_expect_str_eq(approval_col(id, "decided_by"), "expiry");
  cr_expect_str_neq(approval_col(id, "resume_published_at"), "NULL");
  cr_expect_str_eq(q1("SELECT status || ' ' || decision || ' ' || decided_by "
                      "FROM runs WHERE run_id = $1",
                      run_id),
                   "decided FAIL expiry");
  cr_expect_eq(events(run_id, "expired"), 1);
  cr_expect_eq(events(run_id, "resolved"), 1);
  cr_expect_eq(approver_count_log("\"event\":\"approval.needed\""), 1, "%s",
               logs());
  cr_expect_eq(approver_count_log("\"event\":\"approval.expired\""), 1, "%s",
               logs());
  cr_expect_eq(approver_count_log("\"event\":\"resume.published\""), 1, "%s",
               logs());

  /* Too late for alice: refused, nothing changes. */
  const char *args[] = {"approve", id, NULL};
  qf_test_proc_t p;
  qf_as(ALICE, NULL, args, &p);
  cr_expect_eq(p.status, 1, "%s%s", p.out.data, p.err.data);
  cr_expect(strstr(p.err.data, "expire") != NULL, "%s", p.err.data);
  qf_test_proc_fini(&p);
  cr_expect_str_eq(approval_col(id, "status"), "expired");
  cr_expect_eq(final_decisions(run_id, 2, 0, NULL), 0);

  finish();
}

/* -------------------------------------------- approve dies after commit */

Test(hitl, a_resume_lost_after_the_commit_is_published_by_the_approver) {
  start_worker(NULL);
  char run_id[QF_UUID_STR_LEN + 1], corr[128], id[QF_UUID_STR_LEN + 1];
  publish_request("lost", "ci-bot", "tests/passing", reply_q, run_id, corr,
                  sizeof corr);
  wait_need_hitl(run_id, id);

  char amqp[128];
  snprintf(amqp, sizeof amqp, "amqp://guest:guest@127.0.0.1:%d/",
           qf_test_closed_port());
  const char *args[] = {"approve", id, "--comment", "ok", NULL};
  qf_test_proc_t p;
  qf_as(ALICE, amqp, args, &p);
  cr_assert_eq(p.status, 3, "%s%s", p.out.data, p.err.data);
  cr_expect(strstr(p.err.data, "decision stands") != NULL, "%s", p.err.data);
  qf_test_proc_fini(&p);
  cr_expect_str_eq(approval_col(id, "status"), "approved");
  cr_expect_str_eq(approval_col(id, "decided_by"), role[ALICE]);
  cr_expect_str_eq(approval_col(id, "resume_published_at"), "NULL");
  /* No resume went out: the run stays parked. */
  cr_expect_eq(final_decisions(run_id, 2, 0, NULL), 0);
  cr_expect_str_eq(q1("SELECT status FROM runs WHERE run_id = $1", run_id),
                   "awaiting_approval");

  start_approver(1);
  cJSON *fin = one_final_decision(run_id, 30, 4);
  cr_expect_str_eq(str(fin, "decision"), "PASS", "%s", str(fin, "reason"));
  cr_expect_str_eq(str(fin, "decided_by"), "approval");
  cr_expect_str_eq(str(fin, "correlation_id"), corr);
  cJSON_Delete(fin);
  cr_expect_str_neq(approval_col(id, "resume_published_at"), "NULL");
  cr_expect_eq(approver_count_log("\"event\":\"resume.published\""), 1, "%s",
               logs());
  cr_expect_eq(events(run_id, "resolved"), 1);
  cr_expect_str_eq(q1("SELECT status || ' ' || decision FROM runs WHERE "
                      "run_id = $1",
                      run_id),
                   "decided PASS");
  /* reply_to: NEED_HITL, then the one final decision. */
  qf_amqp_message_t r[3];
  cr_expect_eq(qf_wt_get(&T, reply_q, r, 3, 3), 2);
  for (int i = 0; i < 2; i++)
    qf_amqp_message_fini(&r[i]);
  finish();
}
