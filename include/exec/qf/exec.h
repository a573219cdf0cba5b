/* exec.h: runs a test tool as a sandboxed child process that cannot hang,
 * flood, escape its limits or outlive the caller.
 *
 * The child gets: no shell (execve of an argv); its own process group;
 * stdin from /dev/null; stdout and stderr into log files, each capped
 * (bytes past the cap are read and dropped, and the truncation is
 * reported); a caller-built environment (see qf_exec_env_build); a working
 * directory; resource limits (address space, CPU time, open files,
 * processes, file size). On timeout or cancel the whole group gets
 * SIGTERM, then SIGKILL after a grace period; when the child is reported
 * finished, no process of its group is left (the runner makes the calling
 * process a child subreaper so that orphaned grandchildren come back to it
 * and are reaped).
 *
 * The runner never blocks its caller for long: qf_exec_poll does the work
 * that is due and returns, and qf_exec_fd gives a descriptor to poll(2)
 * together with the caller's own (the worker's AMQP socket), so heartbeats
 * are served while a tool runs for many minutes.
 *
 * One qf_exec_t per child; not thread-safe. SIGCHLD is not used (the
 * runner polls), so callers may keep its default disposition.
 *
 * Linux details and limits:
 *   - qf_exec_fd is an epoll descriptor watching both output pipes and a
 *     pidfd of the child (pidfd_open, Linux 5.3+; without it only the
 *     250 ms rule below wakes the caller for the exit).
 *   - The first qf_exec_start makes the calling process a child subreaper
 *     (PR_SET_CHILD_SUBREAPER) for good. Once the child exits (or is
 *     killed) the rest of its group is SIGKILLed and the members that were
 *     reparented to us are reaped (waitpid(-pgid)), until kill(-pgid, 0)
 *     says ESRCH. The caller should reap its other children itself: an
 *     orphan of some other child of ours now becomes our zombie.
 *   - Out of reach without cgroups or PID namespaces: a descendant that
 *     calls setsid() or setpgid() leaves the group and survives (if it
 *     keeps the output pipes open, the logs simply stop there); zombies
 *     such a process fails to reap keep the group alive, and we stop
 *     waiting for them 5 s after the child ended.
 *   - Limits are setrlimit in the child before execve: RLIMIT_AS is the
 *     address space (runtimes that reserve huge virtual ranges, such as
 *     V8 or the Go runtime, need a larger value or none); RLIMIT_CPU kills
 *     with SIGXCPU, then SIGKILL a second later; RLIMIT_NPROC counts every
 *     process of the real user and does not bind root; RLIMIT_FSIZE kills
 *     a writer with SIGXFSZ (the log files are written by us, not by it,
 *     so the output cap applies to them instead).
 *   - The child starts with every signal at its default disposition and
 *     an empty mask, and with no descriptor of ours but 0, 1 and 2.
 */
#ifndef QF_EXEC_H
#define QF_EXEC_H

#include <stddef.h>

#include "qf/err.h"

/* Per-stream output cap when the options give none (bytes). */
#define QF_EXEC_MAX_OUTPUT_DEFAULT (10ull << 20)
/* Time between SIGTERM and SIGKILL when the options give none (ms). */
#define QF_EXEC_GRACE_MS_DEFAULT 5000

typedef struct qf_exec_opts {
  const char *const *argv; /* argv[0]: a path, or a name looked up in the
                              PATH of env (not ours) */
  const char *const *env;  /* the child's whole environment, "K=V", NULL-
                              terminated; NULL: an empty environment */
  const char *cwd;         /* working directory; NULL: ours */
  const char *stdout_path; /* log files, created 0644 and truncated */
  const char *stderr_path;
  unsigned long long max_output_bytes; /* per stream; 0: default */
  int timeout_ms;                      /* wall clock, > 0 */
  int grace_ms;                        /* 0: default */
  unsigned long long memory_limit_mb;  /* RLIMIT_AS; 0: none */
  unsigned long long cpu_limit_s;      /* RLIMIT_CPU; 0: none */
  unsigned long long max_open_files;   /* RLIMIT_NOFILE; 0: none */
  unsigned long long max_processes;    /* RLIMIT_NPROC; 0: none */
  unsigned long long max_file_bytes;   /* RLIMIT_FSIZE; 0: none */
  /* A cgroup v2 directory below which the child gets a cgroup of its own
   * (every descendant stays in it, even one that leaves the process group;
   * it is killed whole at the end); NULL: the process group only. Where
   * the cgroup cannot be made, the process group still applies. */
  const char *cgroup_parent;
  /* Told the child's PID (= its process group) and its cgroup (NULL when
   * none) once it started, so that the caller can record them; may be
   * NULL. */
  void (*on_start)(int pgid, const char *cgroup, void *ctx);
  void *on_start_ctx;
  /* qf_exec_run calls waiting(1, ctx) before each wait for the child and
   * waiting(0, ctx) after it (a host that runs several tools on threads
   * lets go of its lock there); may be NULL. */
  void (*waiting)(int begin, void *ctx);
  void *waiting_ctx;
} qf_exec_opts_t;

typedef struct qf_exec_result {
  int exited;       /* 1: exited with exit_code; 0: killed by signal */
  int exit_code;    /* when exited */
  int term_signal;  /* when killed by a signal (ours or another) */
  int timed_out;    /* we killed it because timeout_ms passed */
  int canceled;     /* we killed it because qf_exec_cancel was called */
  int start_failed; /* exec failed (start_errno says why): nothing ran */
  int start_errno;
  long long duration_ms; /* monotonic, start to end of the group */
  unsigned long long stdout_bytes, stderr_bytes; /* produced, not kept */
  int stdout_truncated, stderr_truncated;
} qf_exec_result_t;

typedef struct qf_exec qf_exec_t;

/* Starts the child. On success *out is owned by the caller (qf_exec_free).
 * A program that cannot be executed is not an error here: the child is
 * reported finished with start_failed set (so callers treat every outcome
 * in one place). Errors: QF_EINVAL (bad options), QF_EIO (log files),
 * QF_ECHILD (fork failed). */
int qf_exec_start(const qf_exec_opts_t *opts, qf_exec_t **out,
                  qf_error_t *err) QF_MUSTCHECK;

/* A descriptor that becomes readable when there is work for qf_exec_poll
 * (output to drain, the child finished). Borrowed; valid until
 * qf_exec_free. The caller must still call qf_exec_poll at least every
 * 250 ms so that timeouts are enforced. */
int qf_exec_fd(const qf_exec_t *x);

/* Does what is due without blocking: drains output into the log files,
 * enforces the timeout and grace period, reaps. Returns 1 when the child
 * and its whole group are gone (*res filled), 0 while it runs, or a
 * negative QF code on an internal failure (the group is killed then). */
int qf_exec_poll(qf_exec_t *x, qf_exec_result_t *res,
                 qf_error_t *err) QF_MUSTCHECK;

/* Asks the group to stop (SIGTERM, then SIGKILL after the grace period,
 * driven by qf_exec_poll); the result says canceled. */
void qf_exec_cancel(qf_exec_t *x);

/* Kills the group if it still runs, reaps it, and frees. NULL allowed. */
void qf_exec_free(qf_exec_t *x);

/* Runs to completion, calling tick(tick_ctx) at least every tick_ms while
 * the child runs (the worker serves its AMQP connection there). tick may
 * be NULL. tick returning nonzero cancels the child. */
int qf_exec_run(const qf_exec_opts_t *opts, int (*tick)(void *), void *tick_ctx,
                int tick_ms, qf_exec_result_t *res,
                qf_error_t *err) QF_MUSTCHECK;

/* This machine, as "hostname/boot-id": a process group recorded with it
 * can be signalled only from the same machine and boot. */
int qf_exec_host_id(char *out, size_t n, qf_error_t *err) QF_MUSTCHECK;

/* The start time of process pid (clock ticks after boot, /proc), or -1
 * when there is no such process. */
long long qf_exec_start_time(int pid);

/* Kills what is left of a tool another runner (a worker that died)
 * started on host: its cgroup (cgroup, "" or NULL when none: everything
 * in it, then the cgroup itself) and its process group pgid, whose leader
 * started at started. Nothing is signalled on another machine (*killed 0),
 * nor when pgid now names a different process (a PID reused after the
 * group ended). Waits up to wait_ms for the group to be gone; *killed is
 * 1 when something was signalled. QF_ETIMEDOUT when it is still there
 * after that. */
int qf_exec_kill_leftover(int pgid, const char *cgroup, const char *host,
                          long long started, int wait_ms, int *killed,
                          qf_error_t *err) QF_MUSTCHECK;

/* This process's own cgroup v2 directory (mount point + /proc/self/cgroup),
 * the default parent for the tools' cgroups. QF_ENOENT without cgroup v2. */
int qf_exec_cgroup_default(char *out, size_t n, qf_error_t *err) QF_MUSTCHECK;

/* Whether cgroups can be made below parent (one is made and removed):
 * QF_EPERM, saying why, where not (not delegated, read-only, not v2). */
int qf_exec_cgroup_probe(const char *parent, qf_error_t *err) QF_MUSTCHECK;

/* Builds a child environment: every variable of ours whose name matches
 * one of the n glob patterns (fnmatch, case-sensitive), then the "K=V"
 * entries of extra (NULL-terminated; they override). *out is a
 * NULL-terminated array; free it with qf_exec_env_free. */
int qf_exec_env_build(const char *const *patterns, size_t n,
                      const char *const *extra, char ***out,
                      qf_error_t *err) QF_MUSTCHECK;
void qf_exec_env_free(char **env);

#endif
