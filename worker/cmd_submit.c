/* qf submit: the producer CI jobs use. Builds one request (with the
 * change under test: flags, else the CI's own variables), publishes it
 * and, with --wait, waits for the final decision (submit_wait.c) and
 * shows it where CI looks (submit_report.c). */
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
#include "submit.h"

static const char usage[] =
    "usage: qf submit --nl TEXT [--tool T] [--arg K=V]... [--timeout S]\n"
    "                 [--dry-run] [--workspace DIR] [--message-id ID]\n"
    "                 [--requested-by WHO] [--correlation-id ID]\n"
    "                 [--repo URL (--commit SHA | --ref REF)] [--no-source]\n"
    "                 [--wait [SECONDS]] [--progress S] [--json]\n"
    "                 [--junit-out FILE] [--evidence-out FILE] [--prefix P]\n"
    "\n"
    "Publishes one request to <prefix>.requests (routing key run) with a\n"
    "publisher confirm and prints its run id. The request is validated first\n"
    "with the worker's own rules; an invalid one is never published. While\n"
    "the broker is unreachable it retries with backoff (within the wait, or\n"
    "60 s); a connection lost during --wait is made again and the request\n"
    "re-sent with the same message id (it never runs twice).\n"
    "\n"
    "  --repo URL           the repository to test; --commit SHA (40 hex) or\n"
    "                       --ref REF (a branch or tag, resolved once by the\n"
    "                       worker). On GitHub Actions and GitLab CI the\n"
    "                       default is the pipeline's repository and commit;\n"
    "                       --workspace is then a folder of the checkout\n"
    "  --no-source          test the workers' workspace, not a commit\n"
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
    "  --progress S         a progress line on stderr every S s (30)\n"
    "  --json               print the final decision message\n"
    "  --junit-out FILE     the counts and failing tests as JUnit XML\n"
    "  --evidence-out FILE  the run's whole evidence document (JSON)\n"
    "  --prefix P           topology prefix (default $QF_TOPOLOGY_PREFIX,\n"
    "                       else qf)\n"
    "  (--nl, --tool, --arg, --timeout, --dry-run, --workspace: as qf run)\n"
    "\n"
    "The decision is printed with its failing tests, one per line; with\n"
    "GITHUB_ACTIONS=true also as ::error annotations and a Markdown summary\n"
    "appended to $GITHUB_STEP_SUMMARY.\n"
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
  const char *repo, *commit, *ref; /* the source; NULL: the CI's or none */
  int no_source, ci_source;
  int wait_s;     /* 0: do not wait */
  int progress_s; /* a progress line at most this often while waiting */
  qf_submit_out_t out;
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
                                       {"repo", 1, NULL, 'R'},
                                       {"commit", 1, NULL, 'C'},
                                       {"ref", 1, NULL, 'F'},
                                       {"no-source", 0, NULL, 'N'},
                                       {"junit-out", 1, NULL, 'J'},
                                       {"evidence-out", 1, NULL, 'E'},
                                       {"progress", 1, NULL, 'G'},
                                       {NULL, 0, NULL, 0}};
  int c, rc;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv,
                          ":" QF_REQFLAGS_SHORT "m:r:c:W::jP:R:C:F:NJ:E:G:",
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
      f->out.json = 1;
    else if (c == 'R')
      f->repo = optarg;
    else if (c == 'C')
      f->commit = optarg;
    else if (c == 'F')
      f->ref = optarg;
    else if (c == 'N')
      f->no_source = 1;
    else if (c == 'J')
      f->out.junit_out = optarg;
    else if (c == 'E')
      f->out.evidence_out = optarg;
    else if (c == 'G') {
      f->progress_s = all_digits(optarg) ? atoi(optarg) : 0;
      if (f->progress_s < 1 || f->progress_s > 86400)
        return qf_cli_usage_error(&qf_cmd_submit,
                                  "--progress takes 1..86400 s");
    } else if (c == 'P')
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
  if (f->commit && f->ref)
    return qf_cli_usage_error(&qf_cmd_submit,
                              "--commit and --ref exclude each other");
  if (f->no_source && (f->repo || f->commit || f->ref))
    return qf_cli_usage_error(&qf_cmd_submit,
                              "--no-source excludes --repo, --commit, --ref");
  if ((f->out.junit_out || f->out.evidence_out) && f->wait_s == 0)
    return qf_cli_usage_error(&qf_cmd_submit,
                              "--junit-out and --evidence-out need --wait");
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

/* The change under test: the flags, else the CI's own variables (the
 * pipeline's commit), else none (the workers' workspace). GitLab's
 * CI_REPOSITORY_URL carries the job token, so the project URL is used. */
static void default_source(flags_t *f) {
  static char url[2048];
  if (f->no_source || f->repo || (!f->commit && !f->ref && !f->ci_source))
    return;
  const char *gh = qf_cli_env("GITHUB_REPOSITORY", NULL);
  const char *gl = qf_cli_env("CI_PROJECT_URL", NULL);
  if (qf_cli_env("GITHUB_ACTIONS", NULL) && gh) {
    snprintf(url, sizeof url, "%s/%s.git",
             qf_cli_env("GITHUB_SERVER_URL", "https://github.com"), gh);
    f->repo = url;
    if (!f->commit && !f->ref) f->commit = qf_cli_env("GITHUB_SHA", NULL);
  } else if (qf_cli_env("GITLAB_CI", NULL) && gl) {
    snprintf(url, sizeof url, "%s.git", gl);
    f->repo = url;
    if (!f->commit && !f->ref) f->commit = qf_cli_env("CI_COMMIT_SHA", NULL);
  }
}

/* Adds "source" to the request body and validates the whole again with
 * the worker's rules. */
static int add_source(const flags_t *f, char **body, qf_error_t *err) {
  if (!f->repo && !f->commit && !f->ref) return QF_OK;
  if (!f->repo)
    return qf_error_set(err, QF_EVALIDATE,
                        "--commit/--ref need --repo (or a CI that names "
                        "the repository)");
  cJSON *o = cJSON_Parse(*body), *src = NULL;
  qf_request_t *req = NULL;
  int rc = QF_ENOMEM;
  if (o && (src = cJSON_AddObjectToObject(o, "source")) &&
      cJSON_AddStringToObject(src, "repo", f->repo) &&
      (!f->commit || cJSON_AddStringToObject(src, "commit", f->commit)) &&
      (!f->ref || cJSON_AddStringToObject(src, "ref", f->ref))) {
    char *text = cJSON_PrintUnformatted(o);
    rc = text ? qf_request_parse(text, strlen(text), &req, err) : QF_ENOMEM;
    cJSON_free(text);
  }
  if (rc == QF_OK) {
    free(*body);
    *body = NULL;
    rc = qf_request_to_json(req, body, err);
  }
  if (rc == QF_ENOMEM) qf_error_set(err, rc, "out of memory");
  qf_request_free(req);
  cJSON_Delete(o);
  return rc;
}

static int exit_for(const cJSON *d) {
  const char *v = qf_submit_str(d, "decision");
  const char *by = qf_submit_str(d, "decided_by");
  /* Never run: the request itself was refused (invalid, or its message id
   * belongs to another request). */
  if (by && strcmp(by, "refused") == 0) return QF_EXIT_DATAERR;
  /* Could not finish (decided_by error, always FAIL): the change was not
   * judged, so CI should see an infrastructure failure it may retry. */
  if (by && strcmp(by, "error") == 0) return QF_EXIT_INFRA;
  if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "final")))
    return QF_EXIT_HITL;
  if (v && strcmp(v, "PASS") == 0) return QF_EXIT_PASS;
  if (v && strcmp(v, "FAIL") == 0) return QF_EXIT_FAIL;
  return QF_EXIT_HITL;
}

static int submit(flags_t *f, const char *body) {
  char msg_id[QF_UUID_STR_LEN + 1], corr[QF_UUID_STR_LEN + 1];
  char run_id[QF_UUID_STR_LEN + 1];
  if (f->message_id == NULL && qf_uuid_v4(msg_id) == QF_OK)
    f->message_id = msg_id;
  if (f->correlation_id == NULL && qf_uuid_v4(corr) == QF_OK)
    f->correlation_id = corr;
  if (qf_uuid_v5(QF_UUID_NS_RUN, f->message_id, strlen(f->message_id), run_id) <
      0)
    return qf_cli_fail("submit", QF_EXIT_SOFTWARE, "cannot derive run id");
  qf_submit_job_t job = {f->prefix, body,      f->message_id, f->correlation_id,
                         run_id,    f->wait_s, f->progress_s};
  cJSON *d = NULL;
  int code = qf_submit_send_and_wait(&job, &d);
  if (code != 0) return code;
  if (f->wait_s == 0) {
    if (f->out.json)
      printf("{\"run_id\":\"%s\",\"message_id\":\"%s\"}\n", run_id,
             f->message_id);
    else
      printf("%s\n", run_id);
    return QF_EXIT_PASS;
  }
  code = exit_for(d);
  if (qf_submit_report(d, &f->out) < 0 && code == QF_EXIT_PASS)
    code = QF_EXIT_FAIL; /* a PASS whose report CI asked for is missing */
  cJSON_Delete(d);
  return code;
}

static int run(int argc, char **argv) {
  flags_t f = {.progress_s = 30};
  qf_error_t err;
  qf_request_t *req = NULL;
  char *body = NULL;
  if (qf_reqflags_init(&f.req) < 0)
    return qf_cli_fail("submit", QF_EXIT_SOFTWARE, "out of memory");
  int code = parse(argc, argv, &f);
  if (code == 0) {
    if (f.prefix == NULL) f.prefix = qf_cli_env("QF_TOPOLOGY_PREFIX", "qf");
    /* On GitHub Actions the log gets annotations and the job page a
     * summary; on any CI the pipeline's commit is what gets tested. */
    f.out.github = qf_cli_env("GITHUB_ACTIONS", NULL) != NULL &&
                   strcmp(qf_cli_env("GITHUB_ACTIONS", ""), "true") == 0;
    if (f.out.github)
      f.out.step_summary = qf_cli_env("GITHUB_STEP_SUMMARY", NULL);
    f.ci_source = f.out.github || qf_cli_env("GITLAB_CI", NULL) != NULL;
    if (f.req.requested_by == NULL) f.req.requested_by = default_requester();
    if (qf_reqflags_build(&f.req, &req, &err) < 0 ||
        qf_request_to_json(req, &body, &err) < 0)
      code = qf_cli_fail("submit", QF_EXIT_DATAERR, "invalid request: %s",
                         err.message);
    else if (default_source(&f), add_source(&f, &body, &err) < 0)
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
