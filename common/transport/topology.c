/* topology.c: the names of the exchanges and queues, derived from one
 * prefix, and declaring all of them (DESIGN.md section 3). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "qf/topology.h"

int qf_topology_init(qf_topology_t *t, const char *prefix) {
  static const struct {
    size_t off;
    const char *suffix;
  } names[] = {
      {offsetof(qf_topology_t, requests), "requests"},
      {offsetof(qf_topology_t, decisions), "decisions"},
      {offsetof(qf_topology_t, evidence), "evidence"},
      {offsetof(qf_topology_t, dead), "dead"},
      {offsetof(qf_topology_t, queue), "orchestrations"},
      {offsetof(qf_topology_t, dead_queue), "orchestrations.dead"},
      {offsetof(qf_topology_t, hitl), "hitl"},
  };
  if (prefix == NULL || prefix[0] == '\0' || strlen(prefix) > 64)
    return QF_EINVAL;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    snprintf((char *)t + names[i].off, QF_TOPOLOGY_NAME_MAX, "%s.%s", prefix,
             names[i].suffix);
  return QF_OK;
}

int qf_topology_declare(qf_amqp_t *c, const qf_topology_t *t,
                        int delivery_limit, qf_error_t *err) {
  amqp_table_entry_t e[3];
  e[0].key = amqp_cstring_bytes("x-queue-type");
  e[0].value.kind = AMQP_FIELD_KIND_UTF8;
  e[0].value.value.bytes = amqp_cstring_bytes("quorum");
  e[1].key = amqp_cstring_bytes("x-delivery-limit");
  e[1].value.kind = AMQP_FIELD_KIND_I64;
  e[1].value.value.i64 = delivery_limit;
  e[2].key = amqp_cstring_bytes("x-dead-letter-exchange");
  e[2].value.kind = AMQP_FIELD_KIND_UTF8;
  e[2].value.value.bytes = amqp_cstring_bytes(t->dead);
  amqp_table_t args = {.num_entries = 3, .entries = e};
  int rc = qf_amqp_declare_exchange(c, t->requests, "direct", err);
  if (rc == 0) rc = qf_amqp_declare_exchange(c, t->decisions, "topic", err);
  if (rc == 0) rc = qf_amqp_declare_exchange(c, t->evidence, "topic", err);
  if (rc == 0) rc = qf_amqp_declare_exchange(c, t->dead, "fanout", err);
  if (rc == 0) rc = qf_amqp_declare_queue(c, t->dead_queue, 0, NULL, NULL, err);
  if (rc == 0) rc = qf_amqp_bind_queue(c, t->dead_queue, t->dead, "", err);
  if (rc == 0) rc = qf_amqp_declare_queue(c, t->queue, 0, &args, NULL, err);
  if (rc == 0) rc = qf_amqp_bind_queue(c, t->queue, t->requests, "run", err);
  if (rc == 0) rc = qf_amqp_bind_queue(c, t->queue, t->requests, "resume", err);
  if (rc == 0) rc = qf_amqp_declare_queue(c, t->hitl, 0, NULL, NULL, err);
  if (rc == 0)
    rc =
        qf_amqp_bind_queue(c, t->hitl, t->decisions, "decision.need_hitl", err);
  return rc;
}
