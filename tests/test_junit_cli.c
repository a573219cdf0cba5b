/* qf junit: exit codes, JSON and text output, error messages. */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

#define DATA QF_SOURCE_DIR "/tests/data/junit"

static char dir[PATH_MAX];

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/qf-test-junit-cli-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void) {
  qf_test_proc_t p;
  qf_test_run((const char *[]){"rm", "-rf", dir, NULL}, NULL, 30, &p);
  qf_test_proc_fini(&p);
}

TestSuite(junit_cli, .init = setup, .fini = teardown);

static const char *put(const char *name, const char *text) {
  static char paths[4][PATH_MAX + 64];
  static int next;
  char *path = paths[next++ % 4];
  snprintf(path, PATH_MAX + 64, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  fputs(text, f);
  fclose(f);
  return path;
}

static int run(const char *const *argv, qf_test_proc_t *p) {
  qf_test_run(argv, NULL, 60, p);
  return p->status;
}

Test(junit_cli, json_total_of_several_files) {
  qf_test_proc_t p;
  const char *a = put("a.xml",
                      "<testsuites time=\"1.5\"><testsuite><testcase/>"
                      "<testcase><failure/></testcase><testcase><error/>"
                      "</testcase></testsuite></testsuites>");
  const char *b = put("b.xml",
                      "<testsuite tests=\"10\" failures=\"1\" skipped=\"2\" "
                      "time=\"0.25\"/>");
  cr_expect_eq(
      run((const char *[]){QF_TEST_BIN, "junit", "--json", a, b, NULL}, &p), 0,
      "%s", p.err.data);
  cr_expect_str_eq(p.out.data,
                   "{\"tests\":13,\"failures\":2,\"errors\":1,\"skipped\":2,"
                   "\"passed\":8,\"time\":1.750}\n");
  cr_expect_str_eq(p.err.data, "");
  qf_test_proc_fini(&p);
}

Test(junit_cli, json_of_a_real_report) {
  qf_test_proc_t p;
  cr_expect_eq(run((const char *[]){QF_TEST_BIN, "junit",
                                    DATA "/gtest/report.xml", "--json", NULL},
                   &p),
               0, "%s", p.err.data);
  cr_expect_str_eq(p.out.data,
                   "{\"tests\":5,\"failures\":1,\"errors\":0,\"skipped\":2,"
                   "\"passed\":2,\"time\":0.000}\n");
  qf_test_proc_fini(&p);
}

Test(junit_cli, text_has_a_line_per_file_and_a_total) {
  qf_test_proc_t p;
  const char *a = put("a.xml", "<testsuite><testcase/></testsuite>");
  const char *b =
      put("b.xml", "<testsuite><testcase><skipped/></testcase></testsuite>");
  cr_expect_eq(run((const char *[]){QF_TEST_BIN, "junit", a, b, NULL}, &p), 0);
  char want[3 * PATH_MAX];
  snprintf(want, sizeof want,
           "%s: tests=1 failures=0 errors=0 skipped=0 passed=1 time=0.000s\n"
           "%s: tests=1 failures=0 errors=0 skipped=1 passed=0 time=0.000s\n"
           "total: tests=2 failures=0 errors=0 skipped=1 passed=1 "
           "time=0.000s\n",
           a, b);
  cr_expect_str_eq(p.out.data, want);
  qf_test_proc_fini(&p);
}

Test(junit_cli, invalid_file_exits_65_naming_file_and_line) {
  qf_test_proc_t p;
  const char *good = put("good.xml", "<testsuite><testcase/></testsuite>");
  const char *bad = put("bad.xml", "<testsuite>\n<testcase>\n</testsuite>\n");
  cr_expect_eq(
      run((const char *[]){QF_TEST_BIN, "junit", "--json", good, bad, NULL},
          &p),
      65);
  char want[PATH_MAX + 64];
  snprintf(want, sizeof want, "qf junit: %s:3:3: mismatched tag\n", bad);
  cr_expect_str_eq(p.err.data, want);
  cr_expect_str_eq(p.out.data, "");
  qf_test_proc_fini(&p);
}

Test(junit_cli, missing_empty_and_hostile_files_exit_65) {
  qf_test_proc_t p;
  const char *empty = put("empty.xml", "");
  const char *dtd = put("dtd.xml",
                        "<!DOCTYPE t [<!ENTITY x SYSTEM \"file:///etc/passwd\">"
                        "]><testsuite name=\"&x;\"/>");
  const char *cases[][2] = {{"/nonexistent/junit.xml", "No such file"},
                            {empty, "no XML content"},
                            {dtd, "DOCTYPE not allowed"},
                            {dir, "is a directory"}};
  for (size_t i = 0; i < 4; i++) {
    cr_expect_eq(
        run((const char *[]){QF_TEST_BIN, "junit", cases[i][0], NULL}, &p), 65,
        "%s", cases[i][0]);
    cr_expect_not_null(strstr(p.err.data, cases[i][0]), "%s", p.err.data);
    cr_expect_not_null(strstr(p.err.data, cases[i][1]), "%s", p.err.data);
    cr_expect_null(strstr(p.err.data, "root:"), "%s", p.err.data);
    cr_expect_str_eq(p.out.data, "");
    qf_test_proc_fini(&p);
  }
}

Test(junit_cli, usage_errors_exit_64) {
  qf_test_proc_t p;
  cr_expect_eq(run((const char *[]){QF_TEST_BIN, "junit", NULL}, &p), 64);
  cr_expect_not_null(strstr(p.err.data, "no FILE"));
  cr_expect_not_null(strstr(p.err.data, "usage: qf junit"));
  qf_test_proc_fini(&p);
  cr_expect_eq(run((const char *[]){QF_TEST_BIN, "junit", "--json", NULL}, &p),
               64);
  qf_test_proc_fini(&p);
  cr_expect_eq(
      run((const char *[]){QF_TEST_BIN, "junit", "--bogus", "x.xml", NULL}, &p),
      64);
  cr_expect_not_null(strstr(p.err.data, "unknown option --bogus"));
  qf_test_proc_fini(&p);
}

Test(junit_cli, help_exits_0) {
  qf_test_proc_t p;
  cr_expect_eq(run((const char *[]){QF_TEST_BIN, "junit", "--help", NULL}, &p),
               0);
  cr_expect_not_null(strstr(p.out.data, "usage: qf junit [--json] FILE..."));
  qf_test_proc_fini(&p);
  cr_expect_eq(run((const char *[]){QF_TEST_BIN, "help", "junit", NULL}, &p),
               0);
  cr_expect_not_null(strstr(p.out.data, "usage: qf junit"));
  qf_test_proc_fini(&p);
}

Test(junit_cli, double_dash_ends_options) {
  qf_test_proc_t p;
  const char *a = put("-x.xml", "<testsuite><testcase/></testsuite>");
  (void)a;
  char rel[PATH_MAX + 16];
  snprintf(rel, sizeof rel, "%s/-x.xml", dir);
  cr_expect_eq(
      run((const char *[]){QF_TEST_BIN, "junit", "--json", "--", rel, NULL},
          &p),
      0, "%s", p.err.data);
  cr_expect_not_null(strstr(p.out.data, "\"tests\":1,"));
  qf_test_proc_fini(&p);
}
