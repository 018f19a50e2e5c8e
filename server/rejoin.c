/* rejoin.c: a node's return after its machine restarted (see rejoin.h): a poll of ZooKeeper
 * every POLL_MS until the old registration is gone and the map no longer names the node
 * owner of a range an in-sync replica could own, then the damaged copies forgotten. */
#include "rejoin.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include "common/log.h"
#include "common/util.h"
#include "common/zk.h"
#include "common/znode.h"
#include "rejoin_plan.h"

#define POLL_MS 200
#define CONNECT_WAIT_MS 2000

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* One look: true when the node may register now; *map the map read (replacing the last). */
static bool settled(const zkv_rejoin_config *c, zhandle_t *zh, zkv_rangemap **map, bool *logged_reg,
                    bool *logged_owner)
{
    char path[ZKV_PATH_MAX], err[256];
    struct Stat st;
    if (zkv_path(path, sizeof path, c->cluster, ZKV_PATH_NODES, c->node_id) != 0)
        return true;
    int rc = zoo_exists(zh, path, 0, &st);
    if (rc == ZOK && !*logged_reg) {
        ZKV_INFO("the machine restarted: waiting for the registration of this node's previous "
                 "run to expire (at most the session timeout), so that the ranges it owned "
                 "pass to in-sync replicas");
        *logged_reg = true;
    }
    if (rc != ZNONODE)
        return false;
    zkv_rangemap *m = NULL;
    rc = zkv_zk_read_map(zh, c->cluster, NULL, NULL, &m, err, sizeof err);
    if (rc == ZKV_ZK_NOCLUSTER || rc == ZNONODE)
        return true; /* no cluster or no map: nothing is owned, nothing to wait for */
    if (rc != ZOK)
        return false;
    zkv_rangemap_free(*map);
    *map = m;
    if (!zkv_rejoin_must_wait(m, c->node_id))
        return true;
    if (!*logged_owner) {
        ZKV_INFO("the machine restarted: waiting for the coordinator to give the ranges this "
                 "node owns to in-sync replicas (its copies may lack the last writes)");
        *logged_owner = true;
    }
    return false;
}

static int forget_damaged(zkv_store *store, const zkv_rangemap *map, const char *me,
                          const zkv_vlog_recovery *damage, zkv_rejoin_result *out, char *err,
                          size_t errlen)
{
    for (size_t i = 0; damage && i < damage->n_ranges; i++) {
        const char *id = damage->ranges[i];
        if (!map || !zkv_rejoin_may_forget(map, me, id)) {
            ZKV_WARN("range %s: this node's copy lost values after the machine restarted, and "
                     "no other copy %s: it is kept, the lost values read as errors",
                     id, map ? "is known" : "could be looked up (ZooKeeper)");
            out->kept++;
            continue;
        }
        if (zkv_store_range_forget(store, id, err, errlen) != 0)
            return -1;
        out->forgotten++;
    }
    return 0;
}

int zkv_rejoin(const zkv_rejoin_config *c, zkv_store *store, const zkv_vlog_recovery *damage,
               zkv_rejoin_result *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    uint64_t deadline = zkv_now_ms() + c->wait_ms;
    zhandle_t *zh = NULL;
    zkv_rangemap *map = NULL;
    bool logged_reg = false, logged_owner = false, done = false;
    while (!done) {
        if (!zh) {
            char cerr[256];
            zh = zkv_zk_connect(c->zk, c->session_timeout_ms, CONNECT_WAIT_MS, NULL, NULL,
                                zkv_log_zookeeper, c->cred, cerr, sizeof cerr);
        }
        done = zh && settled(c, zh, &map, &logged_reg, &logged_owner);
        if (!done && zkv_now_ms() >= deadline) {
            out->waited_out = true;
            ZKV_WARN("the machine restarted: gave up waiting after %llu ms; going on",
                     (unsigned long long)c->wait_ms);
            break;
        }
        if (!done)
            sleep_ms(POLL_MS);
    }
    if (zh)
        zookeeper_close(zh);
    out->map_read = map != NULL;
    int rc = forget_damaged(store, map, c->node_id, damage, out, err, errlen);
    zkv_rangemap_free(map);
    return rc;
}
