/* tmpdir.h: one temporary directory per test run (mkdtemp under $TMPDIR or /tmp), holding
 * ZooKeeper data, server data dirs and every process log. Removed at the end of a
 * passing run; kept, with its path printed, when the run failed so logs can be read. */
#ifndef ZKT_TMPDIR_H
#define ZKT_TMPDIR_H
#include <stdbool.h>
#include <stddef.h>

/* The run's directory, created on first call ("zkt-<program>-XXXXXX"). NULL on error. */
const char *zkt_tmpdir(void);
/* out = tmpdir + "/" + formatted name. Returns 0, or -1 if it does not fit. */
int zkt_path(char *out, size_t outlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Creates a directory (and its parents). Returns 0 or -1. */
int zkt_mkdirs(const char *path);
/* Removes a directory tree. Returns 0 or -1. */
int zkt_rmtree(const char *path);
/* End of run: removes the directory when !failed (and ZKT_KEEP is unset or "0"), else
 * prints where it is. */
void zkt_tmpdir_finish(bool failed);

#endif
