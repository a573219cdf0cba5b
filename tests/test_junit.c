/* JUnit XML parsing: real tools' reports, the counting rules, the
 * suite-attribute fallback, sums, and hostile input. The command line is
 * in test_junit_cli.c. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qf/junit.h"
#include "support.h"

#define DATA QF_SOURCE_DIR "/tests/data/junit"

static int parse(const char *xml, qf_junit_summary_t *out, qf_error_t *err) {
  qf_error_clear(err);
  return qf_junit_parse_buffer(xml, strlen(xml), "t.xml", out, err);
}

/* Parses xml that must be valid and checks its counts. */
static void expect_counts(const char *xml, long long tests, long long fail,
                          long long errs, long long skip, long long pass) {
  qf_junit_summary_t s;
  qf_error_t err;
  int rc = parse(xml, &s, &err);
  cr_assert_eq(rc, 0, "%s: %s", xml, err.message);
  cr_expect_eq(s.tests, tests, "tests of %s: %lld", xml, s.tests);
  cr_expect_eq(s.failures, fail, "failures of %s: %lld", xml, s.failures);
  cr_expect_eq(s.errors, errs, "errors of %s: %lld", xml, s.errors);
  cr_expect_eq(s.skipped, skip, "skipped of %s: %lld", xml, s.skipped);
  cr_expect_eq(s.passed, pass, "passed of %s: %lld", xml, s.passed);
}

static double time_of(const char *xml) {
  qf_junit_summary_t s;
  qf_error_t err;
  cr_assert_eq(parse(xml, &s, &err), 0, "%s: %s", xml, err.message);
  return s.time_s;
}

/* ------------------------------------------------ real tools' reports */

/* expected.txt: "path tests failures errors skipped passed" per line. */
static int load_expected(char paths[][128], long long (*n)[5], int max) {
  FILE *f = fopen(DATA "/expected.txt", "r");
  char line[512];
  int count = 0;
  cr_assert_not_null(f, "tests/data/junit/expected.txt is missing");
  while (fgets(line, sizeof line, f) != NULL && count < max) {
    if (line[0] == '#' || line[0] == '\n') continue;
    long long *v = n[count];
    int got = sscanf(line, "%127s %lld %lld %lld %lld %lld", paths[count],
                     &v[0], &v[1], &v[2], &v[3], &v[4]);
    cr_assert_eq(got, 6, "bad line in expected.txt: %s", line);
    count++;
  }
  fclose(f);
  return count;
}

Test(junit, real_tool_reports_match_expected_counts) {
  static char paths[64][128];
  static long long n[64][5];
  int count = load_expected(paths, n, 64);
  cr_assert_geq(count, 8, "expected.txt lists only %d reports", count);
  for (int i = 0; i < count; i++) {
    char path[512];
    qf_junit_summary_t s;
    qf_error_t err;
    snprintf(path, sizeof path, DATA "/%s", paths[i]);
    int rc = qf_junit_parse_file(path, &s, &err);
    cr_expect_eq(rc, 0, "%s: %s", paths[i], err.message);
    if (rc != 0) continue;
    long long got[5] = {s.tests, s.failures, s.errors, s.skipped, s.passed};
    for (int k = 0; k < 5; k++)
      cr_expect_eq(got[k], n[i][k], "%s field %d: got %lld, want %lld",
                   paths[i], k, got[k], n[i][k]);
    cr_expect_geq(s.time_s, 0.0);
  }
}

static int listed(const char *rel, char paths[][128], int count) {
  for (int i = 0; i < count; i++)
    if (strcmp(paths[i], rel) == 0) return 1;
  return 0;
}

Test(junit, every_fixture_is_in_expected_txt) {
  static char paths[64][128];
  static long long n[64][5];
  int count = load_expected(paths, n, 64), seen = 0;
  DIR *top = opendir(DATA);
  struct dirent *t, *e;
  cr_assert_not_null(top);
  while ((t = readdir(top)) != NULL) {
    char sub[512], rel[600];
    if (t->d_name[0] == '.') continue;
    snprintf(sub, sizeof sub, DATA "/%s", t->d_name);
    DIR *d = opendir(sub);
    if (d == NULL) continue;
    while ((e = readdir(d)) != NULL) {
      size_t len = strlen(e->d_name);
      if (len < 4 || strcmp(e->d_name + len - 4, ".xml") != 0) continue;
      snprintf(rel, sizeof rel, "%s/%s", t->d_name, e->d_name);
      cr_expect(listed(rel, paths, count), "%s not in expected.txt", rel);
      seen++;
    }
    closedir(d);
  }
  closedir(top);
  cr_expect_eq(seen, count, "%d reports on disk, %d in expected.txt", seen,
               count);
}

/* ------------------------------------------------------ counting rules */

Test(junit, outcome_per_testcase_first_match_wins) {
  expect_counts(
      "<testsuite><testcase/><testcase><failure/></testcase>"
      "<testcase><error/></testcase><testcase><skipped/></testcase>"
      "<testcase><error/><failure/></testcase>"
      "<testcase><skipped/><error/></testcase></testsuite>",
      6, 2, 2, 1, 1);
}

Test(junit, status_and_result_attributes_mean_skipped) {
  expect_counts(
      "<testsuites><testsuite>"
      "<testcase status=\"notrun\"/><testcase status=\"disabled\"/>"
      "<testcase result=\"skipped\"/><testcase result=\"suppressed\"/>"
      "<testcase status=\"run\" result=\"completed\"/>"
      "<testcase status=\"fail\"/><testcase status=\"NOTRUN\"/>"
      "<testcase status=\"notrun\"><failure/></testcase>"
      "</testsuite></testsuites>",
      8, 1, 0, 4, 3);
}

Test(junit, reruns_and_flaky_attempts_are_not_failures) {
  /* surefire: flaky = passed at last; rerunFailure alongside <failure>. */
  expect_counts(
      "<testsuite><testcase><flakyFailure/><flakyError/></testcase>"
      "<testcase><failure/><rerunFailure/><rerunFailure/></testcase>"
      "<testcase><rerunError/><error/></testcase></testsuite>",
      3, 1, 1, 0, 1);
}

Test(junit, testcases_count_at_any_depth) {
  expect_counts(
      "<testsuites><testsuite><testsuite><testsuite><testsuite>"
      "<testcase/><testcase><failure/></testcase>"
      "</testsuite></testsuite><testcase/></testsuite></testsuite>"
      "<testcase/></testsuites>",
      4, 1, 0, 0, 3);
}

Test(junit, outcome_elements_count_only_as_direct_children) {
  expect_counts(
      "<testsuite><failure/><testcase><system-out><failure/><error/>"
      "</system-out></testcase></testsuite>",
      1, 0, 0, 0, 1);
}

Test(junit, testcases_win_over_suite_attributes) {
  expect_counts(
      "<testsuite tests=\"50\" failures=\"9\" errors=\"9\" skipped=\"9\">"
      "<testcase/><testcase><failure/></testcase></testsuite>",
      2, 1, 0, 0, 1);
}

Test(junit, prefixed_names_count_by_their_local_part) {
  expect_counts(
      "<j:testsuites xmlns:j=\"urn:x\"><j:testsuite><j:testcase/>"
      "<j:testcase><j:failure/></j:testcase></j:testsuite></j:testsuites>",
      2, 1, 0, 0, 1);
  expect_counts("<testsuite xmlns=\"urn:y\"><testcase/></testsuite>", 1, 0, 0,
                0, 1);
}

Test(junit, comments_cdata_and_pis_are_harmless) {
  expect_counts(
      "\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<?xml-stylesheet href=\"x.xsl\"?><!-- <testcase/> -->\n"
      "<testsuite><testcase><failure><![CDATA[<testcase/>]]></failure>"
      "</testcase></testsuite>",
      1, 1, 0, 0, 0);
}

Test(junit, other_encodings_are_decoded) {
  expect_counts(
      "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>"
      "<testsuite name=\"caf\xE9\"><testcase/></testsuite>",
      1, 0, 0, 0, 1);
}

/* ------------------------------------------ fallback: suite attributes */

Test(junit, root_testsuite_attributes) {
  const char *x =
      "<testsuite tests=\"10\" failures=\"1\" errors=\"2\" skipped=\"1\" "
      "time=\"1.234\"/>";
  expect_counts(x, 10, 1, 2, 1, 6);
  cr_expect_float_eq(time_of(x), 1.234, 1e-9);
}

Test(junit, root_testsuite_skip_replaces_missing_or_zero_skipped) {
  expect_counts("<testsuite tests=\"5\" skip=\"2\"/>", 5, 0, 0, 2, 3);
  expect_counts("<testsuite tests=\"5\" skipped=\"0\" skip=\"2\"/>", 5, 0, 0, 2,
                3);
  expect_counts("<testsuite tests=\"5\" skipped=\"x\" skip=\"2\"/>", 5, 0, 0, 2,
                3);
  expect_counts("<testsuite tests=\"5\" skipped=\"1\" skip=\"2\"/>", 5, 0, 0, 1,
                4);
}

Test(junit, testsuites_without_tests_sums_direct_children) {
  const char *x =
      "<testsuites>"
      "<testsuite tests=\"5\" failures=\"1\" errors=\"0\" skipped=\"1\" "
      "time=\"0.5\"><testsuite tests=\"100\" failures=\"50\"/></testsuite>"
      "<testsuite tests=\"3\" errors=\"1\" skip=\"0\" time=\"0.3\"/>"
      "<testsuites><testsuite tests=\"70\"/></testsuites>"
      "</testsuites>";
  expect_counts(x, 8, 1, 1, 1, 5);
  cr_expect_float_eq(time_of(x), 0.8, 1e-9);
  expect_counts("<testsuites tests=\"\"><testsuite tests=\"4\"/></testsuites>",
                4, 0, 0, 0, 4);
}

Test(junit, testsuites_with_tests_is_authoritative) {
  expect_counts(
      "<testsuites tests=\"20\" failures=\"2\" errors=\"1\" skipped=\"3\">"
      "<testsuite tests=\"5\" failures=\"1\"/></testsuites>",
      20, 2, 1, 3, 14);
  expect_counts(
      "<testsuites tests=\"0\"><testsuite tests=\"5\" failures=\"1\"/>"
      "</testsuites>",
      0, 0, 0, 0, 0);
  /* no skip fallback on a root <testsuites> */
  expect_counts("<testsuites tests=\"4\" skip=\"2\"/>", 4, 0, 0, 0, 4);
}

Test(junit, other_root_uses_first_descendant_suite) {
  expect_counts(
      "<report><meta/><testsuite tests=\"3\" failures=\"1\"/>"
      "<testsuite tests=\"9\"/></report>",
      3, 1, 0, 0, 2);
  expect_counts("<report><nothing/></report>", 0, 0, 0, 0, 0);
}

Test(junit, counts_are_plain_base10_or_zero) {
  expect_counts(
      "<testsuite tests=\"2.0\" failures=\"-1\" errors=\" 3\" "
      "skipped=\"0x2\"/>",
      0, 0, 0, 0, 0);
  expect_counts("<testsuite tests=\"007\" failures=\"1e2\"/>", 7, 0, 0, 0, 7);
  expect_counts("<testsuite/>", 0, 0, 0, 0, 0);
}

Test(junit, passed_never_negative) {
  expect_counts("<testsuite tests=\"2\" failures=\"3\" errors=\"4\"/>", 2, 3, 4,
                0, 0);
}

Test(junit, absurd_counts_saturate) {
  expect_counts(
      "<testsuite tests=\"99999999999999999999999999999999\" "
      "failures=\"9223372036854775808\"/>",
      QF_JUNIT_COUNT_MAX, QF_JUNIT_COUNT_MAX, 0, 0, 0);
}

/* --------------------------------------------------------------- time */

Test(junit, time_from_root_else_top_level_suites) {
  cr_expect_float_eq(
      time_of("<testsuites time=\"2.5\"><testsuite time=\"9\"/></testsuites>"),
      2.5, 1e-9);
  cr_expect_float_eq(
      time_of("<testsuites><testsuite time=\"1.5\"><testsuite time=\"1.5\"/>"
              "<testcase time=\"7\"/></testsuite>"
              "<testsuite time=\"0.25\"/></testsuites>"),
      1.75, 1e-9);
  cr_expect_float_eq(
      time_of("<r><x><testsuite time=\"1\"/></x><testsuite time=\"2\">"
              "<testsuite time=\"4\"/></testsuite></r>"),
      3.0, 1e-9);
  /* No suite says: the cases' times add up (a million cases of 1 ms are
   * 1000 s, not 0). */
  cr_expect_float_eq(time_of("<testsuite><testcase time=\"3\"/><testcase "
                             "time=\"0.5\"/></testsuite>"),
                     3.5, 1e-9);
  cr_expect_float_eq(time_of("<testsuite time=\"1\"><testcase time=\"3\"/>"
                             "</testsuite>"),
                     1.0, 1e-9);
}

Test(junit, garbage_time_is_zero) {
  static const char *const bad[] = {"abc",   "1,5",  "-1", "nan", "inf",
                                    "1e400", "1e13", "",   "1.5s"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char xml[128];
    snprintf(xml, sizeof xml, "<testsuite time=\"%s\"><testcase/></testsuite>",
             bad[i]);
    cr_expect_float_eq(time_of(xml), 0.0, 1e-12, "time=\"%s\"", bad[i]);
  }
  cr_expect_float_eq(time_of("<testsuite time=\" 1e1 \"/>"), 10.0, 1e-9);
}

/* ---------------------------------------------------------------- sums */

Test(junit, summary_add_sums_and_recomputes_passed) {
  qf_junit_summary_t acc = {0};
  qf_junit_summary_t a = {10, 1, 2, 3, 4, 1.5}, b = {5, 0, 0, 5, 0, 0.25};
  qf_junit_summary_add(&acc, &a);
  qf_junit_summary_add(&acc, &b);
  cr_expect_eq(acc.tests, 15);
  cr_expect_eq(acc.failures, 1);
  cr_expect_eq(acc.errors, 2);
  cr_expect_eq(acc.skipped, 8);
  cr_expect_eq(acc.passed, 4);
  cr_expect_float_eq(acc.time_s, 1.75, 1e-9);
  qf_junit_summary_t big = {QF_JUNIT_COUNT_MAX, QF_JUNIT_COUNT_MAX, 0, 0, 0, 0};
  qf_junit_summary_add(&acc, &big);
  qf_junit_summary_add(&acc, &big);
  cr_expect_eq(acc.tests, QF_JUNIT_COUNT_MAX);
  cr_expect_eq(acc.failures, QF_JUNIT_COUNT_MAX);
  cr_expect_eq(acc.passed, 0);
}

Test(junit, several_real_reports_sum) {
  static const char *const files[] = {"pytest/xunit2.xml", "ctest/junit.xml",
                                      "gtest/report.xml"};
  qf_junit_summary_t acc = {0}, s;
  qf_error_t err;
  long long tests = 0, failures = 0, skipped = 0;
  for (size_t i = 0; i < 3; i++) {
    char path[512];
    snprintf(path, sizeof path, DATA "/%s", files[i]);
    cr_assert_eq(qf_junit_parse_file(path, &s, &err), 0, "%s", err.message);
    tests += s.tests;
    failures += s.failures;
    skipped += s.skipped;
    qf_junit_summary_add(&acc, &s);
  }
  cr_expect_eq(acc.tests, tests);
  cr_expect_eq(acc.tests, 7 + 5 + 5);
  cr_expect_eq(acc.failures, failures);
  cr_expect_eq(acc.skipped, skipped);
  cr_expect_eq(acc.passed, acc.tests - acc.failures - acc.errors - acc.skipped);
}

Test(junit, a_fifo_device_or_symlink_is_refused_without_blocking,
     .timeout = 10) {
  char dir[64], fifo[128], link[128];
  snprintf(dir, sizeof dir, "%s", qf_test_tmpdir());
  snprintf(fifo, sizeof fifo, "%s/junit.xml", dir);
  cr_assert_eq(mkfifo(fifo, 0600), 0);
  qf_junit_summary_t s;
  qf_error_t err;
  cr_expect_eq(qf_junit_parse_file(fifo, &s, &err), QF_EIO);
  cr_expect(strstr(err.message, "a FIFO") != NULL, "%s", err.message);
  cr_expect_eq(qf_junit_parse_file("/dev/zero", &s, &err), QF_EIO);
  cr_expect(strstr(err.message, "a device") != NULL, "%s", err.message);
  snprintf(link, sizeof link, "%s/link.xml", dir);
  cr_assert_eq(symlink("/etc/passwd", link), 0);
  cr_expect_eq(qf_junit_parse_file(link, &s, &err), QF_EPERM, "%s",
               err.message);
}

/* ----------------------------------------------------------- failures */

static void read_failures(const char *path, qf_junit_failures_t *f) {
  qf_junit_summary_t s;
  qf_error_t err;
  qf_junit_failures_init(f);
  cr_assert_eq(qf_junit_read_file(path, &s, f, &err), 0, "%s", err.message);
}

Test(junit, failures_of_pytest_name_the_case_message_and_line) {
  qf_junit_failures_t f;
  read_failures(DATA "/pytest/xunit2.xml", &f);
  cr_assert_eq(f.n, 2);
  cr_expect_eq(f.total, 2);
  cr_expect_str_eq(f.items[0].suite, "test_sample");
  cr_expect_str_eq(f.items[0].name, "test_fails");
  cr_expect_str_eq(f.items[0].kind, "failure");
  cr_expect_str_eq(f.items[0].message, "AssertionError: one is not two");
  cr_expect_str_eq(f.items[0].file, "test_sample.py");
  cr_expect_eq(f.items[0].line, 18);
  cr_expect_str_eq(f.items[1].name, "test_fixture_error");
  cr_expect_str_eq(f.items[1].kind, "error");
  cr_expect_eq(f.items[1].line, 6);
  qf_junit_failures_fini(&f);
}

Test(junit, failures_of_playwright_point_at_the_failing_line) {
  qf_junit_failures_t f;
  read_failures(DATA "/playwright/junit.xml", &f);
  cr_assert_geq(f.n, 1);
  cr_expect_str_eq(f.items[0].name, "heading says Goodbye (fails)");
  cr_expect_str_eq(f.items[0].suite, "sample.spec.js");
  cr_expect_str_eq(f.items[0].message,
                   "expect(locator).toHaveText(expected) failed");
  cr_expect(strstr(f.items[0].file, "sample.spec.js") != NULL, "%s",
            f.items[0].file);
  cr_expect_eq(f.items[0].line, 13);
  qf_junit_failures_fini(&f);
}

static void write_file(const char *path, const char *text) {
  FILE *fp = fopen(path, "w");
  cr_assert_not_null(fp);
  fputs(text, fp);
  fclose(fp);
}

Test(junit, failures_fall_back_to_text_and_attributes) {
  char path[] = "/tmp/qf-junit-fail-XXXXXX";
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  close(fd);
  write_file(path,
             "<testsuite name=\"S\"><testcase name=\"a\" file=\"t/a.c\" "
             "line=\"7\"><failure>first line\nsecond</failure></testcase>"
             "<testcase name=\"b\"><error message=\"m1&#10;m2\"/><failure/>"
             "</testcase><testcase name=\"c\"/><testcase name=\"d\">"
             "<error message=\"collection failure\">Traceback:\n"
             "  File \"/usr/lib/python3.11/ast.py\", line 50, in parse\n"
             "E     File \"/w/tests/test_x.py\", line 4\n"
             "E       def broken(:\n</error></testcase></testsuite>");
  qf_junit_failures_t f;
  read_failures(path, &f);
  cr_assert_geq(f.n, 2);
  cr_expect_str_eq(f.items[0].suite, "S");
  cr_expect_str_eq(f.items[0].message, "first line");
  cr_expect_str_eq(f.items[0].file, "t/a.c");
  cr_expect_eq(f.items[0].line, 7);
  /* A <failure> beats an <error>, as in the counts; the message keeps its
   * first line. */
  cr_expect_str_eq(f.items[1].kind, "failure");
  cr_expect_str_eq(f.items[1].message, "m1");
  cr_expect_null(f.items[1].file);
  /* Python's traceback form, the last one named. */
  cr_assert_eq(f.n, 3);
  cr_expect_str_eq(f.items[2].file, "/w/tests/test_x.py");
  cr_expect_eq(f.items[2].line, 4);
  qf_junit_failures_fini(&f);
  unlink(path);
}

Test(junit, failures_are_capped_and_counted) {
  char path[] = "/tmp/qf-junit-many-XXXXXX";
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  FILE *fp = fdopen(fd, "w");
  fputs("<testsuite>", fp);
  for (int i = 0; i < 1000; i++) {
    fprintf(fp, "<testcase name=\"t%d\"><failure message=\"", i);
    for (int k = 0; k < 3000; k++)
      fputc('x', fp);
    fputs("\"/></testcase>", fp);
  }
  fputs("</testsuite>", fp);
  fclose(fp);
  qf_junit_failures_t f;
  read_failures(path, &f);
  cr_expect_eq(f.n, QF_JUNIT_MAX_FAILURES);
  cr_expect_eq(f.total, 1000);
  cr_expect_str_eq(f.items[49].name, "t49");
  cr_expect_eq(strlen(f.items[0].message), QF_JUNIT_FAILURE_TEXT_MAX);
  qf_junit_failures_fini(&f);
  unlink(path);
}

Test(junit, a_refused_report_adds_no_failures) {
  char path[] = "/tmp/qf-junit-bad-XXXXXX";
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  close(fd);
  write_file(path, "<testsuite><testcase name=\"a\"><failure/></testcase>");
  qf_junit_failures_t f;
  qf_junit_summary_t s;
  qf_error_t err;
  qf_junit_failures_init(&f);
  cr_expect_lt(qf_junit_read_file(path, &s, &f, &err), 0);
  cr_expect_eq(f.n, 0);
  cr_expect_eq(f.total, 0);
  qf_junit_failures_fini(&f);
  unlink(path);
}
