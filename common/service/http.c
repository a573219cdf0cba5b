/* http.c: /metrics, /healthz and /readyz (metrics.h), served by
 * libmicrohttpd's own thread: a scrape or a probe never waits on the
 * service's loop, and a loop that stops beating is seen from outside. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qf/clock.h"
#include "qf/metrics.h"

static atomic_llong last_beat_ms;
static atomic_int ready_bits, required_bits;
static struct MHD_Daemon *daemon_;
static int stall_ms = 60000;

void qf_health_beat(void) {
  atomic_store(&last_beat_ms, (long long)qf_clock_now_ms());
}

void qf_health_ready(int bits, int on) {
  if (on)
    atomic_fetch_or(&ready_bits, bits);
  else
    atomic_fetch_and(&ready_bits, ~bits);
}

void qf_health_require(int bits) {
  atomic_store(&required_bits, bits);
}

/* "what is missing" for /readyz, or "" when ready. */
static void unready(char *out, size_t n) {
  static const struct {
    int bit;
    const char *what;
  } names[] = {{QF_READY_BROKER, "broker"},
               {QF_READY_DB, "database"},
               {QF_READY_CONSUMING, "consuming"},
               {QF_READY_POLICY, "policy"}};
  int missing = atomic_load(&required_bits) & ~atomic_load(&ready_bits);
  size_t k = 0;
  out[0] = '\0';
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if ((missing & names[i].bit) && k < n)
      k += (size_t)snprintf(out + k, n - k, "%s%s", k ? ", " : "",
                            names[i].what);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status,
                             const char *type, char *body) {
  struct MHD_Response *r = MHD_create_response_from_buffer(
      strlen(body), body, MHD_RESPMEM_MUST_FREE);
  if (r == NULL) {
    free(body);
    return MHD_NO;
  }
  MHD_add_response_header(r, "Content-Type", type);
  MHD_add_response_header(r, "Cache-Control", "no-store");
  enum MHD_Result ok = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ok;
}

/* a, b and "\n", malloc'ed (the response frees it). */
static char *text(const char *a, const char *b) {
  size_t n = strlen(a) + (b ? strlen(b) : 0) + 2;
  char *s = malloc(n);
  if (s) snprintf(s, n, "%s%s\n", a, b ? b : "");
  return s;
}

static enum MHD_Result health(struct MHD_Connection *c, int readiness) {
  char why[128];
  long long age = qf_clock_now_ms() - atomic_load(&last_beat_ms);
  int alive = atomic_load(&last_beat_ms) != 0 && age <= stall_ms;
  unready(why, sizeof why);
  int ok = readiness ? alive && why[0] == '\0' : alive;
  qf_metrics_set(qf_metrics_global(), "qf_ready", NULL,
                 alive && why[0] == '\0');
  char *body = ok      ? text("ok", NULL)
               : alive ? text("not ready: ", why)
                       : text("the loop is stuck: no beat in the last ",
                              readiness ? "probe period" : "stall period");
  if (body == NULL) return MHD_NO;
  return reply(c, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
               "text/plain; charset=utf-8", body);
}

/* The process's resident memory, now and at its peak, from the kernel's
 * own account (/proc/self/status), set before each scrape renders. */
static void read_memory(void) {
  static const struct {
    const char *field, *metric;
  } m[] = {{"VmRSS:", "qf_process_resident_memory_bytes"},
           {"VmHWM:", "qf_process_peak_resident_memory_bytes"}};
  char line[128];
  FILE *f = fopen("/proc/self/status", "re");
  if (f == NULL) return; /* no /proc: the gauges stay absent */
  while (fgets(line, sizeof line, f))
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
      size_t n = strlen(m[i].field);
      if (strncmp(line, m[i].field, n) == 0)
        qf_metrics_set(qf_metrics_global(), m[i].metric, NULL,
                       strtod(line + n, NULL) * 1024.0); /* in kB */
    }
  fclose(f);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *data,
                                  size_t *size, void **state) {
  (void)cls, (void)version, (void)data, (void)size, (void)state;
  if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
    char *b = text("method not allowed", NULL);
    return b ? reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", b) : MHD_NO;
  }
  if (strcmp(url, "/healthz") == 0) return health(c, 0);
  if (strcmp(url, "/readyz") == 0) return health(c, 1);
  if (strcmp(url, "/metrics") == 0) {
    read_memory();
    char *b = qf_metrics_render(qf_metrics_global());
    return b ? reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4", b) : MHD_NO;
  }
  char *b = text("not found: try /metrics, /healthz or /readyz", NULL);
  return b ? reply(c, MHD_HTTP_NOT_FOUND, "text/plain", b) : MHD_NO;
}

/* "host:port", ":port" or "port" into an IPv4 address. */
static int parse_addr(const char *addr, struct sockaddr_in *sa) {
  char host[64] = "0.0.0.0";
  const char *colon = strrchr(addr, ':'), *port = colon ? colon + 1 : addr;
  char *end;
  long p = strtol(port, &end, 10);
  if (*port == '\0' || *end != '\0' || p < 0 || p > 65535) return -1;
  if (colon && colon != addr) {
    if ((size_t)(colon - addr) >= sizeof host) return -1;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    if (strcmp(host, "localhost") == 0) strcpy(host, "127.0.0.1");
  }
  memset(sa, 0, sizeof *sa);
  sa->sin_family = AF_INET;
  sa->sin_port = htons((uint16_t)p);
  return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

int qf_http_start(const char *addr, int stall_s, qf_error_t *err) {
  struct sockaddr_in sa;
  if (addr == NULL || parse_addr(addr, &sa) < 0)
    return qf_error_set(err, QF_EINVAL,
                        "QF_METRICS_ADDR: '%s' is not host:port (IPv4)",
                        addr ? addr : "");
  stall_ms = (stall_s > 0 ? stall_s : 60) * 1000;
  qf_health_beat();
  /* Bounded: a handful of slow or idle clients cannot hold the thread. */
  daemon_ = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, 0, NULL, NULL, on_request,
      NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_CONNECTION_LIMIT,
      (unsigned)32, MHD_OPTION_END);
  if (daemon_ == NULL)
    return qf_error_set(err, QF_EIO, "QF_METRICS_ADDR: cannot listen on %s",
                        addr);
  return QF_OK;
}

void qf_http_stop(void) {
  if (daemon_) MHD_stop_daemon(daemon_);
  daemon_ = NULL;
}
