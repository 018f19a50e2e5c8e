/* membership.c: ZooKeeper session, registration and map watch on the membership thread
 * (see membership.h). The thread is a loop over one state:
 *   no session  -> connect (retry every second)
 *   session     -> read the cluster record (poll every 500 ms until it exists)
 *   cluster     -> register nodes/<id>
 *   registered  -> read the map when marked dirty, then sleep until a watch or session
 *                  event; an expired session drops back to "no session".
 * Watchers only set flags and signal the condition variable. */
#include "membership.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "common/log.h"
#include "common/zk.h"
#include "common/util.h"
#include "common/znode.h"
#include "mapbump.h"

#define CONNECT_WAIT_MS 2000
#define RETRY_MS 500

/* One queued range write: set r (conditional on r.zversion), or, with n_add > 0, delete r
 * (and del2 when has_del2, a merge) and create add[0..n_add) (a split or a merge). */
typedef struct range_write {
    zkv_range r;
    zkv_range del2;
    bool has_del2;
    zkv_range add[2];
    int n_add;
} range_write;

static void range_write_clear(range_write *w)
{
    zkv_range_clear(&w->r);
    zkv_range_clear(&w->del2);
    for (int i = 0; i < 2; i++)
        zkv_range_clear(&w->add[i]);
    w->n_add = 0;
    w->has_del2 = false;
}

struct zkv_membership {
    zkv_membership_config cfg;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    /* under mu */
    bool stop;
    bool ev_map;     /* the map watch fired */
    bool ev_session; /* a session event arrived; state in zk_state */
    int zk_state;
    zkv_membership_notify_fn notify;
    void *notify_ctx;
    zkv_membership_update pending;
    /* membership thread only */
    zhandle_t *zh;
    bool registered;
    bool ever_registered;
    bool disconnected;
    char cluster_id[ZKV_ID_MAX];
    char last_warning[512];   /* a retried failure is logged once, not every 500 ms */
    uint64_t last_confirm_ms; /* when the last lease confirmation was sent */
    /* under mu */
    zkv_lease lease;
    bool ev_isr;          /* in_sync requests queued */
    bool leaving;         /* zkv_membership_set_leaving was called */
    char *stats_json;     /* the report to write next (NULL: none) */
    bool leaving_done;    /* membership thread: nodes/<id> says so */
    range_write *isr_req; /* queued range writes (in_sync changes, handoffs, reshapes) */
    size_t n_isr_req, cap_isr_req;
};

/* One lease confirmation in flight: what it proves once answered. */
typedef struct confirm_ctx {
    zkv_membership *m;
    int64_t session;
    uint64_t sent_ms;
    int timeout_ms;
} confirm_ctx;

static bool stopping(zkv_membership *m)
{
    pthread_mutex_lock(&m->mu);
    bool s = m->stop;
    pthread_mutex_unlock(&m->mu);
    return s;
}

/* Sleeps up to ms or until an event or stop arrives. */
static void wait_event(zkv_membership *m, long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&m->mu);
    while (!m->stop && !m->ev_map && !m->ev_session && !m->ev_isr) {
        if (pthread_cond_timedwait(&m->cond, &m->mu, &ts) != 0)
            break;
    }
    pthread_mutex_unlock(&m->mu);
}

static void publish_locked(zkv_membership *m)
{
    if (m->notify)
        m->notify(m->notify_ctx);
}

static int64_t session_id(zkv_membership *m)
{
    const clientid_t *cid = m->zh ? zoo_client_id(m->zh) : NULL;
    return cid ? cid->client_id : 0;
}

static void publish_map(zkv_membership *m, zkv_rangemap *map)
{
    pthread_mutex_lock(&m->mu);
    zkv_rangemap_free(m->pending.map);
    m->pending.map = map;
    m->pending.map_session = session_id(m);
    publish_locked(m);
    pthread_mutex_unlock(&m->mu);
}

static void publish_fatal(zkv_membership *m, const char *reason)
{
    pthread_mutex_lock(&m->mu);
    m->pending.fatal = true;
    snprintf(m->pending.reason, sizeof(m->pending.reason), "%s", reason);
    publish_locked(m);
    pthread_mutex_unlock(&m->mu);
}

static const char *state_name(int state)
{
    if (state == ZOO_CONNECTED_STATE)
        return "connected";
    if (state == ZOO_CONNECTING_STATE)
        return "connecting";
    if (state == ZOO_ASSOCIATING_STATE)
        return "associating";
    if (state == ZOO_EXPIRED_SESSION_STATE)
        return "expired";
    if (state == ZOO_AUTH_FAILED_STATE)
        return "auth failed";
    return "disconnected";
}

/* Default watcher: session events only. Runs on the ZooKeeper client's thread. */
static void session_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    zkv_membership *m = ctx;
    if (type != ZOO_SESSION_EVENT)
        return;
    pthread_mutex_lock(&m->mu);
    m->ev_session = true;
    m->zk_state = state;
    pthread_cond_signal(&m->cond);
    pthread_mutex_unlock(&m->mu);
}

/* Data watch on map, child watch on nodes/. Runs on the ZooKeeper client's thread. */
static void map_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    zkv_membership *m = ctx;
    if (type == ZOO_SESSION_EVENT)
        return; /* session_watcher handles these */
    pthread_mutex_lock(&m->mu);
    m->ev_map = true;
    pthread_cond_signal(&m->cond);
    pthread_mutex_unlock(&m->mu);
}

/* Logs a warning unless it repeats the previous one; ok() forgets it after a success. */
static void warn_once(zkv_membership *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void warn_once(zkv_membership *m, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (strcmp(msg, m->last_warning) == 0)
        return;
    snprintf(m->last_warning, sizeof(m->last_warning), "%s", msg);
    ZKV_WARN("%s", msg);
}

static void ok(zkv_membership *m)
{
    m->last_warning[0] = '\0';
}

static void drop_session(zkv_membership *m)
{
    if (m->zh)
        zookeeper_close(m->zh);
    m->zh = NULL;
    m->registered = false;
    m->leaving_done = false; /* written again under the new session (harmless if carried) */
    m->disconnected = false;
    m->last_confirm_ms = 0; /* a new session confirms at once */
}

static bool connect_zk(zkv_membership *m, bool *logged_failure)
{
    char err[256];
    pthread_mutex_lock(&m->mu);
    m->ev_session = false;
    pthread_mutex_unlock(&m->mu);
    m->zh = zkv_zk_connect(m->cfg.zk, m->cfg.session_timeout_ms, CONNECT_WAIT_MS, session_watcher,
                           m, zkv_log_zookeeper, m->cfg.zk_cred, err, sizeof(err));
    if (!m->zh) {
        if (!*logged_failure)
            ZKV_WARN("%s; retrying", err);
        *logged_failure = true;
        return false;
    }
    *logged_failure = false;
    const clientid_t *cid = zoo_client_id(m->zh);
    ZKV_INFO("ZooKeeper session 0x%" PRIx64 " established with %s (timeout %d ms)",
             (uint64_t)cid->client_id, m->cfg.zk, zoo_recv_timeout(m->zh));
    return true;
}

/* This node's nodes/<id> record (its leaving flag aside). */
static void node_info(const zkv_membership *m, zkv_node_info *info)
{
    memset(info, 0, sizeof(*info));
    snprintf(info->id, sizeof(info->id), "%s", m->cfg.node_id);
    snprintf(info->addr, sizeof(info->addr), "%s", m->cfg.advertise);
    snprintf(info->zone, sizeof(info->zone), "%s", m->cfg.zone ? m->cfg.zone : "");
    info->incarnation = m->cfg.incarnation;
    snprintf(info->version, sizeof(info->version), "%s", ZKV_VERSION);
}

typedef enum { REG_OK, REG_RETRY, REG_REFUSED } reg_result;

/* Creates the ephemeral nodes/<id>; replaces a registration left by an older incarnation. */
static reg_result register_node(zkv_membership *m, char *reason, size_t rlen)
{
    char path[ZKV_PATH_MAX];
    if (zkv_path(path, sizeof(path), m->cfg.cluster, ZKV_PATH_NODES, m->cfg.node_id) != 0) {
        snprintf(reason, rlen, "bad node path for %s", m->cfg.node_id);
        return REG_REFUSED;
    }
    zkv_node_info info;
    node_info(m, &info);
    pthread_mutex_lock(&m->mu);
    info.leaving = m->leaving;
    pthread_mutex_unlock(&m->mu);
    char *json = zkv_node_to_json(&info);
    if (!json) {
        snprintf(reason, rlen, "out of memory");
        return REG_RETRY;
    }
    reg_result res = REG_RETRY;
    for (int attempt = 0; attempt < 3; attempt++) {
        int rc = zoo_create(m->zh, path, json, (int)strlen(json), zkv_zk_acl(m->zh), ZOO_EPHEMERAL,
                            NULL, 0);
        if (rc == ZOK) {
            ZKV_INFO("registered %s (incarnation %" PRIu64 ", addr %s)", path, m->cfg.incarnation,
                     m->cfg.advertise);
            res = REG_OK;
            break;
        }
        if (rc != ZNODEEXISTS) {
            snprintf(reason, rlen, "cannot create %.200s: %s", path, zkv_zk_strerror(rc));
            break;
        }
        char buf[1024];
        int len = sizeof(buf) - 1;
        struct Stat st;
        rc = zoo_get(m->zh, path, 0, buf, &len, &st);
        if (rc == ZNONODE)
            continue; /* vanished meanwhile: create again */
        if (rc != ZOK) {
            snprintf(reason, rlen, "cannot read %.200s: %s", path, zkv_zk_strerror(rc));
            break;
        }
        const clientid_t *cid = zoo_client_id(m->zh);
        if (st.ephemeralOwner == cid->client_id) {
            ZKV_INFO("registered %s (incarnation %" PRIu64 ", addr %s)", path, m->cfg.incarnation,
                     m->cfg.advertise);
            res = REG_OK; /* our own create went through before a connection loss */
            break;
        }
        zkv_node_info other;
        char perr[128];
        bool parsed =
            len >= 0 && zkv_node_from_json(buf, (size_t)len, &other, perr, sizeof(perr)) == 0;
        bool older = parsed && (other.incarnation < m->cfg.incarnation ||
                                (m->ever_registered && other.incarnation == m->cfg.incarnation));
        if (!older) {
            snprintf(reason, rlen,
                     "node id %s is already registered by another process (incarnation %" PRIu64
                     ", ours %" PRIu64 ", addr %s)",
                     m->cfg.node_id, parsed ? other.incarnation : 0, m->cfg.incarnation,
                     parsed ? other.addr : "?");
            res = REG_REFUSED;
            break;
        }
        rc = zoo_delete(m->zh, path, st.version);
        if (rc != ZOK && rc != ZNONODE) {
            snprintf(reason, rlen, "cannot remove stale %.200s: %s", path, zkv_zk_strerror(rc));
            break;
        }
        ZKV_INFO("removed the stale registration of incarnation %" PRIu64 " from %s",
                 other.incarnation, path);
    }
    free(json);
    return res;
}

static int write_with_map_bump(zkv_membership *m, const char *path, const char *json,
                               int32_t zversion, int32_t *new_zv);

/* Rewrites nodes/<id> with "leaving" once asked (a new registration carries it already). */
static void write_leaving(zkv_membership *m)
{
    pthread_mutex_lock(&m->mu);
    bool want = m->leaving;
    pthread_mutex_unlock(&m->mu);
    if (!want || m->leaving_done || !m->registered)
        return;
    char path[ZKV_PATH_MAX];
    if (zkv_path(path, sizeof(path), m->cfg.cluster, ZKV_PATH_NODES, m->cfg.node_id) != 0)
        return;
    zkv_node_info info;
    node_info(m, &info);
    info.leaving = true;
    char *json = zkv_node_to_json(&info);
    /* with a map bump: every node and the coordinator read it at once (owners drop the
     * node from in_sync, the coordinator gives it nothing new) */
    int rc = json ? write_with_map_bump(m, path, json, -1, NULL) : ZSYSTEMERROR;
    free(json);
    if (rc != ZOK) {
        warn_once(m, "cannot mark the node leaving: %s; retrying", zkv_zk_strerror(rc));
        return;
    }
    m->leaving_done = true;
    ZKV_INFO("%s marked leaving: the coordinator gives it nothing new", path);
    pthread_mutex_lock(&m->mu);
    m->pending.leaving_set = true;
    publish_locked(m);
    pthread_mutex_unlock(&m->mu);
}

void zkv_membership_publish_stats(zkv_membership *m, const char *json)
{
    char *copy = strdup(json);
    if (!copy)
        return;
    pthread_mutex_lock(&m->mu);
    free(m->stats_json);
    m->stats_json = copy;
    m->ev_isr = true; /* wakes the thread */
    pthread_cond_signal(&m->cond);
    pthread_mutex_unlock(&m->mu);
}

/* Writes the latest report to the ephemeral stats/<id> (creating it, and its parent in a
 * cluster made before there were reports). A failure keeps the report for the next turn
 * unless a newer one came. */
static void write_stats(zkv_membership *m)
{
    pthread_mutex_lock(&m->mu);
    char *json = m->stats_json;
    m->stats_json = NULL;
    pthread_mutex_unlock(&m->mu);
    if (!json)
        return;
    char path[ZKV_PATH_MAX], dir[ZKV_PATH_MAX], err[256];
    int rc = ZBADARGUMENTS;
    if (m->registered &&
        zkv_path(path, sizeof(path), m->cfg.cluster, ZKV_PATH_STATS, m->cfg.node_id) == 0 &&
        zkv_path(dir, sizeof(dir), m->cfg.cluster, ZKV_PATH_STATS, NULL) == 0) {
        int len = (int)strlen(json);
        rc = zoo_set(m->zh, path, json, len, -1);
        if (rc == ZNONODE) {
            rc = zoo_create(m->zh, path, json, len, zkv_zk_acl(m->zh), ZOO_EPHEMERAL, NULL, 0);
            if (rc == ZNONODE && zkv_zk_mkdirs(m->zh, dir, err, sizeof(err)) == ZOK)
                rc = zoo_create(m->zh, path, json, len, zkv_zk_acl(m->zh), ZOO_EPHEMERAL, NULL, 0);
            if (rc == ZNODEEXISTS)
                rc = zoo_set(m->zh, path, json, len, -1);
        }
    }
    if (rc == ZOK || !m->registered) {
        free(json);
        return;
    }
    warn_once(m, "cannot write the range report: %s; retrying", zkv_zk_strerror(rc));
    pthread_mutex_lock(&m->mu);
    if (!m->stats_json)
        m->stats_json = json;
    else
        free(json);
    pthread_mutex_unlock(&m->mu);
}

void zkv_membership_set_leaving(zkv_membership *m)
{
    pthread_mutex_lock(&m->mu);
    m->leaving = true;
    m->ev_isr = true; /* wakes the thread */
    pthread_cond_signal(&m->cond);
    pthread_mutex_unlock(&m->mu);
}

/* Completion of a lease confirmation, on the ZooKeeper client's thread. Only an answer
 * that shows our registration under the same session proves the session alive. The
 * client calls every pending completion (with an error) when the handle closes. */
static void confirm_done(int rc, const struct Stat *st, const void *data)
{
    confirm_ctx *cc = (confirm_ctx *)data;
    zkv_membership *m = cc->m;
    if (rc == ZOK && st && st->ephemeralOwner == cc->session) {
        pthread_mutex_lock(&m->mu);
        zkv_lease_confirm(&m->lease, cc->session, cc->sent_ms, cc->timeout_ms);
        pthread_mutex_unlock(&m->mu);
    }
    free(cc);
}

/* Sends a confirmation when the last one is a quarter of the timeout old. */
static void maybe_confirm(zkv_membership *m)
{
    int timeout = zoo_recv_timeout(m->zh);
    uint64_t now = zkv_now_ms();
    if (m->last_confirm_ms && now - m->last_confirm_ms < zkv_lease_confirm_interval_ms(timeout))
        return;
    char path[ZKV_PATH_MAX];
    if (zkv_path(path, sizeof(path), m->cfg.cluster, ZKV_PATH_NODES, m->cfg.node_id) != 0)
        return;
    confirm_ctx *cc = malloc(sizeof(*cc));
    if (!cc)
        return;
    *cc = (confirm_ctx){.m = m, .session = session_id(m), .sent_ms = now, .timeout_ms = timeout};
    m->last_confirm_ms = now;
    if (zoo_aexists(m->zh, path, 0, confirm_done, cc) != ZOK)
        free(cc);
}

/* Runs ops[0..n) and map := its current version + 1 as one zoo_multi, reading map afresh
 * for each try, as long as mapbump.h's rule says to try again. ops and results have room
 * for n + 1. Returns the multi's code or ZKV_ZK_MAPRACE. */
static int multi_with_map_bump(zkv_membership *m, zoo_op_t *ops, zoo_op_result_t *results, int n)
{
    char mpath[ZKV_PATH_MAX];
    if (zkv_path(mpath, sizeof(mpath), m->cfg.cluster, ZKV_PATH_MAP, NULL) != 0)
        return ZBADARGUMENTS;
    int rc = ZSYSTEMERROR;
    for (int attempt = 0; attempt < ZKV_MAPBUMP_TRIES; attempt++) {
        char buf[256], perr[128];
        int len = sizeof(buf) - 1;
        struct Stat mst, mstat;
        int64_t version = 0;
        rc = zoo_get(m->zh, mpath, 0, buf, &len, &mst);
        if (rc != ZOK)
            break;
        if (len < 0 || zkv_mapver_from_json(buf, (size_t)len, &version, perr, sizeof(perr)) != 0) {
            rc = ZKV_ZK_BADDATA;
            break;
        }
        char *mjson = zkv_mapver_to_json(version + 1);
        if (!mjson) {
            rc = ZSYSTEMERROR;
            break;
        }
        memset(results, 0, (size_t)(n + 1) * sizeof(*results));
        zoo_set_op_init(&ops[n], mpath, mjson, (int)strlen(mjson), mst.version, &mstat);
        rc = zoo_multi(m->zh, n + 1, ops, results);
        free(mjson);
        rc = zkv_mapbump_verdict(rc, results, n, attempt + 1 == ZKV_MAPBUMP_TRIES);
        if (rc != ZKV_MAPBUMP_AGAIN)
            break;
    }
    return rc;
}

/* One in_sync write: the range znode at the version the owner read, with a map bump.
 * Sets path to json (conditional on zversion, -1: any); *new_zv gets path's new version.
 * Returns ZOK, ZBADVERSION or ZNONODE for path, or another ZooKeeper error. */
static int write_with_map_bump(zkv_membership *m, const char *path, const char *json,
                               int32_t zversion, int32_t *new_zv)
{
    zoo_op_t ops[2];
    zoo_op_result_t results[2];
    struct Stat st;
    memset(results, 0, sizeof(results)); /* also when the multi is never sent */
    zoo_set_op_init(&ops[0], path, json, (int)strlen(json), zversion, &st);
    int rc = multi_with_map_bump(m, ops, results, 1);
    if (rc == ZOK && new_zv)
        *new_zv = st.version;
    else if (rc != ZOK && (results[0].err == ZBADVERSION || results[0].err == ZNONODE))
        rc = results[0].err;
    return rc;
}

static int isr_write(zkv_membership *m, const zkv_range *r, int32_t *zversion)
{
    char rpath[ZKV_PATH_MAX];
    if (zkv_path(rpath, sizeof(rpath), m->cfg.cluster, ZKV_PATH_RANGES, r->id) != 0)
        return ZBADARGUMENTS;
    char *rjson = zkv_range_to_json(r);
    if (!rjson)
        return ZSYSTEMERROR;
    int rc = write_with_map_bump(m, rpath, rjson, r->zversion, zversion);
    free(rjson);
    return rc;
}

/* A split or merge: deletes w->r (and w->del2) at their versions and creates w->add, with a
 * map bump, in one zoo_multi (retried when only map moved). Returns a ZooKeeper code:
 * ZBADVERSION or ZNONODE when a range changed, ZNODEEXISTS when a new id is taken. */
static int reshape_write(zkv_membership *m, const range_write *w)
{
    char paths[4][ZKV_PATH_MAX];
    char *json[2] = {NULL, NULL};
    int n_del = w->has_del2 ? 2 : 1;
    const zkv_range *del[2] = {&w->r, &w->del2};
    zoo_op_t ops[5];
    zoo_op_result_t results[5];
    int k = 0, rc = ZOK;
    for (int i = 0; i < n_del && rc == ZOK; i++) {
        if (zkv_path(paths[i], ZKV_PATH_MAX, m->cfg.cluster, ZKV_PATH_RANGES, del[i]->id) != 0)
            rc = ZBADARGUMENTS;
        else
            zoo_delete_op_init(&ops[k++], paths[i], del[i]->zversion);
    }
    for (int i = 0; i < w->n_add && rc == ZOK; i++) {
        if (zkv_path(paths[n_del + i], ZKV_PATH_MAX, m->cfg.cluster, ZKV_PATH_RANGES,
                     w->add[i].id) != 0)
            rc = ZBADARGUMENTS;
        else if (!(json[i] = zkv_range_to_json(&w->add[i])))
            rc = ZSYSTEMERROR;
        else
            zoo_create_op_init(&ops[k++], paths[n_del + i], json[i], (int)strlen(json[i]),
                               zkv_zk_acl(m->zh), 0, NULL, 0);
    }
    if (rc == ZOK)
        rc = multi_with_map_bump(m, ops, results, k);
    free(json[0]);
    free(json[1]);
    return rc;
}

/* Runs the queued in_sync writes (and splits and merges) and publishes their results. */
static void run_isr_requests(zkv_membership *m)
{
    for (;;) {
        pthread_mutex_lock(&m->mu);
        if (m->n_isr_req == 0) {
            pthread_mutex_unlock(&m->mu);
            return;
        }
        range_write w = m->isr_req[0];
        memmove(&m->isr_req[0], &m->isr_req[1], (m->n_isr_req - 1) * sizeof(w));
        m->n_isr_req--;
        pthread_mutex_unlock(&m->mu);

        zkv_isr_result res;
        memset(&res, 0, sizeof(res));
        snprintf(res.range_id, sizeof(res.range_id), "%s", w.r.id);
        res.epoch = w.r.epoch;
        res.n_in_sync = w.r.n_in_sync;
        memcpy(res.in_sync, w.r.in_sync, sizeof(res.in_sync));
        res.rc = w.n_add ? reshape_write(m, &w) : isr_write(m, &w.r, &res.zversion);
        range_write_clear(&w);
        if (res.rc != ZOK && res.rc != ZBADVERSION)
            ZKV_DEBUG("in_sync write of %s: %s", res.range_id, zkv_zk_strerror(res.rc));
        pthread_mutex_lock(&m->mu);
        zkv_isr_result *nr = realloc(m->pending.isr, (m->pending.n_isr + 1) * sizeof(*nr));
        if (nr) {
            m->pending.isr = nr;
            m->pending.isr[m->pending.n_isr++] = res;
            publish_locked(m);
        }
        pthread_mutex_unlock(&m->mu);
    }
}

/* Fails every queued in_sync write (no usable session): the owner retries later. */
static void fail_isr_requests(zkv_membership *m, int rc)
{
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->n_isr_req; i++) {
        zkv_isr_result *nr = realloc(m->pending.isr, (m->pending.n_isr + 1) * sizeof(*nr));
        if (nr) {
            m->pending.isr = nr;
            zkv_isr_result *res = &m->pending.isr[m->pending.n_isr++];
            memset(res, 0, sizeof(*res));
            snprintf(res->range_id, sizeof(res->range_id), "%s", m->isr_req[i].r.id);
            res->epoch = m->isr_req[i].r.epoch;
            res->rc = rc;
        }
        range_write_clear(&m->isr_req[i]);
    }
    if (m->n_isr_req)
        publish_locked(m);
    m->n_isr_req = 0;
    pthread_mutex_unlock(&m->mu);
}

/* Queues w (taken over: cleared on failure) unless a write of the same range is queued. */
static int queue_write(zkv_membership *m, range_write *w)
{
    int rc = -1;
    pthread_mutex_lock(&m->mu);
    bool dup = false;
    for (size_t i = 0; i < m->n_isr_req; i++)
        if (strcmp(m->isr_req[i].r.id, w->r.id) == 0)
            dup = true;
    if (!dup && m->n_isr_req == m->cap_isr_req) {
        size_t ncap = m->cap_isr_req ? m->cap_isr_req * 2 : 16;
        range_write *nq = realloc(m->isr_req, ncap * sizeof(*nq));
        if (nq) {
            m->isr_req = nq;
            m->cap_isr_req = ncap;
        }
    }
    if (!dup && m->n_isr_req < m->cap_isr_req) {
        m->isr_req[m->n_isr_req++] = *w;
        m->ev_isr = true;
        pthread_cond_signal(&m->cond);
        rc = 0;
    }
    pthread_mutex_unlock(&m->mu);
    if (rc != 0)
        range_write_clear(w);
    return rc;
}

/* A deep copy of r keeping its znode version. */
static int copy_range(zkv_range *dst, const zkv_range *r)
{
    if (zkv_range_copy(dst, r) != 0)
        return -1;
    dst->zversion = r->zversion;
    return 0;
}

int zkv_membership_isr_submit(zkv_membership *m, const zkv_range *r)
{
    range_write w;
    memset(&w, 0, sizeof(w));
    if (copy_range(&w.r, r) != 0)
        return -1;
    return queue_write(m, &w);
}

int zkv_membership_reshape_submit(zkv_membership *m, const zkv_range *del, size_t n_del,
                                  const zkv_range *add, size_t n_add)
{
    range_write w;
    memset(&w, 0, sizeof(w));
    if (n_del < 1 || n_del > 2 || n_add < 1 || n_add > 2 || copy_range(&w.r, &del[0]) != 0)
        return -1;
    int bad = n_del == 2 && copy_range(&w.del2, &del[1]) != 0;
    w.has_del2 = n_del == 2 && !bad;
    for (size_t i = 0; i < n_add && !bad; i++) {
        bad = copy_range(&w.add[i], &add[i]) != 0;
        w.n_add += !bad;
    }
    if (bad) {
        range_write_clear(&w);
        return -1;
    }
    return queue_write(m, &w);
}

static void *membership_main(void *arg)
{
    zkv_membership *m = arg;
    bool logged_connect_failure = false, logged_waiting = false;
    bool have_cluster = false, map_dirty = true;
    char err[256];
    while (!stopping(m)) {
        if (!m->zh) {
            if (!connect_zk(m, &logged_connect_failure)) {
                wait_event(m, 1000);
                continue;
            }
            have_cluster = false;
            map_dirty = true;
        }
        /* Session events first: they decide whether the handle is still any good. */
        pthread_mutex_lock(&m->mu);
        bool ev_session = m->ev_session;
        bool ev_map = m->ev_map;
        m->ev_session = false;
        m->ev_map = false;
        m->ev_isr = false;
        pthread_mutex_unlock(&m->mu);
        if (ev_map)
            map_dirty = true;
        int state = zoo_state(m->zh);
        if (state == ZOO_EXPIRED_SESSION_STATE || state == ZOO_AUTH_FAILED_STATE) {
            ZKV_WARN("ZooKeeper session %s; opening a new session and registering again",
                     state_name(state));
            drop_session(m);
            continue;
        }
        if (state != ZOO_CONNECTED_STATE) {
            fail_isr_requests(m, ZCONNECTIONLOSS);
            if (!m->disconnected)
                ZKV_WARN("ZooKeeper connection lost (%s); serving with the current map while "
                         "the client reconnects",
                         state_name(state));
            m->disconnected = true;
            wait_event(m, RETRY_MS);
            continue;
        }
        if (m->disconnected || ev_session) {
            if (m->disconnected)
                ZKV_INFO("ZooKeeper connection re-established (session 0x%" PRIx64 ")",
                         (uint64_t)zoo_client_id(m->zh)->client_id);
            m->disconnected = false;
            map_dirty = true; /* changes may have been missed while away */
        }
        if (!have_cluster) {
            zkv_cluster_info ci;
            int rc = zkv_zk_read_cluster(m->zh, m->cfg.cluster, &ci, err, sizeof(err));
            if (rc == ZKV_ZK_NOCLUSTER || rc == ZNONODE) {
                if (!logged_waiting)
                    ZKV_INFO("waiting for cluster %s to be created", m->cfg.cluster);
                logged_waiting = true;
                wait_event(m, RETRY_MS);
                continue;
            }
            if (rc != 0) {
                warn_once(m, "cannot read the cluster record: %s; retrying", err);
                wait_event(m, RETRY_MS);
                continue;
            }
            if (strcmp(ci.cluster_id, m->cluster_id) != 0) {
                if (m->cluster_id[0])
                    ZKV_WARN("cluster %s changed id from %s to %s", m->cfg.cluster, m->cluster_id,
                             ci.cluster_id);
                else
                    ZKV_INFO("cluster %s has id %s", m->cfg.cluster, ci.cluster_id);
                snprintf(m->cluster_id, sizeof(m->cluster_id), "%s", ci.cluster_id);
                pthread_mutex_lock(&m->mu);
                m->pending.has_cluster_id = true;
                snprintf(m->pending.cluster_id, sizeof(m->pending.cluster_id), "%s", ci.cluster_id);
                publish_locked(m);
                pthread_mutex_unlock(&m->mu);
            }
            have_cluster = true;
        }
        if (!m->registered) {
            reg_result rr = register_node(m, err, sizeof(err));
            if (rr == REG_REFUSED) {
                ZKV_ERROR("%s", err);
                publish_fatal(m, err);
                break;
            }
            if (rr == REG_RETRY) {
                warn_once(m, "registration failed: %s; retrying", err);
                wait_event(m, RETRY_MS);
                continue;
            }
            ok(m);
            m->registered = true;
            m->ever_registered = true;
            map_dirty = true;
        }
        if (map_dirty) {
            /* The map carries the live nodes, whose addresses the log shipper connects to;
             * nodes come and go without a map version bump, so a child watch on nodes/
             * (armed before the read) re-reads the map too. */
            char npath[ZKV_PATH_MAX];
            struct String_vector sv = {0};
            if (zkv_path(npath, sizeof(npath), m->cfg.cluster, ZKV_PATH_NODES, NULL) == 0 &&
                zoo_wget_children(m->zh, npath, map_watcher, m, &sv) == ZOK)
                deallocate_String_vector(&sv);
            zkv_rangemap *map = NULL;
            int rc = zkv_zk_read_map(m->zh, m->cfg.cluster, map_watcher, m, &map, err, sizeof(err));
            if (rc != 0) {
                warn_once(m, "cannot read the range map: %s; retrying", err);
                wait_event(m, RETRY_MS);
                continue;
            }
            map_dirty = false;
            ok(m);
            publish_map(m, map);
        }
        run_isr_requests(m);
        write_leaving(m);
        write_stats(m);
        maybe_confirm(m);
        wait_event(m, (long)zkv_lease_confirm_interval_ms(zoo_recv_timeout(m->zh)));
    }
    drop_session(m);
    return NULL;
}

int zkv_membership_start(const zkv_membership_config *cfg, zkv_membership_notify_fn notify,
                         void *ctx, zkv_membership **out)
{
    zkv_membership *m = calloc(1, sizeof(*m));
    if (!m)
        return -1;
    m->cfg = *cfg;
    m->notify = notify;
    m->notify_ctx = ctx;
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cond, NULL);
    if (pthread_create(&m->thread, NULL, membership_main, m) != 0) {
        pthread_cond_destroy(&m->cond);
        pthread_mutex_destroy(&m->mu);
        free(m);
        return -1;
    }
    *out = m;
    return 0;
}

void zkv_membership_take(zkv_membership *m, zkv_membership_update *u)
{
    pthread_mutex_lock(&m->mu);
    *u = m->pending;
    memset(&m->pending, 0, sizeof(m->pending));
    pthread_mutex_unlock(&m->mu);
}

zkv_lease zkv_membership_lease(zkv_membership *m)
{
    pthread_mutex_lock(&m->mu);
    zkv_lease l = m->lease;
    pthread_mutex_unlock(&m->mu);
    return l;
}

void zkv_membership_detach(zkv_membership *m)
{
    pthread_mutex_lock(&m->mu);
    m->notify = NULL;
    m->notify_ctx = NULL;
    pthread_mutex_unlock(&m->mu);
}

void zkv_membership_stop(zkv_membership *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    m->stop = true;
    pthread_cond_signal(&m->cond);
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->thread, NULL);
    zkv_rangemap_free(m->pending.map);
    free(m->pending.isr);
    for (size_t i = 0; i < m->n_isr_req; i++)
        range_write_clear(&m->isr_req[i]);
    free(m->isr_req);
    free(m->stats_json);
    pthread_cond_destroy(&m->cond);
    pthread_mutex_destroy(&m->mu);
    free(m);
}
