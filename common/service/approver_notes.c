/* approver_notes.c: notifications that reach people (DESIGN 8). Each
 * event is an outbox row first (migration 006), with a `text` line a chat
 * webhook shows as it is (who asked, what, which rule, until when, the
 * command to decide) beside the structured fields; rows are posted signed,
 * and retried with a doubling delay over minutes; the last failure is
 * logged, counted and kept on the row. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "approver_internal.h"
#include "qf/log.h"
#include "qf/metrics.h"
#include "qf/outbox.h"
#include "qf/utf8.h"

#define DELIVER_BATCH 10
#define RUN_WINDOW_S 3600 /* decisions are looked for this far back */
#define MAX_DELAY_S 900

static const char *jstr(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *or_q(const char *s) {
  return s ? s : "?";
}

static int queue(qf_db_t *db, const char *event, const char *key, cJSON *body,
                 qf_error_t *err) {
  char *text = body ? cJSON_PrintUnformatted(body) : NULL;
  int rc = text ? qf_outbox_add(db, event, key, text, NULL, err)
                : qf_error_set(err, QF_ENOMEM, "out of memory");
  cJSON_free(text);
  cJSON_Delete(body);
  return rc;
}

int qf__approver_note_needed(qf_db_t *db, const qf_approver_cfg_t *cfg,
                             const cJSON *d, qf_error_t *err) {
  const char *id = jstr(d, "approval_id");
  if (!cfg->webhook_url || !(cfg->webhook_events & QF_WEBHOOK_EVENT_NEEDED) ||
      !id)
    return QF_OK;
  qf_approval_t ap;
  int rc = qf_approvals_get(db, id, &ap, err);
  if (rc < 0) return rc;
  char text[2048], key[96];
  qf_utf8_snprintf(
      text, sizeof text,
      "QualityFoundry: approval needed for \"%s\" (asked by %s): %s. Decide "
      "before %s with `qf approve %s` or `qf reject %s --reason ...`.",
      or_q(ap.nl_input), or_q(ap.requested_by), or_q(jstr(d, "reason")),
      or_q(ap.expires_at), id, id);
  cJSON *b = cJSON_CreateObject();
  cJSON_AddStringToObject(b, "event", "approval.needed");
  cJSON_AddStringToObject(b, "text", text);
  cJSON_AddStringToObject(b, "approval_id", id);
  cJSON_AddStringToObject(b, "run_id", ap.run_id);
  cJSON_AddStringToObject(b, "requested_by", or_q(ap.requested_by));
  cJSON_AddStringToObject(b, "request", or_q(ap.nl_input));
  cJSON_AddStringToObject(b, "rule", or_q(ap.triggered_rule));
  cJSON_AddStringToObject(b, "expires_at", or_q(ap.expires_at));
  cJSON_AddStringToObject(b, "approve", "qf approve <approval_id>");
  cJSON_AddItemToObject(b, "decision", cJSON_Duplicate(d, 1));
  snprintf(key, sizeof key, "approval.needed:%s", id);
  qf_approval_fini(&ap);
  return queue(db, "approval.needed", key, b, err);
}

/* The text line of a row queued by SQL (run.decided, approval.decided,
 * approval.expired), from its fields. */
static void text_of(const char *event, const cJSON *b, char *out, size_t n) {
  const char *note =
      jstr(b, "comment") ? jstr(b, "comment") : jstr(b, "reason");
  if (strcmp(event, "run.decided") == 0)
    qf_utf8_snprintf(out, n, "QualityFoundry: %s for \"%s\": %s",
                     or_q(jstr(b, "decision")), or_q(jstr(b, "request")),
                     or_q(jstr(b, "reason")));
  else if (strcmp(event, "approval.expired") == 0)
    qf_utf8_snprintf(out, n,
                     "QualityFoundry: approval %s for \"%s\" expired at %s "
                     "without a decision: the run fails.",
                     or_q(jstr(b, "approval_id")), or_q(jstr(b, "request")),
                     or_q(jstr(b, "expires_at")));
  else
    qf_utf8_snprintf(out, n,
                     "QualityFoundry: approval %s for \"%s\" (asked by %s) "
                     "was %s by %s%s%s.",
                     or_q(jstr(b, "approval_id")), or_q(jstr(b, "request")),
                     or_q(jstr(b, "requested_by")), or_q(jstr(b, "status")),
                     or_q(jstr(b, "decided_by")), note ? ": " : "",
                     note ? note : "");
}

/* The body as posted: with its event and text line. */
static char *with_text(const char *event, const char *body) {
  cJSON *b = cJSON_Parse(body);
  if (b && !cJSON_GetObjectItemCaseSensitive(b, "text")) {
    char text[2048];
    text_of(event, b, text, sizeof text);
    cJSON_AddStringToObject(b, "event", event);
    cJSON_AddStringToObject(b, "text", text);
  }
  char *out = b ? cJSON_PrintUnformatted(b) : NULL;
  cJSON_Delete(b);
  return out;
}

static int post_row(qf_db_t *db, const qf_approver_cfg_t *cfg,
                    const qf_outbox_row_t *r, qf_error_t *err) {
  qf_error_t why;
  qf_health_beat(); /* a slow receiver is not a stuck loop */
  qf_webhook_msg_t m = {cfg->webhook_url, cfg->webhook_secret, r->event, r->id,
                        cfg->webhook_timeout_ms};
  char *body = with_text(r->event, r->body);
  int rc = body ? qf_webhook_send(&m, body, &why)
                : qf_error_set(&why, QF_ENOMEM, "out of memory");
  free(body);
  if (rc == QF_OK) {
    qf_metrics_inc(qf_metrics_global(), "qf_webhook_posts_total",
                   "result=\"ok\"", 1);
    return qf_outbox_delivered(db, r->id, err);
  }
  int final = r->attempts + 1 >= cfg->webhook_tries;
  long delay = (long)cfg->webhook_retry_s
               << (r->attempts < 20 ? r->attempts : 20);
  if (delay > MAX_DELAY_S) delay = MAX_DELAY_S;
  qf_log_emit(final ? QF_LOG_ERROR : QF_LOG_WARN, NULL,
              final ? "webhook.gave_up" : "webhook.retry", NULL, 0,
              "%s %lld: %s (try %d of %d)%s", r->event, r->id, why.message,
              r->attempts + 1, cfg->webhook_tries,
              final ? "; kept in webhook_outbox with its error" : "");
  qf_metrics_inc(qf_metrics_global(), "qf_webhook_posts_total",
                 final ? "result=\"gave_up\"" : "result=\"failed\"", 1);
  return qf_outbox_failed(db, r->id, why.message, (int)delay, final, err);
}

int qf__approver_deliver(qf_db_t *db, const qf_approver_cfg_t *cfg,
                         qf_error_t *err) {
  if (!cfg->webhook_url) return QF_OK;
  qf_outbox_row_t *rows = NULL;
  size_t n = 0;
  int rc = QF_OK;
  int ev = cfg->webhook_events;
  if (ev & (QF_WEBHOOK_EVENT_DECIDED | QF_WEBHOOK_EVENT_EXPIRED))
    rc = qf_outbox_add_decided_approvals(
        db, RUN_WINDOW_S, ev & QF_WEBHOOK_EVENT_DECIDED,
        ev & QF_WEBHOOK_EVENT_EXPIRED, NULL, err);
  if (rc == QF_OK && (ev & QF_WEBHOOK_EVENT_RUN))
    rc = qf_outbox_add_decided_runs(db, RUN_WINDOW_S, NULL, err);
  if (rc == QF_OK) rc = qf_db_begin(db, err);
  if (rc == QF_OK) rc = qf_outbox_claim(db, DELIVER_BATCH, &rows, &n, err);
  for (size_t i = 0; rc == QF_OK && i < n; i++)
    rc = post_row(db, cfg, &rows[i], err);
  if (rc == QF_OK) rc = qf_db_commit(db, err);
  if (rc < 0) qf_db_rollback(db);
  qf_outbox_free(rows, n);
  return rc;
}

int qf_webhook_events_parse(const char *list, int *out, qf_error_t *err) {
  static const struct {
    const char *name;
    int bit;
  } names[] = {{"approval.needed", QF_WEBHOOK_EVENT_NEEDED},
               {"approval.decided", QF_WEBHOOK_EVENT_DECIDED},
               {"approval.expired", QF_WEBHOOK_EVENT_EXPIRED},
               {"run.decided", QF_WEBHOOK_EVENT_RUN}};
  char buf[256];
  int bits = 0;
  if (list == NULL) {
    *out = QF_WEBHOOK_EVENT_NEEDED | QF_WEBHOOK_EVENT_DECIDED |
           QF_WEBHOOK_EVENT_EXPIRED;
    return QF_OK;
  }
  snprintf(buf, sizeof buf, "%s", list);
  for (char *save = NULL, *t = strtok_r(buf, ", ", &save); t;
       t = strtok_r(NULL, ", ", &save)) {
    size_t i = 0, n = sizeof names / sizeof names[0];
    while (i < n && strcmp(names[i].name, t) != 0)
      i++;
    if (i == n)
      return qf_error_set(err, QF_EINVAL,
                          "unknown event '%s' (known: approval.needed, "
                          "approval.decided, approval.expired, run.decided)",
                          t);
    bits |= names[i].bit;
  }
  *out = bits;
  return QF_OK;
}
