/* json_equal.h: exact, ordered equality of JSON trees and nullable strings,
 * shared by the request tests and the request fuzz target (which links
 * libqf only, hence header-only). */
#ifndef QF_TEST_JSON_EQUAL_H
#define QF_TEST_JSON_EQUAL_H

#include <cjson/cJSON.h>
#include <string.h>

static inline int qf_test_same_str(const char *a, const char *b) {
  return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* Linear time (cJSON_Compare compares objects both ways at every level:
 * exponential in the depth, and it takes doubles within an epsilon as
 * equal). */
static inline int qf_test_same_json(const cJSON *a, const cJSON *b) {
  if ((a->type & 0xFF) != (b->type & 0xFF)) return 0;
  if (cJSON_IsNumber(a)) return a->valuedouble == b->valuedouble;
  if (cJSON_IsString(a)) return strcmp(a->valuestring, b->valuestring) == 0;
  for (a = a->child, b = b->child; a != NULL && b != NULL;
       a = a->next, b = b->next) {
    if ((a->string == NULL) != (b->string == NULL)) return 0;
    if (a->string != NULL && strcmp(a->string, b->string) != 0) return 0;
    if (!qf_test_same_json(a, b)) return 0;
  }
  return a == NULL && b == NULL;
}

#endif
