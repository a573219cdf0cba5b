/* db_describe.c: a database's connection string as it may be shown (in an
 * error, a log line), and libpq's error texts with its secrets taken out.
 * Both work from libpq's own parser (PQconninfoParse), never from a guess
 * at the syntax; what does not parse is not shown at all. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qf/db.h"

/* The value of keyword in a parsed option array, or NULL. */
static const char *opt(const PQconninfoOption *o, const char *keyword) {
  for (; o && o->keyword; o++)
    if (strcmp(o->keyword, keyword) == 0 && o->val && o->val[0]) return o->val;
  return NULL;
}

void qf_db_describe(const char *conninfo, char *out, size_t n) {
  if (n == 0) return;
  char *bad = NULL;
  PQconninfoOption *o = PQconninfoParse(conninfo ? conninfo : "", &bad);
  PQfreemem(bad); /* its text may quote the password */
  if (o == NULL) {
    snprintf(out, n, "(a connection string that does not parse)");
    return;
  }
  const char *user = opt(o, "user"), *host = opt(o, "host");
  const char *port = opt(o, "port"), *db = opt(o, "dbname");
  snprintf(out, n, "postgresql://%s%s%s%s%s/%s", user ? user : "",
           user ? "@" : "", host ? host : "(default host)", port ? ":" : "",
           port ? port : "", db ? db : "");
  PQconninfoFree(o);
  /* A malformed URI parses into other parts ("u:pa/ss@h" reads as host u,
   * port pa, database ss@h): what stands where a password would is cut
   * from the description too. */
  qf_db_scrub(conninfo, out, n);
}

/* Replaces every occurrence of secret (when it is at least 2 bytes) in
 * msg (size n) with "***". */
static void cut(char *msg, size_t n, const char *secret, size_t len) {
  if (secret == NULL || len < 2) return;
  char *p;
  while ((p = strstr(msg, secret)) != NULL) {
    size_t tail = strlen(p + len);
    if (len >= 3) {
      memcpy(p, "***", 3);
      memmove(p + 3, p + len, tail + 1);
    } else if (strlen(msg) + 1 < n) {
      memmove(p + 3, p + len, tail + 1);
      memcpy(p, "***", 3);
    } else {
      memset(p, '*', len);
    }
  }
}

/* The raw text that may be a password in conninfo, whether it parses or
 * not: a URI's user-info after the first ':', or a keyword value after
 * "password=". *len gets its length. */
static const char *raw_password(const char *conninfo, size_t *len) {
  const char *s = strstr(conninfo, "://");
  if (s != NULL) {
    const char *auth = s + 3, *at = strrchr(auth, '@');
    const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    if (colon == NULL) return NULL;
    *len = (size_t)(at - colon - 1);
    return colon + 1;
  }
  const char *p = strstr(conninfo, "password");
  if (p == NULL || (p = strchr(p, '=')) == NULL) return NULL;
  for (p++; *p == ' '; p++) {
  }
  size_t i = 0;
  while (p[i] && p[i] != ' ')
    i += p[i] == '\\' && p[i + 1] ? 2 : 1;
  *len = i;
  return p;
}

void qf_db_scrub(const char *conninfo, char *msg, size_t n) {
  if (conninfo == NULL || msg == NULL) return;
  char *bad = NULL;
  PQconninfoOption *o = PQconninfoParse(conninfo, &bad);
  PQfreemem(bad);
  const char *keys[] = {"password", "sslpassword"};
  for (size_t i = 0; o && i < 2; i++) {
    const char *v = opt(o, keys[i]);
    if (v) cut(msg, n, v, strlen(v));
  }
  PQconninfoFree(o);
  size_t len = 0;
  const char *raw = raw_password(conninfo, &len);
  if (raw) {
    char secret[512];
    snprintf(secret, sizeof secret, "%.*s", (int)len, raw);
    cut(msg, n, secret, strlen(secret));
  }
}
