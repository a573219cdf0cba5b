#include "qf/migrate.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qf/fsutil.h"
#include "qf/hash.h"
#include "migrate_internal.h"

/* Any constant shared by every qf migrate: serialises concurrent runs. */
#define MIGRATE_LOCK_KEY "7165776f726b6572" /* "qfworker" in hex */

typedef struct applied {
  int version;
  char checksum[QF_SHA256_HEX_LEN + 1];
} applied_t;

/* Parses "NNN_name.sql" (three digits, then [a-z0-9_]+). */
static int parse_name(const char *fname, int *version) {
  size_t n = strlen(fname);
  if (n < 9 || strcmp(fname + n - 4, ".sql") != 0) return -1;
  for (int i = 0; i < 3; i++)
    if (!isdigit((unsigned char)fname[i])) return -1;
  if (fname[3] != '_') return -1;
  for (size_t i = 4; i < n - 4; i++) {
    char c = fname[i];
    if (!(islower((unsigned char)c) || isdigit((unsigned char)c) || c == '_'))
      return -1;
  }
  *version = (fname[0] - '0') * 100 + (fname[1] - '0') * 10 + (fname[2] - '0');
  return *version > 0 ? 0 : -1;
}

static int cmp_mfile(const void *a, const void *b) {
  return ((const mfile_t *)a)->version - ((const mfile_t *)b)->version;
}

static int add_file(const char *dir, const char *fname, mfile_t **files, int *n,
                    qf_error_t *err) {
  int version;
  if (parse_name(fname, &version) < 0)
    return qf_error_set(err, QF_EPARSE,
                        "%s/%s: migration files must be named NNN_name.sql "
                        "(three digits from 001, lowercase name)",
                        dir, fname);
  mfile_t *grown = realloc(*files, (size_t)(*n + 1) * sizeof **files);
  if (grown == NULL) return qf_error_set(err, QF_ENOMEM, "out of memory");
  *files = grown;
  mfile_t *f = &grown[(*n)++];
  f->version = version;
  snprintf(f->name, sizeof f->name, "%s", fname);
  snprintf(f->path, sizeof f->path, "%s/%s", dir, fname);
  return QF_OK;
}

int qf__migrate_list_files(const char *dir, mfile_t **out, int *nout,
                           qf_error_t *err) {
  int rc = QF_OK, n = 0;
  mfile_t *files = NULL;
  DIR *d = opendir(dir);
  if (d == NULL) {
    rc = qf_err_from_errno(errno);
    qf_error_set(err, rc, "%s: %s", dir, strerror(errno));
    return rc;
  }
  struct dirent *e;
  while (rc == QF_OK && (e = readdir(d)) != NULL) {
    size_t len = strlen(e->d_name);
    if (e->d_name[0] == '.' || len < 4 ||
        strcmp(e->d_name + len - 4, ".sql") != 0)
      continue; /* README and friends live here too */
    rc = add_file(dir, e->d_name, &files, &n, err);
  }
  closedir(d);
  if (rc == QF_OK) qsort(files, (size_t)n, sizeof *files, cmp_mfile);
  for (int i = 1; rc == QF_OK && i < n; i++)
    if (files[i].version == files[i - 1].version)
      rc = qf_error_set(err, QF_EPARSE, "%s and %s have the same version %03d",
                        files[i - 1].path, files[i].path, files[i].version);
  if (rc < 0) {
    free(files);
    return rc;
  }
  *out = files;
  *nout = n;
  return QF_OK;
}

int qf__migrate_read_file(const char *path, char **out, qf_error_t *err) {
  size_t len = 0;
  int rc = qf_fs_read(path, QF_MIGRATE_MAX_FILE_BYTES, out, &len, err);
  if (rc == QF_OK && strlen(*out) != len) {
    free(*out);
    *out = NULL;
    rc = qf_error_set(err, QF_EPARSE, "%s: contains a NUL byte", path);
  }
  return rc;
}

static int prepare(qf_db_t *db, applied_t **out, int *nout, qf_error_t *err) {
  PGresult *res = NULL;
  int rc =
      qf_db_exec(db, "SELECT pg_advisory_lock(x'" MIGRATE_LOCK_KEY "'::bigint)",
                 0, NULL, NULL, err);
  if (rc == QF_OK)
    rc = qf_db_exec(db,
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version integer PRIMARY KEY CHECK (version > 0),"
                    " name text NOT NULL,"
                    " checksum text NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now())",
                    0, NULL, NULL, err);
  if (rc == QF_OK)
    rc = qf_db_exec(db,
                    "SELECT version, checksum FROM schema_migrations "
                    "ORDER BY version",
                    0, NULL, &res, err);
  if (rc < 0) return qf_error_prefix(err, "schema_migrations");
  int n = PQntuples(res);
  applied_t *a = calloc((size_t)n + 1, sizeof *a);
  if (a == NULL) {
    PQclear(res);
    return qf_error_set(err, QF_ENOMEM, "out of memory");
  }
  for (int i = 0; i < n; i++) {
    a[i].version = atoi(PQgetvalue(res, i, 0));
    snprintf(a[i].checksum, sizeof a[i].checksum, "%s", PQgetvalue(res, i, 1));
  }
  PQclear(res);
  *out = a;
  *nout = n;
  return QF_OK;
}

static const applied_t *find_applied(const applied_t *a, int n, int version) {
  for (int i = 0; i < n; i++)
    if (a[i].version == version) return &a[i];
  return NULL;
}

static int apply_one(qf_db_t *db, const mfile_t *f, const char *sql,
                     const char *checksum, qf_error_t *err) {
  char version[16];
  snprintf(version, sizeof version, "%d", f->version);
  const char *params[] = {version, f->name, checksum};
  int line = 0;
  int rc = qf_db_begin(db, err);
  if (rc == QF_OK) {
    rc = qf__migrate_exec(db, sql, &line, err);
    /* A statement the database refused is a fault of the migration file,
     * not of the database: invalid input, not an outage to retry. */
    if (rc == QF_EDB) rc = err ? (err->code = QF_EVALIDATE) : QF_EVALIDATE;
    if (rc < 0) {
      qf_db_rollback(db);
      return line > 0 ? qf_error_prefix(err, "%s:%d", f->path, line)
                      : qf_error_prefix(err, "%s", f->path);
    }
  }
  if (rc == QF_OK)
    rc = qf_db_exec(db,
                    "INSERT INTO schema_migrations (version, name, checksum) "
                    "VALUES ($1, $2, $3)",
                    3, params, NULL, err);
  if (rc == QF_OK) rc = qf_db_commit(db, err);
  if (rc < 0) {
    qf_db_rollback(db);
    return qf_error_prefix(err, "%s", f->path);
  }
  return QF_OK;
}

static int apply_all(qf_db_t *db, const mfile_t *files, int n,
                     const applied_t *done, int ndone, qf_migrate_cb cb,
                     void *cb_ctx, qf_migrate_report_t *rep, qf_error_t *err) {
  int rc = QF_OK;
  for (int i = 0; i < n && rc == QF_OK; i++) {
    char *sql = NULL;
    char sum[QF_SHA256_HEX_LEN + 1];
    rc = qf__migrate_read_file(files[i].path, &sql, err);
    if (rc == QF_OK) rc = qf_sha256_hex(sql, strlen(sql), sum);
    const applied_t *a = find_applied(done, ndone, files[i].version);
    if (rc == QF_OK && a != NULL) {
      if (strcmp(a->checksum, sum) != 0)
        rc = qf_error_set(err, QF_ECONFLICT,
                          "%s was changed after it was applied (checksum %.12s "
                          "in the database, %.12s on disk); add a new "
                          "migration instead",
                          files[i].path, a->checksum, sum);
      else
        rep->present++;
    } else if (rc == QF_OK) {
      rc = apply_one(db, &files[i], sql, sum, err);
      if (rc == QF_OK) {
        rep->applied++;
        if (cb) cb(files[i].version, files[i].name, cb_ctx);
      }
    }
    if (rc == QF_OK && files[i].version > rep->latest)
      rep->latest = files[i].version;
    free(sql);
  }
  return rc;
}

int qf_migrate_run(qf_db_t *db, const char *dir, qf_migrate_cb on_applied,
                   void *cb_ctx, qf_migrate_report_t *report, qf_error_t *err) {
  mfile_t *files = NULL;
  applied_t *done = NULL;
  int nfiles = 0, ndone = 0;
  qf_migrate_report_t rep = {0};
  int rc = qf__migrate_list_files(dir, &files, &nfiles, err);
  if (rc == QF_OK) rc = prepare(db, &done, &ndone, err);
  if (rc == QF_OK)
    rc = apply_all(db, files, nfiles, done, ndone, on_applied, cb_ctx, &rep,
                   err);
  for (int i = 0; rc == QF_OK && i < ndone; i++) {
    int known = 0;
    for (int j = 0; j < nfiles; j++)
      known |= files[j].version == done[i].version;
    if (!known) rep.unknown++;
    if (done[i].version > rep.latest) rep.latest = done[i].version;
  }
  /* The advisory lock is session-level; release it for long-lived callers. */
  if (db != NULL) {
    qf_db_rollback(db);
    PQclear(PQexec(qf_db_conn(db), "SELECT pg_advisory_unlock_all()"));
  }
  if (rc == QF_OK && report) *report = rep;
  free(files);
  free(done);
  return rc;
}
