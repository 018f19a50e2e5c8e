/* placement.c: the pure placement function (see placement.h for the rules).
 *
 * Work happens on a copy of the input in four passes over the ranges, in routing
 * order, with per-node counters (ranges owned, replica slots held) indexed by the
 * position of the node id in the sorted live list. Every choice is a minimum over a
 * total order (counter, then id), so the result does not depend on anything but the
 * input. Idempotence follows from each pass leaving nothing for itself to do: replicas
 * are clean, every assignable range has an owner and a full replica set, and the
 * rebalancing loop stops only when no allowed move is left.
 *
 * Load of a node = ranges owned + replica slots held: every copy of a range costs the
 * same disk space and write traffic, so balancing copies balances the cluster; owners
 * are balanced on their own when they are chosen (a new node never takes an owner away,
 * there are no data moves yet). */
#include "placement.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct plan {
    const char **live; /* sorted, distinct */
    size_t n;
    int *owned; /* per live node */
    int *slots; /* per live node */
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

static void set_id(char *dst, const char *src)
{
    memset(dst, 0, ZKV_ID_MAX);
    strncpy(dst, src, ZKV_ID_MAX - 1);
}

/* A never-owned range waits until min_nodes nodes are live. */
static bool held_back(const zkv_placement_input *in, const plan *p, const zkv_assignment *a)
{
    return a->owner[0] == '\0' && a->epoch == 0 &&
           p->n < (size_t)(in->min_nodes > 0 ? in->min_nodes : 1);
}

/* Pass 1: drop replicas that are not live, equal the owner or repeat. */
static void clean_replicas(const plan *p, zkv_assignment *a)
{
    char kept[ZKV_MAX_REPLICAS][ZKV_ID_MAX];
    int n = 0;
    memset(kept, 0, sizeof(kept));
    for (int j = 0; j < a->n_replicas; j++) {
        const char *id = a->replicas[j];
        if (node_index(p, id) < 0 || strcmp(id, a->owner) == 0 || list_has(kept, n, id))
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

/* Live node owning the fewest ranges; ties: fewest replica slots, then id order. */
static size_t pick_owner(const plan *p)
{
    size_t best = 0;
    for (size_t i = 1; i < p->n; i++) {
        if (p->owned[i] < p->owned[best] ||
            (p->owned[i] == p->owned[best] && p->slots[i] < p->slots[best]))
            best = i;
    }
    return best;
}

/* Least-loaded live node that is neither the owner nor a replica of a; -1 if none. */
static int pick_replica(const plan *p, const zkv_assignment *a)
{
    int best = -1;
    for (size_t i = 0; i < p->n; i++) {
        if (strcmp(p->live[i], a->owner) == 0 || list_has(a->replicas, a->n_replicas, p->live[i]))
            continue;
        if (best < 0 || load(p, i) < load(p, (size_t)best))
            best = (int)i;
    }
    return best;
}

/* Pass 3: replica count to min(R-1, live nodes other than the owner). When over it,
 * the last replicas that are not in_sync go first. */
static void size_replicas(const plan *p, zkv_assignment *a, int r1)
{
    int others = (int)p->n - (node_index(p, a->owner) >= 0 ? 1 : 0);
    int target = r1 < others ? r1 : others;
    while (a->n_replicas > target) {
        int at = a->n_replicas - 1;
        for (int j = a->n_replicas - 1; j >= 0; j--) {
            if (!list_has(a->in_sync, a->n_in_sync, a->replicas[j])) {
                at = j;
                break;
            }
        }
        p->slots[node_index(p, a->replicas[at])]--;
        list_remove_at(a->replicas, &a->n_replicas, at);
    }
    while (a->n_replicas < target) {
        int pick = pick_replica(p, a);
        if (pick < 0)
            break;
        set_id(a->replicas[a->n_replicas++], p->live[pick]);
        p->slots[pick]++;
    }
}

/* Moves replica slots of node h that are not in_sync to node l, walking the ranges in
 * routing order and skipping ranges where l already holds a copy, while h carries at
 * least 2 more than l: one slot, then more only while h stays above the average load
 * and l below it (so a batch never overshoots and makes work for later moves).
 * Returns the number of slots moved. */
static int move_slots(const zkv_placement_input *in, const plan *p, zkv_assignment *out, size_t h,
                      size_t l, int floor_avg, int ceil_avg)
{
    const char *from = p->live[h], *to = p->live[l];
    int moved = 0;
    for (size_t i = 0; i < in->n_ranges && load(p, h) - load(p, l) >= 2 &&
                       (moved == 0 || (load(p, h) > ceil_avg && load(p, l) < floor_avg));
         i++) {
        zkv_assignment *a = &out[i];
        if (held_back(in, p, a) || strcmp(a->owner, to) == 0 ||
            list_has(a->replicas, a->n_replicas, to) || list_has(a->in_sync, a->n_in_sync, from))
            continue;
        for (int j = 0; j < a->n_replicas; j++) {
            if (strcmp(a->replicas[j], from) == 0) {
                set_id(a->replicas[j], to);
                p->slots[h]--;
                p->slots[l]++;
                moved++;
                break;
            }
        }
    }
    return moved;
}

/* Sorts idx (node positions) by load, descending when desc, ties by id order.
 * Insertion sort: node counts are small and it needs no global comparator context. */
static void sort_by_load(const plan *p, size_t *idx, bool desc)
{
    for (size_t i = 0; i < p->n; i++)
        idx[i] = i;
    for (size_t i = 1; i < p->n; i++) {
        size_t x = idx[i], j = i;
        for (; j > 0; j--) {
            size_t y = idx[j - 1];
            int lx = load(p, x), ly = load(p, y);
            bool before = desc ? lx > ly : lx < ly;
            if (!before && !(lx == ly && x < y))
                break;
            idx[j] = y;
        }
        idx[j] = x;
    }
}

/* Pass 4: while some node carries at least 2 more than another and a movable slot
 * exists between such a pair, move slots from the most loaded to the least loaded
 * node of the first such pair, then sort again. Each move lowers the sum of squared
 * loads by at least 2, so the loop ends; it ends only when no pair with a difference
 * of 2 or more has a movable slot, which makes a second run a no-op. */
static void rebalance(const zkv_placement_input *in, const plan *p, zkv_assignment *out, size_t *hi,
                      size_t *lo)
{
    long total = 0;
    for (size_t i = 0; i < p->n; i++)
        total += load(p, i);
    int floor_avg = p->n ? (int)(total / (long)p->n) : 0;
    int ceil_avg = p->n ? (int)((total + (long)p->n - 1) / (long)p->n) : 0;
    for (;;) {
        sort_by_load(p, hi, true);
        sort_by_load(p, lo, false);
        int moved = 0;
        for (size_t a = 0; a < p->n && !moved; a++) {
            if (p->slots[hi[a]] == 0)
                continue; /* owns all it carries: nothing it could give */
            for (size_t b = 0; b < p->n && !moved; b++) {
                if (load(p, hi[a]) - load(p, lo[b]) < 2)
                    break;
                moved = move_slots(in, p, out, hi[a], lo[b], floor_avg, ceil_avg);
            }
        }
        if (!moved)
            return;
    }
}

int zkv_placement_compute(const zkv_placement_input *in, zkv_assignment *out)
{
    if (!in || !out || (in->n_ranges > 0 && !in->ranges) || (in->n_live > 0 && !in->live) ||
        in->replicas < 1 || in->replicas > ZKV_MAX_REPLICAS + 1)
        return -1;

    plan p = {0};
    size_t cap = in->n_live > 0 ? in->n_live : 1;
    p.live = malloc(cap * sizeof(*p.live));
    p.owned = calloc(cap, sizeof(*p.owned));
    p.slots = calloc(cap, sizeof(*p.slots));
    size_t *hi = malloc(cap * sizeof(*hi));
    size_t *lo = malloc(cap * sizeof(*lo));
    int rc = -1;
    if (!p.live || !p.owned || !p.slots || !hi || !lo)
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

    /* Pass 1: copy, clean replicas, count what live nodes carry. */
    for (size_t i = 0; i < in->n_ranges; i++) {
        zkv_assignment *a = &out[i];
        *a = in->ranges[i];
        a->changed = false;
        a->owner[ZKV_ID_MAX - 1] = '\0';
        if (a->n_replicas < 0 || a->n_replicas > ZKV_MAX_REPLICAS)
            a->n_replicas = a->n_replicas < 0 ? 0 : ZKV_MAX_REPLICAS;
        if (a->n_in_sync < 0 || a->n_in_sync > ZKV_MAX_REPLICAS)
            a->n_in_sync = a->n_in_sync < 0 ? 0 : ZKV_MAX_REPLICAS;
        for (int j = 0; j < ZKV_MAX_REPLICAS; j++) {
            a->replicas[j][ZKV_ID_MAX - 1] = '\0';
            a->in_sync[j][ZKV_ID_MAX - 1] = '\0';
        }
        if (held_back(in, &p, a))
            continue;
        clean_replicas(&p, a);
        int o = node_index(&p, a->owner);
        if (o >= 0)
            p.owned[o]++;
        for (int j = 0; j < a->n_replicas; j++)
            p.slots[node_index(&p, a->replicas[j])]++;
    }

    /* Pass 2: owners for ownerless ranges. A live owner never moves. A range whose
     * owner is not live keeps that owner: without replication no other node has its
     * data, so promoting one would lose every write. Failover (promotion of an in_sync
     * replica, with epoch+1) belongs here once replication exists. */
    for (size_t i = 0; i < in->n_ranges && p.n > 0; i++) {
        zkv_assignment *a = &out[i];
        if (a->owner[0] != '\0' || held_back(in, &p, a))
            continue;
        size_t o = pick_owner(&p);
        set_id(a->owner, p.live[o]);
        a->epoch++;
        p.owned[o]++;
        for (int j = 0; j < a->n_replicas; j++) {
            if (strcmp(a->replicas[j], a->owner) == 0) {
                p.slots[o]--;
                list_remove_at(a->replicas, &a->n_replicas, j);
                break;
            }
        }
    }

    /* Pass 3: drop in_sync entries of removed replicas, then size every replica set. */
    for (size_t i = 0; i < in->n_ranges; i++) {
        zkv_assignment *a = &out[i];
        if (held_back(in, &p, a))
            continue;
        filter_in_sync(a);
        size_replicas(&p, a, in->replicas - 1);
    }

    /* Pass 4: even out replica slots. */
    rebalance(in, &p, out, hi, lo);

    for (size_t i = 0; i < in->n_ranges; i++) {
        filter_in_sync(&out[i]);
        out[i].changed = !zkv_assignment_equal(&out[i], &in->ranges[i]);
    }
    rc = 0;
done:
    free(p.live);
    free(p.owned);
    free(p.slots);
    free(hi);
    free(lo);
    return rc;
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
}

void zkv_assignment_to_range(const zkv_assignment *a, zkv_range *r)
{
    memcpy(r->owner, a->owner, ZKV_ID_MAX);
    memcpy(r->replicas, a->replicas, sizeof(r->replicas));
    memcpy(r->in_sync, a->in_sync, sizeof(r->in_sync));
    r->n_replicas = a->n_replicas;
    r->n_in_sync = a->n_in_sync;
    r->epoch = a->epoch;
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
