/* PLACEHOLDER: replaced by the real run store before issue 5 lands. */
#include "qf/store.h"

int qf_store_open(const char *conninfo, const char *app, qf_store_t **out,
                  qf_error_t *err) {
  (void)conninfo, (void)app, (void)out;
  return qf_error_set(err, QF_EINTERNAL, "store: not implemented yet");
}
void qf_store_close(qf_store_t *st) {
  (void)st;
}
int qf_store_reconnect(qf_store_t *st, qf_error_t *err) {
  (void)st;
  return qf_error_set(err, QF_EINTERNAL, "store: not implemented yet");
}
qf_db_t *qf_store_db(qf_store_t *st) {
  (void)st;
  return NULL;
}
void qf_run_row_fini(qf_run_row_t *row) {
  (void)row;
}
int qf_store_claim(qf_store_t *st, const qf_claim_t *c, qf_run_row_t *out,
                   int *created, qf_error_t *err) {
  (void)st, (void)c, (void)out, (void)created;
  return qf_error_set(err, QF_EINTERNAL, "store: not implemented yet");
}
int qf_store_checkpoint(qf_store_t *st, const char *run_id, const char *node,
                        const cJSON *checkpoint, long long duration_ms,
                        qf_error_t *err) {
  (void)st, (void)run_id, (void)node, (void)checkpoint, (void)duration_ms;
  return qf_error_set(err, QF_EINTERNAL, "store: not implemented yet");
}
int qf_store_finish(qf_store_t *st, const qf_finish_t *f, cJSON **message_out,
                    qf_error_t *err) {
  (void)st, (void)f, (void)message_out;
  return qf_error_set(err, QF_EINTERNAL, "store: not implemented yet");
}
