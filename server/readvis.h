/* readvis.h: which writes an owner's reads may see (docs/guarantees.md, "Reads"). A read
 * answered by the owner reflects only writes at or below the range's commit point: applied
 * by every replica of the ack set (repl_state.h), or by the owner alone when that set is
 * empty. Those writes survive any failover zkv makes, so a value once read never vanishes.
 *
 * The store keeps one version of each key, with the (epoch, seq) of the write that made it.
 * A read whose answer depends on a newer write waits for the commit point to pass that
 * write (its answer is held like a write's, acks.h) instead of answering an older value,
 * which the store no longer has; the wait is the write's own replication round trip. What
 * a read depends on:
 *   a found value     its record's seq;
 *   a missing key     the seq of the last delete of that key staged by this owner (a table
 *                     of key hashes, dropped as the commit point passes), or, for deletes
 *                     this owner did not stage (applied as a replica before it became owner,
 *                     or not tracked for want of memory), miss_floor: the range's last seq
 *                     when this ownership began;
 *   a scan page       the highest seq of its items, and of every tracked delete of the range
 *                     and miss_floor (a deleted key leaves no item to look at).
 * One zkv_readvis per owned range and ownership epoch, kept by the shipper (which moves its
 * commit point) and consulted by dispatch.c. Pure data, no I/O, loop thread only; tested by
 * tests/unit/test_server_readvis.c. */
#ifndef ZKV_SERVER_READVIS_H
#define ZKV_SERVER_READVIS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct zkv_readvis_slot {
    uint64_t hash; /* zkv_rowcache_hash of the key, 0 for an empty slot (hash 0 maps to 1) */
    uint64_t seq;  /* the last delete of a key with this hash */
} zkv_readvis_slot;

typedef struct zkv_readvis {
    uint64_t commit_point; /* the highest commit point of the range seen in this ownership */
    /* While no replica's acks gate the range, its commit point is the owner's committed
     * seq: live points at the store's (it only grows), so reads need no update per commit;
     * NULL otherwise. */
    const uint64_t *live;
    bool stale;          /* no replica gates the range but live is not known yet: ask the shipper
                            (zkv_shipper_read_vis) rather than trust commit_point */
    uint64_t miss_floor; /* misses depend on every write up to here */
    uint64_t del_max;    /* highest tracked delete seq (0: none) */
    zkv_readvis_slot *slots;
    size_t cap, n; /* slots (a power of two, 0 before the first delete) and used ones */
} zkv_readvis;

/* The commit point now: commit_point, or the live committed seq when higher. */
static inline uint64_t zkv_readvis_point(const zkv_readvis *v)
{
    return v->live && *v->live > v->commit_point ? *v->live : v->commit_point;
}

/* Points the commit point at the owner's committed seq (live: while no replica gates the
 * range) or back at what the shipper sets (NULL), keeping the highest point seen. */
void zkv_readvis_set_live(zkv_readvis *v, const uint64_t *live);

/* A fresh ownership: nothing tracked, misses depend on every write up to last_seq. */
void zkv_readvis_init(zkv_readvis *v, uint64_t last_seq);
void zkv_readvis_free(zkv_readvis *v);

/* Raises the commit point to commit_point (a lower one is ignored: the owner's point falls
 * only when a replica lost entries it had acknowledged, and the writes below the highest
 * point were answered as acknowledged already); forgets tracked deletes it passed. */
void zkv_readvis_set_commit_point(zkv_readvis *v, uint64_t commit_point);

/* A delete of key staged at seq. Never fails: without memory for the table the delete
 * raises miss_floor instead (every miss of the range then waits for it). */
void zkv_readvis_note_delete(zkv_readvis *v, const uint8_t *key, size_t klen, uint64_t seq);

/* The seq a GET's answer must wait for, or 0 when it may go now. found: the key has a
 * value, made by the write at value_seq. */
uint64_t zkv_readvis_get_wait(const zkv_readvis *v, bool found, uint64_t value_seq,
                              const uint8_t *key, size_t klen);
/* The same for a scan page whose items were made by writes up to max_item_seq. */
uint64_t zkv_readvis_scan_wait(const zkv_readvis *v, uint64_t max_item_seq);

#endif
