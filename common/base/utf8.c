#include "qf/utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Returns the length (1..4) of the well-formed sequence at p (left bytes
 * available), or 0 when it is not one. The ranges are Table 3-7 of the
 * Unicode standard: they exclude overlongs, surrogates and > U+10FFFF. */
static size_t seq_len(const unsigned char *p, size_t left) {
  unsigned char c = p[0], lo = 0x80, hi = 0xBF;
  size_t need;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 3;
    if (c == 0xE0) lo = 0xA0; /* below is overlong */
    if (c == 0xED) hi = 0x9F; /* above is a surrogate */
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 4;
    if (c == 0xF0) lo = 0x90; /* below is overlong */
    if (c == 0xF4) hi = 0x8F; /* above is > U+10FFFF */
  } else {
    return 0; /* continuation byte, C0/C1 overlong lead, or F5..FF */
  }
  if (left < need || p[1] < lo || p[1] > hi) return 0;
  for (size_t i = 2; i < need; i++)
    if (p[i] < 0x80 || p[i] > 0xBF) return 0;
  return need;
}

int qf_utf8_validate(const char *s, size_t n, size_t *bad_offset) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  if (s == NULL && n > 0) return QF_EINVAL;
  while (i < n) {
    size_t k = seq_len(p + i, n - i);
    if (k == 0) {
      if (bad_offset) *bad_offset = i;
      return QF_EPARSE;
    }
    i += k;
  }
  return QF_OK;
}

size_t qf_utf8_control_len(const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s;
  if (len >= 1 && (p[0] < 0x20 || p[0] == 0x7F)) return 1;
  if (len >= 2 && p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F) return 2;
  if (len >= 3 && p[0] == 0xE2 && p[1] == 0x80 && p[2] >= 0xAA && p[2] <= 0xAE)
    return 3; /* U+202A..U+202E */
  if (len >= 3 && p[0] == 0xE2 && p[1] == 0x81 && p[2] >= 0xA6 && p[2] <= 0xA9)
    return 3; /* U+2066..U+2069 */
  return 0;
}

/* The escape of the control character at p (n bytes) into out. */
static int escape_one(const unsigned char *p, size_t n, char *out, size_t cap) {
  if (n == 1 && p[0] == '\n') return snprintf(out, cap, "\\n");
  if (n == 1 && p[0] == '\t') return snprintf(out, cap, "\\t");
  if (n == 1 && p[0] == '\r') return snprintf(out, cap, "\\r");
  if (n == 1) return snprintf(out, cap, "\\x%02x", p[0]);
  unsigned cp = n == 2 ? (unsigned)(p[1] & 0x3F) | 0x80u
                       : ((unsigned)(p[0] & 0x0F) << 12) |
                             ((unsigned)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
  return snprintf(out, cap, "\\u%04x", cp);
}

char *qf_utf8_escape(const char *s) {
  if (s == NULL) return NULL;
  size_t len = strlen(s), cap = len * 6 + 1, o = 0;
  char *out = malloc(cap);
  if (out == NULL) return NULL;
  const unsigned char *p = (const unsigned char *)s;
  for (size_t i = 0; i < len;) {
    size_t c = qf_utf8_control_len(s + i, len - i);
    size_t ok = c ? 0 : seq_len(p + i, len - i);
    if (c) {
      o += (size_t)escape_one(p + i, c, out + o, cap - o);
      i += c;
    } else if (ok == 0) { /* not UTF-8: shown, not passed through */
      o += (size_t)snprintf(out + o, cap - o, "\\x%02x", p[i]);
      i++;
    } else {
      memcpy(out + o, p + i, ok);
      o += ok;
      i += ok;
    }
  }
  out[o] = '\0';
  return out;
}

size_t qf_utf8_cut_len(const char *s, size_t max) {
  size_t n = strnlen(s, max + 1);
  if (n <= max) return n;
  n = max;
  /* Back up over continuation bytes to the lead byte, then drop the lead
   * too unless the whole sequence fits. */
  size_t lead = n;
  while (lead > 0 && ((unsigned char)s[lead] & 0xC0) == 0x80)
    lead--;
  return lead;
}

void qf_utf8_cut(char *s, size_t max) {
  s[qf_utf8_cut_len(s, max)] = '\0';
}

void qf_utf8_trim_tail(char *s) {
  size_t len = strlen(s), p = len;
  /* The lead byte of the last character (at most 3 continuation bytes). */
  while (p > 0 && len - p < 4 && ((unsigned char)s[p - 1] & 0xC0) == 0x80)
    p--;
  if (p == 0 || len - p >= 4) return;
  p--; /* s[p] is the last lead (or ASCII) byte */
  if ((unsigned char)s[p] >= 0xC0 &&
      seq_len((const unsigned char *)s + p, len - p) == 0)
    s[p] = '\0';
}

int qf_utf8_snprintf(char *buf, size_t n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int w = vsnprintf(buf, n, fmt, ap);
  va_end(ap);
  if (w >= 0 && (size_t)w >= n) qf_utf8_trim_tail(buf);
  return w;
}
