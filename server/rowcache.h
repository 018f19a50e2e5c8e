/* rowcache.h: a bounded in-memory row cache for GETs (the store's equivalent of HBase's
 * block cache or Cassandra's row cache), so hot reads skip LevelDB's memtable and table
 * lookups (cache-missing pointer chasing, about half the server's CPU on a GET load).
 *
 * What it is: a map from a user key to either the key's stored value record (the exact
 * bytes of its 'd' record, record.h) or a "known missing" mark. A pure data structure: no
 * I/O, no knowledge of LevelDB, not thread-safe (the loop thread owns it).
 *
 * How: open addressing with linear probing over (hash, entry) slots (backward-shift
 * deletion, no tombstones; load <= 1/2), a 64-bit multiply-mix hash, one allocation per
 * entry (header, key and record together). A memory budget bounds the sum of the entries'
 * charges: key + record + a fixed per-entry overhead that covers the header, the malloc
 * header and the entry's share of the slot table. Eviction is CLOCK (second chance) over
 * a circular list of the entries: a hit sets the entry's reference bit, the hand clears
 * set bits and evicts the first clear one, and a new entry goes just behind the hand (the
 * hand reaches it last); an insertion costs O(1) amortised. A hit allocates nothing and
 * copies nothing. An entry whose charge exceeds 1/8 of the budget is not cached.
 *
 * Lifetime of an entry: zkv_rowcache_get returns an entry that stays valid until the next
 * call that changes the cache (put, put_missing, invalidate, clear, free), which may evict
 * or drop it. A caller that must keep it longer pins it (zkv_rowcache_pin); a pinned entry
 * that the cache drops is only unlinked (it no longer counts against the budget and is
 * never returned again) and is freed by the last zkv_rowcache_unpin, which needs no cache
 * (it also works after zkv_rowcache_free). The store pins the entry behind every GET it
 * answers from the cache, so its zero-copy result view lives exactly as long as a LevelDB
 * result does: until zkv_store_value_release.
 *
 * Coherence is the caller's job: the cache never sees the database. store.c fills it on
 * reads and writes (write-through) and keeps every entry a GET may see equal to the
 * committed LevelDB state of its key (the argument is in store.c). */
#ifndef ZKV_SERVER_ROWCACHE_H
#define ZKV_SERVER_ROWCACHE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct zkv_rowcache zkv_rowcache;
typedef struct zkv_rowcache_entry zkv_rowcache_entry;

/* Per-entry charge on top of the key and record bytes: a 48-byte header, about 16 bytes of
 * malloc's, and 2 to 4 slots of 16 bytes (the table grows at half full). */
#define ZKV_ROWCACHE_ENTRY_OVERHEAD 112u

typedef struct zkv_rowcache_stats {
    uint64_t hits;          /* gets that found an entry (missing marks included) */
    uint64_t misses;        /* gets that found nothing */
    uint64_t inserts;       /* entries added by put/put_missing */
    uint64_t evictions;     /* entries dropped by CLOCK to make room */
    uint64_t invalidations; /* entries dropped by invalidate (clear not counted) */
    uint64_t clears;        /* calls of clear */
    size_t bytes;           /* charge of the entries in the cache */
    size_t entries;
    size_t budget;
} zkv_rowcache_stats;

/* A cache of at most budget_bytes of charges (0: a cache that keeps nothing). NULL when out
 * of memory. */
zkv_rowcache *zkv_rowcache_create(size_t budget_bytes);
/* Frees the cache and every unpinned entry; pinned entries are freed by their last unpin.
 * NULL is a no-op. */
void zkv_rowcache_free(zkv_rowcache *c);

/* The entry of key, or NULL (a miss). Counts a hit or a miss; sets the entry's CLOCK bit. */
zkv_rowcache_entry *zkv_rowcache_get(zkv_rowcache *c, const uint8_t *key, size_t klen);
/* Caches key -> record (rlen bytes, copied), replacing an entry of key. Returns 0 when
 * cached, 1 when not (too large for the budget, or out of memory: the cache is then
 * unchanged apart from evictions and the removal of the old entry of key). */
int zkv_rowcache_put(zkv_rowcache *c, const uint8_t *key, size_t klen, const uint8_t *record,
                     size_t rlen);
/* As zkv_rowcache_put for the record head (hlen bytes) then body (blen), with a tag kept
 * beside it (zkv_rowcache_entry_tag): a value read or received elsewhere is cached without
 * first being joined to its head. The entry, valid until the next call that changes the
 * cache unless pinned, or NULL when not cached. */
zkv_rowcache_entry *zkv_rowcache_put_parts(zkv_rowcache *c, const uint8_t *key, size_t klen,
                                           const uint8_t *head, size_t hlen, const uint8_t *body,
                                           size_t blen, uint64_t tag);
/* The entry of key or NULL, as zkv_rowcache_get, but neither counted nor marked for CLOCK
 * (a look that is not a read: the value log's GC). */
zkv_rowcache_entry *zkv_rowcache_peek(zkv_rowcache *c, const uint8_t *key, size_t klen);
uint64_t zkv_rowcache_entry_tag(const zkv_rowcache_entry *e);
void zkv_rowcache_entry_set_tag(zkv_rowcache_entry *e, uint64_t tag);
/* Caches "key is known to be missing"; same returns as zkv_rowcache_put. */
int zkv_rowcache_put_missing(zkv_rowcache *c, const uint8_t *key, size_t klen);
/* Drops the entry of key, if any. */
void zkv_rowcache_invalidate(zkv_rowcache *c, const uint8_t *key, size_t klen);
/* Drops every entry. */
void zkv_rowcache_clear(zkv_rowcache *c);
void zkv_rowcache_stats_get(const zkv_rowcache *c, zkv_rowcache_stats *out);

/* true for a "known missing" mark (no record). */
bool zkv_rowcache_entry_missing(const zkv_rowcache_entry *e);
/* The record bytes of e (NULL with *rlen 0 for a missing mark). */
const uint8_t *zkv_rowcache_entry_record(const zkv_rowcache_entry *e, size_t *rlen);
/* Keeps e's memory valid past later cache calls, until the matching unpin. */
void zkv_rowcache_pin(zkv_rowcache_entry *e);
void zkv_rowcache_unpin(zkv_rowcache_entry *e);

/* The hash the cache uses (exposed for tests). */
uint64_t zkv_rowcache_hash(const uint8_t *key, size_t klen);

#endif
