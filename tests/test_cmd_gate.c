/* qf gate: exit codes and output on real evidence files. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qf/evidence.h"
#include "support.h"

/* Writes an evidence document for input nl with a summary into a fresh
 * directory and returns its path (static buffer). */
static const char *write_evidence(const char *nl, long long tests,
                                  long long failures) {
  static char path[512];
  qf_evidence_t *ev = NULL;
  qf_error_t err;
  cr_assert_eq(qf_evidence_new("0b6f6f0e-4a3c-5d7e-9f10-1234567890ab", nl, NULL,
                               &ev, &err),
               0);
  qf_tool_call_t call = {.tool_name = "run_pytest",
                         .status = failures ? QF_TOOL_FAILED : QF_TOOL_SUCCESS,
                         .duration_ms = 10};
  cr_assert_eq(qf_evidence_add_tool_call(ev, &call, &err), 0);
  qf_junit_summary_t j = {
      .tests = tests, .failures = failures, .passed = tests - failures};
  qf_evidence_summarize(ev, &j);
  qf_evidence_account(ev, 300, 3);
  qf_evidence_stamp(ev);
  char *p = NULL;
  cr_assert_eq(qf_evidence_write(ev, qf_test_tmpdir(), &p, &err), 0);
  snprintf(path, sizeof path, "%s", p);
  free(p);
  qf_test_assert_evidence_valid(path);
  qf_evidence_free(ev);
  return path;
}

static int gate(const char *evidence, const char *extra, qf_test_proc_t *p) {
  const char *argv[] = {QF_TEST_BIN,  "gate",
                        "--evidence", evidence,
                        "--policy",   QF_SOURCE_DIR "/policy/default.yaml",
                        extra,        NULL};
  qf_test_run(argv, NULL, 30, p);
  return p->status;
}

Test(cmd_gate, exit_code_is_the_decision) {
  qf_test_proc_t p;
  cr_expect_eq(gate(write_evidence("run the unit tests", 3, 0), NULL, &p), 0,
               "%s", p.err.data);
  cr_expect_not_null(strstr(p.out.data, "PASS: all 3 tests passed"), "%s",
                     p.out.data);
  qf_test_proc_fini(&p);
  cr_expect_eq(gate(write_evidence("run the unit tests", 3, 1), NULL, &p), 1);
  cr_expect_not_null(strstr(p.out.data, "FAIL: 1 of 3 tests failed"));
  qf_test_proc_fini(&p);
  cr_expect_eq(gate(write_evidence("drop table users", 3, 0), NULL, &p), 2);
  cr_expect_not_null(strstr(p.out.data, "NEED_HITL"));
  qf_test_proc_fini(&p);
}

Test(cmd_gate, json_output_has_the_decision_fields) {
  qf_test_proc_t p;
  cr_assert_eq(gate(write_evidence("truncate logs", 3, 0), "--json", &p), 2);
  cJSON *j = cJSON_Parse(p.out.data);
  cr_assert_not_null(j, "%s", p.out.data);
  cr_expect_str_eq(cJSON_GetObjectItem(j, "decision")->valuestring,
                   "NEED_HITL");
  cr_expect_str_eq(
      cJSON_GetArrayItem(cJSON_GetObjectItem(j, "triggered_rules"), 0)
          ->valuestring,
      "high_risk_keyword:truncate");
  cr_expect(cJSON_IsString(cJSON_GetObjectItem(j, "reason")));
  cr_expect_str_eq(cJSON_GetObjectItem(j, "policy_version")->valuestring,
                   "1.0");
  cr_expect_eq(strlen(cJSON_GetObjectItem(j, "policy_hash")->valuestring), 64);
  cJSON_Delete(j);
  qf_test_proc_fini(&p);
}

Test(cmd_gate, invalid_input_exits_65_naming_the_problem) {
  qf_test_proc_t p;
  char bad[512];
  snprintf(bad, sizeof bad, "%s/bad.json", qf_test_tmpdir());
  FILE *f = fopen(bad, "w");
  fputs("{\"run_id\": 1}", f);
  fclose(f);
  cr_expect_eq(gate(bad, NULL, &p), 65);
  cr_expect_not_null(strstr(p.err.data, "bad.json"), "%s", p.err.data);
  cr_expect_not_null(strstr(p.err.data, "input_nl: missing"), "%s", p.err.data);
  qf_test_proc_fini(&p);
  cr_expect_eq(gate("/nonexistent.json", NULL, &p), 65);
  qf_test_proc_fini(&p);

  const char *argv[] = {QF_TEST_BIN,  "gate",
                        "--evidence", write_evidence("x", 1, 0),
                        "--policy",   "/nonexistent/policy.yaml",
                        NULL};
  qf_test_run(argv, NULL, 30, &p);
  cr_expect_eq(p.status, 65);
  cr_expect_not_null(strstr(p.err.data, "/nonexistent/policy.yaml"));
  qf_test_proc_fini(&p);
}

Test(cmd_gate, usage_errors_exit_64) {
  qf_test_proc_t p;
  qf_test_run((const char *[]){QF_TEST_BIN, "gate", NULL}, NULL, 30, &p);
  cr_expect_eq(p.status, 64);
  cr_expect_not_null(strstr(p.err.data, "--evidence FILE is required"));
  qf_test_proc_fini(&p);
  qf_test_run((const char *[]){QF_TEST_BIN, "gate", "--evidence", NULL}, NULL,
              30, &p);
  cr_expect_eq(p.status, 64);
  qf_test_proc_fini(&p);
}
