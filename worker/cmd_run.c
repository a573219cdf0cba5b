/* qf run: the whole pipeline in this process, with no broker and no
 * database (the embedded mode for a laptop or a debugging session). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "reqflags.h"
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
  qf_reqflags_t req;
  const char *policy, *artifacts;
  int json;
} flags_t;

static volatile sig_atomic_t g_stop;

static void on_signal(int sig) {
  g_stop = sig;
}

static int tick(void *ctx) {
  (void)ctx;
  return g_stop != 0; /* nonzero cancels the tool's group */
}

static int parse(int argc, char **argv, flags_t *f) {
  static const struct option opts[] = {QF_REQFLAGS_LONG,
                                       {"policy", 1, NULL, 'p'},
                                       {"artifacts", 1, NULL, 'A'},
                                       {"json", 0, NULL, 'j'},
                                       {NULL, 0, NULL, 0}};
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":" QF_REQFLAGS_SHORT "p:A:j", opts,
                          NULL)) != -1) {
    int taken = qf_reqflags_take(&f->req, c, optarg, &qf_cmd_run);
    if (taken > 1) return taken;
    if (taken == 1) continue;
    if (c == 'p') {
      f->policy = optarg;
    } else if (c == 'A') {
      f->artifacts = optarg;
    } else if (c == 'j') {
      f->json = 1;
    } else {
      return qf_cli_usage_error(&qf_cmd_run, "%s %s", argv[optind - 1],
                                c == ':' ? "needs a value" : "is unknown");
    }
  }
  if (optind < argc)
    return qf_cli_usage_error(&qf_cmd_run, "unexpected argument '%s'",
                              argv[optind]);
  if (f->req.nl == NULL)
    return qf_cli_usage_error(&qf_cmd_run, "--nl is required");
  return 0;
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
  } else if (qf_pipeline_decision_json(s, NULL, NULL, &msg, &err) == 0) {
    char *text = cJSON_PrintUnformatted(msg);
    if (text) puts(text);
    cJSON_free(text);
    cJSON_Delete(msg);
  }
  return s->result.decision == QF_DECISION_PASS   ? QF_EXIT_PASS
         : s->result.decision == QF_DECISION_FAIL ? QF_EXIT_FAIL
                                                  : QF_EXIT_HITL;
}

static int execute(const flags_t *f) {
  qf_error_t err;
  qf_request_t *req = NULL;
  qf_run_state_t s;
  char run_id[QF_UUID_STR_LEN + 1];
  qf_error_clear(&err);
  if (qf_reqflags_build(&f->req, &req, &err) < 0)
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
    code = qf_cli_fail("run", qf_cli_exit_for_file(rc), "%s", err.message);
  else
    code = report(&s, f->json);
  qf_run_state_fini(&s);
  return code;
}

static int run(int argc, char **argv) {
  flags_t f = {0};
  if (qf_reqflags_init(&f.req) < 0)
    return qf_cli_fail("run", QF_EXIT_SOFTWARE, "out of memory");
  int code = parse(argc, argv, &f);
  if (code == 0) {
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    code = execute(&f);
  }
  qf_reqflags_fini(&f.req);
  return code;
}
