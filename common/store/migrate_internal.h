/* migrate_internal.h: what migrate.c (applying) and migrate_status.c
 * (reading the state, the version check) share. Not public. */
#ifndef QF_MIGRATE_INTERNAL_H
#define QF_MIGRATE_INTERNAL_H

#include <limits.h>

#include "qf/migrate.h"

typedef struct mfile {
  int version;
  char name[NAME_MAX + 1];
  char path[PATH_MAX];
} mfile_t;

/* The NNN_name.sql files of dir by version (*out malloc'ed); QF_EPARSE
 * for a bad name or a duplicate version. */
int qf__migrate_list_files(const char *dir, mfile_t **out, int *nout,
                           qf_error_t *err);

/* A migration file's text (bounded, no NUL byte); *out malloc'ed. */
int qf__migrate_read_file(const char *path, char **out, qf_error_t *err);

#endif
