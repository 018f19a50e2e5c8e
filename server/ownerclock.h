/* ownerclock.h: what time it is at a range's owner, as a replica knows it: the owner's
 * wall clock arrives with every APPEND (owner_time_ms, heartbeats included), and the
 * replica adds the time passed since on its own monotonic clock. A replica judges expiry
 * (docs/api.md, "Expiry") by this, not by its own wall clock, so owner and replicas agree
 * on what has expired within about a heartbeat. Pure: the caller gives the times. */
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

#endif
