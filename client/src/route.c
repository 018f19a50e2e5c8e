/* route.c: pure routing decisions (see route.h). Kept free of I/O and clocks so every
 * rule (binary keys at range edges, ownerless ranges, dead owners, replica fallback and
 * its order, NOT_OWNER retries, failfast, the time budget, the wording of the final
 * error) is unit tested with hand-built maps, and the blocking loop (call.c) and the
 * asynchronous one (async_route.c) share every rule instead of each keeping a copy. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "zkv/zkv.h"
#include "common/frame.h"
#include "options.h"
#include "route.h"

int zkv__flags_check(unsigned flags, char *err, size_t errlen)
{
    if (flags & ~(unsigned)ZKV__FLAGS_ALL) {
        snprintf(err, errlen, "unknown flag bits 0x%x", flags & ~(unsigned)ZKV__FLAGS_ALL);
        return -1;
    }
    static const struct {
        unsigned a, b;
        const char *text;
    } excl[] = {
        {ZKV_FLAG_READ_REPLICA, ZKV_FLAG_OWNER_ONLY,
         "ZKV_FLAG_READ_REPLICA and ZKV_FLAG_OWNER_ONLY"},
        {ZKV_FLAG_READ_NEAREST, ZKV_FLAG_OWNER_ONLY,
         "ZKV_FLAG_READ_NEAREST and ZKV_FLAG_OWNER_ONLY"},
        {ZKV_FLAG_HEDGE, ZKV_FLAG_OWNER_ONLY, "ZKV_FLAG_HEDGE and ZKV_FLAG_OWNER_ONLY"},
        {ZKV_FLAG_READ_NEAREST, ZKV_FLAG_READ_REPLICA,
         "ZKV_FLAG_READ_NEAREST and ZKV_FLAG_READ_REPLICA"},
        {ZKV_FLAG_HEDGE, ZKV_FLAG_READ_REPLICA, "ZKV_FLAG_HEDGE and ZKV_FLAG_READ_REPLICA"},
    };
    for (size_t i = 0; i < sizeof excl / sizeof excl[0]; i++)
        if ((flags & excl[i].a) && (flags & excl[i].b)) {
            snprintf(err, errlen, "%s exclude each other", excl[i].text);
            return -1;
        }
    return 0;
}

unsigned zkv__route_flags(unsigned flags, const struct zkv_options *o)
{
    return flags | (o && (o->max_lag_ms || o->max_lag_entries) ? ZKV__FLAG_BOUNDED : 0);
}

bool zkv__may_fall_back(zkv__op_kind op, unsigned flags)
{
    return op == ZKV__READ && !(flags & ZKV_FLAG_OWNER_ONLY);
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t len = strnlen(src, cap - 1);
    memcpy(dst, src, len);
    dst[len] = '\0';
}

void zkv__down_add_why(zkv__down *d, const char *node_id, const char *why)
{
    size_t i = 0;
    while (i < d->n && strcmp(d->ids[i], node_id) != 0)
        i++;
    if (i == d->n) {
        if (d->n == ZKV__DOWN_MAX) { /* forget the oldest: the set only steers retries */
            memmove(d->ids[0], d->ids[1], sizeof d->ids[0] * (ZKV__DOWN_MAX - 1));
            memmove(d->why[0], d->why[1], sizeof d->why[0] * (ZKV__DOWN_MAX - 1));
            d->n--;
        }
        i = d->n++;
        copy_str(d->ids[i], sizeof d->ids[i], node_id);
        d->why[i][0] = '\0';
    }
    if (why && why[0])
        copy_str(d->why[i], sizeof d->why[i], why);
}

void zkv__down_add(zkv__down *d, const char *node_id)
{
    zkv__down_add_why(d, node_id, NULL);
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

const char *zkv__down_why(const zkv__down *d, const char *node_id)
{
    for (size_t i = 0; d && i < d->n; i++)
        if (strcmp(d->ids[i], node_id) == 0)
            return d->why[i];
    return "";
}

const char *zkv__short_reason(const char *err)
{
    const char *p = NULL, *s = err;
    while ((s = strstr(s, ": ")) != NULL)
        p = s += 2;
    return p && *p ? p : err;
}

/* --- candidates --------------------------------------------------------------------------- */

static bool in_zone(const zkv_rangemap *m, const char *id, const char *zone)
{
    const zkv_node_info *n = zkv_rangemap_node(m, id);
    return zone && zone[0] && n && strcmp(n->zone, zone) == 0;
}

/* Sort key of a replica candidate: lower asks first. */
static int replica_rank(const zkv_rangemap *m, const zkv_range *r, const char *id, const char *zone)
{
    return (zkv_range_is_in_sync(r, id) ? 0 : 1) +
           (zone && zone[0] && !in_zone(m, id, zone) ? 2 : 0);
}

/* Moves the owner (out[0]) behind the replicas of the client's zone for
 * ZKV_FLAG_READ_NEAREST when it is not in that zone itself. */
static void nearest_order(const zkv_rangemap *m, const char *zone, zkv__cand *out, size_t n)
{
    if (n < 2 || out[0].replica || in_zone(m, out[0].id, zone))
        return;
    size_t near = 1;
    while (near < n && in_zone(m, out[near].id, zone))
        near++;
    zkv__cand owner = out[0];
    memmove(&out[0], &out[1], (near - 1) * sizeof out[0]);
    out[near - 1] = owner;
}

size_t zkv__route_candidates(const zkv_rangemap *m, const zkv_range *r, zkv__op_kind op,
                             unsigned flags, const char *zone, zkv__cand *out)
{
    size_t n = 0;
    bool read_replica = op == ZKV__READ && (flags & ZKV_FLAG_READ_REPLICA);
    bool fallback = zkv__may_fall_back(op, flags);
    if (r->owner[0] && !read_replica)
        out[n++] = (zkv__cand){.id = r->owner, .replica = false};
    if (!fallback)
        return n;
    size_t first = n;
    int ranks[ZKV__CAND_MAX];
    for (int i = 0; i < r->n_replicas && n < ZKV__CAND_MAX; i++) {
        const char *id = r->replicas[i];
        if (!id[0] || strcmp(id, r->owner) == 0)
            continue;
        bool dup = false;
        for (size_t j = first; j < n; j++)
            dup |= strcmp(out[j].id, id) == 0;
        if (dup)
            continue;
        /* insertion by (rank, id) */
        int rank = replica_rank(m, r, id, zone);
        size_t at = n;
        while (at > first && (ranks[at - 1] > rank ||
                              (ranks[at - 1] == rank && strcmp(out[at - 1].id, id) > 0))) {
            out[at] = out[at - 1];
            ranks[at] = ranks[at - 1];
            at--;
        }
        out[at] = (zkv__cand){.id = id, .replica = true};
        ranks[at] = rank;
        n++;
    }
    if (read_replica && (flags & ZKV__FLAG_BOUNDED) && r->owner[0] && n < ZKV__CAND_MAX)
        out[n++] = (zkv__cand){.id = r->owner, .replica = false}; /* replicas too stale */
    if (op == ZKV__READ && (flags & ZKV_FLAG_READ_NEAREST))
        nearest_order(m, zone, out, n);
    return n;
}

void zkv__route_key(const zkv_rangemap *m, const uint8_t *key, size_t klen, zkv__op_kind op,
                    unsigned flags, const char *zone, const zkv__down *down, zkv__route *out)
{
    memset(out, 0, sizeof *out);
    const zkv_range *r = m ? zkv_rangemap_find(m, key, klen) : NULL;
    if (!r) {
        out->kind = ZKV__ROUTE_NO_RANGE;
        out->owner = ZKV__OWNER_NONE;
        return;
    }
    out->range = r;
    if (!r->owner[0])
        out->owner = ZKV__OWNER_NONE;
    else {
        const zkv_node_info *o = zkv_rangemap_node(m, r->owner);
        out->owner = o && o->addr[0] ? ZKV__OWNER_LIVE : ZKV__OWNER_NOT_LIVE;
    }
    zkv__cand cands[ZKV__CAND_MAX];
    size_t n = zkv__route_candidates(m, r, op, flags, zone, cands);
    out->n_candidates = n;
    for (size_t i = 0; i < n; i++) {
        if (zkv__down_has(down, cands[i].id))
            continue;
        const zkv_node_info *node = zkv_rangemap_node(m, cands[i].id);
        if (!node || !node->addr[0]) {
            if (!out->not_live)
                out->not_live = cands[i].id;
            continue;
        }
        out->kind = ZKV__ROUTE_SEND;
        out->node = node;
        out->replica = cands[i].replica;
        return;
    }
    out->kind = n ? ZKV__ROUTE_ALL_DOWN : ZKV__ROUTE_NO_OWNER;
}

uint32_t zkv__wire_flags(zkv__op_kind op, unsigned flags, bool to_replica)
{
    if (op == ZKV__WRITE)
        return (flags & ZKV_FLAG_ACK_OWNER) ? ZKV__REQUEST_FLAG__FLAG_ACK_OWNER : 0;
    return to_replica ? ZKV__REQUEST_FLAG__FLAG_ALLOW_STALE : 0;
}

void zkv__stamp(Zkv__Request *req, zkv__op_kind op, unsigned flags, bool to_replica,
                const struct zkv_options *o)
{
    req->flags = zkv__wire_flags(op, flags, to_replica);
    bool bound = op == ZKV__READ && to_replica && o;
    req->max_lag_ms = bound ? o->max_lag_ms : 0;
    req->max_lag_entries = bound ? o->max_lag_entries : 0;
}

const zkv_node_info *zkv__hedge_target(const zkv_rangemap *m, const zkv__route *rt, zkv__op_kind op,
                                       unsigned flags, const char *zone, const zkv__down *down)
{
    if (op != ZKV__READ || !(flags & ZKV_FLAG_HEDGE) || rt->kind != ZKV__ROUTE_SEND ||
        rt->replica || !rt->range)
        return NULL;
    zkv__cand cands[ZKV__CAND_MAX];
    size_t n = zkv__route_candidates(m, rt->range, op, flags, zone, cands);
    for (size_t i = 0; i < n; i++) {
        const zkv_node_info *node = zkv_rangemap_node(m, cands[i].id);
        if (cands[i].replica && !zkv__down_has(down, cands[i].id) && node && node->addr[0] &&
            node != rt->node)
            return node;
    }
    return NULL;
}

bool zkv__node_refusal(int status)
{
    return status == ZKV__STATUS__UNAVAILABLE || status == ZKV__STATUS__TOO_STALE;
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
    case ZKV__STATUS__TOO_STALE:
        return ZKV_EUNAVAILABLE;
    case ZKV__STATUS__TOO_LARGE:
        return ZKV_ETOOLARGE;
    case ZKV__STATUS__BAD_REQUEST:
        return ZKV_EBADREQUEST;
    case ZKV__STATUS__TIMEOUT:
        return ZKV_ETIMEOUT;
    case ZKV__STATUS__INTERNAL:
        return ZKV_EINTERNAL;
    case ZKV__STATUS__WRONG_CLUSTER:
        return ZKV_ENOCLUSTER;
    case ZKV__STATUS__AUTH_FAILED:
        return ZKV_EAUTH;
    case ZKV__STATUS__CONDITION_FAILED:
        return ZKV_ECONDITION;
    case ZKV__STATUS__STALE_EPOCH:  /* replication traffic: never an answer to a client */
    case ZKV__STATUS__LOG_MISMATCH: /* request, so the peer is confused */
    default:
        return ZKV_EPROTOCOL; /* a status this client does not know */
    }
}

unsigned zkv__backoff_ms(unsigned n)
{
    return n >= 5 ? 100u : 5u << n;
}

bool zkv__failfast_expired(uint64_t since_ms, uint64_t now_ms, unsigned failfast_ms, bool new_owner)
{
    if (new_owner)
        return false;
    return now_ms >= since_ms && now_ms - since_ms >= failfast_ms;
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

/* No node can serve the operation now: wait for a new owner, refreshing the map, until
 * failfast runs out. */
static zkv__next unserved(const zkv__outcome *o, const zkv__call_state *st)
{
    const char *owner = o->owner ? o->owner : "";
    bool new_owner = st->unserved_since && o->owner_live && strcmp(owner, st->unserved_owner) != 0;
    uint64_t first = st->unserved_since ? st->unserved_since : st->now_ms;
    uint64_t since = new_owner ? st->now_ms : first;
    zkv__next nx;
    if (zkv__failfast_expired(first, st->now_ms, st->failfast_ms, new_owner)) {
        nx = fail(ZKV_EUNAVAILABLE);
    } else {
        nx = retry(ZKV_EUNAVAILABLE);
        nx.clear_down = true;
        nx.refresh = nx.force_refresh = true;
        nx.backoff_ms = zkv__backoff_ms(st->retries);
    }
    nx.unserved = true;
    nx.unserved_since = since;
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
    case ZKV__STATUS__CONDITION_FAILED:
        return done(ZKV_ECONDITION); /* the answer says the key's version: hand it over */
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
    case ZKV__STATUS__TOO_STALE: /* further behind than the bound: the next candidate */
        nx = retry(ZKV_EUNAVAILABLE);
        nx.mark_down = true;
        return nx;
    case ZKV__STATUS__UNAVAILABLE:
        if (o->to_replica || o->fallback) {
            /* A fenced owner, or a replica that cannot answer: the next candidate. */
            nx = retry(ZKV_EUNAVAILABLE);
            nx.mark_down = true;
            return nx;
        }
        /* The owner cannot serve (fenced, starting up, failover under way, too few
         * in-sync copies): like an unreachable owner, wait for a change for failfast. */
        return unserved(o, st);
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
             * attempt's share of the budget: try another candidate; with none left the
             * route says ALL_DOWN, which waits for a new owner. */
            nx = retry(o->io_code);
            nx.mark_down = true;
        } else {
            nx = fail(o->io_code);
        }
        break;
    case ZKV__EV_NO_OWNER:
    case ZKV__EV_ALL_DOWN:
        nx = unserved(o, st);
        break;
    default:
        return fail(ZKV_EINTERNAL);
    }
    if (nx.kind == ZKV__NEXT_RETRY && st->now_ms + nx.backoff_ms >= st->deadline_ms) {
        nx.kind = ZKV__NEXT_FAIL;
        nx.mark_down = nx.clear_down = nx.refresh = nx.force_refresh = false;
        nx.backoff_ms = 0;
    }
    return nx;
}

zkv__attempt zkv__attempt_plan(const zkv__route *rt, bool fallback, const zkv__call_state *st,
                               uint64_t now_ms)
{
    bool has_fallback = fallback && rt->n_candidates > 1;
    zkv__attempt at = {.deadline_ms = st->deadline_ms,
                       .may_skip = has_fallback && st->retries == 0};
    if (has_fallback && !rt->replica && now_ms < st->deadline_ms)
        at.deadline_ms = now_ms + (st->deadline_ms - now_ms) / 2;
    return at;
}

zkv__outcome zkv__route_outcome(const zkv__route *rt, bool fallback)
{
    zkv__outcome o = {.fallback = fallback,
                      .to_replica = rt->replica,
                      .owner = rt->range ? rt->range->owner : "",
                      .owner_live = rt->owner == ZKV__OWNER_LIVE};
    return o;
}

void zkv__retry_note(zkv__call_state *st, zkv__down *down, const zkv__outcome *o,
                     const zkv__next *nx, const char *node)
{
    if (nx->unserved) {
        st->unserved_since = nx->unserved_since;
        copy_str(st->unserved_owner, sizeof st->unserved_owner, o->owner ? o->owner : "");
    }
    if (down && nx->mark_down && node && node[0])
        zkv__down_add(down, node);
    if (down && nx->clear_down)
        zkv__down_clear(down);
    if (nx->backoff_ms)
        st->retries++;
    if (o->event == ZKV__EV_NO_OWNER)
        st->forced_refresh = true;
}

/* --- messages ------------------------------------------------------------------------------ */

typedef struct msgbuf {
    char *p;
    size_t cap, len;
} msgbuf;

static void add(msgbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(msgbuf *b, const char *fmt, ...)
{
    if (b->len + 1 >= b->cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        b->len = b->len + (size_t)n < b->cap ? b->len + (size_t)n : b->cap - 1;
}

void zkv__unavailable_message(const zkv__unserved *u, zkv__op_kind op, char *out, size_t outlen)
{
    msgbuf b = {out, outlen, 0};
    if (!outlen)
        return;
    out[0] = '\0';
    const char *range = u->range && u->range[0] ? u->range : "?";
    const char *owner_why = u->owner_why ? u->owner_why : "";
    const char *replica_why = u->replica_why ? u->replica_why : "";
    bool read_replica = op == ZKV__READ && u->read_replica;
    bool new_owner_helps = true; /* say that a new owner is what it waits for */
    if (read_replica) {
        if (u->n_replicas == 0)
            add(&b, "range %s has no replica to read from", range);
        else
            add(&b, "range %s: no replica could answer%s%s%s", range, replica_why[0] ? " (" : "",
                replica_why, replica_why[0] ? ")" : "");
        return;
    }
    switch (u->state) {
    case ZKV__OWNER_NONE:
        add(&b, "range %s has no owner", range);
        break;
    case ZKV__OWNER_NOT_LIVE:
        add(&b, "range %s: owner %s is not live (no nodes/ entry)", range, u->owner);
        break;
    default:
        if (u->owner_answered) {
            add(&b, "range %s: owner %s answered UNAVAILABLE: %s", range, u->owner, owner_why);
            new_owner_helps = strstr(owner_why, "fenced") != NULL;
        } else {
            add(&b, "range %s: owner %s unreachable (%s)", range, u->owner,
                owner_why[0] ? owner_why : "no answer");
        }
        break;
    }
    if (op == ZKV__WRITE) {
        if (new_owner_helps)
            add(&b, "; writes are refused until a new owner serves");
    } else if (!u->fallback) {
        add(&b, "; ZKV_FLAG_OWNER_ONLY: no replica asked");
    } else if (u->n_replicas == 0) {
        add(&b, "; no replica to read from");
    } else {
        add(&b, "; no replica could answer%s%s%s", replica_why[0] ? " (" : "", replica_why,
            replica_why[0] ? ")" : "");
    }
}

void zkv__failures_note(zkv__failures *f, const char *node, bool replica, bool answered,
                        const char *text, const char *why)
{
    copy_str(f->last, sizeof f->last, text);
    if (replica) {
        if (f->replica_answered && !answered)
            return;
        snprintf(f->replica_why, sizeof f->replica_why, "node %s: %s", node, why);
        f->replica_answered = answered;
    } else {
        copy_str(f->owner_why, sizeof f->owner_why, why);
        f->owner_answered = answered;
    }
}

void zkv__answer_text(int status, const char *message, uint64_t node_map_version, const char *node,
                      int64_t map_version, char *out, size_t outlen)
{
    const char *msg = message ? message : "";
    if (status == ZKV__STATUS__NOT_OWNER)
        snprintf(out, outlen, "node %s does not own the key (node map version %llu, ours %lld)%s%s",
                 node, (unsigned long long)node_map_version, (long long)map_version,
                 msg[0] ? ": " : "", msg);
    else
        snprintf(out, outlen, "node %s: %s", node, msg[0] ? msg : zkv_status_name(status));
}

/* The zkv__unavailable_message of an operation that failed on rt (rt->range set). */
static void unserved_text(const zkv__route *rt, zkv__op_kind op, unsigned flags,
                          const zkv__failures *f, char *out, size_t outlen)
{
    bool read_replica = op == ZKV__READ && (flags & ZKV_FLAG_READ_REPLICA);
    bool fallback = zkv__may_fall_back(op, flags);
    size_t asked_owner = rt->range->owner[0] && !read_replica ? 1 : 0;
    zkv__unserved u = {
        .range = rt->range->id,
        .owner = rt->range->owner,
        .state = rt->owner,
        .owner_why = f ? f->owner_why : "",
        .owner_answered = f && f->owner_answered,
        .fallback = fallback,
        .read_replica = read_replica,
        .n_replicas =
            fallback && rt->n_candidates > asked_owner ? rt->n_candidates - asked_owner : 0,
        .replica_why = f ? f->replica_why : "",
    };
    zkv__unavailable_message(&u, op, out, outlen);
}

void zkv__fail_text(const zkv__next *nx, zkv__event ev, const zkv__route *rt, zkv__op_kind op,
                    unsigned flags, int64_t map_version, const zkv__failures *f, const char *last,
                    uint64_t elapsed_ms, char *out, size_t outlen)
{
    unsigned long long el = (unsigned long long)elapsed_ms;
    last = last ? last : "";
    if (nx->unserved && rt->range)
        unserved_text(rt, op, flags, f, out, outlen);
    else if (nx->unserved)
        snprintf(out, outlen, "map version %lld does not cover the key", (long long)map_version);
    else if (nx->code == ZKV_ENOTOWNER)
        snprintf(out, outlen, "routing did not settle within %llu ms: %s", el, last);
    else if (nx->code == ZKV_ETIMEOUT && ev == ZKV__EV_IO && f && f->replica_why[0])
        snprintf(out, outlen, "%s within %llu ms; no replica could answer (%s)", last, el,
                 f->replica_why); /* e.g. too far behind the owner for the read's bound */
    else if (nx->code == ZKV_ETIMEOUT && ev == ZKV__EV_IO)
        snprintf(out, outlen, "%s within %llu ms", last, el);
    else
        snprintf(out, outlen, "%s", last[0] ? last : zkv_strerror(nx->code));
}
