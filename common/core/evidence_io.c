/* evidence_io.c: writing evidence.json atomically. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qf/evidence.h"
#include "qf/fsutil.h"

int qf_evidence_write(const qf_evidence_t *ev, const char *dir, char **path_out,
                      qf_error_t *err) {
  return qf_evidence_write_text(ev, dir, path_out, NULL, NULL, 0, err);
}

/* One line of JSON: printed once, the same text goes to the file, the
 * database and the messages (a worker prints nothing twice). */
int qf_evidence_write_text(const qf_evidence_t *ev, const char *dir,
                           char **path_out, char **text_out, qf_fs_owed_t *owed,
                           int later, qf_error_t *err) {
  cJSON *doc = NULL;
  char *text = NULL;
  int rc = qf_evidence_to_json(ev, &doc, err);
  if (rc == QF_OK && (text = cJSON_PrintUnformatted(doc)) == NULL)
    rc = qf_error_set(err, QF_ENOMEM, "out of memory");
  /* Atomic: a reader (a decision consumer following evidence_path, a
   * resumed run) never sees half a document. */
  if (rc == QF_OK)
    rc = owed ? qf_fs_write_atomic_owed(dir, "evidence.json", text,
                                        strlen(text), later, owed, err)
              : qf_fs_write_atomic(dir, "evidence.json", text, strlen(text),
                                   err);
  if (rc == QF_OK && path_out) {
    size_t n = strlen(dir) + sizeof "/evidence.json";
    *path_out = malloc(n);
    if (*path_out == NULL)
      rc = qf_error_set(err, QF_ENOMEM, "out of memory");
    else
      snprintf(*path_out, n, "%s/evidence.json", dir);
  }
  if (rc == QF_OK && text_out) {
    *text_out = text;
    text = NULL;
  }
  cJSON_free(text);
  cJSON_Delete(doc);
  return rc;
}
