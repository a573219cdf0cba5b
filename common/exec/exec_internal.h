/* exec_internal.h: what exec.c (starting the child), exec_wait.c
 * (draining its output, the timers, the run loop) and exec_group.c
 * (reaping and killing its group, freeing) share. Not public. Calls go
 * exec_wait.c -> exec.c -> exec_group.c, and exec_wait.c -> exec_group.c.
 */
#ifndef QF_EXEC_INTERNAL_H
#define QF_EXEC_INTERNAL_H

#include <sys/types.h>

#include "qf/exec.h"

/* The longest cgroup directory path we make. */
#define QF__CG_PATH_MAX 1024

typedef struct qf__exec_stream {
  int pipe;                 /* read end, -1 once at EOF */
  int log;                  /* log file */
  unsigned long long bytes; /* produced */
  int truncated;
} qf__exec_stream_t;

struct qf_exec {
  pid_t pid; /* leader; also the process group id */
  int epfd, pidfd, errpipe;
  qf__exec_stream_t out, err;
  unsigned long long cap;
  long long start_ms, deadline_ms, grace_ms, kill_at_ms, leader_gone_ms;
  int leader_reaped, leader_status, term_sent, kill_sent, group_gone;
  int done;
  qf_exec_result_t res;
  char cgroup[QF__CG_PATH_MAX]; /* the tool's own cgroup, "" when none */
};

/* exec_group.c: closes *fd if open and sets it to -1. */
void qf__exec_close_fd(int *fd);
/* Stops watching fd in the epoll set. */
void qf__exec_unwatch(qf_exec_t *x, int fd);
/* Sends sig to the child's process group (while it exists). */
void qf__exec_signal_group(qf_exec_t *x, int sig);
/* Reaps the leader when it has exited (no wait). */
void qf__exec_reap_leader(qf_exec_t *x);
/* Once the leader is gone: SIGKILLs and reaps what is left of the group. */
void qf__exec_sweep_group(qf_exec_t *x);

/* exec_cgroup.c (errno-style returns: 0 or an errno): makes a cgroup
 * below parent (out gets its path, "" on failure); the child joins it
 * before execve; whether a process is still in it; SIGKILLs everything in
 * it; removes it (killing again while busy) within wait_ms. */
int qf__exec_cgroup_create(const char *parent, char *out, size_t n);
int qf__exec_cgroup_join(const char *cg);
int qf__exec_cgroup_populated(const char *cg);
void qf__exec_cgroup_kill(const char *cg);
int qf__exec_cgroup_remove(const char *cg, int wait_ms);
/* A dead runner's cgroup: killed and removed (*killed set when something
 * ran in it); QF codes. */
int qf__exec_cgroup_kill_leftover(const char *cg, int wait_ms, int *killed,
                                  qf_error_t *err);

/* tool_playwright_config.c (for tool_playwright.c): the Playwright config
 * at the workspace root, found as Playwright finds one (the first of
 * playwright.config.{ts,js,mts,mjs,cts,cjs}); its name goes in out (size
 * n; may be NULL). QF_EVALIDATE "config: ..." when there is none, or it
 * resolves outside the workspace or is not a regular file. */
int qf__playwright_find_config(const char *workspace, char *out, size_t n,
                               qf_error_t *err);

#endif
