/* exec_cgroup.c: a cgroup (v2) per tool run, where the machine lets us
 * make one. A process group holds only the processes that stay in it; a
 * cgroup holds every descendant, even one that called setsid(), so killing
 * it (cgroup.kill) leaves nothing of the tool behind. No controller is
 * enabled: the cgroup only tracks and kills. Where cgroup v2 is not
 * mounted or not writable (not delegated to us), callers fall back to the
 * process group (qf_exec_cgroup_probe says why). */
#include "exec_internal.h"
#include "qf/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int write_file(const char *dir, const char *name, const char *text) {
  char path[QF__CG_PATH_MAX];
  if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
    return ENAMETOOLONG;
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  ssize_t n = write(fd, text, strlen(text));
  int e = n < 0 ? errno : 0;
  close(fd);
  return e;
}

static int read_file(const char *dir, const char *name, char *out, size_t n) {
  char path[QF__CG_PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t r = read(fd, out, n - 1);
  close(fd);
  if (r < 0) return -1;
  out[r] = '\0';
  return 0;
}

int qf__exec_cgroup_create(const char *parent, char *out, size_t n) {
  static unsigned seq;
  if ((size_t)snprintf(out, n, "%s/qf-%ld-%u", parent, (long)getpid(), seq++) >=
      n)
    return ENAMETOOLONG;
  /* A new one only: a leftover of the same name (a reused PID) may still
   * hold a dead runner's processes. */
  if (mkdir(out, 0755) < 0) {
    int e = errno;
    out[0] = '\0';
    return e;
  }
  return 0;
}

int qf__exec_cgroup_join(const char *cg) {
  /* In the child, before execve: "0" is the writing process itself. */
  return write_file(cg, "cgroup.procs", "0");
}

int qf__exec_cgroup_populated(const char *cg) {
  char buf[256];
  if (read_file(cg, "cgroup.events", buf, sizeof buf) < 0) return 0;
  return strstr(buf, "populated 1") != NULL;
}

/* SIGKILLs every process of the cgroup; cgroup.kill (Linux 5.14+) does it
 * at once, else each listed PID, which is reaped if it came back to us. */
void qf__exec_cgroup_kill(const char *cg) {
  char buf[4096];
  if (write_file(cg, "cgroup.kill", "1") == 0) return;
  if (read_file(cg, "cgroup.procs", buf, sizeof buf) < 0) return;
  for (char *p = buf, *end; *p; p = end) {
    long pid = strtol(p, &end, 10);
    if (end == p) break;
    if (pid > 1) {
      kill((pid_t)pid, SIGKILL);
      waitpid((pid_t)pid, NULL, WNOHANG);
    }
  }
}

int qf__exec_cgroup_remove(const char *cg, int wait_ms) {
  int64_t until = qf_clock_now_ms() + wait_ms;
  while (rmdir(cg) < 0) {
    if (errno == ENOENT) return 0;
    if (errno != EBUSY || qf_clock_now_ms() >= until) return errno;
    qf__exec_cgroup_kill(cg);
    nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
  }
  return 0;
}

/* The cgroup v2 mount point, from /proc/self/mountinfo. */
static int cgroup2_mount(char *out, size_t n) {
  FILE *f = fopen("/proc/self/mountinfo", "re");
  char line[1024];
  int found = 0;
  while (f && !found && fgets(line, sizeof line, f)) {
    const char *sep = strstr(line, " - cgroup2 ");
    char mnt[512];
    if (sep && sscanf(line, "%*s %*s %*s %*s %511s", mnt) == 1 &&
        (size_t)snprintf(out, n, "%s", mnt) < n)
      found = 1;
  }
  if (f) fclose(f);
  return found ? 0 : -1;
}

int qf_exec_cgroup_default(char *out, size_t n, qf_error_t *err) {
  char mnt[512], line[1024], own[512] = "";
  if (cgroup2_mount(mnt, sizeof mnt) < 0)
    return qf_error_set(err, QF_ENOENT, "no cgroup v2 file system is mounted");
  FILE *f = fopen("/proc/self/cgroup", "re");
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, "0::", 3) == 0)
      snprintf(own, sizeof own, "%.*s", (int)strcspn(line + 3, "\n"), line + 3);
  if (f) fclose(f);
  if (own[0] != '/')
    return qf_error_set(err, QF_ENOENT, "this process is in no cgroup v2");
  if ((size_t)snprintf(out, n, "%s%s", mnt, strcmp(own, "/") ? own : "") >= n)
    return qf_error_set(err, QF_EINVAL, "cgroup path too long");
  return QF_OK;
}

int qf_exec_cgroup_probe(const char *parent, qf_error_t *err) {
  char cg[QF__CG_PATH_MAX], buf[64];
  int e = qf__exec_cgroup_create(parent, cg, sizeof cg);
  if (e)
    return qf_error_set(err, QF_EPERM, "cannot create a cgroup under %s: %s",
                        parent, strerror(e));
  int ok = read_file(cg, "cgroup.procs", buf, sizeof buf) == 0;
  rmdir(cg);
  if (!ok)
    return qf_error_set(err, QF_EPERM, "%s is not a cgroup v2 directory",
                        parent);
  return QF_OK;
}

int qf__exec_cgroup_kill_leftover(const char *cg, int wait_ms, int *killed,
                                  qf_error_t *err) {
  struct stat st;
  if (cg == NULL || cg[0] == '\0' || stat(cg, &st) < 0) return QF_OK;
  if (qf__exec_cgroup_populated(cg)) *killed = 1;
  qf__exec_cgroup_kill(cg);
  int e = qf__exec_cgroup_remove(cg, wait_ms);
  if (e)
    return qf_error_set(err, QF_ETIMEDOUT, "cgroup %s: %s", cg, strerror(e));
  return QF_OK;
}
