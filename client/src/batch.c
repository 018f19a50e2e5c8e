/* batch.c: pipelining (hiredis' blocking pipeline). Queued gets, puts and deletes are
 * routed in rounds: each round groups the pending operations by node, writes every
 * group's requests with one send per node (connections locked in node-id order, so two
 * batches can never deadlock), then reads all answers. Every operation keeps its own
 * routing state (route.h): NOT_OWNER answers and unreachable nodes send just those
 * operations into the next round, after a map refresh and backoff, within the run's
 * deadline. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "batch.h"
#include "client.h"
#include "error.h"
#include "value.h"

zkv_batch *zkv_batch_create(void)
{
    zkv_batch *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    zkv_buf_init(&b->arena);
    zkv_buf_init(&b->results);
    return b;
}

void zkv_batch_free(zkv_batch *b)
{
    if (!b)
        return;
    zkv_buf_free(&b->arena);
    zkv_buf_free(&b->results);
    free(b->ops);
    free(b);
}

void zkv_batch_clear(zkv_batch *b)
{
    if (!b)
        return;
    b->n = 0;
    b->arena.len = b->arena.off = 0;
    b->results.len = b->results.off = 0;
}

size_t zkv_batch_count(const zkv_batch *b)
{
    return b ? b->n : 0;
}

static int queue(zkv_batch *b, int op, const void *key, size_t klen, const void *val, size_t vlen)
{
    zkv__clear_error();
    if (!b || (!key && klen) || (!val && vlen))
        return zkv__fail(ZKV_EINVAL, "NULL batch, key or value");
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        zkv__batch_op *ops = realloc(b->ops, cap * sizeof *ops);
        if (!ops)
            return zkv__fail(ZKV_ENOMEM, "out of memory");
        b->ops = ops;
        b->cap = cap;
    }
    zkv__batch_op *o = &b->ops[b->n];
    memset(o, 0, sizeof *o);
    o->op = op;
    o->koff = b->arena.len;
    o->klen = klen;
    size_t mark = b->arena.len;
    if (klen && zkv_buf_append(&b->arena, key, klen) != 0)
        return zkv__fail(ZKV_ENOMEM, "out of memory");
    o->voff = b->arena.len;
    o->vlen = vlen;
    if (vlen && zkv_buf_append(&b->arena, val, vlen) != 0) {
        b->arena.len = mark;
        return zkv__fail(ZKV_ENOMEM, "out of memory");
    }
    o->status = ZKV__BATCH_PENDING;
    o->group = -1;
    b->n++;
    return ZKV_OK;
}

int zkv_batch_get(zkv_batch *b, const void *key, size_t klen)
{
    return queue(b, ZKV__OP__GET, key, klen, NULL, 0);
}

int zkv_batch_put(zkv_batch *b, const void *key, size_t klen, const void *val, size_t vlen)
{
    return queue(b, ZKV__OP__PUT, key, klen, val, vlen);
}

int zkv_batch_del(zkv_batch *b, const void *key, size_t klen)
{
    return queue(b, ZKV__OP__DELETE, key, klen, NULL, 0);
}

int zkv__batch_unconditional(const zkv_batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        if (b->ops[i].cond)
            return zkv__fail(ZKV_EINVAL,
                             "operation %zu is conditional: conditions are applied by "
                             "zkv_batch_atomic",
                             i);
    return ZKV_OK;
}

/* queue() of a conditional write. */
static int queue_if(zkv_batch *b, int op, const void *key, size_t klen, const void *val,
                    size_t vlen, int cond, zkv_version expected)
{
    if (cond != ZKV_IF_ABSENT && cond != ZKV_IF_VERSION)
        return zkv__fail(ZKV_EINVAL, "unknown condition %d (ZKV_IF_ABSENT or ZKV_IF_VERSION)",
                         cond);
    int rc = queue(b, op, key, klen, val, vlen);
    if (rc == ZKV_OK) {
        b->ops[b->n - 1].cond = cond;
        b->ops[b->n - 1].expected = expected;
    }
    return rc;
}

int zkv_batch_put_if(zkv_batch *b, const void *key, size_t klen, const void *val, size_t vlen,
                     int cond, zkv_version expected)
{
    return queue_if(b, ZKV__OP__PUT, key, klen, val, vlen, cond, expected);
}

int zkv_batch_del_if(zkv_batch *b, const void *key, size_t klen, zkv_version expected)
{
    return queue_if(b, ZKV__OP__DELETE, key, klen, NULL, 0, ZKV_IF_VERSION, expected);
}

zkv_version zkv_batch_version(const zkv_batch *b, size_t i)
{
    zkv_version none = {0, 0};
    return b && i < b->n ? b->ops[i].ver : none;
}

int zkv_batch_status(const zkv_batch *b, size_t i)
{
    if (!b || i >= b->n || b->ops[i].status == ZKV__BATCH_PENDING)
        return ZKV_EINVAL; /* no such operation, or the batch has not run */
    return b->ops[i].status;
}

const void *zkv_batch_value(const zkv_batch *b, size_t i, size_t *len)
{
    if (!b || i >= b->n || b->ops[i].status != ZKV_OK || !b->ops[i].has_value) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = b->ops[i].rlen;
    return b->results.data ? b->results.data + b->ops[i].roff : (const void *)"";
}

/* --- grouping -------------------------------------------------------------------------- */

size_t zkv__batch_order(zkv__batch_op *ops, size_t n, zkv__batch_group *groups, size_t ngroups,
                        size_t *order, size_t *rank)
{
    for (size_t i = 0; i < n; i++)
        if (ops[i].group >= 0 && (size_t)ops[i].group >= ngroups)
            ops[i].group = -1; /* not a group of this round */
    /* Insertion sort by node id (a round has one group per node: a handful), with each
     * group's original index parked in .first to renumber the operations after. */
    for (size_t g = 0; g < ngroups; g++)
        groups[g].first = g;
    for (size_t g = 1; g < ngroups; g++) {
        zkv__batch_group cur = groups[g];
        size_t j = g;
        while (j > 0 && strcmp(groups[j - 1].node, cur.node) > 0) {
            groups[j] = groups[j - 1];
            j--;
        }
        groups[j] = cur;
    }
    for (size_t r = 0; r < ngroups; r++) {
        rank[groups[r].first] = r;
        groups[r].count = 0;
    }
    for (size_t i = 0; i < n; i++)
        if (ops[i].group >= 0) {
            ops[i].group = (int)rank[ops[i].group];
            groups[ops[i].group].count++;
        }
    size_t at = 0;
    for (size_t r = 0; r < ngroups; r++) {
        groups[r].first = at;
        at += groups[r].count;
        groups[r].count = 0;
    }
    for (size_t i = 0; i < n; i++)
        if (ops[i].group >= 0) {
            zkv__batch_group *g = &groups[ops[i].group];
            order[g->first + g->count++] = i;
        }
    return at;
}

/* --- running ---------------------------------------------------------------------------- */

/* Scratch of one run, sized for every operation. */
typedef struct run_ctx {
    zkv_client *c;
    zkv_batch *b;
    unsigned flags;
    uint64_t deadline_ms;
    zkv__down down;
    zkv__batch_group *groups;
    size_t ngroups;
    size_t *order, *rank;
    Zkv__Request *reqs;
    Zkv__Request **reqp;
    Zkv__Response **resps;
    /* what the round's retries ask for */
    bool refresh, force, clear_down;
    int64_t min_version;
    unsigned backoff_ms;
    bool *backed_off; /* per operation: its retry waits for the backoff */
    char first_err[ZKV__ERR_MAX];
} run_ctx;

static bool is_read(const zkv__batch_op *o)
{
    return o->op == ZKV__OP__GET;
}

static void note_failure(run_ctx *x, size_t i, const char *msg)
{
    if (!x->first_err[0])
        snprintf(x->first_err, sizeof x->first_err, "operation %zu of %zu: %s", i, x->b->n, msg);
}

/* Applies route.h's decision for operation i. */
static void settle(run_ctx *x, size_t i, const zkv__outcome *o, const Zkv__Response *resp,
                   const char *node, const char *msg, const char *why)
{
    zkv__batch_op *op = &x->b->ops[i];
    op->st.now_ms = zkv_now_ms();
    zkv__next nx = zkv__route_decide(o, &op->st);
    if (nx.unserved) {
        op->st.unserved_since = nx.unserved_since;
        snprintf(op->st.unserved_owner, sizeof op->st.unserved_owner, "%s",
                 o->owner ? o->owner : "");
    }
    switch (nx.kind) {
    case ZKV__NEXT_DONE:
        op->status = nx.code;
        if (op->op == ZKV__OP__DELETE && nx.code == ZKV_ENOTFOUND)
            op->status = ZKV_OK;
        if (op->op == ZKV__OP__PUT && nx.code == ZKV_ENOTFOUND)
            op->status = ZKV_EPROTOCOL;
        if (op->op == ZKV__OP__GET && nx.code == ZKV_OK) {
            op->roff = x->b->results.len;
            op->rlen = resp->value.len;
            if (resp->value.len &&
                zkv_buf_append(&x->b->results, resp->value.data, resp->value.len) != 0) {
                op->status = ZKV_ENOMEM;
                note_failure(x, i, "out of memory");
                return;
            }
            op->has_value = true;
            op->stale = resp->stale || op->to_replica;
        }
        return;
    case ZKV__NEXT_FAIL:
        op->status = nx.code;
        note_failure(x, i, msg[0] ? msg : zkv_strerror(nx.code));
        return;
    case ZKV__NEXT_RETRY:
        if (nx.mark_down && node)
            zkv__down_add_why(&x->down, node, why);
        x->clear_down |= nx.clear_down;
        x->refresh |= nx.refresh;
        x->force |= nx.force_refresh;
        if (o->event == ZKV__EV_RESPONSE && (int64_t)o->node_map_version > x->min_version)
            x->min_version = (int64_t)o->node_map_version;
        if (o->event == ZKV__EV_NO_OWNER)
            op->st.forced_refresh = true;
        if (nx.backoff_ms) {
            x->backed_off[i] = true;
            if (nx.backoff_ms > x->backoff_ms)
                x->backoff_ms = nx.backoff_ms;
        }
        return;
    }
}

static unsigned op_flags(const run_ctx *x, const zkv__batch_op *op)
{
    return is_read(op) ? x->flags : x->flags & (unsigned)ZKV_FLAG_ACK_OWNER;
}

/* The message of an operation no node could serve (see zkv__unavailable_message). */
static void unserved_message(const run_ctx *x, const zkv_rangemap *m, const zkv__batch_op *op,
                             const zkv__route *rt, char *msg, size_t msglen)
{
    zkv__op_kind kind = is_read(op) ? ZKV__READ : ZKV__WRITE;
    unsigned f = op_flags(x, op);
    bool fallback = kind == ZKV__READ && !(f & ZKV_FLAG_OWNER_ONLY);
    bool read_replica = kind == ZKV__READ && (f & ZKV_FLAG_READ_REPLICA);
    zkv__cand cands[ZKV__CAND_MAX];
    size_t n = zkv__route_candidates(m, rt->range, kind, zkv__route_flags(f, &x->c->opts),
                                     x->c->opts.zone, cands);
    const char *replica_why = "";
    char rwhy[ZKV__WHY_MAX + ZKV_ID_MAX + 8] = "";
    size_t n_replicas = 0;
    for (size_t k = 0; k < n; k++) {
        if (!cands[k].replica)
            continue;
        n_replicas++;
        const char *w = zkv__down_why(&x->down, cands[k].id);
        if (w[0]) {
            snprintf(rwhy, sizeof rwhy, "node %s: %s", cands[k].id, w);
            replica_why = rwhy;
        }
    }
    const char *owner_why = rt->range->owner[0] ? zkv__down_why(&x->down, rt->range->owner) : "";
    zkv__unserved u = {.range = rt->range->id,
                       .owner = rt->range->owner,
                       .state = rt->owner,
                       .owner_why = owner_why,
                       .owner_answered = false,
                       .fallback = fallback,
                       .read_replica = read_replica,
                       .n_replicas = n_replicas,
                       .replica_why = replica_why};
    zkv__unavailable_message(&u, kind, msg, msglen);
}

/* Routes every pending operation with the current map: into a node group, or settled
 * (no owner, every node down). */
static void route_round(run_ctx *x)
{
    zkv__mapsnap *snap = zkv__mapcache_get(&x->c->mc, x->deadline_ms);
    const zkv_rangemap *m = snap->map;
    x->ngroups = 0;
    for (size_t i = 0; i < x->b->n; i++) {
        zkv__batch_op *op = &x->b->ops[i];
        op->group = -1;
        if (op->status != ZKV__BATCH_PENDING)
            continue;
        op->st.map_version = m->version;
        zkv__route rt;
        unsigned f = op_flags(x, op);
        zkv__route_key(m, x->b->arena.data ? x->b->arena.data + op->koff : (const uint8_t *)"",
                       op->klen, is_read(op) ? ZKV__READ : ZKV__WRITE,
                       zkv__route_flags(f, &x->c->opts), x->c->opts.zone, &x->down, &rt);
        bool fallback = is_read(op) && !(f & ZKV_FLAG_OWNER_ONLY);
        if (rt.kind == ZKV__ROUTE_SEND) {
            size_t g = 0;
            op->to_replica = rt.replica;
            op->may_fall_back = fallback && !rt.replica && rt.n_candidates > 1;
            while (g < x->ngroups && strcmp(x->groups[g].node, rt.node->id) != 0)
                g++;
            if (g == x->ngroups) {
                zkv__copy_str(x->groups[g].node, sizeof x->groups[g].node, rt.node->id);
                zkv__copy_str(x->groups[g].addr, sizeof x->groups[g].addr, rt.node->addr);
                x->groups[g].reads_only = x->groups[g].may_skip = true;
                x->ngroups++;
            }
            x->groups[g].reads_only &= op->may_fall_back;
            x->groups[g].may_skip &= fallback && rt.n_candidates > 1 && op->st.retries == 0;
            op->group = (int)g;
            continue;
        }
        char msg[ZKV__ERR_MAX];
        zkv__outcome o = {.fallback = fallback,
                          .owner = rt.range ? rt.range->owner : "",
                          .owner_live = rt.owner == ZKV__OWNER_LIVE};
        o.event = rt.kind == ZKV__ROUTE_ALL_DOWN ? ZKV__EV_ALL_DOWN : ZKV__EV_NO_OWNER;
        if (rt.range)
            unserved_message(x, m, op, &rt, msg, sizeof msg);
        else
            snprintf(msg, sizeof msg, "map version %lld does not cover the key",
                     (long long)m->version);
        settle(x, i, &o, NULL, NULL, msg, "");
    }
    zkv__mapsnap_release(snap);
}

/* Sends every group's requests (phase 1), then reads every group's answers (phase 2). */
static void exchange_round(run_ctx *x, zkv__conn **conns, int *rcs, uint64_t *first_ids,
                           char (*errs)[ZKV__ERR_MAX])
{
    zkv__batch_order(x->b->ops, x->b->n, x->groups, x->ngroups, x->order, x->rank);
    uint64_t now = zkv_now_ms();
    /* A group of reads that replicas could answer leaves half the budget for them. */
    uint64_t half = now < x->deadline_ms ? now + (x->deadline_ms - now) / 2 : x->deadline_ms;
    for (size_t g = 0; g < x->ngroups; g++) {
        zkv__batch_group *gr = &x->groups[g];
        uint64_t gdeadline = gr->reads_only ? half : x->deadline_ms;
        errs[g][0] = '\0';
        conns[g] = zkv__pool_get(&x->c->pool, gr->node, gr->addr);
        if (!conns[g]) {
            rcs[g] = zkv__err(ZKV_ENOMEM, errs[g], ZKV__ERR_MAX, "out of memory");
        } else if (gr->may_skip && zkv__conn_skipped(conns[g], now)) {
            /* failed just now: let the replicas answer without waiting on it again */
            rcs[g] = zkv__err(ZKV_ECONNECT, errs[g], ZKV__ERR_MAX,
                              "node %s at %s unreachable: failed less than %d ms ago", gr->node,
                              gr->addr, ZKV__SKIP_MS);
            zkv__conn_unref(conns[g]);
            conns[g] = NULL;
        } else {
            pthread_mutex_lock(&conns[g]->lock);
            zkv__hello h = {.cluster_id = x->c->info.cluster_id,
                            .client_name = x->c->opts.client_name,
                            .auth = x->c->opts.auth,
                            .map_version = (uint64_t)x->b->ops[x->order[gr->first]].st.map_version};
            rcs[g] = zkv__conn_open(conns[g], &h, zkv__open_deadline(x->c, now, gdeadline), errs[g],
                                    ZKV__ERR_MAX);
        }
        for (size_t k = gr->first; k < gr->first + gr->count; k++) {
            zkv__batch_op *op = &x->b->ops[x->order[k]];
            Zkv__Request *r = &x->reqs[k];
            zkv__request__init(r);
            r->op = op->op;
            r->key.data = x->b->arena.data ? x->b->arena.data + op->koff : NULL;
            r->key.len = op->klen;
            r->value.data = op->vlen ? x->b->arena.data + op->voff : NULL;
            r->value.len = op->vlen;
            zkv__stamp(r, is_read(op) ? ZKV__READ : ZKV__WRITE, x->flags, op->to_replica,
                       &x->c->opts);
            r->map_version = (uint64_t)op->st.map_version;
            x->reqp[k] = r;
            x->resps[k] = NULL;
        }
        if (rcs[g] == ZKV_OK)
            rcs[g] = zkv__conn_send(conns[g], x->reqp + gr->first, gr->count, &first_ids[g],
                                    errs[g], ZKV__ERR_MAX);
    }
    for (size_t g = 0; g < x->ngroups; g++) {
        zkv__batch_group *gr = &x->groups[g];
        uint64_t gdeadline = gr->reads_only ? half : x->deadline_ms;
        if (rcs[g] == ZKV_OK)
            rcs[g] = zkv__conn_recv(conns[g], first_ids[g], gr->count, x->resps + gr->first,
                                    gdeadline, errs[g], ZKV__ERR_MAX);
        if (conns[g]) {
            zkv__conn_note(conns[g], rcs[g], zkv_now_ms());
            pthread_mutex_unlock(&conns[g]->lock);
            zkv__conn_unref(conns[g]);
        }
        for (size_t k = gr->first; k < gr->first + gr->count; k++) {
            size_t i = x->order[k];
            zkv__batch_op *op = &x->b->ops[i];
            Zkv__Response *resp = x->resps[k];
            zkv__outcome o = {.fallback = is_read(op) && !(op_flags(x, op) & ZKV_FLAG_OWNER_ONLY),
                              .to_replica = op->to_replica,
                              .owner = op->to_replica ? "" : gr->node,
                              .owner_live = !op->to_replica};
            char msg[ZKV__ERR_MAX], why[ZKV__WHY_MAX];
            if (resp) {
                o.event = ZKV__EV_RESPONSE;
                o.status = resp->status;
                o.node_map_version = resp->map_version;
                msg[0] = why[0] = '\0';
                /* OK and NOT_FOUND always settle DONE (route.c: decide_response), which reads
                 * neither text: format them only for the other statuses (two snprintf calls,
                 * ~1,100 instructions per operation, were most of a pipelined get's cost). */
                if (resp->status != ZKV__STATUS__OK && resp->status != ZKV__STATUS__NOT_FOUND) {
                    snprintf(msg, sizeof msg, "node %s: %s", gr->node,
                             resp->message[0] ? resp->message : zkv_status_name(resp->status));
                    zkv__attempt_why(resp, NULL, why, sizeof why);
                }
            } else {
                o.event = ZKV__EV_IO;
                o.io_code = rcs[g];
                snprintf(msg, sizeof msg, "%s", errs[g]);
                zkv__attempt_why(NULL, errs[g], why, sizeof why);
            }
            settle(x, i, &o, resp, gr->node, msg, why);
            if (resp)
                zkv__response_free(resp);
            x->resps[k] = NULL;
        }
    }
}

static void run_ctx_free(run_ctx *x)
{
    free(x->groups);
    free(x->order);
    free(x->rank);
    free(x->reqs);
    free(x->reqp);
    free(x->resps);
    free(x->backed_off);
}

int zkv_batch_run(zkv_client *c, zkv_batch *b, int timeout_ms, unsigned flags)
{
    uint64_t deadline;
    int rc = zkv__call_begin(c, timeout_ms, &deadline);
    if (rc != ZKV_OK)
        return rc;
    if (!b)
        return zkv__fail(ZKV_EINVAL, "batch is NULL");
    flags |= c->opts.default_flags;
    char ferr[128];
    if (zkv__flags_check(flags, ferr, sizeof ferr) != 0)
        return zkv__fail(ZKV_EINVAL, "%s", ferr);
    b->results.len = b->results.off = 0;
    if (b->n == 0)
        return ZKV_OK;
    if ((rc = zkv__batch_unconditional(b)) != ZKV_OK)
        return rc;

    run_ctx x;
    memset(&x, 0, sizeof x);
    x.c = c;
    x.b = b;
    x.flags = flags;
    x.deadline_ms = deadline;
    size_t n = b->n;
    /* Not zeroed (n * ~330 bytes): route_round fills every field of a group it opens, and
     * only groups [0, ngroups) are read. */
    x.groups = malloc(n * sizeof *x.groups);
    x.order = calloc(n, sizeof *x.order);
    x.rank = calloc(n, sizeof *x.rank);
    x.reqs = calloc(n, sizeof *x.reqs);
    x.reqp = calloc(n, sizeof *x.reqp);
    x.resps = calloc(n, sizeof *x.resps);
    x.backed_off = calloc(n, sizeof *x.backed_off);
    zkv__conn **conns = calloc(n, sizeof *conns);
    int *rcs = calloc(n, sizeof *rcs);
    uint64_t *first_ids = calloc(n, sizeof *first_ids);
    /* Not zeroed (n * 512 bytes): exchange_round clears errs[g] before each use. */
    char(*errs)[ZKV__ERR_MAX] = malloc(n * sizeof *errs);
    if (!x.groups || !x.order || !x.rank || !x.reqs || !x.reqp || !x.resps || !x.backed_off ||
        !conns || !rcs || !first_ids || !errs) {
        rc = zkv__fail(ZKV_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        zkv__batch_op *op = &b->ops[i];
        op->status = ZKV__BATCH_PENDING;
        op->has_value = false;
        op->stale = false;
        memset(&op->st, 0, sizeof op->st);
        op->st.deadline_ms = deadline;
        op->st.failfast_ms = (unsigned)c->opts.failfast_ms;
        if (op->klen > c->opts.max_key || op->vlen > c->opts.max_value) {
            op->status = ZKV_ETOOLARGE;
            char msg[128];
            snprintf(msg, sizeof msg, "%s of %zu bytes is over the limit",
                     op->klen > c->opts.max_key ? "key" : "value",
                     op->klen > c->opts.max_key ? op->klen : op->vlen);
            note_failure(&x, i, msg);
        }
    }
    for (;;) {
        uint64_t gen = atomic_load(&c->mc.gen);
        x.refresh = x.force = x.clear_down = false;
        x.min_version = 0;
        x.backoff_ms = 0;
        memset(x.backed_off, 0, n * sizeof *x.backed_off);
        route_round(&x);
        if (x.ngroups > 0)
            exchange_round(&x, conns, rcs, first_ids, errs);
        size_t pending = 0;
        for (size_t i = 0; i < n; i++)
            pending += b->ops[i].status == ZKV__BATCH_PENDING;
        if (pending == 0)
            break;
        if (x.clear_down)
            zkv__down_clear(&x.down);
        if (x.backoff_ms) {
            zkv__sleep_until(x.backoff_ms, deadline);
            for (size_t i = 0; i < n; i++)
                b->ops[i].st.retries += x.backed_off[i];
        }
        if (x.refresh)
            zkv__mapcache_refresh(&c->mc, x.force, x.min_version, gen, deadline, NULL, 0);
    }
    rc = ZKV_OK;
    if (x.first_err[0])
        zkv__fail(ZKV_OK, "%s", x.first_err); /* the run worked; say why an operation did not */
out:
    run_ctx_free(&x);
    free(conns);
    free(rcs);
    free(first_ids);
    free(errs);
    return rc;
}
