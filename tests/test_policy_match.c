/* The policy module, part 2: the high-risk matching of reference 2.3 with
 * our fixes, the tool allowlist, the canonical JSON and the hash. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* ------------------------------------------------------------ matching */

typedef struct {
  const char *text;
  int hit;
  const char *what;
} match_case_t;

static const match_case_t default_matches[] = {
    {"deploy to pre-prod", 1, "deploy"}, /* first occurrence wins */
    {"check pre-prod now", 1, "prod"},
    {"inspect prod_db quickly", 0, ""},
    {"merge the mainline branch", 0, ""},
    {"Production!", 1, "production"},
    {"PROD", 1, "prod"},
    {"drop the prod database", 1, "drop"},
    {"is the database in production", 1, "database"},
    {"production database", 1, "production"},
    {"please rm -rf /tmp", 1, "pattern:\\brm\\s+-rf\\b"},
    {"please RM  -RF /tmp", 1, "pattern:\\brm\\s+-rf\\b"},
    {"run it with sudo", 1, "pattern:\\bsudo\\b"},
    {"sudo deploy", 1, "deploy"}, /* patterns only when no keyword */
    {"run the login tests", 0, ""},
    {"", 0, ""},
    {"undeployed", 0, ""},
    {"dbs and schemas", 0, ""},
    {"ПРОД prod", 1, "prod"},
    {"删除 prod", 1, "prod"},
    {"prod\xff", 1, "prod"},   /* invalid UTF-8 is a separator */
    {"\xc3(prod)", 1, "prod"}, /* truncated sequence */
    {"pro\xff"
     "d",
     0, ""},                                       /* ... which splits words */
    {"sudo\xed\xa0\x80", 1, "pattern:\\bsudo\\b"}, /* surrogate bytes */
};

Test(policy_match, default_keywords_and_patterns) {
  qf_policy_t *p = NULL;
  cr_assert_eq(qf_policy_load(QF_SOURCE_DIR "/policy/default.yaml", &p, NULL),
               0);
  for (size_t i = 0; i < sizeof default_matches / sizeof default_matches[0];
       i++) {
    const match_case_t *c = &default_matches[i];
    char hit[128] = "junk";
    cr_expect_eq(qf_policy_high_risk(p, c->text, hit, sizeof hit), c->hit,
                 "'%s'", c->text);
    cr_expect_str_eq(hit, c->what, "'%s'", c->text);
  }
  qf_policy_free(p);
}

Test(policy_match, unicode_keywords_are_lowercased_and_match_caselessly) {
  qf_policy_t *p = must_parse(
      "high_risk_keywords: [STAGING, École, УДАЛИТЬ, 删除, Δελτα]\n");
  cr_assert_eq(p->high_risk_keywords.n, 5);
  cr_expect_str_eq(p->high_risk_keywords.items[0], "staging");
  cr_expect_str_eq(p->high_risk_keywords.items[1], "école");
  cr_expect_str_eq(p->high_risk_keywords.items[2], "удалить");
  cr_expect_str_eq(p->high_risk_keywords.items[3], "删除");
  cr_expect_str_eq(p->high_risk_keywords.items[4], "δελτα");
  static const match_case_t cases[] = {
      {"Deploy to Staging now", 1, "staging"},
      {"l'ÉCOLE ferme", 1, "école"},
      {"удалить всё", 1, "удалить"},
      {"Удалить", 1, "удалить"},
      {"删除 表", 1, "删除"},
      {"请「删除」", 1, "删除"},
      {"请删除表", 0, ""}, /* one run of word characters: not a whole word */
      {"ΔΕΛΤΑ-9", 1, "δελτα"},
      {"staging_env", 0, ""},
      {"écoles", 0, ""},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char hit[64];
    cr_expect_eq(qf_policy_high_risk(p, cases[i].text, hit, sizeof hit),
                 cases[i].hit, "'%s'", cases[i].text);
    cr_expect_str_eq(hit, cases[i].what, "'%s'", cases[i].text);
  }
  qf_policy_free(p);
}

Test(policy_match, patterns_in_file_order_with_unicode_semantics) {
  qf_policy_t *p = must_parse(
      "high_risk_patterns: ['\\bforce\\s+push\\b', 'push', '\\d{3}']\n");
  char hit[64];
  cr_expect_eq(qf_policy_high_risk(p, "git FORCE   push", hit, sizeof hit), 1);
  cr_expect_str_eq(hit, "pattern:\\bforce\\s+push\\b");
  cr_expect_eq(qf_policy_high_risk(p, "pushed", hit, sizeof hit), 1);
  cr_expect_str_eq(hit, "pattern:push");
  cr_expect_eq(qf_policy_high_risk(p, "port ١٢٣", hit, sizeof hit), 1);
  cr_expect_str_eq(hit, "pattern:\\d{3}"); /* Arabic-Indic digits under UCP */
  cr_expect_eq(qf_policy_high_risk(p, "nothing here", hit, sizeof hit), 0);
  qf_policy_free(p);
}

Test(policy_match, pathological_pattern_hits_the_limit_and_fails_closed) {
  qf_policy_t *p = must_parse("high_risk_patterns: ['^(\\w+\\s?)*$']\n");
  char text[64];
  memset(text, 'a', 40);
  strcpy(text + 40, "!");
  char hit[64];
  cr_expect_eq(qf_policy_high_risk(p, text, hit, sizeof hit), 1);
  cr_expect_str_eq(hit, "pattern:^(\\w+\\s?)*$");
  /* the same pattern on a short text finishes: no match, no hit */
  cr_expect_eq(qf_policy_high_risk(p, "aaaa!", hit, sizeof hit), 0);
  qf_policy_free(p);
}

Test(policy_match, hit_is_truncated_to_the_buffer) {
  qf_policy_t *p = must_parse("high_risk_keywords: [production]\n");
  char hit[5];
  cr_expect_eq(qf_policy_high_risk(p, "production", hit, sizeof hit), 1);
  cr_expect_str_eq(hit, "prod");
  cr_expect_eq(qf_policy_high_risk(p, "production", NULL, 0), 1);
  cr_expect_eq(qf_policy_high_risk(p, NULL, hit, sizeof hit), 0);
  cr_expect_eq(qf_policy_high_risk(NULL, "production", hit, sizeof hit), 0);
  qf_policy_free(p);
}

Test(policy_match, no_keywords_no_patterns_never_hits) {
  qf_policy_t *p = must_parse("");
  char hit[8];
  cr_expect_eq(qf_policy_high_risk(p, "drop production", hit, sizeof hit), 0);
  qf_policy_free(p);
}

Test(policy_match, tool_allowlist) {
  qf_policy_t *all = must_parse("");
  qf_policy_t *some = must_parse("tools: {allowlist: [run_pytest]}");
  cr_expect_eq(qf_policy_tool_allowed(all, "anything"), 1);
  cr_expect_eq(qf_policy_tool_allowed(some, "run_pytest"), 1);
  cr_expect_eq(qf_policy_tool_allowed(some, "run_playwright"), 0);
  cr_expect_eq(qf_policy_tool_allowed(some, "RUN_PYTEST"), 0);
  cr_expect_eq(qf_policy_tool_allowed(some, NULL), 0);
  cr_expect_eq(qf_policy_tool_allowed(NULL, "run_pytest"), 0);
  qf_policy_free(all);
  qf_policy_free(some);
}

/* ------------------------------------------------------ canonical JSON */

static void expect_sorted(const cJSON *o, const char *where) {
  const cJSON *prev = NULL;
  for (const cJSON *c = o->child; c != NULL; c = c->next) {
    if (cJSON_IsObject(o) && prev != NULL)
      cr_expect(strcmp(prev->string, c->string) < 0, "%s: %s before %s", where,
                prev->string, c->string);
    if (cJSON_IsObject(c) || cJSON_IsArray(c))
      expect_sorted(c, c->string ? c->string : where);
    prev = c;
  }
}

Test(policy_match, json_is_canonical_sorted_compact_and_hashed) {
  qf_policy_t *p = NULL;
  cr_assert_eq(qf_policy_load(QF_SOURCE_DIR "/policy/default.yaml", &p, NULL),
               0);
  char *j = json_of(p);
  cJSON *doc = cJSON_Parse(j);
  cr_assert_not_null(doc);
  expect_sorted(doc, "top");
  cr_expect_eq(cJSON_GetArraySize(doc), 11); /* every top-level key */
  char *again = cJSON_PrintUnformatted(doc);
  cr_expect_str_eq(again, j, "not compact/canonical");
  char hex[QF_SHA256_HEX_LEN + 1];
  cr_assert_eq(qf_sha256_hex(j, strlen(j), hex), 0);
  cr_expect_str_eq(p->hash, hex);
  cr_expect_null(strchr(j, '\n'));
  cr_expect_null(strstr(j, "\"path\""));
  cJSON_free(again);
  cJSON_Delete(doc);
  free(j);
  qf_policy_free(p);
}

Test(policy_match, hash_is_stable_across_order_comments_and_quoting) {
  qf_policy_t *a = NULL, *b = NULL;
  cr_assert_eq(qf_policy_load(DATA "hash_a.yaml", &a, NULL), 0);
  cr_assert_eq(qf_policy_load(DATA "hash_b.yaml", &b, NULL), 0);
  cr_expect_str_eq(a->hash, b->hash);
  char *ja = json_of(a), *jb = json_of(b);
  cr_expect_str_eq(ja, jb);
  free(ja);
  free(jb);
  /* explicit defaults hash like absent keys */
  qf_policy_t *c = must_parse("sandbox: {enabled: true, timeout_s: 300}\n");
  qf_policy_t *d = must_parse("");
  cr_expect_str_eq(c->hash, d->hash);
  qf_policy_free(a);
  qf_policy_free(b);
  qf_policy_free(c);
  qf_policy_free(d);
}

Test(policy_match, hash_changes_when_any_value_changes) {
  static const char *const variants[] = {
      "version: '1.1'",
      "high_risk_keywords: [a]",
      "high_risk_keywords: [b]",
      "high_risk_keywords: [a, b]",
      "high_risk_keywords: [b, a]",
      "high_risk_patterns: [a]",
      "junit_pass_rule: {max_failures: 1}",
      "junit_pass_rule: {max_errors: 1}",
      "fallback_rule: {require_all_tools_success: false}",
      "cost_governance: {timeout_s: 301}",
      "cost_governance: {max_retries: 2}",
      "tools: {allowlist: [x]}",
      "tools: {playwright: {network: all}}",
      "tools: {playwright: {allowlist: [h]}}",
      "sandbox: {enabled: false}",
      "sandbox: {timeout_s: 299}",
      "sandbox: {memory_limit_mb: 513}",
      "sandbox: {allowed_paths: [tests/]}",
      "sandbox: {env_whitelist: [PATH]}",
      "artifact_limits: {max_count: 51}",
      "artifact_limits: {max_size_mb: 11}",
      "hitl: {stage: before_execute}",
      "hitl: {expires_after_s: 86401}",
      "hitl: {approvers: [alice]}",
      "hitl: {prevent_self_approval: false}",
  };
  size_t n = sizeof variants / sizeof variants[0];
  char hashes[32][QF_SHA256_HEX_LEN + 1];
  qf_policy_t *base = must_parse("");
  strcpy(hashes[n], base->hash);
  qf_policy_free(base);
  for (size_t i = 0; i < n; i++) {
    qf_policy_t *p = must_parse(variants[i]);
    strcpy(hashes[i], p->hash);
    qf_policy_free(p);
  }
  for (size_t i = 0; i <= n; i++)
    for (size_t k = i + 1; k <= n; k++)
      cr_expect_str_neq(hashes[i], hashes[k], "'%s' vs '%s'",
                        i < n ? variants[i] : "", k < n ? variants[k] : "");
}

Test(policy_match, to_json_rejects_null) {
  char *j = NULL;
  qf_error_t err;
  cr_expect_eq(qf_policy_to_json(NULL, &j, &err), QF_EINVAL);
  cr_expect_null(j);
}
