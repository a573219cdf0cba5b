/* policy_json.c: the normalised policy as canonical JSON (the input of the
 * policy hash). The schema table lists each section's keys in bytewise
 * order, so adding them in table order gives sorted objects. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "policy_internal.h"

static cJSON *list_json(const qf_strlist_t *l) {
  cJSON *a = cJSON_CreateArray();
  for (size_t i = 0; a != NULL && i < l->n; i++) {
    cJSON *s = cJSON_CreateString(l->items[i]);
    if (s == NULL || !cJSON_AddItemToArray(a, s)) {
      cJSON_Delete(s);
      cJSON_Delete(a);
      a = NULL;
    }
  }
  return a;
}

static int section_json(const qf_policy_t *p, int parent, cJSON *obj);

static cJSON *field_json(const qf_policy_t *p, size_t i) {
  const qf__pfield_t *f = &qf__policy_fields[i];
  const char *at = (const char *)p + f->off;
  cJSON *v = NULL;
  switch (f->type) {
    case QF__PF_SECTION:
      v = cJSON_CreateObject();
      if (v != NULL && section_json(p, (int)i, v) < 0) {
        cJSON_Delete(v);
        v = NULL;
      }
      break;
    case QF__PF_STR:
    case QF__PF_ENUM:
      v = cJSON_CreateString(*(char *const *)at);
      break;
    case QF__PF_STAGE:
      v = cJSON_CreateString(f->enum_vals[*(const qf_hitl_stage_t *)at]);
      break;
    case QF__PF_INT:
      v = cJSON_CreateNumber(*(const int *)at);
      break;
    case QF__PF_BOOL:
      v = cJSON_CreateBool(*(const int *)at);
      break;
    case QF__PF_LIST:
      v = list_json((const qf_strlist_t *)(const void *)at);
      break;
  }
  return v;
}

static int section_json(const qf_policy_t *p, int parent, cJSON *obj) {
  for (size_t i = 0; i < qf__policy_nfields; i++) {
    if (qf__policy_fields[i].parent != parent) continue;
    cJSON *v = field_json(p, i);
    if (v == NULL) return QF_ENOMEM;
    if (!cJSON_AddItemToObject(obj, qf__policy_fields[i].name, v)) {
      cJSON_Delete(v);
      return QF_ENOMEM;
    }
  }
  return QF_OK;
}

int qf_policy_to_json(const qf_policy_t *p, char **out, qf_error_t *err) {
  cJSON *root = NULL;
  char *text = NULL;
  int rc = QF_EINVAL;
  if (p == NULL || out == NULL) goto out;
  rc = QF_ENOMEM;
  root = cJSON_CreateObject();
  if (root == NULL || section_json(p, -1, root) < 0) goto out;
  text = cJSON_PrintUnformatted(root);
  if (text == NULL) goto out;
  /* cJSON may use its own allocator: hand the caller a malloc'd copy. */
  *out = strdup(text);
  if (*out != NULL) rc = QF_OK;
out:
  if (text != NULL) cJSON_free(text);
  cJSON_Delete(root);
  if (rc < 0)
    return qf_error_set(err, rc, "cannot serialise the policy: %s",
                        qf_strerror(rc));
  return QF_OK;
}
