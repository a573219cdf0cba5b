/* exec_leftover.c: what a dead runner left behind. A worker killed with
 * kill -9 takes its tool with it (parent-death signal), but the tool's own
 * children are reparented and live on in its process group. Whoever takes
 * the run over kills that group first, identified by the machine and the
 * leader's start time so that a reused PID is never signalled. */
#include "exec_internal.h"
#include "qf/clock.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int read_line(const char *path, char *out, size_t n) {
  FILE *f = fopen(path, "re");
  if (f == NULL) return -1;
  int ok = fgets(out, (int)n, f) != NULL;
  fclose(f);
  if (!ok) return -1;
  out[strcspn(out, "\n")] = '\0';
  return 0;
}

int qf_exec_host_id(char *out, size_t n, qf_error_t *err) {
  char host[256] = "", boot[64] = "";
  if (gethostname(host, sizeof host - 1) < 0)
    return qf_error_set(err, QF_EIO, "gethostname: %s", strerror(errno));
  if (read_line("/proc/sys/kernel/random/boot_id", boot, sizeof boot) < 0)
    snprintf(boot, sizeof boot, "unknown-boot");
  if ((size_t)snprintf(out, n, "%s/%s", host, boot) >= n)
    return qf_error_set(err, QF_EINVAL, "host id does not fit %zu bytes", n);
  return QF_OK;
}

long long qf_exec_start_time(int pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  if (pid <= 0 || read_line(path, buf, sizeof buf) < 0) return -1;
  /* The command name (field 2) may hold spaces and parentheses: count
   * fields after its last ')'. starttime is field 22. */
  const char *p = strrchr(buf, ')');
  if (p == NULL) return -1;
  long long start = -1;
  int field = 2;
  for (const char *q = p + 1; *q; q++)
    if (*q == ' ' && ++field == 22 && sscanf(q + 1, "%lld", &start) != 1)
      return -1;
  return start;
}

/* Whether a process of group pgid still runs. Zombies do not count: an
 * orphan's zombie waits for whoever adopted it (PID 1, a subreaper),
 * which may be slow or never reap it; it runs nothing. Members that came
 * back to us are reaped here. */
static int group_alive(int pgid) {
  while (waitpid(-(pid_t)pgid, NULL, WNOHANG) > 0) {
  }
  DIR *d = opendir("/proc");
  if (d == NULL) return kill(-(pid_t)pgid, 0) == 0 || errno == EPERM;
  int alive = 0;
  struct dirent *e;
  while (!alive && (e = readdir(d)) != NULL) {
    char path[300], buf[1024], state;
    int pgrp;
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    const char *p =
        read_line(path, buf, sizeof buf) == 0 ? strrchr(buf, ')') : NULL;
    /* After the command name: state, ppid, pgrp. */
    if (p && sscanf(p + 1, " %c %*d %d", &state, &pgrp) == 2 && pgrp == pgid &&
        state != 'Z' && state != 'X')
      alive = 1;
  }
  closedir(d);
  return alive;
}

int qf_exec_kill_leftover(int pgid, const char *cgroup, const char *host,
                          long long started, int wait_ms, int *killed,
                          qf_error_t *err) {
  char here[512];
  *killed = 0;
  if (host == NULL || host[0] == '\0') return QF_OK;
  int rc = qf_exec_host_id(here, sizeof here, err);
  if (rc < 0) return rc;
  if (strcmp(here, host) != 0) return QF_OK; /* another machine's */
  rc = qf__exec_cgroup_kill_leftover(cgroup, wait_ms, killed, err);
  if (rc < 0 || pgid <= 1) return rc;
  /* A live process with that PID must be the leader we recorded. With
   * the leader gone, Linux keeps the number from being reused while any
   * member of its group lives, so the group is still the tool's. */
  long long now_started = qf_exec_start_time(pgid);
  if (now_started >= 0 && now_started != started) return QF_OK;
  if (!group_alive(pgid)) return QF_OK;
  if (kill(-(pid_t)pgid, SIGKILL) < 0 && errno != ESRCH)
    return qf_error_set(err, QF_EPERM, "kill -%d: %s", pgid, strerror(errno));
  *killed = 1;
  int64_t until = qf_clock_now_ms() + wait_ms;
  while (group_alive(pgid)) {
    if (qf_clock_now_ms() >= until)
      return qf_error_set(err, QF_ETIMEDOUT,
                          "process group %d still alive %d ms after SIGKILL",
                          pgid, wait_ms);
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return QF_OK;
}
