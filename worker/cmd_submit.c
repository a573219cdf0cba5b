/* qf submit: the producer CI jobs use. Publishes one request with a
 * publisher confirm; with --wait, waits for the final decision on an
 * exclusive reply queue (through a NEED_HITL, which it explains). */
#include <ctype.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qf/clock.h"
#include "cli.h"
#include "qf/amqp.h"
#include "qf/utf8.h"
#include "qf/uuid.h"
#include "qf/worker.h"
#include "reqflags.h"

static const char usage[] =
    "usage: qf submit --nl TEXT [--tool T] [--arg K=V]... [--timeout S]\n"
    "                 [--dry-run] [--workspace DIR] [--message-id ID]\n"
    "                 [--requested-by WHO] [--correlation-id ID]\n"
    "                 [--wait [SECONDS]] [--json] [--prefix P]\n"
    "\n"
    "Publishes one request to <prefix>.requests (routing key run) with a\n"
    "publisher confirm and prints its run id. The request is validated first\n"
    "with the worker's own rules; an invalid one is never published.\n"
    "\n"
    "  --message-id ID      idempotency key (default: a fresh UUID); pass\n"
    "                       something stable such as the CI pipeline id so a\n"
    "                       retried job does not run twice\n"
    "  --requested-by WHO   default: the CI identity (GITLAB_USER_LOGIN,\n"
    "                       GITHUB_ACTOR, ...) or the user name\n"
    "  --correlation-id ID  echoed on every message about the run (default:\n"
    "                       a fresh UUID)\n"
    "  --wait [SECONDS]     wait for the final decision (default 1800 s); a\n"
    "                       NEED_HITL is printed with how to approve it, and\n"
    "                       the wait goes on until it is decided\n"
    "  --json               print the final decision message\n"
    "  --prefix P           topology prefix (default $QF_TOPOLOGY_PREFIX,\n"
    "                       else qf)\n"
    "  (--nl, --tool, --arg, --timeout, --dry-run, --workspace: as qf run)\n"
    "\n"
    "Exit codes: 0 PASS (or published, without --wait), 1 FAIL, 2 still\n"
    "NEED_HITL when the wait ended, 3 broker unreachable, no answer, or\n"
    "the run could not finish (FAIL decided_by error), 64 usage, 65 invalid\n"
    "request (refused before or after it was published).\n";

static int run(int argc, char **argv);

const qf_cmd_t qf_cmd_submit = {
    .name = "submit",
    .run = run,
    .summary = "publish a request; with --wait, wait for its decision",
    .usage = usage,
};

#define WAIT_DEFAULT_S 1800

typedef struct flags {
  qf_reqflags_t req;
  const char *message_id, *correlation_id, *prefix;
  int wait_s; /* 0: do not wait */
  int json;
} flags_t;

static int all_digits(const char *s) {
  if (s == NULL || *s == '\0') return 0;
  for (; *s; s++)
    if (!isdigit((unsigned char)*s)) return 0;
  return 1;
}

/* --wait takes an optional number, also as a separate word. */
static int take_wait(flags_t *f, int argc, char **argv) {
  const char *v = optarg;
  if (v == NULL && optind < argc && all_digits(argv[optind]))
    v = argv[optind++];
  f->wait_s = v ? atoi(v) : WAIT_DEFAULT_S;
  if (v && (!all_digits(v) || f->wait_s < 1 || f->wait_s > 86400))
    return qf_cli_usage_error(&qf_cmd_submit, "--wait takes 1..86400 s");
  return 0;
}

static int parse(int argc, char **argv, flags_t *f) {
  static const struct option opts[] = {QF_REQFLAGS_LONG,
                                       {"message-id", 1, NULL, 'm'},
                                       {"requested-by", 1, NULL, 'r'},
                                       {"correlation-id", 1, NULL, 'c'},
                                       {"wait", 2, NULL, 'W'},
                                       {"json", 0, NULL, 'j'},
                                       {"prefix", 1, NULL, 'P'},
                                       {NULL, 0, NULL, 0}};
  int c, rc;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":" QF_REQFLAGS_SHORT "m:r:c:W::jP:",
                          opts, NULL)) != -1) {
    int taken = qf_reqflags_take(&f->req, c, optarg, &qf_cmd_submit);
    if (taken > 1) return taken;
    if (taken == 1) continue;
    if (c == 'm')
      f->message_id = optarg;
    else if (c == 'r')
      f->req.requested_by = optarg;
    else if (c == 'c')
      f->correlation_id = optarg;
    else if (c == 'j')
      f->json = 1;
    else if (c == 'P')
      f->prefix = optarg;
    else if (c == 'W') {
      if ((rc = take_wait(f, argc, argv)) != 0) return rc;
    } else
      return qf_cli_usage_error(&qf_cmd_submit, "%s %s", argv[optind - 1],
                                c == ':' ? "needs a value" : "is unknown");
  }
  if (optind < argc)
    return qf_cli_usage_error(&qf_cmd_submit, "unexpected argument '%s'",
                              argv[optind]);
  if (f->req.nl == NULL)
    return qf_cli_usage_error(&qf_cmd_submit, "--nl is required");
  return 0;
}

/* Who is asking: the CI system's identity when there is one. */
static const char *default_requester(void) {
  static const char *const vars[] = {
      "GITLAB_USER_LOGIN", "GITHUB_ACTOR", "BUILD_USER_ID",
      "QF_REQUESTED_BY",   "USER",         "LOGNAME"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
    const char *v = qf_cli_env(vars[i], NULL);
    if (v) return v;
  }
  struct passwd *pw = getpwuid(getuid());
  return pw ? pw->pw_name : NULL;
}

static const char *jstr(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void print_decision(const cJSON *d, int json) {
  if (json) {
    char *text = cJSON_PrintUnformatted(d);
    if (text) puts(text);
    cJSON_free(text);
    return;
  }
  const char *path = jstr(d, "evidence_url") ? jstr(d, "evidence_url")
                                             : jstr(d, "evidence_path");
  /* The reason may quote a person (an approver's comment): escaped. */
  char *why = qf_utf8_escape(jstr(d, "reason") ? jstr(d, "reason") : "");
  printf("%s: %s\n  run: %s\n  evidence: %s\n",
         jstr(d, "decision") ? jstr(d, "decision") : "?", why ? why : "",
         jstr(d, "run_id"), path ? path : "(none)");
  free(why);
}

static void explain_hitl(const cJSON *d) {
  const char *id = jstr(d, "approval_id");
  char *why = qf_utf8_escape(jstr(d, "reason") ? jstr(d, "reason") : "");
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

static int exit_for(const cJSON *d) {
  const char *v = jstr(d, "decision"), *by = jstr(d, "decided_by");
  /* Never run: the request itself was refused (invalid, or its message id
   * belongs to another request). */
  if (by && strcmp(by, "refused") == 0) return QF_EXIT_DATAERR;
  /* Could not finish (decided_by error, always FAIL): the change was not
   * judged, so CI should see an infrastructure failure it may retry. */
  if (by && strcmp(by, "error") == 0) return QF_EXIT_INFRA;
  if (v && strcmp(v, "PASS") == 0) return QF_EXIT_PASS;
  if (v && strcmp(v, "FAIL") == 0) return QF_EXIT_FAIL;
  return QF_EXIT_HITL;
}

/* Reads decisions for run_id until a final one or the deadline. */
static int wait_decision(qf_amqp_t *con, const char *run_id, int wait_s,
                         int json) {
  qf_error_t err;
  cJSON *last = NULL;
  int64_t deadline = qf_clock_now_ms() + (int64_t)wait_s * 1000;
  int code = -1;
  while (code < 0 && qf_clock_now_ms() < deadline) {
    qf_amqp_message_t m;
    int rc = qf_amqp_next(con, 1000, &m, &err);
    if (rc < 0) {
      code = qf_cli_fail("submit", QF_EXIT_INFRA, "waiting: %s", err.message);
      break;
    }
    if (rc == 0) continue;
    cJSON *d = cJSON_ParseWithLength(m.body, m.body_len);
    int acked = qf_amqp_ack(con, m.delivery_tag, &err);
    qf_amqp_message_fini(&m);
    if (acked < 0) { /* the connection is gone: the next read says so */
      cJSON_Delete(d);
      continue;
    }
    const char *id = jstr(d, "run_id");
    if (id == NULL || strcmp(id, run_id) != 0) {
      cJSON_Delete(d); /* not ours: an old reply */
      continue;
    }
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "final"))) {
      print_decision(d, json);
      code = exit_for(d);
    } else {
      explain_hitl(d);
    }
    cJSON_Delete(last);
    last = d;
  }
  if (code < 0 && last) { /* the wait ended on a NEED_HITL */
    print_decision(last, json);
    code = QF_EXIT_HITL;
  } else if (code < 0) {
    code = qf_cli_fail("submit", QF_EXIT_INFRA, "no decision in %d s", wait_s);
  }
  cJSON_Delete(last);
  return code;
}

static int connect_to(const char *name, int confirm, qf_amqp_t **c,
                      qf_error_t *err) {
  qf_amqp_opts_t o = {
      .url = qf_cli_env("QF_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
      .connection_name = name,
      .confirm = confirm};
  return qf_amqp_connect(&o, c, err);
}

static int publish(const flags_t *f, const char *body, const char *msg_id,
                   const char *corr, const char *reply_to, qf_error_t *err) {
  qf_topology_t t;
  qf_amqp_t *pub = NULL;
  if (qf_topology_init(&t, f->prefix) < 0)
    return qf_error_set(err, QF_EINVAL, "invalid --prefix");
  qf_amqp_msg_t m = {.body = body,
                     .body_len = strlen(body),
                     .content_type = "application/json",
                     .message_id = msg_id,
                     .correlation_id = corr,
                     .reply_to = reply_to};
  int rc = connect_to("qf-submit", 1, &pub, err);
  if (rc == QF_OK) rc = qf_amqp_publish(pub, t.requests, "run", &m, 10000, err);
  if (rc == QF_ENOROUTE)
    qf_error_set(err, rc,
                 "nothing is bound to %s (no worker ever started "
                 "with prefix %s)",
                 t.requests, f->prefix);
  qf_amqp_free(pub);
  return rc;
}

static int submit(flags_t *f, const char *body) {
  qf_error_t err;
  qf_amqp_t *con = NULL;
  char *reply = NULL;
  char msg_id[QF_UUID_STR_LEN + 1], corr[QF_UUID_STR_LEN + 1];
  char run_id[QF_UUID_STR_LEN + 1];
  if (f->message_id == NULL && qf_uuid_v4(msg_id) == QF_OK)
    f->message_id = msg_id;
  if (f->correlation_id == NULL && qf_uuid_v4(corr) == QF_OK)
    f->correlation_id = corr;
  if (qf_uuid_v5(QF_UUID_NS_RUN, f->message_id, strlen(f->message_id), run_id) <
      0)
    return qf_cli_fail("submit", QF_EXIT_SOFTWARE, "cannot derive run id");
  int rc = QF_OK;
  /* The reply queue exists before the request goes out, so the decision
   * cannot arrive before anyone listens. */
  if (f->wait_s > 0) {
    rc = connect_to("qf-submit-reply", 0, &con, &err);
    if (rc == QF_OK) rc = qf_amqp_declare_queue(con, "", 1, NULL, &reply, &err);
    if (rc == QF_OK) rc = qf_amqp_consume(con, reply, &err);
  }
  if (rc == QF_OK)
    rc = publish(f, body, f->message_id, f->correlation_id, reply, &err);
  int code;
  if (rc < 0) {
    code = qf_cli_fail("submit", QF_EXIT_INFRA, "%s", err.message);
  } else {
    fprintf(stderr, "submitted run %s (message_id %s)\n", run_id,
            f->message_id);
    if (f->wait_s > 0) {
      code = wait_decision(con, run_id, f->wait_s, f->json);
    } else {
      if (f->json)
        printf("{\"run_id\":\"%s\",\"message_id\":\"%s\"}\n", run_id,
               f->message_id);
      else
        printf("%s\n", run_id);
      code = QF_EXIT_PASS;
    }
  }
  free(reply);
  qf_amqp_free(con);
  return code;
}

static int run(int argc, char **argv) {
  flags_t f = {0};
  qf_error_t err;
  qf_request_t *req = NULL;
  char *body = NULL;
  if (qf_reqflags_init(&f.req) < 0)
    return qf_cli_fail("submit", QF_EXIT_SOFTWARE, "out of memory");
  int code = parse(argc, argv, &f);
  if (code == 0) {
    if (f.prefix == NULL) f.prefix = qf_cli_env("QF_TOPOLOGY_PREFIX", "qf");
    if (f.req.requested_by == NULL) f.req.requested_by = default_requester();
    if (qf_reqflags_build(&f.req, &req, &err) < 0 ||
        qf_request_to_json(req, &body, &err) < 0)
      code = qf_cli_fail("submit", QF_EXIT_DATAERR, "invalid request: %s",
                         err.message);
    else
      code = submit(&f, body);
  }
  free(body);
  qf_request_free(req);
  qf_reqflags_fini(&f.req);
  return code;
}
