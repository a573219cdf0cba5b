/* metrics.h: what a service tells Prometheus and Kubernetes (DESIGN 8):
 * counters, gauges and histograms in the Prometheus text format on
 * /metrics, and /healthz (the loop is alive, not wedged) and /readyz
 * (connected, consuming, policy loaded), served by libmicrohttpd on a
 * thread of its own, so that a scrape never blocks a delivery and a
 * wedged loop is seen from outside.
 *
 * Thread safety: the service's thread records (qf_metrics_inc, _observe,
 * _set, qf_health_*), the HTTP thread renders; one mutex guards the
 * series, the health state is atomic.
 */
#ifndef QF_METRICS_H
#define QF_METRICS_H

#include <stddef.h>

#include "qf/err.h"

/* The series a process may hold (name plus labels); more are dropped
 * (counted in qf_metrics_dropped_total) rather than grown without bound. */
#define QF_METRICS_MAX_SERIES 256

typedef struct qf_metrics qf_metrics_t;

/* The one registry of the process (created on first use; never freed:
 * the HTTP thread may read it until exit). NULL when out of memory: every
 * recording function accepts NULL and does nothing. */
qf_metrics_t *qf_metrics_global(void);

/* Adds v to the counter name{labels}. labels is the inside of the braces,
 * already escaped ("outcome=\"acked\""), or NULL. The name must be one of
 * the table in metrics.c (its help and type come from there). */
void qf_metrics_inc(qf_metrics_t *m, const char *name, const char *labels,
                    double v);
/* Sets the gauge name{labels} to v. */
void qf_metrics_set(qf_metrics_t *m, const char *name, const char *labels,
                    double v);
/* Records v (seconds) in the histogram name{labels}. */
void qf_metrics_observe(qf_metrics_t *m, const char *name, const char *labels,
                        double v);

/* The whole registry in the Prometheus text format 0.0.4 (malloc'ed;
 * caller frees), or NULL when out of memory. */
char *qf_metrics_render(qf_metrics_t *m);

/* Writes `key="value"` into out with value escaped as the text format
 * wants (\\, \" and \n); cut to n bytes. */
void qf_metrics_label(char *out, size_t n, const char *key, const char *value);

/* ------------------------------------------------------------- health */

enum {
  QF_READY_BROKER = 1,    /* the consumer (or approver) connection is up */
  QF_READY_DB = 2,        /* the database connection is up */
  QF_READY_CONSUMING = 4, /* basic.consume is active */
  QF_READY_POLICY = 8     /* the policy in force loaded (no load error) */
};

/* The loop says it is alive (at least every few seconds, also while a
 * tool runs). */
void qf_health_beat(void);
/* Sets or clears readiness bits (QF_READY_*). */
void qf_health_ready(int bits, int on);
/* Which bits a ready process needs (the worker: all four; the approver:
 * broker, database and consuming). */
void qf_health_require(int bits);

/* Serves /metrics, /healthz and /readyz on addr ("host:port", ":port" for
 * every address, or "port"), /healthz failing once the loop has not
 * beaten for stall_s seconds. Returns 0, QF_EINVAL for a bad address, or
 * QF_EIO when it cannot listen (err says why). */
int qf_http_start(const char *addr, int stall_s, qf_error_t *err) QF_MUSTCHECK;

/* Stops the server (NULL-safe to call when none runs). */
void qf_http_stop(void);

#endif
