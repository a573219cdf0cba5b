/* submit_report.c: the decision where CI shows it (submit.h): a few lines
 * and the failing tests on stdout, GitHub annotations and a step summary,
 * a JUnit report for GitLab and others, and the evidence document. Text
 * from the run (test names, messages, an approver's comment) is escaped
 * for each place it goes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "submit.h"
#include "qf/utf8.h"

static long long num(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsNumber(v) ? (long long)v->valuedouble : 0;
}

static const char *or_empty(const char *s) {
  return s ? s : "";
}

/* ----------------------------------------------------------- terminal */

static void print_failure(const cJSON *f) {
  const char *file = qf_submit_str(f, "file"),
             *suite = qf_submit_str(f, "suite");
  const char *msg = qf_submit_str(f, "message");
  char *name = qf_utf8_escape(or_empty(qf_submit_str(f, "name")));
  char *s = qf_utf8_escape(or_empty(suite));
  char *m = qf_utf8_escape(or_empty(msg));
  char *where = qf_utf8_escape(or_empty(file));
  if (file && num(f, "line") > 0)
    printf("  %s:%lld: ", where, num(f, "line"));
  else if (file)
    printf("  %s: ", where);
  else
    printf("  ");
  printf("%s%s%s%s%s\n", suite ? s : "", suite ? "::" : "", name,
         msg ? ": " : "", msg ? m : "");
  free(name), free(s), free(m), free(where);
}

static void print_text(const cJSON *d) {
  const char *path = qf_submit_str(d, "evidence_url")
                         ? qf_submit_str(d, "evidence_url")
                         : qf_submit_str(d, "evidence_path");
  const char *dec = qf_submit_str(d, "decision");
  char *why = qf_utf8_escape(or_empty(qf_submit_str(d, "reason")));
  printf("%s: %s\n  run: %s\n  evidence: %s\n", dec ? dec : "?", why ? why : "",
         or_empty(qf_submit_str(d, "run_id")), path ? path : "(none)");
  free(why);
  const cJSON *src = cJSON_GetObjectItemCaseSensitive(d, "source");
  if (cJSON_IsObject(src)) {
    char *r = qf_utf8_escape(or_empty(qf_submit_str(src, "repo")));
    printf("  tested: %s at %s\n", r ? r : "",
           or_empty(qf_submit_str(src, "commit")));
    free(r);
  }
  const cJSON *fs = cJSON_GetObjectItemCaseSensitive(d, "failures"), *f;
  long long total = num(d, "failures_total"), shown = cJSON_GetArraySize(fs);
  if (shown == 0) return;
  printf("failing tests (%lld):\n", total > shown ? total : shown);
  cJSON_ArrayForEach(f, fs) print_failure(f);
  if (total > shown) printf("  ... and %lld more\n", total - shown);
}

static void print_json(const cJSON *d) {
  /* The decision message as the decisions exchange has it: the evidence
   * the reply carried goes to --evidence-out, not to stdout. */
  cJSON *copy = cJSON_Duplicate(d, 1);
  cJSON_DeleteItemFromObjectCaseSensitive(copy, "evidence");
  char *text = copy ? cJSON_PrintUnformatted(copy) : NULL;
  if (text) puts(text);
  cJSON_free(text);
  cJSON_Delete(copy);
}

/* ------------------------------------------------------------- GitHub */

/* GitHub's workflow-command escaping: data escapes % CR LF; a property
 * value also : and ,. */
static void gh_escape(FILE *out, const char *s, int property) {
  for (; s && *s; s++) {
    if (*s == '%')
      fputs("%25", out);
    else if (*s == '\r')
      fputs("%0D", out);
    else if (*s == '\n')
      fputs("%0A", out);
    else if (property && *s == ':')
      fputs("%3A", out);
    else if (property && *s == ',')
      fputs("%2C", out);
    else
      fputc(*s, out);
  }
}

static void gh_annotate(const cJSON *d) {
  const cJSON *fs = cJSON_GetObjectItemCaseSensitive(d, "failures"), *f;
  const char *dec = qf_submit_str(d, "decision");
  cJSON_ArrayForEach(f, fs) {
    const char *file = qf_submit_str(f, "file");
    fputs("::error ", stdout);
    if (file) {
      fputs("file=", stdout);
      gh_escape(stdout, file, 1);
      if (num(f, "line") > 0) printf(",line=%lld", num(f, "line"));
      fputc(',', stdout);
    }
    fputs("title=", stdout);
    gh_escape(stdout, qf_submit_str(f, "name"), 1);
    fputs("::", stdout);
    gh_escape(stdout,
              qf_submit_str(f, "message") ? qf_submit_str(f, "message")
                                          : "test failed",
              0);
    fputc('\n', stdout);
  }
  if (dec && strcmp(dec, "PASS") != 0 && cJSON_GetArraySize(fs) == 0) {
    printf("::error title=QualityFoundry %s::", dec);
    gh_escape(stdout, qf_submit_str(d, "reason"), 0);
    fputc('\n', stdout);
  }
}

/* Markdown table cells: no line breaks, no unescaped pipes. */
static void md_cell(FILE *out, const char *s) {
  for (; s && *s; s++) {
    if (*s == '|')
      fputs("\\|", out);
    else if (*s == '\n' || *s == '\r')
      fputc(' ', out);
    else if (*s == '<')
      fputs("&lt;", out);
    else
      fputc(*s, out);
  }
}

static int gh_summary(const cJSON *d, const char *path) {
  FILE *out = fopen(path, "a");
  if (!out) return -1;
  const cJSON *sum = cJSON_GetObjectItemCaseSensitive(d, "summary");
  fprintf(out, "### QualityFoundry: %s\n\n",
          or_empty(qf_submit_str(d, "decision")));
  md_cell(out, qf_submit_str(d, "reason"));
  fprintf(out,
          "\n\n| tests | passed | failed | errors | skipped |\n"
          "|---|---|---|---|---|\n| %lld | %lld | %lld | %lld | %lld |\n",
          num(sum, "tests"), num(sum, "passed"), num(sum, "failures"),
          num(sum, "errors"), num(sum, "skipped"));
  const cJSON *fs = cJSON_GetObjectItemCaseSensitive(d, "failures"), *f;
  if (cJSON_GetArraySize(fs) > 0)
    fputs("\n| failing test | where | message |\n|---|---|---|\n", out);
  cJSON_ArrayForEach(f, fs) {
    fputs("| ", out);
    md_cell(out, qf_submit_str(f, "suite"));
    fputs(qf_submit_str(f, "suite") ? "::" : "", out);
    md_cell(out, qf_submit_str(f, "name"));
    fputs(" | ", out);
    md_cell(out, qf_submit_str(f, "file"));
    if (num(f, "line") > 0) fprintf(out, ":%lld", num(f, "line"));
    fputs(" | ", out);
    md_cell(out, qf_submit_str(f, "message"));
    fputs(" |\n", out);
  }
  fprintf(out, "\nrun `%s`\n\n", or_empty(qf_submit_str(d, "run_id")));
  return fclose(out) == 0 ? 0 : -1;
}

/* -------------------------------------------------------------- JUnit */

/* XML attribute text: the five entities, and no character XML 1.0 forbids
 * (C0 controls but tab and newline become spaces). */
static void xml_attr(FILE *out, const char *s) {
  for (; s && *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '&')
      fputs("&amp;", out);
    else if (c == '<')
      fputs("&lt;", out);
    else if (c == '>')
      fputs("&gt;", out);
    else if (c == '"')
      fputs("&quot;", out);
    else if (c == '\n')
      fputs("&#10;", out);
    else if (c < 0x20 || c == 0x7f)
      fputc(' ', out);
    else
      fputc(c, out);
  }
}

static void junit_case(FILE *out, const cJSON *f) {
  const char *kind = qf_submit_str(f, "kind");
  int error = kind && strcmp(kind, "error") == 0;
  fputs("    <testcase classname=\"", out);
  xml_attr(out, qf_submit_str(f, "suite") ? qf_submit_str(f, "suite") : "qf");
  fputs("\" name=\"", out);
  xml_attr(out, qf_submit_str(f, "name"));
  fputc('"', out);
  if (qf_submit_str(f, "file")) {
    fputs(" file=\"", out);
    xml_attr(out, qf_submit_str(f, "file"));
    fputc('"', out);
    if (num(f, "line") > 0) fprintf(out, " line=\"%lld\"", num(f, "line"));
  }
  fprintf(out, ">\n      <%s message=\"", error ? "error" : "failure");
  xml_attr(out, qf_submit_str(f, "message"));
  fputs("\"/>\n    </testcase>\n", out);
}

static int junit_out(const cJSON *d, const char *path) {
  FILE *out = fopen(path, "w");
  if (!out) return -1;
  const cJSON *sum = cJSON_GetObjectItemCaseSensitive(d, "summary");
  const cJSON *fs = cJSON_GetObjectItemCaseSensitive(d, "failures"), *f;
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(sum, "time");
  const char *dec = or_empty(qf_submit_str(d, "decision"));
  int gate_case = strcmp(dec, "PASS") != 0 && cJSON_GetArraySize(fs) == 0;
  fprintf(out,
          "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
          "<testsuites name=\"qualityfoundry\" tests=\"%lld\" "
          "failures=\"%lld\" errors=\"%lld\" skipped=\"%lld\" time=\"%.3f\">\n"
          "  <testsuite name=\"qf run ",
          num(sum, "tests") + gate_case, num(sum, "failures") + gate_case,
          num(sum, "errors"), num(sum, "skipped"),
          cJSON_IsNumber(t) ? t->valuedouble : 0.0);
  xml_attr(out, qf_submit_str(d, "run_id"));
  fprintf(out,
          "\" tests=\"%lld\" failures=\"%lld\" errors=\"%lld\" "
          "skipped=\"%lld\">\n",
          num(sum, "tests") + gate_case, num(sum, "failures") + gate_case,
          num(sum, "errors"), num(sum, "skipped"));
  cJSON_ArrayForEach(f, fs) junit_case(out, f);
  if (gate_case) { /* not judged by tests (a tool error, a policy): said */
    fputs(
        "    <testcase classname=\"qualityfoundry\" name=\"gate\">\n"
        "      <failure message=\"",
        out);
    xml_attr(out, qf_submit_str(d, "reason"));
    fputs("\"/>\n    </testcase>\n", out);
  }
  fputs("  </testsuite>\n</testsuites>\n", out);
  return fclose(out) == 0 ? 0 : -1;
}

static int evidence_out(const cJSON *d, const char *path) {
  const cJSON *ev = cJSON_GetObjectItemCaseSensitive(d, "evidence");
  if (!cJSON_IsObject(ev)) {
    fprintf(stderr, "qf submit: --evidence-out: the run has no evidence (%s)\n",
            or_empty(qf_submit_str(d, "decided_by")));
    return 0;
  }
  char *text = cJSON_Print(ev);
  FILE *out = text ? fopen(path, "w") : NULL;
  int ok = out && fputs(text, out) >= 0 && fputc('\n', out) != EOF;
  if (out && fclose(out) != 0) ok = 0;
  cJSON_free(text);
  return ok ? 0 : -1;
}

int qf_submit_report(const cJSON *d, const qf_submit_out_t *o) {
  int rc = 0;
  if (o->json)
    print_json(d);
  else
    print_text(d);
  if (o->github) gh_annotate(d);
  fflush(stdout);
  if (o->step_summary && o->step_summary[0] &&
      gh_summary(d, o->step_summary) < 0) {
    perror("qf submit: $GITHUB_STEP_SUMMARY");
    rc = -1;
  }
  if (o->junit_out && junit_out(d, o->junit_out) < 0) {
    perror("qf submit: --junit-out");
    rc = -1;
  }
  if (o->evidence_out && evidence_out(d, o->evidence_out) < 0) {
    perror("qf submit: --evidence-out");
    rc = -1;
  }
  return rc;
}
