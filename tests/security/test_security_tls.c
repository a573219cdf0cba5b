/* amqps:// against the local RabbitMQ's TLS listener (deploy/local/
 * services.sh makes its CA and a certificate for localhost): the broker's
 * certificate is verified, a wrong CA is refused, and a TLS setting is
 * never silently dropped for a plain connection. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qf/amqp.h"
#include "support.h"

TestSuite(security_tls, .timeout = 60);

static int try_connect(const char *url, const char *ca, qf_amqp_t **c,
                       qf_error_t *err) {
  qf_amqp_opts_t o = {.url = url,
                      .connection_name = "qf-test-tls",
                      .connect_timeout_s = 10,
                      .confirm = 1,
                      .tls_ca = ca};
  *c = NULL;
  return qf_amqp_connect(&o, c, err);
}

Test(security_tls, amqps_verifies_the_broker_and_works) {
  const char *url = qf_test_require_env("QF_LOCAL_AMQPS_URL");
  const char *ca = qf_test_require_env("QF_LOCAL_TLS_CA");
  qf_amqp_t *c = NULL;
  qf_error_t err;
  cr_assert_eq(try_connect(url, ca, &c, &err), 0, "%s", err.message);
  char q[128];
  snprintf(q, sizeof q, "qf.test.tls.%ld", (long)getpid());
  cr_assert_eq(qf_amqp_declare_queue(c, q, 0, NULL, NULL, &err), 0, "%s",
               err.message);
  qf_amqp_msg_t m = {.body = "over tls", .body_len = 8};
  cr_assert_eq(qf_amqp_publish(c, "", q, &m, 5000, &err), 0, "%s", err.message);
  qf_amqp_message_t got;
  cr_assert_eq(qf_amqp_get(c, q, 1, 5000, &got, &err), 0, "%s", err.message);
  cr_expect_eq(got.body_len, 8);
  cr_expect_eq(memcmp(got.body, "over tls", 8), 0);
  qf_amqp_message_fini(&got);
  cr_expect_eq(qf_amqp_delete_queue(c, q, &err), 0, "%s", err.message);
  qf_amqp_free(c);
}

Test(security_tls, a_broker_signed_by_another_ca_is_refused) {
  const char *url = qf_test_require_env("QF_LOCAL_AMQPS_URL");
  char dir[64], cmd[512], ca[128];
  snprintf(dir, sizeof dir, "%s", qf_test_tmpdir());
  snprintf(ca, sizeof ca, "%s/other-ca.pem", dir);
  snprintf(cmd, sizeof cmd,
           "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "
           "'/CN=not the broker CA' -keyout %s/k.pem -out %s >/dev/null 2>&1",
           dir, ca);
  cr_assert_eq(system(cmd), 0, "openssl");
  qf_amqp_t *c = NULL;
  qf_error_t err;
  int rc = try_connect(url, ca, &c, &err);
  cr_expect_eq(rc, QF_EAMQPCONN, "%s", err.message);
  cr_expect_null(c);
  cr_expect(strstr(err.message, "TLS") != NULL, "%s", err.message);
}

Test(security_tls, a_tls_setting_is_never_dropped_for_a_plain_connection) {
  const char *plain = qf_test_require_env("QF_AMQP_URL");
  const char *ca = qf_test_require_env("QF_LOCAL_TLS_CA");
  qf_amqp_t *c = NULL;
  qf_error_t err;
  cr_expect_eq(try_connect(plain, ca, &c, &err), QF_EINVAL);
  cr_expect(strstr(err.message, "refusing a plain connection") != NULL, "%s",
            err.message);
  cr_expect_null(c);
  /* The same from the environment, as every qf command reads it. */
  setenv("QF_AMQP_CACERT", ca, 1);
  cr_expect_eq(try_connect(plain, NULL, &c, &err), QF_EINVAL, "%s",
               err.message);
  unsetenv("QF_AMQP_CACERT");
  /* And half a client certificate is an error, not no certificate. */
  setenv("QF_AMQP_CERT", ca, 1);
  cr_expect_eq(
      try_connect(qf_test_require_env("QF_LOCAL_AMQPS_URL"), ca, &c, &err),
      QF_EINVAL, "%s", err.message);
  cr_expect(strstr(err.message, "QF_AMQP_KEY") != NULL, "%s", err.message);
}
