/* hitl_support.h: the fixture of the human-in-the-loop suites
 * (test_hitl_*.c): real `qf worker` and `qf approver` processes and
 * `qf approve` / `qf reject` commands against the local RabbitMQ and
 * PostgreSQL, with login roles created per test (alice and bob in
 * qf_approver, an approver service login in qf_approver, eve in no group;
 * the worker logs in as the qf_worker role of worker_support).
 *
 * Each suite declares
 *   TestSuite(hitl, .init = hitl_setup, .fini = hitl_teardown,
 *             .timeout = 240);
 * the names below are short because only these suites include this
 * header. */
#ifndef QF_TEST_HITL_SUPPORT_H
#define QF_TEST_HITL_SUPPORT_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "qf/db.h"
#include "support.h"
#include "worker_support.h"

/* The test's worker fixture (worker_support): topology, database, dirs. */
extern qf_wt_t T;

/* The test's login roles: role[i] is the name, role_url[i] its
 * QF_DATABASE_URL. */
enum { ALICE, BOB, APPROVER, EVE, NROLES };
extern char role[NROLES][96];
extern char role_url[NROLES][600];

extern char reply_q[QF_WORKER_NAME_MAX]; /* <p>.test.reply, the reply_to */

/* The suites' .init and .fini: qf_wt_init, the four roles and reply_q;
 * then the approver stopped, reply_q deleted, qf_wt_fini, roles dropped. */
void hitl_setup(void);
void hitl_teardown(void);

void sleep_ms(long ms);

/* A connection as url; fails the test when it cannot connect. */
qf_db_t *connect_as(const char *url);

/* o[k] if it is a string, else "". */
const char *str(const cJSON *o, const char *k);
/* Whether decision d has "final": true. */
int is_final(const cJSON *d);
/* Whether decision d's triggered_rules hold rule. */
int has_rule(const cJSON *d, const char *rule);

/* The whole of path, NUL-terminated (caller frees), or NULL. */
char *read_file(const char *path);

/* Lines of the approver's log that contain needle. */
int approver_count_log(const char *needle);

/* Worker 0's log and the approver's, tails, for assertion messages. */
const char *logs(void);

/* Starts worker 0 (QF_POLICY=policy unless NULL) and waits until it is
 * ready. */
void start_worker(const char *policy);

/* `qf approver` as the approver service login, with the test's topology;
 * waits until it consumes <p>.hitl. */
void start_approver(int sweep_s);
/* The same with extra environment ("K=V", NULL-terminated). */
void start_approver_env(int sweep_s, const char *const *extra);

/* The running approver's process id (0: none). */
long approver_process(void);

/* A copy of the shipped policy with the hitl stage and expiry changed
 * (the keywords stay); returns its path (static buffer). */
const char *write_policy(const char *stage, int expires_after_s);

/* Runs `qf ARGS...` as login role who (its own QF_DATABASE_URL), with the
 * test's topology; amqp_url NULL: the local broker. */
void qf_as_url(const char *db_url, const char *amqp_url,
               const char *const *args, qf_test_proc_t *p);
void qf_as(int who, const char *amqp_url, const char *const *args,
           qf_test_proc_t *p);

/* A high-risk request ("production") that runs pytest on test_path. */
void publish_request(const char *tag, const char *requested_by,
                     const char *test_path, const char *reply_to, char *run_id,
                     char *corr, size_t corr_n);

/* Waits for the NEED_HITL decision of run_id on the test's decisions
 * queue; returns its approval id (into id, 37 bytes). */
void wait_need_hitl(const char *run_id, char *id);

/* Drains the test's decisions queue for secs seconds (or until the first
 * final decision of run_id when stop_at_first): the final decisions of
 * run_id, the first kept in *first (may be NULL; caller cJSON_Delete). */
int final_decisions(const char *run_id, int secs, int stop_at_first,
                    cJSON **first);

/* The first final decision of run_id within timeout_s, then no other one
 * for settle_s more seconds. */
cJSON *one_final_decision(const char *run_id, int timeout_s, int settle_s);

/* A value from the test's database: sql with $1 replaced by uuid
 * (checked to be a UUID), quoted. */
const char *q1(const char *sql, const char *uuid);
int q1_int(const char *sql, const char *uuid);

/* Column col of approval id (as text, "NULL" for SQL NULL). */
const char *approval_col(const char *id, const char *col);

/* The run_events of run_id named event. */
int events(const char *run_id, const char *event);

/* The end of a test: the approver and the worker stop cleanly on SIGTERM
 * (exit 0), and neither reported a sanitizer finding in its log. */
void finish(void);

#endif
