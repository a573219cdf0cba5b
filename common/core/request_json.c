/* request_json.c: a request as compact JSON text: the normalized request
 * (qf_request_to_json), and the bodies qf_request_new builds, printed so
 * that numbers read back exactly and within the body limit. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "qf/strbuf.h"
#include "request_internal.h"

/* Adds s as a string, or null when s is NULL; 0 on out-of-memory. */
static int add_str(cJSON *o, const char *key, const char *s) {
  return (s ? cJSON_AddStringToObject(o, key, s)
            : cJSON_AddNullToObject(o, key)) != NULL;
}

/* Adds a deep copy of v under key; 0 on out-of-memory. */
int qf__request_add_copy(cJSON *o, const char *key, const cJSON *v) {
  cJSON *c = cJSON_Duplicate(v, 1);
  if (c != NULL && cJSON_AddItemToObject(o, key, c)) return 1;
  cJSON_Delete(c);
  return 0;
}

static int put_value(qf_strbuf_t *sb, const cJSON *v);

static int put_string(qf_strbuf_t *sb, const char *s) {
  int rc = s ? qf_strbuf_putc(sb, '"') : QF_EINVAL;
  if (rc == QF_OK) rc = qf_strbuf_json_escape(sb, s);
  if (rc == QF_OK) rc = qf_strbuf_putc(sb, '"');
  return rc;
}

/* The shortest of 15..17 significant digits that reads back as exactly d
 * (17 always does). cJSON's printer accepts 15 digits when they are
 * merely close, which changes values and turns DBL_MAX into infinity. */
static int put_number(qf_strbuf_t *sb, double d) {
  char buf[32];
  if (!isfinite(d)) return QF_EINVAL;
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, d);
    if (strtod(buf, NULL) == d) break;
  }
  return qf_strbuf_puts(sb, buf);
}

static int put_children(qf_strbuf_t *sb, const cJSON *v, int object) {
  int rc = qf_strbuf_putc(sb, object ? '{' : '[');
  for (const cJSON *c = v->child; c != NULL && rc == QF_OK; c = c->next) {
    if (c != v->child) rc = qf_strbuf_putc(sb, ',');
    if (rc == QF_OK && object) rc = put_string(sb, c->string);
    if (rc == QF_OK && object) rc = qf_strbuf_putc(sb, ':');
    if (rc == QF_OK) rc = put_value(sb, c);
  }
  if (rc == QF_OK) rc = qf_strbuf_putc(sb, object ? '}' : ']');
  return rc;
}

/* Compact JSON of v; recursion is bounded by cJSON's nesting limit. */
static int put_value(qf_strbuf_t *sb, const cJSON *v) {
  if (cJSON_IsNull(v)) return qf_strbuf_puts(sb, "null");
  if (cJSON_IsTrue(v)) return qf_strbuf_puts(sb, "true");
  if (cJSON_IsFalse(v)) return qf_strbuf_puts(sb, "false");
  if (cJSON_IsNumber(v)) return put_number(sb, v->valuedouble);
  if (cJSON_IsString(v)) return put_string(sb, v->valuestring);
  if (cJSON_IsArray(v) || cJSON_IsObject(v))
    return put_children(sb, v, cJSON_IsObject(v));
  return QF_EINVAL;
}

/* Prints o as compact JSON of at most QF_REQUEST_MAX_BODY_BYTES into a
 * malloc'd string (free()) in *out. */
int qf__request_print_json(const cJSON *o, char **out, qf_error_t *err) {
  qf_strbuf_t sb;
  int rc;
  qf_strbuf_init(&sb);
  sb.max_len = QF_REQUEST_MAX_BODY_BYTES;
  rc = put_value(&sb, o);
  if (rc == QF_OK && (*out = qf_strbuf_detach(&sb)) == NULL) rc = QF_ENOMEM;
  qf_strbuf_fini(&sb);
  if (rc == QF_ETOOBIG)
    return qf__request_fail(err, rc, "body",
                            "normalized request larger than %d bytes",
                            QF_REQUEST_MAX_BODY_BYTES);
  if (rc == QF_EINVAL)
    return qf__request_fail(err, rc, "request", "not representable as JSON");
  return rc == QF_OK ? rc : qf_error_set(err, rc, "out of memory");
}

int qf_request_to_json(const qf_request_t *r, char **out, qf_error_t *err) {
  cJSON *o = NULL, *opts = NULL;
  int rc = QF_ENOMEM;
  if (r == NULL || out == NULL || r->nl_input == NULL || r->tool_name == NULL ||
      !cJSON_IsObject(r->args))
    return qf_error_set(err, QF_EINVAL, "request: incomplete");
  o = cJSON_CreateObject();
  if (o == NULL || !add_str(o, "nl_input", r->nl_input) ||
      !add_str(o, "environment_id", r->environment_id) ||
      (opts = cJSON_AddObjectToObject(o, "options")) == NULL ||
      !add_str(opts, "tool_name", r->tool_name) ||
      !qf__request_add_copy(opts, "args", r->args) ||
      cJSON_AddNumberToObject(opts, "timeout_s", r->timeout_s) == NULL ||
      cJSON_AddBoolToObject(opts, "dry_run", r->dry_run) == NULL ||
      !add_str(o, "requested_by", r->requested_by) ||
      !add_str(o, "workspace", r->workspace) || !qf__request_add_source(o, r)) {
    rc = qf_error_set(err, QF_ENOMEM, "out of memory");
    goto out;
  }
  rc = qf__request_print_json(o, out, err);
out:
  cJSON_Delete(o);
  return rc;
}
