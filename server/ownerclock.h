/* ownerclock.h: what a replica knows of each range's owner, from the APPENDs it takes
 * (heartbeats included, every 200 ms at least):
 *  - the owner's time: its wall clock arrives as owner_time_ms, and the replica adds the
 *    time passed since on its own monotonic clock. A replica judges expiry (docs/api.md,
 *    "Expiry") by this, not by its own wall clock, so owner and replicas agree on what has
 *    expired within about a heartbeat;
 *  - how far behind the owner it is (docs/api.md, "Replica reads"): the owner's log end
 *    when it sent the last APPEND (head_seq) against what the replica has applied, and the
 *    last time the replica held everything the owner had (durations on the replica's own
 *    monotonic clock only). A read with a staleness bound is refused past it.
 * Pure: the caller gives the times. */
#ifndef ZKV_SERVER_OWNERCLOCK_H
#define ZKV_SERVER_OWNERCLOCK_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct zkv_ownerclock zkv_ownerclock;

zkv_ownerclock *zkv_ownerclock_new(void); /* NULL out of memory */
void zkv_ownerclock_free(zkv_ownerclock *c);
/* The owner of range_id said owner_ms when this node's monotonic clock read mono_ms. An
 * owner time older than one noted before is ignored (APPENDs of an old owner). */
void zkv_ownerclock_note(zkv_ownerclock *c, const char *range_id, uint64_t owner_ms,
                         uint64_t mono_ms);
/* The owner's time now (this node's monotonic clock at mono_now): true with *owner_ms, or
 * false when nothing was heard for range_id. */
bool zkv_ownerclock_now(const zkv_ownerclock *c, const char *range_id, uint64_t mono_now,
                        uint64_t *owner_ms);

/* After an APPEND from range_id's owner whose log ended at head_seq when it was sent, this
 * copy's log ends at applied_seq (mono_ms: now): it is caught up when applied_seq reaches
 * head_seq. */
void zkv_ownerclock_note_position(zkv_ownerclock *c, const char *range_id, uint64_t head_seq,
                                  uint64_t applied_seq, uint64_t mono_ms);
/* How stale this copy of range_id may be at mono_now, with applied_seq applied: *lag_ms is
 * the time since it last held all its owner had (UINT64_MAX: never since this node
 * started), *lag_entries the entries it knows the owner had that it lacks. */
void zkv_ownerclock_lag(const zkv_ownerclock *c, const char *range_id, uint64_t applied_seq,
                        uint64_t mono_now, uint64_t *lag_ms, uint64_t *lag_entries);
/* Whether a lag is within a read's bounds (0: no bound on that measure). */
bool zkv_lag_within(uint64_t lag_ms, uint64_t lag_entries, uint64_t max_ms, uint64_t max_entries);

#endif
