/* Hostile and broken JUnit input, generated at run time into a temporary
 * directory: each must be refused with its specific error, quickly, in
 * bounded memory, and without touching *out. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "qf/junit.h"
#include "qf/strbuf.h"
#include "support.h"

static char dir[PATH_MAX];

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/qf-test-junit-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void) {
  qf_test_proc_t p;
  qf_test_run((const char *[]){"rm", "-rf", dir, NULL}, NULL, 30, &p);
  qf_test_proc_fini(&p);
}

TestSuite(junit_hostile, .init = setup, .fini = teardown, .timeout = 120);

/* Writes len bytes into dir/name; returns the path (static storage, one
 * per name slot). */
static const char *put(const char *name, const void *data, size_t len) {
  static char paths[8][PATH_MAX + 64];
  static int next;
  char *path = paths[next++ % 8];
  snprintf(path, PATH_MAX + 64, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  cr_assert_not_null(f, "%s", path);
  cr_assert_eq(fwrite(data, 1, len, f), len);
  cr_assert_eq(fclose(f), 0);
  return path;
}

static const char *put_str(const char *name, const char *s) {
  return put(name, s, strlen(s));
}

/* Parses path, expects code and a message containing want (and, when
 * given, the file's path); *out must stay untouched. */
static void expect_refused(const char *path, int code, const char *want) {
  qf_junit_summary_t s = {-7, -7, -7, -7, -7, -7.0};
  qf_error_t err;
  qf_error_clear(&err);
  int rc = qf_junit_parse_file(path, &s, &err);
  cr_expect_eq(rc, code, "%s: rc %s (%s), want %s", path, qf_err_name(rc),
               err.message, qf_err_name(code));
  cr_expect_eq(err.code, code);
  cr_expect_not_null(strstr(err.message, want), "'%s' lacks '%s'", err.message,
                     want);
  cr_expect_not_null(strstr(err.message, path), "'%s' lacks the path",
                     err.message);
  cr_expect_eq(s.tests, -7, "out written on failure");
  cr_expect_eq(s.passed, -7, "out written on failure");
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

Test(junit_hostile, billion_laughs_is_refused_fast) {
  qf_strbuf_t sb;
  qf_strbuf_init(&sb);
  cr_assert_eq(qf_strbuf_puts(&sb,
                              "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n"
                              " <!ENTITY lol \"lol\">\n"),
               0);
  for (int i = 1; i <= 9; i++)
    cr_assert_eq(qf_strbuf_printf(&sb,
                                  " <!ENTITY lol%d \"&lol%s;&lol%s;&lol%s;"
                                  "&lol%s;&lol%s;&lol%s;&lol%s;&lol%s;&lol%s;"
                                  "&lol%s;\">\n",
                                  i, "", "", "", "", "", "", "", "", "", ""),
                 0);
  cr_assert_eq(qf_strbuf_puts(&sb,
                              "]>\n<testsuite name=\"&lol9;\"><testcase/>"
                              "</testsuite>\n"),
               0);
  const char *path = put("lolz.xml", sb.data, sb.len);
  double t0 = now_s();
  expect_refused(path, QF_EPARSE, "lolz.xml:2:");
  expect_refused(path, QF_EPARSE, "DOCTYPE not allowed");
  cr_expect_lt(now_s() - t0, 2.0);
  qf_strbuf_fini(&sb);
}

Test(junit_hostile, external_entity_is_never_loaded) {
  const char *path = put_str(
      "xxe.xml",
      "<?xml version=\"1.0\"?>\n"
      "<!DOCTYPE testsuite [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n"
      "<testsuite name=\"&xxe;\"><testcase name=\"&xxe;\"><failure>&xxe;"
      "</failure></testcase></testsuite>\n");
  expect_refused(path, QF_EPARSE, "DOCTYPE not allowed");
  qf_error_t err;
  qf_junit_summary_t s;
  cr_expect_lt(qf_junit_parse_file(path, &s, &err), 0);
  cr_expect_null(strstr(err.message, "root:"), "%s", err.message);
  cr_expect_null(strstr(err.message, "/bin/"), "%s", err.message);
  /* An external DTD subset and a parameter entity fare the same. */
  expect_refused(put_str("dtd.xml",
                         "<!DOCTYPE testsuite SYSTEM \"file:///etc/passwd\">"
                         "<testsuite/>"),
                 QF_EPARSE, "DOCTYPE");
  expect_refused(put_str("pe.xml",
                         "<!DOCTYPE t [<!ENTITY % p SYSTEM "
                         "\"file:///etc/passwd\"> %p;]><t/>"),
                 QF_EPARSE, "DOCTYPE");
}

Test(junit_hostile, undeclared_entity_is_a_parse_error) {
  expect_refused(put_str("ent.xml",
                         "<testsuite>\n<testcase name=\"&x;\"/>"
                         "</testsuite>"),
                 QF_EPARSE, "ent.xml:2:");
}

static void nested(qf_strbuf_t *sb, int depth) {
  qf_strbuf_init(sb);
  for (int i = 0; i < depth - 1; i++)
    cr_assert_eq(qf_strbuf_puts(sb, "<testsuite>"), 0);
  cr_assert_eq(qf_strbuf_puts(sb, "<testcase/>"), 0);
  for (int i = 0; i < depth - 1; i++)
    cr_assert_eq(qf_strbuf_puts(sb, "</testsuite>"), 0);
}

Test(junit_hostile, nesting_100000_deep_is_refused) {
  qf_strbuf_t sb;
  nested(&sb, 100000);
  double t0 = now_s();
  expect_refused(put("deep.xml", sb.data, sb.len), QF_ETOOBIG,
                 "nested deeper than");
  cr_expect_lt(now_s() - t0, 2.0);
  qf_strbuf_fini(&sb);
}

Test(junit_hostile, nesting_limit_is_exact) {
  qf_strbuf_t sb;
  qf_junit_summary_t s;
  qf_error_t err;
  nested(&sb, QF_JUNIT_MAX_DEPTH);
  cr_expect_eq(qf_junit_parse_buffer(sb.data, sb.len, "ok", &s, &err), 0, "%s",
               err.message);
  cr_expect_eq(s.tests, 1);
  qf_strbuf_fini(&sb);
  nested(&sb, QF_JUNIT_MAX_DEPTH + 1);
  cr_expect_eq(qf_junit_parse_buffer(sb.data, sb.len, "deep", &s, &err),
               QF_ETOOBIG);
  /* 257th element: line 1, column 11 * 256 + 1 */
  cr_expect_not_null(strstr(err.message, "deep:1:2817: "), "%s", err.message);
  qf_strbuf_fini(&sb);
}

Test(junit_hostile, file_over_the_limit_is_refused_before_reading) {
  const char *path = put_str("big.xml", "<testsuite>");
  int fd = open(path, O_WRONLY);
  cr_assert_geq(fd, 0);
  cr_assert_eq(ftruncate(fd, QF_JUNIT_MAX_FILE_BYTES + 1), 0);
  close(fd);
  double t0 = now_s();
  expect_refused(path, QF_ETOOBIG, "134217729 bytes");
  cr_expect_lt(now_s() - t0, 1.0);
  /* exactly at the limit it is read (and fails on the NUL bytes) */
  fd = open(path, O_WRONLY);
  cr_assert_eq(ftruncate(fd, QF_JUNIT_MAX_FILE_BYTES), 0);
  close(fd);
  expect_refused(path, QF_EPARSE, "big.xml:1:12: ");
}

Test(junit_hostile, buffer_over_the_limit_is_refused) {
  static const char tiny[] = "<a/>";
  qf_junit_summary_t s;
  qf_error_t err;
  /* The length is checked before any byte is read. */
  cr_expect_eq(qf_junit_parse_buffer(tiny, (size_t)QF_JUNIT_MAX_FILE_BYTES + 1,
                                     "huge", &s, &err),
               QF_ETOOBIG);
  cr_expect_not_null(strstr(err.message, "huge: "), "%s", err.message);
}

Test(junit_hostile, huge_token_is_refused_but_huge_text_is_fine) {
  size_t n = (size_t)QF_JUNIT_MAX_TOKEN_BYTES + 65536 * 2;
  char *buf = malloc(n + 64);
  qf_junit_summary_t s;
  qf_error_t err;
  cr_assert_not_null(buf);
  memcpy(buf, "<testsuite name=\"", 17);
  memset(buf + 17, 'x', n - 17);
  cr_expect_eq(qf_junit_parse_buffer(buf, n, "tok", &s, &err), QF_ETOOBIG);
  cr_expect_not_null(strstr(err.message, "longer than"), "%s", err.message);
  /* The same amount of failure text streams through. */
  memcpy(buf, "<testsuite><testcase><failure>", 30);
  strcpy(buf + n - 40, "</failure></testcase></testsuite>");
  cr_expect_eq(qf_junit_parse_buffer(buf, strlen(buf), "txt", &s, &err), 0,
               "%s", err.message);
  cr_expect_eq(s.failures, 1);
  free(buf);
}

Test(junit_hostile, truncated_file_names_line_and_column) {
  const char *xml =
      "<?xml version=\"1.0\"?>\n<testsuites>\n  <testsuite name=\"a\">\n"
      "    <testcase name=\"x\"/>\n    <testcase name=\"y\"><fail";
  expect_refused(put_str("trunc.xml", xml), QF_EPARSE, "trunc.xml:5:");
  expect_refused(put_str("trunc2.xml", "<testsuite><testcase/>\n"), QF_EPARSE,
                 "trunc2.xml:2:1: no element found (truncated");
}

Test(junit_hostile, mismatched_tag_message) {
  expect_refused(put_str("mm.xml", "<testsuite>\n<testcase>\n</testsuite>"),
                 QF_EPARSE, "mm.xml:3:3: mismatched tag");
  expect_refused(put_str("junk.xml", "<testsuite/>\n<testsuite/>"), QF_EPARSE,
                 "junk.xml:2:1: junk after document element");
}

Test(junit_hostile, random_binary_is_a_parse_error) {
  unsigned char buf[8192];
  unsigned x = 12345;
  for (size_t i = 0; i < sizeof buf; i++) {
    x = x * 1103515245u + 12345u;
    buf[i] = (unsigned char)(x >> 16);
  }
  buf[0] = 0x8f; /* not '<', not whitespace, not a BOM */
  expect_refused(put("bin.xml", buf, sizeof buf), QF_EPARSE, "bin.xml:1:");
}

Test(junit_hostile, nul_bytes_are_a_parse_error) {
  static const char inside[] =
      "<testsuite><testcase/>\0<testcase/></testsuite>";
  expect_refused(put("nul.xml", inside, sizeof inside - 1), QF_EPARSE,
                 "nul.xml:1:23: not well-formed");
  static const char lead[] = "\0\0\0\0<testsuite/>";
  expect_refused(put("nul2.xml", lead, sizeof lead - 1), QF_EPARSE,
                 "nul2.xml:1:");
}

Test(junit_hostile, empty_and_whitespace_files_have_no_content) {
  expect_refused(put("empty.xml", "", 0), QF_EPARSE,
                 "empty.xml: no XML content");
  expect_refused(put_str("ws.xml", " \n\t\r\n  "), QF_EPARSE,
                 "ws.xml: no XML content");
  expect_refused(put_str("decl.xml", "<?xml version=\"1.0\"?>\n"), QF_EPARSE,
                 "decl.xml:2:1: no element found");
  qf_junit_summary_t s;
  qf_error_t err;
  cr_expect_eq(qf_junit_parse_buffer("", 0, NULL, &s, &err), QF_EPARSE);
  cr_expect_str_eq(err.message,
                   "<buffer>: no XML content (empty or whitespace only)");
}

Test(junit_hostile, missing_unreadable_and_directory) {
  char path[PATH_MAX + 16];
  snprintf(path, sizeof path, "%s/none.xml", dir);
  expect_refused(path, QF_ENOENT, "No such file");
  expect_refused(dir, QF_EIO, "is a directory");
  if (geteuid() != 0) { /* root reads anything */
    const char *p = put_str("secret.xml", "<testsuite/>");
    cr_assert_eq(chmod(p, 0), 0);
    expect_refused(p, QF_EIO, "Permission denied");
  }
}

Test(junit_hostile, bad_encoding_is_a_parse_error) {
  expect_refused(put_str("enc.xml",
                         "<?xml version=\"1.0\" encoding=\"EBCDIC-X\"?>"
                         "<testsuite/>"),
                 QF_EPARSE, "enc.xml:1:");
  expect_refused(put_str("utf.xml", "<testsuite name=\"\xC3\x28\"/>"),
                 QF_EPARSE, "utf.xml:1:");
}
