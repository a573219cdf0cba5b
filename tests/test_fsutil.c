/* fsutil's owed writes: a file whose fsyncs (and maybe whose rename) are
 * paid later, as a worker does while its commit is on the wire. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qf/fsutil.h"

static char root[64];

static void setup(void) {
  snprintf(root, sizeof root, "/tmp/qf-fsutil-XXXXXX");
  cr_assert_not_null(mkdtemp(root));
}

static void teardown(void) {
  qf_error_t err;
  cr_expect_eq(qf_fs_empty_dir(root, &err), 0, "%s", err.message);
  rmdir(root);
}

TestSuite(fsutil, .init = setup, .fini = teardown);

static char *slurp(const char *dir, const char *name) {
  char path[256], *text = NULL;
  size_t len = 0;
  qf_error_t err;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  if (qf_fs_read(path, 4096, &text, &len, &err) < 0) return NULL;
  return text;
}

/* How many entries dir has (besides . and ..). */
static int entries(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  for (struct dirent *e; d && (e = readdir(d)) != NULL;)
    n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
  if (d) closedir(d);
  return n;
}

static int is_open(int fd) {
  return fcntl(fd, F_GETFD) != -1;
}

Test(fsutil, an_owed_write_is_in_place_at_once_and_closed_once_synced) {
  qf_fs_owed_t o = {0};
  qf_error_t err;
  char dir[128];
  snprintf(dir, sizeof dir, "%s/run", root);
  cr_assert_eq(qf_fs_write_atomic_owed(dir, "e.json", "{}", 2, 0, &o, &err), 0,
               "%s", err.message);
  cr_expect(o.owing && o.placed && !o.data_synced);
  char *text = slurp(dir, "e.json");
  cr_expect_str_eq(text, "{}", "readable before the sync");
  free(text);
  int fd = o.fd;
  cr_expect(is_open(fd));
  qf_fs_owed_t *all[] = {&o};
  cr_expect_eq(qf_fs_owed_sync(all, 1), 0);
  cr_expect(!o.owing, "nothing left owed");
  cr_expect(!is_open(fd), "its descriptor closed");
  cr_expect_eq(entries(dir), 1, "no temporary file left");
}

Test(fsutil, a_later_write_waits_for_its_place_and_replaces_what_is_there) {
  qf_fs_owed_t o = {0};
  qf_error_t err;
  cr_assert_eq(qf_fs_write_atomic(root, "e.json", "old", 3, &err), 0);
  cr_assert_eq(qf_fs_write_atomic_owed(root, "e.json", "new", 3, 1, &o, &err),
               0, "%s", err.message);
  char *text = slurp(root, "e.json");
  cr_expect_str_eq(text, "old", "not in place before qf_fs_owed_place");
  free(text);
  qf_fs_owed_t *all[] = {&o};
  cr_expect_eq(qf_fs_owed_sync(all, 1), 0);
  cr_expect(o.owing && o.data_synced, "still owes its place");
  cr_expect_eq(qf_fs_write_atomic_owed(root, "x", "", 0, 0, &o, &err),
               QF_EINTERNAL, "one owed file at a time");
  cr_assert_eq(qf_fs_owed_place(&o, &err), 0, "%s", err.message);
  text = slurp(root, "e.json");
  cr_expect_str_eq(text, "new");
  free(text);
  cr_expect_eq(qf_fs_owed_sync(all, 1), 0);
  cr_expect(!o.owing);
  cr_expect_eq(entries(root), 1);
}

Test(fsutil, a_dropped_later_write_leaves_nothing_behind) {
  qf_fs_owed_t o = {0};
  qf_error_t err;
  cr_assert_eq(qf_fs_write_atomic_owed(root, "e.json", "x", 1, 1, &o, &err), 0);
  cr_expect_eq(entries(root), 1, "the temporary file");
  int fd = o.fd;
  qf_fs_owed_drop(&o);
  cr_expect(!o.owing && !is_open(fd));
  cr_expect_eq(entries(root), 0, "removed with it");
  qf_fs_owed_drop(&o); /* owing nothing: nothing to do */
}

Test(fsutil, many_owed_files_are_synced_together) {
  enum { N = 9 };
  qf_fs_owed_t o[N], *all[N];
  qf_error_t err;
  memset(o, 0, sizeof o);
  for (int i = 0; i < N; i++) {
    char dir[128];
    snprintf(dir, sizeof dir, "%s/r%d", root, i);
    cr_assert_eq(
        qf_fs_write_atomic_owed(dir, "e.json", "{}", 2, i % 2, &o[i], &err), 0,
        "%s", err.message);
    all[i] = &o[i];
  }
  cr_expect_eq(qf_fs_owed_sync(all, N), 0);
  for (int i = 0; i < N; i++) {
    cr_expect_eq(o[i].owing, i % 2, "file %d: only those not placed wait", i);
    cr_expect(o[i].owing == 0 || o[i].data_synced);
    qf_fs_owed_drop(&o[i]);
  }
}

Test(fsutil, a_write_that_cannot_be_made_owes_nothing) {
  qf_fs_owed_t o = {0};
  qf_error_t err;
  char dir[128];
  snprintf(dir, sizeof dir, "%s/file", root);
  cr_assert_eq(qf_fs_write_atomic(root, "file", "x", 1, &err), 0);
  int rc = qf_fs_write_atomic_owed(dir, "e.json", "{}", 2, 1, &o, &err);
  cr_expect(rc < 0, "a folder that is a file");
  cr_expect(!o.owing);
  cr_expect_not_null(strstr(err.message, "file"), "%s", err.message);
}

Test(fsutil, the_temporaries_a_killed_writer_left_are_removed) {
  qf_fs_owed_t o = {0};
  qf_error_t err;
  cr_assert_eq(qf_fs_write_atomic_owed(root, "e.json", "x", 1, 1, &o, &err), 0);
  cr_assert_eq(qf_fs_write_atomic(root, "e.json", "y", 1, &err), 0);
  cr_assert_eq(qf_fs_write_atomic(root, ".e.json.keep", "z", 1, &err), 0);
  cr_expect_eq(entries(root), 3);
  cr_expect_eq(qf_fs_remove_temps(root, "e.json"), 1, "only mkostemp's");
  cr_expect_eq(entries(root), 2, "e.json and .e.json.keep stay");
  /* The writer's rename finds its temporary gone and the file there. */
  cr_expect_eq(qf_fs_owed_place(&o, &err), 0, "%s", err.message);
  char *text = slurp(root, "e.json");
  cr_expect_str_eq(text, "y");
  free(text);
  qf_fs_owed_drop(&o);
  cr_expect_eq(qf_fs_remove_temps("/nonexistent-qf", "e.json"), 0);
}
