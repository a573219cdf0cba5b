/* utf8.h: strict UTF-8 validation (RFC 3629).
 *
 * Valid means: no stray continuation bytes, no truncated sequences, no
 * overlong encodings, no UTF-16 surrogates (U+D800..U+DFFF) and nothing
 * above U+10FFFF. U+0000 is a valid character here; callers that build C
 * strings reject NUL themselves. Pure function, thread-safe, never logs.
 */
#ifndef QF_UTF8_H
#define QF_UTF8_H

#include <stddef.h>

#include "qf/err.h"

/* Checks s[0..n) (s is borrowed; it need not be NUL-terminated). Returns 0
 * when it is valid UTF-8; QF_EPARSE otherwise, with *bad_offset (if not
 * NULL) set to the 0-based byte offset of the first byte of the first
 * invalid sequence. QF_EINVAL when s is NULL and n > 0. */
int qf_utf8_validate(const char *s, size_t n, size_t *bad_offset) QF_MUSTCHECK;

#endif
