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

/* Runs a migration file statement by statement (migrate_split.c); on a
 * failure *line is the failing line of the file (1-based). */
int qf__migrate_exec(qf_db_t *db, const char *sql, int *line, qf_error_t *err);

/* Line (1-based) of a 1-based character position in sql. */
int qf__migrate_line_of(const char *sql, int pos);

/* A migration file's text (bounded, no NUL byte); *out malloc'ed. */
int qf__migrate_read_file(const char *path, char **out, qf_error_t *err);

#endif
