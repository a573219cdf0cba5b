/* qf run: the whole pipeline in this process, with no broker and no
 * database (the embedded mode for a laptop or a debugging session). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "qf/pipeline.h"

static const char usage[] =
    "usage: qf run --nl TEXT [--tool T] [--arg K=V]... [--timeout S]\n"
    "              [--dry-run] [--workspace DIR] [--policy FILE]\n"
    "              [--artifacts DIR] [--json]\n"
    "\n"
    "Runs one request through normalize, load_policy, plan, execute,\n"
    "enforce_budget, collect and gate in this process, writes\n"
    "<artifacts>/<run_id>/evidence.json and prints the decision.\n"
    "\n"
    "  --nl TEXT        the request in natural language (required)\n"
    "  --tool T         run_pytest or run_playwright (default: chosen from\n"
    "                   the text, as the worker does)\n"
    "  --arg K=V        a tool argument; V is JSON when it parses as JSON\n"
    "                   (--arg extra_args='[\"-x\"]'), else a string\n"
    "  --timeout S      tool timeout, 1..3600 (clamped by the policy)\n"
    "  --dry-run        plan and validate, run nothing\n"
    "  --workspace DIR  where the tool runs, relative to $QF_WORKSPACE_ROOT\n"
    "                   (default: the current directory)\n"
    "  --policy FILE    default $QF_POLICY, else policy/default.yaml\n"
    "  --artifacts DIR  default $QF_ARTIFACTS_ROOT, else ./artifacts\n"
    "  --json           print the decision message (DESIGN.md section 3)\n"
    "\n"
    "Ctrl-C stops the tool's whole process group and exits 3.\n"
    "Exit codes: 0 PASS, 1 FAIL, 2 NEED_HITL, 3 interrupted or an\n"
    "infrastructure error, 64 usage, 65 invalid request or policy.\n";

static int run(int argc, char **argv);

const qf_cmd_t qf_cmd_run = {
    .name = "run",
    .run = run,
    .summary = "run one request in-process (no broker, no database)",
    .usage = usage,
};

typedef struct flags {
  const char *nl, *tool, *workspace, *policy, *artifacts;
  int timeout_s, dry_run, json;
  cJSON *args; /* owned */
} flags_t;

static volatile sig_atomic_t g_stop;

static void on_signal(int sig) {
  g_stop = sig;
}

static int tick(void *ctx) {
  (void)ctx;
  return g_stop != 0; /* nonzero cancels the tool's group */
}

static int add_arg(flags_t *f, const char *kv) {
  const char *eq = strchr(kv, '=');
  if (eq == NULL || eq == kv) return -1;
  char key[128];
  snprintf(key, sizeof key, "%.*s", (int)(eq - kv), kv);
  cJSON *v = cJSON_Parse(eq + 1);
  if (v == NULL) v = cJSON_CreateString(eq + 1);
  cJSON_DeleteItemFromObjectCaseSensitive(f->args, key);
  if (v == NULL || !cJSON_AddItemToObject(f->args, key, v)) {
    cJSON_Delete(v);
    return -1;
  }
  return 0;
}

static int parse(int argc, char **argv, flags_t *f) {
  static const struct option opts[] = {
      {"nl", 1, NULL, 'n'},      {"tool", 1, NULL, 't'},
      {"arg", 1, NULL, 'a'},     {"timeout", 1, NULL, 'T'},
      {"dry-run", 0, NULL, 'd'}, {"workspace", 1, NULL, 'w'},
      {"policy", 1, NULL, 'p'},  {"artifacts", 1, NULL, 'A'},
      {"json", 0, NULL, 'j'},    {NULL, 0, NULL, 0}};
  int c;
  char *end;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":n:t:a:T:dw:p:A:j", opts, NULL)) != -1) {
    switch (c) {
      case 'n':
        f->nl = optarg;
        break;
      case 't':
        f->tool = optarg;
        break;
      case 'w':
        f->workspace = optarg;
        break;
      case 'p':
        f->policy = optarg;
        break;
      case 'A':
        f->artifacts = optarg;
        break;
      case 'd':
        f->dry_run = 1;
        break;
      case 'j':
        f->json = 1;
        break;
      case 'a':
        if (add_arg(f, optarg) < 0)
          return qf_cli_usage_error(&qf_cmd_run, "--arg needs K=V, got '%s'",
                                    optarg);
        break;
      case 'T':
        f->timeout_s = (int)strtol(optarg, &end, 10);
        if (*end != '\0' || f->timeout_s < 1 || f->timeout_s > 3600)
          return qf_cli_usage_error(&qf_cmd_run, "--timeout must be 1..3600");
        break;
      case ':':
        return qf_cli_usage_error(&qf_cmd_run, "%s needs a value",
                                  argv[optind - 1]);
      default:
        return qf_cli_usage_error(&qf_cmd_run, "unknown option %s",
                                  argv[optind - 1]);
    }
  }
  if (optind < argc)
    return qf_cli_usage_error(&qf_cmd_run, "unexpected argument '%s'",
                              argv[optind]);
  if (f->nl == NULL) return qf_cli_usage_error(&qf_cmd_run, "--nl is required");
  return 0;
}

/* The request as the worker would receive it: built from the flags, then
 * validated by the same parser (the workspace rule included). */
static int build_request(const flags_t *f, qf_request_t **out,
                         qf_error_t *err) {
  qf_request_t *r = NULL;
  char *text = NULL;
  int has_args = cJSON_GetArraySize(f->args) > 0;
  int rc = qf_request_new(f->nl, f->tool, has_args ? f->args : NULL,
                          f->timeout_s, f->dry_run, &r, err);
  if (rc < 0 || f->workspace == NULL) {
    *out = r;
    return rc;
  }
  rc = qf_request_to_json(r, &text, err);
  qf_request_free(r);
  if (rc < 0) return rc;
  cJSON *doc = cJSON_Parse(text);
  free(text);
  cJSON_ReplaceItemInObject(doc, "workspace", cJSON_CreateString(f->workspace));
  text = cJSON_PrintUnformatted(doc);
  cJSON_Delete(doc);
  rc = text ? qf_request_parse(text, strlen(text), out, err) : QF_ENOMEM;
  cJSON_free(text);
  return rc;
}

static void print_text(const qf_run_state_t *s) {
  const qf_gate_result_t *r = &s->result;
  printf("%s: %s\n", qf_decision_name(r->decision), r->reason);
  for (size_t i = 0; i < r->nrules; i++)
    printf("  rule: %s\n", r->rules[i]);
  printf("  run: %s\n  evidence: %s\n", s->run_id,
         s->evidence_path ? s->evidence_path : "none (nothing ran yet)");
}

static int report(const qf_run_state_t *s, int json) {
  qf_error_t err;
  cJSON *msg = NULL;
  if (!json) {
    print_text(s);
  } else if (qf_pipeline_decision_json(s, NULL, &msg, &err) == 0) {
    char *text = cJSON_PrintUnformatted(msg);
    if (text) puts(text);
    cJSON_free(text);
    cJSON_Delete(msg);
  }
  return s->result.decision == QF_DECISION_PASS   ? QF_EXIT_PASS
         : s->result.decision == QF_DECISION_FAIL ? QF_EXIT_FAIL
                                                  : QF_EXIT_HITL;
}

static int failure_exit(int rc) {
  return rc == QF_EVALIDATE || rc == QF_EPARSE || rc == QF_ETOOBIG ||
                 rc == QF_ENOENT
             ? QF_EXIT_DATAERR
             : QF_EXIT_INFRA;
}

static int execute(const flags_t *f) {
  qf_error_t err;
  qf_request_t *req = NULL;
  qf_run_state_t s;
  char run_id[QF_UUID_STR_LEN + 1];
  qf_error_clear(&err);
  if (build_request(f, &req, &err) < 0)
    return qf_cli_fail("run", QF_EXIT_DATAERR, "invalid request: %s",
                       err.message);
  if (qf_uuid_v4(run_id) < 0) {
    qf_request_free(req);
    return qf_cli_fail("run", QF_EXIT_SOFTWARE, "cannot make a run id");
  }
  qf_run_state_init(&s, run_id, req);
  qf_run_cfg_t cfg = {
      .policy_path = qf_cli_policy_path(f->policy),
      .artifacts_root = f->artifacts
                            ? f->artifacts
                            : qf_cli_env("QF_ARTIFACTS_ROOT", "artifacts"),
      .workspace_root = qf_cli_env("QF_WORKSPACE_ROOT", "."),
      .tick = tick};
  int rc = qf_pipeline_run(&s, &cfg, NULL, NULL, &err);
  int code;
  if (g_stop)
    code = qf_cli_fail("run", QF_EXIT_INFRA, "interrupted by signal %d",
                       (int)g_stop);
  else if (rc < 0)
    code = qf_cli_fail("run", failure_exit(rc), "%s", err.message);
  else
    code = report(&s, f->json);
  qf_run_state_fini(&s);
  return code;
}

static int run(int argc, char **argv) {
  flags_t f = {.args = cJSON_CreateObject()};
  if (f.args == NULL) return qf_cli_fail("run", QF_EXIT_SOFTWARE, "oom");
  int code = parse(argc, argv, &f);
  if (code == 0) {
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    code = execute(&f);
  }
  cJSON_Delete(f.args);
  return code;
}
