/* zk.c: thin helpers over the multi-threaded ZooKeeper C client. Everything here is a
 * synchronous call made from the caller's thread; the client's own threads run watchers.
 * A routing snapshot is made consistent by reading the map znode before and after the
 * ranges (every change to ranges/ bumps map in the same multi) and retrying if it moved.
 * Znode data is read into a buffer that starts small and grows to the size the stat
 * reports, so a znode of up to ZooKeeper's 1 MiB limit is read without a fixed buffer. */
#include "common/zk.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/znode.h"

#define ZK_FIRST_BUF 4096
#define ZK_READ_RETRIES 10

__attribute__((format(printf, 3, 4))) static int set_err(char *err, size_t errlen, const char *fmt,
                                                         ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return 0;
}

static void drop_log_line(const char *message)
{
    (void)message;
}

static void ignore_watch(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)type;
    (void)state;
    (void)path;
    (void)ctx;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static long elapsed_ms(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long)(now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

zhandle_t *zkv_zk_connect(const char *connect, int session_timeout_ms, int wait_ms,
                          watcher_fn watcher, void *ctx, log_callback_fn log_cb,
                          const zkv_zk_cred *cred, char *err, size_t errlen)
{
    if (!connect || !*connect) {
        set_err(err, errlen, "no ZooKeeper connect string");
        return NULL;
    }
    zhandle_t *zh = zookeeper_init2(connect, watcher ? watcher : ignore_watch, session_timeout_ms,
                                    NULL, ctx, 0, log_cb ? log_cb : drop_log_line);
    if (!zh) {
        set_err(err, errlen, "bad ZooKeeper connect string '%s' (cannot resolve or parse)",
                connect);
        return NULL;
    }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int state = zoo_state(zh);
        if (state == ZOO_CONNECTED_STATE) {
            zkv_zk_cred_bind(zh, cred); /* before anything is created through it */
            return zh;
        }
        if (state == ZOO_AUTH_FAILED_STATE || state == ZOO_EXPIRED_SESSION_STATE) {
            zookeeper_close(zh);
            set_err(err, errlen, "ZooKeeper at %s refused the session (%s)", connect,
                    state == ZOO_AUTH_FAILED_STATE ? "authentication failed" : "session expired");
            return NULL;
        }
        if (elapsed_ms(&t0) >= wait_ms)
            break;
        sleep_ms(5);
    }
    zookeeper_close(zh);
    set_err(err, errlen, "cannot reach ZooKeeper at %s within %d ms", connect, wait_ms);
    return NULL;
}

/* Where we are connected, for messages. */
static void zk_where(zhandle_t *zh, char *out, size_t outlen)
{
    const char *s = zoo_get_current_server(zh);
    snprintf(out, outlen, "%s", s ? s : "(unknown)");
}

static int no_cluster(zhandle_t *zh, const char *cluster, char *err, size_t errlen)
{
    char where[256];
    zk_where(zh, where, sizeof where);
    set_err(err, errlen, "cluster '%s' does not exist in ZooKeeper at %s", cluster, where);
    return ZKV_ZK_NOCLUSTER;
}

static int zk_fail(int rc, const char *what, const char *path, char *err, size_t errlen)
{
    set_err(err, errlen, "%s %s: %s", what, path, zerror(rc));
    return rc;
}

/* Reads a znode's data into a malloc'd buffer (*data, *len; NUL-terminated for
 * convenience), growing the buffer as the stat says. With w non-NULL sets a data watch. */
static int get_data(zhandle_t *zh, const char *path, watcher_fn w, void *wctx, char **data,
                    int *len, struct Stat *st)
{
    int cap = ZK_FIRST_BUF;
    *data = NULL;
    *len = 0;
    for (int attempt = 0; attempt < 8; attempt++) {
        char *buf = malloc((size_t)cap + 1);
        if (!buf)
            return ZSYSTEMERROR;
        int blen = cap;
        int rc =
            w ? zoo_wget(zh, path, w, wctx, buf, &blen, st) : zoo_get(zh, path, 0, buf, &blen, st);
        if (rc != ZOK) {
            free(buf);
            return rc;
        }
        if (st->dataLength > cap) {
            free(buf);
            cap = st->dataLength; /* grew between calls, or was bigger: try again */
            continue;
        }
        if (blen < 0)
            blen = 0; /* a znode with no data */
        buf[blen] = '\0';
        *data = buf;
        *len = blen;
        return ZOK;
    }
    return ZSYSTEMERROR;
}

int zkv_zk_read_cluster(zhandle_t *zh, const char *cluster, zkv_cluster_info *out, char *err,
                        size_t errlen)
{
    char path[ZKV_PATH_MAX];
    if (zkv_path(path, sizeof path, cluster, ZKV_PATH_CLUSTER, NULL) != 0) {
        set_err(err, errlen, "invalid cluster name '%s'", cluster ? cluster : "");
        return ZBADARGUMENTS;
    }
    char *data;
    int len;
    struct Stat st;
    int rc = get_data(zh, path, NULL, NULL, &data, &len, &st);
    if (rc == ZNONODE)
        return no_cluster(zh, cluster, err, errlen);
    if (rc != ZOK)
        return zk_fail(rc, "cannot read", path, err, errlen);
    char why[256];
    rc = zkv_cluster_from_json(data, (size_t)len, out, why, sizeof why);
    free(data);
    if (rc != 0) {
        set_err(err, errlen, "%s: %s", path, why);
        return ZKV_ZK_BADDATA;
    }
    return ZOK;
}

static int node_cmp(const void *a, const void *b)
{
    return strcmp(((const zkv_node_info *)a)->id, ((const zkv_node_info *)b)->id);
}

int zkv_zk_read_nodes(zhandle_t *zh, const char *cluster, watcher_fn watcher, void *wctx,
                      zkv_node_info **out, size_t *n, char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    char dir[ZKV_PATH_MAX];
    if (zkv_path(dir, sizeof dir, cluster, ZKV_PATH_NODES, NULL) != 0) {
        set_err(err, errlen, "invalid cluster name '%s'", cluster ? cluster : "");
        return ZBADARGUMENTS;
    }
    struct String_vector kids = {0, NULL};
    int rc = watcher ? zoo_wget_children(zh, dir, watcher, wctx, &kids)
                     : zoo_get_children(zh, dir, 0, &kids);
    if (rc == ZNONODE)
        return no_cluster(zh, cluster, err, errlen);
    if (rc != ZOK)
        return zk_fail(rc, "cannot list", dir, err, errlen);
    zkv_node_info *nodes = NULL;
    if (kids.count > 0) {
        nodes = calloc((size_t)kids.count, sizeof *nodes);
        if (!nodes) {
            deallocate_String_vector(&kids);
            set_err(err, errlen, "out of memory");
            return ZSYSTEMERROR;
        }
    }
    size_t count = 0;
    for (int i = 0; i < kids.count; i++) {
        char path[ZKV_PATH_MAX];
        if (zkv_path(path, sizeof path, cluster, ZKV_PATH_NODES, kids.data[i]) != 0)
            continue;
        char *data;
        int len;
        struct Stat st;
        rc = get_data(zh, path, NULL, NULL, &data, &len, &st);
        if (rc == ZNONODE)
            continue; /* the node went away since the listing */
        if (rc != ZOK) {
            free(nodes);
            deallocate_String_vector(&kids);
            return zk_fail(rc, "cannot read", path, err, errlen);
        }
        char why[256];
        zkv_node_info info;
        /* A node whose registration cannot be parsed (or names another id) cannot be
         * routed to: leave it out rather than fail every reader. */
        if (zkv_node_from_json(data, (size_t)len, &info, why, sizeof why) == 0 &&
            strcmp(info.id, kids.data[i]) == 0)
            nodes[count++] = info;
        free(data);
    }
    deallocate_String_vector(&kids);
    if (count > 1)
        qsort(nodes, count, sizeof *nodes, node_cmp);
    if (count == 0) {
        free(nodes);
        nodes = NULL;
    }
    *out = nodes;
    *n = count;
    return ZOK;
}

/* One attempt at a snapshot. *map_ver gets the map znode's version as read first. */
static int read_map_once(zhandle_t *zh, const char *cluster, watcher_fn map_watcher, void *wctx,
                         zkv_rangemap *m, char *err, size_t errlen)
{
    char path[ZKV_PATH_MAX];
    zkv_path(path, sizeof path, cluster, ZKV_PATH_MAP, NULL);
    char *data;
    int len;
    struct Stat st;
    int rc = get_data(zh, path, map_watcher, wctx, &data, &len, &st);
    if (rc == ZNONODE) {
        /* Arm the watch anyway, so the caller learns when the cluster is created. */
        if (map_watcher) {
            struct Stat st2;
            zoo_wexists(zh, path, map_watcher, wctx, &st2);
        }
        return no_cluster(zh, cluster, err, errlen);
    }
    if (rc != ZOK)
        return zk_fail(rc, "cannot read", path, err, errlen);
    char why[256];
    if (zkv_mapver_from_json(data, (size_t)len, &m->version, why, sizeof why) != 0) {
        free(data);
        set_err(err, errlen, "%s: %s", path, why);
        return ZKV_ZK_BADDATA;
    }
    free(data);
    m->map_zversion = st.version;

    char dir[ZKV_PATH_MAX];
    zkv_path(dir, sizeof dir, cluster, ZKV_PATH_RANGES, NULL);
    struct String_vector kids = {0, NULL};
    rc = zoo_get_children(zh, dir, 0, &kids);
    if (rc == ZNONODE)
        return no_cluster(zh, cluster, err, errlen);
    if (rc != ZOK)
        return zk_fail(rc, "cannot list", dir, err, errlen);
    if (kids.count > 0) {
        m->ranges = calloc((size_t)kids.count, sizeof *m->ranges);
        if (!m->ranges) {
            deallocate_String_vector(&kids);
            set_err(err, errlen, "out of memory");
            return ZSYSTEMERROR;
        }
    }
    for (int i = 0; i < kids.count; i++) {
        char rpath[ZKV_PATH_MAX];
        if (zkv_path(rpath, sizeof rpath, cluster, ZKV_PATH_RANGES, kids.data[i]) != 0) {
            set_err(err, errlen, "range path too long: %s", kids.data[i]);
            deallocate_String_vector(&kids);
            return ZKV_ZK_BADDATA;
        }
        rc = get_data(zh, rpath, NULL, NULL, &data, &len, &st);
        if (rc == ZNONODE)
            continue; /* deleted since the listing: the map version check catches it */
        if (rc != ZOK) {
            deallocate_String_vector(&kids);
            return zk_fail(rc, "cannot read", rpath, err, errlen);
        }
        zkv_range *r = &m->ranges[m->n_ranges];
        rc = zkv_range_from_json(data, (size_t)len, r, why, sizeof why);
        free(data);
        if (rc != 0) {
            set_err(err, errlen, "%s: %s", rpath, why);
            deallocate_String_vector(&kids);
            return ZKV_ZK_BADDATA;
        }
        m->n_ranges++;
        r->zversion = st.version;
        if (strcmp(r->id, kids.data[i]) != 0) {
            set_err(err, errlen, "%s: holds range id '%s'", rpath, r->id);
            deallocate_String_vector(&kids);
            return ZKV_ZK_BADDATA;
        }
    }
    deallocate_String_vector(&kids);
    return zkv_zk_read_nodes(zh, cluster, NULL, NULL, &m->nodes, &m->n_nodes, err, errlen);
}

int zkv_zk_read_map(zhandle_t *zh, const char *cluster, watcher_fn map_watcher, void *wctx,
                    zkv_rangemap **out, char *err, size_t errlen)
{
    *out = NULL;
    char path[ZKV_PATH_MAX];
    if (zkv_path(path, sizeof path, cluster, ZKV_PATH_MAP, NULL) != 0) {
        set_err(err, errlen, "invalid cluster name '%s'", cluster ? cluster : "");
        return ZBADARGUMENTS;
    }
    for (int attempt = 0; attempt < ZK_READ_RETRIES; attempt++) {
        zkv_rangemap *m = calloc(1, sizeof *m);
        if (!m) {
            set_err(err, errlen, "out of memory");
            return ZSYSTEMERROR;
        }
        int rc = read_map_once(zh, cluster, map_watcher, wctx, m, err, errlen);
        if (rc != ZOK) {
            zkv_rangemap_free(m);
            return rc;
        }
        struct Stat st;
        rc = zoo_exists(zh, path, 0, &st);
        if (rc == ZNONODE) {
            zkv_rangemap_free(m);
            return no_cluster(zh, cluster, err, errlen);
        }
        if (rc != ZOK) {
            zkv_rangemap_free(m);
            return zk_fail(rc, "cannot read", path, err, errlen);
        }
        if (st.version != m->map_zversion) {
            zkv_rangemap_free(m); /* the map moved while we read: read again */
            continue;
        }
        char why[256];
        if (zkv_rangemap_finish(m, why, sizeof why) != 0) {
            set_err(err, errlen, "cluster '%s': bad range map (version %lld): %s", cluster,
                    (long long)m->version, why);
            zkv_rangemap_free(m);
            return ZKV_ZK_BADDATA;
        }
        *out = m;
        return ZOK;
    }
    set_err(err, errlen, "cluster '%s': the range map kept changing during %d reads", cluster,
            ZK_READ_RETRIES);
    return ZKV_ZK_TIMEOUT;
}

int zkv_zk_mkdirs(zhandle_t *zh, const char *path, char *err, size_t errlen)
{
    if (!path || path[0] != '/') {
        set_err(err, errlen, "not an absolute znode path: '%s'", path ? path : "");
        return ZBADARGUMENTS;
    }
    size_t n = strlen(path);
    if (n >= ZKV_PATH_MAX) {
        set_err(err, errlen, "znode path too long");
        return ZBADARGUMENTS;
    }
    char buf[ZKV_PATH_MAX];
    memcpy(buf, path, n + 1);
    while (n > 1 && buf[n - 1] == '/')
        buf[--n] = '\0';
    if (n == 1)
        return ZOK; /* the root always exists */
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char saved = buf[i];
        buf[i] = '\0';
        int rc = zoo_create(zh, buf, NULL, -1, zkv_zk_acl(zh), 0, NULL, 0);
        if (rc != ZOK && rc != ZNODEEXISTS) {
            zk_fail(rc, "cannot create", buf, err, errlen);
            return rc;
        }
        buf[i] = saved;
    }
    return ZOK;
}

const char *zkv_zk_strerror(int rc)
{
    switch (rc) {
    case ZKV_ZK_TIMEOUT:
        return "timed out";
    case ZKV_ZK_NOCLUSTER:
        return "cluster does not exist";
    case ZKV_ZK_BADDATA:
        return "malformed cluster metadata";
    case ZKV_ZK_MAPRACE:
        return "the map version kept changing; nothing written";
    default:
        return zerror(rc);
    }
}
