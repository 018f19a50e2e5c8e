/* pending.h: the requests in flight on one connection of the protocol, which answers them
 * in the order they were sent: a FIFO ring of fixed-size records, each opening with the
 * request's uint64_t id, the rest the owner's (what the request was for). An answer is
 * taken only for the head's id; any other is a protocol violation the caller fails the
 * connection for. One structure for the async client's connections (client/src/
 * async_conn.c) and the shipper's replication links (server/peerlink.c); ids are the
 * caller's. No I/O; tested by tests/unit/test_common_pending.c. */
#ifndef ZKV_COMMON_PENDING_H
#define ZKV_COMMON_PENDING_H
#include <stddef.h>
#include <stdint.h>

typedef struct zkv_pending {
    uint8_t *ring; /* cap records of rec_size bytes; n of them from head */
    size_t rec_size, head, n, cap;
} zkv_pending;

/* An empty queue of records of rec_size bytes: the size of the caller's record struct,
 * whose first field is the uint64_t id (so at least 8). Allocates nothing yet. */
void zkv_pending_init(zkv_pending *q, size_t rec_size);
/* Frees the ring (the queue is empty and usable again; twice is harmless). */
void zkv_pending_free(zkv_pending *q);
/* Appends a record, zeroed but for id in its first field, and returns it for the caller
 * to fill; NULL out of memory (nothing changed). The record stays where it is until the
 * next push (which may move the ring). */
void *zkv_pending_push(zkv_pending *q, uint64_t id);
size_t zkv_pending_count(const zkv_pending *q);
/* The i-th record from the head, NULL when i >= count. */
void *zkv_pending_at(const zkv_pending *q, size_t i);
/* The oldest record, NULL when empty. */
void *zkv_pending_head(const zkv_pending *q);
/* The answer to id: when the head's id is id, copies the head into out (rec_size bytes;
 * out may be NULL), removes it and returns 0; otherwise -1 (empty, or id not the head's:
 * out of order) and nothing changes. Copy out before acting on the answer when that may
 * push more. */
int zkv_pending_pop(zkv_pending *q, uint64_t id, void *out);
/* Forgets every record, keeping the ring for reuse (a lost connection). */
void zkv_pending_clear(zkv_pending *q);

#endif
