/* The policy a worker decides by when its file changes under it: a good
 * edit is taken, a broken one keeps the last good version in force and
 * says why, and an invalid file at start is refused. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "qf/policy_source.h"
#include "support.h"

static char path[128];

static void write_policy(const char *text) {
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  fputs(text, f);
  fclose(f);
}

static void setup(void) {
  snprintf(path, sizeof path, "%s/policy.yaml", qf_test_tmpdir());
}
TestSuite(policy_source, .init = setup, .timeout = 30);

static char *version_of(const qf_policy_source_t *s) {
  qf_policy_t *p = NULL;
  qf_error_t err;
  cr_assert_eq(qf_policy_source_get(s, &p, &err), 0, "%s", err.message);
  static char v[64];
  snprintf(v, sizeof v, "%s", p->version);
  qf_policy_free(p);
  return v;
}

Test(policy_source, a_broken_edit_keeps_the_last_good_policy) {
  write_policy("version: \"one\"\nhigh_risk_keywords: [deploy]\n");
  qf_policy_source_t *s = NULL;
  qf_error_t err;
  cr_assert_eq(qf_policy_source_open(path, &s, &err), 0, "%s", err.message);
  cr_expect_str_eq(version_of(s), "one");
  cr_expect_eq(qf_policy_source_refresh(s), 0, "nothing changed");
  cr_expect_null(qf_policy_source_problem(s));
  /* An edit that breaks it: a duplicate key appended. */
  write_policy(
      "version: \"one\"\nhigh_risk_keywords: [deploy]\n"
      "version: \"two\"\n");
  cr_expect_eq(qf_policy_source_refresh(s), 1);
  const char *why = qf_policy_source_problem(s);
  cr_assert_not_null(why);
  cr_expect(strstr(why, "version") != NULL && strstr(why, ":3") != NULL &&
                strstr(why, "last good version stays in force") != NULL,
            "%s", why);
  cr_expect_str_eq(version_of(s), "one", "still the good one");
  /* Fixed: taken at the next look. */
  write_policy("version: \"three\"\nhigh_risk_keywords: [deploy, drop]\n");
  cr_expect_eq(qf_policy_source_refresh(s), 1);
  cr_expect_null(qf_policy_source_problem(s));
  cr_expect_str_eq(version_of(s), "three");
  qf_policy_source_free(s);
}

Test(policy_source, an_invalid_policy_at_start_is_refused) {
  write_policy("version: \"x\"\ncost_governance: {timeout_s: -1}\n");
  qf_policy_source_t *s = NULL;
  qf_error_t err;
  cr_expect_lt(qf_policy_source_open(path, &s, &err), 0);
  cr_expect_null(s);
  cr_expect(strstr(err.message, "timeout_s") != NULL, "%s", err.message);
}
