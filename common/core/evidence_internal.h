/* evidence_internal.h: what the evidence readers share (evidence_read.c
 * defines it; evidence_parse.c reads our own documents with it,
 * evidence_parse_ref.c the reference system's). Not a public header.
 *
 * Every reader reports the first problem as QF_EVALIDATE with the field
 * path, "NAME: tool_calls[2].status: must be one of ...". */
#ifndef QF_EVIDENCE_INTERNAL_H
#define QF_EVIDENCE_INTERNAL_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "qf/evidence.h"

/* Counts and durations are bounded by this (far above any real run, and
 * exact in a double). */
#define QF__EV_BIG 1000000000000LL

/* Room for the longest field path built ("failures[49].message" and the
 * like; a key longer than that is cut, which only shortens a message). */
#define QF__EV_PATH_MAX 256

typedef struct qf__ev_rd {
  const char *name; /* the document's name, for messages */
  qf_error_t *err;
} qf__ev_rd_t;

/* Sets "NAME: PATH: WHAT" and returns QF_EVALIDATE. */
int qf__ev_fail(qf__ev_rd_t *r, const char *path, const char *what);

/* out = path "." key, or key alone at the top level (path ""). */
void qf__ev_join(char *out, size_t n, const char *path, const char *key);

/* o must be an object; refuses keys not in keys (NULL-terminated; a
 * leading '!' marks a required key) and duplicates, then reports the first
 * required key that is missing. */
int qf__ev_check_keys(qf__ev_rd_t *r, const cJSON *o, const char *path,
                      const char *const *keys);

/* Like qf__ev_check_keys, minus the unknown-key refusal: for the open
 * objects of the reference format (its environment). */
int qf__ev_check_dups(qf__ev_rd_t *r, const cJSON *o, const char *path);

const cJSON *qf__ev_field(const cJSON *o, const char *key);

/* A string of at most max bytes (or JSON null when nullable) into *out,
 * malloc'ed, or NULL for null or an absent key. */
int qf__ev_get_str(qf__ev_rd_t *r, const cJSON *o, const char *path,
                   const char *key, int nullable, size_t max, char **out);

/* An integer in [min, max]; an absent key keeps *out. JSON null is refused
 * (callers that accept it test for it first). */
int qf__ev_get_int(qf__ev_rd_t *r, const cJSON *o, const char *path,
                   const char *key, long long min, long long max,
                   long long *out);

/* true or false; an absent key keeps *out. */
int qf__ev_get_bool(qf__ev_rd_t *r, const cJSON *o, const char *path,
                    const char *key, int *out);

/* A number >= 0 (finite); an absent key keeps *out. */
int qf__ev_get_time(qf__ev_rd_t *r, const cJSON *o, const char *path,
                    const char *key, double *out);

/* governance.budget: ours has every key (required); the reference's
 * collector may leave any out (o NULL: nothing to read). */
int qf__ev_read_budget(qf__ev_rd_t *r, const cJSON *o, int required,
                       qf_governance_t *g);
/* governance.policy_limits: {} or the limits, each may be null. */
int qf__ev_read_limits(qf__ev_rd_t *r, const cJSON *o, qf_governance_t *g);

/* The governance block both formats share (keys checked by the caller,
 * against its own list): budget (required or not, as above), limits,
 * short_circuited, short_circuit_reason, decision_source. */
int qf__ev_read_governance(qf__ev_rd_t *r, const cJSON *o, int budget_required,
                           qf_governance_t *g);

#endif
