/* log.h: JSON-lines logging on stderr.
 *
 * One line per event: {"ts","level","event","msg", context, fields...}. The
 * context (run_id, correlation_id, delivery_tag, redelivered, node) ties
 * every line to one run. Each line is written with a single write(2), so
 * lines from several processes sharing stderr never interleave.
 *
 * Only the deciding layer logs (worker, command line); library modules
 * return a qf_error_t instead. Never log a secret: show a URL only as its
 * module describes it from the library's own parser (qf_db_describe,
 * qf_amqp_describe_url, qf_webhook_describe).
 */
#ifndef QF_LOG_H
#define QF_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "qf/err.h"

typedef enum qf_log_level {
  QF_LOG_DEBUG = 0,
  QF_LOG_INFO = 1,
  QF_LOG_WARN = 2,
  QF_LOG_ERROR = 3,
  QF_LOG_OFF = 4
} qf_log_level_t;

/* Context of the run a line is about. All pointers are borrowed for the
 * duration of the call; NULL members are omitted from the line. */
typedef struct qf_log_ctx {
  const char *run_id;
  const char *correlation_id;
  const char *node;
  uint64_t delivery_tag; /* included when has_delivery */
  int has_delivery;      /* nonzero: delivery_tag and redelivered are set */
  int redelivered;
} qf_log_ctx_t;

typedef enum qf_log_kind { QF_LOG_KIND_STR, QF_LOG_KIND_INT } qf_log_kind_t;

/* An extra key of a line; build with QF_LOG_STR / QF_LOG_INT. */
typedef struct qf_log_field {
  const char *key;
  qf_log_kind_t kind;
  const char *str; /* borrowed; NULL is written as null */
  long long num;
} qf_log_field_t;

#define QF_LOG_STR(k, v) \
  ((qf_log_field_t){.key = (k), .kind = QF_LOG_KIND_STR, .str = (v)})
#define QF_LOG_INT(k, v) \
  ((qf_log_field_t){.key = (k), .kind = QF_LOG_KIND_INT, .num = (long long)(v)})

/* Sets the threshold; lines below it are dropped. Default QF_LOG_INFO. */
void qf_log_set_level(qf_log_level_t level);
qf_log_level_t qf_log_get_level(void);

/* Parses "debug", "info", "warn"/"warning", "error" or "off" (any case). */
int qf_log_level_parse(const char *s, qf_log_level_t *out) QF_MUSTCHECK;

/* Applies QF_LOG_LEVEL when it is set; returns QF_EINVAL on a bad value
 * (the level is left unchanged then). */
int qf_log_init_from_env(void) QF_MUSTCHECK;

/* Redirects output (tests); default 2 (stderr). */
void qf_log_set_fd(int fd);

/* Sets the "program" key written on every line (borrowed: a literal). */
void qf_log_set_program(const char *program);

/* Writes one line. ctx, fields and fmt may be NULL. */
void qf_log_emit(qf_log_level_t level, const qf_log_ctx_t *ctx,
                 const char *event, const qf_log_field_t *fields,
                 size_t nfields, const char *fmt, ...) QF_PRINTF(6, 7);

/* A repeated warning (a connection that stays down) is written once, then
 * at most once per interval with how many were held back. Zero it. */
typedef struct qf_log_limit {
  long long next_ms; /* monotonic ms before which lines are held back */
  long held;         /* lines held back since the last one written */
} qf_log_limit_t;

/* Whether a line may be written now (interval_ms since the last one);
 * then *held says how many were held back meanwhile (0 the first time),
 * and the count starts again. Otherwise the line is counted, 0. */
int qf_log_limit(qf_log_limit_t *l, long long now_ms, int interval_ms,
                 long *held);

/* Starts l again: the trouble is over, the next one is written at once. */
void qf_log_limit_reset(qf_log_limit_t *l);

#define qf_log_debug(ctx, event, ...) \
  qf_log_emit(QF_LOG_DEBUG, ctx, event, NULL, 0, __VA_ARGS__)
#define qf_log_info(ctx, event, ...) \
  qf_log_emit(QF_LOG_INFO, ctx, event, NULL, 0, __VA_ARGS__)
#define qf_log_warn(ctx, event, ...) \
  qf_log_emit(QF_LOG_WARN, ctx, event, NULL, 0, __VA_ARGS__)
#define qf_log_error(ctx, event, ...) \
  qf_log_emit(QF_LOG_ERROR, ctx, event, NULL, 0, __VA_ARGS__)

#endif
