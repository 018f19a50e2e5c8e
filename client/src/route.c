/* route.c: pure routing decisions (see route.h). Kept free of I/O and clocks so every
 * rule (binary keys at range edges, ownerless ranges, dead owners, NOT_OWNER retries,
 * the time budget) is unit tested with hand-built maps. */
#include <string.h>

#include "zkv/zkv.h"
#include "common/frame.h"
#include "route.h"

void zkv__down_add(zkv__down *d, const char *node_id)
{
    if (zkv__down_has(d, node_id))
        return;
    if (d->n == ZKV__DOWN_MAX) { /* forget the oldest: the set only steers retries */
        memmove(d->ids[0], d->ids[1], sizeof d->ids[0] * (ZKV__DOWN_MAX - 1));
        d->n--;
    }
    size_t len = strnlen(node_id, ZKV_ID_MAX - 1);
    memcpy(d->ids[d->n], node_id, len);
    d->ids[d->n][len] = '\0';
    d->n++;
}

bool zkv__down_has(const zkv__down *d, const char *node_id)
{
    if (!d)
        return false;
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->ids[i], node_id) == 0)
            return true;
    return false;
}

/* Tries one candidate: SEND when live and not down. Remembers a non-live one. */
static bool try_candidate(const zkv_rangemap *m, const char *id, const zkv__down *down,
                          bool replica, zkv__route *out)
{
    if (!id[0] || zkv__down_has(down, id))
        return false;
    const zkv_node_info *n = zkv_rangemap_node(m, id);
    if (!n || !n->addr[0]) {
        if (!out->not_live)
            out->not_live = id;
        return false;
    }
    out->kind = ZKV__ROUTE_SEND;
    out->node = n;
    out->replica = replica;
    return true;
}

void zkv__route_key(const zkv_rangemap *m, const uint8_t *key, size_t klen, zkv__op_kind op,
                    unsigned flags, const zkv__down *down, zkv__route *out)
{
    memset(out, 0, sizeof *out);
    const zkv_range *r = m ? zkv_rangemap_find(m, key, klen) : NULL;
    if (!r) {
        out->kind = ZKV__ROUTE_NO_RANGE;
        return;
    }
    out->range = r;
    bool stale_ok = op == ZKV__READ && (flags & ZKV_FLAG_ALLOW_STALE);
    bool any = r->owner[0] != '\0';
    if (try_candidate(m, r->owner, down, false, out))
        return;
    if (stale_ok) {
        /* Caught-up replicas first, then the others (still flagged stale). */
        for (int i = 0; i < r->n_in_sync; i++) {
            if (strcmp(r->in_sync[i], r->owner) == 0)
                continue;
            any = true;
            if (try_candidate(m, r->in_sync[i], down, true, out))
                return;
        }
        for (int i = 0; i < r->n_replicas; i++) {
            if (strcmp(r->replicas[i], r->owner) == 0 || zkv_range_is_in_sync(r, r->replicas[i]))
                continue;
            any = true;
            if (try_candidate(m, r->replicas[i], down, true, out))
                return;
        }
    }
    out->kind = any ? ZKV__ROUTE_ALL_DOWN : ZKV__ROUTE_NO_OWNER;
}

int zkv__status_to_code(int status)
{
    switch (status) {
    case ZKV__STATUS__OK:
        return ZKV_OK;
    case ZKV__STATUS__NOT_FOUND:
        return ZKV_ENOTFOUND;
    case ZKV__STATUS__NOT_OWNER:
        return ZKV_ENOTOWNER;
    case ZKV__STATUS__UNAVAILABLE:
        return ZKV_EUNAVAILABLE;
    case ZKV__STATUS__TOO_LARGE:
        return ZKV_ETOOLARGE;
    case ZKV__STATUS__BAD_REQUEST:
        return ZKV_EBADREQUEST;
    case ZKV__STATUS__TIMEOUT:
        return ZKV_ETIMEOUT;
    case ZKV__STATUS__INTERNAL:
        return ZKV_EINTERNAL;
    default:
        return ZKV_EPROTOCOL; /* a status this client does not know */
    }
}

unsigned zkv__backoff_ms(unsigned n)
{
    return n >= 5 ? 100u : 5u << n;
}

static zkv__next done(int code)
{
    zkv__next nx = {.kind = ZKV__NEXT_DONE, .code = code};
    return nx;
}

static zkv__next fail(int code)
{
    zkv__next nx = {.kind = ZKV__NEXT_FAIL, .code = code};
    return nx;
}

static zkv__next retry(int code)
{
    zkv__next nx = {.kind = ZKV__NEXT_RETRY, .code = code};
    return nx;
}

static zkv__next decide_response(const zkv__outcome *o, const zkv__call_state *st)
{
    zkv__next nx;
    switch (o->status) {
    case ZKV__STATUS__OK:
        return done(ZKV_OK);
    case ZKV__STATUS__NOT_FOUND:
        return done(ZKV_ENOTFOUND);
    case ZKV__STATUS__NOT_OWNER:
        nx = retry(ZKV_ENOTOWNER);
        nx.refresh = true;
        nx.force_refresh =
            o->node_map_version > (uint64_t)(st->map_version < 0 ? 0 : st->map_version);
        if (o->to_replica) {
            /* That replica does not serve this range: try the next candidate now. */
            nx.mark_down = true;
        } else {
            nx.backoff_ms = zkv__backoff_ms(st->retries);
        }
        return nx;
    case ZKV__STATUS__UNAVAILABLE:
        if (o->to_replica)
            return fail(ZKV_EUNAVAILABLE);
        /* Our map names this node the owner but it cannot serve (starting up, lost its
         * ZooKeeper session, failover under way): a transition, so retry within the
         * budget with a fresh map; a stale-tolerant read tries a replica first. A map
         * that shows no owner at all fails fast through ZKV__EV_NO_OWNER instead. */
        nx = retry(ZKV_EUNAVAILABLE);
        nx.refresh = nx.force_refresh = true;
        if (o->stale_ok)
            nx.mark_down = true;
        else
            nx.backoff_ms = zkv__backoff_ms(st->retries);
        return nx;
    default:
        return fail(zkv__status_to_code(o->status));
    }
}

zkv__next zkv__route_decide(const zkv__outcome *o, const zkv__call_state *st)
{
    zkv__next nx;
    switch (o->event) {
    case ZKV__EV_RESPONSE:
        nx = decide_response(o, st);
        break;
    case ZKV__EV_IO:
        if (o->io_code == ZKV_ECONNECT || o->io_code == ZKV_EUNAVAILABLE ||
            (o->io_code == ZKV_ETIMEOUT && st->now_ms < st->deadline_ms)) {
            /* Unreachable, not ready (refused HELLO while joining), or slower than this
             * attempt's share of the budget: try another candidate, then back off and
             * refresh (ALL_DOWN). */
            nx = retry(o->io_code);
            nx.mark_down = true;
        } else {
            nx = fail(o->io_code);
        }
        break;
    case ZKV__EV_NO_OWNER:
        if (st->forced_refresh)
            return fail(ZKV_EUNAVAILABLE);
        /* Our map may predate the assignment: read it once more before failing. */
        nx = retry(ZKV_EUNAVAILABLE);
        nx.refresh = nx.force_refresh = true;
        break;
    case ZKV__EV_ALL_DOWN:
        nx = retry(o->io_code ? o->io_code : ZKV_ECONNECT);
        nx.clear_down = true;
        nx.refresh = nx.force_refresh = true;
        nx.backoff_ms = zkv__backoff_ms(st->retries);
        break;
    default:
        return fail(ZKV_EINTERNAL);
    }
    if (nx.kind == ZKV__NEXT_RETRY && st->now_ms + nx.backoff_ms >= st->deadline_ms)
        return fail(nx.code);
    return nx;
}
