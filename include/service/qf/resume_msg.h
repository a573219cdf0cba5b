/* resume_msg.h: the resume message of DESIGN.md section 3, one module for
 * both ends. Published to <prefix>.requests with routing key "resume"
 * after a human (or the expiry sweep) decided an approval; the worker that
 * receives it finishes the run. */
#ifndef QF_RESUME_MSG_H
#define QF_RESUME_MSG_H

#include <stddef.h>

#include "qf/amqp.h"
#include "qf/approvals.h"
#include "qf/err.h"

/* Publishes the resume message of a decided approval: body {"run_id",
 * "approval_id"}, content_type application/json, message_id
 * "resume:<approval_id>", correlation_id of the run, persistent, to
 * exchange (<prefix>.requests) with routing key "resume". pub must be a
 * confirm-mode connection; waits up to timeout_ms for the broker's ack.
 * Returns 0 or the amqp module's codes (QF_ENOROUTE when nothing is bound
 * to the key: no worker declared the topology). */
int qf_resume_msg_publish(qf_amqp_t *pub, const char *exchange,
                          const qf_approval_t *a, int timeout_ms,
                          qf_error_t *err) QF_MUSTCHECK;

/* Parses a resume body (len bytes): exactly {"run_id", "approval_id"},
 * both UUIDs, copied into run_id and approval_id (QF_UUID_STR_LEN + 1
 * bytes each). Returns 0, or -1 with why (n bytes) naming the field. */
int qf_resume_msg_parse(const char *body, size_t len, char *run_id,
                        char *approval_id, char *why, size_t n);

#endif
