/* qf policy check: validates a policy file and prints its normalised form
 * and hash. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "qf/policy.h"

static const char usage[] =
    "usage: qf policy check FILE [--json]\n"
    "\n"
    "Validates the YAML policy FILE (DESIGN.md section 6) the way the worker\n"
    "loads it: fail closed, every key checked. On success prints a summary:\n"
    "the path, version, sha256 hash of the normalised policy, the number of\n"
    "high-risk keywords and patterns, and the limits.\n"
    "\n"
    "  --json   print {\"path\":..., \"hash\":..., \"policy\":{...}} instead,\n"
    "           where policy is the normalised policy (every key, defaults\n"
    "           filled in, keys sorted): exactly the bytes that are hashed\n"
    "\n"
    "A missing, unreadable or invalid policy (YAML syntax, unknown or\n"
    "duplicate key, wrong type, value out of range, invalid regex, anchors\n"
    "or aliases) is reported on stderr as FILE:LINE: KEY: problem.\n"
    "\n"
    "Exit codes: 0 valid, 64 usage, 65 invalid or unreadable policy.\n";

static int run(int argc, char **argv);

const qf_cmd_t qf_cmd_policy = {
    .name = "policy",
    .run = run,
    .summary = "validate a policy; print its normalised form and hash",
    .usage = usage,
};

static void print_list(const char *label, const qf_strlist_t *l) {
  printf("%-26s", label);
  if (l->n == 0) printf("(none)");
  for (size_t i = 0; i < l->n; i++)
    printf("%s%s", i ? ", " : "", l->items[i]);
  putchar('\n');
}

static void print_summary(const qf_policy_t *p) {
  static const char *const stages[] = {"after_execute", "before_execute"};
  printf("%s: valid\n", p->path);
  printf("%-26s%s\n", "version", p->version);
  printf("%-26s%s\n", "hash", p->hash);
  printf("%-26s%zu\n", "high_risk_keywords", p->high_risk_keywords.n);
  printf("%-26s%zu\n", "high_risk_patterns", p->high_risk_patterns.n);
  printf("%-26smax_failures %d, max_errors %d\n", "junit_pass_rule",
         p->max_failures, p->max_errors);
  printf("%-26srequire_all_tools_success %s\n", "fallback_rule",
         p->require_all_tools_success ? "true" : "false");
  printf("%-26stimeout_s %d, max_retries %d\n", "cost_governance", p->timeout_s,
         p->max_retries);
  if (p->tools_allowlist.n == 0)
    printf("%-26s(empty: every tool allowed)\n", "tools.allowlist");
  else
    print_list("tools.allowlist", &p->tools_allowlist);
  printf("%-26snetwork %s, %zu allowed hosts\n", "tools.playwright",
         p->playwright.network, p->playwright.allowlist.n);
  printf("%-26senabled %s, mode %s, timeout_s %d, memory_limit_mb %d\n",
         "sandbox", p->sandbox.enabled ? "true" : "false", p->sandbox.mode,
         p->sandbox.timeout_s, p->sandbox.memory_limit_mb);
  print_list("sandbox.allowed_paths", &p->sandbox.allowed_paths);
  printf("%-26s%zu entries\n", "sandbox.env_whitelist",
         p->sandbox.env_whitelist.n);
  printf("%-26smax_count %d, max_size_mb %d\n", "artifact_limits",
         p->artifact_limits.max_count, p->artifact_limits.max_size_mb);
  printf("%-26sstage %s, expires_after_s %d, prevent_self_approval %s\n",
         "hitl", stages[p->hitl.stage], p->hitl.expires_after_s,
         p->hitl.prevent_self_approval ? "true" : "false");
  if (p->hitl.approvers.n == 0)
    printf("%-26s(empty: any approver)\n", "hitl.approvers");
  else
    print_list("hitl.approvers", &p->hitl.approvers);
}

/* {"path":..., "hash":..., "policy":<canonical>}: the policy object is
 * spliced in as the very bytes that were hashed. */
static int print_json(const qf_policy_t *p) {
  char *canon = NULL, *path = NULL;
  qf_error_t err;
  cJSON *s = cJSON_CreateString(p->path);
  int rc = QF_ENOMEM;
  if (s != NULL) path = cJSON_PrintUnformatted(s);
  if (path != NULL) rc = qf_policy_to_json(p, &canon, &err);
  if (rc == QF_OK)
    printf("{\"path\":%s,\"hash\":\"%s\",\"policy\":%s}\n", path, p->hash,
           canon);
  free(canon);
  if (path != NULL) cJSON_free(path);
  cJSON_Delete(s);
  return rc;
}

static int check(const char *file, int json) {
  qf_policy_t *p = NULL;
  qf_error_t err;
  qf_error_clear(&err);
  int rc = qf_policy_load(file, &p, &err);
  if (rc < 0) {
    return qf_cli_fail("policy", qf_cli_exit_for_file(rc), "%s", err.message);
  }
  if (json)
    rc = print_json(p);
  else
    print_summary(p);
  qf_policy_free(p);
  if (rc < 0)
    return qf_cli_fail("policy", QF_EXIT_SOFTWARE, "%s", qf_strerror(rc));
  return fflush(stdout) == 0 ? QF_EXIT_PASS : QF_EXIT_FAIL;
}

static int run(int argc, char **argv) {
  static const struct option opts[] = {{"json", 0, NULL, 'j'},
                                       {NULL, 0, NULL, 0}};
  int json = 0, c;
  optind = 1;
  opterr = 0;
  /* '+' would stop at the subcommand; options may come anywhere. */
  while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
    if (c == 'j')
      json = 1;
    else
      return qf_cli_usage_error(&qf_cmd_policy, "unknown option %s",
                                argv[optind - 1]);
  }
  if (optind >= argc)
    return qf_cli_usage_error(&qf_cmd_policy, "missing subcommand (check)");
  if (strcmp(argv[optind], "check") != 0)
    return qf_cli_usage_error(&qf_cmd_policy, "unknown subcommand '%s'",
                              argv[optind]);
  if (optind + 1 >= argc)
    return qf_cli_usage_error(&qf_cmd_policy, "check needs a FILE");
  if (optind + 2 < argc)
    return qf_cli_usage_error(&qf_cmd_policy, "unexpected argument '%s'",
                              argv[optind + 2]);
  return check(argv[optind + 1], json);
}
