/* qf runs / qf runs show: the runs as PostgreSQL has them, without psql:
 * a compact table (or JSON) of the newest, and one run whole with its
 * events, approvals and, on request, its stored evidence. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "qf/runs.h"
#include "qf/utf8.h"

static const char usage[] =
    "usage: qf runs [--status S] [--since T] [--limit N] [--json]\n"
    "               [--database-url URL]\n"
    "       qf runs show RUN_ID [--evidence] [--json] [--database-url URL]\n"
    "\n"
    "Lists runs, newest first, as an aligned table: id, status, the node\n"
    "it stopped after, decision and who decided, deliveries that claimed\n"
    "it, the worker holding its lease (* when the lease is live), when it\n"
    "last changed, and the request. `show` prints one run whole: its\n"
    "fields, request, waiters, approvals and events; --evidence adds the\n"
    "evidence stored in PostgreSQL (as JSON).\n"
    "\n"
    "  --status S          received, running, awaiting_approval, decided or\n"
    "                      all (default)\n"
    "  --since T           changed since: 30m, 2h, 7d, or an ISO 8601 time\n"
    "  --limit N           at most N rows (default 50, at most 10000)\n"
    "  --json              print JSON instead\n"
    "  --database-url URL  libpq URI or conninfo (default $QF_DATABASE_URL)\n"
    "\n"
    "Exit codes: 0 listed or shown, 1 no such run or permission denied, 3\n"
    "database unavailable, 64 usage.\n";

static int run(int argc, char **argv);

const qf_cmd_t qf_cmd_runs = {
    .name = "runs",
    .run = run,
    .summary = "list runs; runs show ID: one run, its events and evidence",
    .usage = usage,
};

typedef struct opts {
  qf_runs_filter_t f;
  const char *url, *show;
  int json, evidence;
} opts_t;

static const char *str(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : "-";
}

#define cell qf_cli_cell

static void print_table(const cJSON *list) {
  printf("%-36s %-17s %-14s %-9s %-8s %5s %-22s %-19s %s\n", "RUN_ID", "STATUS",
         "NODE", "DECISION", "BY", "TRIES", "OWNER", "UPDATED", "REQUEST");
  const cJSON *r;
  cJSON_ArrayForEach(r, list) {
    char owner[64], when[20];
    const cJSON *live = cJSON_GetObjectItemCaseSensitive(r, "lease_live");
    snprintf(owner, sizeof owner, "%s%s", str(r, "lease_owner"),
             cJSON_IsTrue(live) ? "*" : "");
    snprintf(when, sizeof when, "%.19s", str(r, "updated_at"));
    cell(str(r, "run_id"), 36);
    cell(str(r, "status"), 17);
    cell(str(r, "current_node"), 14);
    cell(str(r, "decision"), 9);
    cell(str(r, "decided_by"), 8);
    printf("%5d ",
           cJSON_GetObjectItemCaseSensitive(r, "attempts")
               ? cJSON_GetObjectItemCaseSensitive(r, "attempts")->valueint
               : 0);
    cell(owner, 22);
    cell(when, 19);
    cell(str(r, "nl_input"), 60);
    putchar('\n');
  }
  if (cJSON_GetArraySize(list) == 0) printf("no runs\n");
}

static void line(const char *key, const char *value) {
  char *safe = qf_utf8_escape(value);
  printf("  %-16s %s\n", key, safe ? safe : "?");
  free(safe);
}

static void print_run(const cJSON *r) {
  static const char *const keys[] = {
      "status",        "current_node",   "decision",   "decided_by",
      "reason",        "requested_by",   "nl_input",   "tool",
      "lease_owner",   "worker",         "reply_to",   "correlation_id",
      "evidence_path", "policy_version", "created_at", "updated_at",
      "decided_at"};
  printf("run %s\n", str(r, "run_id"));
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    line(keys[i], str(r, keys[i]));
  const cJSON *a, *e;
  cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(r, "approvals")) {
    char v[256];
    snprintf(v, sizeof v, "%s %s (%s)", str(a, "id"), str(a, "status"),
             str(a, "decided_by"));
    line("approval", v);
  }
  cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(r, "waiters"))
      line("waiter", str(a, "reply_to"));
  printf("events:\n");
  cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(r, "events")) {
    char *data =
        cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(e, "data"));
    /* Every field escaped: an actor names itself ("role (its claim)"). */
    char *at = qf_utf8_escape(str(e, "at"));
    char *name = qf_utf8_escape(str(e, "event"));
    char *actor = qf_utf8_escape(str(e, "actor"));
    char *safe = qf_utf8_escape(data ? data : "");
    printf("  %.23s  %-16s %-28s %s\n", at ? at : "?", name ? name : "?",
           actor ? actor : "?", safe ? safe : "");
    free(at);
    free(name);
    free(actor);
    free(safe);
    cJSON_free(data);
  }
  const cJSON *ev = cJSON_GetObjectItemCaseSensitive(r, "evidence");
  if (ev) {
    char *text = cJSON_Print(ev);
    printf("evidence:\n%s\n", text ? text : "null");
    cJSON_free(text);
  }
}

static int parse(int argc, char **argv, opts_t *o) {
  static const struct option opts[] = {
      {"status", 1, NULL, 's'},   {"since", 1, NULL, 't'},
      {"limit", 1, NULL, 'n'},    {"json", 0, NULL, 'j'},
      {"evidence", 0, NULL, 'e'}, {"database-url", 1, NULL, 'u'},
      {NULL, 0, NULL, 0}};
  int c;
  char *end;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":s:t:n:jeu:", opts, NULL)) != -1) {
    if (c == 's')
      o->f.status = strcmp(optarg, "all") == 0 ? NULL : optarg;
    else if (c == 't')
      o->f.since = optarg;
    else if (c == 'n') {
      long v = strtol(optarg, &end, 10);
      o->f.limit = *end == '\0' && v > 0 && v <= QF_RUNS_LIST_MAX ? (int)v : 0;
    } else if (c == 'j')
      o->json = 1;
    else if (c == 'e')
      o->evidence = 1;
    else if (c == 'u')
      o->url = optarg;
    else
      return qf_cli_usage_error(&qf_cmd_runs, "%s %s", argv[optind - 1],
                                c == ':' ? "needs a value" : "is unknown");
  }
  if (optind < argc && strcmp(argv[optind], "show") == 0) {
    if (argc - optind != 2)
      return qf_cli_usage_error(&qf_cmd_runs, "show takes one RUN_ID");
    o->show = argv[optind + 1];
  } else if (optind < argc) {
    return qf_cli_usage_error(&qf_cmd_runs, "unexpected argument '%s'",
                              argv[optind]);
  }
  if (o->url == NULL)
    return qf_cli_usage_error(&qf_cmd_runs,
                              "no database: set QF_DATABASE_URL or pass "
                              "--database-url");
  return 0;
}

static int run(int argc, char **argv) {
  opts_t o = {.f = {.limit = 50}, .url = qf_cli_env("QF_DATABASE_URL", NULL)};
  int code = parse(argc, argv, &o);
  if (code != 0) return code;
  qf_db_t *db = NULL;
  qf_error_t err;
  cJSON *doc = NULL;
  if (qf_db_connect(o.url, "qf-runs", &db, &err) < 0)
    return qf_cli_fail("runs", QF_EXIT_INFRA, "%s", err.message);
  int rc = o.show ? qf_runs_get(db, o.show, o.evidence, &doc, &err)
                  : qf_runs_list(db, &o.f, &doc, &err);
  qf_db_free(db);
  if (rc == QF_EINVAL)
    return qf_cli_usage_error(&qf_cmd_runs, "%s", err.message);
  if (rc < 0)
    return qf_cli_fail("runs", qf_cli_exit_for(rc), "%s", err.message);
  if (o.json) {
    char *text = cJSON_Print(doc);
    printf("%s\n", text ? text : "null");
    cJSON_free(text);
  } else if (o.show) {
    print_run(doc);
  } else {
    print_table(doc);
  }
  cJSON_Delete(doc);
  return 0;
}
