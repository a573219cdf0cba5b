/* junit_internal.h: what the JUnit parser's files share (junit.c reads
 * and counts, junit_cases.c keeps the failing cases). Not public. */
#ifndef QF_JUNIT_INTERNAL_H
#define QF_JUNIT_INTERNAL_H

#include <expat.h>
#include <stddef.h>

#include "qf/junit.h"

/* What an element is, by its local name. */
enum kind { K_OTHER, K_SUITES, K_SUITE, K_CASE, K_FAILURE, K_ERROR, K_SKIP };

/* Outcome flags of an open <testcase>. */
enum { F_FAILURE = 1, F_ERROR = 2, F_SKIP = 4 };

#define NAME_CAP (QF_JUNIT_FAILURE_NAME_MAX + 1)
#define TEXT_CAP (QF_JUNIT_FAILURE_TEXT_MAX + 1)

/* The open <testcase> as the failure list needs it (only filled when the
 * caller asked for failures). Fixed buffers: a hostile report costs no
 * more memory than a friendly one. */
typedef struct open_case {
  char name[NAME_CAP], classname[NAME_CAP], file[NAME_CAP];
  char suite[NAME_CAP]; /* the innermost <testsuite name> opened */
  long line;            /* the line attribute */
  int in_failure;       /* inside its <failure>/<error>: text is read */
  char message[TEXT_CAP];
  char text_file[NAME_CAP]; /* "path:N:" seen in the failure text */
  long text_line;
  char buf[TEXT_CAP]; /* the failure text's current line */
  size_t buflen;
  int first_line_done; /* the message fell back to the text's first line */
} open_case_t;

typedef struct state {
  XML_Parser xp;
  const char *name;
  qf_error_t *err;
  int rc;    /* first error, set by a handler or the feeder */
  int depth; /* open elements */
  unsigned char kind[QF_JUNIT_MAX_DEPTH + 1];
  unsigned char flags[QF_JUNIT_MAX_DEPTH + 1];
  int open_suites;    /* open <testsuite> elements */
  int root_kind;      /* kind of the root element */
  int root_has_tests; /* root <testsuites> has tests="..." */
  int root_has_time, have_first_suite;
  qf_junit_summary_t cases;   /* counted from <testcase> */
  qf_junit_summary_t root;    /* root element's attributes */
  qf_junit_summary_t direct;  /* sum of root <testsuites>' children */
  qf_junit_summary_t first;   /* first <testsuite> under another root */
  double top_time;            /* sum of top-level <testsuite> times */
  long long fed;              /* bytes given to Expat */
  long long last_event;       /* byte index of the latest event */
  int content;                /* a non-whitespace byte was seen */
  double case_time;           /* sum of <testcase> times */
  int any_suite_time;         /* a top-level suite had a time attribute */
  qf_junit_failures_t *fails; /* NULL: the caller wants counts only */
  open_case_t *oc;            /* with fails */
} state_t;

/* The attribute name of atts, or NULL. */
const char *qf__junit_attr(const XML_Char **atts, const char *name);
/* Plain base-10 digits, saturating; anything else is -1 (invalid). */
long long qf__junit_parse_count(const char *v);
/* Records the first error with the current position and stops Expat. */
void qf__junit_fail_here(state_t *s, int code, const char *what);
/* Notes the byte index of the latest event (the token limit). */
void qf__junit_note_event(state_t *s);

/* junit_cases.c: the open case's facts, its failure's message and
 * location, and the case added to the list when it failed. */
void qf__junit_copy_cut(char *dst, size_t cap, const char *v);
void qf__junit_case_open(open_case_t *c, const XML_Char **atts);
void qf__junit_failure_open(open_case_t *c, const XML_Char **atts);
void qf__junit_text_line_done(open_case_t *c);
void XMLCALL qf__junit_on_text(void *ud, const XML_Char *data, int len);
void qf__junit_case_failed(state_t *s, const char *kind);

#endif
