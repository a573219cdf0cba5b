/* request.c: the request's public functions: parsing (the body checks in
 * request_body.c, the fields in request_fields.c, serialising back in
 * request_json.c), the normalization that fills in defaults or the
 * heuristic choice, and building a request from `qf run` flags. */
#include "qf/request.h"

#include <stdlib.h>
#include <string.h>

#include "qf/utf8.h"
#include "request_internal.h"

/* ----------------------------------------------------------- normalize */

/* 1 when hay contains needle (lowercase ASCII) ignoring ASCII case. */
static int contains_ci(const char *hay, const char *needle) {
  size_t n = strlen(needle);
  for (; *hay != '\0'; hay++) {
    size_t i = 0;
    while (i < n && hay[i] != '\0' &&
           (hay[i] >= 'A' && hay[i] <= 'Z' ? hay[i] + 32 : hay[i]) == needle[i])
      i++;
    if (i == n) return 1;
  }
  return 0;
}

/* The service pipeline B heuristic: substrings, not words. */
static int wants_playwright(const char *nl) {
  return contains_ci(nl, "playwright") || contains_ci(nl, "browser") ||
         contains_ci(nl, "e2e");
}

/* {} or {"test_path": "tests"}; NULL on out-of-memory. */
static cJSON *default_args(int pytest) {
  cJSON *a = cJSON_CreateObject();
  if (a != NULL && pytest &&
      cJSON_AddStringToObject(a, "test_path", "tests") == NULL) {
    cJSON_Delete(a);
    a = NULL;
  }
  return a;
}

static int normalize(qf_request_t *r, qf_error_t *err) {
  int playwright = !r->has_options && wants_playwright(r->nl_input);
  int rc = QF_OK;
  if (!r->has_options) {
    r->timeout_s = playwright ? QF_REQUEST_PLAYWRIGHT_TIMEOUT_S
                              : QF_REQUEST_DEFAULT_TIMEOUT_S;
    r->dry_run = 0;
    rc = qf__request_keep(
        &r->tool_name, playwright ? "run_playwright" : QF_REQUEST_DEFAULT_TOOL,
        err);
    if (rc == QF_OK && (r->args = default_args(!playwright)) == NULL)
      rc = qf_error_set(err, QF_ENOMEM, "out of memory");
    return rc;
  }
  if (r->timeout_s == 0) r->timeout_s = QF_REQUEST_DEFAULT_TIMEOUT_S;
  if (r->tool_name == NULL)
    rc = qf__request_keep(&r->tool_name, QF_REQUEST_DEFAULT_TOOL, err);
  if (rc == QF_OK && r->args == NULL && (r->args = default_args(0)) == NULL)
    rc = qf_error_set(err, QF_ENOMEM, "out of memory");
  return rc;
}

/* ----------------------------------------------------------- public API */

int qf_request_parse(const char *body, size_t len, qf_request_t **out,
                     qf_error_t *err) {
  cJSON *root = NULL;
  qf_request_t *r = NULL;
  char *text = NULL;
  int rc;
  if (out == NULL || (body == NULL && len > 0))
    return qf_error_set(err, QF_EINVAL, "body: no buffer");
  if ((rc = qf__request_parse_body(body, len, &root, err)) < 0) goto out;
  if ((r = calloc(1, sizeof *r)) == NULL) {
    rc = qf_error_set(err, QF_ENOMEM, "out of memory");
    goto out;
  }
  rc = qf__request_check_fields(root, r, err);
  if (rc == QF_OK && r->nl_input == NULL)
    rc = qf__request_fail(err, QF_EVALIDATE, "nl_input", "missing");
  if (rc == QF_OK) rc = normalize(r, err);
  /* Defaults and number formatting can make the normalized text longer
   * than the body; refusing here keeps to_json -> parse a round trip. */
  if (rc == QF_OK) rc = qf_request_to_json(r, &text, err);
  if (rc == QF_OK) *out = r, r = NULL;
out:
  free(text);
  qf_request_free(r);
  cJSON_Delete(root);
  return rc;
}

void qf_request_free(qf_request_t *r) {
  if (r == NULL) return;
  free(r->nl_input);
  free(r->environment_id);
  free(r->tool_name);
  cJSON_Delete(r->args);
  free(r->requested_by);
  free(r->workspace);
  free(r->source_repo);
  free(r->source_commit);
  free(r->source_ref);
  free(r);
}

/* For qf_request_new: a C string must be UTF-8 before it goes into a body,
 * and the offset is more useful relative to the string than to the body. */
static int check_utf8(const char *s, const char *field, qf_error_t *err) {
  size_t bad = 0;
  if (s != NULL && qf_utf8_validate(s, strlen(s), &bad) < 0)
    return qf__request_fail(err, QF_EPARSE, field, "invalid UTF-8 at byte %zu",
                            bad);
  return QF_OK;
}

/* Adds the options object for qf_request_new: what is given, and the
 * heuristic choice for nl_input where tool_name is NULL. 0 on OOM. */
static int add_options(cJSON *body, const char *nl, const char *tool,
                       const cJSON *args, int timeout_s, int dry_run) {
  int guess = tool == NULL, ok;
  int playwright = guess && nl != NULL && wants_playwright(nl);
  cJSON *opts = cJSON_AddObjectToObject(body, "options"), *guessed = NULL;
  if (guess) {
    tool = playwright ? "run_playwright" : QF_REQUEST_DEFAULT_TOOL;
    if (timeout_s == 0)
      timeout_s = playwright ? QF_REQUEST_PLAYWRIGHT_TIMEOUT_S
                             : QF_REQUEST_DEFAULT_TIMEOUT_S;
    if (args == NULL) args = guessed = default_args(!playwright);
  }
  ok = opts != NULL && (!guess || args != NULL) &&
       cJSON_AddStringToObject(opts, "tool_name", tool) != NULL &&
       (args == NULL || qf__request_add_copy(opts, "args", args)) &&
       (timeout_s == 0 ||
        cJSON_AddNumberToObject(opts, "timeout_s", timeout_s) != NULL) &&
       cJSON_AddBoolToObject(opts, "dry_run", dry_run) != NULL;
  cJSON_Delete(guessed);
  return ok;
}

int qf_request_new(const char *nl_input, const char *tool_name,
                   const cJSON *args, int timeout_s, int dry_run,
                   qf_request_t **out, qf_error_t *err) {
  char *text = NULL;
  int has_options = tool_name || args || timeout_s || dry_run, rc;
  cJSON *body = NULL;
  if (out == NULL) return qf_error_set(err, QF_EINVAL, "request: no output");
  if ((rc = check_utf8(nl_input, "nl_input", err)) < 0 ||
      (rc = check_utf8(tool_name, "options.tool_name", err)) < 0)
    return rc;
  /* JSON cannot carry infinity or NaN: name the field as parse would. */
  if (cJSON_IsObject(args) && (rc = qf__request_check_args(args, err)))
    return rc;
  body = cJSON_CreateObject();
  if (body == NULL ||
      (nl_input && !cJSON_AddStringToObject(body, "nl_input", nl_input)) ||
      (has_options &&
       !add_options(body, nl_input, tool_name, args, timeout_s, dry_run))) {
    rc = qf_error_set(err, QF_ENOMEM, "out of memory");
    goto out;
  }
  if ((rc = qf__request_print_json(body, &text, err)) == QF_OK)
    rc = qf_request_parse(text, strlen(text), out, err);
out:
  free(text);
  cJSON_Delete(body);
  return rc;
}
