/* dedupe.c: two generations of open-addressing tables (dedupe.h). A generation never
 * deletes: it is dropped whole when the next one is started, after ZKV_DEDUPE_KEEP_MS / 2
 * or when it is half full at ZKV_DEDUPE_GEN_MAX entries. A forgotten entry keeps its slot
 * with client_seq 0 as a tombstone, so probes still pass it. */
#include "dedupe.h"

#include <stdlib.h>
#include <string.h>

#define FIRST_SLOTS 256u

typedef struct slot {
    uint64_t client_id; /* 0: empty */
    uint64_t client_seq;
    uint64_t range_hash;
    uint64_t epoch, seq;
    bool gone; /* forgotten: only a probe marker */
} slot;

typedef struct gen {
    slot *slots;
    size_t cap, n;
    uint64_t started_ms;
} gen;

struct zkv_dedupe {
    gen cur, old;
};

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static uint64_t hash_req(uint64_t id, uint64_t seq)
{
    return mix(id ^ mix(seq));
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ULL;
    return h;
}

zkv_dedupe *zkv_dedupe_new(void)
{
    return calloc(1, sizeof(zkv_dedupe));
}

void zkv_dedupe_free(zkv_dedupe *d)
{
    if (!d)
        return;
    free(d->cur.slots);
    free(d->old.slots);
    free(d);
}

static slot *probe(const gen *g, uint64_t id, uint64_t seq)
{
    if (!g->cap)
        return NULL;
    size_t mask = g->cap - 1;
    for (size_t i = (size_t)hash_req(id, seq) & mask;; i = (i + 1) & mask) {
        slot *s = &g->slots[i];
        if (!s->client_id || (s->client_id == id && s->client_seq == seq))
            return s;
    }
}

static int grow(gen *g)
{
    size_t cap = g->cap ? g->cap * 2 : FIRST_SLOTS;
    slot *ns = calloc(cap, sizeof(*ns));
    if (!ns)
        return -1;
    gen ng = {.slots = ns, .cap = cap, .n = 0, .started_ms = g->started_ms};
    for (size_t i = 0; i < g->cap; i++) {
        const slot *s = &g->slots[i];
        if (s->client_id && !s->gone) {
            *probe(&ng, s->client_id, s->client_seq) = *s;
            ng.n++;
        }
    }
    free(g->slots);
    *g = ng;
    return 0;
}

/* Starts a new current generation; the old one goes. */
static void rotate(zkv_dedupe *d, uint64_t now_ms)
{
    free(d->old.slots);
    d->old = d->cur;
    d->cur = (gen){.slots = NULL, .cap = 0, .n = 0, .started_ms = now_ms};
}

void zkv_dedupe_note(zkv_dedupe *d, uint64_t client_id, uint64_t client_seq, const char *range_id,
                     uint64_t epoch, uint64_t seq, uint64_t now_ms)
{
    if (!d || !client_id)
        return;
    if (!d->cur.cap)
        d->cur.started_ms = now_ms;
    bool full = d->cur.n >= ZKV_DEDUPE_GEN_MAX;
    if (full || now_ms - d->cur.started_ms >= ZKV_DEDUPE_KEEP_MS / 2)
        rotate(d, now_ms);
    if ((d->cur.n + 1) * 2 > d->cur.cap && grow(&d->cur) != 0)
        return;
    slot *s = probe(&d->cur, client_id, client_seq);
    if (!s->client_id)
        d->cur.n++;
    *s = (slot){.client_id = client_id,
                .client_seq = client_seq,
                .range_hash = hash_str(range_id),
                .epoch = epoch,
                .seq = seq,
                .gone = false};
}

bool zkv_dedupe_find(const zkv_dedupe *d, uint64_t client_id, uint64_t client_seq,
                     zkv_dedupe_hit *hit)
{
    if (!d || !client_id)
        return false;
    const gen *gens[2] = {&d->cur, &d->old};
    for (int i = 0; i < 2; i++) {
        const slot *s = probe(gens[i], client_id, client_seq);
        if (s && s->client_id && !s->gone) {
            hit->epoch = s->epoch;
            hit->seq = s->seq;
            return true;
        }
    }
    return false;
}

void zkv_dedupe_forget_range(zkv_dedupe *d, const char *range_id, uint64_t after)
{
    if (!d)
        return;
    uint64_t h = hash_str(range_id);
    gen *gens[2] = {&d->cur, &d->old};
    for (int g = 0; g < 2; g++)
        for (size_t i = 0; i < gens[g]->cap; i++) {
            slot *s = &gens[g]->slots[i];
            if (s->client_id && s->range_hash == h && s->seq > after)
                s->gone = true;
        }
}

size_t zkv_dedupe_count(const zkv_dedupe *d)
{
    size_t n = 0;
    const gen *gens[2] = {&d->cur, &d->old};
    for (int g = 0; g < 2; g++)
        for (size_t i = 0; i < gens[g]->cap; i++)
            n += gens[g]->slots[i].client_id && !gens[g]->slots[i].gone;
    return n;
}
