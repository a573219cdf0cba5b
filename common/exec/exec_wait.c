/* exec_wait.c: the sandboxed process runner of exec.h, running side:
 * draining the output into the logs, the timeout and grace timers,
 * reaping the leader and sweeping its group, and qf_exec_run's loop. The
 * timers are checked on every qf_exec_poll. */
#include "qf/exec.h"
#include "qf/clock.h"

#include "exec_internal.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Bytes read from one stream per qf_exec_poll, so that a flood does not
 * keep the caller away from its own work. */
#define DRAIN_BUDGET (4u << 20)

/* ---------------------------------------------------------------- output */

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return -1;
    p += w, n -= (size_t)w;
  }
  return 0;
}

/* Reads what is there (at most budget bytes), keeping the first cap bytes
 * in the log. Closes the pipe at EOF. */
static int drain(qf_exec_t *x, qf__exec_stream_t *s, size_t budget,
                 qf_error_t *err) {
  char buf[65536];
  while (s->pipe >= 0 && budget > 0) {
    ssize_t n = read(s->pipe, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return QF_OK;
    if (n <= 0) { /* EOF, or a broken pipe: either way no more output */
      qf__exec_unwatch(x, s->pipe);
      qf__exec_close_fd(&s->pipe);
      return QF_OK;
    }
    budget = (size_t)n < budget ? budget - (size_t)n : 0;
    unsigned long long room = s->bytes < x->cap ? x->cap - s->bytes : 0;
    size_t keep = room < (unsigned long long)n ? (size_t)room : (size_t)n;
    s->bytes += (unsigned long long)n;
    if ((size_t)n > keep) s->truncated = 1;
    if (keep && write_all(s->log, buf, keep) < 0)
      return qf_error_set(err, QF_EIO, "exec: writing a log: %s",
                          strerror(errno));
  }
  return QF_OK;
}

static int finish_log(qf_exec_t *x, qf__exec_stream_t *s, qf_error_t *err) {
  char line[96];
  if (s->truncated) {
    int n = snprintf(line, sizeof line,
                     "\n[qf: output truncated after %llu bytes]\n", x->cap);
    if (write_all(s->log, line, (size_t)n) < 0)
      return qf_error_set(err, QF_EIO, "exec: writing a log: %s",
                          strerror(errno));
  }
  qf__exec_close_fd(&s->log);
  return QF_OK;
}

/* ------------------------------------------------------------- the group */

static void enforce_timers(qf_exec_t *x) {
  long long t = qf_clock_now_ms();
  if (x->leader_reaped) return;
  if (!x->term_sent && t >= x->deadline_ms) {
    x->res.timed_out = 1;
    x->term_sent = 1;
    x->kill_at_ms = t + x->grace_ms;
    qf__exec_signal_group(x, SIGTERM);
  }
  if (x->term_sent && !x->kill_sent && t >= x->kill_at_ms) {
    x->kill_sent = 1;
    qf__exec_signal_group(x, SIGKILL);
  }
}

static void fill_result(qf_exec_t *x) {
  qf_exec_result_t *r = &x->res;
  int st = x->leader_status;
  r->duration_ms = qf_clock_now_ms() - x->start_ms;
  r->stdout_bytes = x->out.bytes, r->stderr_bytes = x->err.bytes;
  r->stdout_truncated = x->out.truncated;
  r->stderr_truncated = x->err.truncated;
  if (r->start_failed) {
    r->exited = 0;
  } else if (WIFEXITED(st)) {
    r->exited = 1;
    r->exit_code = WEXITSTATUS(st);
  } else if (WIFSIGNALED(st)) {
    r->term_signal = WTERMSIG(st);
  }
}

/* The group is gone: collect what the pipes still hold and close up. */
static int finish(qf_exec_t *x, qf_error_t *err) {
  int rc = drain(x, &x->out, 16u << 20, err);
  if (rc == QF_OK) rc = drain(x, &x->err, 16u << 20, err);
  /* A process that left the group may hold the pipes; we stop here. */
  qf__exec_unwatch(x, x->out.pipe);
  qf__exec_unwatch(x, x->err.pipe);
  qf__exec_close_fd(&x->out.pipe);
  qf__exec_close_fd(&x->err.pipe);
  if (rc == QF_OK) rc = finish_log(x, &x->out, err);
  if (rc == QF_OK) rc = finish_log(x, &x->err, err);
  fill_result(x);
  x->done = 1;
  return rc;
}

int qf_exec_poll(qf_exec_t *x, qf_exec_result_t *res, qf_error_t *err) {
  int rc;
  if (x == NULL) return qf_error_set(err, QF_EINVAL, "exec: no child");
  if (x->done) goto done;
  if ((rc = drain(x, &x->out, DRAIN_BUDGET, err)) < 0 ||
      (rc = drain(x, &x->err, DRAIN_BUDGET, err)) < 0)
    goto fail;
  qf__exec_reap_leader(x);
  enforce_timers(x);
  qf__exec_sweep_group(x);
  if (!x->group_gone) return 0;
  if ((rc = finish(x, err)) < 0) return rc;
done:
  if (res) *res = x->res;
  return 1;
fail:
  qf__exec_signal_group(x, SIGKILL);
  return rc;
}

void qf_exec_cancel(qf_exec_t *x) {
  if (x == NULL || x->done || x->term_sent || x->res.start_failed) return;
  x->res.canceled = 1;
  x->term_sent = 1;
  x->kill_at_ms = qf_clock_now_ms() + x->grace_ms;
  qf__exec_signal_group(x, SIGTERM);
}

/* --------------------------------------------------------------- run */

/* How long run may sleep in poll(2): until the next tick or timer, and
 * briefly while the group is being swept (its members die unannounced). */
static int next_wait(const qf_exec_t *x, long long next_tick) {
  long long t = qf_clock_now_ms(), w = next_tick - t;
  long long timer = x->term_sent ? x->kill_at_ms : x->deadline_ms;
  if (!x->leader_reaped && !x->kill_sent && timer - t < w) w = timer - t;
  if (x->leader_reaped || x->res.start_failed) w = w < 2 ? w : 2;
  return w < 0 ? 0 : (int)w;
}

int qf_exec_run(const qf_exec_opts_t *opts, int (*tick)(void *), void *tick_ctx,
                int tick_ms, qf_exec_result_t *res, qf_error_t *err) {
  qf_exec_t *x = NULL;
  int rc = qf_exec_start(opts, &x, err);
  if (rc < 0) return rc;
  if (tick_ms <= 0) tick_ms = 250;
  long long next_tick = qf_clock_now_ms() + tick_ms;
  while ((rc = qf_exec_poll(x, res, err)) == 0) {
    struct pollfd p = {qf_exec_fd(x), POLLIN, 0};
    if (opts->waiting) opts->waiting(1, opts->waiting_ctx);
    int n = poll(&p, 1, next_wait(x, next_tick));
    if (opts->waiting) opts->waiting(0, opts->waiting_ctx);
    if (n < 0 && errno != EINTR) {
      rc = qf_error_set(err, QF_EIO, "exec: poll: %s", strerror(errno));
      break;
    }
    if (qf_clock_now_ms() < next_tick) continue;
    next_tick = qf_clock_now_ms() + tick_ms;
    if (tick && tick(tick_ctx)) qf_exec_cancel(x);
  }
  qf_exec_free(x);
  return rc < 0 ? rc : QF_OK;
}
