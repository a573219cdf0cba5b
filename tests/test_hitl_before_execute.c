/* hitl.stage before_execute: a high-risk run parks before its tool runs;
 * approved, it resumes at execute and runs the tool once; rejected, the
 * tool never runs. The fixture (roles, worker, approver): hitl_support.h.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hitl_support.h"

TestSuite(hitl, .init = hitl_setup, .fini = hitl_teardown, .timeout = 240);

/* A worker with hitl.stage before_execute and a high-risk request whose
 * pytest test appends a line to marker (an absolute path: the sandbox
 * passes only whitelisted variables) each time it runs; returns once the
 * run is parked, having checked that the tool has not run. corr gets
 * the request's correlation id (128 bytes). */
static void park_before_execute(const char *tag, char *marker, size_t n,
                                char *run_id, char *id, char *corr) {
  char test_py[768];
  snprintf(marker, n, "%s/marker.txt", T.dir);
  snprintf(test_py, sizeof test_py,
           "\"\"\"Leaves a trace of each run.\"\"\"\n\n\n"
           "def test_marker():\n"
           "    with open(\"%s\", \"a\") as f:\n"
           "        f.write(\"ran\\n\")\n",
           marker);
  qf_wt_write_demo_file(&T, "tests/marker/test_marker.py", test_py);
  start_worker(write_policy("before_execute", 3600));
  publish_request(tag, "ci-bot", "tests/marker", reply_q, run_id, corr, 128);
  wait_need_hitl(run_id, id);
  cr_expect_str_eq(approval_col(id, "stage"), "before_execute");
  cr_expect_str_eq(q1("SELECT status FROM runs WHERE run_id = $1", run_id),
                   "awaiting_approval");
  sleep_ms(500);
  struct stat sb;
  cr_expect(stat(marker, &sb) < 0 && errno == ENOENT,
            "the tool ran before the approval");
  cr_expect_eq(events(run_id, "node.execute"), 0);
}

Test(hitl, before_execute_runs_the_tool_only_after_the_approval_once) {
  char marker[256], run_id[QF_UUID_STR_LEN + 1], id[QF_UUID_STR_LEN + 1];
  char corr[128];
  park_before_execute("before", marker, sizeof marker, run_id, id, corr);

  const char *args[] = {"approve", id, "--comment", "go", NULL};
  qf_test_proc_t p;
  qf_as(ALICE, NULL, args, &p);
  cr_assert_eq(p.status, 0, "%s%s", p.out.data, p.err.data);
  qf_test_proc_fini(&p);

  cJSON *fin = one_final_decision(run_id, 60, 3);
  char *rules = cJSON_PrintUnformatted(
      cJSON_GetObjectItemCaseSensitive(fin, "triggered_rules"));
  cr_expect_str_eq(str(fin, "decision"), "PASS", "%s %s", str(fin, "reason"),
                   rules);
  cr_expect(has_rule(fin, "high_risk_keyword:production:approved"), "%s",
            rules);
  cr_expect_str_eq(str(fin, "correlation_id"), corr);
  char evidence_path[1024];
  snprintf(evidence_path, sizeof evidence_path, "%s",
           str(fin, "evidence_path"));
  free(rules);
  cJSON_Delete(fin);

  char *text = read_file(marker);
  cr_assert_not_null(text, "the tool never ran\n%s", logs());
  cr_expect_str_eq(text, "ran\n", "the tool ran exactly once");
  free(text);
  cr_expect_eq(events(run_id, "node.execute"), 1);
  cr_expect_eq(events(run_id, "resumed"), 1);
  cr_expect_str_eq(approval_col(id, "decided_by"), role[ALICE]);
  cr_expect_str_eq(q1("SELECT status || ' ' || decision FROM runs WHERE "
                      "run_id = $1",
                      run_id),
                   "decided PASS");
  char *ev_text = read_file(evidence_path);
  cr_assert_not_null(ev_text, "evidence '%s'", evidence_path);
  cJSON *ev = cJSON_Parse(ev_text);
  free(ev_text);
  const cJSON *g = cJSON_GetObjectItemCaseSensitive(ev, "governance");
  cr_expect_str_eq(str(g, "approver"), role[ALICE]);
  cr_expect_str_eq(str(g, "approval_comment"), "go");
  cJSON_Delete(ev);
  qf_test_assert_evidence_valid(evidence_path);
  cr_expect_eq(qf_wt_queue_count(&T, T.topo.queue), 0);
  finish();
}

Test(hitl, before_execute_rejected_never_runs_the_tool) {
  char marker[256], run_id[QF_UUID_STR_LEN + 1], id[QF_UUID_STR_LEN + 1];
  char corr[128];
  park_before_execute("before-no", marker, sizeof marker, run_id, id, corr);
  const char *args[] = {"reject", id, "--reason", "not today", NULL};
  qf_test_proc_t p;
  qf_as(BOB, NULL, args, &p);
  cr_assert_eq(p.status, 0, "%s%s", p.out.data, p.err.data);
  qf_test_proc_fini(&p);
  cJSON *fin = one_final_decision(run_id, 60, 2);
  cr_expect_str_eq(str(fin, "decision"), "FAIL", "%s", str(fin, "reason"));
  cr_expect_str_eq(str(fin, "decided_by"), "approval");
  cr_expect(strstr(str(fin, "reason"), "not today") != NULL, "%s",
            str(fin, "reason"));
  cJSON_Delete(fin);
  struct stat sb;
  cr_expect(stat(marker, &sb) < 0 && errno == ENOENT,
            "a rejected run must never run the tool");
  cr_expect_eq(events(run_id, "node.execute"), 0);
  cr_expect_eq(events(run_id, "resolved"), 1);
  finish();
}
