/* qf migrate: applies migrations/NNN_name.sql in order, once each. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "qf/db.h"
#include "qf/log.h"
#include "qf/migrate.h"
#include "qf/version.h"

static const char usage[] =
    "usage: qf migrate [--database-url URL] [--dir DIR] [--quiet]\n"
    "                  [--status | --dry-run]\n"
    "\n"
    "Applies the database migrations that have not been applied yet, in\n"
    "order, each in its own transaction, and records them in\n"
    "schema_migrations. Running it again changes nothing. Concurrent runs\n"
    "wait for each other.\n"
    "\n"
    "  --database-url URL  libpq URI or conninfo (default $QF_DATABASE_URL)\n"
    "  --dir DIR           migrations directory (default $QF_MIGRATIONS_DIR,\n"
    "                      else ./migrations, else the source tree's when qf\n"
    "                      runs from its build directory, else\n"
    "                      <qf's dir>/../share/qf/migrations, else\n"
    "                      " QF_DATADIR
    "/migrations)\n"
    "  --quiet             print nothing on success\n"
    "  --status            list every migration (applied, pending, changed,\n"
    "                      or applied by a newer qf) and change nothing\n"
    "  --dry-run           say what would be applied, and change nothing\n"
    "\n"
    "The connecting role needs CREATEROLE (the migrations create the group\n"
    "roles qf_worker and qf_approver) and must own the schema.\n"
    "\n"
    "Exit codes: 0 up to date (--status, --dry-run: whatever is pending),\n"
    "1 --status with migrations pending, 3 database unreachable, 64 usage,\n"
    "65 a migration failed or was changed after it was applied (the message\n"
    "names the file, the line and the server's error).\n";

static int run(int argc, char **argv);

const qf_cmd_t qf_cmd_migrate = {
    .name = "migrate",
    .run = run,
    .summary = "apply database migrations (idempotent)",
    .usage = usage,
};

static const char *default_dir(void) {
  const char *env = qf_cli_env("QF_MIGRATIONS_DIR", NULL);
  return env ? env : qf_cli_data_path("migrations");
}

static void on_applied(int version, const char *name, void *ctx) {
  if (*(int *)ctx) return;
  printf("applied %03d %s\n", version, name);
  fflush(stdout);
}

/* --status (dry 0) and --dry-run (dry 1): nothing is changed. A changed
 * file is 65 either way, as the run would refuse it. */
static int report(qf_db_t *db, const char *dir, int dry, qf_error_t *err) {
  static const char *const words[] = {"applied", "pending", "CHANGED",
                                      "applied by a newer qf"};
  qf_migrate_entry_t *e = NULL;
  size_t n = 0;
  int pending = 0, changed = 0;
  int rc = qf_migrate_status(db, dir, &e, &n, err);
  if (rc < 0) return rc;
  for (size_t i = 0; i < n; i++) {
    pending += e[i].state == QF_MIGRATE_PENDING;
    changed += e[i].state == QF_MIGRATE_CHANGED;
    if (dry && e[i].state == QF_MIGRATE_PENDING)
      printf("would apply %03d %s\n", e[i].version, e[i].name);
    else if (!dry)
      printf("%03d  %-28s %s\n", e[i].version,
             e[i].name[0] ? e[i].name : "(no file)", words[e[i].state]);
  }
  printf("%d pending, %d changed after they were applied\n", pending, changed);
  free(e);
  if (changed)
    return qf_error_set(err, QF_ECONFLICT,
                        "%d applied migration(s) changed on disk; add a new "
                        "migration instead",
                        changed);
  return pending && !dry ? 1 : 0;
}

static int run(int argc, char **argv) {
  static const struct option opts[] = {
      {"database-url", 1, NULL, 'u'}, {"dir", 1, NULL, 'd'},
      {"quiet", 0, NULL, 'q'},        {"status", 0, NULL, 's'},
      {"dry-run", 0, NULL, 'n'},      {NULL, 0, NULL, 0}};
  const char *url = qf_cli_env("QF_DATABASE_URL", NULL);
  const char *dir = NULL;
  int quiet = 0, status = 0, dry = 0, c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":u:d:qsn", opts, NULL)) != -1) {
    if (c == 'u')
      url = optarg;
    else if (c == 'd')
      dir = optarg;
    else if (c == 'q')
      quiet = 1;
    else if (c == 's')
      status = 1;
    else if (c == 'n')
      dry = 1;
    else if (c == ':')
      return qf_cli_usage_error(&qf_cmd_migrate, "%s needs a value",
                                argv[optind - 1]);
    else
      return qf_cli_usage_error(&qf_cmd_migrate, "unknown option %s",
                                argv[optind - 1]);
  }
  if (optind < argc)
    return qf_cli_usage_error(&qf_cmd_migrate, "unexpected argument '%s'",
                              argv[optind]);
  if (url == NULL)
    return qf_cli_usage_error(&qf_cmd_migrate,
                              "no database: set QF_DATABASE_URL or pass "
                              "--database-url");
  if (dir == NULL) dir = default_dir();
  if (status && dry)
    return qf_cli_usage_error(&qf_cmd_migrate,
                              "--status and --dry-run exclude each other");

  qf_error_t err;
  qf_error_clear(&err);
  qf_db_t *db = NULL;
  qf_migrate_report_t rep;
  int rc = qf_db_connect(url, "qf-migrate", &db, &err);
  if (rc == QF_OK && (status || dry)) {
    rc = report(db, dir, dry, &err);
    qf_db_free(db);
    return rc < 0 ? qf_cli_fail("migrate", qf_cli_exit_for_file(rc), "%s",
                                err.message)
                  : rc;
  }
  if (rc == QF_OK) rc = qf_migrate_run(db, dir, on_applied, &quiet, &rep, &err);
  qf_db_free(db);
  if (rc < 0) {
    return qf_cli_fail("migrate", qf_cli_exit_for_file(rc), "%s", err.message);
  }
  if (rep.unknown > 0)
    fprintf(stderr,
            "qf migrate: warning: the database has %d migration(s) this "
            "version of qf does not know (a newer qf migrated it)\n",
            rep.unknown);
  if (!quiet)
    printf("schema at version %03d (%d applied now, %d already applied)\n",
           rep.latest, rep.applied, rep.present);
  return QF_EXIT_PASS;
}
