/* bytebalance.c: rule 14, owners even by bytes (see bytebalance.h). */
#include "bytebalance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int node_of(const char *const *nodes, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(nodes[i], id) == 0)
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

/* Whether node can take range a over: an in_sync replica of it. */
static bool can_take(const zkv_assignment *a, const char *node)
{
    return has(a->replicas, a->n_replicas, node) && has(a->in_sync, a->n_in_sync, node);
}

static void ask(zkv_assignment *a, const char *node)
{
    snprintf(a->handoff, sizeof(a->handoff), "%s", node);
    a->changed = true;
}

bool zkv_byte_balance(zkv_assignment *out, size_t n, const double *bytes, const char *const *nodes,
                      size_t n_nodes, double min_gap)
{
    if (!out || !bytes || !nodes || n_nodes < 2)
        return false;
    double *load = calloc(n_nodes, sizeof(*load));
    int *count = calloc(n_nodes, sizeof(*count));
    bool ok = load && count;
    for (size_t i = 0; ok && i < n; i++) {
        const zkv_assignment *a = &out[i];
        int o = node_of(nodes, n_nodes, a->owner);
        ok = bytes[i] >= 0 && !a->handoff[0] && !a->split_asked && !a->merge_with[0] && o >= 0;
        if (ok) {
            load[o] += bytes[i];
            count[o]++;
        }
    }
    size_t h = 0, l = 0;
    for (size_t k = 1; ok && k < n_nodes; k++) {
        h = load[k] > load[h] ? k : h;
        l = load[k] < load[l] ? k : l;
    }
    double gap = ok ? load[h] - load[l] : 0;
    ok = ok && h != l && gap >= min_gap && gap * 4 >= load[l];
    /* the trade whose new gap |gap - 2d| is smallest, d the bytes that change hands (the
     * first found in routing order on a tie, a one-way trade before a swap) */
    double best = gap;
    size_t ba = n, bb = n;
    for (size_t a = 0; ok && a < n; a++) {
        if (strcmp(out[a].owner, nodes[h]) != 0 || !can_take(&out[a], nodes[l]))
            continue;
        if (count[h] > count[l]) { /* one way keeps counts within one */
            double d = bytes[a], left = gap - 2 * d < 0 ? 2 * d - gap : gap - 2 * d;
            if (d > 0 && left < best) {
                best = left;
                ba = a;
                bb = n;
            }
        }
        for (size_t b = 0; b < n; b++) {
            if (strcmp(out[b].owner, nodes[l]) != 0 || !can_take(&out[b], nodes[h]))
                continue;
            double d = bytes[a] - bytes[b], left = gap - 2 * d < 0 ? 2 * d - gap : gap - 2 * d;
            left += 1; /* a byte's worth: on a tie, one handoff beats two */
            if (d > 0 && left < best) {
                best = left;
                ba = a;
                bb = b;
            }
        }
    }
    bool traded = ok && ba < n;
    if (traded) {
        ask(&out[ba], nodes[l]);
        if (bb < n)
            ask(&out[bb], nodes[h]);
    }
    free(load);
    free(count);
    return traded;
}
