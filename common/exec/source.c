/* source.c: mirrors, fetches and worktrees of the change under test
 * (source.h), with libgit2 in process. A mirror is a bare repository
 * named by the hash of its URL; fetches copy the remote's refs into it
 * as they are (+refs/heads/...:refs/heads/...), so a ref resolves in the
 * mirror as it would on the remote. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "qf/fsutil.h"
#include "qf/hash.h"
#include "qf/source.h"
#include "git_dl.h"

#define DEFAULT_TIMEOUT_S 600

typedef struct fetch_ctx {
  const qf_source_cfg_t *cfg;
  time_t deadline;
  int creds_tried; /* a second ask means the first was refused */
  int canceled, timed_out;
} fetch_ctx_t;

static int git_fail(qf_error_t *err, int code, const char *what,
                    const char *repo) {
  const git_error *e = GIT->error_last();
  return qf_error_set(err, code, "%s %s: %s", what, repo,
                      e && e->message ? e->message : "unknown libgit2 error");
}

/* libgit2, loaded (and initialised) by the first checkout; every GIT->
 * below runs after this succeeded on the same thread. */
static int ensure_git(qf_error_t *err) {
  return qf__git(err) ? QF_OK : QF_EINTERNAL;
}

/* ------------------------------------------------------------ fetching */

/* Offers the configured credential once per fetch: a refused one is not
 * offered again (libgit2 would ask forever). */
static int on_credentials(git_credential **out, const char *url,
                          const char *user_from_url, unsigned int allowed,
                          void *payload) {
  fetch_ctx_t *f = payload;
  const qf_source_cfg_t *c = f->cfg;
  (void)url;
  if (f->creds_tried++) return GIT_EAUTH;
  if ((allowed & GIT_CREDENTIAL_SSH_KEY) && c->ssh_key)
    return GIT->credential_ssh_key_new(
        out, user_from_url ? user_from_url : "git", c->ssh_pubkey, c->ssh_key,
        c->ssh_passphrase);
  if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && c->token)
    return GIT->credential_userpass_plaintext_new(
        out, c->username ? c->username : "x-access-token", c->token);
  return GIT_PASSTHROUGH;
}

/* Keeps the worker's connection served and the fetch within its time. */
static int on_progress(fetch_ctx_t *f) {
  if (f->cfg->tick && f->cfg->tick(f->cfg->tick_ctx)) return f->canceled = 1;
  if (time(NULL) > f->deadline) return f->timed_out = 1;
  return 0;
}

static int on_transfer(const git_indexer_progress *p, void *payload) {
  (void)p;
  return on_progress(payload) ? -1 : 0;
}

static int on_sideband(const char *s, int len, void *payload) {
  (void)s, (void)len;
  return on_progress(payload) ? -1 : 0;
}

static int fetch(git_repository *m, const char *repo, const char *const *specs,
                 size_t nspecs, const qf_source_cfg_t *cfg, qf_error_t *err) {
  git_remote *remote = NULL;
  git_fetch_options o;
  fetch_ctx_t f = {.cfg = cfg};
  int t = cfg->timeout_s > 0 ? cfg->timeout_s : DEFAULT_TIMEOUT_S;
  f.deadline = time(NULL) + t;
  GIT->fetch_options_init(&o, GIT_FETCH_OPTIONS_VERSION);
  o.callbacks.credentials = on_credentials;
  o.callbacks.transfer_progress = on_transfer;
  o.callbacks.sideband_progress = on_sideband;
  o.callbacks.payload = &f;
  o.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE; /* the specs say */
  git_strarray refspecs = {(char **)specs, nspecs};
  /* No url.*.insteadOf rewriting: the URL the policy allowed is the one
   * fetched (and libgit2 1.5 leaks a PCRE2 match block for every config
   * entry that lookup does not match). */
  git_remote_create_options ro;
  GIT->remote_create_options_init(&ro, GIT_REMOTE_CREATE_OPTIONS_VERSION);
  ro.repository = m;
  ro.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF |
             GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
  int rc = GIT->remote_create_with_opts(&remote, repo, &ro);
  if (rc == 0) rc = GIT->remote_fetch(remote, &refspecs, &o, NULL);
  GIT->remote_free(remote);
  if (rc == 0) return QF_OK;
  if (f.canceled) return qf_error_set(err, QF_ECANCELED, "fetch canceled");
  if (f.timed_out)
    return qf_error_set(err, QF_ESOURCE, "fetching %s took longer than %d s",
                        repo, t);
  return git_fail(err, QF_ESOURCE, "fetching", repo);
}

/* Takes the mirror's lock, serving the worker's connection while another
 * worker on the host fetches into the same mirror. */
static int wait_lock(int fd, const char *path, const qf_source_cfg_t *cfg,
                     qf_error_t *err) {
  int t = cfg->timeout_s > 0 ? cfg->timeout_s : DEFAULT_TIMEOUT_S;
  time_t deadline = time(NULL) + t;
  while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
    if (errno != EWOULDBLOCK && errno != EINTR)
      return qf_error_set(err, QF_EIO, "%s: %s", path, strerror(errno));
    if (cfg->tick && cfg->tick(cfg->tick_ctx))
      return qf_error_set(err, QF_ECANCELED, "fetch canceled");
    if (time(NULL) > deadline)
      return qf_error_set(err, QF_ESOURCE,
                          "the mirror was busy for more than %d s", t);
    usleep(100 * 1000);
  }
  return QF_OK;
}

/* The mirror for repo: <cache>/mirrors/<sha256 of the URL>.git, locked
 * (flock on <dir>.lock) until *lock_fd is closed. */
static int open_mirror(const qf_source_cfg_t *cfg, const char *repo,
                       git_repository **out, int *lock_fd, qf_error_t *err) {
  const char *cache = cfg->cache_dir;
  char hex[QF_SHA256_HEX_LEN + 1], dir[PATH_MAX], lock[PATH_MAX + 8];
  int rc = qf_sha256_hex(repo, strlen(repo), hex);
  if (rc < 0) return qf_error_set(err, rc, "hashing the repository URL");
  if (snprintf(dir, sizeof dir, "%s/mirrors/%.32s.git", cache, hex) >=
      (int)sizeof dir)
    return qf_error_set(err, QF_ETOOBIG, "QF_SOURCE_CACHE: path too long");
  snprintf(lock, sizeof lock, "%s.lock", dir);
  char parent[PATH_MAX];
  snprintf(parent, sizeof parent, "%s/mirrors", cache);
  if ((rc = qf_fs_mkdirs(parent, err)) < 0) return rc;
  *lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (*lock_fd < 0)
    return qf_error_set(err, QF_EIO, "%s: %s", lock, strerror(errno));
  if ((rc = wait_lock(*lock_fd, lock, cfg, err)) < 0) return rc;
  if (GIT->repository_open_bare(out, dir) == 0) return QF_OK;
  if (GIT->repository_init(out, dir, 1) == 0) return QF_OK;
  return git_fail(err, QF_EIO, "creating the mirror of", repo);
}

static int lookup_commit(git_repository *m, const char *hex, git_oid *oid) {
  git_commit *c = NULL;
  if (GIT->oid_fromstr(oid, hex) < 0) return 0;
  int found = GIT->commit_lookup(&c, m, oid) == 0;
  GIT->commit_free(c);
  return found;
}

static int resolve_ref(git_repository *m, const char *ref, git_oid *oid) {
  git_reference *r = NULL;
  git_object *o = NULL;
  int ok = GIT->reference_dwim(&r, m, ref) == 0 &&
           GIT->reference_peel(&o, r, GIT_OBJECT_COMMIT) == 0;
  if (ok) GIT->oid_cpy(oid, GIT->object_id(o));
  GIT->object_free(o);
  GIT->reference_free(r);
  return ok;
}

/* Branches and tags first; a commit on no branch (a pull request's merge
 * commit) is looked for in every ref the remote has. */
static int find_commit(git_repository *m, const char *repo, const char *ref,
                       const char *commit, const qf_source_cfg_t *cfg,
                       git_oid *oid, qf_error_t *err) {
  static const char *const usual[] = {"+refs/heads/*:refs/heads/*",
                                      "+refs/tags/*:refs/tags/*"};
  static const char *const all[] = {"+refs/*:refs/*"};
  if (commit && lookup_commit(m, commit, oid)) return QF_OK; /* cached */
  int rc = fetch(m, repo, usual, 2, cfg, err);
  if (rc < 0) return rc;
  if (ref ? resolve_ref(m, ref, oid) : lookup_commit(m, commit, oid))
    return QF_OK;
  if (commit && (rc = fetch(m, repo, all, 1, cfg, err)) < 0) return rc;
  if (commit && lookup_commit(m, commit, oid)) return QF_OK;
  return ref ? qf_error_set(err, QF_ENOSOURCE,
                            "%s has no branch or tag named '%s'", repo, ref)
             : qf_error_set(err, QF_ENOSOURCE, "%s has no commit %s", repo,
                            commit);
}

/* ----------------------------------------------------------- worktrees */

/* <cache>/worktrees/<run_id>.<pid>, held by an flock on its .lock. */
static int new_tree(const char *cache, const char *run_id, qf_source_tree_t *t,
                    qf_error_t *err) {
  char dir[PATH_MAX], lock[PATH_MAX + 8];
  if (snprintf(dir, sizeof dir, "%s/worktrees/%s.%ld", cache, run_id,
               (long)getpid()) >= (int)sizeof dir - 8)
    return qf_error_set(err, QF_ETOOBIG, "QF_SOURCE_CACHE: path too long");
  snprintf(lock, sizeof lock, "%s.lock", dir);
  int rc = qf_fs_mkdirs(dir, err);
  if (rc == QF_OK) rc = qf_fs_empty_dir(dir, err);
  if (rc < 0) return rc;
  t->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (t->lock_fd < 0 || flock(t->lock_fd, LOCK_EX | LOCK_NB) < 0)
    return qf_error_set(err, QF_EIO, "%s: %s", lock, strerror(errno));
  t->dir = realpath(dir, NULL);
  return t->dir ? QF_OK : qf_error_set(err, QF_ENOMEM, "out of memory");
}

/* Writes the commit's files into the worktree; the mirror's own (absent)
 * index is left alone. */
static int write_tree(git_repository *m, const git_oid *oid, const char *dir,
                      const char *repo, qf_error_t *err) {
  git_commit *c = NULL;
  git_tree *tree = NULL;
  git_checkout_options co;
  GIT->checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
  co.checkout_strategy = GIT_CHECKOUT_FORCE | GIT_CHECKOUT_DONT_UPDATE_INDEX;
  co.target_directory = dir;
  co.disable_filters = 0;
  int rc = GIT->commit_lookup(&c, m, oid);
  if (rc == 0) rc = GIT->commit_tree(&tree, c);
  if (rc == 0) rc = GIT->checkout_tree(m, (const git_object *)tree, &co);
  GIT->tree_free(tree);
  GIT->commit_free(c);
  return rc == 0 ? QF_OK : git_fail(err, QF_EIO, "checking out", repo);
}

void qf_source_tree_free(qf_source_tree_t *t) {
  if (!t) return;
  if (t->dir) {
    qf_error_t ignored;
    char lock[PATH_MAX + 8];
    snprintf(lock, sizeof lock, "%s.lock", t->dir);
    if (qf_fs_empty_dir(t->dir, &ignored) == QF_OK) rmdir(t->dir);
    unlink(lock);
  }
  if (t->lock_fd >= 0) close(t->lock_fd);
  free(t->dir);
  free(t);
}

int qf_source_checkout(const qf_source_cfg_t *cfg, const char *repo,
                       const char *ref, const char *commit, const char *run_id,
                       qf_source_tree_t **out, qf_error_t *err) {
  git_repository *m = NULL;
  git_oid oid;
  int lock = -1;
  qf_source_tree_t *t = calloc(1, sizeof *t);
  if (!t) return qf_error_set(err, QF_ENOMEM, "out of memory");
  t->lock_fd = -1;
  int rc = ensure_git(err);
  if (rc == QF_OK) rc = open_mirror(cfg, repo, &m, &lock, err);
  if (rc == QF_OK) rc = find_commit(m, repo, ref, commit, cfg, &oid, err);
  if (rc == QF_OK) rc = new_tree(cfg->cache_dir, run_id, t, err);
  if (rc == QF_OK) rc = write_tree(m, &oid, t->dir, repo, err);
  if (rc == QF_OK) {
    GIT->oid_tostr(t->commit, sizeof t->commit, &oid);
    *out = t;
    t = NULL;
  }
  if (m) GIT->repository_free(m); /* none when libgit2 could not load */
  if (lock >= 0) close(lock);     /* the mirror is free for the next fetch */
  qf_source_tree_free(t);
  return rc;
}

/* ---------------------------------------------------------------- sweep */

static int sweep_one(const char *dir, const char *name) {
  char lock[PATH_MAX], tree[PATH_MAX];
  size_t n = strlen(name);
  if (n < 6 || strcmp(name + n - 5, ".lock") != 0) return 0;
  if (snprintf(lock, sizeof lock, "%s/%s", dir, name) >= (int)sizeof lock ||
      snprintf(tree, sizeof tree, "%s/%.*s", dir, (int)(n - 5), name) >=
          (int)sizeof tree)
    return 0;
  int fd = open(lock, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return 0;
  int stale = flock(fd, LOCK_EX | LOCK_NB) == 0; /* its holder is gone */
  if (stale) {
    qf_error_t ignored;
    if (qf_fs_empty_dir(tree, &ignored) == QF_OK) rmdir(tree);
    unlink(lock);
  }
  close(fd);
  return stale;
}

int qf_source_sweep(const char *cache_dir, qf_error_t *err) {
  char dir[PATH_MAX];
  if (snprintf(dir, sizeof dir, "%s/worktrees", cache_dir) >= (int)sizeof dir)
    return qf_error_set(err, QF_ETOOBIG, "QF_SOURCE_CACHE: path too long");
  DIR *d = opendir(dir);
  if (!d)
    return errno == ENOENT
               ? 0
               : qf_error_set(err, QF_EIO, "%s: %s", dir, strerror(errno));
  int removed = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;)
    removed += sweep_one(dir, e->d_name);
  closedir(d);
  return removed;
}
