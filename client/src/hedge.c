/* hedge.c: a hedged read for the blocking client (ZKV_FLAG_HEDGE; docs/api.md, "Replica
 * reads"). The request goes to the owner; when no answer came within the hedge delay it
 * goes to a replica as well and the first usable answer wins. The replica is asked on the
 * client's second set of connections (hedge_pool): a thread then holds at most one
 * connection of each set, always the main one first, so two hedging threads cannot wait
 * on each other's locks. The losing request is abandoned: its answer is dropped when it
 * comes and the connection stays open. */
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "common/util.h"
#include "client.h"
#include "hedge.h"

/* One of the (at most two) requests of a hedged read. */
typedef struct leg {
    zkv__conn *conn;
    uint64_t id;
    Zkv__Response *resp;
    size_t got;
    int rc;    /* ZKV_OK while waiting or answered; the failure otherwise */
    bool live; /* sent and neither answered nor failed */
    char err[ZKV__ERR_MAX];
} leg;

/* Opens (if needed) and sends req on l's connection (its lock held by the caller). */
static void leg_send(zkv_client *c, leg *l, Zkv__Request *req, uint64_t open_deadline_ms)
{
    zkv__hello h = {.cluster_id = c->info.cluster_id,
                    .client_name = c->opts.client_name,
                    .auth = c->opts.auth,
                    .map_version = req->map_version};
    l->rc = zkv__conn_open(l->conn, &h, open_deadline_ms, l->err, sizeof l->err);
    if (l->rc == ZKV_OK)
        l->rc = zkv__conn_send(l->conn, &req, 1, &l->id, l->err, sizeof l->err);
    l->live = l->rc == ZKV_OK;
}

/* Waits until a live leg has an answer or failed, or until `until`. Returns the leg that
 * completed (answered, or failed: rc), or NULL at `until`. */
static leg *wait_legs(leg *legs, size_t n, uint64_t until)
{
    for (;;) {
        struct pollfd p[2];
        leg *at[2];
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            leg *l = &legs[i];
            if (!l->live)
                continue;
            l->rc = zkv__conn_take(l->conn, l->id, 1, &l->resp, &l->got, l->err, sizeof l->err);
            if (l->rc != ZKV_OK || l->got) {
                l->live = false;
                return l;
            }
            p[k] = (struct pollfd){.fd = l->conn->s.fd, .events = zkv__conn_events(l->conn)};
            at[k++] = l;
        }
        if (!k)
            return NULL;
        uint64_t now = zkv_now_ms();
        int ms = now >= until ? 0 : (until - now > 1000000 ? 1000000 : (int)(until - now));
        int rc = poll(p, k, ms);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc == 0)
            return NULL;
        for (size_t i = 0; i < k; i++) {
            leg *l = at[i];
            int ev = rc < 0 ? -1 : p[i].revents;
            if (ev == 0)
                continue;
            l->rc = ev < 0 ? zkv__conn_fail_wait(l->conn, -1, l->err, sizeof l->err)
                           : zkv__conn_io(l->conn, (short)ev, l->err, sizeof l->err);
            if (l->rc != ZKV_OK) {
                l->live = false;
                return l;
            }
        }
    }
}

/* Whether a replica's answer settles the read (a value or its absence); anything else
 * (too stale, not a replica of the range any more, rebuilding) leaves it to the owner. */
static bool replica_settles(const Zkv__Response *r)
{
    return r->status == ZKV__STATUS__OK || r->status == ZKV__STATUS__NOT_FOUND;
}

int zkv__hedged_exchange(zkv_client *c, const zkv__hedge *hg, Zkv__Request *req,
                         Zkv__Response **resp, bool *replica_won, char *err, size_t errlen)
{
    *resp = NULL;
    *replica_won = false;
    leg legs[2];
    memset(legs, 0, sizeof legs);
    leg *own = &legs[0], *rep = &legs[1];
    own->conn = zkv__pool_get(&c->pool, hg->owner->id, hg->owner->addr);
    if (!own->conn)
        return zkv__err(ZKV_ENOMEM, err, errlen, "out of memory");
    pthread_mutex_lock(&own->conn->lock);
    /* connecting and HELLO count against the hedge delay too: an owner that cannot finish
     * them by then is left (not marked as failed) and the replica asked */
    bool hedged = hg->replica != NULL;
    uint64_t hedge_at = hg->hedge_at_ms < hg->deadline_ms ? hg->hedge_at_ms : hg->deadline_ms;
    leg_send(c, own, req,
             hedged && hedge_at < hg->open_deadline_ms ? hedge_at : hg->open_deadline_ms);
    bool open_slow = hedged && !own->live && own->rc == ZKV_ETIMEOUT;
    leg *done = own->live ? wait_legs(legs, 1, hedge_at) : open_slow ? NULL : own;
    if (!done && hg->replica && zkv_now_ms() < hg->deadline_ms) {
        rep->conn = zkv__pool_get(&c->hedge_pool, hg->replica->id, hg->replica->addr);
        if (rep->conn) {
            pthread_mutex_lock(&rep->conn->lock);
            zkv__stamp(req, ZKV__READ, hg->flags, true, &c->opts);
            uint64_t now = zkv_now_ms();
            leg_send(c, rep, req, zkv__open_deadline(c, now, hg->deadline_ms));
            zkv__stamp(req, ZKV__READ, hg->flags, false, &c->opts);
        }
    }
    while (!done || (done == rep && !(rep->rc == ZKV_OK && replica_settles(rep->resp)))) {
        if (done == rep) { /* the replica could not settle it: wait for the owner alone */
            zkv__response_free(rep->resp);
            rep->resp = NULL;
        }
        done = wait_legs(legs, 2, hg->deadline_ms);
        if (!done) { /* the call's time is up (or nothing is left to wait for) */
            if (own->live)
                own->rc = zkv__conn_fail_wait(own->conn, 0, own->err, sizeof own->err);
            own->live = false;
            done = own; /* the owner's silence or failure is the read's */
        } else if (done == own && own->rc != ZKV_OK && rep->live) {
            done = NULL; /* the owner failed: the replica may still answer */
        }
    }
    if (done == rep) {
        *replica_won = true;
        if (own->live)
            zkv__conn_abandon(own->conn, own->id);
    } else if (rep->live) {
        zkv__conn_abandon(rep->conn, rep->id);
    }
    int rc = done->rc;
    *resp = done->resp;
    done->resp = NULL;
    if (rc != ZKV_OK)
        zkv__err(rc, err, errlen, "%s", done->err);
    if (!open_slow && (done == own || own->rc != ZKV_OK))
        zkv__conn_note(own->conn, own->rc, zkv_now_ms());
    zkv__response_free(rep->resp);
    zkv__response_free(own->resp);
    if (rep->conn) {
        pthread_mutex_unlock(&rep->conn->lock);
        zkv__conn_unref(rep->conn);
    }
    pthread_mutex_unlock(&own->conn->lock);
    zkv__conn_unref(own->conn);
    return rc;
}
