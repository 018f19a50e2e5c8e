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
#include "value.h"

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

uint64_t zkv__open_deadline(const zkv_client *c, uint64_t now_ms, uint64_t deadline_ms)
{
    uint64_t bound = (uint64_t)(c->opts.failfast_ms > 250 ? c->opts.failfast_ms : 250);
    return now_ms + bound < deadline_ms ? now_ms + bound : deadline_ms;
}

int zkv__exchange(zkv_client *c, const zkv_node_info *node, Zkv__Request *req, bool may_skip,
                  uint64_t open_deadline_ms, uint64_t deadline_ms, Zkv__Response **resp, char *err,
                  size_t errlen)
{
    zkv__conn *conn = zkv__pool_get(&c->pool, node->id, node->addr);
    if (!conn)
        return zkv__err(ZKV_ENOMEM, err, errlen, "out of memory");
    if (may_skip && zkv__conn_skipped(conn, zkv_now_ms())) {
        zkv__conn_unref(conn);
        return zkv__err(ZKV_ECONNECT, err, errlen,
                        "node %s at %s unreachable: failed less than %d ms ago", node->id,
                        node->addr, ZKV__SKIP_MS);
    }
    zkv__hello h = {.cluster_id = c->info.cluster_id,
                    .client_name = c->opts.client_name,
                    .map_version = req->map_version};
    pthread_mutex_lock(&conn->lock);
    int rc = zkv__conn_open(
        conn, &h, open_deadline_ms < deadline_ms ? open_deadline_ms : deadline_ms, err, errlen);
    uint64_t id = 0;
    if (rc == ZKV_OK)
        rc = zkv__conn_send(conn, &req, 1, &id, err, errlen);
    if (rc == ZKV_OK)
        rc = zkv__conn_recv(conn, id, 1, resp, deadline_ms, err, errlen);
    zkv__conn_note(conn, rc, zkv_now_ms());
    pthread_mutex_unlock(&conn->lock);
    zkv__conn_unref(conn);
    return rc;
}

void zkv__attempt_why(const Zkv__Response *resp, const char *ioerr, char *out, size_t outlen)
{
    if (resp)
        snprintf(out, outlen, "%s",
                 resp->message[0] ? resp->message : zkv_status_name(resp->status));
    else
        snprintf(out, outlen, "%s", zkv__short_reason(ioerr));
}

/* True when the range has a node besides the owner that may answer this read. */
static bool has_fallback(const zkv__route *rt)
{
    return rt->n_candidates > 1;
}

int zkv__call(zkv_client *c, Zkv__Request *req, const uint8_t *rkey, size_t rklen, zkv__op_kind op,
              unsigned flags, uint64_t deadline_ms, zkv__reply *reply, char *err, size_t errlen)
{
    zkv__down down = {.n = 0};
    zkv__call_state st = {.deadline_ms = deadline_ms, .failfast_ms = (unsigned)c->opts.failfast_ms};
    char last[ZKV__ERR_MAX] = ""; /* the last failure, in full */
    char owner_why[ZKV__WHY_MAX] = "", replica_why[ZKV__WHY_MAX] = ""; /* for EUNAVAILABLE */
    bool owner_answered = false;
    bool fallback = op == ZKV__READ && !(flags & ZKV_FLAG_OWNER_ONLY);
    bool read_replica = op == ZKV__READ && (flags & ZKV_FLAG_READ_REPLICA);
    uint64_t started = zkv_now_ms();

    for (;;) {
        uint64_t gen = atomic_load(&c->mc.gen);
        zkv__mapsnap *snap = zkv__mapcache_get(&c->mc, deadline_ms);
        zkv__route rt;
        zkv__route_key(snap->map, rkey, rklen, op, flags, c->opts.zone, &down, &rt);
        zkv__outcome o = {.fallback = fallback,
                          .to_replica = rt.replica,
                          .owner = rt.range ? rt.range->owner : "",
                          .owner_live = rt.owner == ZKV__OWNER_LIVE};
        Zkv__Response *resp = NULL;
        char node_id[ZKV_ID_MAX] = "";
        st.map_version = snap->map->version;

        if (rt.kind == ZKV__ROUTE_SEND) {
            zkv__copy_str(node_id, sizeof node_id, rt.node->id);
            req->map_version = st.map_version > 0 ? (uint64_t)st.map_version : 0;
            req->flags = zkv__wire_flags(op, flags, rt.replica);
            uint64_t attempt_deadline = deadline_ms;
            uint64_t now = zkv_now_ms();
            /* A read that may fall back leaves half its budget for the replicas, so a hung
             * owner (SIGSTOP, partition) cannot eat the whole call. */
            bool may_skip = fallback && has_fallback(&rt) && st.retries == 0;
            if (fallback && has_fallback(&rt) && !rt.replica && now < deadline_ms)
                attempt_deadline = now + (deadline_ms - now) / 2;
            char ioerr[ZKV__ERR_MAX] = "";
            int rc = zkv__exchange(c, rt.node, req, may_skip,
                                   zkv__open_deadline(c, now, attempt_deadline), attempt_deadline,
                                   &resp, ioerr, sizeof ioerr);
            if (rc == ZKV_OK) {
                o.event = ZKV__EV_RESPONSE;
                o.status = resp->status;
                o.node_map_version = resp->map_version;
                if (resp->status == ZKV__STATUS__NOT_OWNER)
                    snprintf(last, sizeof last,
                             "node %s does not own the key (node map version %llu, ours "
                             "%lld)%s%s",
                             node_id, (unsigned long long)resp->map_version,
                             (long long)st.map_version, resp->message[0] ? ": " : "",
                             resp->message);
                else if (resp->status != ZKV__STATUS__OK && resp->status != ZKV__STATUS__NOT_FOUND)
                    snprintf(last, sizeof last, "node %s: %s", node_id,
                             resp->message[0] ? resp->message : zkv_status_name(resp->status));
                if (resp->status == ZKV__STATUS__UNAVAILABLE) {
                    if (rt.replica) {
                        snprintf(replica_why, sizeof replica_why, "node %s: %s", node_id,
                                 resp->message[0] ? resp->message : "UNAVAILABLE");
                    } else {
                        zkv__attempt_why(resp, NULL, owner_why, sizeof owner_why);
                        owner_answered = true;
                    }
                }
            } else {
                o.event = ZKV__EV_IO;
                o.io_code = rc;
                snprintf(last, sizeof last, "%s", ioerr);
                if (rt.replica) {
                    snprintf(replica_why, sizeof replica_why, "node %s: %s", node_id,
                             zkv__short_reason(ioerr));
                } else {
                    zkv__attempt_why(NULL, ioerr, owner_why, sizeof owner_why);
                    owner_answered = false;
                }
            }
        } else if (rt.kind == ZKV__ROUTE_ALL_DOWN) {
            o.event = ZKV__EV_ALL_DOWN;
        } else {
            o.event = ZKV__EV_NO_OWNER;
            if (!rt.range)
                snprintf(last, sizeof last, "map version %lld does not cover the key",
                         (long long)st.map_version);
        }

        st.now_ms = zkv_now_ms();
        zkv__next nx = zkv__route_decide(&o, &st);
        if (nx.kind == ZKV__NEXT_DONE) {
            reply->resp = resp;
            reply->replica = rt.replica;
            zkv__copy_str(reply->node, sizeof reply->node, node_id);
            zkv__mapsnap_release(snap);
            return nx.code;
        }
        if (resp)
            zkv__response__free_unpacked(resp, NULL);
        if (nx.kind == ZKV__NEXT_FAIL) {
            int rc;
            if (nx.unserved && rt.range) {
                char msg[ZKV__ERR_MAX];
                size_t n_owner = rt.range->owner[0] && !read_replica ? 1 : 0;
                zkv__unserved u = {.range = rt.range->id,
                                   .owner = rt.range->owner,
                                   .state = rt.owner,
                                   .owner_why = owner_why,
                                   .owner_answered = owner_answered,
                                   .fallback = fallback,
                                   .read_replica = read_replica,
                                   .n_replicas = fallback ? rt.n_candidates - n_owner : 0,
                                   .replica_why = replica_why};
                zkv__unavailable_message(&u, op, msg, sizeof msg);
                rc = zkv__err(nx.code, err, errlen, "%s", msg);
            } else if (nx.code == ZKV_ENOTOWNER) {
                rc = zkv__err(nx.code, err, errlen, "routing did not settle within %llu ms: %s",
                              (unsigned long long)(zkv_now_ms() - started), last);
            } else if (nx.code == ZKV_ETIMEOUT && o.event == ZKV__EV_IO) {
                rc = zkv__err(nx.code, err, errlen, "%s within %llu ms", last,
                              (unsigned long long)(zkv_now_ms() - started));
            } else {
                rc = zkv__err(nx.code, err, errlen, "%s", last[0] ? last : zkv_strerror(nx.code));
            }
            zkv__mapsnap_release(snap);
            return rc;
        }
        if (nx.unserved) {
            st.unserved_since = nx.unserved_since;
            snprintf(st.unserved_owner, sizeof st.unserved_owner, "%s", o.owner);
        }
        zkv__mapsnap_release(snap);
        if (nx.mark_down && node_id[0])
            zkv__down_add(&down, node_id);
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
