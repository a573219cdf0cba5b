/* metrics.c: the process's metric registry and its Prometheus text form
 * (metrics.h). Every metric is declared once in the table below, with its
 * type, help and (for histograms) buckets, so that a scrape always shows
 * the same families, with HELP and TYPE, even before anything happened. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qf/metrics.h"
#include "qf/strbuf.h"
#include "qf/version.h"

typedef enum { M_COUNTER, M_GAUGE, M_HISTOGRAM } mtype_t;

typedef struct family {
  const char *name;
  mtype_t type;
  const char *help;
} family_t;

/* Seconds: from a dry run's few milliseconds to an hour-long suite. */
static const double buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                 0.5,   1,    2.5,   5,    10,  30,
                                 60,    300,  900,   3600};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

static const family_t families[] = {
    {"qf_build_info", M_GAUGE, "The qf version running (always 1)."},
    {"qf_deliveries_total", M_COUNTER,
     "Deliveries settled, by outcome (acked, requeued, rejected)."},
    {"qf_decisions_total", M_COUNTER,
     "Decisions published, by decision and decided_by."},
    {"qf_run_duration_seconds", M_HISTOGRAM,
     "From a delivery's arrival to its decision, by decision."},
    {"qf_node_duration_seconds", M_HISTOGRAM, "Pipeline node durations."},
    {"qf_tool_duration_seconds", M_HISTOGRAM,
     "Tool runs, by tool and status (success, failed, timeout, ...)."},
    {"qf_publish_confirm_seconds", M_HISTOGRAM,
     "Publishing a batch until the broker confirmed it."},
    {"qf_db_commit_seconds", M_HISTOGRAM,
     "Committing a run's decision (or a batch of them) in PostgreSQL."},
    {"qf_db_round_trips_total", M_COUNTER,
     "Requests sent to PostgreSQL and waited for (a pipeline counts once)."},
    {"qf_batch_runs_total", M_COUNTER,
     "Runs recorded by batch commits (divide by qf_db_commit_seconds_count "
     "for runs per commit)."},
    {"qf_reconnects_total", M_COUNTER,
     "Connection attempts after the first, by whether they succeeded."},
    {"qf_dead_letters_total", M_COUNTER,
     "Requests sent to the dead-letter exchange, by reason."},
    {"qf_leases_taken_over_total", M_COUNTER,
     "Runs taken over from a worker whose lease ran out."},
    {"qf_unrouted_publishes_total", M_COUNTER,
     "Messages that reached no queue, by exchange."},
    {"qf_approvals_pending", M_GAUGE,
     "Pending approvals, by age (lt_1h, 1h_to_1d, gt_1d)."},
    {"qf_webhook_posts_total", M_COUNTER, "Webhook posts, by result."},
    {"qf_ready", M_GAUGE, "1 when /readyz answers 200."},
    {"qf_process_resident_memory_bytes", M_GAUGE,
     "Resident memory of the process now (VmRSS), read at each scrape."},
    {"qf_process_peak_resident_memory_bytes", M_GAUGE,
     "The most resident memory the process has had (VmHWM)."},
    {"qf_metrics_dropped_total", M_COUNTER,
     "Recordings dropped because the registry was full."},
};
#define NFAMILIES (sizeof families / sizeof families[0])

typedef struct series {
  size_t family;
  char labels[160];
  double value; /* counter, gauge; histogram: sum */
  unsigned long long count, bucket[NBUCKETS];
} series_t;

struct qf_metrics {
  pthread_mutex_t lock;
  series_t s[QF_METRICS_MAX_SERIES];
  size_t n;
  double dropped;
};

static qf_metrics_t *global;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void make_global(void) {
  qf_metrics_t *m = calloc(1, sizeof *m);
  if (m && pthread_mutex_init(&m->lock, NULL) != 0) {
    free(m);
    m = NULL;
  }
  global = m;
  if (m) qf_metrics_set(m, "qf_build_info", "version=\"" QF_VERSION "\"", 1);
}

qf_metrics_t *qf_metrics_global(void) {
  pthread_once(&once, make_global);
  return global;
}

static long find_family(const char *name) {
  for (size_t i = 0; i < NFAMILIES; i++)
    if (strcmp(families[i].name, name) == 0) return (long)i;
  return -1;
}

/* The series (created when new), or NULL: unknown name, or full. Called
 * with the lock held. */
static series_t *series_of(qf_metrics_t *m, const char *name,
                           const char *labels) {
  long f = find_family(name);
  if (f < 0) return NULL;
  labels = labels ? labels : "";
  for (size_t i = 0; i < m->n; i++)
    if (m->s[i].family == (size_t)f && strcmp(m->s[i].labels, labels) == 0)
      return &m->s[i];
  if (m->n == QF_METRICS_MAX_SERIES ||
      strlen(labels) >= sizeof m->s[0].labels) {
    m->dropped++;
    return NULL;
  }
  series_t *s = &m->s[m->n++];
  memset(s, 0, sizeof *s);
  s->family = (size_t)f;
  snprintf(s->labels, sizeof s->labels, "%s", labels);
  return s;
}

static void record(qf_metrics_t *m, const char *name, const char *labels,
                   double v, int how) {
  if (m == NULL || !isfinite(v)) return;
  pthread_mutex_lock(&m->lock);
  series_t *s = series_of(m, name, labels);
  if (s && how == 0) s->value += v;
  if (s && how == 1) s->value = v;
  if (s && how == 2) {
    s->value += v;
    s->count++;
    for (size_t b = 0; b < NBUCKETS; b++)
      if (v <= buckets[b]) s->bucket[b]++;
  }
  pthread_mutex_unlock(&m->lock);
}

void qf_metrics_inc(qf_metrics_t *m, const char *name, const char *labels,
                    double v) {
  record(m, name, labels, v, 0);
}

void qf_metrics_set(qf_metrics_t *m, const char *name, const char *labels,
                    double v) {
  record(m, name, labels, v, 1);
}

void qf_metrics_observe(qf_metrics_t *m, const char *name, const char *labels,
                        double v) {
  record(m, name, labels, v, 2);
}

void qf_metrics_label(char *out, size_t n, const char *key, const char *value) {
  size_t k = (size_t)snprintf(out, n, "%s=\"", key);
  for (const char *p = value ? value : ""; *p && k + 3 < n; p++) {
    if (*p == '\\' || *p == '"') out[k++] = '\\';
    if (*p == '\n') {
      out[k++] = '\\';
      out[k++] = 'n';
      continue;
    }
    out[k++] = *p;
  }
  if (k + 1 < n) out[k++] = '"';
  out[k < n ? k : n - 1] = '\0';
}

/* name{labels,extra} with the separators a label set needs. */
static int put_name(qf_strbuf_t *b, const char *name, const char *suffix,
                    const char *labels, const char *extra) {
  int l = labels[0] != '\0', e = extra && extra[0];
  return qf_strbuf_printf(b, "%s%s%s%s%s%s%s", name, suffix, l || e ? "{" : "",
                          labels, l && e ? "," : "", e ? extra : "",
                          l || e ? "}" : "");
}

static int render_histogram(qf_strbuf_t *b, const char *name,
                            const series_t *s) {
  char le[32];
  int rc = 0;
  for (size_t i = 0; i < NBUCKETS && rc == 0; i++) {
    snprintf(le, sizeof le, "le=\"%g\"", buckets[i]);
    rc = put_name(b, name, "_bucket", s->labels, le);
    if (rc == 0) rc = qf_strbuf_printf(b, " %llu\n", s->bucket[i]);
  }
  if (rc == 0) rc = put_name(b, name, "_bucket", s->labels, "le=\"+Inf\"");
  if (rc == 0) rc = qf_strbuf_printf(b, " %llu\n", s->count);
  if (rc == 0) rc = put_name(b, name, "_sum", s->labels, NULL);
  if (rc == 0) rc = qf_strbuf_printf(b, " %.17g\n", s->value);
  if (rc == 0) rc = put_name(b, name, "_count", s->labels, NULL);
  if (rc == 0) rc = qf_strbuf_printf(b, " %llu\n", s->count);
  return rc;
}

static int render_family(qf_strbuf_t *b, const qf_metrics_t *m, size_t f) {
  static const char *const type[] = {"counter", "gauge", "histogram"};
  const family_t *fam = &families[f];
  int rc = qf_strbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", fam->name,
                            fam->help, fam->name, type[fam->type]);
  /* Kept outside the series: it must show when they are full. */
  if (rc == 0 && strcmp(fam->name, "qf_metrics_dropped_total") == 0)
    return qf_strbuf_printf(b, "%s %.17g\n", fam->name, m->dropped);
  for (size_t i = 0; i < m->n && rc == 0; i++) {
    const series_t *s = &m->s[i];
    if (s->family != f) continue;
    if (fam->type == M_HISTOGRAM) {
      rc = render_histogram(b, fam->name, s);
    } else {
      rc = put_name(b, fam->name, "", s->labels, NULL);
      if (rc == 0) rc = qf_strbuf_printf(b, " %.17g\n", s->value);
    }
  }
  return rc;
}

char *qf_metrics_render(qf_metrics_t *m) {
  qf_strbuf_t b;
  if (m == NULL) return NULL;
  qf_strbuf_init(&b);
  pthread_mutex_lock(&m->lock);
  int rc = 0;
  for (size_t f = 0; f < NFAMILIES && rc == 0; f++)
    rc = render_family(&b, m, f);
  pthread_mutex_unlock(&m->lock);
  if (rc < 0) {
    qf_strbuf_fini(&b);
    return NULL;
  }
  return qf_strbuf_detach(&b);
}
