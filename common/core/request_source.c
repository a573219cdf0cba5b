/* request_source.c: the request's "source" (DESIGN 4a): which commit of
 * which repository to test. Checked strictly before anything is fetched:
 * the URL forms git knows, no credentials in the URL (they come from the
 * worker's QF_GIT_* settings, never from a requester), a full commit id or
 * a plain ref name that cannot be read as revision syntax. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qf/utf8.h"
#include "request_internal.h"

static int bad(qf_error_t *err, const char *field, const char *why) {
  return qf__request_fail(err, QF_EVALIDATE, field, "%s", why);
}

/* A ".." component would let a pattern of sources.allow (a prefix such as
 * https://host/team/) match a path outside it. */
static int has_dotdot(const char *s) {
  for (const char *p = strstr(s, ".."); p; p = strstr(p + 1, ".."))
    if ((p == s || p[-1] == '/' || p[-1] == ':') &&
        (p[2] == '/' || p[2] == '\0'))
      return 1;
  return 0;
}

/* URL forms: scheme://authority/path for https, http, ssh, git and file
 * (file:///abs), an absolute path, or scp-like user@host:path. */
static int check_repo_url(const char *s, qf_error_t *err) {
  static const char *const schemes[] = {"https://", "http://", "ssh://",
                                        "git://",   "file://", NULL};
  const char *f = "source.repo";
  for (const char *p = s; *p; p++)
    if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '\\')
      return bad(err, f, "must not contain spaces, control characters or '\\'");
  if (has_dotdot(s)) return bad(err, f, "must not contain a \"..\" component");
  if (s[0] == '-') return bad(err, f, "must not start with '-'");
  if (s[0] == '/') return QF_OK;
  for (size_t i = 0; schemes[i]; i++) {
    size_t n = strlen(schemes[i]);
    if (strncmp(s, schemes[i], n) != 0) continue;
    const char *auth = s + n, *end = auth + strcspn(auth, "/");
    const char *at = memchr(auth, '@', (size_t)(end - auth));
    if (i == 4 && end != auth)
      return bad(err, f, "a file URL must be file:///absolute/path");
    if (at && (i != 2 || memchr(auth, ':', (size_t)(at - auth))))
      return bad(err, f,
                 "must not carry credentials (the worker's QF_GIT_* "
                 "settings provide them)");
    if (*end != '/' || end[1] == '\0')
      return bad(err, f, "must name a repository path");
    return QF_OK;
  }
  const char *colon = strchr(s, ':'), *at = strchr(s, '@');
  if (colon && !strstr(s, "://") && (!at || at < colon) && colon[1] &&
      colon != s && (!at || at + 1 < colon))
    return QF_OK; /* user@host:path, host:path */
  return bad(err, f,
             "must be an https, http, ssh, git or file URL, an absolute "
             "path, or user@host:path");
}

/* A full commit id, lowercased: a short one could name another commit
 * tomorrow, and the decision must say exactly what was tested. */
static int keep_commit(const char *s, qf_request_t *r, qf_error_t *err) {
  char hex[41];
  if (strlen(s) != 40)
    return bad(err, "source.commit", "must be a full 40-digit commit id");
  for (int i = 0; i < 40; i++) {
    if (!isxdigit((unsigned char)s[i]))
      return bad(err, "source.commit", "must be hexadecimal digits");
    hex[i] = (char)tolower((unsigned char)s[i]);
  }
  hex[40] = '\0';
  return qf__request_keep(&r->source_commit, hex, err);
}

/* A branch or tag name (main, release/1.2, refs/heads/x, v1.0): the
 * characters of git's ref rules that no revision syntax uses. */
static int check_ref(const char *s, qf_error_t *err) {
  const char *f = "source.ref";
  size_t n = strlen(s);
  if (n > 255) return bad(err, f, "must be at most 255 bytes");
  if (strspn(s,
             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
             "0123456789._/-+") != n)
    return bad(err, f, "may contain only letters, digits and . _ / - +");
  if (s[0] == '-' || s[0] == '/' || s[0] == '.' || s[n - 1] == '/' ||
      s[n - 1] == '.' || strstr(s, "..") || strstr(s, "//") ||
      strstr(s, "/.") || (n >= 5 && strcmp(s + n - 5, ".lock") == 0))
    return bad(err, f, "is not a valid git ref name");
  return QF_OK;
}

static int take_string(const cJSON *v, const char *field, const char **out,
                       qf_error_t *err) {
  if (!cJSON_IsString(v) || v->valuestring[0] == '\0')
    return qf__request_fail(err, QF_EVALIDATE, field,
                            "must be a non-empty string (got %s)",
                            qf__request_type_name(v));
  *out = v->valuestring;
  return QF_OK;
}

static int source_key(const cJSON *c, qf_request_t *r, qf_error_t *err) {
  const char *s = NULL;
  int rc;
  if (strcmp(c->string, "repo") == 0) {
    if ((rc = take_string(c, "source.repo", &s, err)) < 0) return rc;
    if (strlen(s) > QF_REQUEST_MAX_REPO_BYTES)
      return bad(err, "source.repo", "must be at most 2048 bytes");
    if ((rc = check_repo_url(s, err)) < 0) return rc;
    return qf__request_keep(&r->source_repo, s, err);
  }
  if (strcmp(c->string, "commit") == 0) {
    if ((rc = take_string(c, "source.commit", &s, err)) < 0) return rc;
    return keep_commit(s, r, err);
  }
  if (strcmp(c->string, "ref") == 0) {
    if ((rc = take_string(c, "source.ref", &s, err)) < 0) return rc;
    if ((rc = check_ref(s, err)) < 0) return rc;
    return qf__request_keep(&r->source_ref, s, err);
  }
  return QF_EINVAL;
}

int qf__request_field_source(const cJSON *v, qf_request_t *r, qf_error_t *err) {
  if (cJSON_IsNull(v)) return QF_OK;
  if (!cJSON_IsObject(v))
    return qf__request_fail(err, QF_EVALIDATE, "source",
                            "must be an object or null (got %s)",
                            qf__request_type_name(v));
  for (const cJSON *c = v->child; c; c = c->next) {
    int known = strcmp(c->string, "repo") == 0 ||
                strcmp(c->string, "commit") == 0 ||
                strcmp(c->string, "ref") == 0;
    char path[96];
    snprintf(path, sizeof path, "source.%.64s", c->string);
    qf_utf8_cut(path, sizeof path - 1);
    if (!known) return qf__request_fail(err, QF_EVALIDATE, path, "unknown key");
    for (const cJSON *d = v->child; d != c; d = d->next)
      if (strcmp(d->string, c->string) == 0)
        return qf__request_fail(err, QF_EVALIDATE, path, "duplicate key");
    int rc = source_key(c, r, err);
    if (rc < 0) return rc;
  }
  if (!r->source_repo) return bad(err, "source.repo", "missing");
  if (!!r->source_commit == !!r->source_ref)
    return bad(err, "source", "needs exactly one of commit and ref");
  return QF_OK;
}

int qf__request_add_source(cJSON *o, const qf_request_t *r) {
  /* Absent rather than null: requests without a source serialise (and
   * hash) as they did before sources existed. */
  if (!r->source_repo) return 1;
  cJSON *s = cJSON_AddObjectToObject(o, "source");
  return s && cJSON_AddStringToObject(s, "repo", r->source_repo) &&
         (r->source_commit
              ? cJSON_AddStringToObject(s, "commit", r->source_commit) != NULL
              : cJSON_AddStringToObject(s, "ref", r->source_ref) != NULL);
}
