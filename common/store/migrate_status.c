/* migrate_status.c: the schema's state without changing it (qf migrate
 * --status and --dry-run), and the version check the services make at
 * start. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migrate_internal.h"
#include "qf/hash.h"

typedef struct done {
  int version;
  char checksum[QF_SHA256_HEX_LEN + 1];
} done_t;

/* The applied versions; none when the table does not exist yet. */
static int read_applied(qf_db_t *db, done_t **out, int *n, qf_error_t *err) {
  PGresult *res = NULL;
  *out = NULL;
  *n = 0;
  int rc = qf_db_exec(db,
                      "SELECT version, checksum FROM schema_migrations WHERE "
                      "to_regclass('schema_migrations') IS NOT NULL ORDER BY "
                      "version",
                      0, NULL, &res, err);
  if (rc < 0 && err && strcmp(err->sqlstate, "42P01") == 0) {
    PQclear(res); /* never migrated */
    return QF_OK;
  }
  if (rc < 0) return qf_error_prefix(err, "schema_migrations");
  int rows = PQntuples(res);
  done_t *d = calloc((size_t)rows + 1, sizeof *d);
  for (int i = 0; d && i < rows; i++) {
    d[i].version = atoi(PQgetvalue(res, i, 0));
    snprintf(d[i].checksum, sizeof d[i].checksum, "%s", PQgetvalue(res, i, 1));
  }
  PQclear(res);
  if (d == NULL) return qf_error_set(err, QF_ENOMEM, "out of memory");
  *out = d;
  *n = rows;
  return QF_OK;
}

static int state_of(const mfile_t *f, const done_t *d, int nd,
                    qf_migrate_state_t *st, qf_error_t *err) {
  char *sql = NULL, sum[QF_SHA256_HEX_LEN + 1];
  int rc = qf__migrate_read_file(f->path, &sql, err);
  if (rc == QF_OK) rc = qf_sha256_hex(sql, strlen(sql), sum);
  free(sql);
  if (rc < 0) return rc;
  *st = QF_MIGRATE_PENDING;
  for (int i = 0; i < nd; i++)
    if (d[i].version == f->version)
      *st = strcmp(d[i].checksum, sum) == 0 ? QF_MIGRATE_APPLIED
                                            : QF_MIGRATE_CHANGED;
  return QF_OK;
}

static int by_version(const void *a, const void *b) {
  return ((const qf_migrate_entry_t *)a)->version -
         ((const qf_migrate_entry_t *)b)->version;
}

int qf_migrate_status(qf_db_t *db, const char *dir, qf_migrate_entry_t **out,
                      size_t *n, qf_error_t *err) {
  mfile_t *files = NULL;
  done_t *d = NULL;
  int nf = 0, nd = 0;
  int rc = qf__migrate_list_files(dir, &files, &nf, err);
  if (rc == QF_OK) rc = read_applied(db, &d, &nd, err);
  qf_migrate_entry_t *e =
      rc == QF_OK ? calloc((size_t)(nf + nd) + 1, sizeof *e) : NULL;
  if (rc == QF_OK && e == NULL)
    rc = qf_error_set(err, QF_ENOMEM, "out of memory");
  size_t k = 0;
  for (int i = 0; rc == QF_OK && i < nf; i++, k++) {
    e[k].version = files[i].version;
    snprintf(e[k].name, sizeof e[k].name, "%s", files[i].name);
    rc = state_of(&files[i], d, nd, &e[k].state, err);
  }
  for (int i = 0; rc == QF_OK && i < nd; i++) {
    int known = 0;
    for (int j = 0; j < nf; j++)
      known |= files[j].version == d[i].version;
    if (!known)
      e[k++] = (qf_migrate_entry_t){d[i].version, "", QF_MIGRATE_UNKNOWN};
  }
  free(files);
  free(d);
  if (rc < 0) {
    free(e);
    return rc;
  }
  qsort(e, k, sizeof *e, by_version);
  *out = e;
  *n = k;
  return QF_OK;
}

int qf_migrate_check_version(qf_db_t *db, int need, qf_error_t *err) {
  PGresult *res = NULL;
  int rc = qf_db_exec(db,
                      "SELECT coalesce(max(version), 0) FROM "
                      "schema_migrations",
                      0, NULL, &res, err);
  int have = rc == QF_OK ? atoi(PQgetvalue(res, 0, 0)) : 0;
  PQclear(res);
  /* No table (never migrated), or not readable (migrated by a qf older
   * than 005, which grants it): older than we need either way. */
  if (rc < 0 && err &&
      (strcmp(err->sqlstate, "42P01") == 0 ||
       strcmp(err->sqlstate, "42501") == 0))
    rc = QF_OK;
  if (rc < 0) return rc;
  if (have >= need) return QF_OK;
  return qf_error_set(err, QF_ESCHEMA,
                      "the database schema is at version %03d and this qf "
                      "needs %03d: run `qf migrate` as the schema owner first",
                      have, need);
}
