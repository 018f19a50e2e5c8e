/* bytebalance.c: rules 14 and 15, owners and replica slots even by bytes (see
 * bytebalance.h). One trade search serves both; they differ in what a node carries and
 * in how a range changes hands. */
#include "bytebalance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { OWNERS, SLOTS } side;

typedef struct scene {
    side what;
    const char *const *nodes;
    size_t n_nodes;
    int r1;       /* SLOTS: replica slots per range */
    double *load; /* per node: bytes it carries on this side */
    int *count;   /* per node: ranges it owns (OWNERS), owns or is a replica of (SLOTS) */
} scene;

static int node_of(const scene *s, const char *id)
{
    for (size_t i = 0; i < s->n_nodes; i++)
        if (strcmp(s->nodes[i], id) == 0)
            return (int)i;
    return -1;
}

static bool has(const char (*ids)[ZKV_ID_MAX], int n, const char *id)
{
    for (int i = 0; i < n; i++)
        if (strcmp(ids[i], id) == 0)
            return true;
    return false;
}

static bool holds(const zkv_assignment *a, const char *node)
{
    return strcmp(a->owner, node) == 0 || has(a->replicas, a->n_replicas, node);
}

/* Whether range a may pass from node from to node to: ownership to an in_sync replica
 * (OWNERS), or a replica slot to a node holding no copy (SLOTS). */
static bool gives(const scene *s, const zkv_assignment *a, const char *from, const char *to)
{
    if (s->what == OWNERS)
        return strcmp(a->owner, from) == 0 && has(a->replicas, a->n_replicas, to) &&
               has(a->in_sync, a->n_in_sync, to);
    return has(a->replicas, a->n_replicas, from) && !holds(a, to);
}

/* Adds range a (of size b) to the loads; false when a is not steady enough to trade. */
static bool tally(scene *s, const zkv_assignment *a, double b)
{
    int o = node_of(s, a->owner);
    if (b < 0 || a->handoff[0] || a->split_asked || a->merge_with[0] || o < 0)
        return false;
    if (s->what == OWNERS) {
        s->load[o] += b;
        s->count[o]++;
        return true;
    }
    if (a->n_replicas > s->r1 || a->leaving[0])
        return false; /* a move in progress */
    s->count[o]++;
    for (int j = 0; j < a->n_replicas; j++) {
        int k = node_of(s, a->replicas[j]);
        if (k < 0 || !has(a->in_sync, a->n_in_sync, a->replicas[j]))
            return false;
        s->load[k] += b;
        s->count[k]++;
    }
    return true;
}

static double dist(double x)
{
    return x < 0 ? -x : x;
}

/* Finds the trade between h and l (gap = load[h] - load[l]) whose new gap |gap - 2d| is
 * smallest, d the bytes that change hands: range *ba from h to l and, unless *bb == n,
 * range *bb from l to h (the first found in routing order on a tie, a one-way trade
 * before a swap). false when none shrinks the gap. ga and gb have room for n entries. */
static bool find_trade(const scene *s, const zkv_assignment *out, size_t n, const double *bytes,
                       size_t h, size_t l, size_t *ga, size_t *gb, size_t *ba, size_t *bb)
{
    const char *hn = s->nodes[h], *ln = s->nodes[l];
    size_t na = 0, nb = 0;
    for (size_t i = 0; i < n; i++) {
        if (gives(s, &out[i], hn, ln))
            ga[na++] = i;
        if (gives(s, &out[i], ln, hn))
            gb[nb++] = i;
    }
    double gap = s->load[h] - s->load[l], best = gap;
    *ba = *bb = n;
    for (size_t x = 0; x < na; x++) {
        size_t a = ga[x];
        if (s->count[h] > s->count[l]) { /* one way keeps counts within one */
            double d = bytes[a], left = dist(gap - 2 * d);
            if (d > 0 && left < best) {
                best = left;
                *ba = a;
                *bb = n;
            }
        }
        for (size_t y = 0; y < nb; y++) {
            double d = bytes[a] - bytes[gb[y]];
            double left = dist(gap - 2 * d) + 1; /* a byte's worth: one change beats two */
            if (d > 0 && left < best) {
                best = left;
                *ba = a;
                *bb = gb[y];
            }
        }
    }
    return *ba < n;
}

/* The order in which nodes are tried: by load, heaviest first (ties by position). */
static void by_load(const scene *s, size_t *idx)
{
    for (size_t i = 0; i < s->n_nodes; i++) {
        size_t j = i;
        for (; j > 0 && s->load[idx[j - 1]] < s->load[i]; j--)
            idx[j] = idx[j - 1];
        idx[j] = i;
    }
}

/* Whether the gap between a heavier node carrying hi and a lighter one carrying lo is
 * worth a trade. */
static bool worth(double hi, double lo, double min_gap)
{
    return hi - lo >= min_gap && (hi - lo) * 4 >= lo && hi > lo;
}

/* Carries out the passing of range a from node from to node to. */
static void pass(const scene *s, zkv_assignment *a, const char *from, const char *to)
{
    if (s->what == OWNERS) {
        snprintf(a->handoff, sizeof(a->handoff), "%s", to);
    } else {
        snprintf(a->replicas[a->n_replicas++], ZKV_ID_MAX, "%s", to);
        snprintf(a->leaving, sizeof(a->leaving), "%s", from);
    }
    a->changed = true;
}

/* Pairs are tried from the widest gap down (the heaviest node with the lightest, then the
 * next lightest, ...), and the first pair with a trade that shrinks its gap makes it:
 * every trade lowers the sum of squared loads, so trades come to an end. */
static bool trade(scene *s, zkv_assignment *out, size_t n, const double *bytes, double min_gap)
{
    if (!out || !bytes || !s->nodes || s->n_nodes < 2)
        return false;
    s->load = calloc(s->n_nodes, sizeof(*s->load));
    s->count = calloc(s->n_nodes, sizeof(*s->count));
    size_t *order = calloc(s->n_nodes, sizeof(*order));
    size_t *ga = calloc(n ? n : 1, sizeof(*ga)), *gb = calloc(n ? n : 1, sizeof(*gb));
    bool ok = s->load && s->count && order && ga && gb, done = false;
    for (size_t i = 0; ok && i < n; i++)
        ok = tally(s, &out[i], bytes[i]);
    if (ok)
        by_load(s, order);
    size_t m = s->n_nodes;
    for (size_t x = 0; ok && !done && x < m; x++) {
        size_t h = order[x];
        for (size_t y = m; y-- > x + 1 && !done;) {
            size_t l = order[y], ba, bb;
            if (!worth(s->load[h], s->load[l], min_gap))
                break; /* lighter ones left are closer still */
            done = find_trade(s, out, n, bytes, h, l, ga, gb, &ba, &bb);
            if (done) {
                pass(s, &out[ba], s->nodes[h], s->nodes[l]);
                if (bb < n)
                    pass(s, &out[bb], s->nodes[l], s->nodes[h]);
            }
        }
    }
    free(s->load);
    free(s->count);
    free(order);
    free(ga);
    free(gb);
    return done;
}

bool zkv_byte_balance(zkv_assignment *out, size_t n, const double *bytes, const char *const *nodes,
                      size_t n_nodes, double min_gap)
{
    scene s = {.what = OWNERS, .nodes = nodes, .n_nodes = n_nodes};
    return trade(&s, out, n, bytes, min_gap);
}

bool zkv_replica_byte_balance(zkv_assignment *out, size_t n, const double *bytes,
                              const char *const *nodes, size_t n_nodes, int r1, double min_gap)
{
    if (r1 < 1 || r1 >= ZKV_MAX_REPLICAS)
        return false;
    scene s = {.what = SLOTS, .nodes = nodes, .n_nodes = n_nodes, .r1 = r1};
    return trade(&s, out, n, bytes, min_gap);
}
