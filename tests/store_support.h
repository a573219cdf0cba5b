/* store_support.h: the store suites' database (test_store*.c): a fresh
 * migrated database per test, and a login role that is only a member of
 * qf_worker, so a statement needing more privilege than the migrations
 * grant fails there. */
#ifndef QF_TEST_STORE_SUPPORT_H
#define QF_TEST_STORE_SUPPORT_H

#include "qf/db.h"
#include "qf/store.h"

extern char qf_st_url[512];  /* the test database, as the superuser */
extern char qf_st_wurl[600]; /* the same, as the worker login role */

/* Creates the database (named after name), migrates it, makes the role. */
void qf_st_setup(const char *name);
/* Drops the database and the role. */
void qf_st_teardown(void);
qf_db_t *qf_st_connect_as(const char *url);
/* Runs sql with at most one parameter and returns the first value of the
 * first row (static buffer; "" for no row, "NULL" for SQL NULL), or the QF
 * code's name when it fails. */
const char *qf_st_query1(qf_db_t *db, const char *sql, const char *param);
/* qf_st_query1 on a fresh superuser connection to the test database. */
const char *qf_st_admin1(const char *sql, const char *param);
/* A store logged in as the worker role. */
qf_store_t *qf_st_open(void);

#endif
