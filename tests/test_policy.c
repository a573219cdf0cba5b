/* The policy module, part 1: loading. Defaults, every key's valid and
 * invalid values (fail closed, with file, line and key), files, the shipped
 * default.yaml. Matching and hashing are in test_policy_match.c. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qf/hash.h"
#include "qf/policy.h"

#define DATA QF_SOURCE_DIR "/tests/data/policy/"

static qf_policy_t *must_parse(const char *yaml) {
  qf_policy_t *p = NULL;
  qf_error_t err;
  qf_error_clear(&err);
  int rc = qf_policy_parse(yaml, strlen(yaml), "t.yaml", &p, &err);
  cr_assert_eq(rc, 0, "parse failed (%d): %s\n---\n%s", rc, err.message, yaml);
  cr_assert_not_null(p);
  return p;
}

static char *json_of(const qf_policy_t *p) {
  char *j = NULL;
  cr_assert_eq(qf_policy_to_json(p, &j, NULL), 0);
  return j;
}

/* ------------------------------------------------------------ defaults */

static void expect_all_defaults(const qf_policy_t *p) {
  cr_expect_str_eq(p->version, "1.0");
  cr_expect_eq(p->high_risk_keywords.n, 0);
  cr_expect_eq(p->high_risk_patterns.n, 0);
  cr_expect_eq(p->max_failures, 0);
  cr_expect_eq(p->max_errors, 0);
  cr_expect_eq(p->require_all_tools_success, 1);
  cr_expect_eq(p->timeout_s, 300);
  cr_expect_eq(p->max_retries, 3);
  cr_expect_eq(p->tools_allowlist.n, 0);
  cr_expect_str_eq(p->playwright.network, "deny");
  cr_expect_eq(p->playwright.allowlist.n, 0);
  cr_expect_eq(p->sandbox.enabled, 1);
  cr_expect_str_eq(p->sandbox.mode, "subprocess");
  cr_expect_eq(p->sandbox.timeout_s, 300);
  cr_expect_eq(p->sandbox.memory_limit_mb, 512);
  cr_assert_eq(p->sandbox.allowed_paths.n, 3);
  cr_expect_str_eq(p->sandbox.allowed_paths.items[0], "tests/");
  cr_expect_str_eq(p->sandbox.allowed_paths.items[1], "test/");
  cr_expect_str_eq(p->sandbox.allowed_paths.items[2], "artifacts/");
  cr_assert_eq(p->sandbox.env_whitelist.n, 34);
  cr_expect_str_eq(p->sandbox.env_whitelist.items[0], "PATH");
  cr_expect_str_eq(p->sandbox.env_whitelist.items[17], "PROGRAMFILES(X86)");
  cr_expect_str_eq(p->sandbox.env_whitelist.items[29], "LC_*");
  cr_expect_str_eq(p->sandbox.env_whitelist.items[33], "ACTIONS_*");
  cr_expect_eq(p->artifact_limits.max_count, 50);
  cr_expect_eq(p->artifact_limits.max_size_mb, 10);
  cr_expect_eq(p->hitl.stage, QF_HITL_AFTER_EXECUTE);
  cr_expect_eq(p->hitl.expires_after_s, 86400);
  cr_expect_eq(p->hitl.approvers.n, 0);
  cr_expect_eq(p->hitl.prevent_self_approval, 1);
  cr_expect_eq(strlen(p->hash), QF_SHA256_HEX_LEN);
}

Test(policy, empty_null_and_empty_mapping_give_all_defaults) {
  static const char *const docs[] = {
      "",     "\n",    "# only a comment\n", "null\n", "~\n",
      "{}\n", "---\n", "--- {}\n...\n"};
  char first[QF_SHA256_HEX_LEN + 1] = "";
  for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
    qf_policy_t *p = must_parse(docs[i]);
    expect_all_defaults(p);
    cr_expect_str_eq(p->path, "t.yaml");
    if (i == 0) strcpy(first, p->hash);
    cr_expect_str_eq(p->hash, first, "doc %zu hashes differently", i);
    qf_policy_free(p);
  }
}

Test(policy, null_name_and_null_free) {
  qf_policy_t *p = NULL;
  cr_assert_eq(qf_policy_parse("", 0, NULL, &p, NULL), 0);
  cr_expect_str_eq(p->path, "<policy>");
  qf_policy_free(p);
  qf_policy_free(NULL);
}

/* --------------------------------------------------- valid values, per key */

typedef struct {
  const char *yaml;
  const char *json; /* a substring of the canonical JSON */
} valid_case_t;

static const valid_case_t valid_cases[] = {
    {"version: \"2.0\"", "\"version\":\"2.0\""},
    {"version: 2.0", "\"version\":\"2.0\""}, /* verbatim, not a float */
    {"version: 'x y'", "\"version\":\"x y\""},
    {"high_risk_keywords: [Deploy, DB]",
     "\"high_risk_keywords\":[\"deploy\",\"db\"]"},
    {"high_risk_keywords: []", "\"high_risk_keywords\":[]"},
    {"high_risk_patterns: ['\\bsudo\\b', 'a.*b']",
     "\"high_risk_patterns\":[\"\\\\bsudo\\\\b\",\"a.*b\"]"},
    {"junit_pass_rule: {max_failures: 2}",
     "\"junit_pass_rule\":{\"max_errors\":0,\"max_failures\":2}"},
    {"junit_pass_rule: {max_errors: 1000000}", "\"max_errors\":1000000"},
    {"fallback_rule: {require_all_tools_success: false}",
     "\"require_all_tools_success\":false"},
    {"fallback_rule: {require_all_tools_success: No}",
     "\"require_all_tools_success\":false"},
    {"fallback_rule: {require_all_tools_success: OFF}",
     "\"require_all_tools_success\":false"},
    {"fallback_rule: {require_all_tools_success: on}",
     "\"require_all_tools_success\":true"},
    {"fallback_rule: {require_all_tools_success: YES}",
     "\"require_all_tools_success\":true"},
    {"fallback_rule: {require_all_tools_success: True}",
     "\"require_all_tools_success\":true"},
    {"cost_governance: {timeout_s: 1}",
     "\"cost_governance\":{\"max_retries\":3,\"timeout_s\":1}"},
    {"cost_governance: {timeout_s: 3600, max_retries: 0}",
     "\"cost_governance\":{\"max_retries\":0,\"timeout_s\":3600}"},
    {"cost_governance: {max_retries: 10}", "\"max_retries\":10"},
    {"tools: {allowlist: [run_pytest]}",
     "\"tools\":{\"allowlist\":[\"run_pytest\"],\"playwright\":{"
     "\"allowlist\":[],\"network\":\"deny\"}}"},
    {"tools: {playwright: {network: allowlist, allowlist: [example.com]}}",
     "\"playwright\":{\"allowlist\":[\"example.com\"],\"network\":"
     "\"allowlist\"}"},
    {"tools: {playwright: {network: all}}", "\"network\":\"all\""},
    {"sandbox: {enabled: false}", "\"enabled\":false"},
    {"sandbox: {mode: subprocess, timeout_s: 60}", "\"timeout_s\":60"},
    {"sandbox: {memory_limit_mb: 64}", "\"memory_limit_mb\":64"},
    {"sandbox: {allowed_paths: [src/]}", "\"allowed_paths\":[\"src/\"]"},
    {"sandbox: {env_whitelist: [PATH, 'X_*']}",
     "\"env_whitelist\":[\"PATH\",\"X_*\"]"},
    {"artifact_limits: {max_count: 1, max_size_mb: 102400}",
     "\"artifact_limits\":{\"max_count\":1,\"max_size_mb\":102400}"},
    {"hitl: {stage: before_execute}", "\"stage\":\"before_execute\""},
    {"hitl: {expires_after_s: 1}", "\"expires_after_s\":1"},
    {"hitl: {approvers: [alice, bob]}", "\"approvers\":[\"alice\",\"bob\"]"},
    {"hitl: {prevent_self_approval: false}", "\"prevent_self_approval\":false"},
    {"version: \"é ü 删除\"", "\"version\":\"é ü 删除\""},
};

Test(policy, every_key_accepts_valid_values_and_keeps_other_defaults) {
  for (size_t i = 0; i < sizeof valid_cases / sizeof valid_cases[0]; i++) {
    qf_policy_t *p = must_parse(valid_cases[i].yaml);
    char *j = json_of(p);
    cr_expect_not_null(strstr(j, valid_cases[i].json), "%s\n => %s",
                       valid_cases[i].yaml, j);
    free(j);
    qf_policy_free(p);
  }
}

Test(policy, values_land_in_the_struct) {
  qf_policy_t *p = must_parse(
      "junit_pass_rule: {max_failures: 2, max_errors: 1}\n"
      "fallback_rule: {require_all_tools_success: false}\n"
      "cost_governance: {timeout_s: 60, max_retries: 0}\n"
      "tools: {allowlist: [run_pytest], playwright: {network: all}}\n"
      "sandbox: {enabled: false, timeout_s: 30, memory_limit_mb: 1024}\n"
      "artifact_limits: {max_count: 7, max_size_mb: 3}\n"
      "hitl: {stage: before_execute, expires_after_s: 600,\n"
      "       approvers: [alice], prevent_self_approval: no}\n");
  cr_expect_eq(p->max_failures, 2);
  cr_expect_eq(p->max_errors, 1);
  cr_expect_eq(p->require_all_tools_success, 0);
  cr_expect_eq(p->timeout_s, 60);
  cr_expect_eq(p->max_retries, 0);
  cr_assert_eq(p->tools_allowlist.n, 1);
  cr_expect_str_eq(p->playwright.network, "all");
  cr_expect_eq(p->sandbox.enabled, 0);
  cr_expect_eq(p->sandbox.timeout_s, 30);
  cr_expect_eq(p->sandbox.memory_limit_mb, 1024);
  cr_expect_eq(p->sandbox.allowed_paths.n, 3); /* still the default */
  cr_expect_eq(p->artifact_limits.max_count, 7);
  cr_expect_eq(p->artifact_limits.max_size_mb, 3);
  cr_expect_eq(p->hitl.stage, QF_HITL_BEFORE_EXECUTE);
  cr_expect_eq(p->hitl.expires_after_s, 600);
  cr_assert_eq(p->hitl.approvers.n, 1);
  cr_expect_str_eq(p->hitl.approvers.items[0], "alice");
  cr_expect_eq(p->hitl.prevent_self_approval, 0);
  qf_policy_free(p);
}

/* --------------------------------------------------------- fail closed */

typedef struct {
  const char *yaml;
  int code;
  const char *msg; /* a substring of the error message */
} bad_case_t;

static const bad_case_t bad_cases[] = {
    /* unknown keys at every level; the reference's ai_review and
       sandbox.container are unknown on purpose */
    {"versoin: '1.0'\n", QF_EVALIDATE, "t.yaml:1: versoin: unknown key"},
    {"version: '1'\nai_review:\n  enabled: false\n", QF_EVALIDATE,
     "t.yaml:2: ai_review: unknown key"},
    {"sandbox:\n  enabled: true\n  container:\n    image: x\n", QF_EVALIDATE,
     "t.yaml:3: sandbox.container: unknown key"},
    {"tools:\n  playwright:\n    netwrk: deny\n", QF_EVALIDATE,
     "t.yaml:3: tools.playwright.netwrk: unknown key"},
    {"hitl:\n  stages: before_execute\n", QF_EVALIDATE,
     "t.yaml:2: hitl.stages: unknown key"},
    /* duplicates */
    {"version: '1'\nversion: '2'\n", QF_EVALIDATE,
     "t.yaml:2: version: duplicate key (first given at line 1)"},
    {"hitl:\n  stage: after_execute\n  stage: before_execute\n", QF_EVALIDATE,
     "t.yaml:3: hitl.stage: duplicate key"},
    {"sandbox: {}\nsandbox: {}\n", QF_EVALIDATE,
     "t.yaml:2: sandbox: duplicate key"},
    /* anchors, aliases, tags, several documents */
    {"version: &v '1'\n", QF_EVALIDATE, "t.yaml:1: YAML anchors"},
    {"high_risk_keywords: [a]\nhitl:\n  approvers: *x\n", QF_EVALIDATE,
     "t.yaml:3: YAML aliases (*name) are not allowed"},
    {"sandbox: &s {enabled: true}\nhitl: *s\n", QF_EVALIDATE,
     "t.yaml:1: YAML anchors"},
    {"version: !!str 1\n", QF_EVALIDATE, "t.yaml:1: explicit YAML tags"},
    {"version: '1'\n---\nversion: '2'\n", QF_EVALIDATE,
     "t.yaml:2: only one YAML document"},
    /* the document itself */
    {"- a\n- b\n", QF_EVALIDATE, "t.yaml:1: the policy must be a mapping"},
    {"just a string\n", QF_EVALIDATE, "t.yaml:1: the policy must be a mapping"},
    {"[a]: 1\n", QF_EVALIDATE, "t.yaml:1: keys must be strings"},
    /* syntax */
    {"version: '1'\nsandbox:\n  enabled: true\n  - item\n", QF_EPARSE,
     "t.yaml:4: YAML syntax error"},
    {"version: '1'\n  bad: indent\n", QF_EPARSE, "t.yaml:2: YAML syntax error"},
    {"version: \"unterminated\n", QF_EPARSE, "t.yaml:2: YAML syntax error"},
    {"version: '1'\n\tbad: tab\n", QF_EPARSE, "YAML syntax error"},
    /* sections must be mappings, lists must be lists */
    {"sandbox: true\n", QF_EVALIDATE,
     "t.yaml:1: sandbox: must be a mapping (got true)"},
    {"sandbox:\n", QF_EVALIDATE,
     "t.yaml:1: sandbox: must be a mapping (got null)"},
    {"tools: [a]\n", QF_EVALIDATE, "tools: must be a mapping (got a list)"},
    {"high_risk_keywords: prod\n", QF_EVALIDATE,
     "t.yaml:1: high_risk_keywords: must be a list (got prod)"},
    {"high_risk_keywords:\n", QF_EVALIDATE,
     "high_risk_keywords: must be a list (got null)"},
    {"tools: {allowlist: {a: 1}}\n", QF_EVALIDATE,
     "tools.allowlist: must be a list (got a mapping)"},
    /* list items */
    {"high_risk_keywords:\n  - ok\n  - [nested]\n", QF_EVALIDATE,
     "t.yaml:3: high_risk_keywords[1]: must be a string (got a list)"},
    {"high_risk_keywords: [a, ~]\n", QF_EVALIDATE,
     "high_risk_keywords[1]: must be a string (got null)"},
    {"hitl: {approvers: ['']}\n", QF_EVALIDATE,
     "hitl.approvers[0]: must not be empty"},
    {"high_risk_keywords: [rm -rf]\n", QF_EVALIDATE,
     "high_risk_keywords[0]: \"rm -rf\" is not a single word"},
    {"high_risk_keywords: [pre-prod]\n", QF_EVALIDATE, "not a single word"},
    {"high_risk_patterns:\n  - ok\n  - '(unclosed'\n", QF_EVALIDATE,
     "t.yaml:3: high_risk_patterns[1]: invalid regex at offset 9: missing "
     "closing parenthesis"},
    {"high_risk_patterns: ['a{2,1}']\n", QF_EVALIDATE, "invalid regex"},
    {"sandbox: {env_whitelist: ['A=B']}\n", QF_EVALIDATE,
     "sandbox.env_whitelist[0]: \"A=B\" is not a variable name"},
    /* The worker's settings and credentials never reach a tool. */
    {"sandbox: {env_whitelist: [PATH, 'QF_*']}\n", QF_EVALIDATE,
     "sandbox.env_whitelist[1]: \"QF_*\" would pass QF_DATABASE_URL"},
    {"sandbox: {env_whitelist: ['*']}\n", QF_EVALIDATE,
     "sandbox.env_whitelist[0]: \"*\" would pass QF_DATABASE_URL"},
    {"sandbox: {env_whitelist: [QF_AMQP_URL]}\n", QF_EVALIDATE,
     "\"QF_AMQP_URL\" would pass QF_AMQP_URL"},
    {"sandbox: {env_whitelist: ['PG*']}\n", QF_EVALIDATE,
     "would pass PGPASSWORD"},
    {"sandbox: {env_whitelist: [GITHUB_TOKEN]}\n", QF_EVALIDATE,
     "\"GITHUB_TOKEN\" is one of the worker's settings or a credential"},
    {"version: \"a\\0b\"\n", QF_EVALIDATE, "version: must not contain a NUL"},
    {"version: ''\n", QF_EVALIDATE, "t.yaml:1: version: must not be empty"},
    {"version:\n", QF_EVALIDATE, "version: must be a string (got null)"},
    {"version: [1]\n", QF_EVALIDATE, "version: must be a string (got a list)"},
    /* integers: type, sign, range, syntax */
    {"cost_governance:\n  max_retries: 3\n  timeout_s: -5\n", QF_EVALIDATE,
     "t.yaml:3: cost_governance.timeout_s: must be an integer between 1 and "
     "3600 (got -5)"},
    {"cost_governance: {timeout_s: 0}\n", QF_EVALIDATE, "(got 0)"},
    {"cost_governance: {timeout_s: 3601}\n", QF_EVALIDATE, "(got 3601)"},
    {"cost_governance: {timeout_s: 2.0}\n", QF_EVALIDATE, "(got 2.0)"},
    {"cost_governance: {timeout_s: 1e3}\n", QF_EVALIDATE, "(got 1e3)"},
    {"cost_governance: {timeout_s: 0x10}\n", QF_EVALIDATE, "(got 0x10)"},
    {"cost_governance: {timeout_s: 010}\n", QF_EVALIDATE, "(got 010)"},
    {"cost_governance: {timeout_s: 1_000}\n", QF_EVALIDATE, "(got 1_000)"},
    {"cost_governance: {timeout_s: +5}\n", QF_EVALIDATE, "(got +5)"},
    {"cost_governance: {timeout_s: '300'}\n", QF_EVALIDATE,
     "(got quoted \"300\")"},
    {"cost_governance: {timeout_s: ten}\n", QF_EVALIDATE, "(got ten)"},
    {"cost_governance: {timeout_s: }\n", QF_EVALIDATE, "(got null)"},
    {"cost_governance: {timeout_s: 99999999999999999999}\n", QF_EVALIDATE,
     "cost_governance.timeout_s: must be an integer"},
    {"cost_governance: {max_retries: -1}\n", QF_EVALIDATE,
     "cost_governance.max_retries: must be an integer between 0 and 10"},
    {"cost_governance: {max_retries: 11}\n", QF_EVALIDATE, "(got 11)"},
    {"junit_pass_rule: {max_failures: -1}\n", QF_EVALIDATE,
     "junit_pass_rule.max_failures: must be an integer between 0"},
    {"junit_pass_rule: {max_errors: true}\n", QF_EVALIDATE,
     "junit_pass_rule.max_errors: must be an integer between 0 and 1000000 "
     "(got true)"},
    {"sandbox: {timeout_s: 0}\n", QF_EVALIDATE,
     "sandbox.timeout_s: must be an integer between 1 and 3600"},
    {"sandbox: {memory_limit_mb: 63}\n", QF_EVALIDATE,
     "sandbox.memory_limit_mb: must be an integer between 64"},
    {"artifact_limits: {max_count: 0}\n", QF_EVALIDATE,
     "artifact_limits.max_count: must be an integer between 1"},
    {"artifact_limits: {max_size_mb: -3}\n", QF_EVALIDATE,
     "artifact_limits.max_size_mb: must be an integer between 1"},
    {"hitl: {expires_after_s: 0}\n", QF_EVALIDATE,
     "hitl.expires_after_s: must be an integer between 1"},
    /* booleans */
    {"fallback_rule: {require_all_tools_success: 1}\n", QF_EVALIDATE,
     "fallback_rule.require_all_tools_success: must be true or false (got 1)"},
    {"fallback_rule: {require_all_tools_success: 'true'}\n", QF_EVALIDATE,
     "must be true or false (got quoted \"true\")"},
    {"sandbox: {enabled: y}\n", QF_EVALIDATE,
     "sandbox.enabled: must be true or false (got y)"},
    {"hitl: {prevent_self_approval: [true]}\n", QF_EVALIDATE,
     "hitl.prevent_self_approval: must be true or false (got a list)"},
    /* enums */
    {"sandbox:\n  mode: container\n", QF_EVALIDATE,
     "t.yaml:2: sandbox.mode: \"container\" is not supported by this worker"},
    {"sandbox: {mode: vm}\n", QF_EVALIDATE,
     "sandbox.mode: must be one of subprocess (got \"vm\")"},
    {"tools: {playwright: {network: open}}\n", QF_EVALIDATE,
     "tools.playwright.network: must be one of deny, allowlist, all (got "
     "\"open\")"},
    {"tools: {playwright: {network: DENY}}\n", QF_EVALIDATE,
     "must be one of deny, allowlist, all"},
    {"hitl: {stage: during}\n", QF_EVALIDATE,
     "hitl.stage: must be one of after_execute, before_execute (got "
     "\"during\")"},
    {"hitl: {stage: 1}\n", QF_EVALIDATE, "hitl.stage: must be one of"},
};

Test(policy, invalid_values_fail_closed_naming_file_line_and_key) {
  for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
    const bad_case_t *c = &bad_cases[i];
    qf_policy_t *p = (qf_policy_t *)0x1; /* must stay untouched */
    qf_error_t err;
    qf_error_clear(&err);
    int rc = qf_policy_parse(c->yaml, strlen(c->yaml), "t.yaml", &p, &err);
    cr_expect_eq(rc, c->code, "case %zu: rc %d (%s)\n%s", i, rc, err.message,
                 c->yaml);
    cr_expect_eq(err.code, c->code, "case %zu", i);
    cr_expect_not_null(strstr(err.message, c->msg),
                       "case %zu: message\n  %s\nlacks\n  %s", i, err.message,
                       c->msg);
    cr_expect_eq(p, (qf_policy_t *)0x1, "case %zu: *out written", i);
  }
}

Test(policy, errors_without_an_error_object_still_return_the_code) {
  qf_policy_t *p = NULL;
  cr_expect_eq(qf_policy_parse("x: 1", 4, NULL, &p, NULL), QF_EVALIDATE);
  cr_expect_eq(qf_policy_parse("version: 'a", 11, NULL, &p, NULL), QF_EPARSE);
  cr_expect_eq(qf_policy_load("/nonexistent/p.yaml", &p, NULL), QF_ENOENT);
  cr_expect_null(p);
}

Test(policy, invalid_utf8_in_the_file_is_a_syntax_error_with_its_line) {
  const char y[] = "version: '1'\nhigh_risk_keywords: [\xff]\n";
  qf_policy_t *p = NULL;
  qf_error_t err;
  cr_expect_eq(qf_policy_parse(y, sizeof y - 1, "t.yaml", &p, &err), QF_EPARSE);
  cr_expect_not_null(strstr(err.message, "t.yaml:2: YAML syntax error"), "%s",
                     err.message);
}

Test(policy, text_need_not_be_nul_terminated) {
  const char y[] = "version: '7'XXXX";
  qf_policy_t *p = NULL;
  cr_assert_eq(qf_policy_parse(y, 12, "t.yaml", &p, NULL), 0);
  cr_expect_str_eq(p->version, "7");
  qf_policy_free(p);
}

Test(policy, oversize_text_is_refused) {
  size_t n = QF_POLICY_MAX_BYTES + 1;
  char *big = malloc(n);
  cr_assert_not_null(big);
  memset(big, '#', n);
  qf_policy_t *p = NULL;
  qf_error_t err;
  cr_expect_eq(qf_policy_parse(big, n, "big.yaml", &p, &err), QF_ETOOBIG);
  cr_expect_not_null(strstr(err.message, "big.yaml"));
  cr_expect_eq(qf_policy_parse(big, n - 1, "ok.yaml", &p, &err), 0, "%s",
               err.message); /* a comment of exactly the maximum */
  qf_policy_free(p);
  free(big);
}

Test(policy, list_limits) {
  size_t n = QF_POLICY_MAX_ITEMS + 1;
  char *y = malloc(32 + n * 5);
  cr_assert_not_null(y);
  strcpy(y, "hitl: {approvers: [");
  for (size_t i = 0; i < n; i++)
    strcat(y, i ? ",a" : "a");
  strcat(y, "]}");
  qf_policy_t *p = NULL;
  qf_error_t err;
  cr_expect_eq(qf_policy_parse(y, strlen(y), "t.yaml", &p, &err), QF_EVALIDATE);
  cr_expect_not_null(strstr(err.message, "hitl.approvers: has more than"), "%s",
                     err.message);
  free(y);
}

/* ------------------------------------------------------------- files */

Test(policy, missing_file_is_enoent_naming_it) {
  qf_policy_t *p = NULL;
  qf_error_t err;
  cr_expect_eq(qf_policy_load(DATA "nope.yaml", &p, &err), QF_ENOENT);
  cr_expect_not_null(strstr(err.message, DATA "nope.yaml"), "%s", err.message);
  cr_expect_null(p);
}

Test(policy, directory_is_eio) {
  qf_policy_t *p = NULL;
  qf_error_t err;
  cr_expect_eq(qf_policy_load(DATA, &p, &err), QF_EIO);
  cr_expect_null(p);
}

Test(policy, oversize_file_is_etoobig) {
  char path[] = "/tmp/qf_policy_big_XXXXXX";
  int fd = mkstemp(path);
  cr_assert(fd >= 0);
  FILE *f = fdopen(fd, "w");
  cr_assert_not_null(f);
  for (size_t i = 0; i < QF_POLICY_MAX_BYTES + 1; i++)
    fputc(i % 64 == 63 ? '\n' : '#', f);
  fclose(f);
  qf_policy_t *p = NULL;
  qf_error_t err;
  int rc = qf_policy_load(path, &p, &err);
  unlink(path);
  cr_expect_eq(rc, QF_ETOOBIG, "%s", err.message);
  cr_expect_not_null(strstr(err.message, path));
}

Test(policy, file_errors_name_the_file_and_line) {
  qf_policy_t *p = NULL;
  qf_error_t err;
  cr_expect_eq(qf_policy_load(DATA "bad_timeout.yaml", &p, &err), QF_EVALIDATE);
  cr_expect_str_eq(err.message, DATA
                   "bad_timeout.yaml:5: cost_governance.timeout_s: must be "
                   "an integer between 1 and 3600 (got -5)");
}

Test(policy, partial_file_merges_with_defaults) {
  qf_policy_t *p = NULL;
  cr_assert_eq(qf_policy_load(DATA "partial.yaml", &p, NULL), 0);
  cr_expect_str_eq(p->path, DATA "partial.yaml");
  cr_assert_eq(p->high_risk_keywords.n, 1);
  cr_expect_str_eq(p->high_risk_keywords.items[0], "staging");
  cr_expect_eq(p->max_failures, 2);
  cr_expect_eq(p->max_errors, 0);
  cr_expect_eq(p->timeout_s, 300);
  cr_expect_str_eq(p->version, "1.0");
  char hit[64];
  cr_expect_eq(qf_policy_high_risk(p, "deploy to staging", hit, sizeof hit), 1);
  cr_expect_str_eq(hit, "staging");
  /* custom keywords replace the defaults: prod no longer hits */
  cr_expect_eq(qf_policy_high_risk(p, "deploy to prod", hit, sizeof hit), 0);
  cr_expect_str_eq(hit, "");
  qf_policy_free(p);
}

Test(policy, shipped_default_yaml) {
  static const char *const kw[] = {
      "delete",     "drop",   "truncate", "remove",  "destroy", "prod",
      "production", "master", "main",     "release", "deploy",  "rollback",
      "migration",  "schema", "database", "db"};
  static const char *const pat[] = {
      "\\bprod\\b",          "\\bproduction\\b", "\\bdelete\\s+from\\b",
      "\\bdrop\\s+table\\b", "\\btruncate\\b",   "\\brm\\s+-rf\\b",
      "\\bsudo\\b"};
  qf_policy_t *p = NULL;
  qf_error_t err;
  cr_assert_eq(qf_policy_load(QF_SOURCE_DIR "/policy/default.yaml", &p, &err),
               0, "%s", err.message);
  cr_assert_eq(p->high_risk_keywords.n, 16);
  for (size_t i = 0; i < 16; i++)
    cr_expect_str_eq(p->high_risk_keywords.items[i], kw[i]);
  cr_assert_eq(p->high_risk_patterns.n, 7);
  for (size_t i = 0; i < 7; i++)
    cr_expect_str_eq(p->high_risk_patterns.items[i], pat[i]);
  cr_assert_eq(p->tools_allowlist.n, 3);
  cr_expect_str_eq(p->tools_allowlist.items[0], "run_playwright");
  cr_expect_str_eq(p->tools_allowlist.items[1], "run_pytest");
  cr_expect_str_eq(p->tools_allowlist.items[2], "fetch_logs");
  cr_expect_eq(p->sandbox.env_whitelist.n, 34);
  cr_expect_eq(p->hitl.stage, QF_HITL_AFTER_EXECUTE);
  cr_expect_eq(p->hitl.expires_after_s, 86400);
  cr_expect_eq(p->hitl.prevent_self_approval, 1);
  cr_expect_eq(p->timeout_s, 300);
  cr_expect_eq(p->max_retries, 3);
  cr_expect_eq(p->artifact_limits.max_count, 50);
  qf_policy_free(p);
}

Test(policy, sources_allow_fails_closed_and_matches_whole_urls) {
  qf_policy_t *none = must_parse("version: '1'\n");
  cr_expect_not(qf_policy_source_allowed(none, "https://github.com/a/b.git"),
                "no list must allow nothing");
  qf_policy_free(none);
  qf_policy_t *p = must_parse(
      "sources:\n  allow:\n"
      "    - https://github.com/acme/*\n"
      "    - file:///srv/git/*.git\n");
  cr_expect(qf_policy_source_allowed(p, "https://github.com/acme/shop.git"));
  cr_expect(qf_policy_source_allowed(p, "https://github.com/acme/x/y.git"));
  cr_expect(qf_policy_source_allowed(p, "file:///srv/git/a.git"));
  cr_expect_not(qf_policy_source_allowed(p, "https://github.com/evil/x.git"));
  cr_expect_not(qf_policy_source_allowed(p, "https://github.com/acme"));
  cr_expect_not(qf_policy_source_allowed(p, "http://github.com/acme/x.git"));
  cr_expect_not(
      qf_policy_source_allowed(p, "https://github.com/acme.evil.com/x"));
  qf_policy_free(p);
}
