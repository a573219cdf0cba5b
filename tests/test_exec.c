/* The process runner: exit codes, logs and their cap, timeouts and cancel
 * that leave no process of the group behind, start failures, the
 * environment, resource limits, the working directory, ticks and the
 * pollable descriptor. Real child processes, short timeouts. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "qf/exec.h"
#include "qf/policy.h"
#include "support.h"

static char dir[64], out_path[128], err_path[128], pid_path[128];

static void setup(void) {
  snprintf(dir, sizeof dir, "%s", qf_test_tmpdir());
  snprintf(out_path, sizeof out_path, "%s/stdout.log", dir);
  snprintf(err_path, sizeof err_path, "%s/stderr.log", dir);
  snprintf(pid_path, sizeof pid_path, "%s/pid", dir);
}

TestSuite(exec, .init = setup);

static const char *const base_env[] = {"PATH=/usr/bin:/bin", NULL};

static qf_exec_opts_t opts(const char *const *argv) {
  return (qf_exec_opts_t){.argv = argv,
                          .env = base_env,
                          .stdout_path = out_path,
                          .stderr_path = err_path,
                          .timeout_ms = 10000};
}

static void run_ok(const qf_exec_opts_t *o, qf_exec_result_t *r) {
  qf_error_t err = {0};
  memset(r, 0, sizeof *r);
  cr_assert_eq(qf_exec_run(o, NULL, NULL, 100, r, &err), 0, "%s", err.message);
}

static long long file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static long long mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Processes whose process group is pgid, from /proc/<pid>/stat. */
static int group_members(pid_t pgid) {
  DIR *d = opendir("/proc");
  struct dirent *e;
  int n = 0;
  cr_assert_not_null(d);
  while ((e = readdir(d)) != NULL) {
    char path[300], buf[1024];
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    FILE *f = fopen(path, "r");
    if (f == NULL) continue;
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    /* pid (comm) state ppid pgrp ...: comm may hold spaces, so start
     * after its closing parenthesis. */
    char *p = strrchr(buf, ')');
    int ppid, pgrp;
    char state;
    if (p && sscanf(p + 1, " %c %d %d", &state, &ppid, &pgrp) == 3 &&
        pgrp == pgid)
      n++;
  }
  closedir(d);
  return n;
}

static void assert_group_gone(pid_t pgid) {
  cr_assert_gt(pgid, 1);
  errno = 0;
  cr_expect_eq(kill(-pgid, 0), -1, "group %d still exists", (int)pgid);
  cr_expect_eq(errno, ESRCH);
  cr_expect_eq(group_members(pgid), 0, "processes of group %d remain",
               (int)pgid);
}

static pid_t read_pid(void) {
  char buf[64];
  return (pid_t)atoi(qf_test_slurp(pid_path, buf, sizeof buf));
}

Test(exec, reports_exit_codes) {
  const char *const a0[] = {"/bin/true", NULL};
  const char *const a3[] = {"/bin/sh", "-c", "exit 3", NULL};
  qf_exec_opts_t o = opts(a0);
  qf_exec_result_t r;
  run_ok(&o, &r);
  cr_expect(r.exited && r.exit_code == 0 && !r.timed_out && !r.start_failed);
  o.argv = a3;
  run_ok(&o, &r);
  cr_expect(r.exited);
  cr_expect_eq(r.exit_code, 3);
}

Test(exec, reports_death_by_signal) {
  const char *const a[] = {"/bin/sh", "-c", "kill -SEGV $$", NULL};
  qf_exec_opts_t o = opts(a);
  qf_exec_result_t r;
  run_ok(&o, &r);
  cr_expect_eq(r.exited, 0);
  cr_expect_eq(r.term_signal, SIGSEGV);
  cr_expect_eq(r.timed_out, 0);
}

Test(exec, writes_stdout_and_stderr_to_their_logs) {
  const char *const a[] = {"/bin/sh", "-c", "echo out; echo err >&2; cat",
                           NULL};
  qf_exec_opts_t o = opts(a);
  qf_exec_result_t r;
  char buf[256];
  run_ok(&o, &r);
  cr_expect_str_eq(qf_test_slurp(out_path, buf, sizeof buf),
                   "out\n"); /* stdin: */
  cr_expect_str_eq(qf_test_slurp(err_path, buf, sizeof buf),
                   "err\n"); /* null */
  cr_expect_eq(r.stdout_bytes, 4);
  cr_expect_eq(r.stderr_bytes, 4);
  cr_expect_eq(r.stdout_truncated + r.stderr_truncated, 0);
}

static long vm_hwm_kb(void) {
  char buf[4096];
  const char *p =
      strstr(qf_test_slurp("/proc/self/status", buf, sizeof buf), "VmHWM:");
  return p ? atol(p + 6) : -1;
}

Test(exec, caps_a_flood_of_output_and_marks_the_truncation) {
  const char *const a[] = {"head", "-c", "104857600", "/dev/zero", NULL};
  qf_exec_opts_t o = opts(a);
  qf_exec_result_t r;
  o.max_output_bytes = 1 << 20;
  long before = vm_hwm_kb();
  run_ok(&o, &r);
  long after = vm_hwm_kb();
  fprintf(stderr, "exec flood: 100 MiB in %lld ms, VmHWM %ld -> %ld kB\n",
          r.duration_ms, before, after);
  cr_expect(r.exited && r.exit_code == 0);
  cr_expect_eq(r.stdout_bytes, 104857600ull);
  cr_expect(r.stdout_truncated);
  cr_expect_not(r.stderr_truncated);
  const char *marker = "\n[qf: output truncated after 1048576 bytes]\n";
  cr_expect_eq(file_size(out_path), (1 << 20) + (long long)strlen(marker));
  FILE *f = fopen(out_path, "rb");
  char tail[128] = {0};
  fseek(f, -(long)strlen(marker), SEEK_END);
  cr_expect_eq(fread(tail, 1, strlen(marker), f), strlen(marker));
  fclose(f);
  cr_expect_str_eq(tail, marker);
  cr_expect_lt(after - before, 16 * 1024, "the parent grew by %ld kB",
               after - before);
}

Test(exec, timeout_kills_the_whole_group_including_grandchildren) {
  char script[256];
  snprintf(script, sizeof script, "echo $$ > %s; sleep 300 & sleep 300",
           pid_path);
  const char *const a[] = {"/bin/sh", "-c", script, NULL};
  qf_exec_opts_t o = opts(a);
  qf_exec_result_t r;
  o.timeout_ms = 1000;
  o.grace_ms = 1000;
  run_ok(&o, &r);
  cr_expect(r.timed_out);
  cr_expect_not(r.canceled);
  cr_expect_eq(r.exited, 0);
  cr_expect_eq(r.term_signal, SIGTERM);
  cr_expect_geq(r.duration_ms, 1000);
  cr_expect_lt(r.duration_ms, 1900, "took %lld ms", r.duration_ms);
  assert_group_gone(read_pid());
}

Test(exec, a_child_that_ignores_sigterm_gets_sigkill_after_the_grace) {
  char script[256];
  snprintf(script, sizeof script,
           "trap '' TERM; echo $$ > %s; sleep 300 & sleep 300", pid_path);
  const char *const a[] = {"/bin/sh", "-c", script, NULL};
  qf_exec_opts_t o = opts(a);
  qf_exec_result_t r;
  o.timeout_ms = 500;
  o.grace_ms = 700;
  run_ok(&o, &r);
  cr_expect(r.timed_out);
  cr_expect_eq(r.term_signal, SIGKILL);
  cr_expect_geq(r.duration_ms, 1200);
  cr_expect_lt(r.duration_ms, 2500, "took %lld ms", r.duration_ms);
  assert_group_gone(read_pid());
}

Test(exec, leftover_background_processes_are_killed_when_the_leader_exits) {
  char script[256];
  snprintf(script, sizeof script, "echo $$ > %s; sleep 300 & exit 0", pid_path);
  const char *const a[] = {"/bin/sh", "-c", script, NULL};
  qf_exec_opts_t o = opts(a);
  qf_exec_result_t r;
  run_ok(&o, &r);
  cr_expect(r.exited && r.exit_code == 0 && !r.timed_out);
  cr_expect_lt(r.duration_ms, 1000, "took %lld ms", r.duration_ms);
  assert_group_gone(read_pid());
}

static int cancel_after_three(void *ctx) {
  return ++*(int *)ctx >= 3;
}

Test(exec, tick_can_cancel_the_child) {
  char script[256];
  snprintf(script, sizeof script, "echo $$ > %s; sleep 300 & sleep 300",
           pid_path);
  const char *const a[] = {"/bin/sh", "-c", script, NULL};
  qf_exec_opts_t o = opts(a);
  qf_exec_result_t r = {0};
  qf_error_t err;
  int ticks = 0;
  cr_assert_eq(qf_exec_run(&o, cancel_after_three, &ticks, 100, &r, &err), 0);
  cr_expect(r.canceled);
  cr_expect_not(r.timed_out);
  cr_expect_eq(r.term_signal, SIGTERM);
  cr_expect_eq(ticks, 3);
  cr_expect_lt(r.duration_ms, 1500);
  assert_group_gone(read_pid());
}

Test(exec, free_kills_a_running_child_and_its_group) {
  char script[256];
  snprintf(script, sizeof script, "echo $$ > %s; sleep 300 & sleep 300",
           pid_path);
  const char *const a[] = {"/bin/sh", "-c", script, NULL};
  qf_exec_opts_t o = opts(a);
  qf_exec_t *x = NULL;
  qf_error_t err;
  cr_assert_eq(qf_exec_start(&o, &x, &err), 0, "%s", err.message);
  while (file_size(pid_path) <= 0)
    usleep(10000);
  usleep(50000); /* let the background sleep start */
  pid_t pgid = read_pid();
  cr_expect_geq(group_members(pgid), 2);
  qf_exec_free(x);
  assert_group_gone(pgid);
}

Test(exec, a_program_that_cannot_run_is_a_start_failure) {
  const char *const a1[] = {"/nonexistent/qf-prog", NULL};
  const char *const a2[] = {"qf-no-such-program", NULL};
  char plain[128];
  snprintf(plain, sizeof plain, "%s/not-executable", dir);
  fclose(fopen(plain, "w"));
  const char *const a3[] = {plain, NULL};
  qf_exec_opts_t o = opts(a1);
  qf_exec_result_t r;
  run_ok(&o, &r);
  cr_expect(r.start_failed);
  cr_expect_eq(r.start_errno, ENOENT);
  cr_expect_eq(r.exited, 0);
  o.argv = a2;
  run_ok(&o, &r);
  cr_expect(r.start_failed);
  cr_expect_eq(r.start_errno, ENOENT);
  o.argv = a3;
  run_ok(&o, &r);
  cr_expect(r.start_failed);
  cr_expect_eq(r.start_errno, EACCES);
  o.argv = a1;
  o.cwd = "/nonexistent-dir";
  run_ok(&o, &r);
  cr_expect(r.start_failed);
  cr_expect_eq(r.start_errno, ENOENT);
}

Test(exec, bad_options_and_unwritable_logs_are_errors) {
  const char *const a[] = {"/bin/true", NULL};
  qf_exec_opts_t o = opts(a);
  qf_exec_result_t r;
  qf_error_t err;
  o.timeout_ms = 0;
  cr_expect_eq(qf_exec_run(&o, NULL, NULL, 100, &r, &err), QF_EINVAL);
  o = opts(a);
  o.stdout_path = "/nonexistent-dir/out.log";
  cr_expect_eq(qf_exec_run(&o, NULL, NULL, 100, &r, &err), QF_EIO);
  cr_expect(strstr(err.message, "/nonexistent-dir/out.log") != NULL);
}

Test(exec, env_build_keeps_whitelisted_names_and_extra_overrides) {
  char **env = NULL;
  qf_error_t err;
  setenv("EXECTEST_A", "a", 1);
  setenv("EXECTEST_B", "b", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "hunter2", 1);
  setenv("exectest_lower", "x", 1);
  const char *const pat[] = {"EXECTEST_*", "NOPE"};
  const char *const extra[] = {"EXECTEST_B=override", "EXTRA=1", NULL};
  cr_assert_eq(qf_exec_env_build(pat, 2, extra, &env, &err), 0);
  const char *const argv[] = {"env", NULL}; /* found through the default */
  qf_exec_opts_t o = opts(argv);            /* PATH: env has none */
  o.env = (const char *const *)env;
  qf_exec_result_t r;
  char buf[1024];
  run_ok(&o, &r);
  qf_exec_env_free(env);
  cr_expect(r.exited && r.exit_code == 0, "start_errno %d", r.start_errno);
  cr_expect_str_eq(qf_test_slurp(out_path, buf, sizeof buf),
                   "EXECTEST_A=a\nEXECTEST_B=override\nEXTRA=1\n");
  const char *const bad[] = {"NOEQUALS", NULL};
  cr_expect_eq(qf_exec_env_build(pat, 2, bad, &env, &err), QF_EINVAL);
}

/* Runs env with the environment built from patterns and extra; returns
 * what it printed (buf). */
static const char *env_of(const char *const *pat, size_t n,
                          const char *const *extra, char *buf, size_t len) {
  char **env = NULL;
  qf_error_t err;
  cr_assert_eq(qf_exec_env_build(pat, n, extra, &env, &err), 0);
  const char *const argv[] = {"env", NULL};
  qf_exec_opts_t o = opts(argv);
  o.env = (const char *const *)env;
  qf_exec_result_t r;
  run_ok(&o, &r);
  qf_exec_env_free(env);
  return qf_test_slurp(out_path, buf, len);
}

Test(exec, the_workers_settings_and_credentials_never_reach_the_child) {
  setenv("QF_DATABASE_URL", "postgresql://qf:hunter2@db/qf", 1);
  setenv("QF_AMQP_URL", "amqp://qf:hunter2@mq/", 1);
  setenv("PGPASSWORD", "hunter2", 1);
  setenv("GITHUB_TOKEN", "ghp_hunter2", 1);
  setenv("GITHUB_SHA", "abc123", 1);
  setenv("MY_API_KEY", "hunter2", 1);
  /* Even a pattern that would let everything through (a policy refuses
   * it; the runner does not rely on that). */
  const char *const all[] = {"*"};
  const char *const extra[] = {"QF_ARTIFACT_DIR=/tmp/x", NULL};
  char buf[65536];
  const char *out = env_of(all, 1, extra, buf, sizeof buf);
  cr_expect_null(strstr(out, "hunter2"), "a secret reached the child:\n%s",
                 out);
  cr_expect_not_null(strstr(out, "GITHUB_SHA=abc123\n"), "%s", out);
  cr_expect_not_null(strstr(out, "QF_ARTIFACT_DIR=/tmp/x\n"),
                     "what the runner sets itself is passed: %s", out);
  const char *const gh[] = {"GITHUB_*"};
  out = env_of(gh, 1, NULL, buf, sizeof buf);
  cr_expect_str_eq(out, "GITHUB_SHA=abc123\n");
  cr_expect(qf_policy_env_is_secret("qf_database_url"), "case-insensitive");
  cr_expect_not(qf_policy_env_is_secret("PATH"));
}

Test(exec, a_null_env_is_empty) {
  const char *const argv[] = {"/usr/bin/env", NULL};
  qf_exec_opts_t o = opts(argv);
  qf_exec_result_t r;
  o.env = NULL;
  run_ok(&o, &r);
  cr_expect(r.exited && r.exit_code == 0);
  cr_expect_eq(file_size(out_path), 0);
}

Test(exec, address_space_limit_makes_a_big_allocation_fail) {
  const char *const a[] = {"/usr/bin/python3", "-c",
                           "bytearray(1 << 30); print('allocated')", NULL};
  qf_exec_opts_t o = opts(a);
  qf_exec_result_t r;
  char buf[4096];
  o.memory_limit_mb = 256;
  run_ok(&o, &r);
  cr_expect(r.exited);
  cr_expect_eq(r.exit_code, 1);
  cr_expect(
      strstr(qf_test_slurp(err_path, buf, sizeof buf), "MemoryError") != NULL,
      "%s", buf);
}

Test(exec, file_size_limit_stops_a_big_write) {
  char of[160];
  snprintf(of, sizeof of, "of=%s/big", dir);
  const char *const a[] = {"dd",       "if=/dev/zero", of,
                           "bs=65536", "count=160",    NULL};
  qf_exec_opts_t o = opts(a);
  qf_exec_result_t r;
  o.max_file_bytes = 1 << 20;
  run_ok(&o, &r);
  cr_expect_not(r.exited && r.exit_code == 0);
  cr_expect_eq(r.term_signal, SIGXFSZ);
  char big[192];
  snprintf(big, sizeof big, "%s/big", dir);
  cr_expect_eq(file_size(big), 1 << 20);
}

Test(exec, other_limits_are_set_in_the_child) {
  const char *const a[] = {"/bin/sh", "-c",
                           "ulimit -n; ulimit -p; ulimit -t; ulimit -v", NULL};
  qf_exec_opts_t o = opts(a);
  qf_exec_result_t r;
  char buf[256];
  o.max_open_files = 64;
  o.max_processes = 500;
  o.cpu_limit_s = 30;
  o.memory_limit_mb = 300;
  run_ok(&o, &r);
  cr_expect_str_eq(qf_test_slurp(out_path, buf, sizeof buf),
                   "64\n500\n30\n307200\n");
}

Test(exec, the_child_gets_no_descriptor_of_ours) {
  int leak = open("/dev/null", O_RDONLY); /* deliberately not CLOEXEC */
  cr_assert_geq(leak, 3);
  const char *const a[] = {"/bin/sh", "-c", "ls /proc/$$/fd", NULL};
  qf_exec_opts_t o = opts(a);
  qf_exec_result_t r;
  char buf[256];
  run_ok(&o, &r);
  close(leak);
  cr_expect_str_eq(qf_test_slurp(out_path, buf, sizeof buf), "0\n1\n2\n");
}

Test(exec, runs_in_the_given_directory) {
  const char *const a[] = {"/bin/pwd", NULL};
  qf_exec_opts_t o = opts(a);
  qf_exec_result_t r;
  char buf[256], want[128];
  o.cwd = dir;
  run_ok(&o, &r);
  snprintf(want, sizeof want, "%s\n", dir);
  cr_expect_str_eq(qf_test_slurp(out_path, buf, sizeof buf), want);
}

static int count_tick(void *ctx) {
  ++*(int *)ctx;
  return 0;
}

Test(exec, tick_is_called_repeatedly_while_the_child_runs) {
  const char *const a[] = {"sleep", "2", NULL};
  qf_exec_opts_t o = opts(a);
  qf_exec_result_t r;
  qf_error_t err;
  int ticks = 0;
  cr_assert_eq(qf_exec_run(&o, count_tick, &ticks, 100, &r, &err), 0);
  cr_expect(r.exited && r.exit_code == 0);
  cr_expect_geq(r.duration_ms, 2000);
  cr_expect_geq(ticks, 17, "%d ticks", ticks);
  cr_expect_leq(ticks, 21, "%d ticks", ticks);
}

Test(exec, the_descriptor_wakes_poll_on_output_and_exit) {
  const char *const a[] = {"/bin/sh", "-c", "sleep 0.5; echo hi; sleep 0.3",
                           NULL};
  qf_exec_opts_t o = opts(a);
  qf_exec_t *x = NULL;
  qf_exec_result_t r = {0};
  qf_error_t err;
  cr_assert_eq(qf_exec_start(&o, &x, &err), 0, "%s", err.message);
  struct pollfd p = {qf_exec_fd(x), POLLIN, 0};
  cr_assert_geq(p.fd, 0);
  cr_expect_eq(poll(&p, 1, 0), 0, "readable before anything happened");
  long long t0 = mono_ms();
  int wakeups = 0, rc;
  /* Only the descriptor wakes us (no timeout): output, then the exit. */
  while ((rc = qf_exec_poll(x, &r, &err)) == 0) {
    cr_assert_eq(poll(&p, 1, 5000), 1, "no wakeup");
    wakeups++;
  }
  cr_expect_eq(rc, 1);
  cr_expect_geq(wakeups, 2);
  cr_expect_lt(mono_ms() - t0, 2000);
  cr_expect(r.exited && r.exit_code == 0);
  qf_exec_free(x);
}

/* Whether pid is gone (or only a zombie left for its new parent). */
static int dead(pid_t pid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (f == NULL) return 1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char *close = strrchr(buf, ')');
  return close && close[1] == ' ' && (close[2] == 'Z' || close[2] == 'X');
}

Test(exec, the_child_dies_with_the_process_that_started_it) {
  char pidfile[256];
  snprintf(pidfile, sizeof pidfile, "%s/child.pid", dir);
  char script[512];
  snprintf(script, sizeof script, "echo $$ > %s; exec sleep 30", pidfile);
  pid_t worker = fork();
  cr_assert(worker >= 0);
  if (worker == 0) { /* a worker that starts a tool, then is killed */
    const char *const argv[] = {"/bin/sh", "-c", script, NULL};
    qf_exec_opts_t o = opts(argv);
    o.timeout_ms = 60000;
    qf_exec_t *x = NULL;
    if (qf_exec_start(&o, &x, NULL) < 0) _exit(1);
    for (int i = 0; i < 500 && file_size(pidfile) <= 0; i++)
      usleep(10000);
    raise(SIGKILL);
  }
  int st;
  cr_assert_eq(waitpid(worker, &st, 0), worker);
  char buf[64];
  qf_test_slurp(pidfile, buf, sizeof buf);
  pid_t tool = (pid_t)atoi(buf);
  cr_assert_gt(tool, 1, "the tool never started");
  int gone = 0;
  for (int i = 0; i < 300 && !(gone = dead(tool)); i++)
    usleep(10000);
  if (!gone) kill(tool, SIGKILL);
  cr_expect(gone, "the tool outlived its worker");
}
