/* replica.h: the replica side of replication (docs/replication.md, "Applying"): APPEND,
 * SNAPSHOT and RANGE_STATUS requests over the store and the node's map, without sockets.
 * Called by zkv_dispatch after the hello; every write is staged in the store and answered
 * after the loop's group commit, like client writes.
 *
 * Acceptance, only as this node's map allows: the node must hold a copy of the range
 * (UNAVAILABLE otherwise: it may be deleting what it gave up, reclaim.h), the sender (HELLO
 * node_id) must be the range's owner in the map at the request's epoch, and a range the
 * node owns takes no replication (BAD_REQUEST). An epoch beyond the map's is UNAVAILABLE
 * (the sender retries once this node has the newer map) and changes nothing, unless this
 * node itself wrote the map that makes the sender owner at that epoch (a handoff it made,
 * handoff.h). An epoch older than the map's, than the range's stored epoch or than a
 * snapshot being received is STALE_EPOCH. RANGE_STATUS from a sender at an epoch beyond
 * the map's is UNAVAILABLE too. Answers carry range_id and the node's position
 * (range_epoch, range_seq). */
#ifndef ZKV_SERVER_REPLICA_H
#define ZKV_SERVER_REPLICA_H
#include "dispatch.h"

/* Position (epoch, seq) of range_id as answered to peers: (0, 0) for an unknown range or one
 * whose snapshot is in progress; staged writes included (the answer leaves after commit). */
void zkv_replica_position(const zkv_store *s, const char *range_id, uint64_t *epoch, uint64_t *seq);

void zkv_replica_range_status(const zkv_dispatch_env *env, const zkv_session *sess,
                              const Zkv__Request *req, zkv_reply *r);
void zkv_replica_append(const zkv_dispatch_env *env, const zkv_session *sess,
                        const Zkv__Request *req, zkv_reply *r);
void zkv_replica_snapshot(const zkv_dispatch_env *env, const zkv_session *sess,
                          const Zkv__Request *req, zkv_reply *r);

#endif
