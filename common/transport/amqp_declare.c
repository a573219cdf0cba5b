/* amqp_declare.c: declaring and deleting exchanges, queues and bindings
 * (synchronous RPCs on channel 1). */
#include <stdlib.h>

#include "amqp_internal.h"

int qf_amqp_declare_queue(qf_amqp_t *c, const char *name, int exclusive,
                          const amqp_table_t *args, char **name_out,
                          qf_error_t *err) {
  amqp_queue_declare_ok_t *ok = amqp_queue_declare(
      c->state, CHANNEL, amqp_cstring_bytes(name), 0, !exclusive, exclusive,
      exclusive, args ? *args : amqp_empty_table);
  int rc = qf_amqp_rpc_check(c, "queue.declare", err);
  if (rc < 0) return qf_error_prefix(err, "queue %s", name);
  if (name_out) {
    *name_out = qf__amqp_bytes_dup(ok->queue);
    if (*name_out == NULL) return qf_error_set(err, QF_ENOMEM, "out of memory");
  }
  return QF_OK;
}

int qf_amqp_delete_queue(qf_amqp_t *c, const char *name, qf_error_t *err) {
  amqp_queue_delete(c->state, CHANNEL, amqp_cstring_bytes(name), 0, 0);
  return qf_amqp_rpc_check(c, "queue.delete", err);
}

int qf_amqp_declare_exchange(qf_amqp_t *c, const char *name, const char *type,
                             qf_error_t *err) {
  amqp_exchange_declare(c->state, CHANNEL, amqp_cstring_bytes(name),
                        amqp_cstring_bytes(type), 0, 1, 0, 0, amqp_empty_table);
  int rc = qf_amqp_rpc_check(c, "exchange.declare", err);
  return rc < 0 ? qf_error_prefix(err, "exchange %s", name) : QF_OK;
}

int qf_amqp_bind_queue(qf_amqp_t *c, const char *queue, const char *exchange,
                       const char *key, qf_error_t *err) {
  amqp_queue_bind(c->state, CHANNEL, amqp_cstring_bytes(queue),
                  amqp_cstring_bytes(exchange), amqp_cstring_bytes(key),
                  amqp_empty_table);
  int rc = qf_amqp_rpc_check(c, "queue.bind", err);
  return rc < 0 ? qf_error_prefix(err, "bind %s to %s/%s", queue, exchange, key)
                : QF_OK;
}
