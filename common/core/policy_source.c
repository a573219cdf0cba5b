/* policy_source.c: the last good policy of a file that may change (see
 * policy_source.h). It keeps the policy that loaded, parsed and its
 * patterns compiled once, and hands it to each run by reference. */
#include "qf/policy_source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "qf/fsutil.h"
#include "qf/utf8.h"

struct qf_policy_source {
  char *path;
  qf_policy_t *policy; /* the last version that loaded */
  struct stat seen;    /* the file as last looked at */
  char problem[QF_ERROR_MSG_MAX + 64];
};

static int changed(const struct stat *a, const struct stat *b) {
  return a->st_ino != b->st_ino || a->st_dev != b->st_dev ||
         a->st_size != b->st_size || a->st_mtim.tv_sec != b->st_mtim.tv_sec ||
         a->st_mtim.tv_nsec != b->st_mtim.tv_nsec;
}

/* Reads and checks the file; keeps it when it loads. */
static int reload(qf_policy_source_t *s, qf_error_t *err) {
  char *text = NULL;
  size_t len = 0;
  qf_policy_t *p = NULL;
  int rc = qf_fs_read(s->path, QF_POLICY_MAX_BYTES, &text, &len, err);
  if (rc == QF_OK) rc = qf_policy_parse(text, len, s->path, &p, err);
  free(text);
  if (rc < 0) return rc;
  qf_policy_free(s->policy); /* runs holding it keep it until they end */
  s->policy = p;
  s->problem[0] = '\0';
  return QF_OK;
}

int qf_policy_source_open(const char *path, qf_policy_source_t **out,
                          qf_error_t *err) {
  qf_policy_source_t *s = calloc(1, sizeof *s);
  if (s == NULL || (s->path = strdup(path)) == NULL) {
    free(s);
    return qf_error_set(err, QF_ENOMEM, "out of memory");
  }
  if (stat(path, &s->seen) < 0) memset(&s->seen, 0, sizeof s->seen);
  int rc = reload(s, err);
  if (rc < 0) {
    qf_policy_source_free(s);
    return rc;
  }
  *out = s;
  return QF_OK;
}

void qf_policy_source_free(qf_policy_source_t *s) {
  if (s == NULL) return;
  free(s->path);
  qf_policy_free(s->policy);
  free(s);
}

int qf_policy_source_refresh(qf_policy_source_t *s) {
  struct stat now;
  if (stat(s->path, &now) < 0) memset(&now, 0, sizeof now);
  if (!changed(&now, &s->seen)) return 0;
  qf_error_t why;
  s->seen = now;
  if (reload(s, &why) < 0)
    qf_utf8_snprintf(s->problem, sizeof s->problem,
                     "%.*s (the last good "
                     "version stays in force)",
                     (int)qf_utf8_cut_len(why.message, 400), why.message);
  return 1;
}

int qf_policy_source_get(const qf_policy_source_t *s, qf_policy_t **out,
                         qf_error_t *err) {
  (void)err;
  *out = qf_policy_ref(s->policy);
  return QF_OK;
}

const char *qf_policy_source_problem(const qf_policy_source_t *s) {
  return s->problem[0] ? s->problem : NULL;
}
