/* placement.c: the pure placement function (see placement.h for the rules).
 *
 * Work happens on a copy of the input in four passes over the ranges, in routing
 * order, with per-node counters (ranges owned, replica slots held) indexed by the
 * position of the node id in the sorted live list; dead nodes carry no counters. Every
 * choice is a minimum over a total order (counter, then id; position, then id), so the
 * result does not depend on anything but the input. Idempotence follows from each pass
 * leaving nothing for itself to do: owners are live unless no live in_sync replica
 * exists (and a second run sees the same in_sync), a dead replica that is not in_sync
 * survives only while every live node already holds a copy of its range (which also
 * keeps rebalancing away from that range), replica sets are full or out of spares, a
 * move in progress finishes only once its extra replica is in_sync (which a second run
 * sees exactly as the first did), and the rebalancing loop stops only when its budget
 * of moves in progress is spent or no allowed move is left.
 *
 * Load of a node = ranges owned + replica slots held: every copy of a range costs the
 * same disk space and write traffic, so balancing copies balances the cluster; owners
 * are balanced by live handoffs (rule 12): an owner move swaps the owner and replica
 * roles of two nodes, so it leaves both their loads as they were. The extra replica of a move in
 * progress counts for its target like any slot; rebalancing balances projected loads, where the
 * replica that will leave when the move finishes no longer counts, so it neither starts moves a
 * running one already covers nor overshoots.
 *
 * Moves are two-phase (add the target as an extra replica, drop a replica once the
 * extra is in_sync) because every replica may be in_sync: swapping an in_sync replica
 * for an empty node would leave the range, for the whole copy, with one copy fewer that
 * has every acknowledged write. Dropping an in_sync replica through the conditional
 * write is safe: the owner waits for it until it sees the new map, and the remaining
 * in_sync members, the extra included, have every acknowledged write.
 *
 * Why dead nodes stay: a dead in_sync replica has every acknowledged write, so only its
 * owner (which stops waiting for it through a conditional write of in_sync) may drop it,
 * or a finishing move (above); a dead replica that is not in_sync, or a dead owner, may
 * come back with data worth catching up from, so it is only displaced when a live spare,
 * or the extra replica of a move in progress, can take its place. */
#include "placement.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct plan {
    const char **live; /* sorted, distinct */
    size_t n;
    int *owned;     /* per live node */
    int *slots;     /* per live node */
    bool *excluded; /* per live node: drained or leaving (rule 11) */
    const zkv_placement_input *in;
} plan;

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_key_str_ptr(const void *key, const void *elem)
{
    return strcmp((const char *)key, *(const char *const *)elem);
}

/* Index of id in the live list, or -1 when the node is not live (or id is ""). */
static int node_index(const plan *p, const char *id)
{
    if (id[0] == '\0' || p->n == 0)
        return -1;
    const char **hit = bsearch(id, p->live, p->n, sizeof(*p->live), cmp_key_str_ptr);
    return hit ? (int)(hit - p->live) : -1;
}

static int load(const plan *p, size_t i)
{
    return p->owned[i] + p->slots[i];
}

static bool excluded_at(const plan *p, int k)
{
    return k >= 0 && p->excluded && p->excluded[k];
}

/* A dead node within the rebalance delay (rule 13). */
static bool in_grace(const plan *p, const char *id)
{
    for (size_t i = 0; p->in && i < p->in->n_grace; i++)
        if (p->in->grace[i] && strcmp(p->in->grace[i], id) == 0)
            return true;
    return false;
}

static bool list_has(const char (*ids)[ZKV_ID_MAX], int n, const char *id)
{
    for (int i = 0; i < n; i++)
        if (strcmp(ids[i], id) == 0)
            return true;
    return false;
}

static void list_remove_at(char (*ids)[ZKV_ID_MAX], int *n, int at)
{
    for (int i = at; i + 1 < *n; i++)
        memcpy(ids[i], ids[i + 1], ZKV_ID_MAX);
    (*n)--;
    memset(ids[*n], 0, ZKV_ID_MAX);
}

/* dst (ZKV_ID_MAX bytes, zero-padded) := src cut to ZKV_ID_MAX - 1 bytes. dst and src
 * never overlap. */
static void set_id(char *dst, const char *src)
{
    size_t n = strnlen(src, ZKV_ID_MAX - 1);
    memset(dst, 0, ZKV_ID_MAX);
    memcpy(dst, src, n);
}

/* A never-owned range waits until min_nodes nodes are live. */
static bool held_back(const zkv_placement_input *in, const plan *p, const zkv_assignment *a)
{
    return a->owner[0] == '\0' && a->epoch == 0 &&
           p->n < (size_t)(in->min_nodes > 0 ? in->min_nodes : 1);
}

bool zkv_assignment_reshaping(const zkv_assignment *v, size_t i)
{
    return v[i].split_asked || v[i].merge_with[0] || (i > 0 && v[i - 1].merge_with[0]);
}

/* Pass 1: drop replicas that are empty, equal the owner or repeat (dead ones stay). */
static void clean_replicas(zkv_assignment *a)
{
    char kept[ZKV_MAX_REPLICAS][ZKV_ID_MAX];
    int n = 0;
    memset(kept, 0, sizeof(kept));
    for (int j = 0; j < a->n_replicas; j++) {
        const char *id = a->replicas[j];
        if (id[0] == '\0' || strcmp(id, a->owner) == 0 || list_has(kept, n, id))
            continue;
        set_id(kept[n++], id);
    }
    memcpy(a->replicas, kept, sizeof(kept));
    a->n_replicas = n;
}

/* in_sync keeps, in order and once each, the entries that are still replicas. */
static void filter_in_sync(zkv_assignment *a)
{
    char kept[ZKV_MAX_REPLICAS][ZKV_ID_MAX];
    int n = 0;
    memset(kept, 0, sizeof(kept));
    for (int j = 0; j < a->n_in_sync; j++) {
        const char *id = a->in_sync[j];
        if (!list_has(a->replicas, a->n_replicas, id) || list_has(kept, n, id))
            continue;
        set_id(kept[n++], id);
    }
    memcpy(a->in_sync, kept, sizeof(kept));
    a->n_in_sync = n;
}

/* Bounds the counts, terminates the ids, cleans replicas and in_sync (rule 2). */
static void sanitize(zkv_assignment *a)
{
    a->owner[ZKV_ID_MAX - 1] = '\0';
    a->handoff[ZKV_ID_MAX - 1] = '\0';
    a->leaving[ZKV_ID_MAX - 1] = '\0';
    if (a->n_replicas < 0 || a->n_replicas > ZKV_MAX_REPLICAS)
        a->n_replicas = a->n_replicas < 0 ? 0 : ZKV_MAX_REPLICAS;
    if (a->n_in_sync < 0 || a->n_in_sync > ZKV_MAX_REPLICAS)
        a->n_in_sync = a->n_in_sync < 0 ? 0 : ZKV_MAX_REPLICAS;
    for (int j = 0; j < ZKV_MAX_REPLICAS; j++) {
        a->replicas[j][ZKV_ID_MAX - 1] = '\0';
        a->in_sync[j][ZKV_ID_MAX - 1] = '\0';
    }
    clean_replicas(a);
    filter_in_sync(a);
}

/* Live, not excluded node owning the fewest ranges; ties: fewest replica slots, then id
 * order. -1 when every live node is excluded. */
static int pick_owner(const plan *p)
{
    int best = -1;
    for (size_t i = 0; i < p->n; i++) {
        if (excluded_at(p, (int)i))
            continue;
        if (best < 0 || p->owned[i] < p->owned[best] ||
            (p->owned[i] == p->owned[best] && p->slots[i] < p->slots[best]))
            best = (int)i;
    }
    return best;
}

/* Least-loaded live, not excluded node that is neither the owner nor a replica of a; -1
 * if none. */
static int pick_replica(const plan *p, const zkv_assignment *a)
{
    int best = -1;
    for (size_t i = 0; i < p->n; i++) {
        if (strcmp(p->live[i], a->owner) == 0 || list_has(a->replicas, a->n_replicas, p->live[i]) ||
            excluded_at(p, (int)i))
            continue;
        if (best < 0 || load(p, i) < load(p, (size_t)best))
            best = (int)i;
    }
    return best;
}

static bool is_in_sync(const zkv_assignment *a, const char *id)
{
    return list_has(a->in_sync, a->n_in_sync, id);
}

/* Pass 3, rule 5: every dead replica that is not in_sync gives its slot to the
 * least-loaded spare live node, while spares last. */
static void replace_dead(const plan *p, zkv_assignment *a)
{
    for (int j = 0; j < a->n_replicas; j++) {
        if (node_index(p, a->replicas[j]) >= 0 || is_in_sync(a, a->replicas[j]) ||
            in_grace(p, a->replicas[j]))
            continue;
        int pick = pick_replica(p, a);
        if (pick < 0)
            return;
        set_id(a->replicas[j], p->live[pick]);
        p->slots[pick]++;
    }
}

/* The most replicas a range may list: r1, plus one extra while a move is in progress
 * (only when there is room for it: r1 >= 1 and r1 + 1 <= ZKV_MAX_REPLICAS). */
static int replica_cap(int r1)
{
    return r1 >= 1 && r1 < ZKV_MAX_REPLICAS ? r1 + 1 : r1;
}

/* Removes replicas[at] from replicas and in_sync and gives back its slot. */
static void remove_replica(const plan *p, zkv_assignment *a, int at)
{
    int k = node_index(p, a->replicas[at]);
    if (k >= 0)
        p->slots[k]--;
    for (int j = a->n_in_sync - 1; j >= 0; j--)
        if (strcmp(a->in_sync[j], a->replicas[at]) == 0)
            list_remove_at(a->in_sync, &a->n_in_sync, j);
    list_remove_at(a->replicas, &a->n_replicas, at);
}

/* Pass 3, rule 6: at most cap replicas; over it, the last dead replica that is not
 * in_sync goes first, then the last live one that is not in_sync, then the last. */
static void trim_replicas(const plan *p, zkv_assignment *a, int cap)
{
    while (a->n_replicas > cap) {
        int at = -1;
        for (int pass = 0; pass < 2 && at < 0; pass++)
            for (int j = a->n_replicas - 1; j >= 0 && at < 0; j--)
                if (!is_in_sync(a, a->replicas[j]) &&
                    (pass == 1 || node_index(p, a->replicas[j]) < 0))
                    at = j;
        if (at < 0)
            at = a->n_replicas - 1;
        remove_replica(p, a, at);
    }
}

/* Pass 3, rule 6: under r1 replicas, spares fill the missing slots. */
static void fill_replicas(const plan *p, zkv_assignment *a, int r1)
{
    while (a->n_replicas < r1) {
        int pick = pick_replica(p, a);
        if (pick < 0)
            break;
        set_id(a->replicas[a->n_replicas++], p->live[pick]);
        p->slots[pick]++;
    }
}

/* true when replica x should leave before replica y when a move finishes: dead first,
 * then excluded, then not in_sync, then the one the move named (leaving), then the
 * higher load (a dead node carries none), then the higher id. */
static bool leaves_before(const plan *p, const zkv_assignment *a, const char *x, const char *y)
{
    int kx = node_index(p, x), ky = node_index(p, y);
    if ((kx >= 0) != (ky >= 0))
        return kx < 0;
    if (excluded_at(p, kx) != excluded_at(p, ky))
        return excluded_at(p, kx);
    bool sx = is_in_sync(a, x), sy = is_in_sync(a, y);
    if (sx != sy)
        return !sx;
    bool nx = strcmp(a->leaving, x) == 0, ny = strcmp(a->leaving, y) == 0;
    if (nx != ny)
        return nx;
    int lx = kx >= 0 ? load(p, (size_t)kx) : 0, ly = ky >= 0 ? load(p, (size_t)ky) : 0;
    if (lx != ly)
        return lx > ly;
    return strcmp(x, y) > 0;
}

/* The replica (index below r1) that leaves when the move of a finishes: the extra
 * replicas[r1] stays. */
static int leaving_replica(const plan *p, const zkv_assignment *a, int r1)
{
    int best = 0;
    for (int j = 1; j < r1 && j < a->n_replicas; j++)
        if (leaves_before(p, a, a->replicas[j], a->replicas[best]))
            best = j;
    return best;
}

/* A move names the replica it takes the slot from (leaving) only while it is in progress
 * and that replica still holds one of the r1 slots. */
static void tidy_leaving(zkv_assignment *a, int r1)
{
    int n = a->n_replicas < r1 ? a->n_replicas : r1;
    if (a->n_replicas <= r1 || !list_has(a->replicas, n, a->leaving))
        memset(a->leaving, 0, ZKV_ID_MAX);
}

/* Pass 3, rules 7 and 8, for a range listing more than r1 replicas (a move in progress,
 * the extra is replicas[r1]): an extra that died before it was in_sync is dropped; with
 * a live owner, a dead replica that is not in_sync is dropped instead of replaced (the
 * extra takes its slot); with a live owner and a live in_sync extra, the move finishes
 * and the replica leaving_replica names goes, from replicas and in_sync. */
static void settle_move(const plan *p, zkv_assignment *a, int r1)
{
    if (a->n_replicas <= r1)
        return;
    const char *extra = a->replicas[r1];
    if (node_index(p, extra) < 0 && !is_in_sync(a, extra)) {
        remove_replica(p, a, r1);
        return;
    }
    if (node_index(p, a->owner) < 0)
        return; /* never rebalanced: the move waits for an owner */
    for (int j = 0; j < r1; j++) {
        if (node_index(p, a->replicas[j]) < 0 && !is_in_sync(a, a->replicas[j]) &&
            !in_grace(p, a->replicas[j])) {
            remove_replica(p, a, j);
            return;
        }
    }
    if (node_index(p, extra) >= 0 && is_in_sync(a, extra))
        remove_replica(p, a, leaving_replica(p, a, r1));
}

/* The position candidate id reported for the range, or NULL. */
static const zkv_position *position_of(const zkv_range_positions *rp, const char *id)
{
    for (int k = 0; rp && k < rp->n && k < ZKV_MAX_REPLICAS; k++)
        if (strncmp(rp->at[k].node, id, ZKV_ID_MAX) == 0)
            return &rp->at[k];
    return NULL;
}

/* Live in_sync replicas of a range whose owner is set and dead, sorted by id. */
static int candidates(const plan *p, const zkv_assignment *a, char (*out)[ZKV_ID_MAX])
{
    if (a->owner[0] == '\0' || node_index(p, a->owner) >= 0)
        return 0;
    int n = 0;
    for (int j = 0; j < a->n_in_sync; j++) {
        const char *id = a->in_sync[j];
        if (node_index(p, id) < 0 || strcmp(id, a->owner) == 0 || list_has(out, n, id))
            continue;
        int at = n++;
        while (at > 0 && strcmp(out[at - 1], id) > 0) {
            memcpy(out[at], out[at - 1], ZKV_ID_MAX);
            at--;
        }
        set_id(out[at], id);
    }
    return n;
}

/* Pass 2, rule 4: promotes a live in_sync replica of a range whose owner is dead.
 * Returns false (nothing changed) when there is no candidate. */
static bool fail_over(const plan *p, zkv_assignment *a, const zkv_range_positions *rp)
{
    char cand[ZKV_MAX_REPLICAS][ZKV_ID_MAX];
    int n = candidates(p, a, cand);
    if (n == 0)
        return false;
    int best = 0; /* no position reported at all: the first by id */
    const zkv_position *best_pos = NULL;
    for (int k = 0; k < n; k++) {
        const zkv_position *pos = position_of(rp, cand[k]);
        if (!pos)
            continue;
        /* Candidates are in id order: only a strictly higher position wins a tie. */
        if (!best_pos || pos->epoch > best_pos->epoch ||
            (pos->epoch == best_pos->epoch && pos->seq > best_pos->seq)) {
            best = k;
            best_pos = pos;
        }
    }
    const char *winner = cand[best];
    int w = node_index(p, winner);
    char old_owner[ZKV_ID_MAX];
    memcpy(old_owner, a->owner, ZKV_ID_MAX);

    /* The old owner takes the winner's replica slot (rule 5 may give it to a spare). */
    for (int j = 0; j < a->n_replicas; j++) {
        if (strcmp(a->replicas[j], winner) == 0) {
            set_id(a->replicas[j], old_owner);
            p->slots[w]--;
            break;
        }
    }
    set_id(a->owner, winner);
    p->owned[w]++;
    a->epoch++;
    memset(a->handoff, 0, ZKV_ID_MAX);

    /* in_sync: minus the new owner, minus every node that is not live. */
    for (int j = a->n_in_sync - 1; j >= 0; j--)
        if (strcmp(a->in_sync[j], winner) == 0 || node_index(p, a->in_sync[j]) < 0)
            list_remove_at(a->in_sync, &a->n_in_sync, j);
    return true;
}

/* true when a move of a's replica slot on node h to node l may start: the range is
 * assigned, its owner live and not l, it has exactly r1 replicas (no move in progress),
 * l holds no copy, h holds a replica slot and that slot is the one that leaves when the
 * move finishes (leaving_replica), so the move does what balance asked for. */
static bool can_start(const zkv_placement_input *in, const plan *p, const zkv_assignment *a,
                      size_t h, size_t l, int r1)
{
    const char *from = p->live[h], *to = p->live[l];
    if (held_back(in, p, a) || a->n_replicas != r1 || node_index(p, a->owner) < 0 ||
        strcmp(a->owner, to) == 0 || list_has(a->replicas, a->n_replicas, to))
        return false;
    return strcmp(a->replicas[leaving_replica(p, a, r1)], from) == 0;
}

/* Sorts idx (node positions) by val, descending when desc, ties by id order.
 * Insertion sort: node counts are small and it needs no global comparator context. */
static void sort_by_val(size_t n, const int *val, size_t *idx, bool desc)
{
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    for (size_t i = 1; i < n; i++) {
        size_t x = idx[i], j = i;
        for (; j > 0; j--) {
            size_t y = idx[j - 1];
            bool before = desc ? val[x] > val[y] : val[x] < val[y];
            if (!before && !(x < y && val[x] == val[y])) /* ties keep index order */
                break;
            idx[j] = y;
        }
        idx[j] = x;
    }
}

/* Ranges with a move in progress (more than r1 replicas); proj := every live node's
 * load once those moves finish: its load minus the moves whose leaving replica it is
 * (ranges with a live owner and a live extra). */
static size_t project(const zkv_placement_input *in, const plan *p, const zkv_assignment *out,
                      int r1, int *proj)
{
    size_t busy = 0;
    for (size_t k = 0; k < p->n; k++)
        proj[k] = load(p, k);
    for (size_t i = 0; i < in->n_ranges; i++) {
        const zkv_assignment *a = &out[i];
        if (held_back(in, p, a) || a->n_replicas <= r1)
            continue;
        busy++;
        if (node_index(p, a->owner) < 0 || node_index(p, a->replicas[r1]) < 0)
            continue;
        int k = node_index(p, a->replicas[leaving_replica(p, a, r1)]);
        if (k >= 0)
            proj[k]--;
    }
    return busy;
}

/* How much heavier an excluded node counts in rebalance: more than any real load, so it
 * gives its slots first. */
#define EXCLUDED_WEIGHT (1 << 20)

/* Pass 4, rule 9: starts moves (the target becomes the range's extra replica) while
 * fewer than max(1, live/2) ranges have a move in progress and some node's projected
 * load is at least 2 above another's with a range allowing the move (can_start): the
 * most loaded node gives to the least loaded one, first such pair and range in sort and
 * routing order; projections are recomputed after each start. A start needs a range
 * with exactly r1 replicas, so the loop ends after at most budget starts; it ends only
 * when the budget is spent or no start is allowed, both of which a second run computes
 * again from the same output, so it starts nothing more (idempotence). */
static void rebalance(const zkv_placement_input *in, const plan *p, zkv_assignment *out, size_t *hi,
                      size_t *lo, int *proj)
{
    int r1 = in->replicas - 1;
    if (replica_cap(r1) == r1)
        return;
    size_t budget = p->n / 2 > 1 ? p->n / 2 : 1;
    for (;;) {
        if (project(in, p, out, r1, proj) >= budget)
            return;
        for (size_t k = 0; k < p->n; k++) /* rule 11: they give first, take nothing */
            if (p->excluded[k])
                proj[k] += EXCLUDED_WEIGHT;
        sort_by_val(p->n, proj, hi, true);
        sort_by_val(p->n, proj, lo, false);
        bool started = false;
        for (size_t x = 0; x < p->n && !started; x++) {
            size_t h = hi[x];
            if (p->slots[h] == 0)
                continue; /* owns all it carries: nothing it could give */
            for (size_t y = 0; y < p->n && !started && proj[h] - proj[lo[y]] >= 2; y++) {
                size_t l = lo[y];
                if (p->excluded[l])
                    continue;
                for (size_t i = 0; i < in->n_ranges && !started; i++) {
                    zkv_assignment *a = &out[i];
                    if (!can_start(in, p, a, h, l, r1))
                        continue;
                    set_id(a->replicas[a->n_replicas++], p->live[l]);
                    set_id(a->leaving, p->live[h]);
                    p->slots[l]++;
                    started = true;
                }
            }
        }
        if (!started)
            return;
    }
}

/* Whether a's handoff request still stands (rule 10): owner and target live, the target
 * a not excluded in_sync replica, not stale. */
static bool handoff_valid(const plan *p, const zkv_assignment *a, bool stale)
{
    int t = node_index(p, a->handoff);
    return !stale && node_index(p, a->owner) >= 0 && t >= 0 && !excluded_at(p, t) &&
           strcmp(a->handoff, a->owner) != 0 && list_has(a->replicas, a->n_replicas, a->handoff) &&
           is_in_sync(a, a->handoff);
}

/* The live, not excluded in_sync replica of a owning the fewest ranges (by owned, ties by
 * id order); -1 if none. */
static int least_owning_in_sync(const plan *p, const zkv_assignment *a, const int *owned)
{
    int best = -1;
    for (int j = 0; j < a->n_in_sync; j++) {
        int k = node_index(p, a->in_sync[j]);
        if (k < 0 || excluded_at(p, k) || strcmp(a->in_sync[j], a->owner) == 0 ||
            !list_has(a->replicas, a->n_replicas, a->in_sync[j]))
            continue;
        if (best < 0 || owned[k] < owned[best] || (k < best && owned[k] == owned[best]))
            best = k;
    }
    return best;
}

/* Rule 12: while budget lasts, find the shortest chain h -> x1 -> ... -> l from a node h
 * owning the most ranges to a node l owning at least 2 fewer, where each link x -> y is a
 * range x owns (no request on it, owner live) that has y as a live, not excluded in_sync
 * replica, and ask every range of the chain to move one link. The nodes in the middle
 * give one range and take one, so only h and l change; a chain lets owners even out
 * even when the busiest node holds no copy on the idlest one. Breadth-first over nodes
 * in id order, ranges in routing order: deterministic. own holds the projected counts;
 * the chain is taken whole or not at all (it must fit in the budget). */
static void balance_owners(const zkv_placement_input *in, const plan *p, zkv_assignment *out,
                           int *own, size_t budget)
{
    size_t n = p->n;
    if (n == 0)
        return;
    int *prev = malloc(n * sizeof(*prev));  /* BFS: node we came from (-1: root) */
    size_t *via = malloc(n * sizeof(*via)); /* BFS: range index of that link */
    size_t *queue = malloc(n * sizeof(*queue));
    size_t *order = malloc(n * sizeof(*order));
    if (!prev || !via || !queue || !order)
        goto done;
    while (budget > 0) {
        /* heads: nodes by projected owned count, most first (ties by id) */
        sort_by_val(n, own, order, true);
        bool moved = false;
        for (size_t oi = 0; oi < n && !moved; oi++) {
            size_t h = order[oi];
            if (p->excluded[h])
                continue;
            for (size_t k = 0; k < n; k++)
                prev[k] = -2; /* unvisited */
            prev[h] = -1;
            size_t qh = 0, qt = 0;
            queue[qt++] = h;
            int goal = -1;
            while (qh < qt && goal < 0) {
                size_t x = queue[qh++];
                for (size_t i = 0; i < in->n_ranges && goal < 0; i++) {
                    zkv_assignment *a = &out[i];
                    if (held_back(in, p, a) || a->handoff[0] || zkv_assignment_reshaping(out, i) ||
                        node_index(p, a->owner) != (int)x)
                        continue;
                    for (int j = 0; j < a->n_in_sync && goal < 0; j++) {
                        int y = node_index(p, a->in_sync[j]);
                        if (y < 0 || excluded_at(p, y) || prev[y] != -2 ||
                            !list_has(a->replicas, a->n_replicas, a->in_sync[j]))
                            continue;
                        prev[y] = (int)x;
                        via[y] = i;
                        queue[qt++] = (size_t)y;
                        if (own[h] - own[y] >= 2)
                            goal = y;
                    }
                }
            }
            if (goal < 0)
                continue;
            size_t len = 0;
            for (int y = goal; prev[y] >= 0; y = prev[y])
                len++;
            if (len > budget)
                continue;
            for (int y = goal; prev[y] >= 0; y = prev[y])
                set_id(out[via[y]].handoff, p->live[y]);
            own[h]--;
            own[goal]++;
            budget -= len;
            moved = true;
        }
        if (!moved)
            break;
    }
done:
    free(prev);
    free(via);
    free(queue);
    free(order);
}

/* Pass 5, rules 10-12: withdraws requests that no longer stand, asks excluded owners to
 * hand their ranges off, then balances owners. own is scratch of p->n ints. */
static void handoffs(const zkv_placement_input *in, const plan *p, zkv_assignment *out, int *own)
{
    size_t outstanding = 0, eligible = 0;
    for (size_t k = 0; k < p->n; k++) {
        own[k] = p->owned[k];
        eligible += !p->excluded[k];
    }
    for (size_t i = 0; i < in->n_ranges; i++) {
        zkv_assignment *a = &out[i];
        if (held_back(in, p, a) || !a->handoff[0])
            continue;
        if (!handoff_valid(p, a, in->stale_handoff && in->stale_handoff[i])) {
            memset(a->handoff, 0, ZKV_ID_MAX);
            continue;
        }
        int from = node_index(p, a->owner), to = node_index(p, a->handoff);
        if (from >= 0 && to >= 0) { /* (handoff_valid: both live) */
            own[from]--;            /* projected: the request will be carried out */
            own[to]++;
        }
        outstanding++;
    }
    /* Rule 11: off excluded owners. */
    for (size_t i = 0; i < in->n_ranges; i++) {
        zkv_assignment *a = &out[i];
        int o = node_index(p, a->owner);
        if (held_back(in, p, a) || a->handoff[0] || zkv_assignment_reshaping(out, i) || o < 0 ||
            !excluded_at(p, o))
            continue;
        int t = least_owning_in_sync(p, a, own);
        if (t < 0)
            continue; /* no copy elsewhere yet: rule 9 makes one first */
        set_id(a->handoff, p->live[t]);
        own[o]--;
        own[t]++;
        outstanding++;
    }
    /* Rule 12: even out owners, by chains of handoffs (see balance_owners). */
    size_t budget = eligible / 2 > 1 ? eligible / 2 : 1;
    if (in->balance_owners)
        balance_owners(in, p, out, own, budget > outstanding ? budget - outstanding : 0);
}

int zkv_placement_compute(const zkv_placement_input *in, zkv_assignment *out)
{
    if (!in || !out || (in->n_ranges > 0 && !in->ranges) || (in->n_live > 0 && !in->live) ||
        in->replicas < 1 || in->replicas > ZKV_MAX_REPLICAS + 1)
        return -1;

    plan p = {.in = in};
    size_t cap = in->n_live > 0 ? in->n_live : 1;
    p.live = malloc(cap * sizeof(*p.live));
    p.owned = calloc(cap, sizeof(*p.owned));
    p.slots = calloc(cap, sizeof(*p.slots));
    p.excluded = calloc(cap, sizeof(*p.excluded));
    size_t *hi = malloc(cap * sizeof(*hi));
    size_t *lo = malloc(cap * sizeof(*lo));
    int *proj = malloc(cap * sizeof(*proj));
    int rc = -1;
    if (!p.live || !p.owned || !p.slots || !p.excluded || !hi || !lo || !proj)
        goto done;

    /* The live list: sorted, without duplicates or unusable ids. */
    for (size_t i = 0; i < in->n_live; i++) {
        const char *id = in->live[i];
        if (id && id[0] != '\0' && strlen(id) < ZKV_ID_MAX)
            p.live[p.n++] = id;
    }
    qsort(p.live, p.n, sizeof(*p.live), cmp_str_ptr);
    size_t w = 0;
    for (size_t i = 0; i < p.n; i++)
        if (w == 0 || strcmp(p.live[w - 1], p.live[i]) != 0)
            p.live[w++] = p.live[i];
    p.n = w;
    for (size_t i = 0; i < in->n_excluded; i++) {
        int k = in->excluded && in->excluded[i] ? node_index(&p, in->excluded[i]) : -1;
        if (k >= 0)
            p.excluded[k] = true;
    }

    /* Pass 1: copy, clean replicas, count what live nodes carry. */
    for (size_t i = 0; i < in->n_ranges; i++) {
        zkv_assignment *a = &out[i];
        *a = in->ranges[i];
        a->changed = false;
        if (held_back(in, &p, a))
            continue;
        sanitize(a);
        int o = node_index(&p, a->owner);
        if (o >= 0)
            p.owned[o]++;
        for (int j = 0; j < a->n_replicas; j++) {
            int k = node_index(&p, a->replicas[j]);
            if (k >= 0)
                p.slots[k]++;
        }
    }

    /* Pass 2: owners. A live owner never moves. A dead owner gives way to its best live
     * in_sync replica (failover), or stays when there is none: no other node is known
     * to hold every acknowledged write, so the range stays read-only. An ownerless range
     * gets the least-loaded live node. */
    for (size_t i = 0; i < in->n_ranges && p.n > 0; i++) {
        zkv_assignment *a = &out[i];
        if (held_back(in, &p, a))
            continue;
        if (a->owner[0] != '\0') {
            if (node_index(&p, a->owner) < 0)
                fail_over(&p, a, in->positions ? &in->positions[i] : NULL);
            continue;
        }
        int po = pick_owner(&p);
        if (po < 0)
            continue; /* every live node is excluded: it waits */
        size_t o = (size_t)po;
        set_id(a->owner, p.live[o]);
        a->epoch++;
        memset(a->handoff, 0, ZKV_ID_MAX);
        p.owned[o]++;
        for (int j = 0; j < a->n_replicas; j++) {
            if (strcmp(a->replicas[j], a->owner) == 0) {
                p.slots[o]--;
                list_remove_at(a->replicas, &a->n_replicas, j);
                break;
            }
        }
    }

    /* Pass 3: drop in_sync entries of removed replicas, bound the replica list, settle
     * moves in progress (drop a dead extra, finish when the extra is in_sync), give the
     * slots of dead replicas that are not in_sync to spares, fill missing slots. */
    int r1 = in->replicas - 1;
    for (size_t i = 0; i < in->n_ranges; i++) {
        zkv_assignment *a = &out[i];
        if (held_back(in, &p, a))
            continue;
        filter_in_sync(a);
        trim_replicas(&p, a, replica_cap(r1));
        settle_move(&p, a, r1);
        replace_dead(&p, a);
        fill_replicas(&p, a, r1);
        tidy_leaving(a, r1);
    }

    /* Pass 4: even out replica slots by starting moves. */
    rebalance(in, &p, out, hi, lo, proj);

    /* Pass 5: handoff requests: withdraw, off excluded owners, balance owners. */
    handoffs(in, &p, out, proj);

    for (size_t i = 0; i < in->n_ranges; i++) {
        filter_in_sync(&out[i]);
        out[i].changed = !zkv_assignment_equal(&out[i], &in->ranges[i]);
    }
    rc = 0;
done:
    free(p.live);
    free(p.owned);
    free(p.slots);
    free(p.excluded);
    free(hi);
    free(lo);
    free(proj);
    return rc;
}

int zkv_failover_candidates(const zkv_assignment *a, const char *const *live, size_t n_live,
                            char (*out)[ZKV_ID_MAX])
{
    if (!a || !out || (n_live > 0 && !live))
        return 0;
    const char **ids = malloc((n_live ? n_live : 1) * sizeof(*ids));
    if (!ids)
        return 0;
    plan p = {.live = ids};
    for (size_t i = 0; i < n_live; i++)
        if (live[i] && live[i][0] != '\0' && strlen(live[i]) < ZKV_ID_MAX)
            ids[p.n++] = live[i];
    qsort(ids, p.n, sizeof(*ids), cmp_str_ptr);
    zkv_assignment copy = *a;
    sanitize(&copy);
    memset(out, 0, ZKV_MAX_REPLICAS * sizeof(*out));
    int n = candidates(&p, &copy, out);
    free(ids);
    return n;
}

void zkv_assignment_from_range(zkv_assignment *a, const zkv_range *r)
{
    memset(a, 0, sizeof(*a));
    memcpy(a->owner, r->owner, ZKV_ID_MAX);
    memcpy(a->replicas, r->replicas, sizeof(a->replicas));
    memcpy(a->in_sync, r->in_sync, sizeof(a->in_sync));
    a->n_replicas = r->n_replicas;
    a->n_in_sync = r->n_in_sync;
    a->epoch = r->epoch;
    memcpy(a->handoff, r->handoff, ZKV_ID_MAX);
    memcpy(a->leaving, r->leaving, ZKV_ID_MAX);
    a->split_asked = r->split_asked;
    memcpy(a->split_ids, r->split_ids, sizeof(a->split_ids));
    a->split_key = r->split_key;
    a->split_key_len = r->split_key_len;
    memcpy(a->merge_with, r->merge_with, ZKV_ID_MAX);
    memcpy(a->merge_id, r->merge_id, ZKV_ID_MAX);
}

void zkv_assignment_to_range(const zkv_assignment *a, zkv_range *r)
{
    memcpy(r->owner, a->owner, ZKV_ID_MAX);
    memcpy(r->replicas, a->replicas, sizeof(r->replicas));
    memcpy(r->in_sync, a->in_sync, sizeof(r->in_sync));
    r->n_replicas = a->n_replicas;
    r->n_in_sync = a->n_in_sync;
    r->epoch = a->epoch;
    memcpy(r->handoff, a->handoff, ZKV_ID_MAX);
    memcpy(r->leaving, a->leaving, ZKV_ID_MAX);
    r->split_asked = a->split_asked;
    memcpy(r->split_ids, a->split_ids, sizeof(r->split_ids));
    r->split_key = a->split_key; /* r is a shallow copy, only read */
    r->split_key_len = a->split_key_len;
    memcpy(r->merge_with, a->merge_with, ZKV_ID_MAX);
    memcpy(r->merge_id, a->merge_id, ZKV_ID_MAX);
}

static bool lists_equal(const char (*x)[ZKV_ID_MAX], int nx, const char (*y)[ZKV_ID_MAX], int ny)
{
    if (nx != ny)
        return false;
    for (int i = 0; i < nx; i++)
        if (strncmp(x[i], y[i], ZKV_ID_MAX) != 0)
            return false;
    return true;
}

bool zkv_assignment_equal(const zkv_assignment *a, const zkv_assignment *b)
{
    return strncmp(a->owner, b->owner, ZKV_ID_MAX) == 0 && a->epoch == b->epoch &&
           strncmp(a->handoff, b->handoff, ZKV_ID_MAX) == 0 &&
           strncmp(a->leaving, b->leaving, ZKV_ID_MAX) == 0 && a->split_asked == b->split_asked &&
           lists_equal(a->split_ids, 2, b->split_ids, 2) && a->split_key_len == b->split_key_len &&
           (a->split_key_len == 0 || memcmp(a->split_key, b->split_key, a->split_key_len) == 0) &&
           strncmp(a->merge_with, b->merge_with, ZKV_ID_MAX) == 0 &&
           strncmp(a->merge_id, b->merge_id, ZKV_ID_MAX) == 0 &&
           lists_equal(a->replicas, a->n_replicas, b->replicas, b->n_replicas) &&
           lists_equal(a->in_sync, a->n_in_sync, b->in_sync, b->n_in_sync);
}

void zkv_assignment_format_list(const char (*ids)[ZKV_ID_MAX], int n, char *out, size_t outlen)
{
    if (outlen == 0)
        return;
    size_t len = 0;
    out[0] = '\0';
    for (int i = -1; i <= n && len + 1 < outlen; i++) {
        const char *piece = i < 0 ? "[" : i == n ? "]" : ids[i];
        const char *sep = (i > 0 && i < n) ? "," : "";
        int w = snprintf(out + len, outlen - len, "%s%s", sep, piece);
        if (w < 0)
            break;
        len += (size_t)w;
        if (len >= outlen)
            len = outlen - 1;
    }
}
