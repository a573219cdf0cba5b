/* A dead letter keeps the whole message: body, every property (content
 * encoding, type, app_id, timestamp, priority, expiration) and every
 * header of any type, plus x-qf-error, so that a request can be recovered
 * and replayed exactly as it was sent. A real worker. */
#include <amqp.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "support.h"
#include "worker_support.h"

static qf_wt_t T;
static void setup(void) {
  qf_wt_init(&T);
  qf_wt_start_worker(&T, 0, NULL);
  qf_wt_wait_log(&T, 0, 1, 30, "\"event\":\"worker.ready\"", NULL);
}
static void teardown(void) {
  qf_wt_fini(&T);
}
TestSuite(worker_dead, .init = setup, .fini = teardown, .timeout = 120);

static const amqp_table_entry_t *entry(const amqp_table_t *t, const char *k) {
  for (int i = 0; i < t->num_entries; i++)
    if (t->entries[i].key.len == strlen(k) &&
        memcmp(t->entries[i].key.bytes, k, t->entries[i].key.len) == 0)
      return &t->entries[i];
  return NULL;
}

static int bytes_eq(amqp_bytes_t b, const char *s) {
  return b.len == strlen(s) && memcmp(b.bytes, s, b.len) == 0;
}

Test(worker_dead, a_dead_letter_keeps_every_property_and_header) {
  amqp_connection_state_t st = qf_amqp_state(T.con);
  amqp_table_entry_t h[2];
  h[0].key = amqp_cstring_bytes("x-trace-depth");
  h[0].value.kind = AMQP_FIELD_KIND_I32;
  h[0].value.value.i32 = 7;
  h[1].key = amqp_cstring_bytes("x-from");
  h[1].value.kind = AMQP_FIELD_KIND_UTF8;
  h[1].value.value.bytes = amqp_cstring_bytes("ci-bot");
  amqp_basic_properties_t p = {0};
  p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_CONTENT_ENCODING_FLAG |
             AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TYPE_FLAG |
             AMQP_BASIC_APP_ID_FLAG | AMQP_BASIC_TIMESTAMP_FLAG |
             AMQP_BASIC_PRIORITY_FLAG | AMQP_BASIC_HEADERS_FLAG |
             AMQP_BASIC_DELIVERY_MODE_FLAG;
  p.content_type = amqp_cstring_bytes("application/json");
  p.content_encoding = amqp_cstring_bytes("gzip");
  p.message_id = amqp_cstring_bytes("dead-1");
  p.type = amqp_cstring_bytes("qf.request");
  p.app_id = amqp_cstring_bytes("ci");
  p.timestamp = 1764547200;
  p.priority = 3;
  p.delivery_mode = 2;
  p.headers = (amqp_table_t){.num_entries = 2, .entries = h};
  /* gzip bytes are not a JSON request: refused, and must be recoverable. */
  static const unsigned char body[] = {0x1f, 0x8b, 0x08, 0x00, 0x01, 0x02};
  amqp_bytes_t b = {.len = sizeof body, .bytes = (void *)body};
  cr_assert_eq(amqp_basic_publish(st, 1, amqp_cstring_bytes(T.topo.requests),
                                  amqp_cstring_bytes("run"), 0, 0, &p, b),
               AMQP_STATUS_OK);
  /* Read it back raw, properties and all. */
  amqp_rpc_reply_t r = {0};
  for (int i = 0; i < 300; i++) {
    r = amqp_basic_get(st, 1, amqp_cstring_bytes(T.topo.dead_queue), 1);
    cr_assert_eq(r.reply_type, AMQP_RESPONSE_NORMAL);
    if (r.reply.id == AMQP_BASIC_GET_OK_METHOD) break;
    qf_test_sleep_ms(100);
  }
  cr_assert_eq(r.reply.id, AMQP_BASIC_GET_OK_METHOD, "no dead letter\n%s",
               qf_wt_log_tail(&T, 0));
  amqp_message_t m;
  cr_assert_eq(amqp_read_message(st, 1, &m, 0).reply_type,
               AMQP_RESPONSE_NORMAL);
  const amqp_basic_properties_t *got = &m.properties;
  cr_expect(m.body.len == sizeof body &&
            memcmp(m.body.bytes, body, sizeof body) == 0);
  cr_expect(bytes_eq(got->content_encoding, "gzip"));
  cr_expect(bytes_eq(got->type, "qf.request"));
  cr_expect(bytes_eq(got->app_id, "ci"));
  cr_expect(bytes_eq(got->message_id, "dead-1"));
  cr_expect(got->_flags & AMQP_BASIC_TIMESTAMP_FLAG);
  cr_expect_eq(got->timestamp, 1764547200);
  cr_expect_eq(got->priority, 3);
  const amqp_table_entry_t *depth = entry(&got->headers, "x-trace-depth");
  cr_assert_not_null(depth, "a non-string header was dropped");
  cr_expect_eq(depth->value.kind, AMQP_FIELD_KIND_I32);
  cr_expect_eq(depth->value.value.i32, 7);
  const amqp_table_entry_t *why = entry(&got->headers, "x-qf-error");
  cr_assert_not_null(why);
  cr_expect(entry(&got->headers, "x-from") != NULL);
  amqp_destroy_message(&m);
}

/* qf dead list and replay: an operator sees a refused request with why,
 * fixes what refused it, replays it, and the replay is decided; the list
 * took nothing off the queue, the replay took the letter off. */
static int qf_dead(const char *const *args, qf_test_proc_t *p) {
  char url[600], prefix[128];
  snprintf(url, sizeof url, "QF_AMQP_URL=%s",
           qf_test_require_env("QF_AMQP_URL"));
  snprintf(prefix, sizeof prefix, "QF_TOPOLOGY_PREFIX=%s", T.prefix);
  const char *env[] = {url, prefix, NULL};
  const char *argv[8] = {QF_TEST_BIN, "dead"};
  for (int i = 0; args[i] && i < 5; i++)
    argv[2 + i] = args[i];
  qf_test_run(argv, env, 60, p);
  return p->status;
}

Test(worker_dead, a_dead_letter_is_listed_then_replayed_after_a_fix) {
  const char *body =
      "{\"nl_input\":\"run the login tests\",\"workspace\":\"late\","
      "\"options\":{\"tool_name\":\"run_pytest\",\"args\":{\"test_path\":"
      "\"tests/passing\"}}}";
  qf_wt_publish(&T, body, strlen(body), "dead-replay-1", "corr-replay", NULL);
  for (int i = 0; i < 300 && qf_wt_queue_count(&T, T.topo.dead_queue) < 1; i++)
    qf_test_sleep_ms(100);
  cr_assert_eq(qf_wt_queue_count(&T, T.topo.dead_queue), 1, "%s",
               qf_wt_log_tail(&T, 0));
  qf_test_proc_t p;
  const char *list[] = {"list", NULL};
  cr_assert_eq(qf_dead(list, &p), 0, "%s", p.err.data);
  cr_expect(strstr(p.out.data, "dead-replay-1") != NULL, "%s", p.out.data);
  cr_expect(strstr(p.out.data, "workspace") != NULL, "%s", p.out.data);
  cr_expect(strstr(p.out.data, "run the login tests") != NULL, "%s",
            p.out.data);
  qf_test_proc_fini(&p);
  const char *json[] = {"list", "--json", NULL};
  cr_assert_eq(qf_dead(json, &p), 0, "%s", p.err.data);
  cJSON *arr = cJSON_Parse(p.out.data);
  cr_assert_eq(cJSON_GetArraySize(arr), 1, "%s", p.out.data);
  cr_expect_str_eq(
      cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "correlation_id")
          ->valuestring,
      "corr-replay");
  cJSON_Delete(arr);
  qf_test_proc_fini(&p);
  cr_expect_eq(qf_wt_queue_count(&T, T.topo.dead_queue), 1,
               "listing took the letter off the queue");
  /* The fix: the workspace the request names now exists. */
  qf_wt_write_demo_file(&T, "../late/tests/passing/test_ok.py",
                        "def test_ok():\n    assert True\n");
  const char *missing[] = {"replay", "no-such-id", NULL};
  cr_expect_eq(qf_dead(missing, &p), 1, "%s", p.err.data);
  qf_test_proc_fini(&p);
  const char *replay[] = {"replay", "dead-replay-1", NULL};
  cr_assert_eq(qf_dead(replay, &p), 0, "%s", p.err.data);
  cr_expect(strstr(p.out.data, "as dead-replay-1:replay-1") != NULL, "%s",
            p.out.data);
  qf_test_proc_fini(&p);
  char run[QF_UUID_STR_LEN + 1];
  qf_wt_run_id("dead-replay-1:replay-1", run);
  cJSON *d[4];
  int n = qf_wt_decisions(&T, d, 1, 60), found = 0;
  for (int i = 0; i < n; i++) {
    const cJSON *r = cJSON_GetObjectItem(d[i], "run_id");
    if (cJSON_IsString(r) && strcmp(r->valuestring, run) == 0) {
      found = 1;
      cr_expect_str_eq(cJSON_GetObjectItem(d[i], "decision")->valuestring,
                       "PASS", "%s", qf_wt_log_tail(&T, 0));
      cr_expect_str_eq(cJSON_GetObjectItem(d[i], "correlation_id")->valuestring,
                       "corr-replay");
    }
    cJSON_Delete(d[i]);
  }
  cr_expect(found, "the replay was not decided\n%s", qf_wt_log_tail(&T, 0));
  cr_expect_eq(qf_wt_queue_count(&T, T.topo.dead_queue), 0,
               "the replayed letter is still queued");
}
