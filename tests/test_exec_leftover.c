/* What a dead runner left (exec_leftover.c): a process group whose leader
 * is gone but whose children live on, as after a worker's kill -9. It is
 * killed only on this machine and only when the recorded start time says
 * it is the same group. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "qf/exec.h"
#include "support.h"

/* Starts a group: a leader that forks a sleeping child and then waits
 * (keep_leader) or exits. Returns the group id (= the leader's PID);
 * *member is the sleeping child. */
static pid_t start_group(int keep_leader, pid_t *member) {
  int fds[2];
  cr_assert_eq(pipe(fds), 0);
  pid_t leader = fork();
  cr_assert_geq(leader, 0);
  if (leader == 0) {
    setpgid(0, 0);
    pid_t c = fork();
    if (c == 0) {
      execl("/bin/sleep", "sleep", "60", (char *)NULL);
      _exit(127);
    }
    if (write(fds[1], &c, sizeof c) != sizeof c) _exit(1);
    if (keep_leader) pause();
    _exit(0);
  }
  setpgid(leader, leader);
  cr_assert_eq(read(fds[0], member, sizeof *member), (ssize_t)sizeof *member);
  close(fds[0]);
  close(fds[1]);
  return leader;
}

static void here(char *out, size_t n) {
  qf_error_t err;
  cr_assert_eq(qf_exec_host_id(out, n, &err), 0, "%s", err.message);
}

Test(exec_leftover, kills_the_orphans_of_a_group_whose_leader_died) {
  pid_t member, g = start_group(0, &member);
  long long started = qf_exec_start_time(g);
  cr_assert_gt(started, 0);
  cr_assert_eq(waitpid(g, NULL, 0), g); /* the leader is gone */
  cr_assert(qf_test_pid_runs(member));
  char host[512];
  here(host, sizeof host);
  int killed = 0;
  qf_error_t err;
  cr_assert_eq(
      qf_exec_kill_leftover(g, NULL, host, started, 3000, &killed, &err), 0,
      "%s", err.message);
  cr_expect_eq(killed, 1);
  cr_expect_not(qf_test_pid_runs(member), "the orphan %d still runs",
                (int)member);
}

Test(exec_leftover, leaves_another_machines_group_alone) {
  pid_t member, g = start_group(1, &member);
  long long started = qf_exec_start_time(g);
  int killed = 1;
  qf_error_t err;
  cr_assert_eq(qf_exec_kill_leftover(g, NULL, "elsewhere/boot", started, 1000,
                                     &killed, &err),
               0);
  cr_expect_eq(killed, 0);
  cr_expect(qf_test_pid_runs(member));
  kill(-g, SIGKILL);
  waitpid(g, NULL, 0);
}

Test(exec_leftover, leaves_a_reused_pid_alone) {
  pid_t member, g = start_group(1, &member);
  char host[512];
  here(host, sizeof host);
  int killed = 1;
  qf_error_t err;
  /* The recorded leader started at another time: this PID is not it. */
  cr_assert_eq(qf_exec_kill_leftover(g, NULL, host, qf_exec_start_time(g) - 1,
                                     1000, &killed, &err),
               0);
  cr_expect_eq(killed, 0);
  cr_expect(qf_test_pid_runs(g) && qf_test_pid_runs(member));
  kill(-g, SIGKILL);
  waitpid(g, NULL, 0);
}

Test(exec_leftover, reads_start_times_and_host_ids) {
  cr_expect_gt(qf_exec_start_time(getpid()), 0);
  cr_expect_eq(qf_exec_start_time(0), -1);
  cr_expect_eq(qf_exec_start_time(0x3fffffff), -1);
  char host[512];
  here(host, sizeof host);
  cr_expect(strchr(host, '/') != NULL, "%s", host);
}

/* ------------------------------------------------------------- cgroups */

/* The cgroup parent the worker would use here, or NULL (and why). */
static const char *cgroup_parent(char *buf, size_t n, qf_error_t *err) {
  if (qf_exec_cgroup_default(buf, n, err) < 0) return NULL;
  if (qf_exec_cgroup_probe(buf, err) < 0) return NULL;
  return buf;
}

static char started_cgroup[1024];
static void on_start(int pgid, const char *cgroup, void *ctx) {
  (void)pgid;
  (void)ctx;
  snprintf(started_cgroup, sizeof started_cgroup, "%s", cgroup ? cgroup : "");
}

/* A tool whose child leaves the process group (setsid) and writes its PID
 * to pidfile. */
static qf_exec_opts_t escaping_tool(const char *pidfile, const char *parent) {
  static char script[512];
  snprintf(script, sizeof script, "setsid sleep 303 & echo $! > %s; sleep 0.3",
           pidfile);
  static const char *argv[4];
  argv[0] = "/bin/sh", argv[1] = "-c", argv[2] = script, argv[3] = NULL;
  return (qf_exec_opts_t){.argv = argv,
                          .stdout_path = "/dev/null",
                          .stderr_path = "/dev/null",
                          .timeout_ms = 10000,
                          .cgroup_parent = parent,
                          .on_start = on_start};
}

static long pid_in(const char *path) {
  long pid = 0;
  for (int i = 0; i < 100 && pid == 0; i++) {
    FILE *f = fopen(path, "r");
    if (f) {
      if (fscanf(f, "%ld", &pid) != 1) pid = 0;
      fclose(f);
    }
    if (pid == 0) nanosleep(&(struct timespec){0, 20000000}, NULL);
  }
  return pid;
}

Test(exec_leftover, a_cgroup_holds_what_leaves_the_process_group) {
  char buf[1024], pidfile[64];
  qf_error_t err;
  const char *parent = cgroup_parent(buf, sizeof buf, &err);
  snprintf(pidfile, sizeof pidfile, "/tmp/qf-escape-%ld.pid", (long)getpid());
  unlink(pidfile);
  qf_exec_opts_t o = escaping_tool(pidfile, parent);
  qf_exec_result_t res;
  cr_assert_eq(qf_exec_run(&o, NULL, NULL, 50, &res, &err), 0, "%s",
               err.message);
  long escapee = pid_in(pidfile);
  unlink(pidfile);
  cr_assert_gt(escapee, 0);
  if (parent == NULL) {
    /* No cgroup here: the documented limit of a process group. */
    cr_expect_str_eq(started_cgroup, "");
    cr_expect(qf_test_pid_runs((long)escapee),
              "setsid escapes a process group");
    cr_log_warn("no cgroup v2 to delegate here (%s): fallback checked",
                err.message);
    kill((pid_t)escapee, SIGKILL);
    return;
  }
  cr_expect_neq(started_cgroup[0], '\0', "the tool had a cgroup");
  cr_expect_not(qf_test_pid_runs((long)escapee),
                "the cgroup took the escapee too");
  struct stat st;
  cr_expect_neq(stat(started_cgroup, &st), 0, "its cgroup was removed");
}

Test(exec_leftover, kills_a_dead_runners_cgroup) {
  char buf[1024], pidfile[64];
  qf_error_t err;
  const char *parent = cgroup_parent(buf, sizeof buf, &err);
  char cgfile[80];
  snprintf(pidfile, sizeof pidfile, "/tmp/qf-dead-%ld.pid", (long)getpid());
  snprintf(cgfile, sizeof cgfile, "%s.cg", pidfile);
  unlink(pidfile);
  pid_t runner = fork();
  if (runner == 0) { /* a runner that dies without cleaning up */
    qf_exec_opts_t o = escaping_tool(pidfile, parent);
    qf_exec_t *x = NULL;
    if (qf_exec_start(&o, &x, NULL) < 0 || pid_in(pidfile) <= 0) _exit(1);
    FILE *f = fopen(cgfile, "w");
    if (f == NULL || fputs(started_cgroup, f) < 0 || fclose(f) != 0) _exit(1);
    _exit(2);
  }
  int st;
  cr_assert_eq(waitpid(runner, &st, 0), runner);
  cr_assert_eq(WEXITSTATUS(st), 2);
  long escapee = pid_in(pidfile);
  unlink(pidfile);
  cr_assert_gt(escapee, 0);
  cr_assert(qf_test_pid_runs((long)escapee), "the escapee outlived its runner");
  if (parent == NULL) {
    cr_log_warn("no cgroup v2 here (%s): only the process group applies",
                err.message);
    kill((pid_t)escapee, SIGKILL);
    return;
  }
  char cg[1100] = "", host[512];
  FILE *f = fopen(cgfile, "r");
  cr_assert_not_null(f);
  cr_assert_not_null(fgets(cg, sizeof cg, f));
  fclose(f);
  unlink(cgfile);
  cr_assert_neq(cg[0], '\0', "the runner's tool had a cgroup");
  here(host, sizeof host);
  int killed = 0;
  cr_assert_eq(qf_exec_kill_leftover(0, cg, host, 0, 3000, &killed, &err), 0,
               "%s", err.message);
  cr_expect_eq(killed, 1);
  cr_expect_not(qf_test_pid_runs((long)escapee));
  struct stat sb;
  cr_expect_neq(stat(cg, &sb), 0, "the dead runner's cgroup was removed");
}
