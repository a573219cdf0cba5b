/* request_error.c: what every request file shares at the bottom: how a
 * problem is worded ("<field>: <reason>", the JSON type named as in
 * "(got ...)") and how an accepted value is kept. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "request_internal.h"
#include "qf/utf8.h"

int qf__request_fail(qf_error_t *err, int code, const char *field,
                     const char *fmt, ...) {
  char reason[QF_ERROR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(reason, sizeof reason, fmt, ap);
  qf_utf8_trim_tail(reason);
  va_end(ap);
  return qf_error_set(err, code, "%s: %s", field, reason);
}

const char *qf__request_type_name(const cJSON *v) {
  if (cJSON_IsNull(v)) return "null";
  if (cJSON_IsBool(v)) return "boolean";
  if (cJSON_IsNumber(v)) return "number";
  if (cJSON_IsString(v)) return "string";
  if (cJSON_IsArray(v)) return "array";
  if (cJSON_IsObject(v)) return "object";
  return "invalid";
}

/* Stores a copy of s (NULL stays NULL) in *dst. */
int qf__request_keep(char **dst, const char *s, qf_error_t *err) {
  free(*dst);
  *dst = NULL;
  if (s != NULL && (*dst = strdup(s)) == NULL)
    return qf_error_set(err, QF_ENOMEM, "out of memory");
  return QF_OK;
}
