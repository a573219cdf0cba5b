#include "qf/request.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qf/strbuf.h"
#include "qf/utf8.h"
#include "qf/uuid.h"

/* Keys are shown in messages cut to this many bytes (the error message is
 * also an AMQP header, so it stays short and printable). */
#define KEY_SHOW_MAX 64
#define PATH_MAX_BYTES 256

/* ------------------------------------------------------------ messages */

/* Formats "<field>: <reason>" into err and returns code. */
static int fail(qf_error_t *err, int code, const char *field, const char *fmt,
                ...) QF_PRINTF(4, 5);
static int fail(qf_error_t *err, int code, const char *field, const char *fmt,
                ...) {
  char reason[QF_ERROR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(reason, sizeof reason, fmt, ap);
  va_end(ap);
  return qf_error_set(err, code, "%s: %s", field, reason);
}

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

static const char *type_name(const cJSON *v) {
  if (cJSON_IsNull(v)) return "null";
  if (cJSON_IsBool(v)) return "boolean";
  if (cJSON_IsNumber(v)) return "number";
  if (cJSON_IsString(v)) return "string";
  if (cJSON_IsArray(v)) return "array";
  if (cJSON_IsObject(v)) return "object";
  return "invalid";
}

/* --------------------------------------------------------- body checks */

static int is_ws(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_digit(unsigned char c) {
  return c >= '0' && c <= '9';
}

/* Scans the string starting after the quote at b[i]; returns the index
 * after its closing quote, or sets *bad and returns 0. *nul_escape tells
 * the caller the problem is a \u0000 escape rather than syntax. */
static size_t scan_string(const unsigned char *b, size_t n, size_t i,
                          size_t *bad, int *nul_escape) {
  for (i++; i < n; i++) {
    if (b[i] == '"') return i + 1;
    if (b[i] < 0x20) break; /* RFC 8259: control characters are escaped */
    if (b[i] != '\\' || i + 1 >= n) continue;
    if (b[i + 1] == 'u' && i + 5 < n && memcmp(b + i + 2, "0000", 4) == 0) {
      *nul_escape = 1; /* a C string cannot carry U+0000 */
      break;
    }
    i++; /* skip the escaped character (\u's hex digits are plain) */
  }
  *bad = i;
  return 0;
}

/* Scans the number at b[i] with the RFC 8259 grammar; cJSON (strtod) also
 * takes "01", "1." and "-.5", which are not JSON. Returns the index after
 * the number, or sets *bad and returns 0. */
static size_t scan_number(const unsigned char *b, size_t n, size_t i,
                          size_t *bad) {
  if (b[i] == '-') i++;
  if (i < n && b[i] == '0') {
    i++;
  } else {
    if (i >= n || !is_digit(b[i])) goto bad;
    while (i < n && is_digit(b[i]))
      i++;
  }
  if (i < n && b[i] == '.') {
    if (++i >= n || !is_digit(b[i])) goto bad;
    while (i < n && is_digit(b[i]))
      i++;
  }
  if (i < n && (b[i] == 'e' || b[i] == 'E')) {
    if (++i < n && (b[i] == '+' || b[i] == '-')) i++;
    if (i >= n || !is_digit(b[i])) goto bad;
    while (i < n && is_digit(b[i]))
      i++;
  }
  if (i < n && (is_digit(b[i]) || (b[i] != 0 && strchr(".eE+-", b[i]) != NULL)))
    goto bad;
  return i;
bad:
  *bad = i;
  return 0;
}

/* Second pass over a body cJSON accepted, for what cJSON lets through.
 * Outside strings only structure, whitespace, literals (cJSON checked
 * them) and numbers can occur, so a byte scan is exact. */
static int strict_scan(const char *body, size_t n, qf_error_t *err) {
  const unsigned char *b = (const unsigned char *)body;
  size_t i = 0, bad = 0;
  int nul_escape = 0;
  while (i < n) {
    if (b[i] == '"') {
      i = scan_string(b, n, i, &bad, &nul_escape);
    } else if (b[i] == '-' || is_digit(b[i])) {
      i = scan_number(b, n, i, &bad);
    } else if (is_ws(b[i]) || (b[i] != 0 && strchr("{}[]:,", b[i]) != NULL) ||
               (b[i] >= 'a' && b[i] <= 'z')) {
      i++;
    } else {
      bad = i, i = 0; /* e.g. the byte order mark cJSON skips */
    }
    if (i == 0) break;
  }
  if (i != 0 || n == 0) return QF_OK;
  if (nul_escape)
    return fail(err, QF_EVALIDATE, "body",
                "\\u0000 is not allowed in strings (byte %zu)", bad);
  return fail(err, QF_EPARSE, "body", "not valid JSON near byte %zu", bad);
}

/* Size, UTF-8, JSON syntax and the top-level type; *root on success. */
static int parse_body(const char *body, size_t len, cJSON **root,
                      qf_error_t *err) {
  const char *end = NULL;
  size_t bad = 0;
  if (len > QF_REQUEST_MAX_BODY_BYTES)
    return fail(err, QF_ETOOBIG, "body", "larger than %d bytes",
                QF_REQUEST_MAX_BODY_BYTES);
  if (len == 0) return fail(err, QF_EPARSE, "body", "empty");
  if (qf_utf8_validate(body, len, &bad) < 0)
    return fail(err, QF_EPARSE, "body", "invalid UTF-8 at byte %zu", bad);
  *root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
  if (*root != NULL) {
    while (end < body + len && is_ws((unsigned char)*end))
      end++;
    if (end == body + len) {
      int rc = strict_scan(body, len, err);
      if (rc == QF_OK && !cJSON_IsObject(*root))
        rc = fail(err, QF_EVALIDATE, "body", "must be a JSON object (got %s)",
                  type_name(*root));
      return rc;
    }
  }
  return fail(err, QF_EPARSE, "body", "not valid JSON near byte %zu",
              end ? (size_t)(end - body) : (size_t)0);
}

/* ------------------------------------------------------ field checkers */

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
      return fail(err, QF_EVALIDATE, path, "%s",
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
    return fail(err, QF_EVALIDATE, field, "must be a string%s (got %s)",
                nullable ? " or null" : "", type_name(v));
  n = strlen(v->valuestring);
  if (n == 0) return fail(err, QF_EVALIDATE, field, "must not be empty");
  if (n > max)
    return fail(err, QF_EVALIDATE, field, "must be at most %zu bytes (got %zu)",
                max, n);
  *s = v->valuestring;
  return QF_OK;
}

/* Stores a copy of s (NULL stays NULL) in *dst. */
static int keep(char **dst, const char *s, qf_error_t *err) {
  free(*dst);
  *dst = NULL;
  if (s != NULL && (*dst = strdup(s)) == NULL)
    return qf_error_set(err, QF_ENOMEM, "out of memory");
  return QF_OK;
}

/* Rejects C0 controls, DEL and C1 controls (U+0080..U+009F). */
static int check_no_controls(const char *s, const char *field,
                             qf_error_t *err) {
  const unsigned char *p = (const unsigned char *)s;
  for (size_t i = 0; p[i] != '\0'; i++) {
    if (p[i] < 0x20 || p[i] == 0x7F ||
        (p[i] == 0xC2 && p[i + 1] >= 0x80 && p[i + 1] <= 0x9F))
      return fail(err, QF_EVALIDATE, field,
                  "must not contain control characters (byte %zu)", i);
  }
  return QF_OK;
}

static int f_nl_input(const cJSON *v, qf_request_t *r, qf_error_t *err) {
  const char *s;
  int rc = get_string(v, "nl_input", QF_REQUEST_MAX_NL_BYTES, 0, &s, err);
  return rc < 0 ? rc : keep(&r->nl_input, s, err);
}

static int f_environment_id(const cJSON *v, qf_request_t *r, qf_error_t *err) {
  unsigned char bytes[16];
  char canon[QF_UUID_STR_LEN + 1];
  if (cJSON_IsNull(v)) return keep(&r->environment_id, NULL, err);
  if (!cJSON_IsString(v))
    return fail(err, QF_EVALIDATE, "environment_id",
                "must be a string or null (got %s)", type_name(v));
  if (qf_uuid_parse(v->valuestring, bytes) < 0)
    return fail(err, QF_EVALIDATE, "environment_id",
                "must be a UUID (8-4-4-4-12 hex digits)");
  qf_uuid_format(bytes, canon);
  return keep(&r->environment_id, canon, err);
}

static int f_requested_by(const cJSON *v, qf_request_t *r, qf_error_t *err) {
  const char *s;
  int rc = get_string(v, "requested_by", QF_REQUEST_MAX_REQUESTED_BY_BYTES, 1,
                      &s, err);
  if (rc == QF_OK && s != NULL) rc = check_no_controls(s, "requested_by", err);
  return rc < 0 ? rc : keep(&r->requested_by, s, err);
}

/* A relative path with no ".." component (the tool runs below
 * QF_WORKSPACE_ROOT and must not leave it). */
static int check_relative(const char *s, qf_error_t *err) {
  if (s[0] == '/')
    return fail(err, QF_EVALIDATE, "workspace",
                "must be a relative path (starts with /)");
  for (const char *p = s; p != NULL; p = strchr(p, '/')) {
    if (*p == '/') p++;
    if (p[0] == '.' && p[1] == '.' && (p[2] == '/' || p[2] == '\0'))
      return fail(err, QF_EVALIDATE, "workspace",
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
  return rc < 0 ? rc : keep(&r->workspace, s, err);
}

static int o_tool_name(const cJSON *v, qf_request_t *r, qf_error_t *err) {
  const char *s;
  int rc = get_string(v, "options.tool_name", QF_REQUEST_MAX_TOOL_NAME_BYTES, 0,
                      &s, err);
  if (rc < 0) return rc;
  if (strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(s))
    return fail(err, QF_EVALIDATE, "options.tool_name",
                "must contain only a-z, 0-9 and _ (bad byte %zu)",
                strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_"));
  return keep(&r->tool_name, s, err);
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
    return fail(err, QF_EVALIDATE, path, "number out of range");
  for (const cJSON *c = v->child; c != NULL && rc == QF_OK; c = c->next) {
    if (cJSON_IsObject(v)) {
      char shown[KEY_SHOW_MAX + 4];
      show_key(shown, c->string);
      if (snprintf(path + len, cap - len, ".%s", shown) >= (int)(cap - len))
        trim_partial_utf8(path);
      for (const cJSON *p = v->child; p != c; p = p->next)
        if (strcmp(p->string, c->string) == 0)
          return fail(err, QF_EVALIDATE, path, "duplicate key");
    } else {
      snprintf(path + len, cap - len, "[%d]", i++);
    }
    rc = check_tree(c, path, cap, err);
    path[len] = '\0';
  }
  return rc;
}

static int o_args(const cJSON *v, qf_request_t *r, qf_error_t *err) {
  char path[PATH_MAX_BYTES] = "options.args";
  int rc;
  if (!cJSON_IsObject(v))
    return fail(err, QF_EVALIDATE, "options.args", "must be an object (got %s)",
                type_name(v));
  if ((rc = check_tree(v, path, sizeof path, err)) < 0) return rc;
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
    return fail(err, QF_EVALIDATE, field,
                "must be an integer from 1 to %d (got %s)",
                QF_REQUEST_MAX_TIMEOUT_S, type_name(v));
  if (!(d >= 1 && d <= QF_REQUEST_MAX_TIMEOUT_S && d == (double)(int)d))
    return fail(err, QF_EVALIDATE, field,
                "must be an integer from 1 to %d (got %.15g)",
                QF_REQUEST_MAX_TIMEOUT_S, d);
  r->timeout_s = (int)d;
  return QF_OK;
}

static int o_dry_run(const cJSON *v, qf_request_t *r, qf_error_t *err) {
  if (!cJSON_IsBool(v))
    return fail(err, QF_EVALIDATE, "options.dry_run",
                "must be a boolean (got %s)", type_name(v));
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
    return fail(err, QF_EVALIDATE, "options",
                "must be an object or null (got %s)", type_name(v));
  r->has_options = 1;
  return walk_object(v, "options", option_fields,
                     sizeof option_fields / sizeof option_fields[0], r, err);
}

static const field_t top_fields[] = {
    {"nl_input", f_nl_input},   {"environment_id", f_environment_id},
    {"options", f_options},     {"requested_by", f_requested_by},
    {"workspace", f_workspace},
};

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
    rc = keep(&r->tool_name,
              playwright ? "run_playwright" : QF_REQUEST_DEFAULT_TOOL, err);
    if (rc == QF_OK && (r->args = default_args(!playwright)) == NULL)
      rc = qf_error_set(err, QF_ENOMEM, "out of memory");
    return rc;
  }
  if (r->timeout_s == 0) r->timeout_s = QF_REQUEST_DEFAULT_TIMEOUT_S;
  if (r->tool_name == NULL)
    rc = keep(&r->tool_name, QF_REQUEST_DEFAULT_TOOL, err);
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
  if ((rc = parse_body(body, len, &root, err)) < 0) goto out;
  if ((r = calloc(1, sizeof *r)) == NULL) {
    rc = qf_error_set(err, QF_ENOMEM, "out of memory");
    goto out;
  }
  rc = walk_object(root, NULL, top_fields,
                   sizeof top_fields / sizeof top_fields[0], r, err);
  if (rc == QF_OK && r->nl_input == NULL)
    rc = fail(err, QF_EVALIDATE, "nl_input", "missing");
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
  free(r);
}

/* Adds s as a string, or null when s is NULL; 0 on out-of-memory. */
static int add_str(cJSON *o, const char *key, const char *s) {
  return (s ? cJSON_AddStringToObject(o, key, s)
            : cJSON_AddNullToObject(o, key)) != NULL;
}

/* Adds a deep copy of v under key; 0 on out-of-memory. */
static int add_copy(cJSON *o, const char *key, const cJSON *v) {
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
static int print_json(const cJSON *o, char **out, qf_error_t *err) {
  qf_strbuf_t sb;
  int rc;
  qf_strbuf_init(&sb);
  sb.max_len = QF_REQUEST_MAX_BODY_BYTES;
  rc = put_value(&sb, o);
  if (rc == QF_OK && (*out = qf_strbuf_detach(&sb)) == NULL) rc = QF_ENOMEM;
  qf_strbuf_fini(&sb);
  if (rc == QF_ETOOBIG)
    return fail(err, rc, "body", "normalized request larger than %d bytes",
                QF_REQUEST_MAX_BODY_BYTES);
  if (rc == QF_EINVAL)
    return fail(err, rc, "request", "not representable as JSON");
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
      !add_copy(opts, "args", r->args) ||
      cJSON_AddNumberToObject(opts, "timeout_s", r->timeout_s) == NULL ||
      cJSON_AddBoolToObject(opts, "dry_run", r->dry_run) == NULL ||
      !add_str(o, "requested_by", r->requested_by) ||
      !add_str(o, "workspace", r->workspace)) {
    rc = qf_error_set(err, QF_ENOMEM, "out of memory");
    goto out;
  }
  rc = print_json(o, out, err);
out:
  cJSON_Delete(o);
  return rc;
}

/* For qf_request_new: a C string must be UTF-8 before it goes into a body,
 * and the offset is more useful relative to the string than to the body. */
static int check_utf8(const char *s, const char *field, qf_error_t *err) {
  size_t bad = 0;
  if (s != NULL && qf_utf8_validate(s, strlen(s), &bad) < 0)
    return fail(err, QF_EPARSE, field, "invalid UTF-8 at byte %zu", bad);
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
       (args == NULL || add_copy(opts, "args", args)) &&
       (timeout_s == 0 ||
        cJSON_AddNumberToObject(opts, "timeout_s", timeout_s) != NULL) &&
       cJSON_AddBoolToObject(opts, "dry_run", dry_run) != NULL;
  cJSON_Delete(guessed);
  return ok;
}

int qf_request_new(const char *nl_input, const char *tool_name,
                   const cJSON *args, int timeout_s, int dry_run,
                   qf_request_t **out, qf_error_t *err) {
  char path[PATH_MAX_BYTES] = "options.args", *text = NULL;
  int has_options = tool_name || args || timeout_s || dry_run, rc;
  cJSON *body = NULL;
  if (out == NULL) return qf_error_set(err, QF_EINVAL, "request: no output");
  if ((rc = check_utf8(nl_input, "nl_input", err)) < 0 ||
      (rc = check_utf8(tool_name, "options.tool_name", err)) < 0)
    return rc;
  /* JSON cannot carry infinity or NaN: name the field as parse would. */
  if (cJSON_IsObject(args) && (rc = check_tree(args, path, sizeof path, err)))
    return rc;
  body = cJSON_CreateObject();
  if (body == NULL ||
      (nl_input && !cJSON_AddStringToObject(body, "nl_input", nl_input)) ||
      (has_options &&
       !add_options(body, nl_input, tool_name, args, timeout_s, dry_run))) {
    rc = qf_error_set(err, QF_ENOMEM, "out of memory");
    goto out;
  }
  if ((rc = print_json(body, &text, err)) == QF_OK)
    rc = qf_request_parse(text, strlen(text), out, err);
out:
  free(text);
  cJSON_Delete(body);
  return rc;
}
