/* strbuf.h: a growable, always NUL-terminated byte buffer.
 *
 * Storage is caller-owned (qf_strbuf_init/qf_strbuf_fini). Appends fail with
 * QF_ENOMEM, or QF_ETOOBIG past the buffer's cap, and leave the contents as
 * they were before the failed call; the buffer stays usable.
 */
#ifndef QF_STRBUF_H
#define QF_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

#include "qf/err.h"

typedef struct qf_strbuf {
  char *data;     /* NUL-terminated; "" (static) while nothing is allocated */
  size_t len;     /* bytes used, not counting the NUL */
  size_t cap;     /* bytes allocated, 0 while data is the static "" */
  size_t max_len; /* appends past this length fail; 0 means no limit */
} qf_strbuf_t;

/* Initialises an empty buffer that allocates nothing yet. */
void qf_strbuf_init(qf_strbuf_t *sb);

/* Releases the storage and re-initialises sb. NULL allowed. */
void qf_strbuf_fini(qf_strbuf_t *sb);

/* Empties the buffer, keeping its storage. */
void qf_strbuf_reset(qf_strbuf_t *sb);

int qf_strbuf_append(qf_strbuf_t *sb, const void *data, size_t n) QF_MUSTCHECK;
int qf_strbuf_puts(qf_strbuf_t *sb, const char *s) QF_MUSTCHECK;
int qf_strbuf_putc(qf_strbuf_t *sb, char c) QF_MUSTCHECK;
int qf_strbuf_printf(qf_strbuf_t *sb, const char *fmt, ...) QF_MUSTCHECK
    QF_PRINTF(2, 3);
int qf_strbuf_vprintf(qf_strbuf_t *sb, const char *fmt, va_list ap) QF_MUSTCHECK
    QF_PRINTF(2, 0);

/* Appends s as the body of a JSON string (no surrounding quotes): escapes
 * quotes, backslashes and control characters; bytes >= 0x80 pass as they
 * are, so valid UTF-8 stays valid. */
int qf_strbuf_json_escape(qf_strbuf_t *sb, const char *s) QF_MUSTCHECK;

/* Hands the contents to the caller (free() it) and re-initialises sb.
 * Returns NULL only on out-of-memory for an empty buffer. */
char *qf_strbuf_detach(qf_strbuf_t *sb);

#endif
