/* tools.h: the test tools a request can name (run_pytest, run_playwright)
 * behind one interface, and the helpers they share: the path rule for
 * arguments and sandboxed execution under the policy.
 *
 * A tool validates its arguments without running anything (dry runs and
 * policy refusals never start a process), then runs in its own directory
 * <artifacts_root>/<run_id>/tools/<tool>/ and reports an outcome. Which
 * outcomes are worth a retry is the tool's call (infra_failure): never a
 * failing test.
 */
#ifndef QF_TOOLS_H
#define QF_TOOLS_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdio.h>

#include "qf/err.h"
#include "qf/evidence.h"
#include "qf/exec.h"
#include "qf/junit.h"
#include "qf/policy.h"

typedef struct qf_tool_ctx {
  const qf_policy_t *policy; /* never NULL */
  const char *run_id;
  const char *workspace; /* absolute, symlinks resolved */
  const char *tool_dir;  /* absolute, exists, emptied for this attempt */
  int timeout_s;         /* effective (already clamped by the policy) */
  const cJSON *args;     /* accepted by the tool's validate */
  int (*tick)(void *);   /* called while the tool runs; may be NULL */
  void *tick_ctx;
  /* The tool's process group and cgroup (NULL: none), once started; may
   * be NULL. */
  void (*on_start)(int pgid, const char *cgroup, void *tick_ctx);
  const char *cgroup_parent; /* qf_exec_opts_t.cgroup_parent; may be NULL */
  /* qf_exec_opts_t.waiting, with tick_ctx; may be NULL. */
  void (*waiting)(int begin, void *tick_ctx);
} qf_tool_ctx_t;

typedef struct qf_tool_outcome {
  qf_tool_status_t status; /* success, failed or timeout */
  int has_exit_code;
  int exit_code;
  long long duration_ms;
  long long steps_total, steps_passed, steps_failed;
  char error_message[QF_EVIDENCE_ERROR_MAX + 1]; /* "" when none */
  int infra_failure; /* could not start, or killed by a signal it did not
                        ask for: worth a retry */
  int has_junit;     /* junit holds the tool's report(s) */
  qf_junit_summary_t junit;
  qf_junit_failures_t failures; /* its failing cases, owned: see
                                   qf_tool_outcome_fini */
  int output_truncated;         /* a log hit the output cap */
  int canceled; /* stopped by its caller (tick asked): the run is
                   abandoned, never decided on */
} qf_tool_outcome_t;

typedef struct qf_tool {
  const char *name;
  /* Checks args (an object) against the tool's rules and the workspace;
   * QF_EVALIDATE with err "<arg>: <why>" on refusal. Runs nothing. */
  int (*validate)(const cJSON *args, const char *workspace,
                  const qf_policy_t *policy, qf_error_t *err);
  /* Runs the tool; fills out. Returns a negative code only when the
   * outcome could not even be described (out of memory, I/O on our side). */
  int (*run)(const qf_tool_ctx_t *ctx, qf_tool_outcome_t *out, qf_error_t *err);
} qf_tool_t;

/* A set of tools a request may name. Borrowed by whoever holds it. */
typedef struct qf_tool_registry {
  const qf_tool_t *const *tools;
  size_t n;
} qf_tool_registry_t;

/* run_pytest and run_playwright (static). */
const qf_tool_registry_t *qf_tools_builtin(void);

/* The tool named name in r (NULL: the built-in tools), or NULL. */
const qf_tool_t *qf_tools_lookup(const qf_tool_registry_t *r, const char *name);

/* The built-in tool named name, or NULL (borrowed, static). */
const qf_tool_t *qf_tools_find(const char *name);

/* The path rule for a path argument `arg` (its name, for messages) of a
 * request: rel must be non-empty, relative, without a ".." component, and
 * resolve (symlinks followed, for the part that exists) inside workspace;
 * when the policy lists sandbox.allowed_paths, its first component must be
 * one of them (a trailing '/' ignored). A path that does not exist yet is
 * judged by its nearest existing parent. QF_EVALIDATE with err
 * "<arg>: <why>" otherwise. */
int qf_tools_check_path(const char *arg, const char *rel, const char *workspace,
                        const qf_policy_t *policy,
                        qf_error_t *err) QF_MUSTCHECK;

/* Runs argv in the workspace under the policy's sandbox: the environment
 * is sandbox.env_whitelist (globs) plus extra_env ("K=V", NULL-terminated,
 * may be NULL); stdout and stderr go to <tool_dir>/stdout.log and
 * stderr.log, each capped at artifact_limits.max_size_mb; the timeout is
 * ctx->timeout_s; the address space is capped at sandbox.memory_limit_mb
 * when limit_memory is nonzero (not for runtimes that reserve huge virtual
 * ranges, such as V8); open files, processes and file size are capped too.
 * ctx->tick is called while it runs. */
int qf_tools_exec(const qf_tool_ctx_t *ctx, const char *const *argv,
                  const char *const *extra_env, int limit_memory,
                  qf_exec_result_t *res, qf_error_t *err) QF_MUSTCHECK;

/* Describes how a finished child ended, for the outcome: status (timeout
 * when timed out; failed otherwise unless exit 0), exit code, duration,
 * infra_failure (start failed or killed by a signal we did not send) and
 * output_truncated, and an error message for a start failure, a timeout
 * or a signal. The tool then refines status and message from its exit
 * code and report. */
void qf_tools_outcome_from_exec(const char *tool, const qf_exec_result_t *r,
                                int timeout_s, qf_tool_outcome_t *out);

/* Frees what an outcome owns (its failures) and zeroes them. */
void qf_tool_outcome_fini(qf_tool_outcome_t *out);

/* Reads the tool's report <tool_dir>/junit.xml into out: has_junit, junit,
 * steps and failures (file paths made relative to the workspace when they
 * are inside it). Returns 0, QF_ENOENT when the tool wrote no report, or
 * another negative code when the report is there but cannot be used (err
 * says why; out is unchanged then). */
int qf_tools_read_junit(const qf_tool_ctx_t *ctx, qf_tool_outcome_t *out,
                        qf_error_t *err) QF_MUSTCHECK;

/* Opens a file in a tool's directory for reading (a log, a report), or
 * returns NULL: only a regular file, never a FIFO or device the tool left
 * there (that would block the worker), never through a symlink. */
FILE *qf_tools_open_output(const char *path);

#endif
