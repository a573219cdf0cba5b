/* qf evals: golden-dataset regression run. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "qf/evals.h"

static const char usage[] =
    "usage: qf evals --dataset FILE [--policy FILE] [--baseline FILE]\n"
    "                [--update-baseline] [--fail-on-regression]\n"
    "                [--output DIR] [--json]\n"
    "\n"
    "Runs every case of a golden dataset through the gate without executing\n"
    "tools (each case gives JUnit files or an evidence document), saves each\n"
    "case's evidence under DIR/<run_id>/evidence.json, and compares the\n"
    "results with the baseline, or with the cases' expectations when no\n"
    "baseline is given. A case that passed in the baseline and fails now is\n"
    "a regression even when its decision did not change.\n"
    "\n"
    "  --dataset FILE        the YAML dataset (see policy/golden.yaml)\n"
    "  --policy FILE         policy (default $QF_POLICY, else\n"
    "                        policy/default.yaml)\n"
    "  --baseline FILE       earlier results to compare with\n"
    "  --update-baseline     write this run's results to --baseline\n"
    "  --fail-on-regression  exit 1 when there is any regression\n"
    "  --output DIR          evidence and reports (default results/evals):\n"
    "                        report.json, diff_report.md\n"
    "  --json                print report.json instead of a table\n"
    "\n"
    "Exit codes: 0 done (and, with --fail-on-regression, no regression),\n"
    "1 regressions with --fail-on-regression, 64 usage, 65 invalid dataset,\n"
    "policy or baseline (the message names the file and the case).\n";

static int run(int argc, char **argv);

const qf_cmd_t qf_cmd_evals = {
    .name = "evals",
    .run = run,
    .summary = "run the golden dataset and report regressions",
    .usage = usage,
};

static void print_table(const qf_evals_report_t *rep) {
  const cJSON *results = cJSON_GetObjectItem(rep->json, "results");
  for (const cJSON *c = results->child; c; c = c->next) {
    const cJSON *miss = cJSON_GetObjectItem(c, "mismatch");
    const cJSON *why = cJSON_GetObjectItem(c, "error_message");
    printf("%-4s %-36s expected %-9s got %-9s%s%s\n",
           cJSON_IsTrue(cJSON_GetObjectItem(c, "passed")) ? "ok" : "FAIL",
           cJSON_GetObjectItem(c, "case_id")->valuestring,
           cJSON_GetObjectItem(c, "expected_decision")->valuestring,
           cJSON_GetObjectItem(c, "actual_decision")->valuestring,
           miss  ? " mismatch: "
           : why ? " error: "
                 : "",
           miss  ? miss->valuestring
           : why ? why->valuestring
                 : "");
  }
  printf(
      "\n%d/%d cases passed; %d regressions, %d improvements, %d changed, "
      "%d added, %d removed\n",
      rep->passed, rep->total, rep->regressions, rep->improvements,
      rep->changed, rep->added, rep->removed);
}

static int parse(int argc, char **argv, qf_evals_opts_t *o, int *fail_on,
                 int *json) {
  static const struct option opts[] = {{"dataset", 1, NULL, 'd'},
                                       {"policy", 1, NULL, 'p'},
                                       {"baseline", 1, NULL, 'b'},
                                       {"update-baseline", 0, NULL, 'u'},
                                       {"fail-on-regression", 0, NULL, 'f'},
                                       {"output", 1, NULL, 'o'},
                                       {"json", 0, NULL, 'j'},
                                       {NULL, 0, NULL, 0}};
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":d:p:b:ufo:j", opts, NULL)) != -1) {
    switch (c) {
      case 'd':
        o->dataset = optarg;
        break;
      case 'p':
        o->policy_path = optarg;
        break;
      case 'b':
        o->baseline = optarg;
        break;
      case 'u':
        o->update_baseline = 1;
        break;
      case 'f':
        *fail_on = 1;
        break;
      case 'o':
        o->output_dir = optarg;
        break;
      case 'j':
        *json = 1;
        break;
      case ':':
        return qf_cli_usage_error(&qf_cmd_evals, "%s needs a value",
                                  argv[optind - 1]);
      default:
        return qf_cli_usage_error(&qf_cmd_evals, "unknown option %s",
                                  argv[optind - 1]);
    }
  }
  if (optind < argc)
    return qf_cli_usage_error(&qf_cmd_evals, "unexpected argument '%s'",
                              argv[optind]);
  if (o->dataset == NULL)
    return qf_cli_usage_error(&qf_cmd_evals, "--dataset FILE is required");
  if (o->update_baseline && o->baseline == NULL)
    return qf_cli_usage_error(&qf_cmd_evals,
                              "--update-baseline needs --baseline FILE");
  return 0;
}

static int run(int argc, char **argv) {
  qf_evals_opts_t o = {.output_dir = "results/evals"};
  int fail_on = 0, json = 0;
  int code = parse(argc, argv, &o, &fail_on, &json);
  if (code != 0) return code;
  o.policy_path = qf_cli_policy_path(o.policy_path);
  qf_evals_report_t rep;
  qf_error_t err;
  qf_error_clear(&err);
  if (qf_evals_run(&o, &rep, &err) < 0)
    return qf_cli_fail("evals", QF_EXIT_DATAERR, "%s", err.message);
  if (json) {
    char *text = cJSON_Print(rep.json);
    if (text) puts(text);
    cJSON_free(text);
  } else {
    print_table(&rep);
    printf("report: %s/diff_report.md\n", o.output_dir);
  }
  code = fail_on && rep.regressions > 0 ? QF_EXIT_FAIL : QF_EXIT_PASS;
  qf_evals_report_fini(&rep);
  return code;
}
