/* call.c: the routed-request loop shared by get, put, delete and each page of a scan.
 * It carries out what route.c decides: pick a node from the cached map, exchange one
 * request over that node's pooled connection (its mutex held for just that exchange, so
 * threads talking to different nodes run in parallel), and on NOT_OWNER, an unreachable
 * node or an ownerless range refresh the map and retry with backoff until the deadline.
 * Every rule (the attempt's budget, what a retry changes, the wording of the final error)
 * is route.c's, shared with the asynchronous loop (async_route.c); only the waiting
 * (sleeping, blocking on the map) is this file's own. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/util.h"
#include "client.h"
#include "error.h"
#include "hedge.h"
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

/* ZKV_ECONNECT (with err) when reads that replicas can answer skip node now. */
static int skipped(const zkv_node_info *node, zkv__conn *conn, char *err, size_t errlen)
{
    if (!zkv__conn_skipped(conn, zkv_now_ms()))
        return ZKV_OK;
    return zkv__err(ZKV_ECONNECT, err, errlen,
                    "node %s at %s unreachable: failed less than %d ms ago", node->id, node->addr,
                    ZKV__SKIP_MS);
}

int zkv__exchange(zkv_client *c, const zkv_node_info *node, Zkv__Request *req, bool may_skip,
                  uint64_t open_deadline_ms, uint64_t deadline_ms, Zkv__Response **resp, char *err,
                  size_t errlen)
{
    zkv__conn *conn = zkv__pool_get(&c->pool, node->id, node->addr);
    if (!conn)
        return zkv__err(ZKV_ENOMEM, err, errlen, "out of memory");
    if (may_skip && skipped(node, conn, err, errlen) != ZKV_OK) {
        zkv__conn_unref(conn);
        return ZKV_ECONNECT;
    }
    zkv__hello h = {.cluster_id = c->info.cluster_id,
                    .client_name = c->opts.client_name,
                    .auth = c->opts.auth,
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

/* Where the call stands after one attempt: the response (if any) and the node that gave
 * it (the one asked, or the replica a hedged read also asked). */
typedef struct attempt_result {
    Zkv__Response *resp;
    char node[ZKV_ID_MAX];
    bool replica; /* node is a replica */
} attempt_result;

/* The exchange of one attempt: with a hedge target (a read to the owner with
 * ZKV_FLAG_HEDGE), a hedged one (hedge.h), else a plain one. */
static int exchange(zkv_client *c, const zkv__route *rt, const zkv_node_info *hedge_to,
                    unsigned flags, Zkv__Request *req, zkv__attempt at, uint64_t now,
                    attempt_result *res, char *err, size_t errlen)
{
    uint64_t open_deadline = zkv__open_deadline(c, now, at.deadline_ms);
    if (!hedge_to)
        return zkv__exchange(c, rt->node, req, at.may_skip, open_deadline, at.deadline_ms,
                             &res->resp, err, errlen);
    zkv__conn *conn = at.may_skip ? zkv__pool_get(&c->pool, rt->node->id, rt->node->addr) : NULL;
    int rc = conn ? skipped(rt->node, conn, err, errlen) : ZKV_OK;
    zkv__conn_unref(conn);
    if (rc != ZKV_OK)
        return rc;
    /* the owner's share of the budget is the call's: the replica is asked meanwhile */
    zkv__hedge hg = {.owner = rt->node,
                     .replica = hedge_to,
                     .flags = flags,
                     .hedge_at_ms = now + (uint64_t)c->opts.hedge_ms,
                     .open_deadline_ms = open_deadline,
                     .deadline_ms = at.deadline_ms};
    bool replica_won = false;
    rc = zkv__hedged_exchange(c, &hg, req, &res->resp, &replica_won, err, errlen);
    if (replica_won) {
        zkv__copy_str(res->node, sizeof res->node, hedge_to->id);
        res->replica = true;
    }
    return rc;
}

/* Sends req to rt's node (rt->kind SEND) and fills o with what happened; a failure is
 * recorded in f for the final error's message. */
static void attempt(zkv_client *c, Zkv__Request *req, zkv__op_kind op, unsigned flags,
                    const zkv__route *rt, const zkv_node_info *hedge_to, const zkv__call_state *st,
                    zkv__outcome *o, zkv__failures *f, attempt_result *res)
{
    zkv__copy_str(res->node, sizeof res->node, rt->node->id);
    res->replica = rt->replica;
    req->map_version = st->map_version > 0 ? (uint64_t)st->map_version : 0;
    zkv__stamp(req, op, flags, rt->replica, &c->opts);
    uint64_t now = zkv_now_ms();
    zkv__attempt at = zkv__attempt_plan(rt, o->fallback, st, now);
    if (hedge_to)
        at.deadline_ms = st->deadline_ms;
    char ioerr[ZKV__ERR_MAX] = "";
    int rc = exchange(c, rt, hedge_to, flags, req, at, now, res, ioerr, sizeof ioerr);
    o->to_replica = res->replica;
    if (rc != ZKV_OK) {
        o->event = ZKV__EV_IO;
        o->io_code = rc;
        zkv__failures_note(f, res->node, rt->replica, false, ioerr, zkv__short_reason(ioerr));
        return;
    }
    const Zkv__Response *resp = res->resp;
    o->event = ZKV__EV_RESPONSE;
    o->status = resp->status;
    o->node_map_version = resp->map_version;
    if (resp->status == ZKV__STATUS__OK || resp->status == ZKV__STATUS__NOT_FOUND)
        return;
    char text[ZKV__ERR_MAX], why[ZKV__WHY_MAX];
    zkv__answer_text(resp->status, resp->message, resp->map_version, res->node, st->map_version,
                     text, sizeof text);
    if (zkv__node_refusal(resp->status)) {
        zkv__attempt_why(resp, NULL, why, sizeof why);
        zkv__failures_note(f, res->node, rt->replica, true, text, why);
    } else {
        zkv__copy_str(f->last, sizeof f->last, text);
    }
}

int zkv__call(zkv_client *c, Zkv__Request *req, const uint8_t *rkey, size_t rklen, zkv__op_kind op,
              unsigned flags, uint64_t deadline_ms, zkv__reply *reply, char *err, size_t errlen)
{
    zkv__down down = {.n = 0};
    zkv__call_state st = {.deadline_ms = deadline_ms, .failfast_ms = (unsigned)c->opts.failfast_ms};
    zkv__failures f; /* what the final error says; last is the last failure, in full */
    f.owner_answered = f.replica_answered = false;
    f.owner_why[0] = f.replica_why[0] = f.last[0] = '\0';
    bool fallback = zkv__may_fall_back(op, flags);
    uint64_t started = zkv_now_ms();

    for (;;) {
        uint64_t gen = atomic_load(&c->mc.gen);
        zkv__mapsnap *snap = zkv__mapcache_get(&c->mc, deadline_ms);
        zkv__route rt;
        unsigned rflags = zkv__route_flags(flags, &c->opts);
        zkv__route_key(snap->map, rkey, rklen, op, rflags, c->opts.zone, &down, &rt);
        zkv__outcome o = zkv__route_outcome(&rt, fallback);
        attempt_result res = {.resp = NULL, .node = ""};
        st.map_version = snap->map->version;

        if (rt.kind == ZKV__ROUTE_SEND)
            attempt(c, req, op, flags, &rt,
                    zkv__hedge_target(snap->map, &rt, op, rflags, c->opts.zone, &down), &st, &o, &f,
                    &res);
        else
            o.event = rt.kind == ZKV__ROUTE_ALL_DOWN ? ZKV__EV_ALL_DOWN : ZKV__EV_NO_OWNER;

        st.now_ms = zkv_now_ms();
        zkv__next nx = zkv__route_decide(&o, &st);
        if (nx.kind == ZKV__NEXT_DONE) {
            reply->resp = res.resp;
            reply->replica = res.replica;
            zkv__copy_str(reply->node, sizeof reply->node, res.node);
            zkv__mapsnap_release(snap);
            return nx.code;
        }
        if (res.resp)
            zkv__response_free(res.resp);
        if (nx.kind == ZKV__NEXT_FAIL) {
            char msg[ZKV__ERR_MAX];
            zkv__fail_text(&nx, o.event, &rt, op, flags, st.map_version, &f, f.last,
                           zkv_now_ms() - started, msg, sizeof msg);
            zkv__mapsnap_release(snap);
            return zkv__err(nx.code, err, errlen, "%s", msg);
        }
        zkv__retry_note(&st, &down, &o, &nx, res.node); /* o.owner points into snap */
        zkv__mapsnap_release(snap);
        if (nx.backoff_ms)
            zkv__sleep_until(nx.backoff_ms, deadline_ms);
        if (nx.refresh) {
            int64_t min_version = o.event == ZKV__EV_RESPONSE ? (int64_t)o.node_map_version : 0;
            zkv__mapcache_refresh(&c->mc, nx.force_refresh, min_version, gen, deadline_ms, NULL, 0);
        }
    }
}
