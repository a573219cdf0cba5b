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

/* ------------------------------------------------ reference evidence v1 */

#define REF_DIR QF_SOURCE_DIR "/tests/data/reference_v1/"

/* The reference plan's three gate examples (tests/data/reference_v1/):
 * gated by the same rules as our own documents. */
Test(cmd_gate, reference_examples_gate_as_the_reference_decides) {
  static const struct {
    const char *file;
    int code;
    const char *out, *rule;
  } cases[] = {
      {"pass.json", 0, "PASS: all 5 tests passed", "junit_all_passed"},
      {"fail.json", 1, "FAIL: 2 of 5 tests failed", "junit_has_failures"},
      {"need_hitl.json", 2, "NEED_HITL: high-risk keyword detected: deploy",
       "high_risk_keyword:deploy"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    qf_test_proc_t p;
    char path[512];
    snprintf(path, sizeof path, REF_DIR "%s", cases[i].file);
    cr_expect_eq(gate(path, NULL, &p), cases[i].code, "%s: %s%s", cases[i].file,
                 p.out.data, p.err.data);
    cr_expect_not_null(strstr(p.out.data, cases[i].out), "%s: %s",
                       cases[i].file, p.out.data);
    qf_test_proc_fini(&p);
    cr_expect_eq(gate(path, "--json", &p), cases[i].code);
    cJSON *j = cJSON_Parse(p.out.data);
    cr_assert_not_null(j, "%s: %s", cases[i].file, p.out.data);
    cr_expect_str_eq(
        cJSON_GetArrayItem(cJSON_GetObjectItem(j, "triggered_rules"), 0)
            ->valuestring,
        cases[i].rule);
    cJSON_Delete(j);
    qf_test_proc_fini(&p);
  }
}

/* One variant of the PASS example: its top-level key set to value (JSON
 * text), or removed when value is NULL; then the exit code and a
 * substring of the output (stdout for a decision, stderr for 65). */
struct ref_variant {
  const char *key, *value;
  int code;
  const char *expect;
};

static const struct ref_variant ref_variants[] = {
    /* Accepted where the reference model accepts them. */
    {"summary", "null", 0, "PASS: all tools succeeded"},
    {"summary", NULL, 0, "PASS: all tools succeeded"},
    {"summary", "{}", 0, "PASS: all tools succeeded"},
    {"summary", "{\"tests\": 3, \"failures\": 1}", 1,
     "FAIL: 1 of 3 tests failed"},
    {"summary",
     "{\"tests\": 5, \"failures\": 0, \"errors\": 0, "
     "\"skipped\": 0, \"time\": 2}",
     0, "PASS: all 5 tests passed"},
    {"repro", NULL, 0, "PASS: all 5 tests passed"},
    {"repro",
     "{\"git_sha\": \"c037055\", \"git_branch\": \"main\", \"git_dirty\": "
     "null, \"python_version\": \"3.11.4\", \"platform_info\": "
     "\"linux-x86_64\", \"deps_fingerprint\": null, "
     "\"deps_fingerprint_algo\": \"sha256\", \"deps_source\": null}",
     0, "PASS"},
    {"governance", "null", 0, "PASS"},
    {"governance",
     "{\"budget\": {\"elapsed_ms_total\": 1200, \"attempts_total\": 1, "
     "\"retries_used_total\": 0}, \"policy_limits\": {}, "
     "\"short_circuited\": false, \"short_circuit_reason\": null, "
     "\"decision_source\": null}",
     0, "PASS"},
    {"governance",
     "{\"budget\": {\"elapsed_ms_total\": 2000, \"attempts_total\": 1, "
     "\"retries_used_total\": 0}, \"policy_limits\": {\"timeout_s\": 1, "
     "\"max_retries\": 3}, \"short_circuited\": true, "
     "\"short_circuit_reason\": \"budget_elapsed_exceeded\", "
     "\"decision_source\": \"governance_short_circuit\"}",
     1, "over budget: 2000ms > 1000ms"},
    {"governance", "{}", 0, "PASS"},
    /* No governance: the budget is the tool time, as the reference
     * collector sums it, and the policy's 300 s still apply. */
    {"tool_calls",
     "[{\"tool_name\": \"run_pytest\", \"status\": \"success\", "
     "\"duration_ms\": 400000}]",
     1, "over budget: 400000ms > 300000ms"},
    {"tool_calls",
     "[{\"tool_name\": \"run_pytest\", \"status\": \"success\", "
     "\"duration_ms\": 1200, \"exit_code\": 0, \"steps_total\": 5, "
     "\"steps_passed\": 5, \"steps_failed\": 0, \"error_message\": null}]",
     0, "PASS"},
    {"tool_calls", NULL, 0, "PASS: all 5 tests passed"},
    {"tool_calls", "[]", 0, "PASS: all 5 tests passed"},
    {"$schema", "\"https://qualityfoundry.ai/schemas/evidence.v1.schema.json\"",
     0, "PASS"},
    {"schema_ref",
     "\"https://qualityfoundry.ai/schemas/evidence.v1.schema.json\"", 0,
     "PASS"},
    {"environment", NULL, 0, "PASS"},
    {"environment",
     "{\"environment_id\": \"6f1c2a4e-0d3b-4c5a-8e9f-0a1b2c3d4e5f\", "
     "\"base_url\": \"http://localhost:8000\", \"headless\": true, "
     "\"browser\": \"chromium\"}",
     0, "PASS"},
    {"artifacts",
     "[{\"type\": \"junit_xml\", \"path\": "
     "\"3f6c1c52-7a43-4c1e-9a51-6c9a0a1b2c00/tools/run_pytest/junit.xml\", "
     "\"mime\": \"application/xml\", \"size\": 512, \"sha256\": null, "
     "\"metadata\": {}}]",
     0, "PASS"},
    {"artifacts", NULL, 0, "PASS"},
    {"collected_at", "\"2026-11-24T00:56:46.711861+00:00\"", 0, "PASS"},
    {"collected_at", NULL, 0, "PASS"},
    {"ai_review", "null", 0, "PASS"},
    {"ai_review", "{\"verdict\": \"PASS\", \"confidence\": 0.9}", 0, "PASS"},
    {"input_nl", "\"\"", 0, "PASS"},
    /* Refused, naming the field. */
    {"color", "1", 65, "color: unknown key"},
    {"dry_run", "false", 65, "dry_run: unknown key"},
    {"decision", "null", 65, "decision: unknown key"},
    {"run_id", NULL, 65, "run_id: missing"},
    {"run_id", "null", 65, "run_id: must be a string"},
    {"input_nl", "7", 65, "input_nl: must be a string"},
    {"summary", "{\"tests\": \"5\"}", 65, "summary.tests: must be an integer"},
    {"summary", "{\"tests\": null}", 65, "summary.tests: must be an integer"},
    {"summary", "{\"tests\": 5, \"color\": 1}", 65,
     "summary.color: unknown key"},
    {"summary", "{\"time\": -1}", 65, "summary.time: must be a number >= 0"},
    {"summary", "[]", 65, "summary: must be an object"},
    {"tool_calls", "null", 65, "tool_calls: must be an array"},
    {"tool_calls", "[{\"tool_name\": \"run_pytest\"}]", 65,
     "tool_calls[0].status: missing"},
    {"tool_calls", "[{\"tool_name\": \"run_pytest\", \"status\": \"ok\"}]", 65,
     "tool_calls[0].status: must be one of"},
    {"tool_calls",
     "[{\"tool_name\": \"run_pytest\", \"status\": \"success\", "
     "\"attempts\": 1}]",
     65, "tool_calls[0].attempts: unknown key"},
    {"tool_calls",
     "[{\"tool_name\": \"run_pytest\", \"status\": \"success\", "
     "\"duration_ms\": null}]",
     65, "tool_calls[0].duration_ms: must be an integer"},
    {"environment", "null", 65, "environment: must be an object"},
    {"environment", "{\"environment_id\": 7}", 65,
     "environment.environment_id: must be a string or null"},
    {"artifacts", "[{\"type\": \"junit_xml\"}]", 65,
     "artifacts[0].path: missing"},
    {"artifacts", "[{\"type\": \"pdf\", \"path\": \"a/b\"}]", 65,
     "artifacts[0].type: must be one of"},
    {"artifacts", "[{\"type\": \"log\", \"path\": \"a/b\", \"color\": 1}]", 65,
     "artifacts[0].color: unknown key"},
    {"repro", "{\"git_sha\": null}", 65, "repro.python_version: missing"},
    {"repro",
     "{\"python_version\": \"3.11\", \"platform_info\": \"linux-x86_64\", "
     "\"runtime\": \"c\"}",
     65, "repro.runtime: unknown key"},
    {"governance", "{\"budget\": {\"elapsed_ms_total\": -1}}", 65,
     "governance.budget.elapsed_ms_total: must be an integer"},
    {"governance", "{\"approver\": \"alice\"}", 65,
     "governance.approver: unknown key"},
    {"governance", "{\"short_circuited\": \"no\"}", 65,
     "governance.short_circuited: must be true or false"},
    {"governance", "{\"budget\": null}", 65,
     "governance.budget: must be an object"},
    {"collected_at", "\"yesterday\"", 65,
     "collected_at: must be an ISO-8601 date-time"},
    {"collected_at", "null", 65, "collected_at: must be a string"},
    {"collected_at", "1700000000", 65, "collected_at: must be a string"},
    {"ai_review", "\"yes\"", 65, "ai_review: must be an object or null"},
    {"$schema", "\"https://example.com/evidence.json\"", 65,
     "$schema: must be"},
    {"$schema", "null", 65, "$schema: must be"},
    {"schema_ref", "\"https://example.com/evidence.json\"", 65,
     "schema_ref: must be"},
    /* Our $schema on a reference document: read as ours, which needs its
     * governance block. */
    {"$schema",
     "\"https://qualityfoundry.dev/schemas/qf-worker/evidence.v1.json\"", 65,
     "governance: missing"},
};

/* Writes the PASS example with variant v applied into dir; returns the
 * path (static buffer). */
static const char *write_variant(const char *dir, size_t i,
                                 const struct ref_variant *v) {
  static char path[512];
  char text[8192];
  qf_test_slurp(REF_DIR "pass.json", text, sizeof text);
  cJSON *doc = cJSON_Parse(text);
  cr_assert_not_null(doc);
  if (v->value == NULL) {
    cJSON_DeleteItemFromObjectCaseSensitive(doc, v->key);
  } else {
    cJSON *val = cJSON_Parse(v->value);
    cr_assert_not_null(val, "variant %zu: bad JSON %s", i, v->value);
    if (cJSON_GetObjectItemCaseSensitive(doc, v->key))
      cJSON_ReplaceItemInObjectCaseSensitive(doc, v->key, val);
    else
      cJSON_AddItemToObject(doc, v->key, val);
  }
  char *out = cJSON_Print(doc);
  snprintf(path, sizeof path, "%s/variant-%zu.json", dir, i);
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  fputs(out, f);
  fclose(f);
  cJSON_free(out);
  cJSON_Delete(doc);
  return path;
}

Test(cmd_gate, reference_variants_are_accepted_or_refused_naming_the_field) {
  const char *dir = qf_test_tmpdir();
  for (size_t i = 0; i < sizeof ref_variants / sizeof ref_variants[0]; i++) {
    const struct ref_variant *v = &ref_variants[i];
    qf_test_proc_t p;
    const char *path = write_variant(dir, i, v);
    int code = gate(path, NULL, &p);
    const char *where = v->code == 65 ? p.err.data : p.out.data;
    cr_expect_eq(code, v->code, "variant %zu (%s = %s): exit %d: %s%s", i,
                 v->key, v->value ? v->value : "(removed)", code, p.out.data,
                 p.err.data);
    cr_expect_not_null(strstr(where, v->expect),
                       "variant %zu (%s = %s): want '%s' in: %s%s", i, v->key,
                       v->value ? v->value : "(removed)", v->expect, p.out.data,
                       p.err.data);
    if (v->code == 65)
      cr_expect_not_null(strstr(p.err.data, path), "variant %zu: %s", i,
                         p.err.data);
    qf_test_proc_fini(&p);
  }
}

/* Without a summary, a failed tool call fails the run (the reference's
 * rule 3b), whatever its step counts say: no summary is made up from
 * them. */
Test(cmd_gate, reference_without_summary_decides_on_the_tool_calls) {
  const char *dir = qf_test_tmpdir();
  static const struct ref_variant v = {
      "tool_calls",
      "[{\"tool_name\": \"run_pytest\", \"status\": \"failed\", "
      "\"steps_total\": 5, \"steps_passed\": 5, \"error_message\": "
      "\"pytest exited with code 5\"}]",
      1, ""};
  char text[8192];
  const char *path = write_variant(dir, 0, &v);
  qf_test_slurp(path, text, sizeof text);
  cJSON *doc = cJSON_Parse(text);
  cJSON_ReplaceItemInObjectCaseSensitive(doc, "summary", cJSON_CreateNull());
  char *out = cJSON_Print(doc);
  FILE *f = fopen(path, "w");
  fputs(out, f);
  fclose(f);
  cJSON_free(out);
  cJSON_Delete(doc);
  qf_test_proc_t p;
  cr_expect_eq(gate(path, NULL, &p), 1, "%s%s", p.out.data, p.err.data);
  cr_expect_not_null(
      strstr(p.out.data,
             "FAIL: tool execution failed: run_pytest (pytest exited with "
             "code 5)"),
      "%s", p.out.data);
  cr_expect_not_null(strstr(p.out.data, "rule: tool_execution_failed"));
  qf_test_proc_fini(&p);
}

/* Run from its build directory, qf finds the policy of the tree it was
 * built from, whatever the current directory: nothing is guessed from an
 * install prefix where nothing was installed. */
Test(cmd_gate, the_build_tree_policy_is_found_from_anywhere) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd,
           "cd / && unset QF_POLICY && exec %s gate --evidence "
           "%s/tests/data/reference_v1/pass.json",
           QF_TEST_BIN, QF_SOURCE_DIR);
  const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
  qf_test_proc_t p;
  qf_test_run(argv, NULL, 30, &p);
  cr_expect_eq(p.status, 0, "%s%s", p.out.data, p.err.data);
  cr_expect(strstr(p.out.data, "PASS") != NULL, "%s", p.out.data);
  qf_test_proc_fini(&p);
}
