#define _GNU_SOURCE /* asprintf */
/* The change under test (DESIGN 4a) through real workers: requests name
 * a commit or a ref of a real repository (made by tests/make_repo.sh,
 * reached by path and file:// URL); each run tests its own commit, in a
 * worktree of its own that goes when the run ends, or when a worker
 * starts after one was killed; the policy decides which repositories may
 * be fetched; and fetch credentials never reach a tool or a log. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "support.h"
#include "worker_support.h"

#define TOKEN "qf-test-token-5d1f0c"

static qf_wt_t T;
static char repo[400], commit_a[41], commit_b[41], policy[400], cache[400];
static cJSON *early[16]; /* decisions that came before they were asked for */

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f, "%s", path);
  fputs(text, f);
  fclose(f);
}

static void setup(void) {
  char cmd[800], buf[8192];
  qf_wt_init(&T);
  snprintf(cmd, sizeof cmd, "sh %s/tests/make_repo.sh %s/git > %s/ids",
           QF_SOURCE_DIR, T.dir, T.dir);
  qf_wt_sh(cmd, 60);
  snprintf(cmd, sizeof cmd, "%s/ids", T.dir);
  cr_assert_eq(sscanf(qf_test_slurp(cmd, buf, sizeof buf), "%40s %40s",
                      commit_a, commit_b),
               2);
  snprintf(repo, sizeof repo, "%s/git/origin.git", T.dir);
  snprintf(cache, sizeof cache, "%s/cache", T.dir);
  /* The shipped policy, plus the test's repositories. */
  snprintf(policy, sizeof policy, "%s/policy.yaml", T.dir);
  char *base = qf_test_read_all(QF_SOURCE_DIR "/policy/default.yaml");
  const char *none = "\nsources:\n  allow: []\n";
  char *at = base ? strstr(base, none) : NULL;
  cr_assert_not_null(at, "policy/default.yaml has no sources.allow: []");
  char *text = NULL;
  cr_assert_gt(
      asprintf(&text,
               "%.*s\nsources:\n  allow:\n    - \"%s/git/*\"\n"
               "    - \"file://%s/git/*\"\n%s",
               (int)(at - base), base, T.dir, T.dir, at + strlen(none)),
      0);
  write_text(policy, text);
  free(text);
  free(base);
}

static void teardown(void) {
  for (size_t i = 0; i < sizeof early / sizeof early[0]; i++) {
    cJSON_Delete(early[i]);
    early[i] = NULL;
  }
  qf_wt_fini(&T);
}

TestSuite(worker_source, .init = setup, .fini = teardown, .timeout = 180);

static void start(int i) {
  char pol[500], cch[500];
  snprintf(pol, sizeof pol, "QF_POLICY=%s", policy);
  snprintf(cch, sizeof cch, "QF_SOURCE_CACHE=%s", cache);
  const char *env[] = {pol, cch, "QF_GIT_TOKEN=" TOKEN, NULL};
  qf_wt_start_worker(&T, i, env);
  qf_wt_wait_log(&T, i, 1, 30, "\"event\":\"worker.ready\"", NULL);
}

/* A request for tests/test_a.py at source (JSON members, without
 * braces). */
static void send(const char *id, const char *source) {
  char body[2048];
  snprintf(body, sizeof body,
           "{\"nl_input\":\"run the unit tests\",\"options\":{\"tool_name\":"
           "\"run_pytest\",\"args\":{\"test_path\":\"tests/test_a.py\"},"
           "\"timeout_s\":60},\"source\":{%s}}",
           source);
  qf_wt_publish(&T, body, strlen(body), id, id, NULL);
}

static const char *str(const cJSON *o, const char *path) {
  char key[64];
  const char *dot;
  while ((dot = strchr(path, '.')) != NULL) {
    snprintf(key, sizeof key, "%.*s", (int)(dot - path), path);
    o = cJSON_GetObjectItemCaseSensitive(o, key);
    path = dot + 1;
  }
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, path);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The decision of the run of message id (waits for it; others that come
 * first are kept for their own turn). */
static cJSON *decision_of(const char *id, int timeout_s) {
  char run[QF_UUID_STR_LEN + 1];
  qf_wt_run_id(id, run);
  for (int waited = 0; waited <= timeout_s; waited++) {
    for (size_t i = 0; i < sizeof early / sizeof early[0]; i++) {
      const char *r = early[i] ? str(early[i], "run_id") : NULL;
      if (r && strcmp(r, run) == 0) {
        cJSON *d = early[i];
        early[i] = NULL;
        return d;
      }
    }
    cJSON *d = NULL;
    while (qf_wt_decisions(&T, &d, 1, 1) == 1) {
      size_t i = 0;
      while (i < sizeof early / sizeof early[0] - 1 && early[i])
        i++;
      cJSON_Delete(early[i]); /* full: the oldest unasked one goes */
      early[i] = d;
      d = NULL;
    }
  }
  cr_assert_fail("no decision for %s\n%s", id, qf_wt_log_tail(&T, 0));
  return NULL;
}

static cJSON *evidence_of(const char *id) {
  char run[QF_UUID_STR_LEN + 1], path[600];
  qf_wt_run_id(id, run);
  snprintf(path, sizeof path, "%s/%s/evidence.json", T.arts, run);
  char *text = qf_test_read_all(path);
  cr_assert_not_null(text, "no evidence at %s", path);
  cJSON *ev = cJSON_Parse(text);
  free(text);
  cr_assert_not_null(ev);
  return ev;
}

static int entries(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  if (!d) return 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;)
    n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

static int worktrees(void) {
  char dir[500];
  snprintf(dir, sizeof dir, "%s/worktrees", cache);
  return entries(dir);
}

Test(worker_source, two_commits_of_one_repo_each_test_their_own) {
  start(0);
  start(1);
  char src_a[600], src_b[600];
  snprintf(src_a, sizeof src_a, "\"repo\":\"%s\",\"commit\":\"%s\"", repo,
           commit_a);
  snprintf(src_b, sizeof src_b, "\"repo\":\"file://%s\",\"commit\":\"%s\"",
           repo, commit_b);
  send("src-a", src_a);
  send("src-b", src_b);
  cJSON *a = decision_of("src-a", 90), *b = decision_of("src-b", 90);
  cr_expect_str_eq(str(a, "decision"), "PASS", "%s", qf_wt_log_tail(&T, 0));
  cr_expect_str_eq(str(b, "decision"), "FAIL");
  cr_expect_str_eq(str(a, "source.commit"), commit_a);
  cr_expect_str_eq(str(b, "source.commit"), commit_b);
  /* B's decision names what failed, where and why. */
  const cJSON *f =
      cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(b, "failures"), 0);
  cr_assert_not_null(f, "no failures in %s", cJSON_PrintUnformatted(b));
  cr_expect_str_eq(str(f, "name"), "test_a");
  cr_expect_str_eq(str(f, "file"), "tests/test_a.py");
  cr_expect_eq(cJSON_GetObjectItemCaseSensitive(f, "line")->valueint, 2);
  cr_expect(strstr(str(f, "message"), "B breaks it") != NULL);
  cJSON *ea = evidence_of("src-a"), *eb = evidence_of("src-b");
  cr_expect_str_eq(str(ea, "repro.git_sha"), commit_a);
  cr_expect_str_eq(str(eb, "repro.git_sha"), commit_b);
  cr_expect_str_eq(str(eb, "source.kind"), "git");
  cr_expect_str_eq(
      str(eb, "failures.0.name") ? str(eb, "failures.0.name") : "test_a",
      "test_a");
  cr_expect_eq(worktrees(), 0, "worktrees are left after the runs");
  /* libgit2 is loaded by the first run with a source (git_dl.c). */
  cr_expect_eq(qf_test_maps(T.workers[0].pid, "libgit2") +
                   qf_test_maps(T.workers[1].pid, "libgit2"),
               2, "each worker that checked out maps libgit2");
  cJSON_Delete(a), cJSON_Delete(b), cJSON_Delete(ea), cJSON_Delete(eb);
}

Test(worker_source, a_ref_is_resolved_and_recorded) {
  start(0);
  char src[600];
  snprintf(src, sizeof src, "\"repo\":\"%s\",\"ref\":\"main\"", repo);
  send("src-ref", src);
  cJSON *d = decision_of("src-ref", 90);
  cr_expect_str_eq(str(d, "source.commit"), commit_b);
  cr_expect_str_eq(str(d, "source.ref"), "main");
  cr_expect_str_eq(str(d, "decision"), "FAIL");
  cJSON_Delete(d);
}

Test(worker_source, a_repository_outside_the_policy_is_never_fetched) {
  start(0);
  send("src-denied",
       "\"repo\":\"https://example.invalid/other/repo.git\",\"ref\":\"main\"");
  /* Refused: the answer goes to the submitter (none here) and stays in
   * PostgreSQL. */
  char run[QF_UUID_STR_LEN + 1], sql[300];
  qf_wt_run_id("src-denied", run);
  snprintf(sql, sizeof sql,
           "SELECT decision || ' ' || decided_by || ' ' || "
           "(decision_message->>'reason') FROM runs WHERE run_id = '%s' "
           "AND status = 'decided'",
           run);
  const char *row = "";
  for (int i = 0; i < 300 && !row[0]; i++, qf_test_sleep_ms(100))
    row = qf_wt_query(&T, sql);
  cr_expect(strncmp(row, "FAIL refused ", 13) == 0, "%s", row);
  cr_expect(strstr(row, "sources.allow") != NULL, "%s", row);
  char mirrors[500];
  snprintf(mirrors, sizeof mirrors, "%s/mirrors", cache);
  cr_expect_eq(entries(mirrors), 0, "something was fetched");
}

/* libgit2 is loaded for the first source: one that cannot be loaded fails
 * the run by error, naming the library, and the worker goes on. */
Test(worker_source, a_libgit2_that_cannot_load_fails_the_run_by_error) {
  char pol[500], cch[500];
  snprintf(pol, sizeof pol, "QF_POLICY=%s", policy);
  snprintf(cch, sizeof cch, "QF_SOURCE_CACHE=%s", cache);
  const char *env[] = {pol, cch, "QF_LIBGIT2=/nonexistent/libgit2-qf.so", NULL};
  qf_wt_start_worker(&T, 0, env);
  qf_wt_wait_log(&T, 0, 1, 30, "\"event\":\"worker.ready\"", NULL);
  char src[600];
  snprintf(src, sizeof src, "\"repo\":\"%s\",\"commit\":\"%s\"", repo,
           commit_a);
  send("src-nolib", src);
  cJSON *d = decision_of("src-nolib", 60);
  cr_expect_str_eq(str(d, "decision"), "FAIL");
  cr_expect_str_eq(str(d, "decided_by"), "error");
  cr_expect(strstr(str(d, "reason"),
                   "cannot load /nonexistent/libgit2-qf.so") != NULL,
            "%s", str(d, "reason"));
  cJSON_Delete(d);
  send("src-nolib-2", src); /* the worker is still up, and says it again */
  d = decision_of("src-nolib-2", 60);
  cr_expect_str_eq(str(d, "decided_by"), "error");
  cJSON_Delete(d);
}

Test(worker_source, a_commit_the_repository_lacks_fails_by_error) {
  start(0);
  char src[600];
  snprintf(src, sizeof src, "\"repo\":\"%s\",\"commit\":\"%s\"", repo,
           "1111111111111111111111111111111111111111");
  send("src-bad", src);
  cJSON *d = decision_of("src-bad", 60);
  cr_expect_str_eq(str(d, "decision"), "FAIL");
  cr_expect_str_eq(str(d, "decided_by"), "error");
  cr_expect(strstr(str(d, "reason"), "has no commit 1111111") != NULL, "%s",
            str(d, "reason"));
  cJSON_Delete(d);
}

Test(worker_source, a_fetch_that_keeps_failing_ends_by_error) {
  start(0);
  char src[600];
  snprintf(src, sizeof src, "\"repo\":\"%s/git/gone.git\",\"ref\":\"main\"",
           T.dir);
  send("src-gone", src);
  cJSON *d = decision_of("src-gone", 90);
  cr_expect_str_eq(str(d, "decision"), "FAIL");
  cr_expect_str_eq(str(d, "decided_by"), "error");
  cr_expect(strstr(str(d, "reason"), "fetching") != NULL, "%s",
            str(d, "reason"));
  cr_expect(strstr(str(d, "reason"), "last delivery") != NULL, "%s",
            str(d, "reason"));
  /* Tried on every delivery the queue allows, then ended. */
  cr_expect_eq(qf_wt_count_log(&T, 0, "\"event\":\"delivery.retry\"", NULL), 3,
               "%s", qf_wt_log_tail(&T, 0));
  cJSON_Delete(d);
}

/* A test that reports what it can see: its environment, and the
 * worker's through /proc. */
static void push_spy_commit(char *sha) {
  char cmd[3000], buf[64];
  snprintf(
      cmd, sizeof cmd,
      "cd %s/git/work && mkdir -p tests && cat > tests/test_spy.py <<'PY'\n"
      "import os\n"
      "def test_spy():\n"
      "    out = os.environ['QF_ARTIFACT_DIR']\n"
      "    open(out + '/env.txt', 'w').write(repr(dict(os.environ)))\n"
      "    try:\n"
      "        parent = open('/proc/%%d/environ' %% os.getppid()).read()\n"
      "    except OSError as e:\n"
      "        parent = 'unreadable: %%s' %% e\n"
      "    open(out + '/parent.txt', 'w').write(parent)\n"
      "PY\n"
      "HOME=%s git -c user.name=qf -c user.email=q@e.invalid add -A && "
      "HOME=%s git -c user.name=qf -c user.email=q@e.invalid commit -qm "
      "spy && git push -q %s HEAD:refs/heads/spy && git rev-parse HEAD "
      "> %s/spy",
      T.dir, T.dir, T.dir, repo, T.dir);
  qf_wt_sh(cmd, 30);
  snprintf(cmd, sizeof cmd, "%s/spy", T.dir);
  sscanf(qf_test_slurp(cmd, buf, sizeof buf), "%40s", sha);
}

Test(worker_source, credentials_reach_neither_the_tool_nor_the_log) {
  char sha[41], body[2048], path[700];
  push_spy_commit(sha);
  start(0);
  snprintf(body, sizeof body,
           "{\"nl_input\":\"run the unit tests\",\"options\":{\"tool_name\":"
           "\"run_pytest\",\"args\":{\"test_path\":\"tests/test_spy.py\"}},"
           "\"source\":{\"repo\":\"%s\",\"ref\":\"spy\"}}",
           repo);
  qf_wt_publish(&T, body, strlen(body), "src-spy", "src-spy", NULL);
  cJSON *d = decision_of("src-spy", 90);
  cr_expect_str_eq(str(d, "decision"), "PASS", "%s", qf_wt_log_tail(&T, 0));
  char run[QF_UUID_STR_LEN + 1];
  qf_wt_run_id("src-spy", run);
  /* Its own environment has none of the worker's settings; the worker's
   * (through /proc) is unreadable, or at least wiped of the secret. */
  snprintf(path, sizeof path, "%s/%s/tools/run_pytest/env.txt", T.arts, run);
  char *env = qf_test_read_all(path);
  cr_assert_not_null(env, "the spy wrote nothing at %s", path);
  cr_expect(strstr(env, TOKEN) == NULL, "the tool saw the token: %s", env);
  cr_expect(strstr(env, "QF_GIT") == NULL && strstr(env, "QF_DATABASE") == NULL,
            "the tool saw the worker's settings: %s", env);
  snprintf(path, sizeof path, "%s/%s/tools/run_pytest/parent.txt", T.arts, run);
  char *parent = qf_test_read_all(path);
  cr_assert_not_null(parent, "no %s", path);
  cr_expect(strstr(parent, TOKEN) == NULL,
            "the token is in the worker's environment block");
  char *log = qf_test_read_all(T.workers[0].log);
  cr_expect(strstr(log, TOKEN) == NULL, "the log shows the token");
  free(env), free(parent), free(log);
  cJSON_Delete(d);
}

/* The one worktree directory there is (name into out), waiting for it. */
static void wait_worktree(char *out, size_t n) {
  char dir[500];
  snprintf(dir, sizeof dir, "%s/worktrees", cache);
  for (int i = 0; i < 600; i++) {
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
      size_t len = strlen(e->d_name);
      if (e->d_name[0] != '.' &&
          (len < 5 || strcmp(e->d_name + len - 5, ".lock") != 0)) {
        int w = snprintf(out, n, "%s/%s", dir, e->d_name);
        closedir(d);
        cr_assert(w > 0 && (size_t)w < n, "worktree path too long");
        return;
      }
    }
    if (d) closedir(d);
    qf_test_sleep_ms(100);
  }
  cr_assert_fail("no worktree appeared\n%s", qf_wt_log_tail(&T, 0));
}

Test(worker_source, a_worktree_left_by_a_killed_worker_goes_at_the_next_start) {
  char cmd[1500], body[2048], tree[700];
  snprintf(cmd, sizeof cmd,
           "cd %s/git/work && printf 'import time\\ndef test_slow():\\n"
           "    time.sleep(30)\\n' > tests/test_slow.py && "
           "HOME=%s git -c user.name=qf -c user.email=q@e.invalid add -A && "
           "HOME=%s git -c user.name=qf -c user.email=q@e.invalid commit -qm "
           "slow && git push -q %s HEAD:refs/heads/slow",
           T.dir, T.dir, T.dir, repo);
  qf_wt_sh(cmd, 30);
  start(0);
  snprintf(body, sizeof body,
           "{\"nl_input\":\"run the unit tests\",\"options\":{\"tool_name\":"
           "\"run_pytest\",\"args\":{\"test_path\":\"tests/test_slow.py\"}},"
           "\"source\":{\"repo\":\"%s\",\"ref\":\"slow\"}}",
           repo);
  qf_wt_publish(&T, body, strlen(body), "src-slow", "src-slow", NULL);
  wait_worktree(tree, sizeof tree);
  qf_wt_stop_worker(&T, 0, SIGKILL, 5);
  qf_wt_kill_leftover_tools(&T);
  struct stat st;
  cr_assert_eq(stat(tree, &st), 0, "the killed worker's worktree went early");
  start(1);
  qf_wt_wait_log(&T, 1, 1, 30, "\"event\":\"source.swept\"", NULL);
  cr_expect_lt(stat(tree, &st), 0, "%s is still there", tree);
}
