/* fsutil.h: small file helpers shared by the modules that read untrusted
 * files (bounded) and write results (atomically). */
#ifndef QF_FSUTIL_H
#define QF_FSUTIL_H

#include <stddef.h>
#include <stdio.h>

#include "qf/err.h"

/* Opens path for reading only if it is a regular file of at most max
 * bytes, without ever blocking: a FIFO, a device, a socket or a directory
 * (which a tool under test may leave where its report should be) is
 * refused with QF_EIO, a larger file with QF_ETOOBIG, each naming the
 * path; with nofollow (what a tool wrote) a final symlink is refused too
 * (QF_EPERM). On success *fd is the caller's (blocking reads,
 * close-on-exec) and *size (may be NULL) the file's size. */
int qf_fs_open_regular(const char *path, unsigned long long max, int nofollow,
                       int *fd, unsigned long long *size,
                       qf_error_t *err) QF_MUSTCHECK;

/* The same as a stream ("rb"; caller fcloses), or NULL with err set. */
FILE *qf_fs_fopen_regular(const char *path, unsigned long long max,
                          int nofollow, qf_error_t *err);

/* Reads a whole regular file of at most max bytes into *out (malloc'ed,
 * NUL-terminated; *len without the NUL). QF_ETOOBIG past max, QF_ENOENT,
 * QF_EIO, naming the path. */
int qf_fs_read(const char *path, size_t max, char **out, size_t *len,
               qf_error_t *err) QF_MUSTCHECK;

/* mkdir -p with mode 0755. */
int qf_fs_mkdirs(const char *dir, qf_error_t *err) QF_MUSTCHECK;

/* Writes data to dir/name through a temporary file in dir, fsync and
 * rename (then fsync of dir): readers see the old file or the new one,
 * never a part. Creates dir when missing. */
int qf_fs_write_atomic(const char *dir, const char *name, const void *data,
                       size_t len, qf_error_t *err) QF_MUSTCHECK;

/* A file written by qf_fs_write_atomic_owed whose durability, and maybe
 * whose place, is still owed. Owned descriptors and paths while owing;
 * all zero owes nothing. */
typedef struct qf_fs_owed {
  int owing;
  int fd, dir_fd;  /* the file's; its folder's (-1 if it did not open) */
  int data_synced; /* the file's bytes are durable */
  int placed;      /* renamed to its name */
  int sync_errno;  /* why the file's fsync failed; 0 when it did not */
  char *tmp, *dst; /* where it is written, and its name */
} qf_fs_owed_t;

/* qf_fs_write_atomic without the fsyncs: they are owed in *o (which must
 * owe nothing), to be paid by qf_fs_owed_sync, where a caller overlaps
 * them with another wait (a database commit) and pays many files' at
 * once. With later, the file is not even renamed to its name yet: that
 * waits for qf_fs_owed_place (a run's evidence, put in place only once
 * the run is recorded as this worker's), and qf_fs_owed_drop removes it.
 * Readers see the old file or the new one, never a part. */
int qf_fs_write_atomic_owed(const char *dir, const char *name, const void *data,
                            size_t len, int later, qf_fs_owed_t *o,
                            qf_error_t *err) QF_MUSTCHECK;

/* Renames a file written with later to its name (replacing what is
 * there); its folder's fsync is then owed. Nothing to do when placed. */
int qf_fs_owed_place(qf_fs_owed_t *o, qf_error_t *err) QF_MUSTCHECK;

/* Pays what the n files owe: starts every file's writeback first, then
 * fsyncs them side by side (and the folders of those in place), so the
 * file system commits them together. A file in place is then closed and
 * owes nothing; one not placed yet keeps its descriptors until placed
 * (and synced again) or dropped. Returns how many files failed to sync
 * (sync_errno says why; 0: all durable). */
int qf_fs_owed_sync(qf_fs_owed_t *const *o, size_t n);

/* Lets go of what *o holds without syncing it; a file never placed is
 * removed (its run was recorded by another delivery, or never). */
void qf_fs_owed_drop(qf_fs_owed_t *o);

/* Removes the temporary files ".<name>.XXXXXX" that a writer killed
 * before its rename left in dir (a run's folder, once the run is this
 * caller's); returns how many went. */
int qf_fs_remove_temps(const char *dir, const char *name);

/* Removes everything below dir (not following symlinks), keeping dir.
 * A missing dir is fine. */
int qf_fs_empty_dir(const char *dir, qf_error_t *err) QF_MUSTCHECK;

/* Writes "a/b" into out (size n); QF_ETOOBIG (with err naming the path)
 * when it does not fit: a path is never silently cut. */
int qf_fs_join(char *out, size_t n, const char *a, const char *b,
               qf_error_t *err) QF_MUSTCHECK;

#endif
