/* qf evals: the golden dataset, regressions against expectations and
 * against a baseline, and invalid datasets. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

#define GOLDEN QF_SOURCE_DIR "/policy/golden.yaml"
#define POLICY QF_SOURCE_DIR "/policy/default.yaml"
#define JUNIT QF_SOURCE_DIR "/policy/golden/junit/"

static int evals(const char *const *args, qf_test_proc_t *p) {
  const char *argv[16] = {QF_TEST_BIN, "evals"};
  size_t n = 2;
  for (size_t i = 0; args[i] && n < 15; i++)
    argv[n++] = args[i];
  argv[n] = NULL;
  qf_test_run(argv, NULL, 120, p);
  return p->status;
}

static const char *write_tmp(const char *dir, const char *name,
                             const char *text) {
  static char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  fputs(text, f);
  fclose(f);
  return path;
}

Test(evals, golden_dataset_passes_and_saves_valid_evidence) {
  const char *out = qf_test_tmpdir();
  qf_test_proc_t p;
  cr_assert_eq(evals((const char *[]){"--dataset", GOLDEN, "--policy", POLICY,
                                      "--output", out, "--json",
                                      "--fail-on-regression", NULL},
                     &p),
               0, "%s%s", p.out.data, p.err.data);
  cJSON *rep = cJSON_Parse(p.out.data);
  cr_assert_not_null(rep);
  int total = cJSON_GetObjectItem(rep, "total_cases")->valueint;
  cr_expect_geq(total, 30);
  cr_expect_eq(cJSON_GetObjectItem(rep, "passed")->valueint, total);
  cr_expect_eq(cJSON_GetObjectItem(rep, "regressions")->valueint, 0);
  /* Every case's evidence is where its result says, and schema-valid. */
  const cJSON *c;
  cJSON_ArrayForEach(c, cJSON_GetObjectItem(rep, "results")) {
    const char *path = cJSON_GetObjectItem(c, "evidence_path")->valuestring;
    cr_assert_not_null(path);
    qf_test_assert_evidence_valid(path);
  }
  cJSON_Delete(rep);
  qf_test_proc_fini(&p);
}

Test(evals, changing_a_rule_makes_the_dataset_fail) {
  const char *dir = qf_test_tmpdir();
  /* The shipped policy, with one failure now tolerated. */
  char *text = NULL;
  FILE *f = fopen(POLICY, "r");
  cr_assert_not_null(f);
  char buf[65536];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  char *at = strstr(buf, "max_failures: 0");
  cr_assert_not_null(at, "default.yaml has junit_pass_rule.max_failures: 0");
  at[strlen("max_failures: ")] = '1';
  text = buf;
  const char *policy = write_tmp(dir, "lenient.yaml", text);
  qf_test_proc_t p;
  cr_expect_eq(
      evals((const char *[]){"--dataset", GOLDEN, "--policy", policy,
                             "--output", dir, "--fail-on-regression", NULL},
            &p),
      1, "%s%s", p.out.data, p.err.data);
  cr_expect_not_null(strstr(p.out.data, "FAIL fail_one_of_five"), "%s",
                     p.out.data);
  qf_test_proc_fini(&p);
  /* Without --fail-on-regression the run reports but exits 0. */
  cr_expect_eq(evals((const char *[]){"--dataset", GOLDEN, "--policy", policy,
                                      "--output", dir, NULL},
                     &p),
               0);
  cr_expect_not_null(strstr(p.out.data, "2 regressions"), "%s", p.out.data);
  qf_test_proc_fini(&p);
}

static const char dataset_v1[] =
    "cases:\n"
    "  - id: a\n"
    "    input_nl: run tests\n"
    "    junit: " JUNIT
    "pass3.xml\n"
    "    expected: {decision: PASS, summary: {tests: 3}}\n"
    "  - id: b\n"
    "    input_nl: run tests\n"
    "    junit: " JUNIT
    "fail1of5.xml\n"
    "    expected: {decision: FAIL}\n";

/* Same decisions; case a's expectation now fails (3 tests, not 4); case b
 * is gone and c is new. */
static const char dataset_v2[] =
    "cases:\n"
    "  - id: a\n"
    "    input_nl: run tests\n"
    "    junit: " JUNIT
    "pass3.xml\n"
    "    expected: {decision: PASS, summary: {tests: 4}}\n"
    "  - id: c\n"
    "    input_nl: run tests\n"
    "    junit: " JUNIT
    "pass3.xml\n"
    "    expected: {decision: PASS}\n";

Test(evals, baseline_catches_a_failed_expectation_with_the_same_decision) {
  const char *dir = qf_test_tmpdir();
  char ds1[512], ds2[512], base[512], out[512];
  snprintf(ds1, sizeof ds1, "%s", write_tmp(dir, "v1.yaml", dataset_v1));
  snprintf(ds2, sizeof ds2, "%s", write_tmp(dir, "v2.yaml", dataset_v2));
  snprintf(base, sizeof base, "%s/baseline.json", dir);
  snprintf(out, sizeof out, "%s/out", dir);
  qf_test_proc_t p;
  cr_assert_eq(
      evals((const char *[]){"--dataset", ds1, "--policy", POLICY, "--baseline",
                             base, "--update-baseline", "--output", out, NULL},
            &p),
      0, "%s", p.err.data);
  qf_test_proc_fini(&p);
  cr_assert_eq(evals((const char *[]){"--dataset", ds1, "--policy", POLICY,
                                      "--baseline", base, "--output", out,
                                      "--fail-on-regression", NULL},
                     &p),
               0, "unchanged dataset: %s", p.out.data);
  qf_test_proc_fini(&p);
  cr_assert_eq(evals((const char *[]){"--dataset", ds2, "--policy", POLICY,
                                      "--baseline", base, "--output", out,
                                      "--json", "--fail-on-regression", NULL},
                     &p),
               1, "%s", p.out.data);
  cJSON *rep = cJSON_Parse(p.out.data);
  cr_assert_not_null(rep);
  cr_expect_eq(cJSON_GetObjectItem(rep, "regressions")->valueint, 1);
  cr_expect_eq(cJSON_GetObjectItem(rep, "added")->valueint, 1);
  cr_expect_eq(cJSON_GetObjectItem(rep, "removed")->valueint, 1);
  const cJSON *d = cJSON_GetArrayItem(cJSON_GetObjectItem(rep, "diffs"), 0);
  cr_expect_str_eq(cJSON_GetObjectItem(d, "case_id")->valuestring, "a");
  cr_expect_str_eq(cJSON_GetObjectItem(d, "status")->valuestring, "REGRESSION");
  cJSON_Delete(rep);
  qf_test_proc_fini(&p);
  char md[600];
  snprintf(md, sizeof md, "%s/diff_report.md", out);
  FILE *f = fopen(md, "r");
  cr_assert_not_null(f, "diff_report.md written");
  char text[4096];
  size_t n = fread(text, 1, sizeof text - 1, f);
  text[n] = '\0';
  fclose(f);
  cr_expect_not_null(strstr(text, "| a | REGRESSION | PASS | PASS | PASS |"),
                     "%s", text);
}

struct bad_dataset {
  const char *yaml, *message;
};

Test(evals, invalid_datasets_exit_65_naming_the_case) {
  static const struct bad_dataset cases[] = {
      {"cases:\n  - {id: a, input_nl: x, colour: red, expected: {decision: "
       "PASS}}\n",
       "cases[0].colour: unknown key"},
      {"cases:\n  - {id: a, input_nl: x, expected: {decision: MAYBE}}\n",
       "cases[0].expected.decision: must be PASS, FAIL or NEED_HITL"},
      {"cases:\n  - {id: a, input_nl: x, expected: {decision: PASS}}\n"
       "  - {id: a, input_nl: y, expected: {decision: PASS}}\n",
       "cases[1].id: duplicate case id"},
      {"cases:\n  - {id: a, input_nl: x, tool_status: exploded, expected: "
       "{decision: PASS}}\n",
       "cases[0].tool_status"},
      {"base: &b {id: a}\ncases:\n  - *b\n",
       "anchors and tags are not allowed"},
      {"cases:\n  - *b\n", "aliases are not allowed"},
      {"cases: []\n", "cases: must be a non-empty list"},
      {"cases:\n  - id: a\n   input_nl: bad indent\n", ":3:"},
  };
  const char *dir = qf_test_tmpdir();
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char name[32];
    snprintf(name, sizeof name, "bad%zu.yaml", i);
    const char *ds = write_tmp(dir, name, cases[i].yaml);
    qf_test_proc_t p;
    cr_expect_eq(evals((const char *[]){"--dataset", ds, "--policy", POLICY,
                                        "--output", dir, NULL},
                       &p),
                 65, "case %zu: %s", i, p.err.data);
    cr_expect_not_null(strstr(p.err.data, cases[i].message),
                       "case %zu: got '%s', want '%s'", i, p.err.data,
                       cases[i].message);
    cr_expect_not_null(strstr(p.err.data, name), "names the file: %s",
                       p.err.data);
    qf_test_proc_fini(&p);
  }
}

Test(evals, a_case_whose_files_are_missing_is_an_error_result) {
  const char *dir = qf_test_tmpdir();
  const char *ds = write_tmp(dir, "missing.yaml",
                             "cases:\n  - id: gone\n    input_nl: x\n"
                             "    junit: no/such/file.xml\n"
                             "    expected: {decision: PASS}\n");
  qf_test_proc_t p;
  cr_expect_eq(
      evals((const char *[]){"--dataset", ds, "--policy", POLICY, "--output",
                             dir, "--fail-on-regression", NULL},
            &p),
      1);
  cr_expect_not_null(strstr(p.out.data, "got ERROR"), "%s", p.out.data);
  cr_expect_not_null(strstr(p.out.data, "no/such/file.xml"), "%s", p.out.data);
  qf_test_proc_fini(&p);
}

Test(evals, usage_errors_exit_64) {
  qf_test_proc_t p;
  cr_expect_eq(evals((const char *[]){NULL}, &p), 64);
  qf_test_proc_fini(&p);
  cr_expect_eq(
      evals((const char *[]){"--dataset", GOLDEN, "--update-baseline", NULL},
            &p),
      64);
  cr_expect_not_null(strstr(p.err.data, "--baseline"));
  qf_test_proc_fini(&p);
}
