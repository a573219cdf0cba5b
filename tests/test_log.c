#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qf/log.h"

static int fds[2];

static void setup(void) {
  cr_assert(pipe(fds) == 0);
  qf_log_set_fd(fds[1]);
  qf_log_set_level(QF_LOG_DEBUG);
}

static void teardown(void) {
  close(fds[0]);
  close(fds[1]);
}

TestSuite(log, .init = setup, .fini = teardown);

/* Reads what has been logged so far (the pipe holds it all). */
static char *read_logged(void) {
  static char buf[65536];
  close(fds[1]);
  ssize_t n = read(fds[0], buf, sizeof buf - 1);
  buf[n > 0 ? n : 0] = '\0';
  fds[1] = -1;
  return buf;
}

static cJSON *parse_line(const char *line) {
  cJSON *j = cJSON_Parse(line);
  cr_assert_not_null(j, "not JSON: %s", line);
  return j;
}

static const char *str(cJSON *j, const char *key) {
  cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
  cr_assert(cJSON_IsString(v), "%s is not a string", key);
  return v->valuestring;
}

Test(log, line_is_json_with_context_and_fields) {
  qf_log_ctx_t ctx = {.run_id = "r-1",
                      .correlation_id = "c-\"9\"",
                      .node = "plan",
                      .has_delivery = 1,
                      .delivery_tag = 42,
                      .redelivered = 1};
  qf_log_field_t f[] = {QF_LOG_INT("duration_ms", 17),
                        QF_LOG_STR("tool", "run_pytest\n"),
                        QF_LOG_STR("nothing", NULL)};
  qf_log_emit(QF_LOG_WARN, &ctx, "node.done", f, 3, "took %d ms", 17);
  char *out = read_logged();
  cr_assert_eq(strchr(out, '\n'), out + strlen(out) - 1, "one line: %s", out);
  cJSON *j = parse_line(out);
  cr_expect_str_eq(str(j, "level"), "warn");
  cr_expect_str_eq(str(j, "event"), "node.done");
  cr_expect_str_eq(str(j, "msg"), "took 17 ms");
  cr_expect_str_eq(str(j, "run_id"), "r-1");
  cr_expect_str_eq(str(j, "correlation_id"), "c-\"9\"");
  cr_expect_str_eq(str(j, "node"), "plan");
  cr_expect_str_eq(str(j, "tool"), "run_pytest\n");
  cr_expect(cJSON_IsNull(cJSON_GetObjectItem(j, "nothing")));
  cr_expect_eq(cJSON_GetObjectItem(j, "delivery_tag")->valuedouble, 42);
  cr_expect(cJSON_IsTrue(cJSON_GetObjectItem(j, "redelivered")));
  cr_expect_eq(cJSON_GetObjectItem(j, "duration_ms")->valuedouble, 17);
  cr_expect_eq(cJSON_GetObjectItem(j, "pid")->valuedouble, getpid());
  const char *ts = str(j, "ts");
  cr_expect_eq(strlen(ts), 24, "ISO-8601 UTC with ms: %s", ts);
  cr_expect_eq(ts[23], 'Z');
  cJSON_Delete(j);
}

Test(log, level_threshold_drops_lower_lines) {
  qf_log_set_level(QF_LOG_WARN);
  qf_log_info(NULL, "dropped", "not shown");
  qf_log_debug(NULL, "dropped", "not shown");
  qf_log_error(NULL, "kept", "shown");
  char *out = read_logged();
  cr_expect_null(strstr(out, "dropped"));
  cJSON *j = parse_line(out);
  cr_expect_str_eq(str(j, "event"), "kept");
  cJSON_Delete(j);
}

Test(log, absent_context_keys_are_omitted) {
  qf_log_info(NULL, "e", NULL);
  cJSON *j = parse_line(read_logged());
  cr_expect_null(cJSON_GetObjectItem(j, "run_id"));
  cr_expect_null(cJSON_GetObjectItem(j, "delivery_tag"));
  cr_expect_null(cJSON_GetObjectItem(j, "msg"));
  cJSON_Delete(j);
}

Test(log, level_parse) {
  qf_log_level_t l;
  cr_expect_eq(qf_log_level_parse("DEBUG", &l), 0);
  cr_expect_eq(l, QF_LOG_DEBUG);
  cr_expect_eq(qf_log_level_parse("warning", &l), 0);
  cr_expect_eq(l, QF_LOG_WARN);
  cr_expect_eq(qf_log_level_parse("off", &l), 0);
  cr_expect_eq(l, QF_LOG_OFF);
  cr_expect_eq(qf_log_level_parse("loud", &l), QF_EINVAL);
  cr_expect_eq(qf_log_level_parse(NULL, &l), QF_EINVAL);
}

Test(log, env_level) {
  setenv("QF_LOG_LEVEL", "error", 1);
  cr_expect_eq(qf_log_init_from_env(), 0);
  cr_expect_eq(qf_log_get_level(), QF_LOG_ERROR);
  setenv("QF_LOG_LEVEL", "chatty", 1);
  cr_expect_eq(qf_log_init_from_env(), QF_EINVAL);
  cr_expect_eq(qf_log_get_level(), QF_LOG_ERROR, "unchanged on error");
}
