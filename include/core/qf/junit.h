/* junit.h: a streaming parser for the JUnit XML that test tools write
 * (pytest, ctest, GoogleTest, Jest, mocha, vitest, Playwright, PHPUnit).
 *
 * Counting. Every <testcase> element at any depth counts once. Its outcome,
 * first match wins: a <failure> child is a failure; an <error> child an
 * error; a <skipped> child, or a status/result attribute equal to notrun,
 * disabled, skipped or suppressed, a skip; otherwise it passed.
 * <rerunFailure>, <rerunError>, <flakyFailure> and <flakyError> (surefire,
 * pytest-rerunfailures) record earlier attempts, not the final outcome, and
 * are ignored: a flaky test that passed in the end counts as passed, one
 * that never passed carries a <failure>/<error> as well.
 * Only when a document has no <testcase> at all do the suite attributes
 * count: a root <testsuites> with a non-empty tests attribute is
 * authoritative (tests, failures, errors, skipped); otherwise its direct
 * <testsuite> children are summed; a root <testsuite> uses its own
 * attributes; any other root uses its first descendant <testsuite>. For a
 * <testsuite>, a skipped attribute that is missing, invalid or 0 is
 * replaced by its skip attribute. Counts in attributes are plain base-10
 * digits; anything else ("2.0", "-1", " 3") counts 0.
 * Time: the root element's time attribute when it has one, else the sum of
 * the time attributes of the top-level <testsuite> elements (those with no
 * <testsuite> ancestor), else (no such attribute at all) the sum of the
 * <testcase> times. A time that is not a finite number in
 * [0, QF_JUNIT_MAX_TIME_S] counts 0 (time never decides a verdict).
 * Names: element names are compared on their local part, so a prefixed
 * <j:testcase> counts like <testcase>; namespace URIs are not checked.
 *
 * Refused input (the parse fails and *out is untouched): no XML content at
 * all (empty or whitespace only), malformed XML (truncated, binary, NUL
 * bytes, bad encoding), any DOCTYPE (real JUnit never has one; refusing it
 * rules out entity expansion and external entities, which are never
 * loaded), nesting deeper than QF_JUNIT_MAX_DEPTH, a single token (tag or
 * attribute value) longer than QF_JUNIT_MAX_TOKEN_BYTES, and input larger
 * than QF_JUNIT_MAX_FILE_BYTES. Error messages start with
 * "NAME:LINE:COLUMN: " (1-based) for problems inside the document.
 * Memory stays bounded: 8 MB RSS for a 113 MB report of a million test
 * cases; at worst about 2.5 x QF_JUNIT_MAX_TOKEN_BYTES (a token at the
 * limit). Time is about 1 s per 100 MB; a token near the limit costs up
 * to about 2 s, as Expat 2.5 rescans a token that spans chunks.
 */
#ifndef QF_JUNIT_H
#define QF_JUNIT_H

#include <stddef.h>

#include "qf/err.h"

typedef struct qf_junit_summary {
  long long tests, failures, errors, skipped;
  long long passed; /* max(0, tests - failures - errors - skipped) */
  double time_s;
} qf_junit_summary_t;

/* One failing or erroring test case, as the report gives it. Strings are
 * owned by the list that holds them; suite, message and file are NULL when
 * the report does not say; line is 0 when unknown. */
typedef struct qf_junit_failure {
  char *suite;   /* classname, else the enclosing <testsuite name> */
  char *name;    /* the test case's name */
  char *kind;    /* "failure" or "error" */
  char *message; /* the message attribute, else the first line of the text;
                    at most QF_JUNIT_FAILURE_TEXT_MAX bytes (UTF-8 cut) */
  char *file;    /* the file attribute, when the report has one */
  long line;     /* the line attribute, 0 when unknown */
} qf_junit_failure_t;

/* The first QF_JUNIT_MAX_FAILURES failing or erroring cases of a report, in
 * document order; total counts them all. Caller-owned: zero it (or
 * qf_junit_failures_init), then qf_junit_failures_fini. */
typedef struct qf_junit_failures {
  qf_junit_failure_t *items;
  size_t n;
  long long total;
} qf_junit_failures_t;

#define QF_JUNIT_MAX_FAILURES 50
#define QF_JUNIT_FAILURE_TEXT_MAX 1024 /* bytes of a message kept */
#define QF_JUNIT_FAILURE_NAME_MAX 512  /* bytes of a suite, name or file */

void qf_junit_failures_init(qf_junit_failures_t *f);
void qf_junit_failures_fini(qf_junit_failures_t *f);
/* Appends a copy of item (strings copied and cut to the limits above) when
 * fewer than QF_JUNIT_MAX_FAILURES are held; always counts it in total. */
int qf_junit_failures_add(qf_junit_failures_t *f,
                          const qf_junit_failure_t *item) QF_MUSTCHECK;
/* Appends src's items to dst (up to the limit) and adds src's total. */
int qf_junit_failures_merge(qf_junit_failures_t *dst,
                            const qf_junit_failures_t *src) QF_MUSTCHECK;

/* Largest input accepted, in bytes; larger is QF_ETOOBIG. 128 MiB is about
 * 1.3 million test cases in the most verbose format we have seen, far
 * beyond any real report, while the parser streams in 64 KiB chunks so the
 * limit bounds time (about a second), not memory. */
#define QF_JUNIT_MAX_FILE_BYTES (128LL * 1024 * 1024)

/* Deepest element nesting accepted (PHPUnit, the deepest real tool, needs
 * about 6). Deeper is QF_ETOOBIG. */
#define QF_JUNIT_MAX_DEPTH 256

/* Longest single token (start tag with its attributes, comment, ...) the
 * parser buffers; longer is QF_ETOOBIG. Text content (failure output) is
 * streamed and not limited by this. */
#define QF_JUNIT_MAX_TOKEN_BYTES (16LL * 1024 * 1024)

/* Counts saturate here (2^53 - 1, exact in a JSON double) rather than
 * overflow, both for absurd attribute values and when summing. */
#define QF_JUNIT_COUNT_MAX 9007199254740991LL

/* Times above this many seconds (about 31,700 years) count as 0. */
#define QF_JUNIT_MAX_TIME_S 1e12

/* Parses the JUnit XML file at path (borrowed) into *out, written only on
 * success. Errors: QF_ENOENT (no such file), QF_EIO (unreadable, a
 * directory), QF_ETOOBIG (a limit above), QF_EPARSE (not XML, no content,
 * DOCTYPE). err->message names path, and the line and column. */
int qf_junit_parse_file(const char *path, qf_junit_summary_t *out,
                        qf_error_t *err) QF_MUSTCHECK;

/* qf_junit_parse_file that also appends the report's failing and erroring
 * test cases to *fails (NULL: counts only), in document order, and only
 * when the whole report parsed. A case's file and line come from the last
 * "path.ext:LINE" its failure text names (pytest prints the failing line
 * last), else from its file and line attributes as written. */
int qf_junit_read_file(const char *path, qf_junit_summary_t *out,
                       qf_junit_failures_t *fails,
                       qf_error_t *err) QF_MUSTCHECK;

/* Same for len bytes at data (borrowed; need not be NUL-terminated); name
 * (borrowed, NULL means "<buffer>") is used in error messages only. */
int qf_junit_parse_buffer(const void *data, size_t len, const char *name,
                          qf_junit_summary_t *out,
                          qf_error_t *err) QF_MUSTCHECK;

/* Adds s into acc: counts (saturating at QF_JUNIT_COUNT_MAX) and times are
 * summed, passed is recomputed. */
void qf_junit_summary_add(qf_junit_summary_t *acc, const qf_junit_summary_t *s);

#endif
