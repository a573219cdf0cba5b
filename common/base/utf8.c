#include "qf/utf8.h"

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
