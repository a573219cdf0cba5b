/* junit_failures.c: the bounded list of failing test cases a report names
 * (junit.h). Bounded twice: at most QF_JUNIT_MAX_FAILURES items, each
 * string cut on a character boundary, so a hostile report of a million
 * failures with megabyte messages costs a few hundred kilobytes. */
#include <stdlib.h>
#include <string.h>

#include "qf/junit.h"
#include "qf/utf8.h"

void qf_junit_failures_init(qf_junit_failures_t *f) {
  memset(f, 0, sizeof *f);
}

static void item_fini(qf_junit_failure_t *it) {
  free(it->suite);
  free(it->name);
  free(it->kind);
  free(it->message);
  free(it->file);
}

void qf_junit_failures_fini(qf_junit_failures_t *f) {
  if (!f) return;
  for (size_t i = 0; i < f->n; i++)
    item_fini(&f->items[i]);
  free(f->items);
  memset(f, 0, sizeof *f);
}

/* A copy of s cut to max bytes on a character boundary; NULL stays NULL.
 * *ok is cleared when memory runs out. */
static char *cut_dup(const char *s, size_t max, int *ok) {
  if (!s) return NULL;
  size_t n = qf_utf8_cut_len(s, max);
  char *d = malloc(n + 1);
  if (!d) {
    *ok = 0;
    return NULL;
  }
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

int qf_junit_failures_add(qf_junit_failures_t *f,
                          const qf_junit_failure_t *item) {
  if (f->total < QF_JUNIT_COUNT_MAX) f->total++;
  if (f->n >= QF_JUNIT_MAX_FAILURES) return QF_OK;
  if (!f->items) {
    f->items = calloc(QF_JUNIT_MAX_FAILURES, sizeof *f->items);
    if (!f->items) return QF_ENOMEM;
  }
  qf_junit_failure_t *it = &f->items[f->n];
  int ok = 1;
  it->suite = cut_dup(item->suite, QF_JUNIT_FAILURE_NAME_MAX, &ok);
  it->name =
      cut_dup(item->name ? item->name : "", QF_JUNIT_FAILURE_NAME_MAX, &ok);
  it->kind = cut_dup(item->kind ? item->kind : "failure", 16, &ok);
  it->message = cut_dup(item->message, QF_JUNIT_FAILURE_TEXT_MAX, &ok);
  it->file = cut_dup(item->file, QF_JUNIT_FAILURE_NAME_MAX, &ok);
  it->line = item->line > 0 ? item->line : 0;
  if (!ok) {
    item_fini(it);
    memset(it, 0, sizeof *it);
    return QF_ENOMEM;
  }
  f->n++;
  return QF_OK;
}

int qf_junit_failures_merge(qf_junit_failures_t *dst,
                            const qf_junit_failures_t *src) {
  long long rest = src->total - (long long)src->n;
  for (size_t i = 0; i < src->n; i++) {
    int rc = qf_junit_failures_add(dst, &src->items[i]);
    if (rc < 0) return rc;
  }
  if (rest > 0)
    dst->total = dst->total > QF_JUNIT_COUNT_MAX - rest ? QF_JUNIT_COUNT_MAX
                                                        : dst->total + rest;
  return QF_OK;
}
