/* mapcache.c: the cached range map and the ZooKeeper session behind it (see
 * mapcache.h). ZooKeeper's own log is dropped (NULL log callback): the library never
 * prints. The watcher touches nothing but atomics, because it runs on ZooKeeper's
 * completion thread while application threads route with the map. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zkv/zkv.h"
#include "common/util.h"
#include "error.h"
#include "mapcache.h"

#define SESSION_RETRY_MS 1000 /* at most one attempt a second to replace a dead session */
#define STALE_WAIT_MS 250     /* longest a call waits for a reload after a watch event */

static void watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)path;
    zkv__mapcache *mc = ctx;
    if (type == ZOO_SESSION_EVENT) {
        /* Back after a disconnection, or expired: changes may have been missed. The
         * first connection of a session is not news (the map is read right after). */
        if (state == ZOO_CONNECTING_STATE)
            atomic_store(&mc->disconnected, 1);
        else if (state == ZOO_EXPIRED_SESSION_STATE ||
                 (state == ZOO_CONNECTED_STATE && atomic_exchange(&mc->disconnected, 0)))
            atomic_store(&mc->stale, 1);
        return;
    }
    atomic_store(&mc->stale, 1); /* the map znode changed (or vanished) */
}

static zkv__mapsnap *snap_new(zkv_rangemap *m)
{
    zkv__mapsnap *s = malloc(sizeof *s);
    if (!s)
        return NULL;
    s->map = m;
    atomic_init(&s->refs, 1);
    return s;
}

void zkv__mapsnap_release(zkv__mapsnap *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1) {
        zkv_rangemap_free(s->map);
        free(s);
    }
}

static int zk_code(int rc)
{
    return rc == ZKV_ZK_NOCLUSTER || rc == ZNONODE ? ZKV_ENOCLUSTER : ZKV_EZOOKEEPER;
}

static int zk_fail(zkv__mapcache *mc, int rc, const char *zerr, char *err, size_t errlen)
{
    if (zk_code(rc) == ZKV_ENOCLUSTER)
        return zkv__err(ZKV_ENOCLUSTER, err, errlen, "no cluster \"%s\" in ZooKeeper at %s",
                        mc->cluster, mc->connect);
    return zkv__err(ZKV_EZOOKEEPER, err, errlen,
                    "cannot read cluster \"%s\" from ZooKeeper at %s: %s", mc->cluster, mc->connect,
                    zerr[0] ? zerr : zkv_zk_strerror(rc));
}

/* Replaces the snapshot with m (taking it) unless m is older than what is cached. */
static int install(zkv__mapcache *mc, zkv_rangemap *m)
{
    zkv__mapsnap *s = snap_new(m);
    if (!s) {
        zkv_rangemap_free(m);
        return ZKV_ENOMEM;
    }
    pthread_mutex_lock(&mc->lock);
    zkv__mapsnap *old = mc->snap;
    if (old && old->map->version > m->version) {
        pthread_mutex_unlock(&mc->lock);
        zkv__mapsnap_release(s);
        return ZKV_OK;
    }
    mc->snap = s;
    pthread_mutex_unlock(&mc->lock);
    zkv__mapsnap_release(old);
    atomic_fetch_add(&mc->gen, 1);
    return ZKV_OK;
}

static void *refresher_main(void *arg);

int zkv__mapcache_open(zkv__mapcache *mc, const char *connect, const char *cluster,
                       int session_timeout_ms, int connect_timeout_ms, const zkv_zk_cred *cred,
                       zkv_cluster_info *info, char *err, size_t errlen)
{
    memset(mc, 0, sizeof *mc);
    if (cred) {
        mc->cred = *cred;
        mc->has_cred = true;
    }
    atomic_init(&mc->stale, 0);
    atomic_init(&mc->disconnected, 0);
    atomic_init(&mc->gen, 0);
    mc->session_timeout_ms = session_timeout_ms;
    mc->connect_timeout_ms = connect_timeout_ms;
    mc->connect = strdup(connect);
    mc->cluster = strdup(cluster);
    if (!mc->connect || !mc->cluster) {
        free(mc->connect);
        free(mc->cluster);
        return zkv__err(ZKV_ENOMEM, err, errlen, "out of memory");
    }
    pthread_mutex_init(&mc->lock, NULL);
    pthread_mutex_init(&mc->zk_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* deadlines are zkv_now_ms() */
    pthread_cond_init(&mc->wake, &ca);
    pthread_cond_init(&mc->done, &ca);
    pthread_condattr_destroy(&ca);

    char zerr[256] = "";
    mc->zh = zkv_zk_connect(connect, session_timeout_ms, connect_timeout_ms, watcher, mc, NULL,
                            mc->has_cred ? &mc->cred : NULL, zerr, sizeof zerr);
    int rc;
    if (!mc->zh) {
        if (zerr[0])
            rc = zkv__err(ZKV_EZOOKEEPER, err, errlen, "%s", zerr);
        else
            rc = zkv__err(ZKV_EZOOKEEPER, err, errlen, "cannot reach ZooKeeper at %s", connect);
        goto fail;
    }
    int zrc = zkv_zk_read_cluster(mc->zh, cluster, info, zerr, sizeof zerr);
    if (zrc != 0) {
        rc = zk_fail(mc, zrc, zerr, err, errlen);
        goto fail;
    }
    zkv_rangemap *m = NULL;
    zrc = zkv_zk_read_map(mc->zh, cluster, watcher, mc, &m, zerr, sizeof zerr);
    if (zrc != 0) {
        rc = zk_fail(mc, zrc, zerr, err, errlen);
        goto fail;
    }
    rc = install(mc, m);
    if (rc != ZKV_OK) {
        zkv__err(rc, err, errlen, "out of memory");
        goto fail;
    }
    if (pthread_create(&mc->refresher, NULL, refresher_main, mc) != 0) {
        rc = zkv__err(ZKV_ENOMEM, err, errlen, "cannot start the map refresher thread");
        goto fail;
    }
    mc->refresher_started = true;
    return ZKV_OK;
fail:
    zkv__mapcache_close(mc);
    return rc;
}

void zkv__mapcache_close(zkv__mapcache *mc)
{
    if (mc->refresher_started) {
        pthread_mutex_lock(&mc->lock);
        mc->stop = true;
        pthread_cond_signal(&mc->wake);
        pthread_mutex_unlock(&mc->lock);
        pthread_join(mc->refresher, NULL);
        mc->refresher_started = false;
    }
    if (mc->zh)
        zookeeper_close(mc->zh); /* joins ZooKeeper's threads: no watcher runs after */
    mc->zh = NULL;
    zkv__mapsnap_release(mc->snap);
    mc->snap = NULL;
    pthread_cond_destroy(&mc->wake);
    pthread_cond_destroy(&mc->done);
    pthread_mutex_destroy(&mc->lock);
    pthread_mutex_destroy(&mc->zk_lock);
    free(mc->connect);
    free(mc->cluster);
    mc->connect = mc->cluster = NULL;
}

zkv__mapsnap *zkv__mapcache_snapshot(zkv__mapcache *mc)
{
    pthread_mutex_lock(&mc->lock);
    zkv__mapsnap *s = mc->snap;
    atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&mc->lock);
    return s;
}

int64_t zkv__mapcache_version(zkv__mapcache *mc)
{
    zkv__mapsnap *s = zkv__mapcache_snapshot(mc);
    int64_t v = s->map->version;
    zkv__mapsnap_release(s);
    return v;
}

/* With zk_lock held: makes sure there is a live session, replacing an expired one (at
 * most once a second, waiting no longer than the caller's deadline). */
static int ensure_session(zkv__mapcache *mc, uint64_t deadline_ms, char *err, size_t errlen)
{
    if (mc->zh && zoo_state(mc->zh) != ZOO_EXPIRED_SESSION_STATE &&
        zoo_state(mc->zh) != ZOO_AUTH_FAILED_STATE)
        return ZKV_OK;
    uint64_t now = zkv_now_ms();
    if (now < mc->next_session_try_ms || now >= deadline_ms)
        return zkv__err(ZKV_EZOOKEEPER, err, errlen, "ZooKeeper session to %s lost", mc->connect);
    mc->next_session_try_ms = now + SESSION_RETRY_MS;
    if (mc->zh)
        zookeeper_close(mc->zh);
    uint64_t left = deadline_ms - now;
    int wait = left < (uint64_t)mc->connect_timeout_ms ? (int)left : mc->connect_timeout_ms;
    char zerr[256] = "";
    mc->zh = zkv_zk_connect(mc->connect, mc->session_timeout_ms, wait, watcher, mc, NULL,
                            mc->has_cred ? &mc->cred : NULL, zerr, sizeof zerr);
    if (!mc->zh)
        return zkv__err(ZKV_EZOOKEEPER, err, errlen, "%s", zerr);
    atomic_store(&mc->stale, 1);
    return ZKV_OK;
}

/* With zk_lock held: reads the map, re-arming the watch, and installs it. */
static int reload(zkv__mapcache *mc, uint64_t deadline_ms, char *err, size_t errlen)
{
    int rc = ensure_session(mc, deadline_ms, err, errlen);
    if (rc != ZKV_OK)
        return rc;
    if (zoo_state(mc->zh) != ZOO_CONNECTED_STATE)
        return zkv__err(ZKV_EZOOKEEPER, err, errlen, "ZooKeeper at %s not connected", mc->connect);
    /* Cleared before reading: an event during the read raises it again. */
    atomic_store(&mc->stale, 0);
    zkv_rangemap *m = NULL;
    char zerr[256] = "";
    int zrc = zkv_zk_read_map(mc->zh, mc->cluster, watcher, mc, &m, zerr, sizeof zerr);
    if (zrc != 0) {
        atomic_store(&mc->stale, 1);
        return zk_fail(mc, zrc, zerr, err, errlen);
    }
    rc = install(mc, m);
    if (rc != ZKV_OK) {
        atomic_store(&mc->stale, 1);
        return zkv__err(rc, err, errlen, "out of memory");
    }
    return ZKV_OK;
}

/* With mc->lock held: whether a reload is wanted. */
static bool reload_needed(zkv__mapcache *mc, bool force, int64_t min_version, uint64_t seen_gen)
{
    return atomic_load(&mc->stale) || mc->snap->map->version < min_version ||
           (force && atomic_load(&mc->gen) == seen_gen);
}

/* The refresher thread: performs the reloads callers ask for, one read at a time; a read
 * serves every request made before it started. */
static void *refresher_main(void *arg)
{
    zkv__mapcache *mc = arg;
    pthread_mutex_lock(&mc->lock);
    while (!mc->stop) {
        if (mc->finished == mc->requested) {
            pthread_cond_wait(&mc->wake, &mc->lock);
            continue;
        }
        uint64_t target = mc->requested;
        bool need = mc->req_force || atomic_load(&mc->stale) ||
                    mc->snap->map->version < mc->req_min_version;
        mc->req_force = false;
        mc->req_min_version = 0;
        pthread_mutex_unlock(&mc->lock);
        char err[sizeof mc->last_err] = "";
        int rc = ZKV_OK;
        if (need) {
            pthread_mutex_lock(&mc->zk_lock);
            rc = reload(mc, zkv_now_ms() + (uint64_t)mc->connect_timeout_ms, err, sizeof err);
            pthread_mutex_unlock(&mc->zk_lock);
        }
        pthread_mutex_lock(&mc->lock);
        mc->finished = target;
        mc->last_rc = rc;
        memcpy(mc->last_err, err, sizeof err);
        pthread_cond_broadcast(&mc->done);
    }
    pthread_mutex_unlock(&mc->lock);
    return NULL;
}

int zkv__mapcache_refresh(zkv__mapcache *mc, bool force, int64_t min_version, uint64_t seen_gen,
                          uint64_t deadline_ms, char *err, size_t errlen)
{
    pthread_mutex_lock(&mc->lock);
    if (!reload_needed(mc, force, min_version, seen_gen)) {
        pthread_mutex_unlock(&mc->lock);
        return ZKV_OK;
    }
    if (force && atomic_load(&mc->gen) == seen_gen)
        mc->req_force = true;
    if (min_version > mc->req_min_version)
        mc->req_min_version = min_version;
    uint64_t mine = ++mc->requested;
    pthread_cond_signal(&mc->wake);
    while (mc->finished < mine && !mc->stop) {
        uint64_t now = zkv_now_ms();
        if (now >= deadline_ms)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t ns = (uint64_t)ts.tv_nsec + (deadline_ms - now) * 1000000u;
        ts.tv_sec += (time_t)(ns / 1000000000u);
        ts.tv_nsec = (long)(ns % 1000000000u);
        pthread_cond_timedwait(&mc->done, &mc->lock, &ts);
    }
    int rc;
    if (mc->finished >= mine) {
        rc = mc->last_rc;
        if (rc != ZKV_OK)
            zkv__err(rc, err, errlen, "%s", mc->last_err);
    } else {
        rc = zkv__err(ZKV_EZOOKEEPER, err, errlen, "ZooKeeper at %s did not answer in time",
                      mc->connect);
    }
    pthread_mutex_unlock(&mc->lock);
    return rc;
}

zkv__mapsnap *zkv__mapcache_get(zkv__mapcache *mc, uint64_t deadline_ms)
{
    if (atomic_load(&mc->stale)) {
        /* Normally a reload takes a few ms and the call uses the new map; with ZooKeeper
         * hung the call goes on with the old one rather than wait out its budget. */
        uint64_t wait_until = zkv_now_ms() + STALE_WAIT_MS;
        if (wait_until > deadline_ms)
            wait_until = deadline_ms;
        zkv__mapcache_refresh(mc, false, 0, atomic_load(&mc->gen), wait_until, NULL, 0);
    }
    return zkv__mapcache_snapshot(mc);
}
