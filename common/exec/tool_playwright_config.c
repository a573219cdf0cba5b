/* tool_playwright_config.c: which Playwright config run_playwright hands
 * the runner when the request names none.
 *
 * Without --config, Playwright falls back to its defaults (every spec
 * under the working directory, its own downloaded browsers), which is not
 * the workspace's suite and never what the worker's Chromium contract
 * (QF_CHROMIUM) expects. So the tool always passes a config: the one the
 * request names, else the one at the workspace root, found the way
 * Playwright itself looks (resolveConfigFile: the first of
 * playwright.config.{ts,js,mts,mjs,cts,cjs} that exists); none there is
 * a refusal before anything runs. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "exec_internal.h"

/* Playwright's own order (playwright/lib/common: resolveConfigFile). */
static const char *const config_names[] = {
    "playwright.config.ts",  "playwright.config.js",  "playwright.config.mts",
    "playwright.config.mjs", "playwright.config.cts", "playwright.config.cjs",
};

#define HOW_TO_NAME "; name one with args.config"

/* Whether path (resolved) is workspace itself or below it. */
static int inside(const char *path, const char *workspace) {
  size_t n = strlen(workspace);
  return strncmp(path, workspace, n) == 0 && (path[n] == '/' || n == 1);
}

/* A candidate that exists must be a file of the workspace: Playwright
 * would load whatever a symlink there points at. */
static int check_found(const char *name, const char *path,
                       const char *workspace, qf_error_t *err) {
  char real[PATH_MAX];
  struct stat st;
  if (realpath(path, real) == NULL || !inside(real, workspace))
    return qf_error_set(err, QF_EVALIDATE,
                        "config: %s resolves outside the workspace" HOW_TO_NAME,
                        name);
  if (stat(real, &st) != 0 || !S_ISREG(st.st_mode))
    return qf_error_set(err, QF_EVALIDATE,
                        "config: %s is not a regular file" HOW_TO_NAME, name);
  return QF_OK;
}

int qf__playwright_find_config(const char *workspace, char *out, size_t n,
                               qf_error_t *err) {
  char path[PATH_MAX];
  struct stat st;
  for (size_t i = 0; i < sizeof config_names / sizeof config_names[0]; i++) {
    int w = snprintf(path, sizeof path, "%s/%s", workspace, config_names[i]);
    if (w < 0 || (size_t)w >= sizeof path)
      return qf_error_set(err, QF_EVALIDATE,
                          "config: the workspace path is too long" HOW_TO_NAME);
    if (stat(path, &st) != 0) continue; /* as existsSync: follows links */
    int rc = check_found(config_names[i], path, workspace, err);
    if (rc < 0) return rc;
    if (out) snprintf(out, n, "%s", config_names[i]);
    return QF_OK;
  }
  return qf_error_set(
      err, QF_EVALIDATE,
      "config: no Playwright config found in the workspace "
      "(playwright.config.{ts,js,mts,mjs,cts,cjs})" HOW_TO_NAME);
}
