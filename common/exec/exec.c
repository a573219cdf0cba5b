/* exec.c: the sandboxed process runner of exec.h, starting side: the
 * child's setup up to execve, the fork, and the epoll descriptor
 * (qf_exec_fd) that watches the two output pipes and a pidfd of the group
 * leader, so it is readable whenever qf_exec_poll has something to do.
 * Draining, the timers, reaping and killing are in exec_wait.c. */
/* pipe2, close_range, prctl and pidfd are Linux/GNU extensions. */
#define _GNU_SOURCE
#include "qf/exec.h"
#include "qf/clock.h"

#include "exec_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

/* ---------------------------------------------------------------- child */

/* Only async-signal-safe calls from here to execve: the parent may have
 * threads, and the child has a copy of their locks. */

static const char *env_path(const char *const *env) {
  for (size_t i = 0; env && env[i]; i++)
    if (strncmp(env[i], "PATH=", 5) == 0) return env[i] + 5;
  return DEFAULT_PATH;
}

/* execve, searching the child's PATH when argv[0] has no '/'. Returns the
 * errno of the most telling failure (EACCES wins over ENOENT, as in
 * execvp). */
static int child_execve(const char *const *argv, const char *const *env) {
  char *const *av = (char *const *)argv;
  char *const *ev = (char *const *)(env ? env : (const char *const[]){NULL});
  if (strchr(argv[0], '/')) {
    execve(argv[0], av, ev);
    return errno;
  }
  const char *p = env_path(env);
  size_t nlen = strlen(argv[0]);
  int best = ENOENT;
  for (;;) {
    const char *end = strchrnul(p, ':');
    size_t dlen = (size_t)(end - p);
    char buf[PATH_MAX];
    if (dlen + nlen + 2 <= sizeof buf) {
      memcpy(buf, dlen ? p : ".", dlen ? dlen : 1);
      size_t o = dlen ? dlen : 1;
      buf[o++] = '/';
      memcpy(buf + o, argv[0], nlen + 1);
      execve(buf, av, ev);
      if (errno == EACCES)
        best = EACCES;
      else if (errno != ENOENT && errno != ENOTDIR)
        return errno;
    }
    if (*end == '\0') return best;
    p = end + 1;
  }
}

static int set_limit(int resource, unsigned long long v, int extra) {
  if (v == 0) return 0;
  struct rlimit rl = {(rlim_t)v, (rlim_t)v + (rlim_t)extra};
  return setrlimit(resource, &rl);
}

static int child_limits(const qf_exec_opts_t *o) {
  unsigned long long as = o->memory_limit_mb;
  if (as > (ULLONG_MAX >> 20)) as = 0;
  /* CPU: SIGXCPU at the soft limit, SIGKILL one second later. */
  if (set_limit(RLIMIT_AS, as << 20, 0) < 0 ||
      set_limit(RLIMIT_CPU, o->cpu_limit_s, 1) < 0 ||
      set_limit(RLIMIT_NOFILE, o->max_open_files, 0) < 0 ||
      set_limit(RLIMIT_NPROC, o->max_processes, 0) < 0 ||
      set_limit(RLIMIT_FSIZE, o->max_file_bytes, 0) < 0)
    return errno;
  return 0;
}

/* Moves fd above the standard descriptors, so that the dup2s onto 0..2
 * below cannot clobber it. */
static int lift(int fd) {
  return fd > 2 ? fd : fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

static void close_from(int low) {
  if (close_range((unsigned)low, ~0u, 0) == 0) return;
  for (int fd = low; fd < 65536; fd++)
    close(fd); /* no close_range */
}

/* Returns the errno that made the child fail; *report is where the pipe
 * to the parent ended up. */
static int child_setup(const qf_exec_opts_t *o, const char *cg, pid_t parent,
                       int out_w, int err_w, int *report) {
  /* The tool dies with its worker: a worker killed (kill -9, OOM) must not
   * leave it running beside the run's next attempt. If the worker died
   * before this line, the parent is already someone else. */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) return errno;
  if (getppid() != parent) return ECHILD;
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  /* Ignored signals survive execve: give the child the defaults. */
  for (int s = 1; s < NSIG; s++)
    if (s != SIGKILL && s != SIGSTOP) signal(s, SIG_DFL);
  if (setpgid(0, 0) < 0) return errno;
  /* Into its own cgroup before it can start anything: every descendant
   * is then in it. A cgroup refused here leaves the process group. */
  if (cg[0]) (void)qf__exec_cgroup_join(cg);
  int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (nul < 0 || (*report = lift(*report)) < 0 || (nul = lift(nul)) < 0 ||
      (out_w = lift(out_w)) < 0 || (err_w = lift(err_w)) < 0)
    return errno;
  if (dup2(nul, 0) < 0 || dup2(out_w, 1) < 0 || dup2(err_w, 2) < 0)
    return errno;
  if (*report != 3) {
    if (dup3(*report, 3, O_CLOEXEC) < 0) return errno;
    *report = 3;
  }
  /* Everything else goes: the child must not hold our sockets. The report
   * pipe is CLOEXEC and closes at execve. */
  close_from(4);
  if (o->cwd && chdir(o->cwd) < 0) return errno;
  int e = child_limits(o);
  if (e) return e;
  return child_execve(o->argv, o->env);
}

static void child_main(const qf_exec_opts_t *o, const char *cg, pid_t parent,
                       int out_w, int err_w, int report) {
  int e = child_setup(o, cg, parent, out_w, err_w, &report);
  ssize_t w = write(report, &e, sizeof e);
  (void)w;
  _exit(127);
}

/* --------------------------------------------------------------- parent */

static int open_log(const char *path, int *fd, qf_error_t *err) {
  *fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (*fd < 0)
    return qf_error_set(err, QF_EIO, "exec: cannot open log %s: %s", path,
                        strerror(errno));
  return QF_OK;
}

static int check_opts(const qf_exec_opts_t *o, qf_error_t *err) {
  if (o == NULL || o->argv == NULL || o->argv[0] == NULL ||
      o->argv[0][0] == '\0')
    return qf_error_set(err, QF_EINVAL, "exec: no program given");
  if (o->stdout_path == NULL || o->stderr_path == NULL)
    return qf_error_set(err, QF_EINVAL, "exec: log paths are required");
  if (o->timeout_ms <= 0 || o->grace_ms < 0)
    return qf_error_set(err, QF_EINVAL, "exec: timeout_ms must be > 0");
  return QF_OK;
}

static qf_exec_t *exec_alloc(const qf_exec_opts_t *o) {
  qf_exec_t *x = calloc(1, sizeof *x);
  if (x == NULL) return NULL;
  x->pid = -1;
  x->epfd = x->pidfd = x->errpipe = -1;
  x->out.pipe = x->out.log = x->err.pipe = x->err.log = -1;
  x->cap =
      o->max_output_bytes ? o->max_output_bytes : QF_EXEC_MAX_OUTPUT_DEFAULT;
  x->grace_ms = o->grace_ms ? o->grace_ms : QF_EXEC_GRACE_MS_DEFAULT;
  return x;
}

static int watch(qf_exec_t *x, int fd) {
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
  return epoll_ctl(x->epfd, EPOLL_CTL_ADD, fd, &ev);
}
/* After fork: waits for the child's exec (the report pipe closes) or its
 * report of why exec failed. */
static void await_exec(qf_exec_t *x) {
  int e = 0;
  ssize_t n;
  do
    n = read(x->errpipe, &e, sizeof e);
  while (n < 0 && errno == EINTR);
  if (n != (ssize_t)sizeof e) return; /* EOF: execve succeeded */
  x->res.start_failed = 1;
  x->res.start_errno = e;
  /* It exits right after the report: reap it now, nothing else ran. */
  while (waitpid(x->pid, &x->leader_status, 0) < 0 && errno == EINTR) {
  }
  x->leader_reaped = x->group_gone = 1;
}

/* Sets up the watches once the child runs. The pidfd makes the leader's
 * exit wake the caller; without pidfd_open the 250 ms poll rule covers. */
static int watch_child(qf_exec_t *x, qf_error_t *err) {
  x->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (x->epfd < 0)
    return qf_error_set(err, QF_EIO, "exec: epoll: %s", strerror(errno));
  if (x->res.start_failed) /* at EOF, so readable until freed */
    return watch(x, x->errpipe) < 0 ? QF_EIO : QF_OK;
  qf__exec_close_fd(&x->errpipe);
  x->pidfd = (int)syscall(SYS_pidfd_open, x->pid, 0);
  if ((x->pidfd >= 0 && watch(x, x->pidfd) < 0) || watch(x, x->out.pipe) < 0 ||
      watch(x, x->err.pipe) < 0)
    return qf_error_set(err, QF_EIO, "exec: epoll: %s", strerror(errno));
  fcntl(x->out.pipe, F_SETFL, O_NONBLOCK);
  fcntl(x->err.pipe, F_SETFL, O_NONBLOCK);
  return QF_OK;
}

static int spawn(qf_exec_t *x, const qf_exec_opts_t *o, qf_error_t *err) {
  int outp[2] = {-1, -1}, errp[2] = {-1, -1}, rep[2] = {-1, -1};
  int rc = QF_OK;
  if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
      pipe2(rep, O_CLOEXEC) < 0) {
    rc = qf_error_set(err, QF_EIO, "exec: pipe: %s", strerror(errno));
    goto out;
  }
  /* Orphaned grandchildren come back to us, so that we can reap them. */
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  if (o->cgroup_parent && o->cgroup_parent[0])
    (void)qf__exec_cgroup_create(o->cgroup_parent, x->cgroup, sizeof x->cgroup);
  x->start_ms = qf_clock_now_ms();
  pid_t self = getpid();
  x->pid = fork();
  if (x->pid < 0) {
    rc = qf_error_set(err, QF_ECHILD, "exec: fork: %s", strerror(errno));
    goto out;
  }
  if (x->pid == 0) child_main(o, x->cgroup, self, outp[1], errp[1], rep[1]);
  /* Also from here, so the group exists before we ever signal it. */
  setpgid(x->pid, x->pid);
  x->out.pipe = outp[0], x->err.pipe = errp[0], x->errpipe = rep[0];
  outp[0] = errp[0] = rep[0] = -1;
  qf__exec_close_fd(&rep[1]); /* before reading, or EOF never comes */
  await_exec(x);
out:
  for (int i = 0; i < 2; i++) {
    qf__exec_close_fd(&outp[i]);
    qf__exec_close_fd(&errp[i]);
    qf__exec_close_fd(&rep[i]);
  }
  return rc;
}

int qf_exec_start(const qf_exec_opts_t *opts, qf_exec_t **out,
                  qf_error_t *err) {
  int rc = check_opts(opts, err);
  if (rc < 0) return rc;
  qf_exec_t *x = exec_alloc(opts);
  if (x == NULL) return qf_error_set(err, QF_ENOMEM, "out of memory");
  if ((rc = open_log(opts->stdout_path, &x->out.log, err)) < 0 ||
      (rc = open_log(opts->stderr_path, &x->err.log, err)) < 0 ||
      (rc = spawn(x, opts, err)) < 0 || (rc = watch_child(x, err)) < 0)
    goto fail;
  x->deadline_ms = x->start_ms + opts->timeout_ms;
  if (opts->on_start && !x->res.start_failed)
    opts->on_start((int)x->pid, x->cgroup[0] ? x->cgroup : NULL,
                   opts->on_start_ctx);
  *out = x;
  return QF_OK;
fail:
  qf_exec_free(x);
  return rc;
}

int qf_exec_fd(const qf_exec_t *x) {
  return x ? x->epfd : -1;
}
