/* store_internal.h: what store.c and store_resume.c share. Not public. */
#ifndef QF_STORE_INTERNAL_H
#define QF_STORE_INTERNAL_H

#include <cjson/cJSON.h>
#include <libpq-fe.h>

#include "qf/store.h"

struct qf_store {
  qf_db_t *db;
  char *conninfo; /* kept to reconnect with the same settings */
  char *app;
};

/* A jsonb column of row 0 as cJSON (NULL for SQL NULL); *bad is set when
 * it does not parse. */
cJSON *qf__store_json_col(const PGresult *res, int col, int *bad);
/* A text column of row 0, malloc'ed (NULL for SQL NULL); *bad on OOM. */
char *qf__store_text_col(const PGresult *res, int col, int *bad);
/* Appends a run_events row (actor NULL: the session user). */
int qf__store_add_event(qf_db_t *db, const char *run_id, const char *event,
                        const char *actor, const cJSON *data, qf_error_t *err);
/* Explains why a compare-and-set on a run changed nothing. */
int qf__store_conflict(qf_db_t *db, const char *run_id, qf_error_t *err);
/* Serializes a document bound for jsonb, refusing one over 16 MiB. */
int qf__store_doc_text(const cJSON *doc, const char *what, char **out,
                       qf_error_t *err);

#endif
