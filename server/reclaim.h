/* reclaim.h: the loop's shell around reclaim_plan.h: deletes, in the background, the data
 * and range logs of what this node no longer holds (after a move, drain, split or merge)
 * once it has not held it for --reclaim-delay-ms. A timer takes in the installed map and
 * the store's ranges each tick, carries out the plan's next step (forget a range's log and
 * position; delete up to a chunk of data keys) and comes back soon while work is left, and
 * every second otherwise; a finished part is compacted on a libuv worker thread so its
 * space is returned to the file system. Nothing is done while the node is fenced or
 * shutting down. Tested by tests/integration/test_reclaim.c. */
#ifndef ZKV_SERVER_RECLAIM_H
#define ZKV_SERVER_RECLAIM_H
#include <stdint.h>
#include <uv.h>
#include "common/rangemap.h"
#include "store.h"

#define ZKV_RECLAIM_DEFAULT_DELAY_MS 60000
#define ZKV_RECLAIM_CHUNK 1024u /* data keys deleted per step */

typedef struct zkv_reclaim zkv_reclaim;

/* What the node reads each tick: its installed map (may be NULL) and whether it may act. */
typedef struct zkv_reclaim_view {
    const zkv_rangemap *map;
    bool may_act; /* not fenced, not shutting down */
} zkv_reclaim_view;
typedef zkv_reclaim_view (*zkv_reclaim_view_fn)(void *ctx);

typedef struct zkv_reclaim_counts {
    uint64_t keys_deleted;     /* data keys deleted */
    uint64_t ranges_forgotten; /* range logs and positions deleted */
    uint64_t parts_compacted;  /* key ranges compacted after their keys went */
    size_t pending_parts;      /* unheld parts with data possibly left */
    size_t pending_ranges;     /* unheld ranges with a log or position left */
} zkv_reclaim_counts;

/* Starts the timer on loop (delay_ms <= 0: never reclaims, returns NULL without error).
 * NULL also when out of memory (logged by the caller). */
zkv_reclaim *zkv_reclaim_start(uv_loop_t *loop, zkv_store *store, const char *node_id,
                               int64_t delay_ms, zkv_reclaim_view_fn view, void *ctx);
/* Stops the timer and closes its handle; a compaction under way finishes on its thread
 * (the loop runs until it has). Free after the loop ended. NULL is a no-op. */
void zkv_reclaim_stop(zkv_reclaim *r);
void zkv_reclaim_free(zkv_reclaim *r);
void zkv_reclaim_counts_get(const zkv_reclaim *r, zkv_reclaim_counts *out);

#endif
