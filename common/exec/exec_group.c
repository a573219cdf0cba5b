/* exec_group.c: the end of a child's life: signalling its process group,
 * reaping the leader, sweeping the members left behind, and freeing the
 * runner. Below both exec.c (a failed start frees) and exec_wait.c (the
 * running side), so neither calls the other back. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exec_internal.h"
#include "qf/clock.h"

/* How long the group may outlive its SIGKILL (zombies held by a process
 * that left the group) before we stop waiting for it. */
#define GROUP_GONE_MAX_MS 5000

void qf__exec_close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

void qf__exec_unwatch(qf_exec_t *x, int fd) {
  if (fd >= 0 && x->epfd >= 0) epoll_ctl(x->epfd, EPOLL_CTL_DEL, fd, NULL);
}

void qf__exec_signal_group(qf_exec_t *x, int sig) {
  if (x->pid > 0 && !x->group_gone) kill(-x->pid, sig);
}

void qf__exec_reap_leader(qf_exec_t *x) {
  int st;
  if (x->leader_reaped || x->pid <= 0) return;
  pid_t r = waitpid(x->pid, &st, WNOHANG);
  if (r == 0) return;
  x->leader_reaped = 1;
  x->leader_status = r == x->pid ? st : 0;
  x->leader_gone_ms = qf_clock_now_ms();
  qf__exec_unwatch(x, x->pidfd);
  qf__exec_close_fd(&x->pidfd);
}

/* Once the leader is gone nothing of the group may stay: SIGKILL the rest
 * and reap the members that were reparented to us (the subreaper). */
void qf__exec_sweep_group(qf_exec_t *x) {
  int st;
  if (!x->leader_reaped || x->group_gone) return;
  kill(-x->pid, SIGKILL);
  /* The cgroup also holds what left the group (setsid). */
  if (x->cgroup[0]) qf__exec_cgroup_kill(x->cgroup);
  while (waitpid(-x->pid, &st, WNOHANG) > 0) {
  }
  if (kill(-x->pid, 0) < 0 && errno == ESRCH &&
      !(x->cgroup[0] && qf__exec_cgroup_populated(x->cgroup)))
    x->group_gone = 1;
  /* Zombies whose parent left the group (setsid) are out of our reach. */
  else if (qf_clock_now_ms() - x->leader_gone_ms > GROUP_GONE_MAX_MS)
    x->group_gone = 1;
}

/* Blocks until the leader and its group are gone (SIGKILLed). */
static void kill_and_reap(qf_exec_t *x) {
  if (x->pid <= 0) return;
  if (!x->leader_reaped) {
    qf__exec_signal_group(x, SIGKILL);
    int st;
    while (waitpid(x->pid, &st, 0) < 0 && errno == EINTR) {
    }
    x->leader_reaped = 1;
    x->leader_gone_ms = qf_clock_now_ms();
  }
  while (!x->group_gone) {
    qf__exec_sweep_group(x);
    if (!x->group_gone) nanosleep(&(struct timespec){0, 2000000}, NULL);
  }
}

void qf_exec_free(qf_exec_t *x) {
  if (x == NULL) return;
  kill_and_reap(x);
  if (x->cgroup[0]) (void)qf__exec_cgroup_remove(x->cgroup, 2000);
  qf__exec_close_fd(&x->out.pipe);
  qf__exec_close_fd(&x->err.pipe);
  qf__exec_close_fd(&x->out.log);
  qf__exec_close_fd(&x->err.log);
  qf__exec_close_fd(&x->pidfd);
  qf__exec_close_fd(&x->errpipe);
  qf__exec_close_fd(&x->epfd);
  free(x);
}
