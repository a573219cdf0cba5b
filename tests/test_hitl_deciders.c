/* Who may decide an approval: `qf approve` / `qf reject` refuse
 * self-approval, a login outside qf_approver and the worker's login (which
 * cannot decide by hand-written SQL either), and of 20 racing deciders
 * exactly one wins, with one final decision. The fixture (roles, worker,
 * approver): hitl_support.h. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hitl_support.h"

TestSuite(hitl, .init = hitl_setup, .fini = hitl_teardown, .timeout = 240);

/* -------------------------------------------------------------- refused */

Test(hitl, self_approval_outsiders_and_the_worker_role_are_refused) {
  start_worker(NULL);
  char run_id[QF_UUID_STR_LEN + 1], corr[128], id[QF_UUID_STR_LEN + 1];
  /* alice asks for the run herself. */
  publish_request("self", role[ALICE], "tests/passing", NULL, run_id, corr,
                  sizeof corr);
  wait_need_hitl(run_id, id);
  cr_assert_str_eq(approval_col(id, "requested_by"), role[ALICE]);

  qf_test_proc_t p;
  const char *approve[] = {"approve", id, "--comment", "mine", NULL};
  qf_as(ALICE, NULL, approve, &p);
  cr_expect_eq(p.status, 1, "self-approval: %s%s", p.out.data, p.err.data);
  cr_expect(strstr(p.err.data, "requested by") != NULL &&
                strstr(p.err.data, "prevent_self_approval") != NULL,
            "%s", p.err.data);
  qf_test_proc_fini(&p);
  const char *reject[] = {"reject", id, "--reason", "mine", NULL};
  qf_as(ALICE, NULL, reject, &p);
  cr_expect_eq(p.status, 1, "self-rejection: %s", p.err.data);
  qf_test_proc_fini(&p);

  /* A login in no group, and the worker's login. */
  qf_as(EVE, NULL, approve, &p);
  cr_expect_eq(p.status, 1, "%s", p.err.data);
  cr_expect(strstr(p.err.data, "is not a member of qf_approver") != NULL, "%s",
            p.err.data);
  qf_test_proc_fini(&p);
  qf_as_url(T.worker_db_url, NULL, approve, &p);
  cr_expect_eq(p.status, 1, "%s", p.err.data);
  cr_expect(strstr(p.err.data, "is not a member of qf_approver") != NULL, "%s",
            p.err.data);
  qf_test_proc_fini(&p);

  /* The worker's login cannot decide by hand-written SQL either. */
  qf_db_t *w = connect_as(T.worker_db_url);
  qf_error_t err;
  const char *const param[] = {id};
  const char *attempts[] = {
      "UPDATE approvals SET status = 'approved' WHERE id = $1",
      ("UPDATE approvals SET status = 'rejected', reason = 'x', decided_by = "
       "'ci', decided_at = now() WHERE id = $1"),
      "UPDATE approvals SET comment = 'x' WHERE id = $1",
      "DELETE FROM approvals WHERE id = $1",
  };
  for (size_t i = 0; i < sizeof attempts / sizeof attempts[0]; i++) {
    int rc = qf_db_exec(w, attempts[i], 1, param, NULL, &err);
    cr_expect_eq(rc, QF_EPERM, "%s: %s", attempts[i],
                 rc < 0 ? err.message : "succeeded");
    cr_expect(rc == 0 || strstr(err.message, "permission denied") != NULL, "%s",
              err.message);
  }
  int rc = qf_db_exec(w, "SET ROLE qf_approver", 0, NULL, NULL, &err);
  cr_expect_lt(rc, 0, "the worker's login may not become an approver");
  qf_db_free(w);

  /* Nothing changed, nothing was published, nothing resumed. */
  cr_expect_str_eq(approval_col(id, "status"), "pending");
  cr_expect_str_eq(approval_col(id, "decided_by"), "NULL");
  cr_expect_eq(q1_int("SELECT count(*) FROM run_events WHERE run_id = $1 "
                      "AND event IN ('approved', 'rejected', 'resolved')",
                      run_id),
               0);
  cr_expect_eq(final_decisions(run_id, 2, 0, NULL), 0);
  cr_expect_str_eq(q1("SELECT status FROM runs WHERE run_id = $1", run_id),
                   "awaiting_approval");

  /* Someone else may decide it. */
  const char *bob[] = {"approve", id, NULL};
  qf_as(BOB, NULL, bob, &p);
  cr_expect_eq(p.status, 0, "%s", p.err.data);
  qf_test_proc_fini(&p);
  cJSON *fin = one_final_decision(run_id, 60, 1);
  cr_expect_str_eq(str(fin, "decision"), "PASS");
  cr_expect_str_eq(str(fin, "decided_by"), "approval");
  cJSON_Delete(fin);
  cr_expect_str_eq(approval_col(id, "decided_by"), role[BOB]);
  finish();
}

/* ----------------------------------------------------------------- race */

Test(hitl, twenty_racing_deciders_one_wins_one_final_decision) {
  enum { N = 20 };
  start_worker(NULL);
  char run_id[QF_UUID_STR_LEN + 1], corr[128], id[QF_UUID_STR_LEN + 1];
  publish_request("race", "ci-bot", "tests/passing", NULL, run_id, corr,
                  sizeof corr);
  wait_need_hitl(run_id, id);

  char dir[200];
  snprintf(dir, sizeof dir, "%s/race", T.dir);
  cr_assert_eq(mkdir(dir, 0700), 0);
  pid_t pids[N];
  for (int i = 0; i < N; i++) {
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
      char path[256];
      snprintf(path, sizeof path, "%s/%d.err", dir, i);
      int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(fd, 2);
      snprintf(path, sizeof path, "%s/%d.out", dir, i);
      fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(fd, 1);
      /* Mixed: alice and bob, approving and rejecting. */
      int who = (i / 2) % 2 ? BOB : ALICE;
      setenv("QF_DATABASE_URL", role_url[who], 1);
      setenv("QF_TOPOLOGY_PREFIX", T.prefix, 1);
      setenv("QF_POLICY", QF_SOURCE_DIR "/policy/default.yaml", 1);
      if (i % 2)
        execl(QF_TEST_BIN, "qf", "reject", id, "--reason", "race", (char *)0);
      else
        execl(QF_TEST_BIN, "qf", "approve", id, "--comment", "race", (char *)0);
      _exit(127);
    }
    pids[i] = pid;
  }
  int wins = 0, already = 0, winner = -1;
  for (int i = 0; i < N; i++) {
    int st = 0;
    cr_assert_eq(waitpid(pids[i], &st, 0), pids[i]);
    cr_assert(WIFEXITED(st), "decider %d died", i);
    char path[256], buf[2048];
    snprintf(path, sizeof path, "%s/%d.err", dir, i);
    qf_test_slurp(path, buf, sizeof buf);
    if (WEXITSTATUS(st) == 0) {
      wins++;
      winner = i;
    } else {
      cr_expect_eq(WEXITSTATUS(st), 1, "decider %d: %s", i, buf);
      if (strstr(buf, " is already approved by ") ||
          strstr(buf, " is already rejected by "))
        already++;
      else
        cr_expect_fail("loser %d says: %s", i, buf);
    }
  }
  cr_assert_eq(wins, 1, "%d winners", wins);
  cr_expect_eq(already, N - 1);

  const char *status = approval_col(id, "status");
  int approved = strcmp(status, "approved") == 0;
  cr_expect_eq(approved, winner % 2 == 0, "winner %d, status %s", winner,
               status);
  cr_expect_str_eq(approval_col(id, "decided_by"),
                   role[(winner / 2) % 2 ? BOB : ALICE]);

  /* Exactly one final decision over a few seconds. */
  cJSON *fin = one_final_decision(run_id, 60, 4);
  cr_expect_str_eq(str(fin, "decision"), approved ? "PASS" : "FAIL");
  cr_expect_str_eq(str(fin, "decided_by"), "approval");
  cJSON_Delete(fin);
  cr_expect_eq(q1_int("SELECT count(*) FROM run_events WHERE run_id = $1 "
                      "AND event IN ('approved', 'rejected')",
                      run_id),
               1);
  cr_expect_eq(events(run_id, "resolved"), 1);
  cr_expect_str_eq(q1("SELECT status || ' ' || decision FROM runs WHERE "
                      "run_id = $1",
                      run_id),
                   approved ? "decided PASS" : "decided FAIL");
  cr_expect_eq(qf_wt_count_log(&T, 0, "\"event\":\"run.resolved\"", NULL), 1,
               "%s", logs());
  cr_expect_eq(qf_wt_queue_count(&T, T.topo.queue), 0);
  finish();
}
