/* repro.c: the repro facts of a run (git sha, branch, dirty state of the
 * workspace, qf version, platform). The repository is read in process
 * with libgit2: no git child per run (DESIGN 4b: no child process but the
 * tool). It lives beside the process runner, the part that may touch the
 * workspace's tools and repositories. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "git_dl.h"
#include "qf/repro.h"
#include "qf/version.h"

static char *dup_or_null(const char *s) {
  return s ? strdup(s) : NULL;
}

/* Whether the work tree differs from HEAD: changed, staged or untracked
 * files (not ignored ones), as `git status --porcelain` would list. */
static int is_dirty(git_repository *repo) {
  git_status_options o;
  if (GIT->status_options_init(&o, GIT_STATUS_OPTIONS_VERSION) < 0) return -1;
  o.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
  o.flags =
      GIT_STATUS_OPT_INCLUDE_UNTRACKED | GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
  git_status_list *list = NULL;
  if (GIT->status_list_new(&list, repo, &o) < 0) return -1;
  int dirty = GIT->status_list_entrycount(list) > 0;
  GIT->status_list_free(list);
  return dirty;
}

static void read_git(qf_repro_t *r, const char *workspace) {
  git_repository *repo = NULL;
  git_reference *head = NULL;
  char sha[GIT_OID_HEXSZ + 1];
  r->git_dirty = -1;
  /* Searches upwards from the workspace, as git itself does. */
  if (GIT->repository_open_ext(&repo, workspace, 0, NULL) < 0) return;
  if (GIT->repository_head(&head, repo) == 0 &&
      GIT->reference_target(head) != NULL) {
    GIT->oid_tostr(sha, sizeof sha, GIT->reference_target(head));
    r->git_sha = strdup(sha);
    /* A detached HEAD is on no branch (`git branch --show-current`
     * prints nothing). */
    r->git_branch = GIT->repository_head_detached(repo)
                        ? strdup("")
                        : dup_or_null(GIT->reference_shorthand(head));
    r->git_dirty = is_dirty(repo);
  }
  GIT->reference_free(head);
  GIT->repository_free(repo);
}

static int add_platform(qf_evidence_t *ev) {
  qf_repro_t *r = &ev->repro;
  struct utsname u;
  /* The machine does not change under a running worker: asked once (on
   * the thread that collects, as libgit2's initialisation below). */
  static char platform[160];
  if (platform[0]) {
  } else if (uname(&u) == 0) {
    snprintf(platform, sizeof platform, "%s-%s", u.sysname, u.machine);
    for (char *p = platform; *p; p++)
      if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
  } else {
    snprintf(platform, sizeof platform, "unknown");
  }
  r->version = strdup(QF_VERSION);
  r->platform = strdup(platform);
  ev->has_repro = 1;
  return r->version && r->platform ? QF_OK : QF_ENOMEM;
}

/* Whether dir or a folder above it has a .git (what libgit2's search from
 * the workspace would find): a worker whose workspaces are no repository
 * never loads libgit2 (mapped, and its CA certificates parsed at init:
 * memory and time spent for nothing). */
static int in_repository(const char *dir) {
  char path[PATH_MAX];
  struct stat st;
  size_t n = strlen(dir);
  if (dir[0] != '/' || n >= sizeof path - 6) return 1; /* libgit2 says */
  memcpy(path, dir, n + 1);
  for (;;) {
    while (n > 1 && path[n - 1] == '/')
      n--;
    memcpy(path + n, "/.git", 6);
    if (stat(path, &st) == 0) return 1;
    while (n > 0 && path[n - 1] != '/')
      n--; /* up one */
    if (n <= 1) break;
    path[n] = '\0';
  }
  return stat("/.git", &st) == 0;
}

int qf_repro_collect(qf_evidence_t *ev, const char *workspace) {
  /* libgit2 is loaded for the first workspace inside a repository; one
   * that cannot be loaded leaves the git facts unknown, as git would. */
  if (workspace && in_repository(workspace) && qf__git(NULL))
    read_git(&ev->repro, workspace);
  else
    ev->repro.git_dirty = -1;
  return add_platform(ev);
}

int qf_repro_collect_commit(qf_evidence_t *ev, const char *commit,
                            const char *ref) {
  qf_repro_t *r = &ev->repro;
  r->git_sha = dup_or_null(commit);
  r->git_branch = dup_or_null(ref);
  r->git_dirty = 0;
  if ((commit && !r->git_sha) || (ref && !r->git_branch)) return QF_ENOMEM;
  return add_platform(ev);
}
