/* The AMQP module against the real local RabbitMQ. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "qf/amqp.h"
#include "support.h"

static qf_amqp_t *connect_to(int confirm) {
  qf_amqp_opts_t o = {.url = qf_test_require_env("QF_AMQP_URL"),
                      .connection_name = "qf-test",
                      .heartbeat_s = 5,
                      .confirm = confirm};
  qf_amqp_t *c = NULL;
  qf_error_t err;
  int rc = qf_amqp_connect(&o, &c, &err);
  cr_assert_eq(rc, 0, "connect: %s", err.message);
  cr_assert_eq(qf_amqp_heartbeat_s(c), 5);
  return c;
}

static void queue_name(char *buf, size_t n, const char *what) {
  snprintf(buf, n, "qf.test.%s.%ld", what, (long)getpid());
}

Test(amqp, declare_publish_confirm_get_roundtrip) {
  qf_amqp_t *pub = connect_to(1), *con = connect_to(0);
  qf_error_t err;
  char q[128];
  queue_name(q, sizeof q, "roundtrip");
  cr_assert_eq(qf_amqp_declare_queue(con, q, 0, NULL, NULL, &err), 0, "%s",
               err.message);
  /* Redeclaring with the same arguments is idempotent. */
  cr_assert_eq(qf_amqp_declare_queue(con, q, 0, NULL, NULL, &err), 0, "%s",
               err.message);

  static const char body[] = "{\"nl_input\":\"run\"}\0tail";
  qf_amqp_header_t h[] = {{"x-qf-error", "nl_input: missing"}};
  qf_amqp_msg_t m = {.body = body,
                     .body_len = sizeof body - 1,
                     .content_type = "application/json",
                     .message_id = "msg-1",
                     .correlation_id = "corr-1",
                     .reply_to = "replies",
                     .headers = h,
                     .nheaders = 1};
  for (int i = 0; i < 3; i++) /* confirms keep counting tags */
    cr_assert_eq(qf_amqp_publish(pub, "", q, &m, 5000, &err), 0, "%s",
                 err.message);

  for (int i = 0; i < 3; i++) {
    qf_amqp_message_t got;
    cr_assert_eq(qf_amqp_get(con, q, 0, 5000, &got, &err), 0, "%s",
                 err.message);
    cr_expect_eq(got.body_len, sizeof body - 1);
    cr_expect_eq(memcmp(got.body, body, got.body_len), 0);
    cr_expect_str_eq(got.content_type, "application/json");
    cr_expect_str_eq(got.message_id, "msg-1");
    cr_expect_str_eq(got.correlation_id, "corr-1");
    cr_expect_str_eq(got.reply_to, "replies");
    cr_expect_str_eq(got.routing_key, q);
    cr_expect_str_eq(qf_amqp_message_header(&got, "x-qf-error"),
                     "nl_input: missing");
    cr_expect_null(qf_amqp_message_header(&got, "absent"));
    cr_expect_eq(qf_amqp_ack(con, got.delivery_tag, &err), 0);
    qf_amqp_message_fini(&got);
  }
  qf_amqp_message_t none;
  cr_expect_eq(qf_amqp_get(con, q, 0, 300, &none, &err), QF_ETIMEDOUT,
               "acked messages are gone");
  cr_expect_eq(qf_amqp_delete_queue(con, q, &err), 0, "%s", err.message);
  qf_amqp_free(pub);
  qf_amqp_free(con);
}

Test(amqp, unroutable_message_is_not_confirmed) {
  qf_amqp_t *pub = connect_to(1);
  qf_error_t err;
  qf_amqp_msg_t m = {.body = "x", .body_len = 1};
  int rc =
      qf_amqp_publish(pub, "amq.direct", "nobody.listens.here", &m, 5000, &err);
  cr_expect_eq(rc, QF_ENOROUTE, "%s", err.message);
  cr_expect_not_null(strstr(err.message, "unroutable"), "%s", err.message);
  /* The connection stays usable after a return. */
  char q[128];
  queue_name(q, sizeof q, "after-return");
  cr_assert_eq(qf_amqp_declare_queue(pub, q, 0, NULL, NULL, &err), 0);
  cr_expect_eq(qf_amqp_publish(pub, "", q, &m, 5000, &err), 0, "%s",
               err.message);
  cr_expect_eq(qf_amqp_delete_queue(pub, q, &err), 0);
  qf_amqp_free(pub);
}

/* A batch goes back to back to different queues (one quorum, confirmed
 * when its log commits: possibly after the others) and is confirmed by
 * one wait; a message nobody is bound for is counted, not an error. */
Test(amqp, a_batch_is_confirmed_together) {
  qf_amqp_t *pub = connect_to(1), *con = connect_to(0);
  qf_error_t err;
  char qa[128], qb[128];
  queue_name(qa, sizeof qa, "batch-a");
  queue_name(qb, sizeof qb, "batch-b");
  amqp_table_entry_t e = {
      .key = amqp_cstring_bytes("x-queue-type"),
      .value = {.kind = AMQP_FIELD_KIND_UTF8,
                .value.bytes = amqp_cstring_bytes("quorum")}};
  amqp_table_t quorum = {.num_entries = 1, .entries = &e};
  cr_assert_eq(qf_amqp_declare_queue(con, qa, 0, &quorum, NULL, &err), 0, "%s",
               err.message);
  cr_assert_eq(qf_amqp_declare_queue(con, qb, 0, NULL, NULL, &err), 0);
  qf_amqp_out_t out[5];
  for (int i = 0; i < 5; i++)
    out[i] = (qf_amqp_out_t){
        .exchange = i == 4 ? "amq.direct" : "",
        .routing_key = i == 4  ? "nobody.listens"
                       : i % 2 ? qb
                               : qa,
        .msg = {.body = "m", .body_len = 1, .message_id = "batch"}};
  int returned = -1;
  for (int round = 0; round < 3; round++) /* tags keep counting */
    cr_assert_eq(qf_amqp_publish_batch(pub, out, 5, 5000, &returned, &err), 0,
                 "%s", err.message);
  cr_expect_eq(returned, 1, "the unroutable one");
  cr_expect_eq(qf_amqp_publish(pub, "", qb, &out[1].msg, 5000, &err), 0,
               "single publishes go on after a batch: %s", err.message);
  int got = 0;
  qf_amqp_message_t m;
  while (qf_amqp_get(con, qa, 1, 1000, &m, &err) == 0) {
    got++;
    qf_amqp_message_fini(&m);
  }
  while (qf_amqp_get(con, qb, 1, 300, &m, &err) == 0) {
    got++;
    qf_amqp_message_fini(&m);
  }
  cr_expect_eq(got, 3 * 4 + 1);
  cr_expect_eq(qf_amqp_delete_queue(con, qa, &err), 0);
  cr_expect_eq(qf_amqp_delete_queue(con, qb, &err), 0);
  qf_amqp_free(pub);
  qf_amqp_free(con);
}

Test(amqp, missing_exchange_closes_the_channel_with_a_clear_error) {
  qf_amqp_t *pub = connect_to(1);
  qf_error_t err;
  qf_amqp_msg_t m = {.body = "x", .body_len = 1};
  int rc = qf_amqp_publish(pub, "qf.no.such.exchange", "k", &m, 5000, &err);
  cr_expect_eq(rc, QF_EAMQP, "%s", err.message);
  cr_expect_not_null(strstr(err.message, "404"), "%s", err.message);
  rc = qf_amqp_publish(pub, "", "k", &m, 5000, &err);
  cr_expect_eq(rc, QF_EAMQPCONN, "a dead connection refuses at once");
  qf_amqp_free(pub);
}

Test(amqp, redeclare_with_other_arguments_is_refused) {
  qf_amqp_t *c = connect_to(0), *c2 = connect_to(0);
  qf_error_t err;
  char q[128];
  queue_name(q, sizeof q, "args");
  cr_assert_eq(qf_amqp_declare_queue(c, q, 0, NULL, NULL, &err), 0);
  amqp_table_entry_t e[1];
  e[0].key = amqp_cstring_bytes("x-dead-letter-exchange");
  e[0].value.kind = AMQP_FIELD_KIND_UTF8;
  e[0].value.value.bytes = amqp_cstring_bytes("qf.dead");
  amqp_table_t args = {.num_entries = 1, .entries = e};
  int rc = qf_amqp_declare_queue(c2, q, 0, &args, NULL, &err);
  cr_expect_eq(rc, QF_EAMQP);
  cr_expect_not_null(strstr(err.message, "406"), "%s", err.message);
  cr_expect_not_null(strstr(err.message, q), "names the queue: %s",
                     err.message);
  cr_expect_eq(qf_amqp_delete_queue(c, q, &err), 0);
  qf_amqp_free(c);
  qf_amqp_free(c2);
}

Test(amqp, server_named_exclusive_queue) {
  qf_amqp_t *c = connect_to(0);
  qf_error_t err;
  char *name = NULL;
  cr_assert_eq(qf_amqp_declare_queue(c, "", 1, NULL, &name, &err), 0);
  cr_expect(strncmp(name, "amq.gen-", 8) == 0, "%s", name);
  free(name);
  qf_amqp_free(c);
}

Test(amqp, unreachable_broker_and_bad_credentials) {
  qf_amqp_t *c = NULL;
  qf_error_t err;
  qf_amqp_opts_t o = {.url = "amqp://u:topsecret@127.0.0.1:1/",
                      .connect_timeout_s = 2};
  cr_expect_eq(qf_amqp_connect(&o, &c, &err), QF_EAMQPCONN);
  cr_expect_null(c);
  cr_expect_null(strstr(err.message, "topsecret"), "%s", err.message);
  cr_expect_not_null(strstr(err.message, "127.0.0.1"), "%s", err.message);

  char url[256];
  const char *base = qf_test_require_env("QF_AMQP_URL");
  const char *at = strchr(base, '@');
  snprintf(url, sizeof url, "amqp://guest:wrong-password@%s", at + 1);
  o.url = url;
  o.connect_timeout_s = 5;
  /* A refused login is the configuration (exit 78), not an outage. */
  cr_expect_eq(qf_amqp_connect(&o, &c, &err), QF_EAUTH, "%s", err.message);
  cr_expect_not_null(strstr(err.message, "ACCESS_REFUSED"), "%s", err.message);
  cr_expect_null(strstr(err.message, "wrong-password"), "%s", err.message);

  o.url = "http://not-amqp";
  cr_expect_eq(qf_amqp_connect(&o, &c, &err), QF_EINVAL);
}
