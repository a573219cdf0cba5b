/* migrate_split.c: a migration file run statement by statement, so that a
 * failure names the line of the statement that failed even when the
 * server gives no position (a constraint, an object that exists): the
 * file is cut at every ';' outside quotes, dollar quotes and comments. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "migrate_internal.h"

/* Line of a 1-based character position (the server counts characters,
 * not bytes: UTF-8 continuation bytes are skipped). */
int qf__migrate_line_of(const char *sql, int pos) {
  int line = 1, chars = 0;
  for (const unsigned char *p = (const unsigned char *)sql; *p; p++) {
    if ((*p & 0xC0) == 0x80) continue;
    if (++chars >= pos) break;
    if (*p == '\n') line++;
  }
  return line;
}

/* Length of the $tag$ at p (0 when p starts no dollar quote). */
static size_t dollar_tag(const char *p) {
  if (*p != '$') return 0;
  size_t i = 1;
  while (isalnum((unsigned char)p[i]) || p[i] == '_')
    i++;
  return p[i] == '$' ? i + 1 : 0;
}

/* The end of the statement that starts at p: just after its ';', or the
 * end of the text. */
static const char *statement_end(const char *p) {
  while (*p) {
    size_t tag;
    if (*p == ';') return p + 1;
    if (p[0] == '-' && p[1] == '-') {
      p += strcspn(p, "\n");
    } else if (p[0] == '/' && p[1] == '*') {
      const char *e = strstr(p + 2, "*/");
      p = e ? e + 2 : p + strlen(p);
    } else if (*p == '\'' || *p == '"') {
      char q = *p++;
      while (*p && !(*p == q && p[1] != q))
        p += (*p == q) ? 2 : 1;
      if (*p) p++;
    } else if ((tag = dollar_tag(p)) > 0) {
      char end[64];
      size_t n = tag < sizeof end - 1 ? tag : sizeof end - 1;
      memcpy(end, p, n);
      end[n] = '\0';
      const char *e = strstr(p + tag, end);
      p = e ? e + n : p + strlen(p);
    } else {
      p++;
    }
  }
  return p;
}

static int lines_before(const char *start, const char *p) {
  int n = 0;
  for (; start < p; start++)
    n += *start == '\n';
  return n;
}

/* Only whitespace and comments: nothing to send. */
static int blank(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '-' && i + 1 < n && s[i + 1] == '-') {
      while (i < n && s[i] != '\n')
        i++;
    } else if (!isspace((unsigned char)s[i]) && s[i] != ';') {
      return 0;
    }
  }
  return 1;
}

/* The first character of p that is neither whitespace nor a comment. */
static const char *skip_blank(const char *p) {
  for (;;) {
    p += strspn(p, " \t\r\n");
    if (p[0] == '-' && p[1] == '-') {
      p += strcspn(p, "\n");
    } else if (p[0] == '/' && p[1] == '*') {
      const char *e = strstr(p + 2, "*/");
      if (!e) return p;
      p = e + 2;
    } else {
      return p;
    }
  }
}

int qf__migrate_exec(qf_db_t *db, const char *sql, int *line, qf_error_t *err) {
  *line = 0;
  for (const char *p = sql; *p;) {
    const char *end = statement_end(p);
    size_t n = (size_t)(end - p);
    if (!blank(p, n)) {
      char *stmt = strndup(p, n);
      if (!stmt) return qf_error_set(err, QF_ENOMEM, "out of memory");
      int pos = 0, rc = qf_db_exec_script(db, stmt, &pos, err);
      if (rc < 0) {
        /* The server's position is within the statement; without one,
         * the statement's first line that is not blank. */
        const char *first = skip_blank(p);
        *line = lines_before(sql, pos > 0 ? p : first) + 1 +
                (pos > 0 ? qf__migrate_line_of(stmt, pos) - 1 : 0);
        free(stmt);
        return rc;
      }
      free(stmt);
    }
    p = end;
  }
  return QF_OK;
}
