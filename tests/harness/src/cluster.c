/* cluster.c: one test's zkv cluster: ZooKeeper, zkv-server and zkv-coordinator processes
 * with the flags of docs/internals.md, and the readiness conditions tests wait on. */
#include "zkt/cluster.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include "zkt/port.h"
#include "zkt/proc.h"
#include "zkt/tmpdir.h"
#include "zkt/util.h"
#include "zkt/wait.h"

#define ZKT_STOP_MS 10000

int zkt_cluster_init(zkt_cluster *cl, const char *name)
{
    memset(cl, 0, sizeof *cl);
    snprintf(cl->name, sizeof cl->name, "%s", name);
    cl->ranges = 8;
    cl->replicas = 3;
    cl->session_timeout_ms = 2000;
    char zkname[128];
    snprintf(zkname, sizeof zkname, "%s-zk", name);
    if (zkt_zk_start(&cl->zk, zkname) != 0)
        return -1;
    cl->zc = zkt_zkc_connect(cl->zk.connect, 10000);
    return cl->zc ? 0 : -1;
}

void zkt_cluster_destroy(zkt_cluster *cl)
{
    for (int i = 0; i < cl->n_coords; i++)
        if (cl->coords[i].pid)
            zkt_proc_kill(cl->coords[i].pid);
    for (int i = 0; i < cl->n_servers; i++)
        if (cl->servers[i].pid)
            zkt_proc_kill(cl->servers[i].pid);
    zkt_zkc_close(cl->zc);
    cl->zc = NULL;
    zkt_zk_kill(&cl->zk);
    cl->n_coords = 0;
    cl->n_servers = 0;
}

int zkt_server_start(zkt_cluster *cl, int i)
{
    const char *bin = zkt_bin("ZKV_SERVER_BIN");
    if (!bin || i < 0 || i >= cl->n_servers)
        return -1;
    zkt_server *s = &cl->servers[i];
    char session[16];
    snprintf(session, sizeof session, "%d", cl->session_timeout_ms);
    const char *zk = s->zk_connect[0] ? s->zk_connect : cl->zk.connect;
    const char *argv[16 + ZKT_MAX_SERVER_FLAGS] = {
        bin,    "--zk", zk,    "--cluster",         cl->name, "--listen", s->addr, "--data-dir",
        s->dir, "--id", s->id, "--session-timeout", session};
    int argc = 13;
    if (s->own_flag[0][0]) {
        argv[argc++] = s->own_flag[0];
        argv[argc++] = s->own_flag[1];
    }
    for (int f = 0; f < cl->n_server_flags; f++)
        argv[argc++] = cl->server_flags[f];
    argv[argc] = NULL;
    s->pid = zkt_spawn(s->id, argv, s->log);
    if (s->pid <= 0) {
        s->pid = 0;
        return -1;
    }
    return 0;
}

static int add_flag(zkt_cluster *cl, const char *arg)
{
    if (cl->n_server_flags >= ZKT_MAX_SERVER_FLAGS || strlen(arg) >= sizeof cl->server_flags[0])
        return -1;
    snprintf(cl->server_flags[cl->n_server_flags++], sizeof cl->server_flags[0], "%s", arg);
    return 0;
}

int zkt_cluster_coord_flag(zkt_cluster *cl, const char *flag, const char *value)
{
    const char *words[2] = {flag, value};
    for (int k = 0; k < (value ? 2 : 1); k++) {
        if (cl->n_coord_flags >= ZKT_MAX_COORD_FLAGS ||
            strlen(words[k]) >= sizeof cl->coord_flags[0])
            return -1;
        snprintf(cl->coord_flags[cl->n_coord_flags++], sizeof cl->coord_flags[0], "%s", words[k]);
    }
    return 0;
}

int zkt_cluster_server_flag(zkt_cluster *cl, const char *flag, const char *value)
{
    if (add_flag(cl, flag) != 0)
        return -1;
    if (value && add_flag(cl, value) != 0) {
        cl->n_server_flags--;
        return -1;
    }
    return 0;
}

static int add_server(zkt_cluster *cl, const char *zk_connect, zkt_proxy **proxy, const char *flag,
                      const char *value)
{
    if (cl->n_servers >= ZKT_MAX_SERVERS)
        return -1;
    int i = cl->n_servers;
    zkt_server *s = &cl->servers[i];
    memset(s, 0, sizeof *s);
    snprintf(s->id, sizeof s->id, "node-%d", i);
    s->port = zkt_free_port();
    if (s->port <= 0)
        return -1;
    snprintf(s->addr, sizeof s->addr, "127.0.0.1:%d", s->port);
    snprintf(s->zk_connect, sizeof s->zk_connect, "%s", zk_connect ? zk_connect : "");
    if (proxy) {
        *proxy = zkt_proxy_start(s->port);
        if (!*proxy)
            return -1;
        flag = "--advertise";
        snprintf(s->own_flag[1], sizeof s->own_flag[1], "127.0.0.1:%d", zkt_proxy_port(*proxy));
        value = s->own_flag[1];
    }
    if (flag) {
        if (strlen(flag) >= sizeof s->own_flag[0] || strlen(value) >= sizeof s->own_flag[1])
            return -1;
        snprintf(s->own_flag[0], sizeof s->own_flag[0], "%s", flag);
        memmove(s->own_flag[1], value, strlen(value) + 1);
    }
    if (zkt_path(s->dir, sizeof s->dir, "%s-%s", cl->name, s->id) != 0 ||
        zkt_path(s->log, sizeof s->log, "%s-%s.log", cl->name, s->id) != 0)
        return -1;
    cl->n_servers++;
    return zkt_server_start(cl, i) == 0 ? i : -1;
}

int zkt_cluster_add_server(zkt_cluster *cl)
{
    return add_server(cl, NULL, NULL, NULL, NULL);
}

int zkt_cluster_add_server_via(zkt_cluster *cl, const char *zk_connect)
{
    return add_server(cl, zk_connect, NULL, NULL, NULL);
}

int zkt_cluster_add_server_behind(zkt_cluster *cl, zkt_proxy **proxy)
{
    return add_server(cl, NULL, proxy, NULL, NULL);
}

int zkt_cluster_add_server_proxied(zkt_cluster *cl, zkt_proxy **zk_proxy, zkt_proxy **proxy)
{
    *zk_proxy = zkt_proxy_start(cl->zk.port);
    if (!*zk_proxy)
        return -1;
    char zk[64];
    snprintf(zk, sizeof zk, "127.0.0.1:%d", zkt_proxy_port(*zk_proxy));
    return add_server(cl, zk, proxy, NULL, NULL);
}

int zkt_cluster_add_server_with(zkt_cluster *cl, const char *flag, const char *value)
{
    return add_server(cl, NULL, NULL, flag, value);
}

int zkt_server_stop(zkt_cluster *cl, int i, int sig)
{
    zkt_server *s = &cl->servers[i];
    if (!s->pid)
        return 0;
    int code = sig == SIGKILL ? zkt_proc_kill(s->pid) : zkt_proc_stop(s->pid, ZKT_STOP_MS);
    zkt_log("%s (pid %d) stopped with %s: exit %d", s->id, (int)s->pid,
            sig == SIGKILL ? "SIGKILL" : "SIGTERM", code);
    s->pid = 0;
    return code;
}

int zkt_coord_start(zkt_cluster *cl, int i)
{
    const char *bin = zkt_bin("ZKV_COORDINATOR_BIN");
    if (!bin || i < 0 || i >= cl->n_coords)
        return -1;
    zkt_coord *c = &cl->coords[i];
    if (c->pid)
        return -1; /* still running */
    char ranges[16], replicas[16], minn[16], session[16];
    snprintf(ranges, sizeof ranges, "%d", cl->ranges);
    snprintf(replicas, sizeof replicas, "%d", cl->replicas);
    snprintf(minn, sizeof minn, "%d", c->min_nodes);
    snprintf(session, sizeof session, "%d", cl->session_timeout_ms);
    const char *argv[24] = {bin,      "--zk",        cl->zk.connect, "--cluster",
                            cl->name, "--ranges",    ranges,         "--replicas",
                            replicas, "--min-nodes", minn,           "--session-timeout",
                            session};
    int argc = 13;
    for (int k = 0; k < cl->n_coord_flags && argc < 22; k++)
        argv[argc++] = cl->coord_flags[k];
    if (!cl->owner_balance)
        argv[argc++] = "--no-owner-balance";
    argv[argc] = NULL;
    c->pid = zkt_spawn(c->name, argv, c->log);
    if (c->pid <= 0) {
        c->pid = 0;
        return -1;
    }
    return 0;
}

int zkt_cluster_add_coordinator(zkt_cluster *cl, int min_nodes)
{
    if (cl->n_coords >= ZKT_MAX_COORDS)
        return -1;
    int i = cl->n_coords;
    zkt_coord *c = &cl->coords[i];
    memset(c, 0, sizeof *c);
    char name[sizeof c->name];
    snprintf(name, sizeof name, "%s-coord-%d", cl->name, i);
    memcpy(c->name, name, sizeof name);
    if (zkt_path(c->log, sizeof c->log, "%s.log", c->name) != 0)
        return -1;
    c->min_nodes = min_nodes;
    cl->n_coords++;
    if (zkt_coord_start(cl, i) != 0) {
        cl->n_coords--;
        return -1;
    }
    return i;
}

int zkt_coord_stop(zkt_cluster *cl, int i, int sig)
{
    zkt_coord *c = &cl->coords[i];
    if (!c->pid)
        return 0;
    int code = sig == SIGKILL ? zkt_proc_kill(c->pid) : zkt_proc_stop(c->pid, ZKT_STOP_MS);
    zkt_log("coordinator %d (pid %d) stopped with %s: exit %d", i, (int)c->pid,
            sig == SIGKILL ? "SIGKILL" : "SIGTERM", code);
    c->pid = 0;
    return code;
}

zkt_map *zkt_cluster_map(zkt_cluster *cl)
{
    zkt_map *m = NULL;
    zkt_map_read(cl->zc, cl->name, &m);
    return m;
}

static bool cluster_ready(void *p)
{
    zkt_cluster *cl = p;
    zkt_map *m = zkt_cluster_map(cl);
    if (!m)
        return false;
    bool ok = zkt_map_all_owned(m, cl->ranges);
    for (int i = 0; ok && i < cl->n_servers; i++)
        if (cl->servers[i].pid && !zkt_map_node_by_id(m, cl->servers[i].id))
            ok = false;
    zkt_map_free(m);
    return ok;
}

static void log_map(zkt_cluster *cl)
{
    zkt_map *m = zkt_cluster_map(cl);
    if (!m) {
        zkt_log("cluster %s: no map in ZooKeeper", cl->name);
        return;
    }
    zkt_log("cluster %s: map version %lld, %d ranges, %d live nodes", cl->name,
            (long long)m->version, m->n_ranges, m->n_nodes);
    for (int i = 0; i < m->n_ranges; i++)
        zkt_log("  %s", m->ranges[i].json ? m->ranges[i].json : "?");
    for (int i = 0; i < m->n_nodes; i++)
        zkt_log("  node %s %s incarnation %llu", m->nodes[i].id, m->nodes[i].addr,
                (unsigned long long)m->nodes[i].incarnation);
    zkt_map_free(m);
}

bool zkt_cluster_wait_ready(zkt_cluster *cl, int timeout_ms)
{
    uint64_t t0 = zkt_now_ms();
    bool ok = zkt_wait_for(cluster_ready, cl, timeout_ms);
    if (ok)
        zkt_log("cluster %s ready in %d ms", cl->name, (int)(zkt_now_ms() - t0));
    else
        zkt_log("cluster %s NOT ready within %d ms", cl->name, timeout_ms);
    log_map(cl);
    return ok;
}

typedef struct reg_arg {
    zkt_cluster *cl;
    int i;
    uint64_t min_inc;
    uint64_t inc;
} reg_arg;

static bool registered(void *p)
{
    reg_arg *a = p;
    zkt_map *m = zkt_cluster_map(a->cl);
    if (!m)
        return false;
    const zkt_map_node *n = zkt_map_node_by_id(m, a->cl->servers[a->i].id);
    bool ok = n && n->incarnation > a->min_inc;
    if (ok)
        a->inc = n->incarnation;
    zkt_map_free(m);
    return ok;
}

bool zkt_cluster_wait_registered(zkt_cluster *cl, int i, uint64_t min_incarnation, int timeout_ms,
                                 uint64_t *incarnation)
{
    reg_arg a = {cl, i, min_incarnation, 0};
    bool ok = zkt_wait_for(registered, &a, timeout_ms);
    if (ok && incarnation)
        *incarnation = a.inc;
    if (!ok)
        zkt_log("%s not registered with incarnation > %llu within %d ms", cl->servers[i].id,
                (unsigned long long)min_incarnation, timeout_ms);
    return ok;
}

int zkt_cluster_id(zkt_cluster *cl, char *out, size_t n)
{
    zkt_map *m = zkt_cluster_map(cl);
    if (!m)
        return -1;
    snprintf(out, n, "%s", m->cluster_id);
    zkt_map_free(m);
    return 0;
}

typedef struct placed_arg {
    zkt_cluster *cl;
    const char *id;
    int64_t old_version;
    int64_t version; /* of the last map read */
    int slots;       /* id's replica slots in it */
} placed_arg;

static bool placed(void *p)
{
    placed_arg *a = p;
    zkt_map *m = zkt_cluster_map(a->cl);
    if (!m)
        return false;
    int slots = 0;
    for (int i = 0; i < m->n_ranges; i++)
        slots += zkt_range_has_replica(&m->ranges[i], a->id);
    a->slots = slots;
    a->version = m->version;
    zkt_map_free(m);
    return slots > 0 && a->version > a->old_version;
}

bool zkt_cluster_wait_placed(zkt_cluster *cl, const char *id, int64_t old_version, int timeout_ms,
                             int64_t *version, int *slots)
{
    placed_arg a = {cl, id, old_version, 0, 0};
    bool ok = zkt_wait_for(placed, &a, timeout_ms);
    if (version)
        *version = a.version;
    if (slots)
        *slots = a.slots;
    return ok;
}

int zkt_cluster_server_index(const zkt_cluster *cl, const char *id)
{
    for (int i = 0; i < cl->n_servers; i++)
        if (strcmp(cl->servers[i].id, id) == 0)
            return i;
    return -1;
}
