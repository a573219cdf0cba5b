/* junit_cases.c: the failing test cases of a JUnit report (junit.h,
 * qf_junit_read_file): each case's name, suite, file and line as its
 * attributes give them, its failure's message (the message attribute,
 * else the first line of the text) and the place the failure text names.
 * Fixed buffers per open case: a hostile report costs no more memory
 * than a friendly one. */
#include <stdlib.h>
#include <string.h>

#include "qf/err.h"

#include "junit_internal.h"
#include "qf/utf8.h"

/* ------------------------------------------------ shared with junit.c */

/* Plain base-10 digits, saturating; anything else is -1 (invalid). */
long long qf__junit_parse_count(const char *v) {
  long long n = 0;
  if (v == NULL || *v == '\0') return -1;
  for (; *v; v++) {
    if (*v < '0' || *v > '9') return -1;
    n = n > (QF_JUNIT_COUNT_MAX - (*v - '0')) / 10 ? QF_JUNIT_COUNT_MAX
                                                   : n * 10 + (*v - '0');
  }
  return n;
}

const char *qf__junit_attr(const XML_Char **atts, const char *name) {
  for (int i = 0; atts[i] != NULL; i += 2)
    if (strcmp(atts[i], name) == 0) return atts[i + 1];
  return NULL;
}

/* Records the first error with the current position and stops Expat. */
void qf__junit_fail_here(state_t *s, int code, const char *what) {
  if (s->rc == 0)
    s->rc = qf_error_set(s->err, code, "%s:%lu:%lu: %s", s->name,
                         (unsigned long)XML_GetCurrentLineNumber(s->xp),
                         (unsigned long)XML_GetCurrentColumnNumber(s->xp) + 1,
                         what);
  XML_StopParser(s->xp, XML_FALSE);
}

void qf__junit_note_event(state_t *s) {
  s->last_event = (long long)XML_GetCurrentByteIndex(s->xp);
}

/* ------------------------------------------------- the failing cases */

/* Copies at most cap-1 bytes of v (cut on a character boundary). */
void qf__junit_copy_cut(char *dst, size_t cap, const char *v) {
  size_t n = v ? qf_utf8_cut_len(v, cap - 1) : 0;
  memcpy(dst, v ? v : "", n);
  dst[n] = '\0';
}

void qf__junit_case_open(open_case_t *c, const XML_Char **atts) {
  qf__junit_copy_cut(c->name, NAME_CAP, qf__junit_attr(atts, "name"));
  qf__junit_copy_cut(c->classname, NAME_CAP, qf__junit_attr(atts, "classname"));
  qf__junit_copy_cut(c->file, NAME_CAP, qf__junit_attr(atts, "file"));
  long long line = qf__junit_parse_count(qf__junit_attr(atts, "line"));
  c->line = line > 0 && line < 100000000 ? (long)line : 0;
  c->in_failure = 0;
  c->message[0] = c->text_file[0] = '\0';
  c->text_line = 0;
  c->buflen = 0;
  c->first_line_done = 0;
}

void qf__junit_failure_open(open_case_t *c, const XML_Char **atts) {
  const char *m = qf__junit_attr(atts, "message");
  if (c->message[0] == '\0' && m && m[0]) {
    qf__junit_copy_cut(c->message, TEXT_CAP, m);
    /* A multi-line message keeps its first line: one line per failure
     * in a CI log. */
    c->message[strcspn(c->message, "\r\n")] = '\0';
  }
  c->in_failure = 1;
}

/* A "path.ext:LINE" token (pytest's "tests/t.py:4: AssertionError",
 * Playwright's "at /w/e.spec.ts:5:20") names where the test failed. */
static void location_in(open_case_t *c, char *tok) {
  char *colon = strchr(tok, ':');
  if (!colon || colon == tok) return;
  char *d = colon + 1, *end;
  long n = strtol(d, &end, 10);
  if (end == d || (*end != '\0' && *end != ':') || n <= 0 || n > 99999999)
    return;
  *colon = '\0';
  char *dot = strrchr(tok, '.');
  if (dot && ((dot[1] | 0x20) >= 'a' && (dot[1] | 0x20) <= 'z') &&
      !strchr(dot, '/')) {
    qf__junit_copy_cut(c->text_file, NAME_CAP, tok);
    c->text_line = n;
  }
}

/* One whole line of a failure's text: the message when the element had
 * none, and any location it names (the last one wins: pytest prints the
 * failing line last). */
/* Python's traceback form, `File "tests/t.py", line 4` (a collection
 * error, a SyntaxError in the test file). */
static void python_location(open_case_t *c, const char *line) {
  const char *f = strstr(line, "File \""), *end;
  if (!f || !(end = strchr(f + 6, '"')) || strncmp(end, "\", line ", 8) != 0)
    return;
  long n = strtol(end + 8, NULL, 10);
  size_t len = (size_t)(end - (f + 6));
  if (n <= 0 || n > 99999999 || len == 0 || len >= NAME_CAP) return;
  memcpy(c->text_file, f + 6, len);
  c->text_file[len] = '\0';
  c->text_line = n;
}

void qf__junit_text_line_done(open_case_t *c) {
  char *line = c->buf, *save = NULL;
  line[c->buflen] = '\0';
  c->buflen = 0;
  while (*line == ' ' || *line == '\t')
    line++;
  if (*line == '\0') return;
  if (c->message[0] == '\0' && !c->first_line_done) {
    qf__junit_copy_cut(c->message, TEXT_CAP, line);
    c->first_line_done = 1;
  }
  python_location(c, line);
  for (char *t = strtok_r(line, " \t()[]'\"", &save); t;
       t = strtok_r(NULL, " \t()[]'\"", &save))
    location_in(c, t);
}

void XMLCALL qf__junit_on_text(void *ud, const XML_Char *data, int len) {
  state_t *s = ud;
  qf__junit_note_event(s);
  open_case_t *c = s->oc;
  if (!c || !c->in_failure || s->rc != 0) return;
  for (int i = 0; i < len; i++) {
    if (data[i] == '\n' || data[i] == '\r')
      qf__junit_text_line_done(c);
    else if (c->buflen < TEXT_CAP - 1)
      c->buf[c->buflen++] = data[i];
  }
}

void qf__junit_case_failed(state_t *s, const char *kind) {
  open_case_t *c = s->oc;
  qf_junit_failure_t it = {0};
  it.name = c->name;
  it.kind = (char *)kind;
  it.suite = c->classname[0] ? c->classname : c->suite[0] ? c->suite : NULL;
  it.message = c->message[0] ? c->message : NULL;
  if (c->text_file[0]) {
    it.file = c->text_file;
    it.line = c->text_line;
  } else if (c->file[0]) {
    it.file = c->file;
    it.line = c->line;
  }
  if (qf_junit_failures_add(s->fails, &it) < 0)
    qf__junit_fail_here(s, QF_ENOMEM, "out of memory");
}
