#include "qf/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qf/log.h"

/* Statements prepared on this connection, by name (a new connection
 * prepares again: a qf_db_t is one connection). */
#define PREPARED_MAX 16

struct qf_db {
  PGconn *conn;
  long long round_trips; /* requests sent and waited for */
  const char *prepared[PREPARED_MAX];
  size_t nprepared;
};

/* Server messages end with a newline and may carry DETAIL/HINT; keep them
 * on one line so they fit log lines and command-line errors. */
static void one_line(char *s) {
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
    s[--n] = '\0';
  for (char *p = s; *p; p++)
    if (*p == '\n') *p = ' ';
}

static int code_for_sqlstate(const char *st) {
  if (st == NULL || st[0] == '\0') return QF_EDB;
  if (strcmp(st, "23505") == 0) return QF_ECONFLICT;
  if (strncmp(st, "23", 2) == 0) return QF_EVALIDATE;
  if (strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0 ||
      strcmp(st, "55P03") == 0)
    return QF_ERETRY;
  if (strcmp(st, "57014") == 0) return QF_ETIMEDOUT;
  if (strcmp(st, "42501") == 0) return QF_EPERM;
  /* A trigger's "the state moved on" (migration 003: decided, final). */
  if (strcmp(st, "55000") == 0) return QF_ECONFLICT;
  if (strcmp(st, "22023") == 0) return QF_EINVAL;
  if (strncmp(st, "08", 2) == 0 || strcmp(st, "57P01") == 0 ||
      strcmp(st, "57P02") == 0 || strcmp(st, "57P03") == 0)
    return QF_EDBCONN;
  return QF_EDB;
}

int qf_db_error(qf_db_t *db, const PGresult *res, qf_error_t *err) {
  const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
  const char *primary =
      res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
  const char *detail =
      res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
  int code = code_for_sqlstate(st);
  if (db == NULL || db->conn == NULL || PQstatus(db->conn) == CONNECTION_BAD)
    code = QF_EDBCONN;
  if (primary != NULL && detail != NULL)
    qf_error_set(err, code, "%s (%s)", primary, detail);
  else if (primary != NULL)
    qf_error_set(err, code, "%s", primary);
  else
    qf_error_set(err, code, "%s",
                 db && db->conn ? PQerrorMessage(db->conn) : "no connection");
  if (err != NULL) {
    one_line(err->message);
    snprintf(err->sqlstate, sizeof err->sqlstate, "%s", st ? st : "");
  }
  return code;
}

static void drop_notice(void *arg, const char *message) {
  (void)arg;
  (void)message;
}

/* The server refused who we are (not that it is away): a wrong password,
 * no password where one is needed, a role or database that does not
 * exist. libpq gives no SQLSTATE for a failed connection, only the
 * server's message; these are its words for those cases (SQLSTATE 28P01,
 * 28000, 3D000). */
static int login_refused(const PGconn *conn) {
  static const char *const words[] = {
      "password authentication failed", "no password supplied",
      "authentication failed",          "does not exist",
      "no pg_hba.conf entry",           NULL};
  const char *m = PQerrorMessage(conn);
  if (PQconnectionNeedsPassword(conn)) return 1;
  for (size_t i = 0; m && words[i]; i++)
    if (strstr(m, words[i])) return 1;
  return 0;
}

int qf_db_connect(const char *conninfo, const char *application_name,
                  qf_db_t **out, qf_error_t *err) {
  char timeout[16];
  snprintf(timeout, sizeof timeout, "%d", QF_DB_CONNECT_TIMEOUT_S);
  /* Our defaults come before dbname, which libpq expands from conninfo:
   * a later keyword wins, so whatever the user's conninfo sets prevails. */
  const char *keys[] = {"connect_timeout", "application_name", "keepalives",
                        "keepalives_idle", "dbname",           NULL};
  const char *vals[] = {timeout,
                        application_name ? application_name : "qf",
                        "1",
                        "30",
                        conninfo ? conninfo : "",
                        NULL};
  qf_db_t *db = calloc(1, sizeof *db);
  if (db == NULL) return qf_error_set(err, QF_ENOMEM, "out of memory");
  db->conn = PQconnectdbParams(keys, vals, 1);
  if (db->conn == NULL) {
    free(db);
    return qf_error_set(err, QF_ENOMEM, "out of memory");
  }
  if (PQstatus(db->conn) != CONNECTION_OK) {
    char where[512];
    qf_db_describe(conninfo, where, sizeof where);
    int code = login_refused(db->conn) ? QF_EAUTH : QF_EDBCONN;
    qf_error_set(err, code, "cannot connect to %s: %s", where,
                 PQerrorMessage(db->conn));
    if (err) {
      qf_db_scrub(conninfo, err->message, sizeof err->message);
      one_line(err->message);
    }
    qf_db_free(db);
    return code;
  }
  /* Server NOTICEs ("relation already exists, skipping") are not errors;
   * libpq would print them on stderr, outside our JSON log lines. */
  PQsetNoticeProcessor(db->conn, drop_notice, NULL);
  *out = db;
  return QF_OK;
}

void qf_db_free(qf_db_t *db) {
  if (db == NULL) return;
  if (db->conn) PQfinish(db->conn);
  free(db);
}

PGconn *qf_db_conn(qf_db_t *db) {
  return db->conn;
}

static int check(qf_db_t *db, PGresult *r, PGresult **res, qf_error_t *err) {
  ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
    if (res)
      *res = r;
    else
      PQclear(r);
    return QF_OK;
  }
  int rc = qf_db_error(db, r, err);
  PQclear(r);
  if (res) *res = NULL;
  return rc;
}

long long qf_db_round_trips(const qf_db_t *db) {
  return db ? db->round_trips : 0;
}

int qf_db_exec(qf_db_t *db, const char *sql, int nparams,
               const char *const *params, PGresult **res, qf_error_t *err) {
  db->round_trips++;
  PGresult *r =
      PQexecParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0);
  return check(db, r, res, err);
}

int qf_db_exec_script(qf_db_t *db, const char *sql, int *error_pos,
                      qf_error_t *err) {
  if (error_pos) *error_pos = 0;
  db->round_trips++;
  PGresult *r = PQexec(db->conn, sql);
  ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && error_pos && r) {
    const char *pos = PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION);
    if (pos) *error_pos = atoi(pos);
  }
  return check(db, r, NULL, err);
}

int qf_db_begin(qf_db_t *db, qf_error_t *err) {
  return qf_db_exec(db, "BEGIN", 0, NULL, NULL, err);
}

int qf_db_commit(qf_db_t *db, qf_error_t *err) {
  return qf_db_exec(db, "COMMIT", 0, NULL, NULL, err);
}

void qf_db_rollback(qf_db_t *db) {
  if (db == NULL || db->conn == NULL) return;
  if (PQtransactionStatus(db->conn) == PQTRANS_IDLE) return;
  db->round_trips++;
  PQclear(PQexec(db->conn, "ROLLBACK"));
}

static void jitter_sleep(int attempt) {
  long max_ms = 20L << attempt; /* 40, 80, 160 ms */
  long ms = 5 + rand() % max_ms;
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

int qf_db_tx(qf_db_t *db, qf_db_tx_fn body, void *ctx, qf_error_t *err) {
  enum { MAX_TRIES = 3 };
  int rc = QF_OK;
  for (int attempt = 1; attempt <= MAX_TRIES; attempt++) {
    rc = qf_db_begin(db, err);
    if (rc == QF_OK) rc = body(db, ctx, err);
    if (rc == QF_OK) rc = qf_db_commit(db, err);
    if (rc == QF_OK) return QF_OK;
    qf_db_rollback(db);
    if (rc != QF_ERETRY || attempt == MAX_TRIES) break;
    jitter_sleep(attempt);
  }
  return rc;
}

/* Prepares name once per connection (names are string literals the
 * caller keeps: compared by pointer first, then by text). */
static int prepare(qf_db_t *db, const char *name, const char *sql, int nparams,
                   qf_error_t *err) {
  for (size_t i = 0; i < db->nprepared; i++)
    if (db->prepared[i] == name || strcmp(db->prepared[i], name) == 0)
      return QF_OK;
  if (db->nprepared == PREPARED_MAX)
    return qf_error_set(err, QF_EINTERNAL, "too many prepared statements");
  db->round_trips++;
  int rc = check(db, PQprepare(db->conn, name, sql, nparams, NULL), NULL, err);
  if (rc == QF_OK) db->prepared[db->nprepared++] = name;
  return rc;
}

int qf_db_exec_prepared(qf_db_t *db, const qf_db_stmt_t *s, PGresult **res,
                        qf_error_t *err) {
  int rc = prepare(db, s->name, s->sql, s->nparams, err);
  if (rc < 0) return rc;
  db->round_trips++;
  PGresult *r =
      PQexecPrepared(db->conn, s->name, s->nparams, s->params, NULL, NULL, 0);
  return check(db, r, res, err);
}

/* Reads one pipelined query's results up to its terminating NULL; the
 * first error is kept in *rc and err. */
static void read_one(qf_db_t *db, PGresult **keep, int *rc, qf_error_t *err) {
  PGresult *r;
  while ((r = PQgetResult(db->conn)) != NULL) {
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
      if (keep && *keep == NULL) {
        *keep = r;
        continue;
      }
    } else if (*rc == QF_OK) {
      *rc = st == PGRES_PIPELINE_ABORTED
                ? qf_error_set(err, QF_EDB, "pipeline aborted")
                : qf_db_error(db, r, err);
    }
    PQclear(r);
  }
}

int qf_db_exec_meanwhile(qf_db_t *db, const qf_db_stmt_t *s,
                         qf_db_meanwhile_fn meanwhile, void *ctx,
                         PGresult **res, qf_error_t *err) {
  *res = NULL;
  int rc = prepare(db, s->name, s->sql, s->nparams, err);
  if (rc < 0) return rc;
  if (!PQenterPipelineMode(db->conn)) return qf_db_error(db, NULL, err);
  db->round_trips++;
  /* The statement and a sync (which flushes), sent without waiting: the
   * statement alone is its own transaction. */
  int sent = PQsendQueryPrepared(db->conn, s->name, s->nparams, s->params, NULL,
                                 NULL, 0) &&
             PQpipelineSync(db->conn);
  rc = sent ? QF_OK : qf_db_error(db, NULL, err);
  if (meanwhile) meanwhile(ctx); /* sent or not: it is owed either way */
  if (rc == QF_OK) {
    read_one(db, res, &rc, err);
    PGresult *sync = PQgetResult(db->conn);
    if (PQresultStatus(sync) != PGRES_PIPELINE_SYNC && rc == QF_OK)
      rc = qf_db_error(db, sync, err);
    PQclear(sync);
  }
  if (!PQexitPipelineMode(db->conn) && rc == QF_OK)
    rc = qf_db_error(db, NULL, err);
  if (rc < 0) {
    PQclear(*res);
    *res = NULL;
    qf_db_rollback(db);
  }
  return rc;
}
