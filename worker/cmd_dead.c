/* qf dead list / qf dead replay: the dead-letter queue as an operator
 * works it. A list looks without taking: the messages are fetched unacked
 * and go back, in order, when the connection closes. A replay publishes a
 * dead letter again, whole (body, properties, headers), under a new
 * message id, because its first run is decided for good (a decision is
 * final, also a refusal): <message_id>:replay-<n>, n counting its replays,
 * so a replay that is itself cut off before its ack gives the same id
 * again and never runs twice. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "qf/amqp.h"
#include "qf/topology.h"
#include "qf/uuid.h"

#define LIMIT_DEFAULT 100
#define LIMIT_MAX 10000

static const char usage[] =
    "usage: qf dead list [--limit N] [--json] [--prefix P]\n"
    "       qf dead replay (ID... | --all) [--limit N] [--prefix P]\n"
    "\n"
    "list: the dead letters of <prefix>.orchestrations.dead, oldest first,\n"
    "one aligned row each (position, message id, why it is there, its\n"
    "routing key, size, the request text), or --json; they stay queued.\n"
    "\n"
    "replay: publishes the dead letters with these message ids (or --all)\n"
    "to <prefix>.requests again, as they were sent (body, properties,\n"
    "headers; the error and death headers dropped), under the message id\n"
    "ID:replay-N, then removes them from the dead-letter queue. Fix what\n"
    "refused them first (a workspace, the policy): the first run of a\n"
    "message id is decided for good, so the replay is a run of its own.\n"
    "\n"
    "  --limit N   look at most at N dead letters (default 100, max 10000)\n"
    "  --prefix P  topology prefix (default $QF_TOPOLOGY_PREFIX, else qf)\n"
    "\n"
    "Environment: QF_AMQP_URL.\n"
    "Exit codes: 0 done, 1 an ID was not found, 3 broker unreachable, 64\n"
    "usage, 78 the broker refused the login.\n";

static int run(int argc, char **argv);

const qf_cmd_t qf_cmd_dead = {
    .name = "dead",
    .run = run,
    .summary = "dead list / dead replay: the dead-letter queue",
    .usage = usage,
};

typedef struct opts {
  int replay, all, json, limit;
  const char *prefix;
  char **ids;
  int nids;
} opts_t;

static int parse(int argc, char **argv, opts_t *o) {
  static const struct option lo[] = {{"limit", 1, NULL, 'n'},
                                     {"json", 0, NULL, 'j'},
                                     {"all", 0, NULL, 'a'},
                                     {"prefix", 1, NULL, 'P'},
                                     {NULL, 0, NULL, 0}};
  int c;
  char *end;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":n:jaP:", lo, NULL)) != -1) {
    if (c == 'n') {
      long v = strtol(optarg, &end, 10);
      if (*end || v < 1 || v > LIMIT_MAX)
        return qf_cli_usage_error(&qf_cmd_dead, "--limit takes 1..%d",
                                  LIMIT_MAX);
      o->limit = (int)v;
    } else if (c == 'j') {
      o->json = 1;
    } else if (c == 'a') {
      o->all = 1;
    } else if (c == 'P') {
      o->prefix = optarg;
    } else {
      return qf_cli_usage_error(&qf_cmd_dead, "%s %s", argv[optind - 1],
                                c == ':' ? "needs a value" : "is unknown");
    }
  }
  if (optind >= argc ||
      (strcmp(argv[optind], "list") != 0 && strcmp(argv[optind], "replay")))
    return qf_cli_usage_error(&qf_cmd_dead, "expected 'list' or 'replay'");
  o->replay = strcmp(argv[optind], "replay") == 0;
  o->ids = argv + optind + 1;
  o->nids = argc - optind - 1;
  if (!o->replay && o->nids)
    return qf_cli_usage_error(&qf_cmd_dead, "list takes no ids");
  if (o->replay && !o->all == !o->nids)
    return qf_cli_usage_error(&qf_cmd_dead, "replay takes ids or --all");
  return 0;
}

static const char *or_dash(const char *s) {
  return s && s[0] ? s : "-";
}

/* Why it is dead: the worker's x-qf-error, else the broker's reason. */
static const char *why(const qf_amqp_message_t *m) {
  const char *e = qf_amqp_message_header(m, "x-qf-error");
  const char *r = qf_amqp_message_header(m, "x-first-death-reason");
  return e ? e : r ? r : "dead-lettered by the broker";
}

static char *request_text(const qf_amqp_message_t *m) {
  cJSON *o = cJSON_ParseWithLength(m->body, m->body_len);
  const cJSON *nl = cJSON_GetObjectItemCaseSensitive(o, "nl_input");
  char *t = strdup(cJSON_IsString(nl) ? nl->valuestring : "(not a request)");
  cJSON_Delete(o);
  return t;
}

static cJSON *as_json(int pos, const qf_amqp_message_t *m) {
  cJSON *o = cJSON_CreateObject();
  char *text = request_text(m);
  cJSON_AddNumberToObject(o, "position", pos);
  cJSON_AddStringToObject(o, "message_id", or_dash(m->message_id));
  cJSON_AddStringToObject(o, "correlation_id", or_dash(m->correlation_id));
  cJSON_AddStringToObject(o, "error", why(m));
  const char *key = qf_amqp_message_header(m, "x-qf-original-routing-key");
  cJSON_AddStringToObject(o, "routing_key", key ? key : "run");
  cJSON_AddNumberToObject(o, "bytes", (double)m->body_len);
  cJSON_AddStringToObject(o, "nl_input", text ? text : "");
  free(text);
  return o;
}

static void row(int pos, const qf_amqp_message_t *m) {
  char *text = request_text(m);
  const char *key = qf_amqp_message_header(m, "x-qf-original-routing-key");
  printf("%5d ", pos);
  qf_cli_cell(or_dash(m->message_id), 36);
  qf_cli_cell(why(m), 48);
  qf_cli_cell(key ? key : "run", 6);
  printf("%7zu ", m->body_len);
  qf_cli_cell(text, 40);
  putchar('\n');
  free(text);
}

static int selected(const opts_t *o, const qf_amqp_message_t *m) {
  if (o->all) return 1;
  for (int i = 0; i < o->nids; i++)
    if (m->message_id && strcmp(m->message_id, o->ids[i]) == 0) return 1;
  return 0;
}

/* Publishes m again under its replay id and takes it off the queue. */
static int replay_one(qf_amqp_t *c, const qf_topology_t *t,
                      const qf_amqp_message_t *m, qf_error_t *err) {
  char id[512], count[16];
  const char *n = qf_amqp_message_header(m, "x-qf-replays");
  int replays = (n ? atoi(n) : 0) + 1;
  char fresh[QF_UUID_STR_LEN + 1] = "";
  if ((!m->message_id || !m->message_id[0]) && qf_uuid_v4(fresh) < 0)
    return qf_error_set(err, QF_EINTERNAL, "no random source for an id");
  snprintf(id, sizeof id, "%.400s:replay-%d",
           m->message_id && m->message_id[0] ? m->message_id : fresh, replays);
  snprintf(count, sizeof count, "%d", replays);
  const char *key = qf_amqp_message_header(m, "x-qf-original-routing-key");
  qf_amqp_header_t h[] = {{"x-qf-error", NULL},
                          {"x-qf-original-routing-key", NULL},
                          {"x-death", NULL},
                          {"x-first-death-exchange", NULL},
                          {"x-first-death-queue", NULL},
                          {"x-first-death-reason", NULL},
                          {"x-last-death-exchange", NULL},
                          {"x-last-death-queue", NULL},
                          {"x-last-death-reason", NULL},
                          {"x-delivery-count", NULL},
                          {"x-qf-replays", count},
                          {"x-qf-replayed-from", or_dash(m->message_id)}};
  int rc = qf_amqp_republish_as(c, t->requests, key ? key : "run", m, id, h,
                                sizeof h / sizeof h[0], 10000, err);
  if (rc == QF_OK) rc = qf_amqp_ack(c, m->delivery_tag, err);
  if (rc == QF_OK) printf("replayed %s as %s\n", or_dash(m->message_id), id);
  return rc;
}

/* Walks the dead letters unacked (they go back when the connection
 * closes), listing or replaying. */
static int walk(qf_amqp_t *c, const qf_topology_t *t, const opts_t *o,
                int *found, qf_error_t *err) {
  cJSON *arr = o->json ? cJSON_CreateArray() : NULL;
  qf_amqp_message_t *held = calloc((size_t)o->limit, sizeof *held);
  int rc = held ? QF_OK : qf_error_set(err, QF_ENOMEM, "out of memory"), n = 0;
  if (!o->replay && !o->json)
    printf("%5s %-36s %-48s %-6s %7s %s\n", "#", "MESSAGE_ID", "WHY", "KEY",
           "BYTES", "REQUEST");
  while (rc == QF_OK && n < o->limit) {
    rc = qf_amqp_get(c, t->dead_queue, 0, 0, &held[n], err);
    if (rc == QF_ETIMEDOUT) { /* no more */
      rc = QF_OK;
      break;
    }
    if (rc < 0) break;
    const qf_amqp_message_t *m = &held[n++];
    if (!o->replay && arr) cJSON_AddItemToArray(arr, as_json(n, m));
    if (!o->replay && !arr) row(n, m);
    if (o->replay && selected(o, m)) {
      (*found)++;
      rc = replay_one(c, t, m, err);
    }
  }
  if (rc == QF_OK && arr) {
    char *text = cJSON_Print(arr);
    if (text) puts(text);
    cJSON_free(text);
  }
  cJSON_Delete(arr);
  for (int i = 0; held && i < n; i++)
    qf_amqp_message_fini(&held[i]);
  free(held);
  return rc;
}

static int run(int argc, char **argv) {
  opts_t o = {.limit = LIMIT_DEFAULT};
  int code = parse(argc, argv, &o);
  if (code) return code;
  if (!o.prefix) o.prefix = qf_cli_env("QF_TOPOLOGY_PREFIX", "qf");
  qf_topology_t t;
  if (qf_topology_init(&t, o.prefix) < 0)
    return qf_cli_usage_error(&qf_cmd_dead, "invalid --prefix '%s'", o.prefix);
  qf_amqp_opts_t ao = {
      .url = qf_cli_amqp_url(), .connection_name = "qf-dead", .confirm = 1};
  qf_amqp_t *c = NULL;
  qf_error_t err;
  int found = 0;
  int rc = qf_amqp_connect(&ao, &c, &err);
  if (rc == QF_OK) rc = walk(c, &t, &o, &found, &err);
  qf_amqp_free(c); /* what was only looked at goes back, in order */
  if (rc < 0)
    return qf_cli_fail("dead", qf_cli_exit_for(rc), "%s", err.message);
  if (o.replay && !o.all && found < o.nids)
    return qf_cli_fail("dead", QF_EXIT_FAIL,
                       "%d of %d message ids were not among the first %d "
                       "dead letters",
                       o.nids - found, o.nids, o.limit);
  if (o.replay && o.all && found == 0) printf("no dead letters\n");
  return QF_EXIT_PASS;
}
