/* db.h: a thin wrapper over one libpq connection.
 *
 * It checks every result, translates SQLSTATE into QF codes once, and keeps
 * libpq's two error channels (connection and result) out of callers:
 *   23505 unique violation         -> QF_ECONFLICT
 *   other class 23 (constraints)   -> QF_EVALIDATE
 *   40001, 40P01, 55P03            -> QF_ERETRY (serialization, deadlock, lock)
 *   57014 statement timeout        -> QF_ETIMEDOUT
 *   42501 insufficient privilege   -> QF_EPERM
 *   class 08, 57P01..57P03, or a dead connection -> QF_EDBCONN
 *   anything else                  -> QF_EDB
 * err->sqlstate holds the SQLSTATE; err->message the server's text.
 *
 * One qf_db_t per thread, as libpq requires. Statements are parameterised;
 * qf_db_exec_script (multi-statement text) exists for migrations only.
 */
#ifndef QF_DB_H
#define QF_DB_H

#include <libpq-fe.h>
#include <stddef.h>

#include "qf/err.h"

typedef struct qf_db qf_db_t;

/* Connection timeout when the conninfo names none (seconds). */
#define QF_DB_CONNECT_TIMEOUT_S 5

/* Opens a connection. conninfo is a libpq URI or key=value string;
 * application_name is borrowed. On success *out is owned by the caller
 * (qf_db_free). Fails with QF_EDBCONN, the message redacted of passwords. */
int qf_db_connect(const char *conninfo, const char *application_name,
                  qf_db_t **out, qf_error_t *err) QF_MUSTCHECK;

/* Closes and frees. NULL allowed. */
void qf_db_free(qf_db_t *db);

/* The underlying connection (borrowed, valid until qf_db_free). */
PGconn *qf_db_conn(qf_db_t *db);

/* Runs one parameterised statement (text parameters; NULL entries are SQL
 * NULL). On success *res (if res is not NULL) is owned by the caller
 * (PQclear); on failure *res is NULL. */
int qf_db_exec(qf_db_t *db, const char *sql, int nparams,
               const char *const *params, PGresult **res,
               qf_error_t *err) QF_MUSTCHECK;

/* Runs a multi-statement script with the simple query protocol. On
 * failure *error_pos (if not NULL) is the 1-based character offset of the
 * error in sql, or 0 when the server gave none. */
int qf_db_exec_script(qf_db_t *db, const char *sql, int *error_pos,
                      qf_error_t *err) QF_MUSTCHECK;

int qf_db_begin(qf_db_t *db, qf_error_t *err) QF_MUSTCHECK;
int qf_db_commit(qf_db_t *db, qf_error_t *err) QF_MUSTCHECK;

/* Rolls back if a transaction is open; safe to call in any state. */
void qf_db_rollback(qf_db_t *db);

/* Runs body inside BEGIN/COMMIT, retrying the whole transaction up to 3
 * times on QF_ERETRY (serialization failure, deadlock) with a jittered
 * sleep. body returns 0 or a QF code; any failure rolls back. Never
 * retries after COMMIT succeeded. */
typedef int (*qf_db_tx_fn)(qf_db_t *db, void *ctx, qf_error_t *err);
int qf_db_tx(qf_db_t *db, qf_db_tx_fn body, void *ctx,
             qf_error_t *err) QF_MUSTCHECK;

/* Translates a failed result (or, with res NULL, the connection's error)
 * into a QF code and message; exposed for modules that call libpq
 * directly. */
/* A prepared statement: name (a string literal, prepared once per
 * connection on first use), its SQL and its text parameters (borrowed). */
typedef struct qf_db_stmt {
  const char *name;
  const char *sql;
  int nparams;
  const char *const *params;
} qf_db_stmt_t;

/* Runs s as a prepared statement: one round trip once it is prepared.
 * *res as for qf_db_exec. */
int qf_db_exec_prepared(qf_db_t *db, const qf_db_stmt_t *s, PGresult **res,
                        qf_error_t *err) QF_MUSTCHECK;

/* Work to do while a request is on the wire (the server executes and
 * commits it meanwhile); ctx is the caller's. */
typedef void (*qf_db_meanwhile_fn)(void *ctx);

/* Runs one prepared statement (its own transaction: one round trip, one
 * commit), calling meanwhile (may be NULL) once it is sent, before its
 * result is read: the caller's work overlaps the server's execution and
 * commit. *res receives the result (the caller PQclear()s it); on failure
 * nothing is committed, *res is NULL and the error is returned. */
int qf_db_exec_meanwhile(qf_db_t *db, const qf_db_stmt_t *s,
                         qf_db_meanwhile_fn meanwhile, void *ctx,
                         PGresult **res, qf_error_t *err) QF_MUSTCHECK;

/* Requests sent to the server and waited for on this connection so far
 * (a pipeline counts once): what a run costs in round trips. */
long long qf_db_round_trips(const qf_db_t *db);

int qf_db_error(qf_db_t *db, const PGresult *res, qf_error_t *err);

/* conninfo (a libpq URI or key=value string) as it may be shown: its
 * user, host, port and database as postgresql://user@host:port/db, never
 * its password or other options, as libpq itself parses it; a string that
 * does not parse is not shown. */
void qf_db_describe(const char *conninfo, char *out, size_t n);

/* Takes every password of conninfo out of msg (size n), as libpq parses it
 * and, for a string that does not parse, the text where a password would
 * stand: libpq's error texts may quote what they could not read. */
void qf_db_scrub(const char *conninfo, char *msg, size_t n);

#endif
