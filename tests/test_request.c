#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qf/request.h"
#include "json_equal.h"
#include "qf/utf8.h"

TestSuite(request, .timeout = 30);

struct bad_case {
  const char *body;
  size_t len; /* 0: strlen(body) */
  int code;
  const char *prefix; /* the message starts with this */
};

#define OPT(o) "{\"nl_input\":\"x\",\"options\":{" o "}}"
#define TOP(k) "{\"nl_input\":\"x\"," k "}"
#define V QF_EVALIDATE
#define P QF_EPARSE

static const struct bad_case bad_cases[] = {
    /* nl_input */
    {"{}", 0, V, "nl_input: missing"},
    {"{\"environment_id\":null}", 0, V, "nl_input: missing"},
    {"{\"nl_input\":\"\"}", 0, V, "nl_input: must not be empty"},
    {"{\"nl_input\":null}", 0, V, "nl_input: must be a string (got null)"},
    {"{\"nl_input\":42}", 0, V, "nl_input: must be a string (got number)"},
    {"{\"nl_input\":true}", 0, V, "nl_input: must be a string (got boolean)"},
    {"{\"nl_input\":[\"x\"]}", 0, V, "nl_input: must be a string (got array)"},
    {"{\"nl_input\":{}}", 0, V, "nl_input: must be a string (got object)"},
    /* environment_id */
    {TOP("\"environment_id\":7"), 0, V,
     "environment_id: must be a string or null (got number)"},
    {TOP("\"environment_id\":\"prod\""), 0, V,
     "environment_id: must be a UUID (8-4-4-4-12 hex digits)"},
    {TOP("\"environment_id\":\"6ba7b8109dad11d180b400c04fd430c8\""), 0, V,
     "environment_id: must be a UUID"},
    {TOP("\"environment_id\":\"6ba7b810-9dad-11d1-80b4-00c04fd430c8 \""), 0, V,
     "environment_id: must be a UUID"},
    {TOP("\"environment_id\":\"\""), 0, V, "environment_id: must be a UUID"},
    /* source */
    {TOP("\"source\":\"https://h/r.git\""), 0, V,
     "source: must be an object or null (got string)"},
    {TOP("\"source\":{}"), 0, V, "source.repo: missing"},
    {TOP("\"source\":{\"repo\":\"https://h/r.git\"}"), 0, V,
     "source: needs exactly one of commit and ref"},
    {TOP("\"source\":{\"repo\":\"/r\",\"ref\":\"m\",\"commit\":\""
         "0123456789012345678901234567890123456789\"}"),
     0, V, "source: needs exactly one of commit and ref"},
    {TOP("\"source\":{\"repo\":\"/r\",\"ref\":\"m\",\"path\":\"x\"}"), 0, V,
     "source.path: unknown key"},
    {TOP("\"source\":{\"repo\":\"/r\",\"ref\":\"m\",\"ref\":\"n\"}"), 0, V,
     "source.ref: duplicate key"},
    {TOP("\"source\":{\"repo\":\"https://bob:s3cret@h/r.git\","
         "\"ref\":\"m\"}"),
     0, V, "source.repo: must not carry credentials"},
    {TOP("\"source\":{\"repo\":\"https://h/team/../other\",\"ref\":\"m\"}"), 0,
     V, "source.repo: must not contain a \"..\" component"},
    {TOP("\"source\":{\"repo\":\"https://h/a b\",\"ref\":\"m\"}"), 0, V,
     "source.repo: must not contain spaces"},
    {TOP("\"source\":{\"repo\":\"--upload-pack=x\",\"ref\":\"m\"}"), 0, V,
     "source.repo: must not start with '-'"},
    {TOP("\"source\":{\"repo\":\"file://host/r\",\"ref\":\"m\"}"), 0, V,
     "source.repo: a file URL must be file:///absolute/path"},
    {TOP("\"source\":{\"repo\":\"relative/r\",\"ref\":\"m\"}"), 0, V,
     "source.repo: must be an https, http, ssh, git or file URL"},
    {TOP("\"source\":{\"repo\":\"/r\",\"commit\":\"abc123\"}"), 0, V,
     "source.commit: must be a full 40-digit commit id"},
    {TOP("\"source\":{\"repo\":\"/r\",\"commit\":\""
         "g123456789012345678901234567890123456789\"}"),
     0, V, "source.commit: must be hexadecimal digits"},
    {TOP("\"source\":{\"repo\":\"/r\",\"ref\":\"HEAD~1\"}"), 0, V,
     "source.ref: may contain only letters, digits and . _ / - +"},
    {TOP("\"source\":{\"repo\":\"/r\",\"ref\":\"a..b\"}"), 0, V,
     "source.ref: is not a valid git ref name"},
    {TOP("\"source\":{\"repo\":\"/r\",\"ref\":\"-delete\"}"), 0, V,
     "source.ref: is not a valid git ref name"},
    {TOP("\"source\":{\"repo\":\"/r\",\"ref\":\"x.lock\"}"), 0, V,
     "source.ref: is not a valid git ref name"},
    {TOP("\"source\":{\"repo\":\"/r\",\"ref\":\"\"}"), 0, V,
     "source.ref: must be a non-empty string"},
    /* options */
    {TOP("\"options\":[]"), 0, V,
     "options: must be an object or null (got array)"},
    {TOP("\"options\":\"fast\""), 0, V,
     "options: must be an object or null (got string)"},
    {OPT("\"tool_name\":\"\""), 0, V, "options.tool_name: must not be empty"},
    {OPT("\"tool_name\":null"), 0, V,
     "options.tool_name: must be a string (got null)"},
    {OPT("\"tool_name\":1"), 0, V,
     "options.tool_name: must be a string (got number)"},
    {OPT("\"tool_name\":\"Run_Pytest\""), 0, V,
     "options.tool_name: must contain only a-z, 0-9 and _ (bad byte 0)"},
    {OPT("\"tool_name\":\"run-pytest\""), 0, V,
     "options.tool_name: must contain only a-z, 0-9 and _ (bad byte 3)"},
    {OPT("\"tool_name\":\"run pytest\""), 0, V,
     "options.tool_name: must contain only"},
    {OPT("\"tool_name\":\"../bin/sh\""), 0, V,
     "options.tool_name: must contain only"},
    {OPT("\"tool_name\":\"caf\\u00e9\""), 0, V,
     "options.tool_name: must contain only a-z, 0-9 and _ (bad byte 3)"},
    {OPT("\"tool_name\":\"a12345678901234567890123456789012345678901234567"
         "89012345678901234\""),
     0, V, "options.tool_name: must be at most 64 bytes (got 65)"},
    {OPT("\"args\":[]"), 0, V, "options.args: must be an object (got array)"},
    {OPT("\"args\":null"), 0, V, "options.args: must be an object (got null)"},
    {OPT("\"args\":\"-k x\""), 0, V,
     "options.args: must be an object (got string)"},
    {OPT("\"timeout_s\":0"), 0, V,
     "options.timeout_s: must be an integer from 1 to 3600 (got 0)"},
    {OPT("\"timeout_s\":3601"), 0, V,
     "options.timeout_s: must be an integer from 1 to 3600 (got 3601)"},
    {OPT("\"timeout_s\":-5"), 0, V,
     "options.timeout_s: must be an integer from 1 to 3600 (got -5)"},
    {OPT("\"timeout_s\":1.5"), 0, V,
     "options.timeout_s: must be an integer from 1 to 3600 (got 1.5)"},
    {OPT("\"timeout_s\":1e9"), 0, V,
     "options.timeout_s: must be an integer from 1 to 3600 (got 1000000000)"},
    {OPT("\"timeout_s\":\"10\""), 0, V,
     "options.timeout_s: must be an integer from 1 to 3600 (got string)"},
    {OPT("\"timeout_s\":true"), 0, V,
     "options.timeout_s: must be an integer from 1 to 3600 (got boolean)"},
    {OPT("\"timeout_s\":null"), 0, V,
     "options.timeout_s: must be an integer from 1 to 3600 (got null)"},
    {OPT("\"dry_run\":1"), 0, V,
     "options.dry_run: must be a boolean (got number)"},
    {OPT("\"dry_run\":\"true\""), 0, V,
     "options.dry_run: must be a boolean (got string)"},
    {OPT("\"dry_run\":null"), 0, V,
     "options.dry_run: must be a boolean (got null)"},
    /* nl_input is shown to an approver: nothing that rewrites a screen
     * (ESC, CR, backspace, C1, bidi overrides); newline and tab are text */
    {"{\"nl_input\":\"ok\\u001b[2Arequested by: alice\"}", 0, V,
     "nl_input: must not contain control characters (byte 2)"},
    {"{\"nl_input\":\"run\\rrequested by: alice\"}", 0, V,
     "nl_input: must not contain control characters (byte 3)"},
    {"{\"nl_input\":\"a\\bb\"}", 0, V,
     "nl_input: must not contain control characters (byte 1)"},
    {"{\"nl_input\":\"tests \\u202egnp.exe\"}", 0, V,
     "nl_input: must not contain control characters (byte 6)"},
    /* requested_by */
    {TOP("\"requested_by\":5"), 0, V,
     "requested_by: must be a string or null (got number)"},
    {TOP("\"requested_by\":\"\""), 0, V, "requested_by: must not be empty"},
    {TOP("\"requested_by\":\"ali\\nce\""), 0, V,
     "requested_by: must not contain control characters (byte 3)"},
    {TOP("\"requested_by\":\"x\\u007f\""), 0, V,
     "requested_by: must not contain control characters (byte 1)"},
    {TOP("\"requested_by\":\"ab\\u0085\""), 0, V,
     "requested_by: must not contain control characters (byte 2)"},
    /* workspace */
    {TOP("\"workspace\":[]"), 0, V,
     "workspace: must be a string or null (got array)"},
    {TOP("\"workspace\":\"\""), 0, V, "workspace: must not be empty"},
    {TOP("\"workspace\":\"/etc\""), 0, V,
     "workspace: must be a relative path (starts with /)"},
    {TOP("\"workspace\":\"..\""), 0, V,
     "workspace: must not contain a \"..\" component"},
    {TOP("\"workspace\":\"../x\""), 0, V,
     "workspace: must not contain a \"..\" component"},
    {TOP("\"workspace\":\"a/../../b\""), 0, V,
     "workspace: must not contain a \"..\" component"},
    {TOP("\"workspace\":\"a/..\""), 0, V,
     "workspace: must not contain a \"..\" component"},
    {TOP("\"workspace\":\"a\\tb\""), 0, V,
     "workspace: must not contain control characters (byte 1)"},
    /* unknown and duplicate keys, in document order */
    {TOP("\"color\":\"red\""), 0, V, "color: unknown key"},
    {"{\"color\":\"red\"}", 0, V, "color: unknown key"},
    {TOP("\"NL_INPUT\":\"x\""), 0, V, "NL_INPUT: unknown key"},
    {TOP("\"\":1"), 0, V, "\"\": unknown key"},
    {TOP("\"a\\nb\":1"), 0, V, "a?b: unknown key"},
    {OPT("\"foo\":1"), 0, V, "options.foo: unknown key"},
    {OPT("\"tool\":\"run_pytest\""), 0, V, "options.tool: unknown key"},
    {"{\"nl_input\":\"x\",\"nl_input\":\"y\"}", 0, V,
     "nl_input: duplicate key"},
    {"{\"nl_input\":\"x\",\"nl_\\u0069nput\":\"y\"}", 0, V,
     "nl_input: duplicate key"},
    {TOP("\"options\":null,\"options\":{}"), 0, V, "options: duplicate key"},
    {OPT("\"dry_run\":true,\"dry_run\":false"), 0, V,
     "options.dry_run: duplicate key"},
    {OPT("\"args\":{\"k\":1,\"k\":2}"), 0, V, "options.args.k: duplicate key"},
    {OPT("\"args\":{\"a\":[1,{\"b\":1,\"b\":1}]}"), 0, V,
     "options.args.a[1].b: duplicate key"},
    {OPT("\"args\":{\"n\":1e400}"), 0, V,
     "options.args.n: number out of range"},
    /* the first problem wins */
    {"{\"color\":1,\"nl_input\":\"\"}", 0, V, "color: unknown key"},
    {"{\"nl_input\":\"\",\"color\":1}", 0, V, "nl_input: must not be empty"},
    {"{\"color\":1}", 0, V, "color: unknown key"},
    {OPT("\"timeout_s\":0,\"foo\":1"), 0, V, "options.timeout_s: must be"},
    {"{\"options\":{\"timeout_s\":0}}", 0, V, "options.timeout_s: must be"},
    {"{\"workspace\":\"/\",\"nl_input\":\"x\",\"nl_input\":1}", 0, V,
     "workspace: must be a relative path"},
    /* body: UTF-8 before JSON, with the offset of the bad sequence */
    {"{\"nl_input\":\"ab\x80\"}", 0, P, "body: invalid UTF-8 at byte 15"},
    {"{\"nl_input\":\"\xc0\xaf\"}", 0, P, "body: invalid UTF-8 at byte 13"},
    {"{\"nl_input\":\"\xe0\x80\xaf\"}", 0, P, "body: invalid UTF-8 at byte 13"},
    {"{\"nl_input\":\"x\xed\xa0\x80\"}", 0, P,
     "body: invalid UTF-8 at byte 14"},
    {"{\"nl_input\":\"\xf4\x90\x80\x80\"}", 0, P,
     "body: invalid UTF-8 at byte 13"},
    {"{\"nl_input\":\"\xe2\x82\"}", 0, P, "body: invalid UTF-8 at byte 13"},
    {"{\"nl_input\":\"x\"}\xc3", 0, P, "body: invalid UTF-8 at byte 16"},
    {"{\"nl_input\":\"x\"} \xff", 0, P, "body: invalid UTF-8 at byte 17"},
    /* UTF-8 is checked first, even in otherwise broken JSON */
    {"{\"nl_input\":\xff", 0, P, "body: invalid UTF-8 at byte 12"},
    /* body: JSON syntax and the top level */
    {"", 0, P, "body: empty"},
    {"   ", 0, P, "body: not valid JSON near byte"},
    {"{\"nl_input\":\"x\",}", 0, P, "body: not valid JSON near byte 16"},
    {"{\"nl_input\":\"x\"", 0, P, "body: not valid JSON near byte"},
    {"{\"nl_input\":'x'}", 0, P, "body: not valid JSON near byte 12"},
    {"{\"nl_input\":\"x\"} {}", 0, P, "body: not valid JSON near byte 17"},
    {"{\"nl_input\":\"x\"}x", 0, P, "body: not valid JSON near byte 16"},
    {"{\"nl_input\":\"a\nb\"}", 0, P, "body: not valid JSON near byte 14"},
    {"{\"nl_input\":\"a\tb\"}", 0, P, "body: not valid JSON near byte 14"},
    {"{\"nl_input\":\"x\\q\"}", 0, P, "body: not valid JSON near byte"},
    {"{\x01\"nl_input\":\"x\"}", 0, P, "body: not valid JSON near byte 1"},
    {"\xef\xbb\xbf{\"nl_input\":\"x\"}", 0, P,
     "body: not valid JSON near byte 0"},
    {OPT("\"timeout_s\":010"), 0, P, "body: not valid JSON near byte 40"},
    {OPT("\"timeout_s\":10."), 0, P, "body: not valid JSON near byte 42"},
    {OPT("\"timeout_s\":+10"), 0, P, "body: not valid JSON near byte 39"},
    {OPT("\"timeout_s\":NaN"), 0, P, "body: not valid JSON near byte 39"},
    {"{\"nl_input\":\"x\"\0}", 17, P, "body: not valid JSON near byte 15"},
    {"{\"nl_input\":\"a\\u0000b\"}", 0, V,
     "body: \\u0000 is not allowed in strings (byte 14)"},
    {"{\"nl_input\":\"x\",\"nl_input\\u0000y\":1}", 0, V,
     "body: \\u0000 is not allowed in strings"},
    {"{\"nl_input\":\"\\ud800\"}", 0, P, "body: not valid JSON near byte"},
    {"[]", 0, V, "body: must be a JSON object (got array)"},
    {"\"nl_input\"", 0, V, "body: must be a JSON object (got string)"},
    {"null", 0, V, "body: must be a JSON object (got null)"},
    {"42", 0, V, "body: must be a JSON object (got number)"},
};

static void expect_bad(const struct bad_case *c, size_t i) {
  qf_request_t *r = (qf_request_t *)0x1;
  qf_error_t err;
  qf_error_clear(&err);
  size_t len = c->len ? c->len : strlen(c->body);
  int rc = qf_request_parse(c->body, len, &r, &err);
  cr_expect_eq(rc, c->code, "case %zu (%s): rc %s, message \"%s\"", i, c->body,
               qf_err_name(rc), err.message);
  cr_expect_eq(err.code, rc, "case %zu", i);
  cr_expect_eq(r, (qf_request_t *)0x1, "case %zu: *out untouched", i);
  cr_expect(strncmp(err.message, c->prefix, strlen(c->prefix)) == 0,
            "case %zu (%s): got \"%s\", want \"%s...\"", i, c->body,
            err.message, c->prefix);
}

Test(request, every_error_names_the_first_problem) {
  for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++)
    expect_bad(&bad_cases[i], i);
}

/* ------------------------------------------------------------ sizes */

/* {"nl_input":"xxx..."} with n x's; free() the result. */
static char *body_with_nl(size_t n) {
  char *b = malloc(n + 32);
  cr_assert_not_null(b);
  strcpy(b, "{\"nl_input\":\"");
  memset(b + 13, 'x', n);
  strcpy(b + 13 + n, "\"}");
  return b;
}

static qf_request_t *parse_ok(const char *body, size_t len) {
  qf_request_t *r = NULL;
  qf_error_t err;
  qf_error_clear(&err);
  int rc = qf_request_parse(body, len, &r, &err);
  cr_assert_eq(rc, 0, "rejected: %s (%s)", err.message, body);
  cr_assert_not_null(r);
  return r;
}

static qf_request_t *parse_str(const char *body) {
  return parse_ok(body, strlen(body));
}

Test(request, nl_input_limit_is_8192_bytes) {
  char *ok = body_with_nl(8192), *big = body_with_nl(8193);
  qf_request_t *r = parse_str(ok);
  cr_expect_eq(strlen(r->nl_input), 8192);
  qf_request_free(r);
  struct bad_case c = {big, 0, QF_EVALIDATE,
                       "nl_input: must be at most 8192 bytes (got 8193)"};
  expect_bad(&c, 0);
  free(ok);
  free(big);
}

Test(request, nl_input_limit_counts_bytes_not_characters) {
  /* 2731 three-byte euro signs are 8193 bytes but only 2731 characters. */
  size_t n = 2731;
  char *b = malloc(3 * n + 32);
  strcpy(b, "{\"nl_input\":\"");
  for (size_t i = 0; i < n; i++)
    memcpy(b + 13 + 3 * i, "\xe2\x82\xac", 3);
  strcpy(b + 13 + 3 * n, "\"}");
  struct bad_case c = {b, 0, QF_EVALIDATE,
                       "nl_input: must be at most 8192 bytes (got 8193)"};
  expect_bad(&c, 0);
  free(b);
}

Test(request, body_limit_is_65536_bytes) {
  /* Pad with whitespace, which JSON allows after the value. */
  char *b = malloc(QF_REQUEST_MAX_BODY_BYTES + 2);
  const char *json = "{\"nl_input\":\"x\"}";
  memset(b, ' ', QF_REQUEST_MAX_BODY_BYTES + 1);
  memcpy(b, json, strlen(json));
  b[QF_REQUEST_MAX_BODY_BYTES + 1] = '\0';
  qf_request_free(parse_ok(b, QF_REQUEST_MAX_BODY_BYTES));
  struct bad_case c = {b, QF_REQUEST_MAX_BODY_BYTES + 1, QF_ETOOBIG,
                       "body: larger than 65536 bytes"};
  expect_bad(&c, 0);
  /* The size is checked before UTF-8. */
  b[100] = '\xff';
  expect_bad(&c, 1);
  free(b);
}

Test(request, normalized_text_must_fit_the_body_limit) {
  /* A compact body just under the limit with no optional keys grows
   * past it once the defaults are written out: refused, so that what
   * to_json writes always parses back. */
  size_t pad = QF_REQUEST_MAX_BODY_BYTES - 60;
  char *b = malloc(pad + 128);
  int n = sprintf(b, "{\"nl_input\":\"x\",\"options\":{\"args\":{\"k\":\"");
  memset(b + n, 'a', pad);
  strcpy(b + n + pad, "\"}}}");
  size_t len = strlen(b);
  cr_assert_leq(len, QF_REQUEST_MAX_BODY_BYTES);
  struct bad_case c = {b, len, QF_ETOOBIG,
                       "body: normalized request larger than 65536 bytes"};
  expect_bad(&c, 0);
  free(b);
}

Test(request, body_need_not_be_nul_terminated) {
  const char *body = "{\"nl_input\":\"x\"}GARBAGE";
  qf_request_t *r = parse_ok(body, 16);
  cr_expect_str_eq(r->nl_input, "x");
  qf_request_free(r);
}

Test(request, bad_arguments) {
  qf_request_t *r = NULL;
  qf_error_t err;
  cr_expect_eq(qf_request_parse(NULL, 3, &r, &err), QF_EINVAL);
  cr_expect_eq(qf_request_parse("{}", 2, NULL, &err), QF_EINVAL);
  cr_expect_eq(qf_request_parse("{}", 2, &r, NULL), QF_EVALIDATE,
               "err may be NULL");
  cr_expect_null(r);
  qf_request_free(NULL);
}

/* ---------------------------------------------------- accepted values */

Test(request, all_fields_are_read) {
  qf_request_t *r = parse_str(
      "{\"nl_input\":\"caf\\u00e9 \\ud83d\\ude00\","
      "\"environment_id\":\"6BA7B810-9DAD-11D1-80B4-00C04FD430C8\","
      "\"options\":{\"tool_name\":\"run_pytest\",\"args\":{\"test_path\":"
      "\"tests/unit\",\"k\":[1,2]},\"timeout_s\":3600,\"dry_run\":true},"
      "\"requested_by\":\"ci-bot \\u00e9\",\"workspace\":\"repos/./app\"}");
  cr_expect_str_eq(r->nl_input, "caf\xc3\xa9 \xf0\x9f\x98\x80");
  cr_expect_str_eq(r->environment_id, "6ba7b810-9dad-11d1-80b4-00c04fd430c8");
  cr_expect_eq(r->has_options, 1);
  cr_expect_str_eq(r->tool_name, "run_pytest");
  cr_expect_str_eq(
      cJSON_GetObjectItemCaseSensitive(r->args, "test_path")->valuestring,
      "tests/unit");
  cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItem(r->args, "k")), 2);
  cr_expect_eq(r->timeout_s, 3600);
  cr_expect_eq(r->dry_run, 1);
  cr_expect_str_eq(r->requested_by, "ci-bot \xc3\xa9");
  cr_expect_str_eq(r->workspace, "repos/./app");
  qf_request_free(r);
}

Test(request, nulls_and_edges_are_accepted) {
  qf_request_t *r = parse_str(
      " \r\n{\"environment_id\":null,\"options\":null,\"requested_by\":null,"
      "\"workspace\":null,\"nl_input\":\" \"}\n");
  cr_expect_null(r->environment_id);
  cr_expect_null(r->requested_by);
  cr_expect_null(r->workspace);
  cr_expect_eq(r->has_options, 0);
  qf_request_free(r);
  r = parse_str(OPT("\"timeout_s\":1,\"tool_name\":\"a_1\""));
  cr_expect_eq(r->timeout_s, 1);
  cr_expect_str_eq(r->tool_name, "a_1");
  qf_request_free(r);
  /* Integral values written as decimals are integers. */
  r = parse_str(OPT("\"timeout_s\":1e2"));
  cr_expect_eq(r->timeout_s, 100);
  qf_request_free(r);
  r = parse_str(TOP("\"workspace\":\"a/..b/c..\""));
  cr_expect_str_eq(r->workspace, "a/..b/c..");
  qf_request_free(r);
  /* An escaped backslash before "u0000" is text, not a NUL escape. */
  r = parse_str("{\"nl_input\":\"x\\\\u0000\"}");
  cr_expect_str_eq(r->nl_input, "x\\u0000");
  qf_request_free(r);
}

/* ------------------------------------------------------- normalization */

struct norm_case {
  const char *body;
  const char *tool;
  const char *args; /* compact JSON */
  int timeout_s, dry_run, has_options;
};

static const struct norm_case norm_cases[] = {
    /* no options: the heuristic, on substrings of the lowercased text */
    {"{\"nl_input\":\"run the unit tests\"}", "run_pytest",
     "{\"test_path\":\"tests\"}", 120, 0, 0},
    {"{\"nl_input\":\"Run the Browsers suite\"}", "run_playwright", "{}", 300,
     0, 0},
    {"{\"nl_input\":\"e2e-suite\"}", "run_playwright", "{}", 300, 0, 0},
    {"{\"nl_input\":\"PLAYWRIGHT smoke\"}", "run_playwright", "{}", 300, 0, 0},
    {"{\"nl_input\":\"check the E2E flow\"}", "run_playwright", "{}", 300, 0,
     0},
    {"{\"nl_input\":\"webBROWSERtests\"}", "run_playwright", "{}", 300, 0, 0},
    {"{\"nl_input\":\"e 2 e, brows er, play wright\"}", "run_pytest",
     "{\"test_path\":\"tests\"}", 120, 0, 0},
    {"{\"nl_input\":\"e2\"}", "run_pytest", "{\"test_path\":\"tests\"}", 120, 0,
     0},
    {"{\"nl_input\":\"playwright\",\"options\":null}", "run_playwright", "{}",
     300, 0, 0},
    /* options win, even when the text says playwright */
    {"{\"nl_input\":\"playwright e2e in the browser\",\"options\":{}}",
     "run_pytest", "{}", 120, 0, 1},
    {"{\"nl_input\":\"playwright\",\"options\":{\"tool_name\":\"run_pytest\","
     "\"args\":{\"test_path\":\"tests/ui\"},\"timeout_s\":30,"
     "\"dry_run\":true}}",
     "run_pytest", "{\"test_path\":\"tests/ui\"}", 30, 1, 1},
    {"{\"nl_input\":\"unit\",\"options\":{\"tool_name\":\"run_playwright\"}}",
     "run_playwright", "{}", 120, 0, 1},
    {"{\"nl_input\":\"unit\",\"options\":{\"timeout_s\":7}}", "run_pytest",
     "{}", 7, 0, 1},
    {"{\"options\":{\"dry_run\":false},\"nl_input\":\"x\"}", "run_pytest", "{}",
     120, 0, 1},
};

static void expect_normalized(const qf_request_t *r,
                              const struct norm_case *c) {
  char *args = cJSON_PrintUnformatted(r->args);
  cr_expect_str_eq(r->tool_name, c->tool, "%s", c->body);
  cr_expect_str_eq(args, c->args, "%s", c->body);
  cr_expect_eq(r->timeout_s, c->timeout_s, "%s", c->body);
  cr_expect_eq(r->dry_run, c->dry_run, "%s", c->body);
  cr_expect_eq(r->has_options, c->has_options, "%s", c->body);
  cJSON_free(args);
}

Test(request, normalize_follows_pipeline_b) {
  for (size_t i = 0; i < sizeof norm_cases / sizeof norm_cases[0]; i++) {
    qf_request_t *r = parse_str(norm_cases[i].body);
    expect_normalized(r, &norm_cases[i]);
    qf_request_free(r);
  }
}

/* ----------------------------------------------------------- round trip */

static void expect_same(const qf_request_t *a, const qf_request_t *b) {
  cr_expect(qf_test_same_str(a->nl_input, b->nl_input));
  cr_expect(qf_test_same_str(a->environment_id, b->environment_id));
  cr_expect(qf_test_same_str(a->tool_name, b->tool_name));
  cr_expect(qf_test_same_json(a->args, b->args));
  cr_expect_eq(a->timeout_s, b->timeout_s);
  cr_expect_eq(a->dry_run, b->dry_run);
  cr_expect(qf_test_same_str(a->requested_by, b->requested_by));
  cr_expect(qf_test_same_str(a->workspace, b->workspace));
  cr_expect(qf_test_same_str(a->source_repo, b->source_repo));
  cr_expect(qf_test_same_str(a->source_commit, b->source_commit));
  cr_expect(qf_test_same_str(a->source_ref, b->source_ref));
}

static char *to_json(const qf_request_t *r) {
  char *text = NULL;
  qf_error_t err;
  cr_assert_eq(qf_request_to_json(r, &text, &err), 0, "%s", err.message);
  return text;
}

Test(request, to_json_then_parse_is_the_same_request) {
  static const char *bodies[] = {
      "{\"nl_input\":\"run the unit tests\"}",
      "{\"nl_input\":\"e2e\"}",
      "{\"nl_input\":\"caf\\u00e9 \\\"q\\\" \\\\ \\n\\t \\/\","
      "\"environment_id\":\"6BA7B810-9DAD-11D1-80B4-00C04FD430C8\","
      "\"options\":{\"tool_name\":\"t\",\"args\":{\"a\":[1,-2.5,1e300,"
      "0.1,true,null,{\"b\":\"\\u00e9\\u0001\"}],\"\":{}},\"timeout_s\":9,"
      "\"dry_run\":true},\"requested_by\":\"me\",\"workspace\":\"w/x\"}",
      "{\"nl_input\":\"x\",\"source\":{\"repo\":\"git@github.com:acme/"
      "shop.git\",\"commit\":\"ABCDEF0123456789ABCDEF0123456789ABCDEF01\"}}",
      "{\"nl_input\":\"x\",\"source\":{\"ref\":\"release/1.2\",\"repo\":"
      "\"ssh://git@h:22/r.git\"}}",
  };
  for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
    qf_request_t *a = parse_str(bodies[i]);
    char *text = to_json(a);
    qf_request_t *b = parse_str(text);
    expect_same(a, b);
    cr_expect_eq(b->has_options, 1, "options are written out");
    char *text2 = to_json(b);
    cr_expect_str_eq(text2, text);
    free(text);
    free(text2);
    qf_request_free(a);
    qf_request_free(b);
  }
}

Test(request, to_json_has_every_key) {
  qf_request_t *r = parse_str("{\"nl_input\":\"unit\"}");
  char *text = to_json(r);
  cr_expect_str_eq(text,
                   "{\"nl_input\":\"unit\",\"environment_id\":null,"
                   "\"options\":{\"tool_name\":\"run_pytest\",\"args\":{"
                   "\"test_path\":\"tests\"},\"timeout_s\":120,"
                   "\"dry_run\":false},\"requested_by\":null,"
                   "\"workspace\":null}");
  free(text);
  qf_request_t incomplete = {0};
  qf_error_t err;
  cr_expect_eq(qf_request_to_json(&incomplete, &text, &err), QF_EINVAL);
  qf_request_free(r);
}

/* --------------------------------------------------------- qf_request_new */

Test(request, new_uses_the_heuristics_without_options) {
  qf_request_t *r = NULL;
  qf_error_t err;
  cr_assert_eq(
      qf_request_new("Run the Browsers suite", NULL, NULL, 0, 0, &r, &err), 0,
      "%s", err.message);
  struct norm_case want = {"new", "run_playwright", "{}", 300, 0, 0};
  expect_normalized(r, &want);
  qf_request_free(r);
  cr_assert_eq(qf_request_new("unit", NULL, NULL, 0, 0, &r, &err), 0);
  struct norm_case want2 = {
      "new", "run_pytest", "{\"test_path\":\"tests\"}", 120, 0, 0};
  expect_normalized(r, &want2);
  qf_request_free(r);
}

Test(request, new_with_options) {
  qf_request_t *r = NULL;
  qf_error_t err;
  cJSON *args = cJSON_Parse("{\"test_path\":\"tests/api\"}");
  cr_assert_eq(
      qf_request_new("e2e please", "run_pytest", args, 45, 1, &r, &err), 0,
      "%s", err.message);
  struct norm_case want = {
      "new", "run_pytest", "{\"test_path\":\"tests/api\"}", 45, 1, 1};
  expect_normalized(r, &want);
  qf_request_free(r);
  /* A tool without args or timeout takes the options defaults. */
  cr_assert_eq(qf_request_new("e2e", "run_playwright", NULL, 0, 0, &r, &err),
               0);
  struct norm_case want2 = {"new", "run_playwright", "{}", 120, 0, 1};
  expect_normalized(r, &want2);
  qf_request_free(r);
  /* Only a timeout: the heuristic still picks the tool and its args. */
  cr_assert_eq(qf_request_new("browser run", NULL, NULL, 30, 0, &r, &err), 0);
  struct norm_case want3 = {"new", "run_playwright", "{}", 30, 0, 1};
  expect_normalized(r, &want3);
  qf_request_free(r);
  cr_assert_eq(qf_request_new("unit", NULL, NULL, 0, 1, &r, &err), 0);
  struct norm_case want4 = {
      "new", "run_pytest", "{\"test_path\":\"tests\"}", 120, 1, 1};
  expect_normalized(r, &want4);
  qf_request_free(r);
  cJSON_Delete(args);
}

struct new_bad {
  const char *nl, *tool, *args;
  int timeout_s, code;
  const char *prefix;
};

Test(request, new_validates_like_parse) {
  static const struct new_bad cases[] = {
      {NULL, NULL, NULL, 0, QF_EVALIDATE, "nl_input: missing"},
      {"", NULL, NULL, 0, QF_EVALIDATE, "nl_input: must not be empty"},
      {"x", "Bad-Tool", NULL, 0, QF_EVALIDATE,
       "options.tool_name: must contain only a-z, 0-9 and _ (bad byte 0)"},
      {"x", "", NULL, 0, QF_EVALIDATE, "options.tool_name: must not be empty"},
      {"x", "t", "[]", 0, QF_EVALIDATE,
       "options.args: must be an object (got array)"},
      {"x", "t", NULL, 3601, QF_EVALIDATE,
       "options.timeout_s: must be an integer from 1 to 3600 (got 3601)"},
      {"x", NULL, NULL, -1, QF_EVALIDATE,
       "options.timeout_s: must be an integer from 1 to 3600 (got -1)"},
      {"ab\xff", NULL, NULL, 0, QF_EPARSE, "nl_input: invalid UTF-8 at byte 2"},
      {"x", "t\xc0", NULL, 0, QF_EPARSE,
       "options.tool_name: invalid UTF-8 at byte 1"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    qf_request_t *r = NULL;
    qf_error_t err;
    qf_error_clear(&err);
    cJSON *args = cases[i].args ? cJSON_Parse(cases[i].args) : NULL;
    int rc = qf_request_new(cases[i].nl, cases[i].tool, args,
                            cases[i].timeout_s, 0, &r, &err);
    cr_expect_eq(rc, cases[i].code, "case %zu: %s", i, err.message);
    cr_expect_null(r);
    cr_expect(
        strncmp(err.message, cases[i].prefix, strlen(cases[i].prefix)) == 0,
        "case %zu: got \"%s\", want \"%s\"", i, err.message, cases[i].prefix);
    cJSON_Delete(args);
  }
  /* nl_input over the limit, exactly like parse */
  char *big = malloc(8194);
  memset(big, 'x', 8193);
  big[8193] = '\0';
  qf_request_t *r = NULL;
  qf_error_t err;
  cr_expect_eq(qf_request_new(big, NULL, NULL, 0, 0, &r, &err), QF_EVALIDATE);
  cr_expect_str_eq(err.message,
                   "nl_input: must be at most 8192 bytes (got 8193)");
  big[8192] = '\0';
  cr_expect_eq(qf_request_new(big, NULL, NULL, 0, 0, &r, &err), 0);
  qf_request_free(r);
  free(big);
}

Test(request, new_rejects_numbers_json_cannot_carry) {
  qf_request_t *r = NULL;
  qf_error_t err;
  cJSON *args = cJSON_CreateObject();
  cJSON_AddNumberToObject(args, "n", 1.0 / 0.0);
  cr_expect_eq(qf_request_new("x", "t", args, 0, 0, &r, &err), QF_EVALIDATE);
  cr_expect_str_eq(err.message, "options.args.n: number out of range");
  cr_expect_null(r);
  cJSON_Delete(args);
}

Test(request, numbers_in_args_keep_their_exact_value) {
  /* cJSON's own printer would write 1.79769313486232e+308 (infinity when
   * read back) and 0.3; the request keeps every double exactly. */
  qf_request_t *a =
      parse_str(OPT("\"args\":{\"max\":1.7976931348623157e308,"
                    "\"third\":0.30000000000000004,\"big\":9007199254740993,"
                    "\"tiny\":5e-324,\"neg\":-1e-7,\"int\":42}"));
  char *text = to_json(a);
  cr_expect(strstr(text, "\"max\":1.7976931348623157e+308") != NULL, "%s",
            text);
  cr_expect(strstr(text, "\"int\":42,") == NULL, "last key: %s", text);
  cr_expect(strstr(text, "\"int\":42}") != NULL, "%s", text);
  qf_request_t *b = parse_str(text);
  static const char *keys[] = {"max", "third", "big", "tiny", "neg", "int"};
  for (size_t i = 0; i < 6; i++) {
    double x = cJSON_GetObjectItem(a->args, keys[i])->valuedouble;
    double y = cJSON_GetObjectItem(b->args, keys[i])->valuedouble;
    cr_expect(x == y, "%s: %.17g became %.17g", keys[i], x, y);
  }
  free(text);
  qf_request_free(a);
  qf_request_free(b);
}

Test(request, long_paths_are_cut_at_whole_characters) {
  /* Nested keys of 20 two-byte characters push the path past its buffer;
   * the message must still be valid UTF-8 and name the problem. */
  char body[4096] = "{\"nl_input\":\"x\",\"options\":{\"args\":";
  char key[128] = "a";
  for (int i = 0; i < 20; i++)
    strcat(key, "\xc3\xa9");
  for (int d = 0; d < 8; d++)
    sprintf(body + strlen(body), "{\"%s\":", key);
  strcat(body, "{\"k\":1,\"k\":2}}}}}}}}}}}");
  qf_request_t *r = NULL;
  qf_error_t err;
  cr_assert_eq(qf_request_parse(body, strlen(body), &r, &err), QF_EVALIDATE,
               "%s", err.message);
  cr_expect(strncmp(err.message, "options.args.a\xc3\xa9", 16) == 0, "%s",
            err.message);
  cr_expect(strstr(err.message, ": duplicate key") != NULL, "%s", err.message);
  cr_expect_eq(qf_utf8_validate(err.message, strlen(err.message), NULL), 0,
               "%s", err.message);
}

Test(request, source_is_kept_normalized) {
  qf_request_t *r = parse_str(
      "{\"nl_input\":\"x\",\"source\":{\"repo\":\"https://github.com/a/"
      "b.git\",\"commit\":\"ABCDEF0123456789ABCDEF0123456789ABCDEF01\"}}");
  cr_expect_str_eq(r->source_repo, "https://github.com/a/b.git");
  cr_expect_str_eq(r->source_commit,
                   "abcdef0123456789abcdef0123456789abcdef01");
  cr_expect_null(r->source_ref);
  char *text = to_json(r);
  cr_expect(strstr(text,
                   "\"source\":{\"repo\":\"https://github.com/a/"
                   "b.git\",\"commit\":\"abcdef") != NULL,
            "%s", text);
  free(text);
  qf_request_free(r);
  /* Without a source the text is as it was before sources existed. */
  r = parse_str("{\"nl_input\":\"x\"}");
  text = to_json(r);
  cr_expect(strstr(text, "source") == NULL, "%s", text);
  free(text);
  qf_request_free(r);
}
