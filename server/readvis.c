/* readvis.c: the read-visibility rule and the table of uncommitted deletes (readvis.h).
 * The table is open addressing with linear probing over (hash, seq) slots at most half
 * full. Entries are never removed one by one: once the commit point passes del_max every
 * entry is settled and the table is cleared; before it grows, entries the commit point
 * passed are swept out. So it holds about the deletes of one replication round trip. */
#include "readvis.h"

#include <stdlib.h>
#include <string.h>
#include "rowcache.h"

#define READVIS_MIN_CAP 64u

void zkv_readvis_init(zkv_readvis *v, uint64_t last_seq)
{
    memset(v, 0, sizeof(*v));
    v->miss_floor = last_seq;
}

void zkv_readvis_free(zkv_readvis *v)
{
    free(v->slots);
    v->slots = NULL;
    v->cap = v->n = 0;
    v->del_max = 0;
}

static uint64_t key_hash(const uint8_t *key, size_t klen)
{
    uint64_t h = zkv_rowcache_hash(key, klen);
    return h ? h : 1;
}

static void clear(zkv_readvis *v)
{
    if (v->n)
        memset(v->slots, 0, v->cap * sizeof(*v->slots));
    v->n = 0;
    v->del_max = 0;
}

void zkv_readvis_set_commit_point(zkv_readvis *v, uint64_t commit_point)
{
    uint64_t cp = zkv_readvis_point(v);
    if (commit_point > v->commit_point)
        v->commit_point = commit_point;
    if (commit_point > cp)
        cp = commit_point;
    if (v->n && cp >= v->del_max)
        clear(v);
}

void zkv_readvis_set_live(zkv_readvis *v, const uint64_t *live)
{
    if (v->live == live)
        return;
    v->commit_point = zkv_readvis_point(v); /* keep the highest point seen */
    v->live = live;
}

static zkv_readvis_slot *find_slot(zkv_readvis_slot *slots, size_t cap, uint64_t h)
{
    size_t mask = cap - 1;
    size_t i = (size_t)h & mask;
    while (slots[i].hash && slots[i].hash != h)
        i = (i + 1) & mask;
    return &slots[i];
}

/* Rebuilds the table into new_cap slots, keeping the entries the commit point has not
 * passed. Returns 0, or -1 out of memory (the table is unchanged). */
static int rebuild(zkv_readvis *v, size_t new_cap)
{
    uint64_t cp = zkv_readvis_point(v);
    zkv_readvis_slot *ns = calloc(new_cap, sizeof(*ns));
    if (!ns)
        return -1;
    size_t n = 0;
    uint64_t max = 0;
    for (size_t i = 0; i < v->cap; i++) {
        const zkv_readvis_slot *s = &v->slots[i];
        if (!s->hash || s->seq <= cp)
            continue;
        *find_slot(ns, new_cap, s->hash) = *s;
        n++;
        if (s->seq > max)
            max = s->seq;
    }
    free(v->slots);
    v->slots = ns;
    v->cap = new_cap;
    v->n = n;
    v->del_max = max;
    return 0;
}

/* Room for one more entry: sweep what is settled, grow when still over half full. */
static int make_room(zkv_readvis *v)
{
    if (v->cap && (v->n + 1) * 2 <= v->cap)
        return 0;
    if (!v->cap)
        return rebuild(v, READVIS_MIN_CAP);
    size_t live = 0;
    uint64_t cp = zkv_readvis_point(v);
    for (size_t i = 0; i < v->cap; i++)
        if (v->slots[i].hash && v->slots[i].seq > cp)
            live++;
    size_t cap = v->cap;
    while ((live + 1) * 2 > cap)
        cap *= 2;
    return rebuild(v, cap);
}

void zkv_readvis_note_delete(zkv_readvis *v, const uint8_t *key, size_t klen, uint64_t seq)
{
    if (seq <= zkv_readvis_point(v))
        return;
    if (make_room(v) != 0) {
        if (seq > v->miss_floor)
            v->miss_floor = seq;
        return;
    }
    uint64_t h = key_hash(key, klen);
    zkv_readvis_slot *s = find_slot(v->slots, v->cap, h);
    if (!s->hash) {
        s->hash = h;
        v->n++;
    }
    if (seq > s->seq)
        s->seq = seq;
    if (seq > v->del_max)
        v->del_max = seq;
}

static uint64_t wait_for(const zkv_readvis *v, uint64_t need)
{
    return need > zkv_readvis_point(v) ? need : 0;
}

uint64_t zkv_readvis_get_wait(const zkv_readvis *v, bool found, uint64_t value_seq,
                              const uint8_t *key, size_t klen)
{
    if (found)
        return wait_for(v, value_seq);
    uint64_t need = v->miss_floor;
    if (v->n && v->del_max > zkv_readvis_point(v)) {
        const zkv_readvis_slot *s = find_slot(v->slots, v->cap, key_hash(key, klen));
        if (s->hash && s->seq > need)
            need = s->seq;
    }
    return wait_for(v, need);
}

uint64_t zkv_readvis_scan_wait(const zkv_readvis *v, uint64_t max_item_seq)
{
    uint64_t need = max_item_seq > v->miss_floor ? max_item_seq : v->miss_floor;
    if (v->del_max > need)
        need = v->del_max;
    return wait_for(v, need);
}
