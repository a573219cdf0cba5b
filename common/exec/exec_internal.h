/* exec_internal.h: what exec.c (starting the child) and exec_wait.c
 * (draining its output, reaping and killing its group) share. Not public.
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

/* Closes *fd if open and sets it to -1. */
void qf__exec_close_fd(int *fd);

#endif
