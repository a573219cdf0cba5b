/* json.c: see json.h. */
#include "qf/json.h"

int qf_json_add(cJSON *o, const char *key, cJSON *item) {
  if (item == NULL) return 0;
  if (o == NULL || !cJSON_AddItemToObject(o, key, item)) {
    cJSON_Delete(item);
    return 0;
  }
  return 1;
}

int qf_json_append(cJSON *a, cJSON *item) {
  if (item == NULL) return 0;
  if (a == NULL || !cJSON_AddItemToArray(a, item)) {
    cJSON_Delete(item);
    return 0;
  }
  return 1;
}

cJSON *qf_json_str_or_null(const char *s) {
  return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}
