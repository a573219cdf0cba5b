#include "reqflags.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int qf_reqflags_init(qf_reqflags_t *f) {
  memset(f, 0, sizeof *f);
  f->args = cJSON_CreateObject();
  return f->args ? 0 : -1;
}

void qf_reqflags_fini(qf_reqflags_t *f) {
  cJSON_Delete(f->args);
  memset(f, 0, sizeof *f);
}

/* K=V, V taken as JSON when it parses as JSON, else as a string. */
static int add_arg(qf_reqflags_t *f, const char *kv) {
  const char *eq = strchr(kv, '=');
  if (eq == NULL || eq == kv) return -1;
  char key[128];
  snprintf(key, sizeof key, "%.*s", (int)(eq - kv), kv);
  cJSON *v = cJSON_Parse(eq + 1);
  if (v == NULL) v = cJSON_CreateString(eq + 1);
  cJSON_DeleteItemFromObjectCaseSensitive(f->args, key);
  if (v == NULL || !cJSON_AddItemToObject(f->args, key, v)) {
    cJSON_Delete(v);
    return -1;
  }
  return 0;
}

int qf_reqflags_take(qf_reqflags_t *f, int c, const char *arg,
                     const qf_cmd_t *cmd) {
  char *end;
  switch (c) {
    case 'n':
      f->nl = arg;
      return 1;
    case 't':
      f->tool = arg;
      return 1;
    case 'w':
      f->workspace = arg;
      return 1;
    case 'd':
      f->dry_run = 1;
      return 1;
    case 'a':
      if (add_arg(f, arg) < 0)
        return qf_cli_usage_error(cmd, "--arg needs K=V, got '%s'", arg);
      return 1;
    case 'T':
      f->timeout_s = (int)strtol(arg, &end, 10);
      if (*end != '\0' || f->timeout_s < 1 || f->timeout_s > 3600)
        return qf_cli_usage_error(cmd, "--timeout must be 1..3600");
      return 1;
    default:
      return 0;
  }
}

/* Sets a top-level string key of a request and validates it again. */
static int with_key(qf_request_t **r, const char *key, const char *value,
                    qf_error_t *err) {
  char *text = NULL;
  int rc = qf_request_to_json(*r, &text, err);
  if (rc < 0) return rc;
  cJSON *doc = cJSON_Parse(text);
  free(text);
  cJSON_ReplaceItemInObject(doc, key, cJSON_CreateString(value));
  text = cJSON_PrintUnformatted(doc);
  cJSON_Delete(doc);
  qf_request_t *next = NULL;
  rc = text ? qf_request_parse(text, strlen(text), &next, err) : QF_ENOMEM;
  cJSON_free(text);
  if (rc < 0) return rc;
  qf_request_free(*r);
  *r = next;
  return QF_OK;
}

int qf_reqflags_build(const qf_reqflags_t *f, qf_request_t **out,
                      qf_error_t *err) {
  qf_request_t *r = NULL;
  int has_args = cJSON_GetArraySize(f->args) > 0;
  int rc = qf_request_new(f->nl, f->tool, has_args ? f->args : NULL,
                          f->timeout_s, f->dry_run, &r, err);
  if (rc == QF_OK && f->workspace)
    rc = with_key(&r, "workspace", f->workspace, err);
  if (rc == QF_OK && f->requested_by)
    rc = with_key(&r, "requested_by", f->requested_by, err);
  if (rc < 0) {
    qf_request_free(r);
    return rc;
  }
  *out = r;
  return QF_OK;
}
