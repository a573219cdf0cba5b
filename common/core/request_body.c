/* request_body.c: the checks on the raw body before any field is looked
 * at: size, UTF-8, JSON syntax as cJSON reads it, then a strict RFC 8259
 * pass for what cJSON lets through, and an object at the top level. */
#include <string.h>

#include "qf/utf8.h"
#include "request_internal.h"

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
    return qf__request_fail(err, QF_EVALIDATE, "body",
                            "\\u0000 is not allowed in strings (byte %zu)",
                            bad);
  return qf__request_fail(err, QF_EPARSE, "body",
                          "not valid JSON near byte %zu", bad);
}

/* Size, UTF-8, JSON syntax and the top-level type; *root on success. */
int qf__request_parse_body(const char *body, size_t len, cJSON **root,
                           qf_error_t *err) {
  const char *end = NULL;
  size_t bad = 0;
  if (len > QF_REQUEST_MAX_BODY_BYTES)
    return qf__request_fail(err, QF_ETOOBIG, "body", "larger than %d bytes",
                            QF_REQUEST_MAX_BODY_BYTES);
  if (len == 0) return qf__request_fail(err, QF_EPARSE, "body", "empty");
  if (qf_utf8_validate(body, len, &bad) < 0)
    return qf__request_fail(err, QF_EPARSE, "body", "invalid UTF-8 at byte %zu",
                            bad);
  *root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
  if (*root != NULL) {
    while (end < body + len && is_ws((unsigned char)*end))
      end++;
    if (end == body + len) {
      int rc = strict_scan(body, len, err);
      if (rc == QF_OK && !cJSON_IsObject(*root))
        rc = qf__request_fail(err, QF_EVALIDATE, "body",
                              "must be a JSON object (got %s)",
                              qf__request_type_name(*root));
      return rc;
    }
  }
  return qf__request_fail(err, QF_EPARSE, "body",
                          "not valid JSON near byte %zu",
                          end ? (size_t)(end - body) : (size_t)0);
}
