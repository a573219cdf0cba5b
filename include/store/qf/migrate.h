/* migrate.h: applies migrations/NNN_name.sql files in order, once each.
 *
 * Each file runs in its own transaction together with its row in
 * schema_migrations (version, name, sha256 checksum, applied_at), so a
 * failed file leaves no trace and the next run retries it. A session-level
 * advisory lock serialises concurrent `qf migrate` runs. A file changed
 * after it was applied is an error (its checksum no longer matches): fix
 * forward with a new file instead.
 */
#ifndef QF_MIGRATE_H
#define QF_MIGRATE_H

#include "qf/db.h"
#include "qf/err.h"

/* Largest migration file read (bytes). */
#define QF_MIGRATE_MAX_FILE_BYTES (4u << 20)

typedef struct qf_migrate_report {
  int applied; /* files applied by this run */
  int present; /* files already applied before this run */
  int unknown; /* versions in the database with no file (a newer schema) */
  int latest;  /* highest version applied after this run, 0 if none */
} qf_migrate_report_t;

/* The schema version this qf needs (the highest file in migrations/):
 * the worker and the approver refuse an older database at start. */
#define QF_SCHEMA_VERSION 8

/* QF_OK when db's schema is at need or later; QF_ESCHEMA, err saying the
 * version found and the command to run, when it is older or was never
 * migrated. */
int qf_migrate_check_version(qf_db_t *db, int need,
                             qf_error_t *err) QF_MUSTCHECK;

/* One migration as qf_migrate_status sees it. */
typedef enum qf_migrate_state {
  QF_MIGRATE_APPLIED, /* applied, checksum as on disk */
  QF_MIGRATE_PENDING, /* on disk, not applied yet */
  QF_MIGRATE_CHANGED, /* applied, but the file changed since */
  QF_MIGRATE_UNKNOWN  /* applied, no file (a newer qf migrated it) */
} qf_migrate_state_t;

typedef struct qf_migrate_entry {
  int version;
  char name[256]; /* the file name, or "" for an unknown version */
  qf_migrate_state_t state;
} qf_migrate_entry_t;

/* Reads what qf_migrate_run would do, changing nothing and taking no lock:
 * every file and every applied version, by version. *out is malloc'ed
 * (free()); errors as for qf_migrate_run. */
int qf_migrate_status(qf_db_t *db, const char *dir, qf_migrate_entry_t **out,
                      size_t *n, qf_error_t *err) QF_MUSTCHECK;

/* Called after each file is applied (may be NULL). name is borrowed. */
typedef void (*qf_migrate_cb)(int version, const char *name, void *ctx);

/* Applies the pending migrations of dir. Errors name the file and, for SQL
 * errors, the line and the server's message: QF_EPARSE (a bad file name or
 * duplicate version), QF_EIO/QF_ENOENT (unreadable), QF_ETOOBIG,
 * QF_ECONFLICT (checksum mismatch), or the database's code. */
int qf_migrate_run(qf_db_t *db, const char *dir, qf_migrate_cb on_applied,
                   void *cb_ctx, qf_migrate_report_t *report,
                   qf_error_t *err) QF_MUSTCHECK;

#endif
