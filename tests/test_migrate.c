/* qf migrate against the real local PostgreSQL: idempotence, errors that
 * name the file and line, and the least-privilege roles. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qf/db.h"
#include "qf/migrate.h"
#include "support.h"

static char url[512];

static void setup(void) {
  qf_test_db_create("qf_mig", url, sizeof url);
}

static void teardown(void) {
  qf_test_db_drop(url);
}

TestSuite(migrate, .init = setup, .fini = teardown, .timeout = 120);

static int migrate(const char *dir, qf_test_proc_t *p) {
  char env_url[600];
  snprintf(env_url, sizeof env_url, "QF_DATABASE_URL=%s", url);
  const char *const env[] = {env_url, NULL};
  const char *argv[] = {QF_TEST_BIN, "migrate", "--dir", dir, NULL};
  qf_test_run(argv, env, 120, p);
  return p->status;
}

static qf_db_t *connect_as(const char *u) {
  qf_db_t *db = NULL;
  qf_error_t err;
  cr_assert_eq(qf_db_connect(u, "qf-test", &db, &err), 0, "%s", err.message);
  return db;
}

/* Runs sql (no parameters) and returns the first value of the first row
 * (static buffer), or the QF code as text when it fails. */
static const char *query1(qf_db_t *db, const char *sql, qf_error_t *err) {
  static char out[QF_ERROR_MSG_MAX + 32];
  PGresult *res = NULL;
  int rc = qf_db_exec(db, sql, 0, NULL, &res, err);
  if (rc < 0) {
    snprintf(out, sizeof out, "%s", qf_err_name(rc));
    return out;
  }
  snprintf(
      out, sizeof out, "%s",
      PQntuples(res) > 0 && PQnfields(res) > 0 ? PQgetvalue(res, 0, 0) : "");
  PQclear(res);
  return out;
}

static void write_file(const char *dir, const char *name, const char *text) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  fputs(text, f);
  fclose(f);
}

static char *temp_dir(void) {
  static char tmpl[64];
  snprintf(tmpl, sizeof tmpl, "/tmp/qf-mig-XXXXXX");
  cr_assert_not_null(mkdtemp(tmpl));
  return tmpl;
}

Test(migrate, applies_once_and_second_run_changes_nothing) {
  qf_test_proc_t p;
  cr_assert_eq(migrate(QF_SOURCE_DIR "/migrations", &p), 0, "%s", p.err.data);
  cr_expect_not_null(strstr(p.out.data, "applied 001 001_initial.sql"), "%s",
                     p.out.data);
  qf_test_proc_fini(&p);

  qf_db_t *db = connect_as(url);
  qf_error_t err;
  char before[1024];
  snprintf(before, sizeof before, "%s",
           query1(db,
                  "SELECT string_agg(version || '@' || applied_at, ',') "
                  "FROM schema_migrations",
                  &err));

  cr_assert_eq(migrate(QF_SOURCE_DIR "/migrations", &p), 0, "%s", p.err.data);
  cr_expect_null(strstr(p.out.data, "applied 0"), "%s", p.out.data);
  cr_expect_not_null(strstr(p.out.data, "0 applied now"), "%s", p.out.data);
  qf_test_proc_fini(&p);

  cr_expect_str_eq(query1(db,
                          "SELECT string_agg(version || '@' || applied_at, "
                          "',') FROM schema_migrations",
                          &err),
                   before);
  cr_expect_str_eq(query1(db,
                          "SELECT count(*) FROM information_schema.tables "
                          "WHERE table_schema = 'public' AND table_name IN "
                          "('runs', 'approvals', 'run_events')",
                          &err),
                   "3");
  cr_expect_str_eq(query1(db,
                          "SELECT count(*) FROM pg_roles WHERE rolname IN "
                          "('qf_worker', 'qf_approver') AND NOT "
                          "rolcanlogin",
                          &err),
                   "2");
  qf_db_free(db);
}

Test(migrate, tables_have_the_design_columns_and_constraints) {
  qf_test_proc_t p;
  cr_assert_eq(migrate(QF_SOURCE_DIR "/migrations", &p), 0, "%s", p.err.data);
  qf_test_proc_fini(&p);
  qf_db_t *db = connect_as(url);
  qf_error_t err;
  static const char *const cols[] = {"runs.run_id",
                                     "runs.status",
                                     "runs.current_node",
                                     "runs.request",
                                     "runs.checkpoint",
                                     "runs.evidence",
                                     "runs.decision",
                                     "runs.reason",
                                     "runs.decided_by",
                                     "runs.reply_to",
                                     "runs.correlation_id",
                                     "runs.created_at",
                                     "runs.updated_at",
                                     "approvals.id",
                                     "approvals.run_id",
                                     "approvals.status",
                                     "approvals.requested_by",
                                     "approvals.decided_by",
                                     "approvals.reason",
                                     "approvals.comment",
                                     "approvals.created_at",
                                     "approvals.expires_at",
                                     "approvals.decided_at",
                                     "approvals.resume_published_at",
                                     "run_events.run_id",
                                     "run_events.event",
                                     "run_events.actor",
                                     "run_events.at",
                                     "run_events.data"};
  for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
    char sql[512];
    const char *dot = strchr(cols[i], '.');
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM information_schema.columns WHERE "
             "table_name = '%.*s' AND column_name = '%s'",
             (int)(dot - cols[i]), cols[i], dot + 1);
    cr_expect_str_eq(query1(db, sql, &err), "1", "column %s", cols[i]);
  }
  /* CHECK constraints refuse values outside the contract. */
  cr_expect_str_eq(query1(db,
                          "INSERT INTO runs (run_id, request, status) "
                          "VALUES (gen_random_uuid(), '{}', 'bogus')",
                          &err),
                   "EVALIDATE");
  cr_expect_str_eq(err.sqlstate, "23514");
  cr_expect_str_eq(query1(db,
                          "INSERT INTO runs (run_id, request, status) "
                          "VALUES (gen_random_uuid(), '{}', 'decided')",
                          &err),
                   "EVALIDATE", "a decided run needs its decision");
  qf_db_free(db);
}

/* Creates a login role in group (cluster-wide, so named per process) and
 * returns a URL that logs in as it. */
static void login_role(const char *name, const char *group, char *out,
                       size_t n) {
  qf_db_t *db = connect_as(url);
  qf_error_t err;
  char sql[256];
  snprintf(sql, sizeof sql, "DROP ROLE IF EXISTS %s", name);
  cr_assert_str_eq(query1(db, sql, &err), "", "%s", err.message);
  snprintf(sql, sizeof sql, "CREATE ROLE %s LOGIN PASSWORD 'pw-%s' IN ROLE %s",
           name, name, group);
  cr_assert_str_eq(query1(db, sql, &err), "", "%s", err.message);
  qf_db_free(db);
  char pw[64];
  snprintf(pw, sizeof pw, "pw-%s", name);
  qf_test_db_url_as(url, name, pw, out, n);
}

static void drop_role(const char *name) {
  qf_db_t *db = connect_as(url);
  qf_error_t err;
  char sql[128];
  snprintf(sql, sizeof sql, "DROP ROLE IF EXISTS %s", name);
  (void)query1(db, sql, &err);
  qf_db_free(db);
}

Test(migrate, worker_role_cannot_decide_approvals_but_approver_can) {
  qf_test_proc_t p;
  cr_assert_eq(migrate(QF_SOURCE_DIR "/migrations", &p), 0, "%s", p.err.data);
  qf_test_proc_fini(&p);
  char wname[64], aname[64], wurl[600], aurl[600];
  snprintf(wname, sizeof wname, "qf_t_w%ld", (long)getpid());
  snprintf(aname, sizeof aname, "qf_t_a%ld", (long)getpid());
  login_role(wname, "qf_worker", wurl, sizeof wurl);
  login_role(aname, "qf_approver", aurl, sizeof aurl);
  qf_error_t err;

  qf_db_t *w = connect_as(wurl);
  cr_assert_str_eq(
      query1(w,
             "INSERT INTO runs (run_id, request) VALUES "
             "('6f1c2f1e-0000-5000-8000-000000000001', '{}') RETURNING 1",
             &err),
      "1", "%s", err.message);
  char id[64];
  snprintf(id, sizeof id, "%s",
           query1(w,
                  "INSERT INTO approvals (run_id, requested_by, "
                  "expires_at) VALUES ('6f1c2f1e-0000-5000-8000-"
                  "000000000001', 'ci', now() + interval '1 hour') "
                  "RETURNING id",
                  &err));
  cr_assert_eq(strlen(id), 36, "worker opens an approval: %s %s", id,
               err.message);
  cr_expect_str_eq(query1(w, "UPDATE approvals SET status = 'approved'", &err),
                   "EPERM", "worker must not decide");
  cr_expect_str_eq(err.sqlstate, "42501");
  cr_expect_str_eq(query1(w,
                          "UPDATE approvals SET decided_by = 'ci', reason = "
                          "'x', comment = 'y'",
                          &err),
                   "EPERM");
  cr_expect_str_eq(query1(w,
                          "INSERT INTO approvals (run_id, expires_at, "
                          "status) VALUES ('6f1c2f1e-0000-5000-8000-"
                          "000000000001', now() + interval '1 hour', "
                          "'approved')",
                          &err),
                   "EPERM", "nor insert one already decided");
  cr_expect_str_eq(query1(w, "DELETE FROM run_events", &err), "EPERM");
  cr_expect_str_eq(query1(w, "UPDATE run_events SET event = 'x'", &err),
                   "EPERM", "the audit trail is append-only");
  qf_db_free(w);

  qf_db_t *a = connect_as(aurl);
  cr_expect_str_eq(query1(a, "UPDATE runs SET decision = 'PASS'", &err),
                   "EPERM", "approver must not rewrite runs");
  /* The approver decides only through the database's function, which
   * records the session user; it may not write the columns itself. */
  cr_expect_str_eq(query1(a,
                          "UPDATE approvals SET status = 'approved', "
                          "decided_by = 'somebody-else', comment = 'lgtm' "
                          "WHERE status = 'pending' RETURNING decided_by",
                          &err),
                   "EPERM", "no direct UPDATE of a decision");
  char sql[256];
  snprintf(sql, sizeof sql,
           "SELECT decided_by FROM qf_decide_approval('%s', true, 'lgtm')", id);
  cr_expect_str_eq(query1(a, sql, &err), aname,
                   "decided_by is the session user: %s", err.message);
  snprintf(sql, sizeof sql,
           "SELECT id FROM qf_decide_approval('%s', false, 'no')", id);
  cr_expect_str_eq(query1(a, sql, &err), "",
                   "the compare-and-set finds nothing left to decide");
  qf_db_free(a);
  /* Not even the owner rewrites a decision. */
  qf_db_t *o = connect_as(url);
  cr_expect_str_eq(query1(o,
                          "UPDATE approvals SET status = 'rejected', reason "
                          "= 'no' RETURNING id",
                          &err),
                   "ECONFLICT", "a decision is frozen");
  cr_expect_not_null(strstr(err.message, "already approved"), "%s",
                     err.message);
  qf_db_free(o);
  drop_role(wname);
  drop_role(aname);
}

Test(migrate, failing_file_names_file_and_line_and_leaves_no_trace) {
  char *dir = temp_dir();
  write_file(dir, "001_first.sql", "CREATE TABLE t1 (id int);\n");
  write_file(dir, "002_broken.sql",
             "CREATE TABLE t2 (id int);\n-- a comment\nSELEKT 1;\n");
  qf_test_proc_t p;
  cr_expect_eq(migrate(dir, &p), 65);
  cr_expect_not_null(strstr(p.err.data, "002_broken.sql:3:"), "%s", p.err.data);
  cr_expect_not_null(strstr(p.err.data, "syntax error"), "%s", p.err.data);
  qf_test_proc_fini(&p);
  qf_db_t *db = connect_as(url);
  qf_error_t err;
  cr_expect_str_eq(query1(db,
                          "SELECT string_agg(version::text, ',') FROM "
                          "schema_migrations",
                          &err),
                   "1");
  cr_expect_str_eq(query1(db, "SELECT to_regclass('t2') IS NULL", &err), "t",
                   "the failed file was rolled back whole");
  qf_db_free(db);

  /* An error the server gives no position for (the table exists) still
   * names the statement's line; quotes, dollar quotes and comments with
   * ';' in them do not cut a statement. */
  write_file(dir, "002_broken.sql",
             "CREATE TABLE t2 (id int); -- a comment; with a ';'\n"
             "COMMENT ON TABLE t2 IS 'one; two';\n"
             "CREATE FUNCTION f2() RETURNS int LANGUAGE sql AS $f$\n"
             "  SELECT 1; $f$;\n"
             "/* a block; comment */\n"
             "CREATE TABLE\n  t1 (id int);\n");
  cr_expect_eq(migrate(dir, &p), 65);
  cr_expect_not_null(strstr(p.err.data, "002_broken.sql:6:"), "%s", p.err.data);
  cr_expect_not_null(strstr(p.err.data, "already exists"), "%s", p.err.data);
  qf_test_proc_fini(&p);

  /* Fixed forward, the next run applies it. */
  write_file(dir, "002_broken.sql", "CREATE TABLE t2 (id int);\n");
  cr_expect_eq(migrate(dir, &p), 0, "%s", p.err.data);
  qf_test_proc_fini(&p);

  /* Changing an applied file is refused. */
  write_file(dir, "001_first.sql", "CREATE TABLE t1 (id bigint);\n");
  cr_expect_eq(migrate(dir, &p), 65);
  cr_expect_not_null(strstr(p.err.data, "001_first.sql was changed"), "%s",
                     p.err.data);
  qf_test_proc_fini(&p);
}

Test(migrate, bad_file_names_and_duplicates_are_errors) {
  char *dir = temp_dir();
  write_file(dir, "README", "not sql, ignored");
  write_file(dir, "create tables.sql", "SELECT 1;");
  qf_test_proc_t p;
  cr_expect_eq(migrate(dir, &p), 65);
  cr_expect_not_null(strstr(p.err.data, "create tables.sql"), "%s", p.err.data);
  qf_test_proc_fini(&p);
  char path[512];
  snprintf(path, sizeof path, "%s/create tables.sql", dir);
  unlink(path);
  write_file(dir, "001_a.sql", "SELECT 1;");
  write_file(dir, "001_b.sql", "SELECT 1;");
  cr_expect_eq(migrate(dir, &p), 65);
  cr_expect_not_null(strstr(p.err.data, "same version 001"), "%s", p.err.data);
  qf_test_proc_fini(&p);
  cr_expect_eq(migrate("/nonexistent/migrations", &p), 65);
  cr_expect_not_null(strstr(p.err.data, "/nonexistent/migrations"));
  qf_test_proc_fini(&p);
}

/* The number of migration files shipped. */
static int count_migrations(void) {
  DIR *d = opendir(QF_SOURCE_DIR "/migrations");
  cr_assert_not_null(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    size_t len = strlen(e->d_name);
    n += len > 4 && strcmp(e->d_name + len - 4, ".sql") == 0;
  }
  closedir(d);
  return n;
}

Test(migrate, concurrent_runs_apply_each_file_once) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd,
           "export QF_DATABASE_URL='%s'; pids=; for i in 1 2 3; do %s migrate "
           "--dir %s/migrations --quiet & pids=\"$pids $!\"; done; fail=0; "
           "for p in $pids; do wait $p || fail=1; done; exit $fail",
           url, QF_TEST_BIN, QF_SOURCE_DIR);
  qf_test_proc_t p;
  qf_test_run((const char *[]){"bash", "-c", cmd, NULL}, NULL, 120, &p);
  cr_expect_eq(p.status, 0, "%s", p.err.data);
  qf_test_proc_fini(&p);
  qf_db_t *db = connect_as(url);
  qf_error_t err;
  char want[16];
  snprintf(want, sizeof want, "%d", count_migrations());
  cr_expect_str_eq(query1(db, "SELECT count(*) FROM schema_migrations", &err),
                   want, "each file applied once");
  qf_db_free(db);
}

static int migrate_flag(const char *dir, const char *flag, qf_test_proc_t *p) {
  char env_url[600];
  snprintf(env_url, sizeof env_url, "QF_DATABASE_URL=%s", url);
  const char *const env[] = {env_url, NULL};
  const char *argv[] = {QF_TEST_BIN, "migrate", "--dir", dir, flag, NULL};
  qf_test_run(argv, env, 120, p);
  return p->status;
}

/* A copy of migrations/ with only the files up to version max. */
static char *partial_copy(int max) {
  char *dir = temp_dir(), cmd[512];
  for (int v = 1; v <= max; v++) {
    snprintf(cmd, sizeof cmd, "cp %s/migrations/%03d_*.sql %s/", QF_SOURCE_DIR,
             v, dir);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
  }
  return dir;
}

Test(migrate, status_and_dry_run_change_nothing) {
  qf_test_proc_t p;
  /* Never migrated: everything pending, nothing created. */
  cr_expect_eq(migrate_flag(QF_SOURCE_DIR "/migrations", "--status", &p), 1,
               "%s%s", p.out.data, p.err.data);
  cr_expect(strstr(p.out.data, "001  001_initial.sql") != NULL, "%s",
            p.out.data);
  cr_expect(strstr(p.out.data, "pending") != NULL, "%s", p.out.data);
  qf_test_proc_fini(&p);
  cr_expect_eq(migrate_flag(QF_SOURCE_DIR "/migrations", "--dry-run", &p), 0);
  cr_expect(strstr(p.out.data, "would apply 001 001_initial.sql") != NULL, "%s",
            p.out.data);
  qf_test_proc_fini(&p);
  qf_db_t *db = connect_as(url);
  qf_error_t err;
  cr_expect_str_eq(query1(db, "SELECT to_regclass('runs') IS NULL", &err), "t",
                   "--status or --dry-run created tables");
  /* Migrated: all applied; an edited file shows as changed, 65. */
  cr_assert_eq(migrate(QF_SOURCE_DIR "/migrations", &p), 0, "%s", p.err.data);
  qf_test_proc_fini(&p);
  cr_expect_eq(migrate_flag(QF_SOURCE_DIR "/migrations", "--status", &p), 0,
               "%s%s", p.out.data, p.err.data);
  cr_expect(strstr(p.out.data, "0 pending, 0 changed") != NULL, "%s",
            p.out.data);
  qf_test_proc_fini(&p);
  char *dir = partial_copy(QF_SCHEMA_VERSION);
  write_file(dir, "002_worker.sql", "-- edited after it was applied\n");
  cr_expect_eq(migrate_flag(dir, "--status", &p), 65, "%s", p.out.data);
  cr_expect(strstr(p.out.data, "002  002_worker.sql") != NULL &&
                strstr(p.out.data, "CHANGED") != NULL,
            "%s", p.out.data);
  qf_test_proc_fini(&p);
  qf_db_free(db);
}

Test(migrate, the_worker_refuses_an_older_schema_naming_the_command) {
  qf_test_proc_t p;
  char *dir = partial_copy(QF_SCHEMA_VERSION - 1);
  cr_assert_eq(migrate(dir, &p), 0, "%s", p.err.data);
  qf_test_proc_fini(&p);
  char env_url[600];
  snprintf(env_url, sizeof env_url, "QF_DATABASE_URL=%s", url);
  const char *const env[] = {
      env_url, "QF_MAX_BACKOFF_S=1", "QF_TOPOLOGY_PREFIX=qfmig",
      "QF_POLICY=" QF_SOURCE_DIR "/policy/default.yaml", NULL};
  const char *argv[] = {QF_TEST_BIN, "worker", NULL};
  qf_test_run(argv, env, 60, &p);
  cr_expect_eq(p.status, 78, "%s", p.err.data);
  char want[64];
  snprintf(want, sizeof want, "needs %03d: run `qf migrate`",
           QF_SCHEMA_VERSION);
  cr_expect(strstr(p.err.data, want) != NULL, "%s", p.err.data);
  qf_test_proc_fini(&p);
}
