/* qf's reader of the reference system's evidence v1 (`qf gate` on a
 * team's existing evidence): what it maps into the model, and the limits
 * it keeps. The command line is in test_cmd_gate.c. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qf/evidence.h"
#include "support.h"

/* ------------------------------------------- the reference's evidence v1 */

static qf_evidence_t *read_ref(const char *doc) {
  qf_evidence_t *ev = NULL;
  qf_error_t err;
  cr_assert_eq(
      qf_evidence_from_json_compat(doc, strlen(doc), "ref.json", &ev, &err), 0,
      "%s: %s", doc, err.message);
  return ev;
}

Test(evidence_ref, reference_documents_map_into_the_model) {
  qf_evidence_t *ev = read_ref(
      "{\"run_id\": \"3f6c1c52-7a43-4c1e-9a51-6c9a0a1b2c00\", \"input_nl\": "
      "\"run tests\", \"environment\": {\"environment_id\": null}, "
      "\"tool_calls\": [{\"tool_name\": \"run_pytest\", \"status\": "
      "\"failed\", \"duration_ms\": 1500, \"exit_code\": 3221225477, "
      "\"steps_total\": 4, \"steps_failed\": 1}, {\"tool_name\": "
      "\"fetch_logs\", \"status\": \"success\", \"duration_ms\": 500}], "
      "\"summary\": null, \"repro\": {\"git_sha\": \"c037055\", "
      "\"git_branch\": \"main\", \"git_dirty\": true, \"python_version\": "
      "\"3.11.4\", \"platform_info\": \"linux-x86_64\"}, \"collected_at\": "
      "\"2026-11-24T00:56:46.711861Z\"}");
  /* No summary: zeros (the gate then decides on the tool calls), not
   * steps summed into a made-up one. */
  cr_expect_eq(ev->summary.tests, 0);
  cr_expect_eq(ev->summary.failures, 0);
  /* No governance: the budget the reference collector would write. */
  cr_expect_eq(ev->governance.elapsed_ms_total, 2000);
  cr_expect_eq(ev->governance.attempts_total, 2);
  cr_expect_eq(ev->governance.short_circuited, 0);
  cr_expect_eq(ev->governance.has_policy_limits, 0);
  cr_assert_eq(ev->ntool_calls, 2);
  cr_expect_eq(ev->tool_calls[0].status, QF_TOOL_FAILED);
  cr_expect_eq(ev->tool_calls[0].attempts, 1);
  cr_expect_eq(ev->tool_calls[0].has_exit_code, 1);
  cr_expect_eq(ev->tool_calls[0].exit_code, (int)-1073741819);
  cr_expect_eq(ev->tool_calls[1].has_exit_code, 0);
  cr_expect(ev->has_repro);
  cr_expect_str_eq(ev->repro.version, "3.11.4");
  cr_expect_str_eq(ev->repro.platform, "linux-x86_64");
  cr_expect_eq(ev->repro.git_dirty, 1);
  cr_expect_str_eq(ev->collected_at, "2026-11-24T00:56:46.711861Z");
  cr_expect_null(ev->environment_id);
  cr_expect_eq(ev->dry_run, 0);
  cr_expect_eq(ev->has_decision, 0);
  qf_evidence_free(ev);

  /* A summary without passed: computed as ours is. Only run_id and
   * input_nl are required. */
  ev = read_ref(
      "{\"run_id\": \"r\", \"input_nl\": \"x\", \"summary\": {\"tests\": 10, "
      "\"failures\": 2, \"errors\": 1, \"skipped\": 1}}");
  cr_expect_eq(ev->summary.passed, 6);
  cr_expect_eq(ev->ntool_calls, 0);
  cr_expect_eq(ev->has_repro, 0);
  cr_expect_eq(ev->repro.git_dirty, -1);
  cr_expect_str_eq(ev->collected_at, "");
  qf_evidence_free(ev);

  /* A long error message (the reference schema allows 500 characters) is
   * kept cut to our byte limit on a character boundary. */
  char doc[4096], msg[1600] = "";
  for (int i = 0; i < 400; i++)
    strcat(msg, "\xe9\x94\x99"); /* 错 */
  snprintf(doc, sizeof doc,
           "{\"run_id\": \"r\", \"input_nl\": \"x\", \"tool_calls\": "
           "[{\"tool_name\": \"run_pytest\", \"status\": \"failed\", "
           "\"error_message\": \"%s\"}]}",
           msg);
  ev = read_ref(doc);
  cr_expect_eq(strlen(ev->tool_calls[0].error_message), 498);
  qf_evidence_free(ev);
}

static int ref_error(const char *doc, const char *want) {
  qf_evidence_t *ev = NULL;
  qf_error_t err;
  int rc =
      qf_evidence_from_json_compat(doc, strlen(doc), "ref.json", &ev, &err);
  cr_expect_null(ev);
  cr_expect_not_null(strstr(err.message, want), "got '%s', want '%s'",
                     err.message, want);
  return rc;
}

Test(evidence_ref, reference_error_message_is_bounded_in_characters) {
  char doc[4096], msg[600];
  memset(msg, 'x', 501);
  msg[501] = '\0';
  snprintf(doc, sizeof doc,
           "{\"run_id\": \"r\", \"input_nl\": \"x\", \"tool_calls\": "
           "[{\"tool_name\": \"t\", \"status\": \"failed\", "
           "\"error_message\": \"%s\"}]}",
           msg);
  cr_expect_eq(ref_error(doc, "tool_calls[0].error_message: too long"),
               QF_EVALIDATE);
  msg[500] = '\0';
  snprintf(doc, sizeof doc,
           "{\"run_id\": \"r\", \"input_nl\": \"x\", \"tool_calls\": "
           "[{\"tool_name\": \"t\", \"status\": \"failed\", "
           "\"error_message\": \"%s\"}]}",
           msg);
  qf_evidence_t *ev = read_ref(doc);
  cr_expect_eq(strlen(ev->tool_calls[0].error_message), 500);
  qf_evidence_free(ev);
}

Test(evidence_ref, reference_collected_at_is_an_iso_date_time) {
  static const char *const good[] = {
      "2024-01-01T00:00:00Z", "2024-01-01T00:00:00",
      "2024-01-01 00:00:00.5+05:30", "2024-01-01t23:59:59.123456789-0800",
      "2026-11-24T00:56:46.711861+00:00"};
  static const char *const bad[] = {
      "2024-13-01T00:00:00Z",  "2024-01-01",
      "2024-01-01T00:00Z",     "2024-01-01T00:00:00.Z",
      "2024-01-01T00:00:00Zx", "2024-01-01T24:00:00Z",
      "2024-01-01T00:00:00+5", "",
      "2024-1-01T00:00:00Z"};
  char doc[256];
  for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
    snprintf(doc, sizeof doc,
             "{\"run_id\": \"r\", \"input_nl\": \"x\", \"collected_at\": "
             "\"%s\"}",
             good[i]);
    qf_evidence_t *ev = read_ref(doc);
    cr_expect_str_eq(ev->collected_at, good[i]);
    qf_evidence_free(ev);
  }
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    snprintf(doc, sizeof doc,
             "{\"run_id\": \"r\", \"input_nl\": \"x\", \"collected_at\": "
             "\"%s\"}",
             bad[i]);
    cr_expect_eq(ref_error(doc, "collected_at: must be an ISO-8601 date-time"),
                 QF_EVALIDATE, "%s", bad[i]);
  }
}
