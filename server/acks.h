/* acks.h: write answers held until the range's in_sync replicas acknowledged the write
 * (docs/replication.md, "Acknowledgement"), per connection and in request order: once an
 * answer waits, every later answer of the same connection queues behind it.
 *
 * The bytes of held answers sit in the connection's held buffer in order; each entry says
 * how many bytes it has and, for a write waiting for acks, its range, epoch and seq. The
 * loop calls zkv_acks_release_all before flushing: entries move to the connection's output
 * while the head is releasable (the range's commit point reached its seq); a write whose
 * range is no longer owned here at its epoch (map change, fenced) is answered UNAVAILABLE
 * instead, never OK. Loop thread only. */
#ifndef ZKV_SERVER_ACKS_H
#define ZKV_SERVER_ACKS_H
#include <stdbool.h>
#include <stdint.h>
#include "common/rangemap.h"
#include "zkv.pb-c.h"

typedef struct zkv_held {
    uint64_t id; /* request id (for the UNAVAILABLE answer) */
    size_t len;  /* bytes of the framed answer in the held buffer */
    bool wait;   /* a write waiting for acks */
    char range_id[ZKV_ID_MAX];
    uint64_t epoch, seq;
} zkv_held;

struct zkv_conn;
struct zkv_server;

/* true when an answer for this connection must be held: it waits itself, or earlier
 * answers are held. */
bool zkv_acks_must_hold(const struct zkv_conn *c, bool wait);
/* Holds resp (framed) on c. wait: a write of range_id at (epoch, seq) waiting for acks.
 * Returns 0, or -1 out of memory. */
int zkv_acks_hold(struct zkv_conn *c, const Zkv__Response *resp, bool wait, const char *range_id,
                  uint64_t epoch, uint64_t seq);
/* Moves every releasable held answer to its connection's output. */
void zkv_acks_release_all(struct zkv_server *s);
/* Forgets c's held answers (close, fatal error). */
void zkv_acks_drop(struct zkv_conn *c);
size_t zkv_acks_held_bytes(const struct zkv_conn *c);

#define ZKV_ACKS_OWNERSHIP_MSG                                                                     \
    "ownership changed before the write was replicated; it may or may not be applied"

#endif
