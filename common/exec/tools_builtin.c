/* tools_builtin.c: the registry of the built-in tools. Apart from the
 * helpers in tools.c, so that the tools call tools.c and this file calls
 * the tools, never the other way round. */
#include <string.h>

#include "qf/tools.h"

/* Defined in tool_pytest.c and tool_playwright.c. */
extern const qf_tool_t qf__tool_pytest;
extern const qf_tool_t qf__tool_playwright;

static const qf_tool_t *const registry[] = {&qf__tool_pytest,
                                            &qf__tool_playwright};

static const qf_tool_registry_t builtin = {
    registry, sizeof registry / sizeof registry[0]};

const qf_tool_registry_t *qf_tools_builtin(void) {
  return &builtin;
}

const qf_tool_t *qf_tools_lookup(const qf_tool_registry_t *r,
                                 const char *name) {
  if (r == NULL) r = &builtin;
  for (size_t i = 0; name && i < r->n; i++)
    if (strcmp(r->tools[i]->name, name) == 0) return r->tools[i];
  return NULL;
}

const qf_tool_t *qf_tools_find(const char *name) {
  return qf_tools_lookup(&builtin, name);
}
