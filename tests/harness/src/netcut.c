/* netcut.c: partitions with nft and net_cls (see netcut.h). The nft program does the rule
 * work (zkt_run, bounded); the cgroup files are written directly. Classids are
 * 0x7a6b:<pid low bits><index>, so two test programs running at once do not match each
 * other's rules. An atexit handler deletes the table if the test did not. */
#include "zkt/netcut.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include "zkt/proc.h"
#include "zkt/util.h"

#define NETCUT_ROOT "/sys/fs/cgroup/net_cls"
#define NETCUT_MAX 16
#define NFT_MS 10000

struct zkt_netcut {
    char table[32];
    char dir[96];
    int n;
    pid_t pids[NETCUT_MAX];
    unsigned classid[NETCUT_MAX];
};

static char g_exit_table[32]; /* deleted at exit if still there */

/* Runs nft with the words of cmd (split on spaces; braces and semicolons are words).
 * Returns 0 when it exited 0; logs its error otherwise. */
static int nft(const char *cmd)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", cmd);
    const char *argv[64];
    int n = 0;
    argv[n++] = "nft";
    for (char *save = NULL, *w = strtok_r(buf, " ", &save); w && n < 63;
         w = strtok_r(NULL, " ", &save))
        argv[n++] = w;
    argv[n] = NULL;
    zkt_run_result r;
    if (zkt_run(argv, NULL, 0, NFT_MS, &r) != 0)
        return -1;
    int rc = r.code == 0 ? 0 : -1;
    if (rc != 0)
        zkt_log("netcut: nft %s: exit %d: %s", cmd, r.code, r.err ? r.err : "");
    zkt_run_result_free(&r);
    return rc;
}

static void delete_table_at_exit(void)
{
    if (g_exit_table[0]) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "delete table inet %s", g_exit_table);
        nft(cmd);
        g_exit_table[0] = '\0';
    }
}

static int write_str(const char *path, const char *s)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int rc = fputs(s, f) < 0 ? -1 : 0;
    if (fclose(f) != 0)
        rc = -1;
    return rc;
}

static bool net_cls_mounted(void)
{
    struct stat st;
    return stat(NETCUT_ROOT "/net_cls.classid", &st) == 0;
}

zkt_netcut *zkt_netcut_open(char *why, size_t whylen)
{
    const char *off = getenv("ZKT_NO_NFT");
    if (off && off[0] && strcmp(off, "0") != 0) {
        snprintf(why, whylen, "turned off by ZKT_NO_NFT");
        return NULL;
    }
    if (geteuid() != 0) {
        snprintf(why, whylen, "not root (nft and cgroups need it)");
        return NULL;
    }
    const char *ver[] = {"nft", "--version", NULL};
    zkt_run_result r;
    if (zkt_run(ver, NULL, 0, NFT_MS, &r) != 0 || r.code != 0) {
        if (r.out || r.err)
            zkt_run_result_free(&r);
        snprintf(why, whylen, "the nft program is not installed (Debian package nftables)");
        return NULL;
    }
    zkt_run_result_free(&r);
    if (!net_cls_mounted()) {
        mkdir(NETCUT_ROOT, 0755);
        if (mount("net_cls", NETCUT_ROOT, "cgroup", 0, "net_cls") != 0 || !net_cls_mounted()) {
            snprintf(why, whylen, "cannot mount the cgroup v1 net_cls controller at %s: %s",
                     NETCUT_ROOT, strerror(errno));
            return NULL;
        }
    }
    zkt_netcut *nc = calloc(1, sizeof *nc);
    if (!nc) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    snprintf(nc->table, sizeof nc->table, "zkt_%d", (int)getpid());
    snprintf(nc->dir, sizeof nc->dir, NETCUT_ROOT "/zkt-%d", (int)getpid());
    if (mkdir(nc->dir, 0755) != 0 && errno != EEXIST) {
        snprintf(why, whylen, "cannot create %s: %s", nc->dir, strerror(errno));
        free(nc);
        return NULL;
    }
    char cmd[256];
    snprintf(cmd, sizeof cmd, "add table inet %s", nc->table);
    int rc = nft(cmd);
    snprintf(cmd, sizeof cmd,
             "add chain inet %s out { type filter hook output priority 0 ; policy accept ; }",
             nc->table);
    if (rc != 0 || nft(cmd) != 0) {
        snprintf(why, whylen, "nft cannot create table %s (see the log)", nc->table);
        zkt_netcut_free(nc);
        return NULL;
    }
    if (!g_exit_table[0]) {
        snprintf(g_exit_table, sizeof g_exit_table, "%s", nc->table);
        static bool registered;
        if (!registered)
            atexit(delete_table_at_exit);
        registered = true;
    }
    return nc;
}

static int index_of(const zkt_netcut *nc, pid_t pid)
{
    for (int i = 0; i < nc->n; i++)
        if (nc->pids[i] == pid)
            return i;
    return -1;
}

int zkt_netcut_add(zkt_netcut *nc, pid_t pid)
{
    if (index_of(nc, pid) >= 0)
        return 0;
    if (nc->n >= NETCUT_MAX)
        return -1;
    int i = nc->n;
    char path[160], val[32];
    snprintf(path, sizeof path, "%s/p%d", nc->dir, i);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return -1;
    unsigned classid = 0x7a6b0000u | (((unsigned)getpid() & 0xfffu) << 4) | (unsigned)i;
    snprintf(path, sizeof path, "%s/p%d/net_cls.classid", nc->dir, i);
    snprintf(val, sizeof val, "%u", classid);
    if (write_str(path, val) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/p%d/cgroup.procs", nc->dir, i);
    snprintf(val, sizeof val, "%d", (int)pid);
    if (write_str(path, val) != 0) {
        zkt_log("netcut: cannot move pid %d into %s: %s", (int)pid, path, strerror(errno));
        return -1;
    }
    nc->pids[i] = pid;
    nc->classid[i] = classid;
    nc->n++;
    return 0;
}

int zkt_netcut_drop(zkt_netcut *nc, pid_t pid, int port)
{
    int i = index_of(nc, pid);
    if (i < 0)
        return -1;
    char cmd[256];
    snprintf(cmd, sizeof cmd,
             "add rule inet %s out meta cgroup 0x%08x ip daddr 127.0.0.1 tcp "
             "dport %d drop",
             nc->table, nc->classid[i], port);
    return nft(cmd);
}

int zkt_netcut_heal(zkt_netcut *nc)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "flush chain inet %s out", nc->table);
    return nft(cmd);
}

void zkt_netcut_free(zkt_netcut *nc)
{
    if (!nc)
        return;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "delete table inet %s", nc->table);
    nft(cmd);
    if (strcmp(g_exit_table, nc->table) == 0)
        g_exit_table[0] = '\0';
    char path[160], val[32];
    for (int i = 0; i < nc->n; i++) {
        snprintf(val, sizeof val, "%d", (int)nc->pids[i]);
        if (zkt_proc_alive(nc->pids[i]))
            write_str(NETCUT_ROOT "/cgroup.procs", val);
        snprintf(path, sizeof path, "%s/p%d", nc->dir, i);
        rmdir(path);
    }
    rmdir(nc->dir);
    free(nc);
}
