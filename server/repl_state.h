/* repl_state.h: the owner's replication decisions for one range as pure functions over
 * plain data (docs/replication.md, "Acknowledgement", "In-sync set", "Log truncation"):
 * the commit point that releases write answers, when a replica counts as caught up, when
 * to shrink or expand in_sync, the --min-in-sync gate, and the log truncation floor.
 * No I/O, no clock: callers pass the time. Tested by tests/unit/test_server_repl_state.c.
 *
 * Sets of replicas:
 *   confirmed in_sync  - what ZooKeeper says (the map, plus this owner's confirmed writes)
 *   ack set            - confirmed in_sync plus replicas whose addition is being written:
 *                        from the moment an addition is proposed, writes wait for that
 *                        replica too, so it never misses an acknowledged write; a replica
 *                        whose removal is being written stays in the ack set until
 *                        ZooKeeper confirms the removal. */
#ifndef ZKV_SERVER_REPL_STATE_H
#define ZKV_SERVER_REPL_STATE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/rangemap.h"

/* What the owner knows of one replica of one range. */
typedef struct zkv_repl_replica {
    char node_id[ZKV_ID_MAX];
    uint64_t acked_seq;    /* the replica's position, as last acknowledged */
    uint64_t caught_up_at; /* ms: last time an ack covered the owner's committed last seq */
    bool acked_known;      /* acked_seq came from the replica (probe or ack) */
    bool in_sync;          /* confirmed in_sync */
    bool adding;           /* addition proposed, not yet confirmed (counts for acks) */
    bool removing;         /* removal proposed, not yet confirmed (still counts) */
    bool connected;        /* the shipper's connection to the node is up */
    bool streaming;        /* the shipper streams log entries to it (not probing/snapshot) */
    bool leaving;          /* its node is shutting down (nodes/<id> says "leaving"): it leaves
                              in_sync at once, so no write waits for it once it is gone */
} zkv_repl_replica;

/* true when r's acks gate the release of write answers. */
bool zkv_repl_in_ack_set(const zkv_repl_replica *r);

/* The highest seq whose write answers may be released: the owner's committed seq, lowered
 * to the acked seq of every replica in the ack set. With ack_owner (FLAG_ACK_OWNER) or an
 * empty ack set it is the committed seq. */
uint64_t zkv_repl_commit_point(uint64_t owner_committed, const zkv_repl_replica *reps, size_t n);

/* Records an ack of acked_seq for a frame that was sent at sent_ms when the owner's
 * committed last seq was owner_last_at_send: the replica was caught up at sent_ms if it
 * acked everything committed then (Kafka's lastCaughtUpTime). Acks never move acked_seq
 * backwards except when reset is set (a probe answer: the replica's true position). */
void zkv_repl_on_ack(zkv_repl_replica *r, uint64_t acked_seq, uint64_t owner_last_at_send,
                     uint64_t sent_ms, bool reset);

/* Lag in ms for RANGE_STATUS: 0 when caught up with owner_committed, else time since
 * caught_up_at. */
uint64_t zkv_repl_lag_ms(const zkv_repl_replica *r, uint64_t owner_committed, uint64_t now_ms);

/* Shrink: a confirmed in_sync replica (not already being removed) that has not been
 * caught up for more than lag_ms, or whose node is leaving. */
bool zkv_repl_should_shrink(const zkv_repl_replica *r, uint64_t now_ms, uint64_t lag_ms);

/* Expand: a replica of the range, not in in_sync (nor being added), not leaving, that is
 * streaming,
 * was caught up within the last lag_ms / 2 (a recent ack covered everything committed when
 * its frame left), and holds every answer already released (acked >= commit_point). */
bool zkv_repl_should_expand(const zkv_repl_replica *r, uint64_t owner_committed,
                            uint64_t commit_point, uint64_t now_ms, uint64_t lag_ms);

/* --min-in-sync: copies = owner + confirmed in_sync replicas. Returns true when a write may
 * go ahead; otherwise writes the refusal into msg ("range r0003 has 1 in-sync copy (owner
 * only); --min-in-sync is 2"). */
int zkv_repl_in_sync_copies(const zkv_repl_replica *reps, size_t n);
bool zkv_repl_min_in_sync_ok(const char *range_id, int copies, int min_in_sync, char *msg,
                             size_t msglen);

/* Log truncation floor: entries with seq <= the result may be deleted:
 * min(acked seq of every confirmed in_sync replica, owner_last - retain), 0 when nothing
 * may go. A replica in the ack set whose position is unknown holds everything. */
uint64_t zkv_repl_truncate_floor(uint64_t owner_last, uint64_t retain, const zkv_repl_replica *reps,
                                 size_t n);

#endif
