/* nftw's FTW_PHYS and FTW_DEPTH need X/Open; mkostemp and sync_file_range
 * are GNU. */
#define _GNU_SOURCE
#include "qf/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int sys_error(qf_error_t *err, const char *path) {
  int e = errno;
  return qf_error_set(err, qf_err_from_errno(e), "%s: %s", path, strerror(e));
}

static const char *kind_of(mode_t m) {
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISSOCK(m)) return "a socket";
  if (S_ISCHR(m) || S_ISBLK(m)) return "a device";
  if (S_ISDIR(m)) return "a directory";
  return "not a regular file";
}

int qf_fs_open_regular(const char *path, unsigned long long max, int nofollow,
                       int *fd, unsigned long long *size, qf_error_t *err) {
  struct stat st;
  /* O_NONBLOCK: opening a FIFO without a writer would wait forever. */
  *fd = open(path,
             O_RDONLY | O_NONBLOCK | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0));
  if (*fd < 0 && errno == ELOOP)
    return qf_error_set(err, QF_EPERM, "%s: a symlink, not read", path);
  if (*fd < 0) return sys_error(err, path);
  int rc = QF_OK;
  if (fstat(*fd, &st) < 0)
    rc = sys_error(err, path);
  else if (!S_ISREG(st.st_mode))
    rc = qf_error_set(err, QF_EIO, "%s: is %s, not read", path,
                      kind_of(st.st_mode));
  else if ((unsigned long long)st.st_size > max)
    rc = qf_error_set(err, QF_ETOOBIG,
                      "%s: %llu bytes, more than the %llu "
                      "allowed",
                      path, (unsigned long long)st.st_size, max);
  else if (fcntl(*fd, F_SETFL, fcntl(*fd, F_GETFL) & ~O_NONBLOCK) < 0)
    rc = sys_error(err, path);
  if (rc < 0) {
    close(*fd);
    *fd = -1;
    return rc;
  }
  if (size) *size = (unsigned long long)st.st_size;
  return QF_OK;
}

FILE *qf_fs_fopen_regular(const char *path, unsigned long long max,
                          int nofollow, qf_error_t *err) {
  int fd = -1;
  if (qf_fs_open_regular(path, max, nofollow, &fd, NULL, err) < 0) return NULL;
  FILE *f = fdopen(fd, "rb");
  if (f == NULL) {
    sys_error(err, path);
    close(fd);
  }
  return f;
}

int qf_fs_read(const char *path, size_t max, char **out, size_t *len,
               qf_error_t *err) {
  char *buf = NULL;
  unsigned long long sz = 0;
  int fd = -1;
  int rc = qf_fs_open_regular(path, max, 0, &fd, &sz, err);
  if (rc < 0) goto out;
  size_t n = 0, want = (size_t)sz;
  if ((buf = malloc(want + 1)) == NULL) {
    rc = qf_error_set(err, QF_ENOMEM, "out of memory");
    goto out;
  }
  while (n < want) { /* the file may shrink while we read: stop at EOF */
    ssize_t r = read(fd, buf + n, want - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      rc = sys_error(err, path);
      goto out;
    }
    if (r == 0) break;
    n += (size_t)r;
  }
  buf[n] = '\0';
  *out = buf;
  *len = n;
  buf = NULL;
out:
  free(buf);
  if (fd >= 0) close(fd);
  return rc;
}

int qf_fs_mkdirs(const char *dir, qf_error_t *err) {
  char path[PATH_MAX];
  if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
    return qf_error_set(err, QF_EINVAL, "%s: path too long", dir);
  /* Mostly the parents exist (a run's folder under the root): one call. */
  if (mkdir(path, 0755) == 0 || errno == EEXIST) return QF_OK;
  if (errno != ENOENT) return sys_error(err, path);
  for (char *p = path + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(path, 0755) < 0 && errno != EEXIST) return sys_error(err, path);
    *p = '/';
  }
  if (mkdir(path, 0755) < 0 && errno != EEXIST) return sys_error(err, path);
  return QF_OK;
}

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Writes the file's bytes to a new temporary file in dir (its path in
 * tmp, the descriptor returned), fsynced when sync. */
static int write_tmp(const char *dir, const char *name, const void *data,
                     size_t len, int sync, char *tmp, size_t n,
                     qf_error_t *err) {
  int rc = qf_fs_mkdirs(dir, err);
  if (rc < 0) return rc;
  snprintf(tmp, n, "%s/.%s.XXXXXX", dir, name);
  int fd = mkostemp(tmp, O_CLOEXEC);
  if (fd < 0) return sys_error(err, tmp);
  if (fchmod(fd, 0644) < 0 || write_all(fd, data, len) < 0 ||
      (sync && fsync(fd) < 0)) {
    rc = sys_error(err, tmp);
    close(fd);
    unlink(tmp);
    return rc;
  }
  return fd;
}

int qf_fs_write_atomic(const char *dir, const char *name, const void *data,
                       size_t len, qf_error_t *err) {
  char tmp[PATH_MAX], dst[PATH_MAX];
  snprintf(dst, sizeof dst, "%s/%s", dir, name);
  int fd = write_tmp(dir, name, data, len, 1, tmp, sizeof tmp, err);
  if (fd < 0) return fd;
  int rc = close(fd) < 0 ? sys_error(err, tmp) : QF_OK;
  if (rc == QF_OK && rename(tmp, dst) < 0) rc = sys_error(err, dst);
  if (rc < 0) {
    unlink(tmp);
    return rc;
  }
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) { /* make the rename itself durable */
    fsync(dfd);
    close(dfd);
  }
  return QF_OK;
}

int qf_fs_write_atomic_owed(const char *dir, const char *name, const void *data,
                            size_t len, int later, qf_fs_owed_t *o,
                            qf_error_t *err) {
  char tmp[PATH_MAX], dst[PATH_MAX];
  if (o->owing)
    return qf_error_set(err, QF_EINTERNAL, "%s/%s: a sync is still owed", dir,
                        name);
  snprintf(dst, sizeof dst, "%s/%s", dir, name);
  int fd = write_tmp(dir, name, data, len, 0, tmp, sizeof tmp, err);
  if (fd < 0) return fd;
  memset(o, 0, sizeof *o);
  o->owing = 1;
  o->fd = fd;
  o->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  o->tmp = strdup(tmp);
  o->dst = strdup(dst);
  int rc =
      o->tmp && o->dst ? QF_OK : qf_error_set(err, QF_ENOMEM, "out of memory");
  if (rc == QF_OK && !later) rc = qf_fs_owed_place(o, err);
  if (rc < 0) qf_fs_owed_drop(o);
  return rc;
}

/* Closes what o holds (a file never placed is removed); it owes nothing
 * after, and sync_errno stays. */
static void owed_close(qf_fs_owed_t *o) {
  if (!o->owing) return;
  int e = o->sync_errno;
  if (!o->placed && o->tmp) unlink(o->tmp);
  close(o->fd);
  if (o->dir_fd >= 0) close(o->dir_fd);
  free(o->tmp);
  free(o->dst);
  memset(o, 0, sizeof *o);
  o->sync_errno = e;
}

int qf_fs_owed_place(qf_fs_owed_t *o, qf_error_t *err) {
  struct stat st;
  if (!o->owing || o->placed) return QF_OK;
  /* Gone, with the file in its place: whoever owned the folder meanwhile
   * (a re-publish restoring it) cleared the temporary and wrote it. */
  if (rename(o->tmp, o->dst) < 0 &&
      !(errno == ENOENT && stat(o->dst, &st) == 0))
    return sys_error(err, o->dst);
  o->placed = 1;
  return QF_OK;
}

/* Pays what one file owes now: its data's fsync, then (once it is in
 * place) its folder's; closed when nothing is left. */
static void owed_pay(qf_fs_owed_t *o) {
  if (!o->data_synced) {
    if (fsync(o->fd) < 0) o->sync_errno = errno;
    o->data_synced = 1;
  }
  if (!o->placed) return; /* waits for qf_fs_owed_place */
  if (o->dir_fd >= 0) (void)fsync(o->dir_fd);
  owed_close(o);
}

typedef struct {
  qf_fs_owed_t *const *o;
  size_t from, n, step;
} fsync_share_t;

static void *fsync_part(void *arg) {
  fsync_share_t *p = arg;
  for (size_t i = p->from; i < p->n; i += p->step)
    if (p->o[i]->owing) owed_pay(p->o[i]);
  return NULL;
}

/* The most threads one sync spreads its fsyncs over. */
#define OWED_THREADS 4

int qf_fs_owed_sync(qf_fs_owed_t *const *o, size_t n) {
  /* Every file's writeback is started first; then the fsyncs run side by
   * side, so that the file system folds them into few journal commits
   * and device flushes: one after the other, each would wait for one of
   * its own. */
  for (size_t i = 0; i < n; i++)
    if (o[i]->owing && !o[i]->data_synced)
      (void)sync_file_range(o[i]->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
  size_t step = n < OWED_THREADS ? n : OWED_THREADS, started = 1;
  fsync_share_t share[OWED_THREADS];
  pthread_t t[OWED_THREADS];
  for (size_t k = 0; k < step; k++)
    share[k] = (fsync_share_t){o, k, n, step};
  for (; started < step; started++) /* too few threads: the rest here */
    if (pthread_create(&t[started], NULL, fsync_part, &share[started]) != 0)
      break;
  for (size_t k = started; k < step; k++)
    fsync_part(&share[k]);
  if (step) fsync_part(&share[0]);
  for (size_t k = 1; k < started; k++)
    pthread_join(t[k], NULL);
  int failed = 0;
  for (size_t i = 0; i < n; i++)
    failed += o[i]->sync_errno != 0;
  return failed;
}

void qf_fs_owed_drop(qf_fs_owed_t *o) {
  owed_close(o);
}

int qf_fs_remove_temps(const char *dir, const char *name) {
  char prefix[NAME_MAX + 2], path[PATH_MAX];
  int n = 0;
  size_t plen = (size_t)snprintf(prefix, sizeof prefix, ".%s.", name);
  DIR *d = plen < sizeof prefix ? opendir(dir) : NULL;
  for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
    if (strncmp(e->d_name, prefix, plen) != 0 ||
        strlen(e->d_name) != plen + 6) /* mkostemp's XXXXXX */
      continue;
    if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) <
            (int)sizeof path &&
        unlink(path) == 0)
      n++;
  }
  if (d) closedir(d);
  return n;
}

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw) {
  (void)st;
  (void)flag;
  if (ftw->level == 0) return 0; /* keep the directory itself */
  return remove(path) < 0 ? -1 : 0;
}

int qf_fs_empty_dir(const char *dir, qf_error_t *err) {
  struct stat st;
  if (lstat(dir, &st) < 0 && errno == ENOENT) return QF_OK;
  if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
    return sys_error(err, dir);
  return QF_OK;
}

int qf_fs_join(char *out, size_t n, const char *a, const char *b,
               qf_error_t *err) {
  size_t la = strlen(a), lb = strlen(b);
  if (la + 1 + lb + 1 > n)
    return qf_error_set(err, QF_ETOOBIG, "%.64s/%.64s...: path too long", a, b);
  memcpy(out, a, la);
  out[la] = '/';
  memcpy(out + la + 1, b, lb + 1);
  return QF_OK;
}
