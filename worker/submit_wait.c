/* submit_wait.c: sending a request and waiting for its decision through
 * broker outages (submit.h). A CI job must not fail because the broker
 * restarted: the worker goes on with the run, so the submitter makes its
 * connection again and asks again with the same message id, which never
 * runs the tests twice. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "qf/amqp.h"
#include "qf/clock.h"
#include "qf/topology.h"
#include "qf/utf8.h"
#include "submit.h"

#define PUBLISH_ONLY_BUDGET_S 60
#define BACKOFF_MAX_MS 15000

typedef struct waiter {
  const qf_submit_job_t *job;
  int64_t start_ms, deadline_ms, next_progress_ms;
  qf_amqp_t *con; /* the reply queue's connection */
  char *reply;    /* its name */
  char state[256];
  int backoff_ms;
  cJSON *last; /* the latest decision (a NEED_HITL until final) */
} waiter_t;

const char *qf_submit_str(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int connect_to(const char *name, int confirm, qf_amqp_t **c,
                      qf_error_t *err) {
  qf_amqp_opts_t o = {
      .url = qf_cli_amqp_url(), .connection_name = name, .confirm = confirm};
  return qf_amqp_connect(&o, c, err);
}

static int publish(const qf_submit_job_t *job, const char *reply_to,
                   qf_error_t *err) {
  qf_topology_t t;
  qf_amqp_t *pub = NULL;
  if (qf_topology_init(&t, job->prefix) < 0)
    return qf_error_set(err, QF_EINVAL, "invalid --prefix");
  /* Progress on the reply queue is asked for: other consumers of
   * reply_to get decisions only. */
  static const qf_amqp_header_t progress[] = {{"x-qf-progress", "1"}};
  qf_amqp_msg_t m = {.body = job->body,
                     .body_len = strlen(job->body),
                     .content_type = "application/json",
                     .message_id = job->message_id,
                     .correlation_id = job->correlation_id,
                     .reply_to = reply_to,
                     .headers = reply_to ? progress : NULL,
                     .nheaders = reply_to ? 1 : 0};
  int rc = connect_to("qf-submit", 1, &pub, err);
  if (rc == QF_OK) rc = qf_amqp_publish(pub, t.requests, "run", &m, 10000, err);
  if (rc == QF_ENOROUTE)
    qf_error_set(err, rc,
                 "nothing is bound to %s (no worker ever started "
                 "with prefix %s)",
                 t.requests, job->prefix);
  qf_amqp_free(pub);
  return rc;
}

static void drop_connection(waiter_t *w) {
  qf_amqp_free(w->con);
  w->con = NULL;
  free(w->reply);
  w->reply = NULL;
}

/* The reply queue exists before the request goes out, so the decision
 * cannot arrive before anyone listens. */
static int send_once(waiter_t *w, qf_error_t *err) {
  int rc = QF_OK;
  if (w->job->wait_s > 0) {
    rc = connect_to("qf-submit-reply", 0, &w->con, err);
    if (rc == QF_OK)
      rc = qf_amqp_declare_queue(w->con, "", 1, NULL, &w->reply, err);
    if (rc == QF_OK) rc = qf_amqp_consume(w->con, w->reply, err);
  }
  if (rc == QF_OK) rc = publish(w->job, w->reply, err);
  if (rc < 0) drop_connection(w);
  return rc;
}

/* Sleeps the next backoff (doubling, capped, with jitter), never past the
 * deadline. */
static void backoff(waiter_t *w) {
  int ms = w->backoff_ms + rand() % (w->backoff_ms / 2 + 1);
  int64_t left = w->deadline_ms - qf_clock_now_ms();
  if (ms > left) ms = left > 0 ? (int)left : 0;
  usleep((useconds_t)ms * 1000);
  w->backoff_ms =
      w->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : w->backoff_ms * 2;
}

/* Sends (again) until it went out or the time is up; 0 or exit code. */
static int send_retrying(waiter_t *w, int resend) {
  qf_error_t err;
  for (;;) {
    int rc = send_once(w, &err);
    if (rc == QF_OK) {
      w->backoff_ms = 1000;
      if (resend)
        fprintf(stderr, "reconnected; asked again for run %s\n",
                w->job->run_id);
      return 0;
    }
    /* A refused login is the configuration (78); no queue bound, or
     * anything else that is no outage, is not worth waiting for. */
    if (rc == QF_EAUTH)
      return qf_cli_fail("submit", QF_EXIT_CONFIG, "%s", err.message);
    if (qf_err_class(rc) != QF_ERRC_INFRA || rc == QF_ENOROUTE)
      return qf_cli_fail("submit", QF_EXIT_INFRA, "%s", err.message);
    if (qf_clock_now_ms() + 100 >= w->deadline_ms)
      return qf_cli_fail("submit", QF_EXIT_INFRA, "%s (gave up after %lld s)",
                         err.message,
                         (long long)(qf_clock_now_ms() - w->start_ms) / 1000);
    fprintf(stderr, "broker unreachable (%s); retrying in about %d s\n",
            err.message, w->backoff_ms / 1000);
    backoff(w);
  }
}

static void explain_hitl(const cJSON *d) {
  const char *id = qf_submit_str(d, "approval_id");
  const char *r = qf_submit_str(d, "reason");
  char *why = qf_utf8_escape(r ? r : "");
  fprintf(stderr,
          "NEED_HITL: %s\n"
          "  approval %s waits for a human: a member of qf_approver (and of\n"
          "  the policy's hitl.approvers, if it lists any) other than the\n"
          "  requester runs\n"
          "    qf approve %s [--comment TEXT]   or\n"
          "    qf reject %s --reason TEXT\n"
          "  still waiting...\n",
          why ? why : "", id ? id : "?", id ? id : "ID", id ? id : "ID");
  free(why);
}

/* A progress message from the worker: what the next progress line says. */
static void take_progress(waiter_t *w, const cJSON *p) {
  const char *state = qf_submit_str(p, "state");
  const char *node = qf_submit_str(p, "node");
  const char *who = qf_submit_str(p, "worker");
  char *e = qf_utf8_escape(who ? who : "?");
  snprintf(w->state, sizeof w->state, "%s (%s on %s)",
           state ? state : "running", node ? node : "?", e ? e : "?");
  free(e);
  fprintf(stderr, "run %s: %s\n", w->job->run_id, w->state);
}

/* 1 when d is the final decision of our run (kept in w->last). */
static int take_message(waiter_t *w, cJSON *d) {
  const char *id = qf_submit_str(d, "run_id");
  if (id == NULL || strcmp(id, w->job->run_id) != 0) { /* an old reply */
    cJSON_Delete(d);
    return 0;
  }
  const cJSON *p = cJSON_GetObjectItemCaseSensitive(d, "progress");
  if (cJSON_IsObject(p)) {
    take_progress(w, p);
    cJSON_Delete(d);
    return 0;
  }
  int final = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "final"));
  if (!final) {
    explain_hitl(d);
    snprintf(w->state, sizeof w->state, "awaiting approval %s",
             qf_submit_str(d, "approval_id") ? qf_submit_str(d, "approval_id")
                                             : "?");
  }
  cJSON_Delete(w->last);
  w->last = d;
  return final;
}

static void maybe_progress(waiter_t *w) {
  int64_t now = qf_clock_now_ms();
  if (now < w->next_progress_ms) return;
  w->next_progress_ms = now + (int64_t)w->job->progress_s * 1000;
  fprintf(stderr, "waiting for run %s: %s, %lld s elapsed\n", w->job->run_id,
          w->state, (long long)(now - w->start_ms) / 1000);
}

/* Reads replies until the final decision or the deadline; a lost
 * connection is made again and the request re-sent. */
static int wait_loop(waiter_t *w) {
  qf_error_t err;
  while (qf_clock_now_ms() < w->deadline_ms) {
    maybe_progress(w);
    qf_amqp_message_t m;
    int rc = w->con ? qf_amqp_next(w->con, 1000, &m, &err) : QF_EAMQPCONN;
    if (rc < 0) {
      fprintf(stderr, "lost the broker while waiting (%s); reconnecting\n",
              w->con ? err.message : "no connection");
      snprintf(w->state, sizeof w->state, "reconnecting to the broker");
      drop_connection(w);
      int code = send_retrying(w, 1);
      if (code != 0) return code;
      continue;
    }
    if (rc == 0) continue;
    cJSON *d = cJSON_ParseWithLength(m.body, m.body_len);
    int acked = qf_amqp_ack(w->con, m.delivery_tag, &err);
    qf_amqp_message_fini(&m);
    if (acked < 0) { /* gone: the next read says so, the copy comes again */
      cJSON_Delete(d);
      continue;
    }
    if (d && take_message(w, d)) return 0;
  }
  if (w->last) return 0; /* the wait ended on a NEED_HITL */
  return qf_cli_fail("submit", QF_EXIT_INFRA, "no decision in %d s",
                     w->job->wait_s);
}

int qf_submit_send_and_wait(const qf_submit_job_t *job, cJSON **decision) {
  waiter_t w = {.job = job, .backoff_ms = 1000};
  w.start_ms = qf_clock_now_ms();
  int budget = job->wait_s > 0 ? job->wait_s : PUBLISH_ONLY_BUDGET_S;
  w.deadline_ms = w.start_ms + (int64_t)budget * 1000;
  w.next_progress_ms = w.start_ms + (int64_t)job->progress_s * 1000;
  snprintf(w.state, sizeof w.state, "queued");
  srand((unsigned)(w.start_ms ^ getpid()));
  *decision = NULL;
  int code = send_retrying(&w, 0);
  if (code == 0)
    fprintf(stderr, "submitted run %s (message_id %s)\n", job->run_id,
            job->message_id);
  if (code == 0 && job->wait_s > 0) code = wait_loop(&w);
  drop_connection(&w);
  if (code == 0)
    *decision = w.last;
  else
    cJSON_Delete(w.last);
  return code;
}
