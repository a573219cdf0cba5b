/* floor.c: the floor the worker's benchmark (bench_worker.sh) measures
 * against: the least a durable queue worker can do per request with the
 * same libraries and settings as qf worker (the project's transport and
 * store modules, a consumer and a confirming publisher connection, a
 * database session): consume, one INSERT (committed), publish with a
 * confirm, ack. Not a test and not the product.
 *
 *   qf_bench_floor AMQP_URL DATABASE_URL QUEUE EXCHANGE N [PREFETCH]
 *
 * Creates table bench_floor if missing; exits after N messages (0, after
 * printing "round_trips R": its requests to PostgreSQL), or on the first
 * error (1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qf/amqp.h"
#include "qf/db.h"

static int fail(const char *what, const qf_error_t *err) {
  fprintf(stderr, "floor: %s: %s\n", what, err->message);
  return 1;
}

static int one(qf_amqp_t *con, qf_amqp_t *pub, qf_db_t *db,
               const char *exchange, qf_error_t *err) {
  qf_amqp_message_t m;
  int rc;
  while ((rc = qf_amqp_next(con, 1000, &m, err)) == 0) {
  }
  if (rc < 0) return rc;
  const char *p[] = {m.message_id ? m.message_id : "none", m.body};
  rc = qf_db_exec(db,
                  "INSERT INTO bench_floor (id, body) VALUES ($1, $2::jsonb) "
                  "ON CONFLICT (id) DO NOTHING",
                  2, p, NULL, err);
  qf_amqp_msg_t out = {.body = m.body,
                       .body_len = m.body_len,
                       .content_type = "application/json",
                       .message_id = m.message_id};
  if (rc == 0)
    rc = qf_amqp_publish(pub, exchange, "decision.pass", &out, 10000, err);
  if (rc == 0 || rc == QF_ENOROUTE) rc = qf_amqp_ack(con, m.delivery_tag, err);
  qf_amqp_message_fini(&m);
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr,
            "usage: qf_bench_floor AMQP_URL DATABASE_URL QUEUE "
            "EXCHANGE N [PREFETCH]\n");
    return 64;
  }
  long n = atol(argv[5]);
  int prefetch = argc > 6 ? atoi(argv[6]) : 1;
  qf_error_t err;
  qf_amqp_t *con = NULL, *pub = NULL;
  qf_db_t *db = NULL;
  qf_amqp_opts_t oc = {.url = argv[1], .connection_name = "qf-bench-floor"};
  qf_amqp_opts_t op = {
      .url = argv[1], .connection_name = "qf-bench-floor-pub", .confirm = 1};
  if (qf_amqp_connect(&oc, &con, &err) < 0) return fail("consumer", &err);
  if (qf_amqp_connect(&op, &pub, &err) < 0) return fail("publisher", &err);
  if (qf_db_connect(argv[2], "qf-bench-floor", &db, &err) < 0)
    return fail("database", &err);
  if (qf_db_exec(db,
                 "CREATE TABLE IF NOT EXISTS bench_floor (id text PRIMARY "
                 "KEY, body jsonb, at timestamptz DEFAULT now())",
                 0, NULL, NULL, &err) < 0)
    return fail("table", &err);
  if (qf_amqp_qos(con, prefetch, &err) < 0 ||
      qf_amqp_consume(con, argv[3], &err) < 0)
    return fail("consume", &err);
  for (long i = 0; i < n; i++)
    if (one(con, pub, db, argv[4], &err) < 0) return fail("message", &err);
  /* Stay a moment, so that the benchmark reads our CPU and memory (and
   * our database backend's) before we leave. */
  printf("round_trips %lld\n", qf_db_round_trips(db));
  fflush(stdout);
  struct timespec pause = {2, 0};
  nanosleep(&pause, NULL);
  qf_amqp_free(con);
  qf_amqp_free(pub);
  qf_db_free(db);
  return 0;
}
