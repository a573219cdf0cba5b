/* request_error.c: how every request file words a problem: "<field>:
 * <reason>", the JSON type named as in "(got ...)". */
#include <stdarg.h>
#include <stdio.h>

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
