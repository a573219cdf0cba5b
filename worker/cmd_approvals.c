/* qf approvals / qf approval show: what is waiting for a human, for which
 * request, since when and until when. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "qf/approvals.h"
#include "qf/utf8.h"

/* Rows one `qf approvals` prints unless --limit says otherwise. */
#define LIST_LIMIT_DEFAULT 100

static const char usage_list[] =
    "usage: qf approvals [--status S] [--run RUN_ID] [--limit N] [--long]\n"
    "                    [--json] [--database-url URL]\n"
    "\n"
    "Lists approvals, newest first, one aligned row each: the id, status,\n"
    "when it was opened and until when it may be decided, who asked, the\n"
    "gate's rule and the request. --long prints each whole, as qf approval\n"
    "show does.\n"
    "\n"
    "  --status S          pending (default), approved, rejected, expired or\n"
    "                      all\n"
    "  --run RUN_ID        only the approvals of this run\n"
    "  --limit N           at most N rows (default 100, at most 10000)\n"
    "  --json              print a JSON array of objects\n"
    "  --database-url URL  libpq URI or conninfo (default $QF_DATABASE_URL)\n"
    "\n"
    "The database role needs SELECT on approvals and runs (qf_approver or\n"
    "qf_worker).\n"
    "\n"
    "Exit codes: 0 listed (also when none), 1 permission denied, 3 database\n"
    "unavailable, 64 usage (an unknown status, a RUN_ID that is not a\n"
    "UUID).\n";

static const char usage_show[] =
    "usage: qf approval show ID [--json] [--database-url URL]\n"
    "\n"
    "Shows one approval with its run: the request (nl_input, tool, its\n"
    "arguments and workspace, who asked), the commit it tests, the gate's\n"
    "rule, the evidence summary and path, the failing tests, who may decide\n"
    "(the policy's approvers, and whether the requester may not), when it\n"
    "was opened, until when it may be decided, and the decision (who, when,\n"
    "comment or reason, when the resume was published).\n"
    "\n"
    "  --json              print a JSON object\n"
    "  --database-url URL  libpq URI or conninfo (default $QF_DATABASE_URL)\n"
    "\n"
    "Exit codes: 0 shown, 1 no such approval or permission denied, 3\n"
    "database unavailable, 64 usage (ID is not a UUID).\n";

static int run_list(int argc, char **argv);
static int run_show(int argc, char **argv);

const qf_cmd_t qf_cmd_approvals = {
    .name = "approvals",
    .run = run_list,
    .summary = "list approvals (pending by default)",
    .usage = usage_list,
};

const qf_cmd_t qf_cmd_approval = {
    .name = "approval",
    .run = run_show,
    .summary = "approval show ID: one approval with its run",
    .usage = usage_show,
};

static int connect_db(const char *cmd, const char *url, qf_db_t **db) {
  qf_error_t err;
  if (url == NULL)
    return qf_cli_fail(cmd, QF_EXIT_USAGE,
                       "no database: set QF_DATABASE_URL or pass "
                       "--database-url");
  if (qf_db_connect(url, "qf-approvals", db, &err) < 0)
    return qf_cli_fail(cmd, QF_EXIT_INFRA, "%s", err.message);
  return 0;
}

/* One "key value" line; the value escaped, so that no field (the request
 * text, a comment) can forge another line of what the approver reads. */
static void line(const char *key, const char *value) {
  if (value == NULL) return;
  char *safe = qf_utf8_escape(value);
  printf("  %-16s %s\n", key, safe ? safe : "(out of memory)");
  free(safe);
}

static const cJSON *detail(const qf_approval_t *a, const char *key) {
  return a->details ? cJSON_GetObjectItemCaseSensitive(a->details, key) : NULL;
}

/* A JSON value of the details as one escaped line (NULL for null). */
static void json_line(const char *key, const cJSON *v) {
  if (v == NULL || cJSON_IsNull(v)) return;
  char *text = cJSON_PrintUnformatted(v);
  line(key, text);
  cJSON_free(text);
}

/* What an approver weighs besides the request: its arguments, the commit
 * it tests, what failed, and who may decide. */
static void print_details(const qf_approval_t *a) {
  json_line("arguments", detail(a, "args"));
  const cJSON *ws = detail(a, "workspace");
  line("workspace", cJSON_IsString(ws) ? ws->valuestring : NULL);
  const cJSON *src = detail(a, "source"), *f;
  const cJSON *repo = cJSON_GetObjectItemCaseSensitive(src, "repo");
  const cJSON *commit = cJSON_GetObjectItemCaseSensitive(src, "commit");
  const cJSON *ref = cJSON_GetObjectItemCaseSensitive(src, "ref");
  if (cJSON_IsString(repo)) {
    char s[2300];
    snprintf(s, sizeof s, "%s at %s%s%s%s", repo->valuestring,
             cJSON_IsString(commit) ? commit->valuestring : "(not resolved)",
             cJSON_IsString(ref) ? " (" : "",
             cJSON_IsString(ref) ? ref->valuestring : "",
             cJSON_IsString(ref) ? ")" : "");
    line("source", s);
  }
  cJSON_ArrayForEach(f, detail(a, "failures")) {
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(f, "name");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(f, "message");
    char s[1700];
    snprintf(s, sizeof s, "%s%s%s", cJSON_IsString(n) ? n->valuestring : "?",
             cJSON_IsString(m) ? ": " : "",
             cJSON_IsString(m) ? m->valuestring : "");
    line("failed", s);
  }
  const cJSON *who = detail(a, "approvers");
  char rules[600];
  char *list = cJSON_GetArraySize(who) ? cJSON_PrintUnformatted(who) : NULL;
  snprintf(
      rules, sizeof rules, "%s%s", list ? list : "any member of qf_approver",
      cJSON_IsTrue(detail(a, "prevent_self_approval")) ? ", not the requester"
                                                       : "");
  cJSON_free(list);
  line("who may decide", rules);
}

/* The readable form of one approval. */
static void print_text(const qf_approval_t *a) {
  printf("approval %s  %s\n", a->id, a->status);
  line("run", a->run_id);
  line("request", a->nl_input);
  line("tool", a->tool_name ? a->tool_name : "(default)");
  line("requested by", a->requested_by);
  line("rule", a->triggered_rule);
  line("stage", a->stage);
  char *summary = a->summary ? cJSON_PrintUnformatted(a->summary) : NULL;
  line("summary", summary);
  cJSON_free(summary);
  line("evidence", a->evidence_path);
  print_details(a);
  line("created", a->created_at);
  line("expires", a->expires_at);
  line("decided by", a->decided_by);
  line("decided at", a->decided_at);
  line("comment", a->comment);
  line("reason", a->reason);
  line("resume sent", a->resume_published_at);
}

/* Prints list (n items) as JSON (an array when as_array, else list[0]). */
static int print_json(const char *cmd, const qf_approval_t *list, size_t n,
                      int as_array) {
  qf_error_t err;
  cJSON *doc = as_array ? cJSON_CreateArray() : NULL;
  char *text = NULL;
  int rc = as_array && doc == NULL ? QF_ENOMEM : QF_OK;
  for (size_t i = 0; i < n && rc == QF_OK; i++) {
    cJSON *o = NULL;
    rc = qf_approval_to_json(&list[i], &o, &err);
    if (rc < 0) break;
    if (!as_array)
      doc = o;
    else if (!cJSON_AddItemToArray(doc, o)) {
      cJSON_Delete(o);
      rc = QF_ENOMEM;
    }
  }
  if (rc == QF_OK && (doc == NULL || (text = cJSON_Print(doc)) == NULL))
    rc = QF_ENOMEM;
  if (rc == QF_OK) printf("%s\n", text);
  cJSON_free(text);
  cJSON_Delete(doc);
  return rc == QF_OK ? 0 : qf_cli_fail(cmd, QF_EXIT_SOFTWARE, "out of memory");
}

/* One aligned row per approval: what a person scans on a terminal. The
 * full id is there to paste into `qf approve`. */
static void print_table(const qf_approval_t *list, size_t n) {
  printf("%-36s %-8s %-16s %-16s %-14s %-28s %s\n", "APPROVAL", "STATUS",
         "CREATED", "EXPIRES", "REQUESTED_BY", "RULE", "REQUEST");
  for (size_t i = 0; i < n; i++) {
    const qf_approval_t *a = &list[i];
    char created[17], expires[17];
    snprintf(created, sizeof created, "%.16s",
             a->created_at ? a->created_at : "-");
    snprintf(expires, sizeof expires, "%.16s",
             a->expires_at ? a->expires_at : "-");
    qf_cli_cell(a->id, 36);
    qf_cli_cell(a->status, 8);
    qf_cli_cell(created, 16);
    qf_cli_cell(expires, 16);
    qf_cli_cell(a->requested_by, 14);
    qf_cli_cell(a->triggered_rule, 28);
    qf_cli_cell(a->nl_input, 60);
    putchar('\n');
  }
}

typedef struct list_opts {
  const char *status, *run_id, *url;
  int limit, json, wide;
} list_opts_t;

static int parse_list(int argc, char **argv, list_opts_t *o) {
  static const struct option opts[] = {{"status", 1, NULL, 's'},
                                       {"run", 1, NULL, 'r'},
                                       {"limit", 1, NULL, 'n'},
                                       {"json", 0, NULL, 'j'},
                                       {"database-url", 1, NULL, 'u'},
                                       {"long", 0, NULL, 'l'},
                                       {NULL, 0, NULL, 0}};
  int c;
  char *end;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":s:r:n:ju:l", opts, NULL)) != -1) {
    if (c == 's') {
      o->status = optarg;
    } else if (c == 'r') {
      o->run_id = optarg;
    } else if (c == 'n') {
      long v = strtol(optarg, &end, 10);
      if (*end != '\0' || v < 1 || v > QF_APPROVALS_LIST_MAX)
        return qf_cli_usage_error(&qf_cmd_approvals,
                                  "--limit must be an integer from 1 to %d",
                                  QF_APPROVALS_LIST_MAX);
      o->limit = (int)v;
    } else if (c == 'j') {
      o->json = 1;
    } else if (c == 'l') {
      o->wide = 1;
    } else if (c == 'u') {
      o->url = optarg;
    } else {
      return qf_cli_usage_error(&qf_cmd_approvals, "%s %s", argv[optind - 1],
                                c == ':' ? "needs a value" : "is unknown");
    }
  }
  if (optind < argc)
    return qf_cli_usage_error(&qf_cmd_approvals, "unexpected argument '%s'",
                              argv[optind]);
  if (o->run_id != NULL && !qf_uuid_is_valid(o->run_id))
    return qf_cli_usage_error(&qf_cmd_approvals,
                              "--run '%s' is not a run id (a UUID)", o->run_id);
  const char *ok[] = {"pending", "approved", "rejected", "expired", "all"};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
    if (strcmp(o->status, ok[i]) == 0) return 0;
  return qf_cli_usage_error(&qf_cmd_approvals,
                            "--status must be pending, approved, rejected, "
                            "expired or all, not '%s'",
                            o->status);
}

static int run_list(int argc, char **argv) {
  list_opts_t o = {.status = "pending",
                   .url = qf_cli_env("QF_DATABASE_URL", NULL),
                   .limit = LIST_LIMIT_DEFAULT};
  int code = parse_list(argc, argv, &o);
  qf_db_t *db = NULL;
  if (code != 0 || (code = connect_db("approvals", o.url, &db)) != 0)
    return code;
  qf_approval_t *list = NULL;
  size_t n = 0;
  qf_error_t err;
  int rc = qf_approvals_list(db, o.status, o.run_id, o.limit, &list, &n, &err);
  qf_db_free(db);
  if (rc < 0)
    return qf_cli_fail("approvals", qf_cli_exit_for(rc), "%s", err.message);
  if (o.json) {
    code = print_json("approvals", list, n, 1);
  } else if (o.wide) {
    for (size_t i = 0; i < n; i++) {
      if (i > 0) putchar('\n');
      print_text(&list[i]);
    }
  } else if (n > 0) {
    print_table(list, n);
  }
  if (!o.json && n == 0)
    printf("no %s%sapprovals\n", strcmp(o.status, "all") == 0 ? "" : o.status,
           strcmp(o.status, "all") == 0 ? "" : " ");
  qf_approvals_free(list, n);
  return code;
}

static int run_show(int argc, char **argv) {
  static const struct option opts[] = {{"json", 0, NULL, 'j'},
                                       {"database-url", 1, NULL, 'u'},
                                       {NULL, 0, NULL, 0}};
  const char *url = qf_cli_env("QF_DATABASE_URL", NULL);
  int json = 0, c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":ju:", opts, NULL)) != -1) {
    if (c == 'j')
      json = 1;
    else if (c == 'u')
      url = optarg;
    else
      return qf_cli_usage_error(&qf_cmd_approval, "%s %s", argv[optind - 1],
                                c == ':' ? "needs a value" : "is unknown");
  }
  if (optind >= argc || strcmp(argv[optind], "show") != 0)
    return qf_cli_usage_error(&qf_cmd_approval, "expected 'show ID'");
  if (argc - optind != 2)
    return qf_cli_usage_error(&qf_cmd_approval, "show takes one ID");
  const char *id = argv[optind + 1];
  if (!qf_uuid_is_valid(id))
    return qf_cli_usage_error(&qf_cmd_approval,
                              "'%s' is not an approval id (a UUID)", id);
  qf_db_t *db = NULL;
  int code = connect_db("approval", url, &db);
  if (code != 0) return code;
  qf_approval_t a;
  qf_error_t err;
  int rc = qf_approvals_get(db, id, &a, &err);
  qf_db_free(db);
  if (rc < 0)
    return qf_cli_fail("approval", qf_cli_exit_for(rc), "%s", err.message);
  if (json)
    code = print_json("approval", &a, 1, 0);
  else
    print_text(&a);
  qf_approval_fini(&a);
  return code;
}
