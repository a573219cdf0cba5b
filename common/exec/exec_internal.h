/* exec_internal.h: what exec.c (starting the child), exec_wait.c
 * (draining its output, the timers, the run loop) and exec_group.c
 * (reaping and killing its group, freeing) share. Not public. Calls go
 * exec_wait.c -> exec.c -> exec_group.c, and exec_wait.c -> exec_group.c.
 */
#ifndef QF_EXEC_INTERNAL_H
#define QF_EXEC_INTERNAL_H

#include <sys/types.h>

#include "qf/exec.h"

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

#endif
