/* reqflags.h: the request flags `qf run` and `qf submit` share (DESIGN.md
 * section 2): --nl, --tool, --arg K=V, --timeout, --dry-run, --workspace,
 * and what they build: a request validated by the worker's own parser, so
 * a bad one is refused with the worker's messages before it goes out. */
#ifndef QF_REQFLAGS_H
#define QF_REQFLAGS_H

#include <cjson/cJSON.h>

#include "cli.h"
#include "qf/request.h"

typedef struct qf_reqflags {
  const char *nl, *tool, *workspace, *requested_by; /* borrowed from argv */
  int timeout_s, dry_run;
  cJSON *args; /* owned: --arg values */
} qf_reqflags_t;

/* getopt_long entries and short letters of the shared flags. */
#define QF_REQFLAGS_LONG                                               \
  {"nl", 1, NULL, 'n'}, {"tool", 1, NULL, 't'}, {"arg", 1, NULL, 'a'}, \
      {"timeout", 1, NULL, 'T'}, {"dry-run", 0, NULL, 'd'}, {          \
    "workspace", 1, NULL, 'w'                                          \
  }
#define QF_REQFLAGS_SHORT "n:t:a:T:dw:"

/* 0, or -1 when out of memory. */
int qf_reqflags_init(qf_reqflags_t *f);
void qf_reqflags_fini(qf_reqflags_t *f);

/* Takes option c (with its optarg) when it is one of the shared flags:
 * returns 1 when taken, 0 when it is not a request flag, or the usage
 * exit code (64, message printed) when its value is invalid. */
int qf_reqflags_take(qf_reqflags_t *f, int c, const char *arg,
                     const qf_cmd_t *cmd);

/* Builds and validates the request (NULL fields keep the heuristics). */
int qf_reqflags_build(const qf_reqflags_t *f, qf_request_t **out,
                      qf_error_t *err);

#endif
