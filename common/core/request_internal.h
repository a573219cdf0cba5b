/* request_internal.h: what the request sources share. Not a public header.
 *
 * The files call one another in one direction only: request.c (the public
 * parse, free, new) uses request_body.c (raw body checks),
 * request_fields.c (field checks, which leave "source" to
 * request_source.c) and request_json.c (serialising); all of them word
 * their problems, and keep what they accept, through request_error.c. */
#ifndef QF_REQUEST_INTERNAL_H
#define QF_REQUEST_INTERNAL_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "qf/err.h"
#include "qf/request.h"

/* Formats "<field>: <reason>" into err and returns code. */
int qf__request_fail(qf_error_t *err, int code, const char *field,
                     const char *fmt, ...) QF_PRINTF(4, 5);

/* The JSON type of v as messages name it ("(got string)"). */
const char *qf__request_type_name(const cJSON *v);

/* Step 1 of the validation order (request.h): size, UTF-8, JSON syntax,
 * the strict RFC 8259 pass, a top-level object. On success *root is the
 * parsed body (cJSON_Delete); on failure it may be set as well. */
int qf__request_parse_body(const char *body, size_t len, cJSON **root,
                           qf_error_t *err);

/* Step 2: checks the top-level keys of the object root (and inside
 * options) in document order, storing each accepted value in r. */
int qf__request_check_fields(const cJSON *root, qf_request_t *r,
                             qf_error_t *err);

/* The tree checks of options.args (duplicate keys, non-finite numbers)
 * on the object args, messages naming "options.args...". */
int qf__request_check_args(const cJSON *args, qf_error_t *err);

/* The "source" field (request_source.c): null or {repo, commit|ref}. */
int qf__request_field_source(const cJSON *v, qf_request_t *r, qf_error_t *err);

/* Adds "source" to o when r has one; 0 on out-of-memory. */
int qf__request_add_source(cJSON *o, const qf_request_t *r);

/* Replaces *dst with a copy of s (NULL stays NULL). 0 or QF_ENOMEM. */
int qf__request_keep(char **dst, const char *s, qf_error_t *err);

/* Adds a deep copy of v to o under key; 0 on out-of-memory. */
int qf__request_add_copy(cJSON *o, const char *key, const cJSON *v);

/* Prints o as compact JSON of at most QF_REQUEST_MAX_BODY_BYTES into a
 * malloc'd string (free()) in *out. Numbers are written with the fewest
 * digits that read back exactly. */
int qf__request_print_json(const cJSON *o, char **out, qf_error_t *err);

#endif
