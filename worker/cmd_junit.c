/* qf junit: parses JUnit XML reports and prints their summed counts. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "qf/junit.h"

static const char usage[] =
    "usage: qf junit [--json] FILE...\n"
    "\n"
    "Parses JUnit XML reports (pytest, ctest, GoogleTest, Jest, mocha,\n"
    "vitest, Playwright, PHPUnit, ...) and sums their counts. Every\n"
    "<testcase> counts once: failed (<failure>), error (<error>), skipped\n"
    "(<skipped>, or status/result notrun, disabled, skipped, suppressed)\n"
    "or passed. A report without any <testcase> counts its suite\n"
    "attributes instead.\n"
    "\n"
    "  --json  print only the total as one JSON object:\n"
    "          {\"tests\":N,\"failures\":N,\"errors\":N,\"skipped\":N,\n"
    "           \"passed\":N,\"time\":SECONDS}\n"
    "\n"
    "Without --json, prints one line per file and a total line.\n"
    "Reports with a DOCTYPE, nested deeper than 256 elements or larger\n"
    "than 128 MiB are refused.\n"
    "\n"
    "Exit codes: 0 every file parsed, 64 usage, 65 a file is missing,\n"
    "unreadable or invalid (the message names the file, line and column;\n"
    "nothing is printed on stdout then).\n";

static int run(int argc, char **argv);

const qf_cmd_t qf_cmd_junit = {
    .name = "junit",
    .run = run,
    .summary = "parse JUnit XML files; print the summed counts",
    .usage = usage,
};

static void print_line(const char *label, const qf_junit_summary_t *s) {
  printf(
      "%s: tests=%lld failures=%lld errors=%lld skipped=%lld passed=%lld "
      "time=%.3fs\n",
      label, s->tests, s->failures, s->errors, s->skipped, s->passed,
      s->time_s);
}

static void print_json(const qf_junit_summary_t *s) {
  printf(
      "{\"tests\":%lld,\"failures\":%lld,\"errors\":%lld,\"skipped\":%lld,"
      "\"passed\":%lld,\"time\":%.3f}\n",
      s->tests, s->failures, s->errors, s->skipped, s->passed, s->time_s);
}

/* Parses every file into sums[i]; stops at the first invalid one. */
static int parse_all(int n, char **files, qf_junit_summary_t *total,
                     qf_junit_summary_t *sums) {
  qf_error_t err;
  for (int i = 0; i < n; i++) {
    qf_error_clear(&err);
    int rc = qf_junit_parse_file(files[i], &sums[i], &err);
    if (rc < 0) {
      return qf_cli_fail("junit", qf_cli_exit_for_file(rc), "%s", err.message);
    }
    qf_junit_summary_add(total, &sums[i]);
  }
  return QF_EXIT_PASS;
}

static int run(int argc, char **argv) {
  static const struct option opts[] = {{"json", 0, NULL, 'j'},
                                       {NULL, 0, NULL, 0}};
  int json = 0, c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":j", opts, NULL)) != -1) {
    if (c == 'j')
      json = 1;
    else
      return qf_cli_usage_error(&qf_cmd_junit, "unknown option %s",
                                argv[optind - 1]);
  }
  int n = argc - optind;
  if (n <= 0) return qf_cli_usage_error(&qf_cmd_junit, "no FILE given");
  qf_junit_summary_t total = {0};
  qf_junit_summary_t *sums = calloc((size_t)n, sizeof *sums);
  if (sums == NULL) return qf_cli_fail("junit", QF_EXIT_SOFTWARE, "no memory");
  int code = parse_all(n, argv + optind, &total, sums);
  if (code == QF_EXIT_PASS && json) print_json(&total);
  for (int i = 0; code == QF_EXIT_PASS && !json && i < n; i++)
    print_line(argv[optind + i], &sums[i]);
  if (code == QF_EXIT_PASS && !json) print_line("total", &total);
  free(sums);
  return code;
}
