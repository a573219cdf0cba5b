/* proc.h: run a short helper command (git, for example) without a shell
 * and capture its standard output, bounded in time and size. Not for test
 * tools: those need the sandboxed runner (process groups, limits, logs). */
#ifndef QF_PROC_H
#define QF_PROC_H

#include <stddef.h>

#include "qf/err.h"

/* Runs argv (argv[0] looked up on PATH) in cwd (NULL: ours) with stdin
 * from /dev/null and stderr discarded. Captures at most max_out bytes of
 * stdout into *out (malloc'ed, NUL-terminated; the rest is read and
 * dropped). Kills the child with SIGKILL after timeout_ms (QF_ETIMEDOUT).
 * *exit_code gets the exit status, or -1 when killed by a signal.
 * QF_ECHILD when the program cannot be started. */
int qf_proc_capture(const char *const *argv, const char *cwd, int timeout_ms,
                    size_t max_out, char **out, int *exit_code,
                    qf_error_t *err) QF_MUSTCHECK;

#endif
