/* call.c: the routed-request loop shared by get, put, delete and each page of a scan.
 * It carries out what route.c decides: pick a node from the cached map, exchange one
 * request over that node's pooled connection (its mutex held for just that exchange, so
 * threads talking to different nodes run in parallel), and on NOT_OWNER, an unreachable
 * node or an ownerless range refresh the map and retry with backoff until the deadline. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/util.h"
#include "client.h"
#include "error.h"

int zkv__call_begin(zkv_client *c, int timeout_ms, uint64_t *deadline_ms)
{
    zkv__clear_error();
    if (!c)
        return zkv__fail(ZKV_EINVAL, "client is NULL");
    if (timeout_ms < 0 || timeout_ms > ZKV__MAX_TIMEOUT_MS)
        return zkv__fail(ZKV_EINVAL, "bad timeout %d ms", timeout_ms);
    *deadline_ms = zkv_now_ms() + (uint64_t)(timeout_ms ? timeout_ms : c->opts.timeout_ms);
    return ZKV_OK;
}

void zkv__sleep_until(uint64_t ms, uint64_t deadline_ms)
{
    uint64_t now = zkv_now_ms();
    if (now >= deadline_ms)
        return;
    if (now + ms > deadline_ms)
        ms = deadline_ms - now;
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* One exchange with node: open (connect + HELLO) if needed, send, read the answer. */
static int exchange(zkv_client *c, const zkv_node_info *node, Zkv__Request *req,
                    uint64_t deadline_ms, Zkv__Response **resp, char *err, size_t errlen)
{
    zkv__conn *conn = zkv__pool_get(&c->pool, node->id, node->addr);
    if (!conn)
        return zkv__err(ZKV_ENOMEM, err, errlen, "out of memory");
    zkv__hello h = {.cluster_id = c->info.cluster_id,
                    .client_name = c->opts.client_name,
                    .map_version = req->map_version};
    pthread_mutex_lock(&conn->lock);
    int rc = zkv__conn_open(conn, &h, deadline_ms, err, errlen);
    uint64_t id = 0;
    if (rc == ZKV_OK)
        rc = zkv__conn_send(conn, &req, 1, &id, err, errlen);
    if (rc == ZKV_OK)
        rc = zkv__conn_recv(conn, id, 1, resp, deadline_ms, err, errlen);
    pthread_mutex_unlock(&conn->lock);
    zkv__conn_unref(conn);
    return rc;
}

/* True when the range has a node besides the owner that may answer this read. */
static bool has_fallback(const zkv_range *r)
{
    return r->n_replicas > 0 || r->n_in_sync > 0;
}

int zkv__call(zkv_client *c, Zkv__Request *req, const uint8_t *rkey, size_t rklen, zkv__op_kind op,
              unsigned flags, uint64_t deadline_ms, zkv__reply *reply, char *err, size_t errlen)
{
    zkv__down down = {.n = 0};
    zkv__call_state st = {.deadline_ms = deadline_ms};
    char last[ZKV__ERR_MAX] = "";
    int last_io = 0;
    bool stale_ok = op == ZKV__READ && (flags & ZKV_FLAG_ALLOW_STALE);
    uint64_t started = zkv_now_ms();
    req->flags = flags & (ZKV__REQUEST_FLAG__FLAG_ALLOW_STALE | ZKV__REQUEST_FLAG__FLAG_ACK_OWNER);

    for (;;) {
        uint64_t gen = atomic_load(&c->mc.gen);
        zkv__mapsnap *snap = zkv__mapcache_get(&c->mc, deadline_ms);
        zkv__route rt;
        zkv__route_key(snap->map, rkey, rklen, op, flags, &down, &rt);
        zkv__outcome o = {.stale_ok = stale_ok, .to_replica = rt.replica};
        Zkv__Response *resp = NULL;
        char node_id[ZKV_ID_MAX] = "";
        char scratch[ZKV__ERR_MAX] = "";
        const char *fail_msg = last; /* what a failure decided now reports */
        st.map_version = snap->map->version;

        if (rt.kind == ZKV__ROUTE_SEND) {
            snprintf(node_id, sizeof node_id, "%s", rt.node->id);
            req->map_version = st.map_version > 0 ? (uint64_t)st.map_version : 0;
            uint64_t attempt_deadline = deadline_ms;
            uint64_t now = zkv_now_ms();
            /* A stale-tolerant read leaves half its budget for the replicas, so a hung
             * owner (SIGSTOP, partition) cannot eat the whole call. */
            if (stale_ok && !rt.replica && has_fallback(rt.range) && now < deadline_ms)
                attempt_deadline = now + (deadline_ms - now) / 2;
            char ioerr[ZKV__ERR_MAX] = "";
            int rc = exchange(c, rt.node, req, attempt_deadline, &resp, ioerr, sizeof ioerr);
            /* What a replica says matters less than why the owner failed: keep that. */
            char *msg = rt.replica && last_io ? scratch : last;
            fail_msg = msg;
            if (rc == ZKV_OK) {
                o.event = ZKV__EV_RESPONSE;
                o.status = resp->status;
                o.node_map_version = resp->map_version;
                if (resp->status == ZKV__STATUS__NOT_OWNER)
                    snprintf(msg, ZKV__ERR_MAX,
                             "node %s does not own the key (node map version %llu, ours "
                             "%lld)%s%s",
                             node_id, (unsigned long long)resp->map_version,
                             (long long)st.map_version, resp->message[0] ? ": " : "",
                             resp->message);
                else if (resp->status != ZKV__STATUS__OK && resp->status != ZKV__STATUS__NOT_FOUND)
                    snprintf(msg, ZKV__ERR_MAX, "node %s: %s", node_id,
                             resp->message[0] ? resp->message : zkv_status_name(resp->status));
            } else {
                o.event = ZKV__EV_IO;
                o.io_code = rc;
                if (msg == last)
                    last_io = rc;
                snprintf(msg, ZKV__ERR_MAX, "%s", ioerr);
            }
        } else if (rt.kind == ZKV__ROUTE_ALL_DOWN) {
            o.event = ZKV__EV_ALL_DOWN;
            o.io_code = last_io;
            if (!last_io && rt.not_live)
                snprintf(last, sizeof last, "node %s serving range %s is not live", rt.not_live,
                         rt.range->id);
        } else {
            o.event = ZKV__EV_NO_OWNER;
            if (rt.range)
                snprintf(last, sizeof last, "range %s has no owner", rt.range->id);
            else
                snprintf(last, sizeof last, "map version %lld does not cover the key",
                         (long long)st.map_version);
        }

        st.now_ms = zkv_now_ms();
        zkv__next nx = zkv__route_decide(&o, &st);
        if (nx.kind == ZKV__NEXT_DONE) {
            reply->resp = resp;
            snprintf(reply->node, sizeof reply->node, "%s", node_id);
            zkv__mapsnap_release(snap);
            return nx.code;
        }
        zkv__mapsnap_release(snap);
        if (resp)
            zkv__response__free_unpacked(resp, NULL);
        if (nx.kind == ZKV__NEXT_FAIL) {
            if (nx.code == ZKV_ENOTOWNER)
                return zkv__err(nx.code, err, errlen, "routing did not settle within %llu ms: %s",
                                (unsigned long long)(zkv_now_ms() - started), fail_msg);
            if (nx.code == ZKV_ETIMEOUT && o.event == ZKV__EV_IO)
                return zkv__err(nx.code, err, errlen, "%s within %llu ms", fail_msg,
                                (unsigned long long)(zkv_now_ms() - started));
            return zkv__err(nx.code, err, errlen, "%s",
                            fail_msg[0] ? fail_msg : zkv_strerror(nx.code));
        }
        if (nx.mark_down && node_id[0]) {
            zkv__down_add(&down, node_id);
            if (!o.to_replica || !last_io)
                last_io = nx.code; /* what to report if every candidate ends up skipped */
        }
        if (nx.clear_down)
            zkv__down_clear(&down);
        if (nx.backoff_ms) {
            zkv__sleep_until(nx.backoff_ms, deadline_ms);
            st.retries++;
        }
        if (o.event == ZKV__EV_NO_OWNER)
            st.forced_refresh = true;
        if (nx.refresh) {
            int64_t min_version = o.event == ZKV__EV_RESPONSE ? (int64_t)o.node_map_version : 0;
            zkv__mapcache_refresh(&c->mc, nx.force_refresh, min_version, gen, deadline_ms, NULL, 0);
        }
    }
}
