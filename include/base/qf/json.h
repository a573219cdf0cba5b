/* json.h: the few cJSON helpers every module that builds a document uses,
 * so that building stays one `ok = ok && add(...)` chain with no leak. */
#ifndef QF_JSON_H
#define QF_JSON_H

#include <cjson/cJSON.h>

/* Adds item to object o under key (ownership moves to o). A NULL item (a
 * failed create) or a failed add returns 0, and item is freed. */
int qf_json_add(cJSON *o, const char *key, cJSON *item);

/* Appends item to array a, with the same rules. */
int qf_json_append(cJSON *a, cJSON *item);

/* A string item of s, or JSON null when s is NULL (NULL on OOM). */
cJSON *qf_json_str_or_null(const char *s);

#endif
