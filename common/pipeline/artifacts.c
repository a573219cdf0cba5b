/* artifacts.c: what a tool left in its directory becomes evidence: every
 * regular file under the policy's count and size limits, with type, mime,
 * size and sha256. The walk never follows a symlink out of the artifacts
 * root, so a tool cannot make us hash (or publish the path of) a file it
 * does not own. */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "qf/fsutil.h"
#include "qf/hash.h"
#include "qf/pipeline.h"

/* Deep enough for Playwright's test-results/<test>/<attempt>/ layout. */
#define MAX_DEPTH 16

typedef struct walk {
  qf_evidence_t *ev;
  char root[PATH_MAX]; /* realpath of the artifacts root */
  size_t given_len;    /* length of the root as the caller spelled it */
  int max_count;
  long long max_bytes;
  int dropped;
  qf_error_t *err;
} walk_t;

static const struct {
  const char *suffix, *type, *mime;
} kinds[] = {
    {".png", "screenshot", "image/png"},
    {".jpg", "screenshot", "image/jpeg"},
    {".jpeg", "screenshot", "image/jpeg"},
    {".gif", "screenshot", "image/gif"},
    {".webp", "screenshot", "image/webp"},
    {".xml", "junit_xml", "application/xml"},
    {".zip", "trace", "application/zip"},
    {".webm", "video", "video/webm"},
    {".mp4", "video", "video/mp4"},
    {".har", "har", "application/json"},
    {".html", "report", "text/html"},
    {".json", "other", "application/json"},
    {".log", "log", "text/plain"},
    {".txt", "log", "text/plain"},
};

static void classify(const char *name, const char **type, const char **mime) {
  size_t n = strlen(name);
  *type = "other";
  *mime = "application/octet-stream";
  if (strcmp(name, "stdout.log") == 0 || strcmp(name, "stderr.log") == 0) {
    *type = name[3] == 'o' ? "stdout" : "stderr";
    *mime = "text/plain";
    return;
  }
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
    size_t k = strlen(kinds[i].suffix);
    if (n > k && strcasecmp(name + n - k, kinds[i].suffix) == 0) {
      *type = kinds[i].type;
      *mime = kinds[i].mime;
      return;
    }
  }
}

static int inside(const char *path, const char *root) {
  size_t n = strlen(root);
  return strncmp(path, root, n) == 0 && path[n] == '/';
}

static int add_file(walk_t *w, const char *path, const char *name) {
  char real[PATH_MAX], sum[QF_SHA256_HEX_LEN + 1];
  struct stat st;
  const char *type, *mime;
  unsigned long long size = 0;
  /* realpath also resolves a symlink: its target must stay in the root. */
  if (realpath(path, real) == NULL || !inside(real, w->root) ||
      stat(real, &st) < 0 || !S_ISREG(st.st_mode) ||
      st.st_size > w->max_bytes || (int)w->ev->nartifacts >= w->max_count) {
    w->dropped++;
    return QF_OK;
  }
  int rc = qf_sha256_file(real, sum, &size, w->err);
  if (rc < 0) return rc;
  classify(name, &type, &mime);
  /* Recorded under its own name in the tool directory (a link is hashed
   * through its target, which was checked above). */
  return qf_evidence_add_artifact(w->ev, type, path + w->given_len + 1,
                                  (long long)size, mime, sum, w->err);
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists dir's entries sorted, so artifacts come in a stable order. */
static int list_dir(const char *dir, char ***names, size_t *n) {
  DIR *d = opendir(dir);
  struct dirent *e;
  *names = NULL;
  *n = 0;
  if (d == NULL) return errno == ENOENT ? QF_OK : QF_EIO;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    char **grown = realloc(*names, (*n + 1) * sizeof *grown);
    char *copy = strdup(e->d_name);
    if (grown == NULL || copy == NULL) {
      free(copy);
      if (grown) *names = grown;
      closedir(d);
      return QF_ENOMEM;
    }
    *names = grown;
    (*names)[(*n)++] = copy;
  }
  closedir(d);
  qsort(*names, *n, sizeof **names, cmp_names);
  return QF_OK;
}

static int walk_dir(walk_t *w, const char *dir, int depth) {
  char **names = NULL;
  size_t n = 0;
  int rc = list_dir(dir, &names, &n);
  if (rc < 0) rc = qf_error_set(w->err, rc, "%s: cannot list", dir);
  for (size_t i = 0; i < n; i++) {
    char path[PATH_MAX];
    struct stat st;
    if (rc == QF_OK) rc = qf_fs_join(path, sizeof path, dir, names[i], w->err);
    if (rc == QF_OK && lstat(path, &st) == 0) {
      if (S_ISDIR(st.st_mode) && depth < MAX_DEPTH)
        rc = walk_dir(w, path, depth + 1);
      else if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode))
        rc = add_file(w, path, names[i]);
      else
        w->dropped++;
    }
    free(names[i]);
  }
  free(names);
  return rc;
}

int qf_pipeline_collect_artifacts(qf_evidence_t *ev, const char *root,
                                  const char *dir, const qf_policy_t *policy,
                                  int *dropped, qf_error_t *err) {
  walk_t w = {.ev = ev, .err = err, .given_len = strlen(root)};
  if (strncmp(dir, root, w.given_len) != 0 || dir[w.given_len] != '/')
    return qf_error_set(err, QF_EINVAL, "%s is not below %s", dir, root);
  if (realpath(root, w.root) == NULL)
    return qf_error_set(err, qf_err_from_errno(errno), "%s: %s", root,
                        strerror(errno));
  w.max_count = policy ? policy->artifact_limits.max_count : 50;
  w.max_bytes = (long long)(policy ? policy->artifact_limits.max_size_mb : 10)
                << 20;
  int rc = walk_dir(&w, dir, 0);
  *dropped = w.dropped;
  return rc;
}
