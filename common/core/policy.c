/* policy.c: loading a policy: reading the file, filling in the defaults,
 * reading the YAML over them (policy_yaml.c), then compiling the high-risk
 * rules and hashing the canonical form; and freeing it. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy_internal.h"

/* Compiles the rules, then hashes the canonical JSON of the whole policy. */
static int finish(qf_policy_t *p, qf_error_t *err) {
  char *json = NULL;
  int rc = qf__policy_compile(p, err);
  if (rc == QF_OK) rc = qf_policy_to_json(p, &json, err);
  if (rc == QF_OK) rc = qf_sha256_hex(json, strlen(json), p->hash);
  free(json);
  return rc;
}

int qf_policy_parse(const char *text, size_t len, const char *name,
                    qf_policy_t **out, qf_error_t *err) {
  qf_policy_t *p = NULL;
  int rc;
  if (name == NULL) name = "<policy>";
  if (out == NULL || (text == NULL && len > 0))
    return qf_error_set(err, QF_EINVAL, "%s: no policy text", name);
  if (len > QF_POLICY_MAX_BYTES)
    return qf_error_set(err, QF_ETOOBIG, "%s: larger than %d bytes", name,
                        QF_POLICY_MAX_BYTES);
  p = calloc(1, sizeof *p);
  if (p == NULL || (p->path = strdup(name)) == NULL ||
      qf__policy_set_defaults(p) < 0)
    rc = qf_error_set(err, QF_ENOMEM, "%s: out of memory", name);
  else
    rc = qf__policy_read_yaml(p, text, len, err);
  if (rc == QF_OK) rc = finish(p, err);
  if (rc < 0) {
    qf_policy_free(p);
    return rc;
  }
  *out = p;
  return QF_OK;
}

/* Reads at most QF_POLICY_MAX_BYTES + 1 bytes of fd into a new buffer. */
static int read_all(int fd, const char *path, char **buf, size_t *len,
                    qf_error_t *err) {
  size_t cap = QF_POLICY_MAX_BYTES + 1, n = 0;
  char *b = malloc(cap);
  if (b == NULL) return qf_error_set(err, QF_ENOMEM, "out of memory");
  while (n < cap) {
    ssize_t r = read(fd, b + n, cap - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int e = errno;
      free(b);
      return qf_error_set(err, QF_EIO, "%s: cannot read: %s", path,
                          strerror(e));
    }
    if (r == 0) break;
    n += (size_t)r;
  }
  if (n > QF_POLICY_MAX_BYTES) {
    free(b);
    return qf_error_set(err, QF_ETOOBIG, "%s: larger than %d bytes", path,
                        QF_POLICY_MAX_BYTES);
  }
  *buf = b;
  *len = n;
  return QF_OK;
}

int qf_policy_load(const char *path, qf_policy_t **out, qf_error_t *err) {
  struct stat st;
  char *buf = NULL;
  size_t len = 0;
  int rc, fd = -1;
  if (path == NULL || out == NULL)
    return qf_error_set(err, QF_EINVAL, "no policy path");
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    rc = e == ENOENT ? QF_ENOENT : QF_EIO;
    qf_error_set(err, rc, "%s: cannot open the policy: %s", path, strerror(e));
    goto out;
  }
  rc = QF_EIO;
  if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
    qf_error_set(err, rc, "%s: cannot read the policy: a directory", path);
    goto out;
  }
  rc = read_all(fd, path, &buf, &len, err);
  if (rc == QF_OK) rc = qf_policy_parse(buf, len, path, out, err);
out:
  if (fd >= 0) close(fd);
  free(buf);
  return rc;
}

qf_policy_t *qf_policy_ref(qf_policy_t *p) {
  if (p) p->refs++;
  return p;
}

void qf_policy_free(qf_policy_t *p) {
  if (p == NULL) return;
  if (p->refs > 0) {
    p->refs--;
    return;
  }
  qf__policy_compiled_free(p->internal);
  qf__policy_free_fields(p);
  free(p->path);
  free(p);
}
