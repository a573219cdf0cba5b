/* nodes.c: the table of nodes, in order, looked up by name. Each node is
 * in node_<name>.c; what they share is in node_common.c. */
#include <string.h>

#include "nodes.h"

static const qf_node_t nodes[] = {
    {"normalize", qf__node_normalize},
    {"load_policy", qf__node_load_policy},
    {"plan", qf__node_plan},
    {"execute", qf__node_execute},
    {"enforce_budget", qf__node_enforce_budget},
    {"collect", qf__node_collect},
    {"gate", qf__node_gate},
};
#define NNODES (sizeof nodes / sizeof nodes[0])

size_t qf_pipeline_nnodes(void) {
  return NNODES;
}

const qf_node_t *qf_pipeline_node_at(size_t i) {
  return i < NNODES ? &nodes[i] : NULL;
}

int qf_pipeline_node_index(const char *name) {
  for (size_t i = 0; name && i < NNODES; i++)
    if (strcmp(nodes[i].name, name) == 0) return (int)i;
  return -1;
}

const qf_node_t *qf_pipeline_node(const char *name) {
  int i = qf_pipeline_node_index(name);
  return i < 0 ? NULL : &nodes[i];
}
