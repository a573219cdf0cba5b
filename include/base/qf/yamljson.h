/* yamljson.h: reads a YAML document (libyaml) into a cJSON tree, for data
 * files such as the evals dataset. Plain scalars are typed as YAML 1.2's
 * core schema types them (null, true/false, integers, floats); quoted
 * scalars are always strings. Refused, with "name:line: why": aliases and
 * anchors (no alias bombs), tags, non-scalar or duplicate mapping keys,
 * more than one document, nesting deeper than QF_YAML_MAX_DEPTH. */
#ifndef QF_YAMLJSON_H
#define QF_YAMLJSON_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "qf/err.h"

#define QF_YAML_MAX_DEPTH 64

/* On success *out is owned by the caller (cJSON_Delete). */
int qf_yaml_to_json(const char *text, size_t len, const char *name, cJSON **out,
                    qf_error_t *err) QF_MUSTCHECK;

#endif
