/* tmpdir.c: the run's temporary directory: created lazily with mkdtemp under $TMPDIR (or
 * /tmp), removed with nftw at the end of a passing run, kept when the run failed. */
#include "zkt/tmpdir.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "zkt/util.h"

static char g_dir[PATH_MAX];

const char *zkt_tmpdir(void)
{
    if (g_dir[0])
        return g_dir;
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    char tmpl[PATH_MAX];
    int n = snprintf(tmpl, sizeof tmpl, "%s/zkt-%s-XXXXXX", base, program_invocation_short_name);
    if (n < 0 || (size_t)n >= sizeof tmpl)
        return NULL;
    if (!mkdtemp(tmpl)) {
        zkt_log("mkdtemp %s: %s", tmpl, strerror(errno));
        return NULL;
    }
    snprintf(g_dir, sizeof g_dir, "%s", tmpl);
    /* Whatever children put in $TMPDIR lands here too, and goes with it. */
    setenv("TMPDIR", g_dir, 1);
    zkt_log("temp dir %s", g_dir);
    return g_dir;
}

int zkt_path(char *out, size_t outlen, const char *fmt, ...)
{
    const char *dir = zkt_tmpdir();
    if (!dir)
        return -1;
    int n = snprintf(out, outlen, "%s/", dir);
    if (n < 0 || (size_t)n >= outlen)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(out + n, outlen - (size_t)n, fmt, ap);
    va_end(ap);
    return (m < 0 || (size_t)(n + m) >= outlen) ? -1 : 0;
}

int zkt_mkdirs(const char *path)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return -1;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

int zkt_rmtree(const char *path)
{
    return nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

void zkt_tmpdir_finish(bool failed)
{
    if (!g_dir[0])
        return;
    if (failed) {
        zkt_log("FAILED: logs and data kept in %s", g_dir);
        return;
    }
    const char *keep = getenv("ZKT_KEEP");
    if (keep && *keep && strcmp(keep, "0") != 0) {
        zkt_log("passed; logs and data kept in %s (ZKT_KEEP)", g_dir);
        return;
    }
    if (zkt_rmtree(g_dir) != 0)
        zkt_log("could not remove %s: %s", g_dir, strerror(errno));
    g_dir[0] = '\0';
}

/* For the signal handlers: the path, or "" (no allocation, no locking). */
const char *zkt__tmpdir_peek(void)
{
    return g_dir;
}
