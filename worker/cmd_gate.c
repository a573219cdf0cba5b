/* qf gate: decide on an evidence document under a policy. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "qf/gate.h"

static const char usage[] =
    "usage: qf gate --evidence FILE [--policy FILE] [--json]\n"
    "\n"
    "Evaluates the gate on an evidence document (evidence.json) and prints\n"
    "the decision. The budget rule applies first (tool time over the\n"
    "policy's cost_governance.timeout_s), then the ordered rules: high-risk\n"
    "input, dry run, JUnit summary, tool statuses, no data.\n"
    "\n"
    "The document is qf's own evidence.json, or the reference system's\n"
    "evidence v1 ($schema https://qualityfoundry.ai/schemas/\n"
    "evidence.v1.schema.json, or none), gated by the same rules.\n"
    "\n"
    "  --evidence FILE  the evidence document\n"
    "  --policy FILE    policy (default $QF_POLICY, else policy/default.yaml)\n"
    "  --json           print {decision, reason, triggered_rules, decided_by,\n"
    "                   policy_version, policy_hash}\n"
    "\n"
    "Exit codes: 0 PASS, 1 FAIL, 2 NEED_HITL, 64 usage, 65 invalid evidence\n"
    "or policy (the message names the file and the field or line).\n";

static int run(int argc, char **argv);

const qf_cmd_t qf_cmd_gate = {
    .name = "gate",
    .run = run,
    .summary = "decide PASS, FAIL or NEED_HITL on an evidence document",
    .usage = usage,
};

static void print_text(const qf_gate_result_t *r, const qf_policy_t *p) {
  printf("%s: %s\n", qf_decision_name(r->decision), r->reason);
  for (size_t i = 0; i < r->nrules; i++)
    printf("  rule: %s\n", r->rules[i]);
  printf("  policy: %s (version %s, sha256 %.16s)\n", p->path, p->version,
         p->hash);
}

static int decide(const char *evidence, const char *policy_path, int json) {
  qf_error_t err;
  qf_evidence_t *ev = NULL;
  qf_policy_t *p = NULL;
  cJSON *out = NULL;
  qf_gate_result_t r;
  int code = QF_EXIT_DATAERR;
  if (qf_policy_load(policy_path, &p, &err) < 0 ||
      qf_evidence_load_compat(evidence, &ev, &err) < 0) {
    qf_cli_fail("gate", code, "%s", err.message);
    goto out;
  }
  qf_gate_enforce_budget(ev, p);
  qf_gate_eval(ev, p, &r);
  if (json) {
    if (qf_gate_result_to_json(&r, p, &out, &err) < 0) {
      code = qf_cli_fail("gate", QF_EXIT_SOFTWARE, "%s", err.message);
      goto out;
    }
    char *text = cJSON_PrintUnformatted(out);
    if (text) puts(text);
    cJSON_free(text);
  } else {
    print_text(&r, p);
  }
  code = r.decision == QF_DECISION_PASS   ? QF_EXIT_PASS
         : r.decision == QF_DECISION_FAIL ? QF_EXIT_FAIL
                                          : QF_EXIT_HITL;
out:
  cJSON_Delete(out);
  qf_evidence_free(ev);
  qf_policy_free(p);
  return code;
}

static int run(int argc, char **argv) {
  static const struct option opts[] = {{"evidence", 1, NULL, 'e'},
                                       {"policy", 1, NULL, 'p'},
                                       {"json", 0, NULL, 'j'},
                                       {NULL, 0, NULL, 0}};
  const char *evidence = NULL, *policy = NULL;
  int json = 0, c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":e:p:j", opts, NULL)) != -1) {
    if (c == 'e') {
      evidence = optarg;
    } else if (c == 'p') {
      policy = optarg;
    } else if (c == 'j') {
      json = 1;
    } else if (c == ':') {
      return qf_cli_usage_error(&qf_cmd_gate, "%s needs a value",
                                argv[optind - 1]);
    } else {
      return qf_cli_usage_error(&qf_cmd_gate, "unknown option %s",
                                argv[optind - 1]);
    }
  }
  if (optind < argc)
    return qf_cli_usage_error(&qf_cmd_gate, "unexpected argument '%s'",
                              argv[optind]);
  if (evidence == NULL)
    return qf_cli_usage_error(&qf_cmd_gate, "--evidence FILE is required");
  return decide(evidence, qf_cli_policy_path(policy), json);
}
