/* rangemap.c: the routing table as plain data. Ranges are kept sorted by start key and
 * checked to tile the key space once (zkv_rangemap_finish), so a lookup is a binary
 * search for the last range whose start is <= key; nodes are sorted by id likewise. */
#include "common/rangemap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/keyrange.h"

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
    if (n == 0)
        return NULL;
    uint8_t *d = malloc(n);
    if (d)
        memcpy(d, p, n);
    return d;
}

int zkv_range_set_bounds(zkv_range *r, const uint8_t *start, size_t slen, const uint8_t *end,
                         size_t elen)
{
    uint8_t *s = dup_bytes(start, slen);
    if (slen && !s)
        return -1;
    uint8_t *e = dup_bytes(end, elen);
    if (elen && !e) {
        free(s);
        return -1;
    }
    free(r->start);
    free(r->end);
    r->start = s;
    r->start_len = slen;
    r->end = e;
    r->end_len = elen;
    return 0;
}

int zkv_range_set_split_key(zkv_range *r, const uint8_t *key, size_t len)
{
    uint8_t *k = dup_bytes(key, len);
    if (len && !k)
        return -1;
    free(r->split_key);
    r->split_key = k;
    r->split_key_len = len;
    return 0;
}

int zkv_range_copy(zkv_range *dst, const zkv_range *src)
{
    *dst = *src;
    dst->start = NULL;
    dst->end = NULL;
    dst->split_key = NULL;
    dst->start_len = 0;
    dst->end_len = 0;
    dst->split_key_len = 0;
    if (zkv_range_set_bounds(dst, src->start, src->start_len, src->end, src->end_len) != 0 ||
        zkv_range_set_split_key(dst, src->split_key, src->split_key_len) != 0) {
        free(dst->start);
        free(dst->end);
        memset(dst, 0, sizeof *dst);
        return -1;
    }
    return 0;
}

void zkv_range_clear(zkv_range *r)
{
    if (!r)
        return;
    free(r->start);
    free(r->end);
    free(r->split_key);
    memset(r, 0, sizeof *r);
}

void zkv_rangemap_free(zkv_rangemap *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_ranges; i++)
        zkv_range_clear(&m->ranges[i]);
    free(m->ranges);
    free(m->nodes);
    free(m);
}

static int range_start_cmp(const void *a, const void *b)
{
    const zkv_range *x = a, *y = b;
    return zkv_key_cmp(x->start, x->start_len, y->start, y->start_len);
}

static int node_id_cmp(const void *a, const void *b)
{
    const zkv_node_info *x = a, *y = b;
    return strcmp(x->id, y->id);
}

int zkv_rangemap_finish(zkv_rangemap *m, char *err, size_t errlen)
{
    if (m->n_nodes > 1)
        qsort(m->nodes, m->n_nodes, sizeof *m->nodes, node_id_cmp);
    if (m->n_ranges == 0) {
        snprintf(err, errlen, "range map has no ranges");
        return -1;
    }
    qsort(m->ranges, m->n_ranges, sizeof *m->ranges, range_start_cmp);
    if (m->ranges[0].start_len != 0) {
        snprintf(err, errlen, "first range %s does not start at the lowest key", m->ranges[0].id);
        return -1;
    }
    for (size_t i = 0; i + 1 < m->n_ranges; i++) {
        const zkv_range *a = &m->ranges[i], *b = &m->ranges[i + 1];
        if (a->end_len != 0 && zkv_key_cmp(a->start, a->start_len, a->end, a->end_len) >= 0) {
            snprintf(err, errlen, "range %s is empty (start >= end)", a->id);
            return -1;
        }
        if (a->end_len == 0) {
            snprintf(err, errlen, "range %s is unbounded but range %s follows it", a->id, b->id);
            return -1;
        }
        int c = zkv_key_cmp(a->end, a->end_len, b->start, b->start_len);
        if (c != 0) {
            snprintf(err, errlen, "ranges %s and %s %s", a->id, b->id,
                     c < 0 ? "leave a gap between them" : "overlap");
            return -1;
        }
    }
    const zkv_range *last = &m->ranges[m->n_ranges - 1];
    if (last->end_len != 0) {
        snprintf(err, errlen, "last range %s does not reach the end of the key space", last->id);
        return -1;
    }
    return 0;
}

const zkv_range *zkv_rangemap_find(const zkv_rangemap *m, const uint8_t *key, size_t klen)
{
    if (!m || m->n_ranges == 0)
        return NULL;
    /* Last range whose start <= key. */
    size_t lo = 0, hi = m->n_ranges; /* answer in [lo, hi) is the count of starts <= key */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const zkv_range *r = &m->ranges[mid];
        if (zkv_key_cmp(r->start, r->start_len, key, klen) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    const zkv_range *r = &m->ranges[lo - 1];
    if (zkv_end_cmp(r->end, r->end_len, key, klen) <= 0)
        return NULL;
    return r;
}

const zkv_range *zkv_rangemap_find_before(const zkv_rangemap *m, const uint8_t *key, size_t klen)
{
    if (!m || m->n_ranges == 0)
        return NULL;
    if (klen == 0) /* +infinity: the last range, if it is unbounded */
        return m->ranges[m->n_ranges - 1].end_len == 0 ? &m->ranges[m->n_ranges - 1] : NULL;
    /* Last range whose start < key: the keys just below key are in it when its end >= key. */
    size_t lo = 0, hi = m->n_ranges;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const zkv_range *r = &m->ranges[mid];
        if (zkv_key_cmp(r->start, r->start_len, key, klen) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL; /* nothing below key */
    const zkv_range *r = &m->ranges[lo - 1];
    if (zkv_end_cmp(r->end, r->end_len, key, klen) < 0)
        return NULL; /* a hole in the map */
    return r;
}

const zkv_node_info *zkv_rangemap_node(const zkv_rangemap *m, const char *node_id)
{
    if (!m || !node_id || m->n_nodes == 0)
        return NULL;
    size_t lo = 0, hi = m->n_nodes;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(m->nodes[mid].id, node_id);
        if (c == 0)
            return &m->nodes[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

bool zkv_range_is_replica(const zkv_range *r, const char *node_id)
{
    if (!r || !node_id || !*node_id)
        return false;
    for (int i = 0; i < r->n_replicas && i < ZKV_MAX_REPLICAS; i++)
        if (strcmp(r->replicas[i], node_id) == 0)
            return true;
    return false;
}

bool zkv_range_is_in_sync(const zkv_range *r, const char *node_id)
{
    if (!r || !node_id || !*node_id)
        return false;
    for (int i = 0; i < r->n_in_sync && i < ZKV_MAX_REPLICAS; i++)
        if (strcmp(r->in_sync[i], node_id) == 0)
            return true;
    return false;
}
