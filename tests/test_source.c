/* The source checkout (qf/source.h) against real repositories made by
 * tests/make_repo.sh: by commit and by ref, by path and file:// URL, the
 * cache answering without the origin, clear errors for a missing commit,
 * ref or repository, and worktrees removed when freed or left by a
 * process that died. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qf/source.h"
#include "support.h"

static char base[512], origin[600], cache[600], commit_a[41], commit_b[41];

static void make_repo(void) {
  snprintf(base, sizeof base, "%s", qf_test_tmpdir());
  const char *argv[] = {"sh", QF_SOURCE_DIR "/tests/make_repo.sh", base, NULL};
  qf_test_proc_t p;
  qf_test_run(argv, NULL, 60, &p);
  cr_assert_eq(p.status, 0, "make_repo.sh: %s", p.err.data);
  cr_assert_eq(sscanf(p.out.data, "%40s %40s", commit_a, commit_b), 2);
  qf_test_proc_fini(&p);
  snprintf(origin, sizeof origin, "%s/origin.git", base);
  snprintf(cache, sizeof cache, "%s/cache", base);
}

TestSuite(source, .init = make_repo);

static qf_source_tree_t *checkout(const char *repo, const char *ref,
                                  const char *commit, const char *run) {
  qf_source_cfg_t cfg = {.cache_dir = cache};
  qf_source_tree_t *t = NULL;
  qf_error_t err;
  int rc = qf_source_checkout(&cfg, repo, ref, commit, run, &t, &err);
  cr_assert_eq(rc, 0, "checkout: %s", err.message);
  return t;
}

static void expect_file(const char *dir, const char *name, const char *want) {
  char path[1024], buf[256];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  cr_expect_str_eq(qf_test_slurp(path, buf, sizeof buf), want);
}

Test(source, a_commit_and_a_ref_check_out_what_they_name) {
  qf_source_tree_t *a = checkout(origin, NULL, commit_a, "run-a");
  qf_source_tree_t *b = checkout(origin, "main", NULL, "run-b");
  cr_expect_str_eq(a->commit, commit_a);
  cr_expect_str_eq(b->commit, commit_b);
  cr_expect_str_neq(a->dir, b->dir);
  expect_file(a->dir, "VERSION", "commit A\n");
  expect_file(b->dir, "VERSION", "commit B\n");
  qf_source_tree_t *tag = checkout(origin, "v1", NULL, "run-t");
  qf_source_tree_t *side = checkout(origin, "refs/heads/side", NULL, "run-s");
  cr_expect_str_eq(tag->commit, commit_a);
  cr_expect_str_eq(side->commit, commit_a);
  char dir[1024];
  snprintf(dir, sizeof dir, "%s", a->dir);
  qf_source_tree_free(a);
  struct stat st;
  cr_expect_lt(stat(dir, &st), 0, "the worktree %s is still there", dir);
  qf_source_tree_free(b);
  qf_source_tree_free(tag);
  qf_source_tree_free(side);
}

Test(source, file_urls_work_and_a_cached_commit_needs_no_origin) {
  char url[700], moved[700];
  snprintf(url, sizeof url, "file://%s", origin);
  qf_source_tree_free(checkout(url, NULL, commit_b, "run-1"));
  snprintf(moved, sizeof moved, "%s.gone", origin);
  cr_assert_eq(rename(origin, moved), 0);
  qf_source_tree_t *t = checkout(url, NULL, commit_b, "run-2");
  expect_file(t->dir, "tests/test_a.py",
              "def test_a():\n    assert 1 == 2, \"B breaks it\"\n");
  qf_source_tree_free(t);
}

static int fails(const char *repo, const char *ref, const char *commit,
                 qf_error_t *err) {
  qf_source_cfg_t cfg = {.cache_dir = cache};
  qf_source_tree_t *t = NULL;
  int rc = qf_source_checkout(&cfg, repo, ref, commit, "run-x", &t, err);
  cr_expect_null(t);
  return rc;
}

Test(source, missing_commits_refs_and_repositories_say_so) {
  qf_error_t err;
  const char *zero = "0123456789012345678901234567890123456789";
  cr_expect_eq(fails(origin, NULL, zero, &err), QF_ENOSOURCE);
  cr_expect(strstr(err.message, zero) != NULL, "%s", err.message);
  cr_expect_eq(fails(origin, "no-such-branch", NULL, &err), QF_ENOSOURCE);
  cr_expect(strstr(err.message, "no-such-branch") != NULL, "%s", err.message);
  char nowhere[700];
  snprintf(nowhere, sizeof nowhere, "%s/nowhere.git", base);
  cr_expect_eq(fails(nowhere, "main", NULL, &err), QF_ESOURCE);
  cr_expect(strstr(err.message, "nowhere.git") != NULL, "%s", err.message);
}

Test(source, the_sweep_removes_only_worktrees_nobody_holds) {
  qf_source_tree_t *live = checkout(origin, "main", NULL, "run-live");
  pid_t pid = fork();
  if (pid == 0) { /* a worker that dies holding a worktree */
    qf_source_cfg_t cfg = {.cache_dir = cache};
    qf_source_tree_t *t = NULL;
    qf_error_t err;
    if (qf_source_checkout(&cfg, origin, "main", NULL, "run-dead", &t, &err))
      _exit(1);
    FILE *f = fopen("/dev/null", "w");
    fprintf(f, "%s", t->dir);
    kill(getpid(), SIGKILL);
  }
  int status;
  waitpid(pid, &status, 0);
  cr_assert(WIFSIGNALED(status), "the child did not get its worktree");
  qf_error_t err;
  cr_expect_eq(qf_source_sweep(cache, &err), 1);
  struct stat st;
  cr_expect_eq(stat(live->dir, &st), 0, "a held worktree was swept");
  qf_source_tree_free(live);
  cr_expect_eq(qf_source_sweep(cache, &err), 0);
}
