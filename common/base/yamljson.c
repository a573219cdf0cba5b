#include "qf/yamljson.h"

#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

typedef struct ctx {
  yaml_parser_t parser;
  const char *name;
  qf_error_t *err;
} ctx_t;

static int at(ctx_t *c, const yaml_event_t *ev, const char *why) {
  return qf_error_set(c->err, QF_EPARSE, "%s:%zu: %s", c->name,
                      ev->start_mark.line + 1, why);
}

static int next(ctx_t *c, yaml_event_t *ev) {
  if (yaml_parser_parse(&c->parser, ev)) return QF_OK;
  return qf_error_set(c->err, QF_EPARSE, "%s:%zu:%zu: %s", c->name,
                      c->parser.problem_mark.line + 1,
                      c->parser.problem_mark.column + 1,
                      c->parser.problem ? c->parser.problem : "YAML error");
}

static int matches(const char *s, const char *pattern) {
  regex_t re;
  if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0) return 0;
  int ok = regexec(&re, s, 0, NULL, 0) == 0;
  regfree(&re);
  return ok;
}

/* YAML 1.2 core schema for plain scalars. */
static cJSON *plain_scalar(const char *s) {
  if (matches(s, "^(|~|null|Null|NULL)$")) return cJSON_CreateNull();
  if (matches(s, "^(true|True|TRUE)$")) return cJSON_CreateTrue();
  if (matches(s, "^(false|False|FALSE)$")) return cJSON_CreateFalse();
  if (matches(s, "^[-+]?[0-9]+$") ||
      matches(s, "^[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?$")) {
    errno = 0;
    double d = strtod(s, NULL);
    if (errno == 0 && isfinite(d)) return cJSON_CreateNumber(d);
  }
  return cJSON_CreateString(s);
}

static int node(ctx_t *c, yaml_event_t *ev, int depth, cJSON **out);

static int mapping(ctx_t *c, int depth, cJSON **out) {
  cJSON *obj = cJSON_CreateObject();
  int rc = obj ? QF_OK : qf_error_set(c->err, QF_ENOMEM, "out of memory");
  for (;;) {
    yaml_event_t k;
    if (rc < 0 || (rc = next(c, &k)) < 0) break;
    if (k.type == YAML_MAPPING_END_EVENT) {
      yaml_event_delete(&k);
      break;
    }
    if (k.type != YAML_SCALAR_EVENT) {
      rc = at(c, &k, "mapping keys must be scalars");
    } else if (cJSON_GetObjectItemCaseSensitive(
                   obj, (const char *)k.data.scalar.value)) {
      rc = at(c, &k, "duplicate key");
    } else {
      char *key = strdup((const char *)k.data.scalar.value);
      yaml_event_t v;
      cJSON *val = NULL;
      rc = key ? next(c, &v) : QF_ENOMEM;
      if (rc == QF_OK) {
        rc = node(c, &v, depth + 1, &val);
        yaml_event_delete(&v);
      }
      if (rc == QF_OK && !cJSON_AddItemToObject(obj, key, val)) {
        cJSON_Delete(val);
        rc = qf_error_set(c->err, QF_ENOMEM, "out of memory");
      }
      free(key);
    }
    yaml_event_delete(&k);
  }
  if (rc < 0)
    cJSON_Delete(obj);
  else
    *out = obj;
  return rc;
}

static int sequence(ctx_t *c, int depth, cJSON **out) {
  cJSON *arr = cJSON_CreateArray();
  int rc = arr ? QF_OK : qf_error_set(c->err, QF_ENOMEM, "out of memory");
  for (;;) {
    yaml_event_t v;
    if (rc < 0 || (rc = next(c, &v)) < 0) break;
    if (v.type == YAML_SEQUENCE_END_EVENT) {
      yaml_event_delete(&v);
      break;
    }
    cJSON *item = NULL;
    rc = node(c, &v, depth + 1, &item);
    yaml_event_delete(&v);
    if (rc == QF_OK && !cJSON_AddItemToArray(arr, item)) {
      cJSON_Delete(item);
      rc = qf_error_set(c->err, QF_ENOMEM, "out of memory");
    }
  }
  if (rc < 0)
    cJSON_Delete(arr);
  else
    *out = arr;
  return rc;
}

static int node(ctx_t *c, yaml_event_t *ev, int depth, cJSON **out) {
  if (depth > QF_YAML_MAX_DEPTH) return at(c, ev, "nested too deeply");
  switch (ev->type) {
    case YAML_ALIAS_EVENT:
      return at(c, ev, "aliases are not allowed");
    case YAML_SCALAR_EVENT:
      if (ev->data.scalar.anchor || ev->data.scalar.tag)
        return at(c, ev, "anchors and tags are not allowed");
      *out = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE
                 ? plain_scalar((const char *)ev->data.scalar.value)
                 : cJSON_CreateString((const char *)ev->data.scalar.value);
      return *out ? QF_OK : qf_error_set(c->err, QF_ENOMEM, "out of memory");
    case YAML_MAPPING_START_EVENT:
      if (ev->data.mapping_start.anchor || ev->data.mapping_start.tag)
        return at(c, ev, "anchors and tags are not allowed");
      return mapping(c, depth, out);
    case YAML_SEQUENCE_START_EVENT:
      if (ev->data.sequence_start.anchor || ev->data.sequence_start.tag)
        return at(c, ev, "anchors and tags are not allowed");
      return sequence(c, depth, out);
    default:
      return at(c, ev, "unexpected YAML event");
  }
}

/* Reads events until the one of type want (stream/document framing). */
static int expect(ctx_t *c, yaml_event_type_t want, yaml_event_t *ev) {
  int rc = next(c, ev);
  if (rc == QF_OK && ev->type != want) {
    rc = at(c, ev,
            want == YAML_STREAM_END_EVENT ? "only one YAML document is allowed"
                                          : "unexpected YAML structure");
    yaml_event_delete(ev);
  }
  return rc;
}

int qf_yaml_to_json(const char *text, size_t len, const char *name, cJSON **out,
                    qf_error_t *err) {
  ctx_t c = {.name = name ? name : "yaml", .err = err};
  yaml_event_t ev;
  cJSON *root = NULL;
  if (!yaml_parser_initialize(&c.parser))
    return qf_error_set(err, QF_ENOMEM, "out of memory");
  yaml_parser_set_input_string(&c.parser, (const unsigned char *)text, len);
  int rc = expect(&c, YAML_STREAM_START_EVENT, &ev);
  if (rc == QF_OK) yaml_event_delete(&ev);
  if (rc == QF_OK && (rc = next(&c, &ev)) == QF_OK) {
    if (ev.type == YAML_STREAM_END_EVENT) { /* an empty file is null */
      root = cJSON_CreateNull();
    } else if (ev.type != YAML_DOCUMENT_START_EVENT) {
      rc = at(&c, &ev, "unexpected YAML structure");
    } else {
      yaml_event_t body;
      rc = next(&c, &body);
      if (rc == QF_OK) {
        rc = node(&c, &body, 0, &root);
        yaml_event_delete(&body);
      }
      yaml_event_t end;
      if (rc == QF_OK && (rc = expect(&c, YAML_DOCUMENT_END_EVENT, &end)) == 0)
        yaml_event_delete(&end);
      if (rc == QF_OK && (rc = expect(&c, YAML_STREAM_END_EVENT, &end)) == 0)
        yaml_event_delete(&end);
    }
    yaml_event_delete(&ev);
  }
  yaml_parser_delete(&c.parser);
  if (rc == QF_OK && root == NULL)
    rc = qf_error_set(err, QF_ENOMEM, "out of memory");
  if (rc < 0) {
    cJSON_Delete(root);
    return rc;
  }
  *out = root;
  return QF_OK;
}
