#include "qf/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char empty_string[1];

void qf_strbuf_init(qf_strbuf_t *sb) {
  sb->data = empty_string;
  sb->len = 0;
  sb->cap = 0;
  sb->max_len = 0;
}

void qf_strbuf_fini(qf_strbuf_t *sb) {
  if (sb == NULL) return;
  if (sb->cap > 0) free(sb->data);
  qf_strbuf_init(sb);
}

void qf_strbuf_reset(qf_strbuf_t *sb) {
  sb->len = 0;
  sb->data[0] = '\0';
}

/* Makes room for `extra` more bytes plus the NUL, growing by doubling so
 * that a long run of small appends stays linear. */
static int reserve(qf_strbuf_t *sb, size_t extra) {
  if (extra > (size_t)-1 / 2 - sb->len) return QF_ETOOBIG;
  size_t need = sb->len + extra + 1;
  if (sb->max_len > 0 && sb->len + extra > sb->max_len) return QF_ETOOBIG;
  if (need <= sb->cap) return QF_OK;
  size_t cap = sb->cap ? sb->cap : 64;
  while (cap < need)
    cap *= 2;
  char *p = sb->cap ? realloc(sb->data, cap) : malloc(cap);
  if (p == NULL) return QF_ENOMEM;
  if (sb->cap == 0) p[0] = '\0';
  sb->data = p;
  sb->cap = cap;
  return QF_OK;
}

int qf_strbuf_append(qf_strbuf_t *sb, const void *data, size_t n) {
  int rc = reserve(sb, n);
  if (rc < 0) return rc;
  if (n > 0) memcpy(sb->data + sb->len, data, n);
  sb->len += n;
  sb->data[sb->len] = '\0';
  return QF_OK;
}

int qf_strbuf_puts(qf_strbuf_t *sb, const char *s) {
  return qf_strbuf_append(sb, s, strlen(s));
}

int qf_strbuf_putc(qf_strbuf_t *sb, char c) {
  return qf_strbuf_append(sb, &c, 1);
}

int qf_strbuf_vprintf(qf_strbuf_t *sb, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) return QF_EINVAL;
  int rc = reserve(sb, (size_t)n);
  if (rc < 0) return rc;
  vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
  sb->len += (size_t)n;
  return QF_OK;
}

int qf_strbuf_printf(qf_strbuf_t *sb, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = qf_strbuf_vprintf(sb, fmt, ap);
  va_end(ap);
  return rc;
}

int qf_strbuf_json_escape(qf_strbuf_t *sb, const char *s) {
  size_t mark = sb->len;
  int rc = QF_OK;
  for (const unsigned char *p = (const unsigned char *)s; *p && rc == 0; p++) {
    switch (*p) {
      case '"':
        rc = qf_strbuf_puts(sb, "\\\"");
        break;
      case '\\':
        rc = qf_strbuf_puts(sb, "\\\\");
        break;
      case '\n':
        rc = qf_strbuf_puts(sb, "\\n");
        break;
      case '\r':
        rc = qf_strbuf_puts(sb, "\\r");
        break;
      case '\t':
        rc = qf_strbuf_puts(sb, "\\t");
        break;
      default:
        if (*p < 0x20 || *p == 0x7f)
          rc = qf_strbuf_printf(sb, "\\u%04x", *p);
        else
          rc = qf_strbuf_putc(sb, (char)*p);
    }
  }
  if (rc < 0) { /* all or nothing, as every other append */
    sb->len = mark;
    sb->data[mark] = '\0';
  }
  return rc;
}

char *qf_strbuf_detach(qf_strbuf_t *sb) {
  char *p = sb->cap ? sb->data : strdup("");
  qf_strbuf_init(sb);
  return p;
}
