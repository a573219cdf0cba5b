/* junit.c: streaming JUnit XML summary on top of Expat (rules: junit.h). */
#include "qf/junit.h"

#include "qf/fsutil.h"
#include "qf/utf8.h"

#include <errno.h>
#include <expat.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK_BYTES 65536
#define STR2(x) #x
#define STR(x) STR2(x)

#include "junit_internal.h"

static long long sat_add(long long a, long long b) {
  return a > QF_JUNIT_COUNT_MAX - b ? QF_JUNIT_COUNT_MAX : a + b;
}

static void recompute_passed(qf_junit_summary_t *s) {
  long long used = sat_add(sat_add(s->failures, s->errors), s->skipped);
  s->passed = s->tests > used ? s->tests - used : 0;
}

void qf_junit_summary_add(qf_junit_summary_t *acc,
                          const qf_junit_summary_t *s) {
  acc->tests = sat_add(acc->tests, s->tests);
  acc->failures = sat_add(acc->failures, s->failures);
  acc->errors = sat_add(acc->errors, s->errors);
  acc->skipped = sat_add(acc->skipped, s->skipped);
  acc->time_s += s->time_s;
  recompute_passed(acc);
}

static long long count_or_zero(const char *v) {
  long long n = qf__junit_parse_count(v);
  return n < 0 ? 0 : n;
}

/* A finite number in [0, QF_JUNIT_MAX_TIME_S]; anything else is 0. */
static double parse_time(const char *v) {
  char *end = NULL;
  if (v == NULL || *v == '\0') return 0.0;
  double t = strtod(v, &end);
  while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
    end++;
  if (*end != '\0' || !isfinite(t) || t < 0 || t > QF_JUNIT_MAX_TIME_S)
    return 0.0;
  return t;
}

/* A suite's counts from its attributes; skip_rule: a missing, invalid or
 * zero skipped is replaced by skip. */
static qf_junit_summary_t suite_attrs(const XML_Char **atts, int skip_rule) {
  qf_junit_summary_t s = {0};
  s.tests = count_or_zero(qf__junit_attr(atts, "tests"));
  s.failures = count_or_zero(qf__junit_attr(atts, "failures"));
  s.errors = count_or_zero(qf__junit_attr(atts, "errors"));
  s.skipped = count_or_zero(qf__junit_attr(atts, "skipped"));
  if (skip_rule && s.skipped == 0)
    s.skipped = count_or_zero(qf__junit_attr(atts, "skip"));
  s.time_s = parse_time(qf__junit_attr(atts, "time"));
  return s;
}

static int classify(const char *name) {
  const char *colon = strrchr(name, ':');
  if (colon != NULL) name = colon + 1;
  if (strcmp(name, "testcase") == 0) return K_CASE;
  if (strcmp(name, "testsuite") == 0) return K_SUITE;
  if (strcmp(name, "testsuites") == 0) return K_SUITES;
  if (strcmp(name, "failure") == 0) return K_FAILURE;
  if (strcmp(name, "error") == 0) return K_ERROR;
  if (strcmp(name, "skipped") == 0) return K_SKIP;
  return K_OTHER;
}

static int skip_status(const char *v) {
  static const char *const words[] = {"notrun", "disabled", "skipped",
                                      "suppressed"};
  if (v == NULL) return 0;
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
    if (strcmp(v, words[i]) == 0) return 1;
  return 0;
}

static void on_root(state_t *s, int k, const XML_Char **atts) {
  const char *tests = qf__junit_attr(atts, "tests");
  s->root_kind = k;
  s->root_has_time = qf__junit_attr(atts, "time") != NULL;
  s->root_has_tests = tests != NULL && *tests != '\0';
  s->root = suite_attrs(atts, k == K_SUITE);
}

static void on_suite(state_t *s, const XML_Char **atts) {
  if (s->open_suites == 0 && qf__junit_attr(atts, "time") != NULL)
    s->any_suite_time = 1;
  if (s->open_suites++ == 0)
    s->top_time += parse_time(qf__junit_attr(atts, "time"));
  if (s->oc)
    qf__junit_copy_cut(s->oc->suite, NAME_CAP, qf__junit_attr(atts, "name"));
  if (s->root_kind == K_SUITES && s->depth == 2) {
    qf_junit_summary_t c = suite_attrs(atts, 1);
    qf_junit_summary_add(&s->direct, &c);
  }
  if (s->root_kind == K_OTHER && !s->have_first_suite) {
    s->first = suite_attrs(atts, 1);
    s->have_first_suite = 1;
  }
}

static void XMLCALL on_start(void *ud, const XML_Char *name,
                             const XML_Char **atts) {
  state_t *s = ud;
  qf__junit_note_event(s);
  if (s->rc != 0) return;
  if (s->depth >= QF_JUNIT_MAX_DEPTH) {
    qf__junit_fail_here(s, QF_ETOOBIG,
                        "elements nested deeper than " STR(QF_JUNIT_MAX_DEPTH));
    return;
  }
  int k = classify(name);
  s->depth++;
  s->kind[s->depth] = (unsigned char)k;
  s->flags[s->depth] = 0;
  if (s->depth == 1) on_root(s, k, atts);
  if (k == K_SUITE) on_suite(s, atts);
  if (k == K_CASE) {
    s->cases.tests = sat_add(s->cases.tests, 1);
    s->case_time += parse_time(qf__junit_attr(atts, "time"));
    if (skip_status(qf__junit_attr(atts, "status")) ||
        skip_status(qf__junit_attr(atts, "result")))
      s->flags[s->depth] = F_SKIP;
    if (s->oc) qf__junit_case_open(s->oc, atts);
  }
  if (s->depth >= 2 && s->kind[s->depth - 1] == K_CASE) {
    if (k == K_FAILURE) s->flags[s->depth - 1] |= F_FAILURE;
    if (k == K_ERROR) s->flags[s->depth - 1] |= F_ERROR;
    if (k == K_SKIP) s->flags[s->depth - 1] |= F_SKIP;
    if (s->oc && (k == K_FAILURE || k == K_ERROR))
      qf__junit_failure_open(s->oc, atts);
  }
}

static void XMLCALL on_end(void *ud, const XML_Char *name) {
  state_t *s = ud;
  (void)name;
  qf__junit_note_event(s);
  if (s->rc != 0 || s->depth == 0) return;
  int k = s->kind[s->depth], f = s->flags[s->depth];
  if (k == K_SUITE) s->open_suites--;
  if (s->oc && (k == K_FAILURE || k == K_ERROR) && s->oc->in_failure)
    qf__junit_text_line_done(s->oc), s->oc->in_failure = 0;
  if (s->oc && k == K_CASE && (f & (F_FAILURE | F_ERROR)))
    qf__junit_case_failed(s, f & F_FAILURE ? "failure" : "error");
  if (k == K_CASE) {
    if (f & F_FAILURE)
      s->cases.failures = sat_add(s->cases.failures, 1);
    else if (f & F_ERROR)
      s->cases.errors = sat_add(s->cases.errors, 1);
    else if (f & F_SKIP)
      s->cases.skipped = sat_add(s->cases.skipped, 1);
  }
  s->depth--;
}

static void XMLCALL on_other(void *ud, const XML_Char *data, int len) {
  (void)data;
  (void)len;
  qf__junit_note_event(ud);
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name,
                               const XML_Char *sysid, const XML_Char *pubid,
                               int has_internal_subset) {
  (void)name;
  (void)sysid;
  (void)pubid;
  (void)has_internal_subset;
  qf__junit_fail_here(ud, QF_EPARSE,
                      "DOCTYPE not allowed in JUnit XML (refused: entities and "
                      "external references are never processed)");
}

static void XMLCALL on_entity(void *ud, const XML_Char *name, int is_param,
                              const XML_Char *value, int value_len,
                              const XML_Char *base, const XML_Char *sysid,
                              const XML_Char *pubid, const XML_Char *notation) {
  (void)name, (void)is_param, (void)value, (void)value_len, (void)base;
  (void)sysid, (void)pubid, (void)notation;
  qf__junit_fail_here(ud, QF_EPARSE, "entity declarations are not allowed");
}

static int state_init(state_t *s, const char *name, qf_error_t *err) {
  memset(s, 0, sizeof *s);
  s->name = name;
  s->err = err;
  s->xp = XML_ParserCreate(NULL);
  if (s->xp == NULL)
    return qf_error_set(err, QF_ENOMEM, "%s: out of memory", name);
  XML_SetUserData(s->xp, s);
  XML_SetElementHandler(s->xp, on_start, on_end);
  XML_SetDefaultHandlerExpand(s->xp, on_other);
  XML_SetCharacterDataHandler(s->xp, qf__junit_on_text);
  XML_SetStartDoctypeDeclHandler(s->xp, on_doctype);
  XML_SetEntityDeclHandler(s->xp, on_entity);
  XML_SetParamEntityParsing(s->xp, XML_PARAM_ENTITY_PARSING_NEVER);
  return 0;
}

static void note_content(state_t *s, const char *p, size_t n) {
  for (size_t i = 0; i < n && !s->content; i++)
    if (p[i] != ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != '\r')
      s->content = 1;
}

/* Checks Expat's status after a chunk (already in its buffer) was parsed. */
static int after_chunk(state_t *s, enum XML_Status st, size_t n, int final) {
  s->fed += (long long)n;
  if (s->rc != 0) return s->rc;
  if (st == XML_STATUS_ERROR) {
    if (final && !s->content)
      return s->rc = qf_error_set(s->err, QF_EPARSE,
                                  "%s: no XML content (empty or whitespace "
                                  "only)",
                                  s->name);
    enum XML_Error code = XML_GetErrorCode(s->xp);
    return s->rc = qf_error_set(
               s->err, QF_EPARSE, "%s:%lu:%lu: %s%s", s->name,
               (unsigned long)XML_GetCurrentLineNumber(s->xp),
               (unsigned long)XML_GetCurrentColumnNumber(s->xp) + 1,
               XML_ErrorString(code),
               code == XML_ERROR_NO_ELEMENTS ? " (truncated document?)" : "");
  }
  if (s->fed - s->last_event > QF_JUNIT_MAX_TOKEN_BYTES)
    return s->rc =
               qf_error_set(s->err, QF_ETOOBIG,
                            "%s: a single tag, comment or other token "
                            "after byte %lld is longer than %lld bytes",
                            s->name, s->last_event, QF_JUNIT_MAX_TOKEN_BYTES);
  return 0;
}

/* The summary once the whole document parsed (rules: junit.h). */
static void state_result(const state_t *s, qf_junit_summary_t *out) {
  qf_junit_summary_t r = {0};
  if (s->cases.tests > 0)
    r = s->cases;
  else if (s->root_kind == K_SUITE ||
           (s->root_kind == K_SUITES && s->root_has_tests))
    r = s->root;
  else if (s->root_kind == K_SUITES)
    r = s->direct;
  else if (s->have_first_suite)
    r = s->first;
  r.time_s = s->root_has_time    ? s->root.time_s
             : s->any_suite_time ? s->top_time
                                 : s->case_time;
  if (!isfinite(r.time_s) || r.time_s > QF_JUNIT_MAX_TIME_S) r.time_s = 0;
  recompute_passed(&r);
  *out = r;
}

int qf_junit_parse_buffer(const void *data, size_t len, const char *name,
                          qf_junit_summary_t *out, qf_error_t *err) {
  state_t s;
  const char *p = data;
  size_t off = 0;
  int rc;
  if (name == NULL) name = "<buffer>";
  if (len > (size_t)QF_JUNIT_MAX_FILE_BYTES)
    return qf_error_set(err, QF_ETOOBIG,
                        "%s: %zu bytes, more than the %lld "
                        "allowed",
                        name, len, QF_JUNIT_MAX_FILE_BYTES);
  rc = state_init(&s, name, err);
  if (rc < 0) goto out;
  do {
    size_t n = len - off < CHUNK_BYTES ? len - off : CHUNK_BYTES;
    int final = off + n == len;
    note_content(&s, p + off, n);
    rc = after_chunk(&s, XML_Parse(s.xp, p + off, (int)n, final), n, final);
    off += n;
  } while (rc == 0 && off < len);
  if (rc == 0) state_result(&s, out);
out:
  if (s.xp != NULL) XML_ParserFree(s.xp);
  return rc;
}

/* A report is what a tool under test wrote: it must be a regular file
 * (a FIFO there would block the worker forever), not a symlink, and of a
 * bounded size. */
static int open_report(const char *path, int *fd, qf_error_t *err) {
  return qf_fs_open_regular(path, (unsigned long long)QF_JUNIT_MAX_FILE_BYTES,
                            1, fd, NULL, err);
}

/* Reads the next chunk straight into Expat's buffer and parses it. */
static int feed_chunk(state_t *s, int fd, int *eof) {
  void *buf = XML_GetBuffer(s->xp, CHUNK_BYTES);
  ssize_t n;
  if (buf == NULL)
    return s->rc =
               qf_error_set(s->err, QF_ENOMEM, "%s: out of memory", s->name);
  do
    n = read(fd, buf, CHUNK_BYTES);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return s->rc =
               qf_error_set(s->err, QF_EIO, "%s: %s", s->name, strerror(errno));
  if (s->fed + n > QF_JUNIT_MAX_FILE_BYTES)
    return s->rc = qf_error_set(s->err, QF_ETOOBIG,
                                "%s: more than the %lld bytes allowed", s->name,
                                QF_JUNIT_MAX_FILE_BYTES);
  *eof = n == 0;
  note_content(s, buf, (size_t)n);
  return after_chunk(s, XML_ParseBuffer(s->xp, (int)n, *eof), (size_t)n, *eof);
}

/* The failures go to a list of the parse's own, handed over only when the
 * whole report parsed: a report refused half way adds nothing. */
static int want_failures(state_t *s, qf_junit_failures_t *tmp, int wanted) {
  if (!wanted) return 0;
  s->oc = calloc(1, sizeof *s->oc);
  if (!s->oc)
    return s->rc =
               qf_error_set(s->err, QF_ENOMEM, "%s: out of memory", s->name);
  qf_junit_failures_init(tmp);
  s->fails = tmp;
  return 0;
}

int qf_junit_read_file(const char *path, qf_junit_summary_t *out,
                       qf_junit_failures_t *fails, qf_error_t *err) {
  state_t s;
  qf_junit_failures_t tmp = {0};
  int fd = -1, eof = 0, rc;
  memset(&s, 0, sizeof s);
  rc = open_report(path, &fd, err);
  if (rc < 0) goto out;
  rc = state_init(&s, path, err);
  if (rc == 0) rc = want_failures(&s, &tmp, fails != NULL);
  while (rc == 0 && !eof)
    rc = feed_chunk(&s, fd, &eof);
  if (rc == 0 && fails) rc = qf_junit_failures_merge(fails, &tmp);
  if (rc == 0) state_result(&s, out);
out:
  qf_junit_failures_fini(&tmp);
  free(s.oc);
  if (s.xp != NULL) XML_ParserFree(s.xp);
  if (fd >= 0) close(fd);
  return rc;
}

int qf_junit_parse_file(const char *path, qf_junit_summary_t *out,
                        qf_error_t *err) {
  return qf_junit_read_file(path, out, NULL, err);
}
