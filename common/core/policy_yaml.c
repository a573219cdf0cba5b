/* policy_yaml.c: reading a policy's YAML text into a policy that holds the
 * defaults: walking libyaml's events against the schema table
 * (policy_schema.c), failing closed with the file, line and key of the
 * first problem. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "policy_internal.h"

/* The schema nests sections two deep (tools.playwright); this bound only
 * guards the recursion should the table ever grow deeper. */
#define MAX_DEPTH 8

typedef struct pctx {
  yaml_parser_t parser;
  const char *text;
  size_t len;
  qf_policy_t *p;
  qf_error_t *err;
} pctx_t;

static size_t line_of(const yaml_event_t *ev) {
  return ev->start_mark.line + 1;
}

/* "NAME:LINE: KEY: message", returning code. */
static int fail(pctx_t *c, int code, size_t line, const char *key,
                const char *fmt, ...) QF_PRINTF(5, 6);
static int fail(pctx_t *c, int code, size_t line, const char *key,
                const char *fmt, ...) {
  char msg[QF_ERROR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return qf_error_set(c->err, code, "%s:%zu: %s%s%s", c->p->path, line,
                      key ? key : "", key ? ": " : "", msg);
}

static int syntax_error(pctx_t *c) {
  const yaml_parser_t *y = &c->parser;
  const char *problem = y->problem ? y->problem : "unknown problem";
  if (y->error == YAML_MEMORY_ERROR)
    return qf_error_set(c->err, QF_ENOMEM, "%s: out of memory", c->p->path);
  if (y->error == YAML_READER_ERROR) {
    size_t line = 1,
           end = y->problem_offset < c->len ? y->problem_offset : c->len;
    for (size_t i = 0; i < end; i++)
      line += c->text[i] == '\n';
    return fail(c, QF_EPARSE, line, NULL, "YAML syntax error: %s at byte %zu",
                problem, y->problem_offset);
  }
  if (y->context != NULL)
    return fail(c, QF_EPARSE, y->problem_mark.line + 1, NULL,
                "YAML syntax error: %s (%s at line %zu)", problem, y->context,
                y->context_mark.line + 1);
  return fail(c, QF_EPARSE, y->problem_mark.line + 1, NULL,
              "YAML syntax error: %s", problem);
}

/* Reads the next event, refusing aliases, anchors and explicit tags (an
 * alias can expand exponentially; tags would change a value's type). On
 * success the caller must yaml_event_delete(ev). */
static int next(pctx_t *c, yaml_event_t *ev) {
  const char *what = NULL;
  if (!yaml_parser_parse(&c->parser, ev)) return syntax_error(c);
  if (ev->type == YAML_ALIAS_EVENT)
    what = "YAML aliases (*name) are not allowed";
  else if ((ev->type == YAML_SCALAR_EVENT && ev->data.scalar.anchor) ||
           (ev->type == YAML_SEQUENCE_START_EVENT &&
            ev->data.sequence_start.anchor) ||
           (ev->type == YAML_MAPPING_START_EVENT &&
            ev->data.mapping_start.anchor))
    what = "YAML anchors (&name) are not allowed";
  else if ((ev->type == YAML_SCALAR_EVENT && ev->data.scalar.tag) ||
           (ev->type == YAML_SEQUENCE_START_EVENT &&
            ev->data.sequence_start.tag) ||
           (ev->type == YAML_MAPPING_START_EVENT && ev->data.mapping_start.tag))
    what = "explicit YAML tags (!tag) are not allowed";
  if (what == NULL) return QF_OK;
  size_t line = line_of(ev);
  yaml_event_delete(ev);
  return fail(c, QF_EVALIDATE, line, NULL, "%s", what);
}

static const char *sval(const yaml_event_t *ev) {
  return (const char *)ev->data.scalar.value;
}

static int is_plain(const yaml_event_t *ev) {
  return ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static int is_null(const yaml_event_t *ev) {
  static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
  if (ev->type != YAML_SCALAR_EVENT || !is_plain(ev)) return 0;
  for (size_t i = 0; i < sizeof nulls / sizeof nulls[0]; i++)
    if (strcmp(sval(ev), nulls[i]) == 0) return 1;
  return 0;
}

/* What a value is, for "(got ...)" in messages. */
static void describe(const yaml_event_t *ev, char *out, size_t n) {
  if (ev->type == YAML_MAPPING_START_EVENT)
    snprintf(out, n, "a mapping");
  else if (ev->type == YAML_SEQUENCE_START_EVENT)
    snprintf(out, n, "a list");
  else if (is_null(ev))
    snprintf(out, n, "null");
  else if (ev->type == YAML_SCALAR_EVENT && is_plain(ev))
    snprintf(out, n, "%.60s", sval(ev));
  else if (ev->type == YAML_SCALAR_EVENT)
    snprintf(out, n, "quoted \"%.60s\"", sval(ev));
  else
    snprintf(out, n, "something else");
}

/* A scalar usable as a string: not null, no NUL byte, not too long. */
static int check_string(pctx_t *c, const yaml_event_t *ev, const char *key) {
  char got[80];
  size_t line = line_of(ev);
  if (ev->type != YAML_SCALAR_EVENT || is_null(ev)) {
    describe(ev, got, sizeof got);
    return fail(c, QF_EVALIDATE, line, key, "must be a string (got %s)", got);
  }
  if (ev->data.scalar.length == 0)
    return fail(c, QF_EVALIDATE, line, key, "must not be empty");
  if (strlen(sval(ev)) != ev->data.scalar.length)
    return fail(c, QF_EVALIDATE, line, key, "must not contain a NUL byte");
  if (ev->data.scalar.length > QF_POLICY_MAX_ITEM_BYTES)
    return fail(c, QF_EVALIDATE, line, key, "is longer than %d bytes",
                QF_POLICY_MAX_ITEM_BYTES);
  return QF_OK;
}

/* Plain base-10 with an optional '-', no leading zeros: YAML 1.1 would
 * read "010" as octal and "1_000" as 1000, so both are refused. */
static int parse_int(const char *s, long long *out) {
  const char *d = s + (s[0] == '-');
  long long v = 0;
  if (d[0] == '\0' || (d[0] == '0' && d[1] != '\0')) return -1;
  for (; *d; d++) {
    if (*d < '0' || *d > '9') return -1;
    if (v > (LLONG_MAX - 9) / 10) return -1;
    v = v * 10 + (*d - '0');
  }
  *out = s[0] == '-' ? -v : v;
  return (*out < INT_MIN || *out > INT_MAX) ? -1 : 0;
}

static int parse_bool(const char *s, int *out) {
  static const char *const t[] = {"true", "yes", "on"};
  static const char *const f[] = {"false", "no", "off"};
  for (size_t i = 0; i < 3; i++) {
    if (strcasecmp(s, t[i]) == 0) return *out = 1, 0;
    if (strcasecmp(s, f[i]) == 0) return *out = 0, 0;
  }
  return -1;
}

static int set_int(pctx_t *c, const qf__pfield_t *f, const yaml_event_t *ev,
                   const char *key, void *at) {
  long long v = 0;
  char got[80];
  int ok = ev->type == YAML_SCALAR_EVENT && is_plain(ev) &&
           parse_int(sval(ev), &v) == 0 && v >= f->min && v <= f->max;
  if (ok) {
    *(int *)at = (int)v;
    return QF_OK;
  }
  describe(ev, got, sizeof got);
  return fail(c, QF_EVALIDATE, line_of(ev), key,
              "must be an integer between %lld and %lld (got %s)", f->min,
              f->max, got);
}

static int set_bool(pctx_t *c, const yaml_event_t *ev, const char *key,
                    void *at) {
  char got[80];
  if (ev->type == YAML_SCALAR_EVENT && is_plain(ev) &&
      parse_bool(sval(ev), at) == 0)
    return QF_OK;
  describe(ev, got, sizeof got);
  return fail(c, QF_EVALIDATE, line_of(ev), key,
              "must be true or false (got %s)", got);
}

static int set_enum(pctx_t *c, const qf__pfield_t *f, const yaml_event_t *ev,
                    const char *key, void *at) {
  char one_of[128] = "";
  int rc = check_string(c, ev, key);
  if (rc < 0) return rc;
  for (int i = 0; f->enum_vals[i] != NULL; i++) {
    if (strcmp(sval(ev), f->enum_vals[i]) != 0) continue;
    if (f->type == QF__PF_STAGE) {
      *(qf_hitl_stage_t *)at = (qf_hitl_stage_t)i;
      return QF_OK;
    }
    char *s = strdup(sval(ev));
    if (s == NULL) return qf_error_set(c->err, QF_ENOMEM, "out of memory");
    free(*(char **)at);
    *(char **)at = s;
    return QF_OK;
  }
  if (f->unsupported && strcmp(sval(ev), f->unsupported) == 0)
    return fail(c, QF_EVALIDATE, line_of(ev), key,
                "\"%s\" is not supported by this worker", f->unsupported);
  for (int i = 0; f->enum_vals[i] != NULL; i++)
    snprintf(one_of + strlen(one_of), sizeof one_of - strlen(one_of), "%s%s",
             i ? ", " : "", f->enum_vals[i]);
  return fail(c, QF_EVALIDATE, line_of(ev), key,
              "must be one of %s (got \"%.60s\")", one_of, sval(ev));
}

static int set_str(pctx_t *c, const yaml_event_t *ev, const char *key,
                   void *at) {
  int rc = check_string(c, ev, key);
  if (rc < 0) return rc;
  char *s = strdup(sval(ev));
  if (s == NULL) return qf_error_set(c->err, QF_ENOMEM, "out of memory");
  free(*(char **)at);
  *(char **)at = s;
  return QF_OK;
}

/* Appends the scalar ev as item l->n of list `key`, checked by kind. */
static int add_item(pctx_t *c, const qf__pfield_t *f, const yaml_event_t *ev,
                    const char *key, qf_strlist_t *l) {
  char ikey[160], why[QF_ERROR_MSG_MAX / 2];
  snprintf(ikey, sizeof ikey, "%s[%zu]", key, l->n);
  int rc = check_string(c, ev, ikey);
  if (rc < 0) return rc;
  if (l->n >= QF_POLICY_MAX_ITEMS)
    return fail(c, QF_EVALIDATE, line_of(ev), key, "has more than %d items",
                QF_POLICY_MAX_ITEMS);
  char **grown = realloc(l->items, (l->n + 1) * sizeof *grown);
  if (grown == NULL) return qf_error_set(c->err, QF_ENOMEM, "out of memory");
  l->items = grown;
  l->items[l->n] = strdup(sval(ev));
  if (l->items[l->n] == NULL)
    return qf_error_set(c->err, QF_ENOMEM, "out of memory");
  l->n++;
  why[0] = '\0';
  rc = qf__policy_check_item(f->item, &l->items[l->n - 1], why, sizeof why);
  if (rc == QF_EVALIDATE) return fail(c, rc, line_of(ev), ikey, "%s", why);
  if (rc < 0) return qf_error_set(c->err, rc, "out of memory");
  return QF_OK;
}

/* After SEQUENCE-START: reads the items up to SEQUENCE-END into a new
 * list that replaces the default. */
static int parse_list(pctx_t *c, const qf__pfield_t *f, const char *key,
                      qf_strlist_t *dst) {
  qf_strlist_t l = {NULL, 0};
  yaml_event_t ev;
  int rc;
  for (;;) {
    rc = next(c, &ev);
    if (rc < 0) break;
    if (ev.type == YAML_SEQUENCE_END_EVENT) {
      yaml_event_delete(&ev);
      break;
    }
    rc = add_item(c, f, &ev, key, &l);
    yaml_event_delete(&ev);
    if (rc < 0) break;
  }
  if (rc < 0) {
    qf__policy_free_list(&l);
    return rc;
  }
  qf__policy_free_list(dst);
  *dst = l;
  return QF_OK;
}

static int parse_mapping(pctx_t *c, int section, int depth);

/* Reads the value of field i and stores it in the policy. */
static int parse_value(pctx_t *c, size_t i, int depth) {
  const qf__pfield_t *f = &qf__policy_fields[i];
  void *at = (char *)c->p + f->off;
  char key[128], got[80];
  yaml_event_t ev;
  qf__policy_field_path(i, key, sizeof key);
  int rc = next(c, &ev);
  if (rc < 0) return rc;
  if (f->type == QF__PF_SECTION && ev.type == YAML_MAPPING_START_EVENT)
    rc = parse_mapping(c, (int)i, depth + 1);
  else if (f->type == QF__PF_LIST && ev.type == YAML_SEQUENCE_START_EVENT)
    rc = parse_list(c, f, key, at);
  else if (f->type == QF__PF_SECTION || f->type == QF__PF_LIST) {
    describe(&ev, got, sizeof got);
    rc = fail(c, QF_EVALIDATE, line_of(&ev), key, "must be %s (got %s)",
              f->type == QF__PF_LIST ? "a list" : "a mapping", got);
  } else if (f->type == QF__PF_INT)
    rc = set_int(c, f, &ev, key, at);
  else if (f->type == QF__PF_BOOL)
    rc = set_bool(c, &ev, key, at);
  else if (f->type == QF__PF_STR)
    rc = set_str(c, &ev, key, at);
  else
    rc = set_enum(c, f, &ev, key, at);
  yaml_event_delete(&ev);
  return rc;
}

static int find_field(int section, const char *name) {
  for (size_t i = 0; i < qf__policy_nfields; i++)
    if (qf__policy_fields[i].parent == section &&
        strcmp(qf__policy_fields[i].name, name) == 0)
      return (int)i;
  return -1;
}

/* Checks one key of `section`: known, and not seen before in this
 * mapping (seen_line[i] is the line where field i was first given). */
static int check_key(pctx_t *c, int section, const yaml_event_t *ev,
                     size_t *seen_line, int *idx) {
  char prefix[128] = "", key[200];
  if (section >= 0)
    qf__policy_field_path((size_t)section, prefix, sizeof prefix);
  if (ev->type != YAML_SCALAR_EVENT)
    return fail(c, QF_EVALIDATE, line_of(ev), section >= 0 ? prefix : NULL,
                "keys must be strings");
  snprintf(key, sizeof key, "%s%s%.60s", prefix, section >= 0 ? "." : "",
           sval(ev));
  *idx = find_field(section, sval(ev));
  if (*idx < 0) return fail(c, QF_EVALIDATE, line_of(ev), key, "unknown key");
  if (seen_line[*idx] != 0)
    return fail(c, QF_EVALIDATE, line_of(ev), key,
                "duplicate key (first given at line %zu)", seen_line[*idx]);
  seen_line[*idx] = line_of(ev);
  return QF_OK;
}

/* After MAPPING-START of `section` (-1: the top level): reads key/value
 * pairs up to MAPPING-END. */
static int parse_mapping(pctx_t *c, int section, int depth) {
  size_t *seen = calloc(qf__policy_nfields, sizeof *seen);
  yaml_event_t ev;
  int rc = seen ? QF_OK : qf_error_set(c->err, QF_ENOMEM, "out of memory");
  if (depth > MAX_DEPTH)
    rc = qf_error_set(c->err, QF_EINTERNAL, "policy schema too deep");
  while (rc == QF_OK) {
    int idx = -1;
    rc = next(c, &ev);
    if (rc < 0) break;
    if (ev.type == YAML_MAPPING_END_EVENT) {
      yaml_event_delete(&ev);
      break;
    }
    rc = check_key(c, section, &ev, seen, &idx);
    yaml_event_delete(&ev);
    if (rc == QF_OK) rc = parse_value(c, (size_t)idx, depth);
  }
  free(seen);
  return rc;
}

/* The document's root: a mapping, or null (all defaults). */
static int parse_root(pctx_t *c) {
  yaml_event_t ev;
  char got[80];
  int rc = next(c, &ev);
  if (rc < 0) return rc;
  if (ev.type == YAML_MAPPING_START_EVENT)
    rc = parse_mapping(c, -1, 0);
  else if (!is_null(&ev)) {
    describe(&ev, got, sizeof got);
    rc = fail(c, QF_EVALIDATE, line_of(&ev), NULL,
              "the policy must be a mapping of keys (got %s)", got);
  }
  yaml_event_delete(&ev);
  return rc;
}

/* STREAM-START, at most one document, STREAM-END. */
static int parse_stream(pctx_t *c) {
  yaml_event_t ev;
  int rc = QF_OK, docs = 0;
  while (rc == QF_OK) {
    rc = next(c, &ev);
    if (rc < 0) break;
    yaml_event_type_t t = ev.type;
    size_t line = line_of(&ev);
    yaml_event_delete(&ev);
    if (t == YAML_STREAM_END_EVENT) break;
    if (t != YAML_DOCUMENT_START_EVENT) continue; /* stream/doc ends */
    if (++docs > 1)
      rc = fail(c, QF_EVALIDATE, line, NULL,
                "only one YAML document is allowed");
    else
      rc = parse_root(c);
  }
  return rc;
}

int qf__policy_read_yaml(qf_policy_t *p, const char *text, size_t len,
                         qf_error_t *err) {
  pctx_t c = {.text = text, .len = len, .p = p, .err = err};
  int rc;
  if (!yaml_parser_initialize(&c.parser))
    return qf_error_set(err, QF_ENOMEM, "%s: out of memory", p->path);
  yaml_parser_set_input_string(&c.parser,
                               (const unsigned char *)(text ? text : ""), len);
  rc = parse_stream(&c);
  yaml_parser_delete(&c.parser);
  return rc;
}
