/* rowcache.c: the row cache (see rowcache.h). Slots hold (hash, entry) so a probe compares
 * hashes without touching an entry. The CLOCK ring is a circular doubly-linked list of the
 * linked entries: a new entry goes just behind the hand (the hand reaches it last, after a
 * full turn, as in classic CLOCK where it takes the evicted frame), and any entry leaves in
 * O(1). An overwrite with a record of the same size reuses the entry when no reader
 * pinned it, so writes of a steady key set allocate nothing. */
#include "rowcache.h"

#include <stdlib.h>
#include <string.h>

#define MIN_SLOTS 64u

struct zkv_rowcache_entry {
    uint64_t hash;
    zkv_rowcache_entry *prev, *next; /* CLOCK ring, while linked */
    uint32_t klen;
    uint32_t rlen;
    uint32_t pins;
    uint64_t tag;       /* the caller's (store.c: where a value-log value is; 0: none) */
    uint8_t missing;    /* a "known missing" mark */
    uint8_t linked;     /* in the table and the ring, charged to the budget */
    uint8_t referenced; /* CLOCK bit: hit since the hand last passed */
    uint8_t data[];     /* key, then record */
};

typedef struct slot {
    uint64_t hash;
    zkv_rowcache_entry *e; /* NULL: empty */
} slot;

struct zkv_rowcache {
    slot *slots;
    size_t mask;              /* slot count - 1 (power of two) */
    zkv_rowcache_entry *hand; /* next entry the CLOCK hand looks at (NULL: empty) */
    size_t n;
    size_t bytes, budget;
    zkv_rowcache_stats st;
};

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static uint64_t fmix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

static uint64_t rotl64(uint64_t x, unsigned r)
{
    return (x << r) | (x >> (64u - r));
}

/* Eight bytes at a time (MurmurHash3-style mixing), the tail packed into one word, the
 * length folded in, then MurmurHash3's finaliser: every input bit reaches every bit. */
uint64_t zkv_rowcache_hash(const uint8_t *key, size_t klen)
{
    const uint64_t c1 = 0x87c37b91114253d5ull, c2 = 0x4cf5ad432745937full;
    uint64_t h = 0x9e3779b97f4a7c15ull;
    size_t n = klen;
    while (n >= 8) {
        uint64_t k = rd64(key) * c1;
        h ^= rotl64(k, 31) * c2;
        h = rotl64(h, 27) * 5 + 0x52dce729;
        key += 8;
        n -= 8;
    }
    uint64_t t = 0;
    for (size_t i = 0; i < n; i++)
        t |= (uint64_t)key[i] << (8 * i);
    h ^= rotl64(t * c1, 31) * c2;
    return fmix64(h ^ (uint64_t)klen);
}

static size_t charge_of(size_t klen, size_t rlen)
{
    return ZKV_ROWCACHE_ENTRY_OVERHEAD + klen + rlen;
}

zkv_rowcache *zkv_rowcache_create(size_t budget_bytes)
{
    zkv_rowcache *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->slots = calloc(MIN_SLOTS, sizeof(*c->slots));
    if (!c->slots) {
        free(c);
        return NULL;
    }
    c->mask = MIN_SLOTS - 1;
    c->budget = budget_bytes;
    return c;
}

static void entry_drop(zkv_rowcache_entry *e)
{
    e->linked = 0;
    if (e->pins == 0)
        free(e);
}

/* Drops every entry of the ring (freeing the unpinned ones). */
static void drop_all(zkv_rowcache *c)
{
    zkv_rowcache_entry *e = c->hand;
    for (size_t i = 0; i < c->n; i++) {
        zkv_rowcache_entry *next = e->next;
        entry_drop(e);
        e = next;
    }
    c->hand = NULL;
    c->n = 0;
    c->bytes = 0;
}

void zkv_rowcache_free(zkv_rowcache *c)
{
    if (!c)
        return;
    drop_all(c);
    free(c->slots);
    free(c);
}

static bool key_eq(const zkv_rowcache_entry *e, const uint8_t *key, size_t klen)
{
    return e->klen == klen && (klen == 0 || memcmp(e->data, key, klen) == 0);
}

/* Index of key's slot, or of the empty slot that ends its probe. */
static size_t find_slot(const zkv_rowcache *c, uint64_t h, const uint8_t *key, size_t klen)
{
    size_t i = (size_t)h & c->mask;
    while (c->slots[i].e && !(c->slots[i].hash == h && key_eq(c->slots[i].e, key, klen)))
        i = (i + 1) & c->mask;
    return i;
}

zkv_rowcache_entry *zkv_rowcache_get(zkv_rowcache *c, const uint8_t *key, size_t klen)
{
    uint64_t h = zkv_rowcache_hash(key, klen);
    zkv_rowcache_entry *e = c->slots[find_slot(c, h, key, klen)].e;
    if (!e) {
        c->st.misses++;
        return NULL;
    }
    e->referenced = 1;
    c->st.hits++;
    return e;
}

/* Removes slot i, shifting back the entries of its cluster that probed past it. */
static void slot_remove(zkv_rowcache *c, size_t i)
{
    size_t j = i;
    for (;;) {
        j = (j + 1) & c->mask;
        if (!c->slots[j].e)
            break;
        size_t home = (size_t)c->slots[j].hash & c->mask;
        /* j's entry may move to i when its home is not in the cyclic interval (i, j]. */
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            c->slots[i] = c->slots[j];
            i = j;
        }
    }
    c->slots[i].e = NULL;
    c->slots[i].hash = 0;
}

/* Takes e (linked) out of the table, the ring and the budget; frees it unless pinned. */
static void unlink_entry(zkv_rowcache *c, zkv_rowcache_entry *e)
{
    size_t i = (size_t)e->hash & c->mask;
    while (c->slots[i].e != e)
        i = (i + 1) & c->mask;
    slot_remove(c, i);
    if (e->next == e) {
        c->hand = NULL;
    } else {
        if (c->hand == e)
            c->hand = e->next;
        e->prev->next = e->next;
        e->next->prev = e->prev;
    }
    c->n--;
    c->bytes -= charge_of(e->klen, e->rlen);
    entry_drop(e);
}

/* One CLOCK step sequence: evicts the first entry whose bit is clear, clearing set bits on
 * the way (at most one full turn before an eviction). Needs c->n > 0. */
static void evict_one(zkv_rowcache *c)
{
    for (;;) {
        zkv_rowcache_entry *e = c->hand;
        if (e->referenced) {
            e->referenced = 0;
            c->hand = e->next;
            continue;
        }
        unlink_entry(c, e); /* the hand moves on to the next entry */
        c->st.evictions++;
        return;
    }
}

static int table_grow(zkv_rowcache *c)
{
    size_t ncap = (c->mask + 1) * 2;
    slot *ns = calloc(ncap, sizeof(*ns));
    if (!ns)
        return -1;
    slot *old = c->slots;
    size_t ocap = c->mask + 1;
    c->slots = ns;
    c->mask = ncap - 1;
    for (size_t i = 0; i < ocap; i++) {
        if (!old[i].e)
            continue;
        size_t j = (size_t)old[i].hash & c->mask;
        while (c->slots[j].e)
            j = (j + 1) & c->mask;
        c->slots[j] = old[i];
    }
    free(old);
    return 0;
}

static void copy_parts(uint8_t *to, const uint8_t *head, size_t hlen, const uint8_t *body,
                       size_t blen)
{
    if (hlen)
        memcpy(to, head, hlen);
    if (blen)
        memcpy(to + hlen, body, blen);
}

/* Caches key -> the record made of head (hlen bytes) and then body (blen); *out (unless
 * NULL) the entry when cached. */
static int insert(zkv_rowcache *c, const uint8_t *key, size_t klen, const uint8_t *head,
                  size_t hlen, const uint8_t *body, size_t blen, bool missing, uint64_t tag,
                  zkv_rowcache_entry **out)
{
    size_t rlen = hlen + blen;
    uint64_t h = zkv_rowcache_hash(key, klen);
    zkv_rowcache_entry *old = c->slots[find_slot(c, h, key, klen)].e;
    if (old && old->pins == 0 && old->rlen == rlen) {
        /* The same key with a record of the same size and no reader holding the old one
         * (the common overwrite): rewritten in place, nothing allocated or freed. It keeps
         * its place in the ring and, as a new entry, has no second chance. */
        copy_parts(old->data + klen, head, hlen, body, blen);
        old->missing = missing;
        old->tag = tag;
        old->referenced = 0;
        c->st.inserts++;
        if (out)
            *out = old;
        return 0;
    }
    if (old)
        unlink_entry(c, old);
    if (klen > UINT32_MAX || rlen > UINT32_MAX)
        return 1;
    size_t charge = charge_of(klen, rlen);
    if (charge > c->budget / 8)
        return 1;
    while (c->n && c->bytes + charge > c->budget)
        evict_one(c);
    if ((c->n + 1) * 2 > c->mask + 1 && table_grow(c) != 0)
        return 1;
    zkv_rowcache_entry *e = malloc(sizeof(*e) + klen + rlen);
    if (!e)
        return 1;
    e->hash = h;
    e->klen = (uint32_t)klen;
    e->rlen = (uint32_t)rlen;
    e->pins = 0;
    e->tag = tag;
    e->missing = missing;
    e->linked = 1;
    e->referenced = 0; /* a second chance only once it is hit */
    if (klen)
        memcpy(e->data, key, klen);
    copy_parts(e->data + klen, head, hlen, body, blen);
    /* The evictions above may have shifted slots: probe again for the free one. */
    size_t i = find_slot(c, h, key, klen);
    c->slots[i].hash = h;
    c->slots[i].e = e;
    if (!c->hand) {
        e->prev = e->next = e;
        c->hand = e;
    } else { /* just behind the hand */
        e->next = c->hand;
        e->prev = c->hand->prev;
        e->prev->next = e;
        c->hand->prev = e;
    }
    c->n++;
    c->bytes += charge;
    c->st.inserts++;
    if (out)
        *out = e;
    return 0;
}

int zkv_rowcache_put(zkv_rowcache *c, const uint8_t *key, size_t klen, const uint8_t *record,
                     size_t rlen)
{
    return insert(c, key, klen, record, rlen, NULL, 0, false, 0, NULL);
}

zkv_rowcache_entry *zkv_rowcache_put_parts(zkv_rowcache *c, const uint8_t *key, size_t klen,
                                           const uint8_t *head, size_t hlen, const uint8_t *body,
                                           size_t blen, uint64_t tag)
{
    zkv_rowcache_entry *e = NULL;
    return insert(c, key, klen, head, hlen, body, blen, false, tag, &e) == 0 ? e : NULL;
}

int zkv_rowcache_put_missing(zkv_rowcache *c, const uint8_t *key, size_t klen)
{
    return insert(c, key, klen, NULL, 0, NULL, 0, true, 0, NULL);
}

zkv_rowcache_entry *zkv_rowcache_peek(zkv_rowcache *c, const uint8_t *key, size_t klen)
{
    return c->slots[find_slot(c, zkv_rowcache_hash(key, klen), key, klen)].e;
}

uint64_t zkv_rowcache_entry_tag(const zkv_rowcache_entry *e)
{
    return e->tag;
}

void zkv_rowcache_entry_set_tag(zkv_rowcache_entry *e, uint64_t tag)
{
    e->tag = tag;
}

void zkv_rowcache_invalidate(zkv_rowcache *c, const uint8_t *key, size_t klen)
{
    if (c->n == 0)
        return;
    uint64_t h = zkv_rowcache_hash(key, klen);
    zkv_rowcache_entry *e = c->slots[find_slot(c, h, key, klen)].e;
    if (e) {
        unlink_entry(c, e);
        c->st.invalidations++;
    }
}

void zkv_rowcache_clear(zkv_rowcache *c)
{
    c->st.clears++;
    if (c->n == 0)
        return;
    drop_all(c);
    memset(c->slots, 0, (c->mask + 1) * sizeof(*c->slots));
}

void zkv_rowcache_stats_get(const zkv_rowcache *c, zkv_rowcache_stats *out)
{
    *out = c->st;
    out->bytes = c->bytes;
    out->entries = c->n;
    out->budget = c->budget;
}

bool zkv_rowcache_entry_missing(const zkv_rowcache_entry *e)
{
    return e->missing != 0;
}

const uint8_t *zkv_rowcache_entry_record(const zkv_rowcache_entry *e, size_t *rlen)
{
    *rlen = e->rlen;
    return e->missing ? NULL : e->data + e->klen;
}

void zkv_rowcache_pin(zkv_rowcache_entry *e)
{
    e->pins++;
}

void zkv_rowcache_unpin(zkv_rowcache_entry *e)
{
    if (--e->pins == 0 && !e->linked)
        free(e);
}
