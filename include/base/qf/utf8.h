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

/* Whether the valid UTF-8 character at s (len bytes, >= 1) is one that
 * can change what a person reads on a terminal: C0 controls, DEL, C1
 * controls (U+0080..U+009F), and the bidirectional overrides and isolates
 * (U+202A..U+202E, U+2066..U+2069). Returns its length in bytes, or 0. */
size_t qf_utf8_control_len(const char *s, size_t len);

/* s (NUL-terminated UTF-8) made safe to print for a person: every
 * character qf_utf8_control_len names becomes an escape ("\n", "\t",
 * "\r", "\x1b", "\u202e"); invalid bytes become "\xNN". Malloc'ed
 * (caller frees); NULL for NULL or when out of memory. */
char *qf_utf8_escape(const char *s);

/* The longest prefix of s (NUL-terminated) of at most max bytes that ends
 * on a character boundary: the one way qf cuts text to a bound, so that
 * no cut leaves half a character (PostgreSQL refuses such jsonb). */
size_t qf_utf8_cut_len(const char *s, size_t max);

/* Cuts s in place to qf_utf8_cut_len(s, max) bytes. */
void qf_utf8_cut(char *s, size_t max);

/* Removes a character cut in half at the end of s (what a byte-bounded
 * copy such as snprintf leaves). */
void qf_utf8_trim_tail(char *s);

/* vsnprintf into buf (size n >= 1), then a character cut in half at the
 * end (output truncated) removed. Returns what vsnprintf returned. */
int qf_utf8_snprintf(char *buf, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
