/* policy_internal.h: what the policy sources (policy.c, policy_yaml.c,
 * policy_schema.c, policy_match.c, policy_json.c) share. Not a public
 * header. */
#ifndef QF_POLICY_INTERNAL_H
#define QF_POLICY_INTERNAL_H

#include <stddef.h>

#include "qf/policy.h"

typedef enum qf__pfield_type {
  QF__PF_SECTION, /* a mapping of further keys */
  QF__PF_STR,     /* char *, any non-null scalar */
  QF__PF_ENUM,    /* char *, one of enum_vals */
  QF__PF_STAGE,   /* qf_hitl_stage_t, one of enum_vals (index) */
  QF__PF_INT,     /* int, plain base-10 within [min, max] */
  QF__PF_BOOL,    /* int 0/1 */
  QF__PF_LIST     /* qf_strlist_t of non-empty strings */
} qf__pfield_type_t;

typedef enum qf__pitem_kind {
  QF__PI_ANY,     /* any non-empty string */
  QF__PI_KEYWORD, /* a single word, lowercased */
  QF__PI_REGEX,   /* a PCRE2 pattern that compiles */
  QF__PI_ENVNAME  /* no '=' */
} qf__pitem_kind_t;

/* One key of the schema. Within a section, entries are in bytewise key
 * order (the canonical JSON relies on it; a test checks it). */
typedef struct qf__pfield {
  const char *name;
  int parent; /* index of the section entry, -1 for the top level */
  qf__pfield_type_t type;
  size_t off; /* offsetof in qf_policy_t (unused for sections) */
  long long min, max;
  int def_int;
  const char *def_str;
  const char *const *def_list;  /* NULL-terminated, NULL = empty */
  const char *const *enum_vals; /* NULL-terminated */
  const char *unsupported;      /* an enum value refused with a reason */
  qf__pitem_kind_t item;
} qf__pfield_t;

extern const qf__pfield_t qf__policy_fields[];
extern const size_t qf__policy_nfields;

/* Writes the dotted path of field i ("cost_governance.timeout_s") into
 * out (size n), cut to fit. */
void qf__policy_field_path(size_t i, char *out, size_t n);

/* Reads the YAML text[0..len) (text may be NULL when len is 0) into p,
 * which holds the defaults: the keys it gives replace them. On a problem
 * err gets "NAME:LINE: KEY: problem" (NAME is p->path) and the result is
 * a negative QF_E* code (QF_EPARSE for YAML syntax, QF_EVALIDATE for
 * content, QF_ENOMEM); p may then be partly filled, for qf_policy_free. */
int qf__policy_read_yaml(qf_policy_t *p, const char *text, size_t len,
                         qf_error_t *err);

/* Fills every key with its default. Returns 0 or QF_ENOMEM. */
int qf__policy_set_defaults(qf_policy_t *p);

/* Frees what the fields own (strings, lists) and zeroes them. */
void qf__policy_free_fields(qf_policy_t *p);

/* Frees a list's items and empties it (the list itself is not freed). */
void qf__policy_free_list(qf_strlist_t *l);

/* Checks one list item of kind `kind`. May replace *value (a malloc'd
 * string) with a normalised copy (keywords are lowercased). On a problem
 * writes a reason into why (size n) and returns QF_EVALIDATE. */
int qf__policy_check_item(qf__pitem_kind_t kind, char **value, char *why,
                          size_t n);

/* Compiles the keywords and patterns into p->internal. */
int qf__policy_compile(qf_policy_t *p, qf_error_t *err);

/* Frees p->internal. */
void qf__policy_compiled_free(void *internal);

/* policy_env.c: whether a sandbox.env_whitelist entry may stand (no '=',
 * matches none of the worker's settings or a credential name); QF_OK or
 * QF_EVALIDATE with why. */
int qf__policy_check_env_name(const char *pattern, char *why, size_t n);

#endif
