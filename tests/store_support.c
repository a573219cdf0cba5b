/* store_support.c: see store_support.h. */
#include "store_support.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <unistd.h>

#include "support.h"

char qf_st_url[512];
char qf_st_wurl[600];
static char role[64];

qf_db_t *qf_st_connect_as(const char *u) {
  qf_db_t *db = NULL;
  qf_error_t err;
  cr_assert_eq(qf_db_connect(u, "qf-test", &db, &err), 0, "%s", err.message);
  return db;
}

const char *qf_st_query1(qf_db_t *db, const char *sql, const char *param) {
  static char out[4096];
  PGresult *res = NULL;
  qf_error_t err;
  const char *p[] = {param};
  int rc = qf_db_exec(db, sql, param ? 1 : 0, param ? p : NULL, &res, &err);
  if (rc < 0) {
    snprintf(out, sizeof out, "%s", qf_err_name(rc));
    return out;
  }
  if (PQntuples(res) == 0 || PQnfields(res) == 0)
    out[0] = '\0';
  else
    snprintf(out, sizeof out, "%s",
             PQgetisnull(res, 0, 0) ? "NULL" : PQgetvalue(res, 0, 0));
  PQclear(res);
  return out;
}

const char *qf_st_admin1(const char *sql, const char *param) {
  static char out[4096];
  qf_db_t *db = qf_st_connect_as(qf_st_url);
  snprintf(out, sizeof out, "%s", qf_st_query1(db, sql, param));
  qf_db_free(db);
  return out;
}

void qf_st_setup(const char *name) {
  qf_test_db_create(name, qf_st_url, sizeof qf_st_url);
  char env_url[600];
  snprintf(env_url, sizeof env_url, "QF_DATABASE_URL=%s", qf_st_url);
  const char *const env[] = {env_url, NULL};
  const char *argv[] = {QF_TEST_BIN, "migrate", "--dir",
                        QF_SOURCE_DIR "/migrations", NULL};
  qf_test_proc_t p;
  qf_test_run(argv, env, 120, &p);
  cr_assert_eq(p.status, 0, "qf migrate: %s", p.err.data);
  qf_test_proc_fini(&p);

  /* Roles are cluster-wide: one per test process. */
  snprintf(role, sizeof role, "qf_t_st%ld", (long)getpid());
  char sql[256];
  snprintf(sql, sizeof sql, "DROP ROLE IF EXISTS %s", role);
  cr_assert_str_eq(qf_st_admin1(sql, NULL), "");
  snprintf(sql, sizeof sql,
           "CREATE ROLE %s LOGIN PASSWORD 'pw-%s' IN ROLE qf_worker", role,
           role);
  cr_assert_str_eq(qf_st_admin1(sql, NULL), "");
  char pw[80];
  snprintf(pw, sizeof pw, "pw-%s", role);
  qf_test_db_url_as(qf_st_url, role, pw, qf_st_wurl, sizeof qf_st_wurl);
}

void qf_st_teardown(void) {
  qf_test_db_drop(qf_st_url);
  qf_db_t *db = qf_st_connect_as(qf_test_require_env("QF_DATABASE_URL"));
  char sql[128];
  snprintf(sql, sizeof sql, "DROP ROLE IF EXISTS %s", role);
  (void)qf_st_query1(db, sql, NULL);
  qf_db_free(db);
}

qf_store_t *qf_st_open(void) {
  qf_store_t *st = NULL;
  qf_error_t err;
  cr_assert_eq(qf_store_open(qf_st_wurl, "qf-store-test", &st, &err), 0, "%s",
               err.message);
  return st;
}
