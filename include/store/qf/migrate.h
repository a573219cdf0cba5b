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
