/* nodeinfo.h: the answer to INFO (`zkv info`): what a node is and how it is doing, as one
 * JSON object for operators (docs/operations.md, "Looking at nodes"). Rates and latency
 * percentiles cover the last ZKV_NODEINFO_WINDOW seconds, from a ring of once-a-second
 * copies of the request counters; key counts are counted, or estimated from a sample
 * where a range holds more keys than the count may visit. Pure: the caller passes the
 * figures and the clock (server/info.c reads them). */
#ifndef ZKV_SERVER_NODEINFO_H
#define ZKV_SERVER_NODEINFO_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics.h"

#define ZKV_NODEINFO_WINDOW 10 /* seconds */

/* The request counters as they were at one second. */
typedef struct zkv_nodeinfo_sample {
    uint64_t at_ms;
    zkv_latency latency;
    uint64_t requests[ZKV_MOP_COUNT];
} zkv_nodeinfo_sample;

/* The last ZKV_NODEINFO_WINDOW + 1 samples, oldest overwritten first. */
typedef struct zkv_nodeinfo_ring {
    zkv_nodeinfo_sample s[ZKV_NODEINFO_WINDOW + 1];
    size_t next, n;
} zkv_nodeinfo_ring;

/* Records the counters c as of now_ms (call once a second). */
void zkv_nodeinfo_tick(zkv_nodeinfo_ring *r, const zkv_metrics_counters *c, uint64_t now_ms);

/* The keys of a range from a count that stopped after `counted` keys: exact when it
 * reached the range's end; else counted x range_bytes / sample_bytes (sample_bytes: the
 * size on disk of the keys counted), or at least `counted` when the sizes say nothing
 * (data still in LevelDB's memory table has no size on disk). */
typedef struct zkv_key_count {
    uint64_t keys;
    bool exact;    /* counted to the end */
    bool at_least; /* neither counted to the end nor estimated: keys is a lower bound */
} zkv_key_count;
zkv_key_count zkv_nodeinfo_key_count(uint64_t counted, bool reached_end, uint64_t sample_bytes,
                                     uint64_t range_bytes);
/* Adds b to a: a total over ranges is exact only when every part is. */
void zkv_key_count_add(zkv_key_count *a, zkv_key_count b);

/* What INFO reports besides the ring. */
typedef struct zkv_nodeinfo {
    const char *node_id;
    const char *version;
    const char *zone;    /* NULL or "": none */
    const char *address; /* HOST:PORT announced to the cluster */
    uint64_t uptime_ms;
    bool serving;       /* not fenced: the ZooKeeper session is confirmed */
    bool has_map;       /* the node has read the range map */
    size_t owned;       /* ranges it owns */
    size_t replica_of;  /* ranges it holds a copy of for another owner */
    zkv_key_count keys; /* in the ranges it owns */
    uint64_t bytes;     /* size on disk of the ranges it owns (LevelDB's estimate) */
    uint64_t db_bytes;  /* LevelDB's files in all (0: not known) */
    uint64_t connections;
    uint64_t rss_bytes;            /* 0: not known */
    zkv_metrics_counters counters; /* as of now */
} zkv_nodeinfo;

/* The JSON (malloc'd; NULL out of memory):
 * {"node","version","zone","address","uptime_s","serving","ranges_owned","ranges_replica",
 *  "keys","keys_exact","keys_at_least","bytes","db_bytes","connections","rss_bytes",
 *  "window_s","requests_per_s":{"get",..,"total"},"requests_total",
 *  "latency_ms":{"get":{"p50","p99","p999"},...}}
 * Rates and percentiles are over the oldest sample of r no older than the window and now
 * (window_s: the seconds they cover; 0 right after start: no rates). A percentile is the
 * upper bound of its histogram bucket in ms, -1 past the last bucket, null without requests
 * of that kind in the window. */
char *zkv_nodeinfo_render(const zkv_nodeinfo *ni, const zkv_nodeinfo_ring *r, uint64_t now_ms);

#endif
