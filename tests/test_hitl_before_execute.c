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

#define ALLOW_NONE "  allow: []\n"

/* A run with a source parks before execute having resolved its ref; the
 * branch moves on while it waits; approved, it tests the commit it parked
 * with (a human approved that one), in a fresh checkout. */
Test(hitl, before_execute_with_a_source_tests_the_commit_it_parked_with) {
  char cmd[1200], ids[256], a[41], b[41], buf[128];
  snprintf(cmd, sizeof cmd, "sh %s/tests/make_repo.sh %s/git > %s/ids",
           QF_SOURCE_DIR, T.dir, T.dir);
  qf_wt_sh(cmd, 60);
  snprintf(ids, sizeof ids, "%s/ids", T.dir);
  cr_assert_eq(sscanf(qf_test_slurp(ids, buf, sizeof buf), "%40s %40s", a, b),
               2);
  /* The shipped policy allows no source: this one allows the test's. */
  const char *policy = write_policy("before_execute", 3600);
  char *text = read_file(policy), *at = text ? strstr(text, ALLOW_NONE) : NULL;
  cr_assert_not_null(at, "policy/default.yaml has no '%s'", ALLOW_NONE);
  FILE *f = fopen(policy, "w");
  cr_assert_not_null(f);
  fprintf(f, "%.*s  allow:\n    - \"%s/git/*\"\n%s", (int)(at - text), text,
          T.dir, at + strlen(ALLOW_NONE));
  fclose(f);
  free(text);
  start_worker(policy);
  char body[1024], mid[128], run_id[QF_UUID_STR_LEN + 1];
  char id[QF_UUID_STR_LEN + 1];
  snprintf(body, sizeof body,
           "{\"nl_input\":\"smoke test production login\","
           "\"requested_by\":\"ci-bot\",\"options\":{\"tool_name\":"
           "\"run_pytest\",\"args\":{\"test_path\":\"tests/test_a.py\"}},"
           "\"source\":{\"repo\":\"%s/git/origin.git\",\"ref\":\"side\"}}",
           T.dir);
  snprintf(mid, sizeof mid, "%s-source", T.prefix);
  qf_wt_run_id(mid, run_id);
  qf_wt_publish(&T, body, strlen(body), mid, "corr-source", reply_q);
  wait_need_hitl(run_id, id);
  /* side moves on to the failing commit B while the run waits. */
  snprintf(cmd, sizeof cmd,
           "git -C %s/git/work push -q -f %s/git/origin.git %s:refs/heads/side",
           T.dir, T.dir, b);
  qf_wt_sh(cmd, 30);
  const char *args[] = {"approve", id, "--comment", "ship A", NULL};
  qf_test_proc_t p;
  qf_as(ALICE, NULL, args, &p);
  cr_assert_eq(p.status, 0, "%s%s", p.out.data, p.err.data);
  qf_test_proc_fini(&p);
  cJSON *fin = one_final_decision(run_id, 90, 2);
  const cJSON *src = cJSON_GetObjectItemCaseSensitive(fin, "source");
  cr_expect_str_eq(str(src, "commit"), a, "tested %s, not the parked A",
                   str(src, "commit"));
  cr_expect_str_eq(str(fin, "decision"), "PASS", "%s\n%s", str(fin, "reason"),
                   logs());
  cJSON_Delete(fin);
  cr_expect_eq(events(run_id, "node.execute"), 1);
  finish();
}
