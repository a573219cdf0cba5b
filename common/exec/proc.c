/* pipe2 and posix_spawn_file_actions_addchdir_np are GNU extensions. */
#define _GNU_SOURCE
#include "qf/proc.h"
#include "qf/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qf/strbuf.h"

extern char **environ;

static int spawn(const char *const *argv, const char *cwd, int out_fd,
                 pid_t *pid) {
  posix_spawn_file_actions_t fa;
  if (posix_spawn_file_actions_init(&fa) != 0) return ENOMEM;
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addclose(&fa, out_fd);
  /* glibc 2.29+ has addchdir_np; Debian 12 ships 2.36. */
  if (cwd) posix_spawn_file_actions_addchdir_np(&fa, cwd);
  int rc = posix_spawnp(pid, argv[0], &fa, NULL, (char *const *)argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  return rc;
}

/* Reads until EOF or the deadline; keeps at most max bytes. */
static int drain(int fd, long long deadline, size_t max, qf_strbuf_t *sb) {
  char buf[4096];
  for (;;) {
    long long left = deadline - qf_clock_now_ms();
    if (left <= 0) return QF_ETIMEDOUT;
    struct pollfd p = {fd, POLLIN, 0};
    int n = poll(&p, 1, (int)left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    ssize_t r = read(fd, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return QF_OK;
    size_t keep = sb->len < max ? max - sb->len : 0;
    if (keep > (size_t)r) keep = (size_t)r;
    if (keep && qf_strbuf_append(sb, buf, keep) < 0) return QF_ENOMEM;
  }
}

int qf_proc_capture(const char *const *argv, const char *cwd, int timeout_ms,
                    size_t max_out, char **out, int *exit_code,
                    qf_error_t *err) {
  int fds[2];
  pid_t pid;
  qf_strbuf_t sb;
  qf_strbuf_init(&sb);
  if (pipe2(fds, O_CLOEXEC) < 0)
    return qf_error_set(err, qf_err_from_errno(errno), "pipe: %s",
                        strerror(errno));
  int rc = spawn(argv, cwd, fds[1], &pid);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    return qf_error_set(err, QF_ECHILD, "%s: cannot start: %s", argv[0],
                        strerror(rc));
  }
  rc = drain(fds[0], qf_clock_now_ms() + timeout_ms, max_out, &sb);
  close(fds[0]);
  if (rc == QF_ETIMEDOUT) kill(pid, SIGKILL);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (rc < 0) {
    qf_strbuf_fini(&sb);
    return qf_error_set(err, rc, "%s: %s", argv[0],
                        rc == QF_ETIMEDOUT ? "timed out" : "out of memory");
  }
  *exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  *out = qf_strbuf_detach(&sb);
  return *out ? QF_OK : qf_error_set(err, QF_ENOMEM, "out of memory");
}
