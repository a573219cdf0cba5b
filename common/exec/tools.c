#include "qf/tools.h"

#include "qf/fsutil.h"
#include "qf/utf8.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int has_dotdot(const char *p) {
  for (const char *s = p; (s = strstr(s, "..")) != NULL; s += 2) {
    int starts = s == p || s[-1] == '/';
    int ends = s[2] == '\0' || s[2] == '/';
    if (starts && ends) return 1;
  }
  return 0;
}

/* First path component of rel, without a leading "./". */
static void first_component(const char *rel, char *out, size_t n) {
  while (rel[0] == '.' && rel[1] == '/')
    rel += 2;
  size_t len = strcspn(rel, "/");
  snprintf(out, n, "%.*s", (int)len, rel);
}

static int allowed_by_policy(const char *rel, const qf_policy_t *p) {
  char first[256];
  const qf_strlist_t *l = &p->sandbox.allowed_paths;
  if (l->n == 0) return 1;
  first_component(rel, first, sizeof first);
  for (size_t i = 0; i < l->n; i++) {
    char allowed[256];
    first_component(l->items[i], allowed, sizeof allowed);
    if (strcmp(first, allowed) == 0) return 1;
  }
  return 0;
}

/* Resolves the longest existing prefix of path (symlinks followed). */
static int resolve_existing(const char *path, char *out) {
  char buf[PATH_MAX];
  snprintf(buf, sizeof buf, "%s", path);
  for (;;) {
    if (realpath(buf, out) != NULL) return 0;
    if (errno != ENOENT && errno != ENOTDIR) return -1;
    char *slash = strrchr(buf, '/');
    if (slash == NULL || slash == buf) return -1;
    *slash = '\0';
  }
}

static int inside(const char *path, const char *root) {
  size_t n = strlen(root);
  return strncmp(path, root, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

int qf_tools_check_path(const char *arg, const char *rel, const char *workspace,
                        const qf_policy_t *policy, qf_error_t *err) {
  char joined[PATH_MAX], real[PATH_MAX], root[PATH_MAX];
  if (rel == NULL || rel[0] == '\0')
    return qf_error_set(err, QF_EVALIDATE, "%s: must not be empty", arg);
  if (rel[0] == '/')
    return qf_error_set(err, QF_EVALIDATE,
                        "%s: must be relative to the "
                        "workspace (got an absolute path)",
                        arg);
  if (has_dotdot(rel))
    return qf_error_set(err, QF_EVALIDATE, "%s: must not contain '..'", arg);
  if (policy && !allowed_by_policy(rel, policy))
    return qf_error_set(err, QF_EVALIDATE,
                        "%s: '%s' is outside "
                        "sandbox.allowed_paths",
                        arg, rel);
  if (realpath(workspace, root) == NULL)
    return qf_error_set(err, QF_EVALIDATE, "workspace %s: %s", workspace,
                        strerror(errno));
  if (snprintf(joined, sizeof joined, "%s/%s", root, rel) >= (int)sizeof joined)
    return qf_error_set(err, QF_EVALIDATE, "%s: path too long", arg);
  if (resolve_existing(joined, real) < 0 || !inside(real, root))
    return qf_error_set(err, QF_EVALIDATE,
                        "%s: '%s' resolves outside the "
                        "workspace",
                        arg, rel);
  return QF_OK;
}

int qf_tools_exec(const qf_tool_ctx_t *ctx, const char *const *argv,
                  const char *const *extra_env, int limit_memory,
                  qf_exec_result_t *res, qf_error_t *err) {
  const qf_policy_t *p = ctx->policy;
  char out_path[PATH_MAX], err_path[PATH_MAX];
  char **env = NULL;
  int rc =
      qf_fs_join(out_path, sizeof out_path, ctx->tool_dir, "stdout.log", err);
  if (rc == QF_OK)
    rc =
        qf_fs_join(err_path, sizeof err_path, ctx->tool_dir, "stderr.log", err);
  if (rc == QF_OK)
    rc = qf_exec_env_build((const char *const *)p->sandbox.env_whitelist.items,
                           p->sandbox.env_whitelist.n, extra_env, &env, err);
  if (rc < 0) return rc;
  qf_exec_opts_t o = {
      .argv = argv,
      .env = (const char *const *)env,
      .cwd = ctx->workspace,
      .stdout_path = out_path,
      .stderr_path = err_path,
      .max_output_bytes = (unsigned long long)p->artifact_limits.max_size_mb
                          << 20,
      .timeout_ms = ctx->timeout_s * 1000,
      .memory_limit_mb =
          limit_memory ? (unsigned long long)p->sandbox.memory_limit_mb : 0,
      .max_open_files = 1024,
      .max_processes = 4096,
      /* A runaway writer fills the disk no faster than the log cap lets
       * its logs grow; files it writes itself stop at 1 GiB. */
      .max_file_bytes = 1ull << 30,
      .cgroup_parent = ctx->cgroup_parent,
      .on_start = ctx->on_start,
      .on_start_ctx = ctx->tick_ctx,
      .waiting = ctx->waiting,
      .waiting_ctx = ctx->tick_ctx,
  };
  rc = qf_exec_run(&o, ctx->tick, ctx->tick_ctx, 250, res, err);
  qf_exec_env_free(env);
  return rc;
}

void qf_tools_outcome_from_exec(const char *tool, const qf_exec_result_t *r,
                                int timeout_s, qf_tool_outcome_t *out) {
  out->duration_ms = r->duration_ms;
  out->output_truncated = r->stdout_truncated || r->stderr_truncated;
  out->canceled = r->canceled;
  out->has_exit_code = r->exited;
  out->exit_code = r->exited ? r->exit_code : -1;
  out->status =
      r->exited && r->exit_code == 0 ? QF_TOOL_SUCCESS : QF_TOOL_FAILED;
  out->error_message[0] = '\0';
  if (r->start_failed) {
    out->infra_failure = 1;
    qf_utf8_snprintf(out->error_message, sizeof out->error_message,
                     "%s could not start: %s", tool, strerror(r->start_errno));
  } else if (r->timed_out) {
    out->status = QF_TOOL_TIMEOUT;
    out->infra_failure = 1;
    qf_utf8_snprintf(out->error_message, sizeof out->error_message,
                     "%s timed out after %ds", tool, timeout_s);
  } else if (!r->exited) {
    /* A signal it did not ask for (OOM killer, a crash): worth a retry,
     * unless we sent it on cancel. */
    out->infra_failure = !r->canceled;
    qf_utf8_snprintf(out->error_message, sizeof out->error_message,
                     "%s was killed by signal %d (%s)", tool, r->term_signal,
                     strsignal(r->term_signal));
  }
}

void qf_tool_outcome_fini(qf_tool_outcome_t *out) {
  if (out) qf_junit_failures_fini(&out->failures);
}

/* A report names files as the tool saw them: absolute inside the
 * workspace for Playwright. CI annotations want them relative. */
static void relativize(const char *workspace, qf_junit_failures_t *f) {
  size_t n = strlen(workspace);
  for (size_t i = 0; i < f->n; i++) {
    char *p = f->items[i].file;
    if (p && strncmp(p, workspace, n) == 0 && p[n] == '/')
      memmove(p, p + n + 1, strlen(p + n + 1) + 1);
  }
}

int qf_tools_read_junit(const qf_tool_ctx_t *ctx, qf_tool_outcome_t *out,
                        qf_error_t *err) {
  char path[PATH_MAX];
  qf_junit_summary_t j;
  qf_junit_failures_t f;
  qf_junit_failures_init(&f);
  snprintf(path, sizeof path, "%s/junit.xml", ctx->tool_dir);
  int rc = qf_junit_read_file(path, &j, &f, err);
  if (rc < 0) return rc;
  relativize(ctx->workspace, &f);
  qf_junit_failures_fini(&out->failures);
  out->failures = f;
  out->has_junit = 1;
  out->junit = j;
  out->steps_total = j.tests;
  out->steps_failed = j.failures + j.errors;
  out->steps_passed = j.passed;
  return QF_OK;
}

FILE *qf_tools_open_output(const char *path) {
  /* Logs are capped when written; the bound here only refuses the absurd. */
  return qf_fs_fopen_regular(path, 1ULL << 40, 1, NULL);
}
