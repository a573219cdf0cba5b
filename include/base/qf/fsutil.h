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

/* Removes everything below dir (not following symlinks), keeping dir.
 * A missing dir is fine. */
int qf_fs_empty_dir(const char *dir, qf_error_t *err) QF_MUSTCHECK;

/* Writes "a/b" into out (size n); QF_ETOOBIG (with err naming the path)
 * when it does not fit: a path is never silently cut. */
int qf_fs_join(char *out, size_t n, const char *a, const char *b,
               qf_error_t *err) QF_MUSTCHECK;

#endif
