/* qf policy check: exit codes, summary, JSON output, usage errors. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <string.h>

#include "qf/hash.h"
#include "support.h"

#define DATA QF_SOURCE_DIR "/tests/data/policy/"
#define DEFAULT QF_SOURCE_DIR "/policy/default.yaml"

static int run(const char *const *argv, qf_test_proc_t *p) {
  qf_test_run(argv, NULL, 30, p);
  return p->status;
}

Test(cmd_policy, check_prints_a_summary) {
  qf_test_proc_t p;
  cr_assert_eq(
      run((const char *[]){QF_TEST_BIN, "policy", "check", DEFAULT, NULL}, &p),
      0, "stderr: %s", p.err.data);
  cr_expect_not_null(strstr(p.out.data, DEFAULT ": valid"));
  cr_expect_not_null(strstr(p.out.data, "high_risk_keywords        16"));
  cr_expect_not_null(strstr(p.out.data, "high_risk_patterns        7"));
  cr_expect_not_null(
      strstr(p.out.data, "run_playwright, run_pytest, fetch_logs"));
  cr_expect_not_null(strstr(p.out.data, "timeout_s 300, max_retries 3"));
  cr_expect_not_null(strstr(p.out.data, "stage after_execute"));
  cr_expect_str_eq(p.err.data, "");
  qf_test_proc_fini(&p);
}

Test(cmd_policy, json_output_carries_path_hash_and_policy) {
  qf_test_proc_t p;
  cr_assert_eq(run((const char *[]){QF_TEST_BIN, "policy", "check", "--json",
                                    DEFAULT, NULL},
                   &p),
               0, "stderr: %s", p.err.data);
  cJSON *doc = cJSON_Parse(p.out.data);
  cr_assert_not_null(doc, "not JSON: %s", p.out.data);
  cJSON *path = cJSON_GetObjectItemCaseSensitive(doc, "path");
  cJSON *hash = cJSON_GetObjectItemCaseSensitive(doc, "hash");
  cJSON *pol = cJSON_GetObjectItemCaseSensitive(doc, "policy");
  cr_assert(cJSON_IsString(path) && cJSON_IsString(hash) &&
            cJSON_IsObject(pol));
  cr_expect_str_eq(path->valuestring, DEFAULT);
  /* the hash is the sha256 of the canonical (compact, sorted) policy */
  char *canon = cJSON_PrintUnformatted(pol);
  char hex[QF_SHA256_HEX_LEN + 1];
  cr_assert_eq(qf_sha256_hex(canon, strlen(canon), hex), 0);
  cr_expect_str_eq(hash->valuestring, hex);
  cJSON *kw = cJSON_GetObjectItemCaseSensitive(pol, "high_risk_keywords");
  cr_expect_eq(cJSON_GetArraySize(kw), 16);
  cJSON *hitl = cJSON_GetObjectItemCaseSensitive(pol, "hitl");
  cr_expect_str_eq(cJSON_GetObjectItemCaseSensitive(hitl, "stage")->valuestring,
                   "after_execute");
  cJSON_free(canon);
  cJSON_Delete(doc);
  qf_test_proc_fini(&p);
}

Test(cmd_policy, same_policy_written_differently_has_the_same_hash) {
  qf_test_proc_t a, b;
  cr_assert_eq(run((const char *[]){QF_TEST_BIN, "policy", "check",
                                    DATA "hash_a.yaml", "--json", NULL},
                   &a),
               0);
  cr_assert_eq(run((const char *[]){QF_TEST_BIN, "policy", "check",
                                    DATA "hash_b.yaml", "--json", NULL},
                   &b),
               0);
  const char *ha = strstr(a.out.data, "\"hash\""),
             *hb = strstr(b.out.data, "\"hash\"");
  cr_assert(ha && hb);
  cr_expect_str_eq(ha, hb); /* hash and policy identical, paths differ */
  qf_test_proc_fini(&a);
  qf_test_proc_fini(&b);
}

Test(cmd_policy, invalid_policy_exits_65_naming_file_line_and_key) {
  qf_test_proc_t p;
  cr_expect_eq(run((const char *[]){QF_TEST_BIN, "policy", "check",
                                    DATA "bad_timeout.yaml", NULL},
                   &p),
               65);
  cr_expect_not_null(strstr(p.err.data, DATA "bad_timeout.yaml:5: "
                                             "cost_governance.timeout_s: "),
                     "%s", p.err.data);
  cr_expect_str_eq(p.out.data, "");
  qf_test_proc_fini(&p);
}

Test(cmd_policy, missing_file_exits_65) {
  qf_test_proc_t p;
  cr_expect_eq(run((const char *[]){QF_TEST_BIN, "policy", "check",
                                    DATA "nope.yaml", "--json", NULL},
                   &p),
               65);
  cr_expect_not_null(strstr(p.err.data, "nope.yaml"));
  cr_expect_str_eq(p.out.data, "");
  qf_test_proc_fini(&p);
}

Test(cmd_policy, usage_errors_exit_64) {
  static const char *const cases[][5] = {
      {"policy", NULL},
      {"policy", "check", NULL},
      {"policy", "frobnicate", "x", NULL},
      {"policy", "check", "--bogus", DEFAULT, NULL},
      {"policy", "check", DEFAULT, "extra", NULL},
  };
  static const char *const msgs[] = {
      "missing subcommand", "needs a FILE", "unknown subcommand 'frobnicate'",
      "unknown option --bogus", "unexpected argument 'extra'"};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *argv[7] = {QF_TEST_BIN};
    for (size_t k = 0; cases[i][k] != NULL; k++)
      argv[k + 1] = cases[i][k];
    qf_test_proc_t p;
    cr_expect_eq(run(argv, &p), 64, "case %zu", i);
    cr_expect_not_null(strstr(p.err.data, msgs[i]), "case %zu: %s", i,
                       p.err.data);
    cr_expect_not_null(strstr(p.err.data, "usage: qf policy check FILE"));
    qf_test_proc_fini(&p);
  }
}

Test(cmd_policy, help_prints_usage) {
  qf_test_proc_t p;
  cr_expect_eq(run((const char *[]){QF_TEST_BIN, "policy", "--help", NULL}, &p),
               0);
  cr_expect_not_null(strstr(p.out.data, "usage: qf policy check FILE"));
  cr_expect_not_null(strstr(p.out.data, "--json"));
  qf_test_proc_fini(&p);
  cr_expect_eq(run((const char *[]){QF_TEST_BIN, "help", "policy", NULL}, &p),
               0);
  cr_expect_not_null(strstr(p.out.data, "usage: qf policy"));
  qf_test_proc_fini(&p);
}
