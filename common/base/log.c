#include "qf/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "qf/strbuf.h"

static qf_log_level_t g_level = QF_LOG_INFO;
static int g_fd = 2;
static const char *g_program = "qf";

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void qf_log_set_level(qf_log_level_t level) {
  g_level = level;
}

qf_log_level_t qf_log_get_level(void) {
  return g_level;
}

void qf_log_set_fd(int fd) {
  g_fd = fd;
}

void qf_log_set_program(const char *program) {
  g_program = program;
}

int qf_log_level_parse(const char *s, qf_log_level_t *out) {
  static const struct {
    const char *name;
    qf_log_level_t level;
  } names[] = {{"debug", QF_LOG_DEBUG}, {"info", QF_LOG_INFO},
               {"warn", QF_LOG_WARN},   {"warning", QF_LOG_WARN},
               {"error", QF_LOG_ERROR}, {"off", QF_LOG_OFF}};
  for (size_t i = 0; s != NULL && i < sizeof names / sizeof names[0]; i++) {
    if (strcasecmp(s, names[i].name) == 0) {
      *out = names[i].level;
      return QF_OK;
    }
  }
  return QF_EINVAL;
}

int qf_log_init_from_env(void) {
  const char *v = getenv("QF_LOG_LEVEL");
  if (v == NULL || v[0] == '\0') return QF_OK;
  qf_log_level_t level;
  int rc = qf_log_level_parse(v, &level);
  if (rc == QF_OK) g_level = level;
  return rc;
}

static int put_timestamp(qf_strbuf_t *sb) {
  struct timespec ts;
  struct tm tm;
  char buf[32];
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return qf_strbuf_printf(sb, "{\"ts\":\"%s.%03ldZ\"", buf,
                          ts.tv_nsec / 1000000L);
}

static int put_str(qf_strbuf_t *sb, const char *key, const char *val) {
  int rc = qf_strbuf_printf(sb, ",\"%s\":", key);
  if (rc < 0) return rc;
  if (val == NULL) return qf_strbuf_puts(sb, "null");
  if ((rc = qf_strbuf_putc(sb, '"')) < 0) return rc;
  if ((rc = qf_strbuf_json_escape(sb, val)) < 0) return rc;
  return qf_strbuf_putc(sb, '"');
}

static int put_ctx(qf_strbuf_t *sb, const qf_log_ctx_t *ctx) {
  int rc = QF_OK;
  if (ctx == NULL) return rc;
  if (ctx->run_id && (rc = put_str(sb, "run_id", ctx->run_id)) < 0) return rc;
  if (ctx->correlation_id &&
      (rc = put_str(sb, "correlation_id", ctx->correlation_id)) < 0)
    return rc;
  if (ctx->node && (rc = put_str(sb, "node", ctx->node)) < 0) return rc;
  if (ctx->has_delivery)
    rc = qf_strbuf_printf(sb, ",\"delivery_tag\":%llu,\"redelivered\":%s",
                          (unsigned long long)ctx->delivery_tag,
                          ctx->redelivered ? "true" : "false");
  return rc;
}

static int put_fields(qf_strbuf_t *sb, const qf_log_field_t *f, size_t n) {
  int rc = QF_OK;
  for (size_t i = 0; i < n && rc == QF_OK; i++) {
    if (f[i].kind == QF_LOG_KIND_INT)
      rc = qf_strbuf_printf(sb, ",\"%s\":%lld", f[i].key, f[i].num);
    else
      rc = put_str(sb, f[i].key, f[i].str);
  }
  return rc;
}

/* Writes the whole line in one call; retries on EINTR and short writes. */
static void write_line(const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(g_fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return; /* nowhere left to report a logging failure */
    p += w;
    n -= (size_t)w;
  }
}

static int format_line(qf_strbuf_t *sb, qf_log_level_t level,
                       const qf_log_ctx_t *ctx, const char *event,
                       const qf_log_field_t *fields, size_t nfields,
                       const char *msg) {
  int rc = put_timestamp(sb);
  if (rc == 0) rc = put_str(sb, "level", level_names[level]);
  if (rc == 0) rc = put_str(sb, "program", g_program);
  if (rc == 0) rc = qf_strbuf_printf(sb, ",\"pid\":%ld", (long)getpid());
  if (rc == 0 && event) rc = put_str(sb, "event", event);
  if (rc == 0 && msg) rc = put_str(sb, "msg", msg);
  if (rc == 0) rc = put_ctx(sb, ctx);
  if (rc == 0) rc = put_fields(sb, fields, nfields);
  if (rc == 0) rc = qf_strbuf_puts(sb, "}\n");
  return rc;
}

void qf_log_emit(qf_log_level_t level, const qf_log_ctx_t *ctx,
                 const char *event, const qf_log_field_t *fields,
                 size_t nfields, const char *fmt, ...) {
  if (level < g_level || level >= QF_LOG_OFF) return;
  qf_strbuf_t msg, line;
  qf_strbuf_init(&msg);
  qf_strbuf_init(&line);
  int rc = QF_OK;
  if (fmt != NULL) {
    va_list ap;
    va_start(ap, fmt);
    rc = qf_strbuf_vprintf(&msg, fmt, ap);
    va_end(ap);
  }
  if (rc == QF_OK)
    rc = format_line(&line, level, ctx, event, fields, nfields,
                     fmt ? msg.data : NULL);
  if (rc == QF_OK) {
    write_line(line.data, line.len);
  } else {
    static const char oom[] = "{\"level\":\"error\",\"msg\":\"log: oom\"}\n";
    write_line(oom, sizeof oom - 1);
  }
  qf_strbuf_fini(&msg);
  qf_strbuf_fini(&line);
}

int qf_log_limit(qf_log_limit_t *l, long long now_ms, int interval_ms,
                 long *held) {
  if (now_ms < l->next_ms) {
    l->held++;
    return 0;
  }
  *held = l->held;
  l->held = 0;
  l->next_ms = now_ms + interval_ms;
  return 1;
}

void qf_log_limit_reset(qf_log_limit_t *l) {
  l->next_ms = 0;
  l->held = 0;
}
