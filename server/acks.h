/* acks.h: answers held until the range's commit point passes a seq, per connection and in
 * request order: once an answer waits, every later answer of the same connection queues
 * behind it. Two kinds wait: a write until the range's in_sync replicas acknowledged it
 * (docs/replication.md, "Acknowledgement"), and an owner read whose answer reflects a
 * write not yet committed (readvis.h) until that write is.
 *
 * The bytes of held answers sit in the connection's held buffer in order; each entry says
 * how many bytes it has and, for an answer that waits, its kind, range, epoch and seq. The
 * loop calls zkv_acks_release_all before flushing: entries move to the connection's output
 * while the head is releasable (the range's commit point reached its seq); an answer whose
 * range is no longer owned here at its epoch (map change, fenced) is replaced by an
 * UNAVAILABLE answer, never sent as it was. Loop thread only. */
#ifndef ZKV_SERVER_ACKS_H
#define ZKV_SERVER_ACKS_H
#include <stdbool.h>
#include <stdint.h>
#include "common/rangemap.h"
#include "zkv.pb-c.h"

typedef enum {
    ZKV_HELD_NONE = 0, /* waits for nothing: only for the answers before it */
    ZKV_HELD_WRITE,    /* a write waiting for its replica acks */
    ZKV_HELD_READ,     /* an owner read waiting for the write it reflects to commit */
    ZKV_HELD_MOVED,    /* a request for a range being passed on (handoff.h): answered
                          NOT_OWNER, made when the move is over (no bytes held) */
} zkv_held_kind;

typedef struct zkv_held {
    uint64_t id; /* request id (for the UNAVAILABLE answer) */
    size_t len;  /* bytes of the framed answer in the held buffer */
    zkv_held_kind kind;
    char range_id[ZKV_ID_MAX];
    uint64_t epoch, seq;
    int op;            /* zkv_metrics_op, for the latency when it goes */
    uint64_t start_us; /* when its request was decoded */
} zkv_held;

struct zkv_conn;
struct zkv_server;

/* true when an answer of this kind must be held on c: it waits itself, or earlier
 * answers are held. */
bool zkv_acks_must_hold(const struct zkv_conn *c, zkv_held_kind kind);
/* Holds resp (framed) on c. A kind that waits: until range_id, owned here at epoch, has
 * its commit point at seq or past it; ZKV_HELD_MOVED: until range_id's move is over (resp
 * gives only the id: the answer is made then). Returns 0, or -1 out of memory. */
int zkv_acks_hold(struct zkv_conn *c, const Zkv__Response *resp, zkv_held_kind kind,
                  const char *range_id, uint64_t epoch, uint64_t seq, int op, uint64_t start_us);
/* Moves every releasable held answer to its connection's output. */
void zkv_acks_release_all(struct zkv_server *s);
/* Forgets c's held answers (close, fatal error). */
void zkv_acks_drop(struct zkv_conn *c);
size_t zkv_acks_held_bytes(const struct zkv_conn *c);

#define ZKV_ACKS_OWNERSHIP_MSG                                                                     \
    "ownership changed before the write was replicated; it may or may not be applied"
#define ZKV_ACKS_READ_OWNERSHIP_MSG                                                                \
    "ownership changed before the value read was committed; read again"

#endif
