/* support.h: helpers shared by the Criterion suites. */
#ifndef QF_TEST_SUPPORT_H
#define QF_TEST_SUPPORT_H

#include <stddef.h>

#include "qf/strbuf.h"

/* What a child process printed and how it ended. */
typedef struct qf_test_proc {
  qf_strbuf_t out;
  qf_strbuf_t err;
  int status; /* exit code, or 128 + signal number */
} qf_test_proc_t;

/* Runs argv (argv[0] is a path or a name on PATH) with extra environment
 * entries ("K=V"; "K=" unsets K), stdin from /dev/null, and waits up to
 * timeout_s. Output is captured in p (qf_test_proc_fini releases it). */
void qf_test_run(const char *const *argv, const char *const *env_extra,
                 int timeout_s, qf_test_proc_t *p);
void qf_test_proc_fini(qf_test_proc_t *p);

/* The value of a variable the integration tests need; fails the test with
 * a message naming it (and tests/run.sh) when it is missing. */
const char *qf_test_require_env(const char *name);

/* Creates a fresh, empty database named prefix_<pid>_<n> on the server of
 * $QF_DATABASE_URL and writes its URL into url (size n). The database is
 * dropped by qf_test_db_drop (tests call it in their fini). */
void qf_test_db_create(const char *prefix, char *url, size_t n);
void qf_test_db_drop(const char *url);

/* Returns the URL of $QF_DATABASE_URL with the user and password replaced
 * (for logging in as a test role) into out (size n). */
void qf_test_db_url_as(const char *url, const char *user, const char *pass,
                       char *out, size_t n);

/* Validates an evidence file against schemas/evidence.v1.schema.json
 * (tests/validate_evidence.py); fails the test with the violations. */
void qf_test_assert_evidence_valid(const char *path);

/* Reads at most n-1 bytes of path into buf, NUL-terminated; fails the
 * test when the file cannot be opened. Returns buf. */
char *qf_test_slurp(const char *path, char *buf, size_t n);

/* GET url (http only): returns the status (0 when nothing answered) and
 * the body into body (qf_strbuf_fini releases it). */
int qf_test_http_get(const char *url, qf_strbuf_t *body);

/* A TCP port on loopback where nothing listens. */
int qf_test_closed_port(void);

/* Makes a fresh temporary directory (static buffer, valid until the next
 * call). */
const char *qf_test_tmpdir(void);

/* The whole file, malloc'ed and NUL-terminated (caller frees), or NULL
 * when it cannot be opened. */
char *qf_test_read_all(const char *path);

/* Sleeps ms milliseconds (through EINTR). */
void qf_test_sleep_ms(long ms);

/* Whether process pid runs (a zombie, or no such process, does not). */
int qf_test_pid_runs(long pid);

/* Whether process pid has a file whose path contains needle mapped
 * (/proc/<pid>/maps): which shared libraries it loaded. -1 when its maps
 * cannot be read. */
int qf_test_maps(long pid, const char *needle);

#endif
