/* Notifications that reach people: a real approver posts approval.needed,
 * approval.decided and approval.expired from its outbox to a local HTTP
 * receiver (tests/webhook_receiver.py) that answers 500 twice before it
 * takes them; every body is signed (the receiver checks the HMAC), has a
 * human text line and the structured fields, and the approver's log never
 * shows the URL's path or query. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hitl_support.h"

TestSuite(hitl, .init = hitl_setup, .fini = hitl_teardown, .timeout = 240);

#define SECRET "hook-s3cret"
#define HIDDEN "T0PSECRETPATH"

static pid_t receiver;
static char posts[300];

/* The receiver on a free port, failing the first `fails` posts. */
static void start_receiver(int fails, char *url, size_t n) {
  int port = qf_test_closed_port();
  char p[16], f[16];
  snprintf(p, sizeof p, "%d", port);
  snprintf(f, sizeof f, "%d", fails);
  snprintf(posts, sizeof posts, "%s/posts.jsonl", T.dir);
  receiver = fork();
  cr_assert(receiver >= 0);
  if (receiver == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlives the test */
    execl("/usr/bin/python3", "python3",
          QF_SOURCE_DIR "/tests/webhook_receiver.py", p, f, SECRET, posts,
          (char *)NULL);
    _exit(127);
  }
  snprintf(url, n, "http://127.0.0.1:%d/hooks/" HIDDEN "?token=" HIDDEN, port);
  sleep_ms(800); /* python's start */
}

static void stop_receiver(void) {
  if (receiver > 0) {
    kill(receiver, SIGTERM);
    waitpid(receiver, NULL, 0);
    receiver = 0;
  }
}

/* The posts received so far for event (those answered 200 in *ok). */
static int posts_of(const char *event, int *ok, cJSON **last) {
  char *text = read_file(posts);
  int n = 0;
  *ok = 0;
  for (char *save = NULL, *l = text ? strtok_r(text, "\n", &save) : NULL; l;
       l = strtok_r(NULL, "\n", &save)) {
    cJSON *p = cJSON_Parse(l);
    if (p && strcmp(str(p, "event"), event) == 0) {
      n++;
      if (cJSON_GetObjectItem(p, "status")->valueint == 200) {
        (*ok)++;
        if (last) {
          cJSON_Delete(*last);
          *last = cJSON_Duplicate(p, 1);
        }
      }
      cr_expect(cJSON_IsTrue(cJSON_GetObjectItem(p, "signature_ok")),
                "a bad signature: %s", l);
      cr_expect(strncmp(str(p, "user_agent"), "qf-approver/", 12) == 0, "%s",
                l);
    }
    cJSON_Delete(p);
  }
  free(text);
  return n;
}

/* Waits until event was taken (answered 200); returns its last post. */
static cJSON *wait_taken(const char *event, int timeout_s) {
  cJSON *last = NULL;
  int ok = 0;
  for (int i = 0; i < timeout_s * 10 && ok == 0; i++) {
    posts_of(event, &ok, &last);
    if (!ok) sleep_ms(100);
  }
  cr_assert_gt(ok, 0, "no %s taken\n%s", event, logs());
  return last;
}

static void start_all(int fails, int expires_s) {
  char url[200], hook[260];
  start_receiver(fails, url, sizeof url);
  snprintf(hook, sizeof hook, "QF_APPROVER_WEBHOOK=%s", url);
  const char *env[] = {hook, "QF_WEBHOOK_SECRET=" SECRET,
                       "QF_WEBHOOK_RETRY_S=1",
                       ("QF_WEBHOOK_EVENTS=approval.needed,approval.decided,"
                        "approval.expired,run.decided"),
                       NULL};
  start_worker(write_policy("after_execute", expires_s));
  start_approver_env(1, env);
}

Test(hitl, webhooks_are_retried_signed_and_say_what_to_do) {
  start_all(2, 3600);
  char run_id[QF_UUID_STR_LEN + 1], id[QF_UUID_STR_LEN + 1], corr[128];
  publish_request("hook", "ci-bot", "tests/passing", reply_q, run_id, corr,
                  sizeof corr);
  wait_need_hitl(run_id, id);
  cJSON *needed = wait_taken("approval.needed", 60);
  int ok = 0;
  cr_expect_eq(posts_of("approval.needed", &ok, NULL), 3,
               "500, 500, then 200: three posts of one notification");
  const cJSON *b = cJSON_GetObjectItem(needed, "body");
  cr_expect_str_eq(str(b, "approval_id"), id);
  cr_expect_str_eq(str(b, "requested_by"), "ci-bot");
  cr_expect(strstr(str(b, "text"), "qf approve ") != NULL, "%s",
            str(b, "text"));
  cr_expect(strstr(str(b, "text"), "smoke test production login") != NULL);
  cr_expect(strlen(str(b, "expires_at")) > 0);
  cJSON_Delete(needed);
  const char *args[] = {"approve", id, "--comment", "go", NULL};
  qf_test_proc_t p;
  qf_as(ALICE, NULL, args, &p);
  cr_assert_eq(p.status, 0, "%s%s", p.out.data, p.err.data);
  qf_test_proc_fini(&p);
  cJSON *decided = wait_taken("approval.decided", 60);
  b = cJSON_GetObjectItem(decided, "body");
  cr_expect(strstr(str(b, "text"), "approved by") != NULL, "%s",
            str(b, "text"));
  cr_expect_str_eq(str(b, "status"), "approved");
  cr_expect_str_eq(str(b, "approval_id"), id);
  cJSON_Delete(decided);
  /* The run's final decision, once the resumed run is decided. */
  cJSON *run = wait_taken("run.decided", 60);
  b = cJSON_GetObjectItem(run, "body");
  cr_expect_str_eq(str(b, "run_id"), run_id);
  cr_expect_str_eq(str(b, "decision"), "PASS");
  cr_expect(strstr(str(b, "text"), "PASS") != NULL, "%s", str(b, "text"));
  cJSON_Delete(run);
  cr_expect_eq(approver_count_log(HIDDEN), 0, "the log shows the URL's path");
  cr_expect_gt(approver_count_log("\"event\":\"webhook.retry\""), 0);
  /* libcurl is loaded by the approver, the one program that posts. */
  cr_expect_eq(qf_test_maps(approver_process(), "libcurl"), 1);
  stop_receiver();
  finish();
}

Test(hitl, an_expired_approval_is_told_too) {
  start_all(0, 2);
  char run_id[QF_UUID_STR_LEN + 1], id[QF_UUID_STR_LEN + 1], corr[128];
  publish_request("hook-exp", "ci-bot", "tests/passing", reply_q, run_id, corr,
                  sizeof corr);
  wait_need_hitl(run_id, id);
  cJSON *expired = wait_taken("approval.expired", 60);
  const cJSON *b = cJSON_GetObjectItem(expired, "body");
  cr_expect(strstr(str(b, "text"), "expired") != NULL, "%s", str(b, "text"));
  cJSON_Delete(expired);
  stop_receiver();
  finish();
}
