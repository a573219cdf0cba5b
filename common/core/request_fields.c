/* request_fields.c: the checks on each field of a request body that is a
 * JSON object, in document order, storing what they accept in the
 * request; and the messages' dotted field paths. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qf/utf8.h"
#include "qf/uuid.h"
#include "request_internal.h"

/* Keys are shown in messages cut to this many bytes (the error message is
 * also an AMQP header, so it stays short and printable). */
#define KEY_SHOW_MAX 64
#define PATH_MAX_BYTES 256

/* Copies key into dst (KEY_SHOW_MAX + 4 bytes) for a message: ASCII control
 * bytes become '?', and a key longer than KEY_SHOW_MAX bytes is cut at a
 * character boundary and marked with "...". The empty key shows as "". */
static void show_key(char *dst, const char *key) {
  const unsigned char *k = (const unsigned char *)key;
  size_t i = 0;
  if (k[0] == '\0') {
    strcpy(dst, "\"\"");
    return;
  }
  for (; k[i] != '\0' && i < KEY_SHOW_MAX; i++)
    dst[i] = (k[i] < 0x20 || k[i] == 0x7F) ? '?' : (char)k[i];
  if (k[i] != '\0') {
    while (i > 0 && (k[i] & 0xC0) == 0x80)
      i--; /* don't split a character */
    strcpy(dst + i, "...");
    return;
  }
  dst[i] = '\0';
}

/* Writes "prefix.key" (or just key without a prefix) into dst. */
static void join_path(char *dst, size_t n, const char *prefix,
                      const char *key) {
  char shown[KEY_SHOW_MAX + 4];
  show_key(shown, key);
  snprintf(dst, n, "%s%s%s", prefix ? prefix : "", prefix ? "." : "", shown);
}

typedef int (*field_fn)(const cJSON *v, qf_request_t *r, qf_error_t *err);

typedef struct field {
  const char *name;
  field_fn check;
} field_t;

/* Checks the keys of obj in document order against fields (at most 32):
 * unknown key, duplicate key, then the field's own check. */
static int walk_object(const cJSON *obj, const char *prefix,
                       const field_t *fields, size_t nfields, qf_request_t *r,
                       qf_error_t *err) {
  unsigned long seen = 0;
  char path[PATH_MAX_BYTES];
  for (const cJSON *c = obj->child; c != NULL; c = c->next) {
    size_t i = 0;
    while (i < nfields && strcmp(fields[i].name, c->string) != 0)
      i++;
    if (i == nfields || (seen & (1ul << i))) {
      join_path(path, sizeof path, prefix, c->string);
      return qf__request_fail(err, QF_EVALIDATE, path, "%s",
                              i == nfields ? "unknown key" : "duplicate key");
    }
    seen |= 1ul << i;
    int rc = fields[i].check(c, r, err);
    if (rc < 0) return rc;
  }
  return QF_OK;
}

/* Checks a string value's type and byte length; null is allowed when
 * nullable (then *s is NULL). */
static int get_string(const cJSON *v, const char *field, size_t max,
                      int nullable, const char **s, qf_error_t *err) {
  size_t n;
  *s = NULL;
  if (nullable && cJSON_IsNull(v)) return QF_OK;
  if (!cJSON_IsString(v))
    return qf__request_fail(
        err, QF_EVALIDATE, field, "must be a string%s (got %s)",
        nullable ? " or null" : "", qf__request_type_name(v));
  n = strlen(v->valuestring);
  if (n == 0)
    return qf__request_fail(err, QF_EVALIDATE, field, "must not be empty");
  if (n > max)
    return qf__request_fail(err, QF_EVALIDATE, field,
                            "must be at most %zu bytes (got %zu)", max, n);
  *s = v->valuestring;
  return QF_OK;
}

/* Rejects what could change what a person reads where the field is shown
 * (an approver's terminal, a log): C0 controls, DEL, C1 controls and the
 * bidirectional overrides (qf_utf8_control_len). text allows tab and
 * newline, for a request written in several lines. */
static int check_controls(const char *s, const char *field, int text,
                          qf_error_t *err) {
  size_t len = strlen(s);
  for (size_t i = 0; i < len; i++) {
    size_t c = qf_utf8_control_len(s + i, len - i);
    if (c == 0 || (text && (s[i] == '\n' || s[i] == '\t'))) continue;
    return qf__request_fail(err, QF_EVALIDATE, field,
                            "must not contain control characters (byte %zu)",
                            i);
  }
  return QF_OK;
}

static int check_no_controls(const char *s, const char *field,
                             qf_error_t *err) {
  return check_controls(s, field, 0, err);
}

static int f_nl_input(const cJSON *v, qf_request_t *r, qf_error_t *err) {
  const char *s;
  int rc = get_string(v, "nl_input", QF_REQUEST_MAX_NL_BYTES, 0, &s, err);
  if (rc == QF_OK) rc = check_controls(s, "nl_input", 1, err);
  return rc < 0 ? rc : qf__request_keep(&r->nl_input, s, err);
}

static int f_environment_id(const cJSON *v, qf_request_t *r, qf_error_t *err) {
  unsigned char bytes[16];
  char canon[QF_UUID_STR_LEN + 1];
  if (cJSON_IsNull(v)) return qf__request_keep(&r->environment_id, NULL, err);
  if (!cJSON_IsString(v))
    return qf__request_fail(err, QF_EVALIDATE, "environment_id",
                            "must be a string or null (got %s)",
                            qf__request_type_name(v));
  if (qf_uuid_parse(v->valuestring, bytes) < 0)
    return qf__request_fail(err, QF_EVALIDATE, "environment_id",
                            "must be a UUID (8-4-4-4-12 hex digits)");
  qf_uuid_format(bytes, canon);
  return qf__request_keep(&r->environment_id, canon, err);
}

static int f_requested_by(const cJSON *v, qf_request_t *r, qf_error_t *err) {
  const char *s;
  int rc = get_string(v, "requested_by", QF_REQUEST_MAX_REQUESTED_BY_BYTES, 1,
                      &s, err);
  if (rc == QF_OK && s != NULL) rc = check_no_controls(s, "requested_by", err);
  return rc < 0 ? rc : qf__request_keep(&r->requested_by, s, err);
}

/* A relative path with no ".." component (the tool runs below
 * QF_WORKSPACE_ROOT and must not leave it). */
static int check_relative(const char *s, qf_error_t *err) {
  if (s[0] == '/')
    return qf__request_fail(err, QF_EVALIDATE, "workspace",
                            "must be a relative path (starts with /)");
  for (const char *p = s; p != NULL; p = strchr(p, '/')) {
    if (*p == '/') p++;
    if (p[0] == '.' && p[1] == '.' && (p[2] == '/' || p[2] == '\0'))
      return qf__request_fail(err, QF_EVALIDATE, "workspace",
                              "must not contain a \"..\" component");
  }
  return QF_OK;
}

static int f_workspace(const cJSON *v, qf_request_t *r, qf_error_t *err) {
  const char *s;
  int rc =
      get_string(v, "workspace", QF_REQUEST_MAX_WORKSPACE_BYTES, 1, &s, err);
  if (rc == QF_OK && s != NULL) rc = check_no_controls(s, "workspace", err);
  if (rc == QF_OK && s != NULL) rc = check_relative(s, err);
  return rc < 0 ? rc : qf__request_keep(&r->workspace, s, err);
}

static int o_tool_name(const cJSON *v, qf_request_t *r, qf_error_t *err) {
  const char *s;
  int rc = get_string(v, "options.tool_name", QF_REQUEST_MAX_TOOL_NAME_BYTES, 0,
                      &s, err);
  if (rc < 0) return rc;
  if (strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(s))
    return qf__request_fail(err, QF_EVALIDATE, "options.tool_name",
                            "must contain only a-z, 0-9 and _ (bad byte %zu)",
                            strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_"));
  return qf__request_keep(&r->tool_name, s, err);
}

/* Cuts a path that snprintf truncated back to whole UTF-8 characters, so
 * that messages (logged, sent as AMQP headers) stay valid UTF-8. */
static void trim_partial_utf8(char *s) {
  size_t bad = 0;
  if (qf_utf8_validate(s, strlen(s), &bad) < 0) s[bad] = '\0';
}

/* Depth first over the args tree (bounded by cJSON's nesting limit):
 * duplicate keys and numbers outside the double range (1e400 parses as
 * infinity, which JSON cannot carry back). path holds the dotted field. */
static int check_tree(const cJSON *v, char *path, size_t cap, qf_error_t *err) {
  size_t len = strlen(path);
  int rc = QF_OK, i = 0;
  if (cJSON_IsNumber(v) && !isfinite(v->valuedouble))
    return qf__request_fail(err, QF_EVALIDATE, path, "number out of range");
  for (const cJSON *c = v->child; c != NULL && rc == QF_OK; c = c->next) {
    if (cJSON_IsObject(v)) {
      char shown[KEY_SHOW_MAX + 4];
      show_key(shown, c->string);
      if (snprintf(path + len, cap - len, ".%s", shown) >= (int)(cap - len))
        trim_partial_utf8(path);
      for (const cJSON *p = v->child; p != c; p = p->next)
        if (strcmp(p->string, c->string) == 0)
          return qf__request_fail(err, QF_EVALIDATE, path, "duplicate key");
    } else {
      snprintf(path + len, cap - len, "[%d]", i++);
    }
    rc = check_tree(c, path, cap, err);
    path[len] = '\0';
  }
  return rc;
}

int qf__request_check_args(const cJSON *args, qf_error_t *err) {
  char path[PATH_MAX_BYTES] = "options.args";
  return check_tree(args, path, sizeof path, err);
}

static int o_args(const cJSON *v, qf_request_t *r, qf_error_t *err) {
  int rc;
  if (!cJSON_IsObject(v))
    return qf__request_fail(err, QF_EVALIDATE, "options.args",
                            "must be an object (got %s)",
                            qf__request_type_name(v));
  if ((rc = qf__request_check_args(v, err)) < 0) return rc;
  cJSON_Delete(r->args);
  if ((r->args = cJSON_Duplicate(v, 1)) == NULL)
    return qf_error_set(err, QF_ENOMEM, "out of memory");
  return QF_OK;
}

static int o_timeout_s(const cJSON *v, qf_request_t *r, qf_error_t *err) {
  static const char *const field = "options.timeout_s";
  double d = cJSON_IsNumber(v) ? v->valuedouble : 0;
  /* An integral value: 1.5 is refused, 1e2 and 10.0 are 100 and 10. */
  if (!cJSON_IsNumber(v))
    return qf__request_fail(err, QF_EVALIDATE, field,
                            "must be an integer from 1 to %d (got %s)",
                            QF_REQUEST_MAX_TIMEOUT_S, qf__request_type_name(v));
  if (!(d >= 1 && d <= QF_REQUEST_MAX_TIMEOUT_S && d == (double)(int)d))
    return qf__request_fail(err, QF_EVALIDATE, field,
                            "must be an integer from 1 to %d (got %.15g)",
                            QF_REQUEST_MAX_TIMEOUT_S, d);
  r->timeout_s = (int)d;
  return QF_OK;
}

static int o_dry_run(const cJSON *v, qf_request_t *r, qf_error_t *err) {
  if (!cJSON_IsBool(v))
    return qf__request_fail(err, QF_EVALIDATE, "options.dry_run",
                            "must be a boolean (got %s)",
                            qf__request_type_name(v));
  r->dry_run = cJSON_IsTrue(v) ? 1 : 0;
  return QF_OK;
}

static const field_t option_fields[] = {
    {"tool_name", o_tool_name},
    {"args", o_args},
    {"timeout_s", o_timeout_s},
    {"dry_run", o_dry_run},
};

static int f_options(const cJSON *v, qf_request_t *r, qf_error_t *err) {
  r->has_options = 0;
  if (cJSON_IsNull(v)) return QF_OK;
  if (!cJSON_IsObject(v))
    return qf__request_fail(err, QF_EVALIDATE, "options",
                            "must be an object or null (got %s)",
                            qf__request_type_name(v));
  r->has_options = 1;
  return walk_object(v, "options", option_fields,
                     sizeof option_fields / sizeof option_fields[0], r, err);
}

static const field_t top_fields[] = {
    {"nl_input", f_nl_input},   {"environment_id", f_environment_id},
    {"options", f_options},     {"requested_by", f_requested_by},
    {"workspace", f_workspace}, {"source", qf__request_field_source},
};

int qf__request_check_fields(const cJSON *root, qf_request_t *r,
                             qf_error_t *err) {
  return walk_object(root, NULL, top_fields,
                     sizeof top_fields / sizeof top_fields[0], r, err);
}
