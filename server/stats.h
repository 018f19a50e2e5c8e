/* stats.h: what a node reports about the ranges it owns, for balance, splits and
 * `zkv ranges` (docs/operations.md, "Range sizes and write rates"). Every
 * --stats-interval-ms the loop takes, per owned range, its size on disk (LevelDB's
 * estimate), its last seq and the key and value bytes written so far; the rates are the
 * differences with the previous sample over the time between them. The report is JSON in
 * the ephemeral znode stats/<node-id>, written by the membership thread:
 *   {"node","updated","interval_ms","ranges":[{"id","epoch","seq","bytes",
 *    "writes_per_s","write_bytes_per_s"}...]}
 * Pure: no I/O, no clock (callers pass the times). Tested by
 * tests/unit/test_server_stats.c. */
#ifndef ZKV_SERVER_STATS_H
#define ZKV_SERVER_STATS_H
#include <stddef.h>
#include <stdint.h>
#include "common/rangemap.h"

typedef struct zkv_stats_sample {
    char id[ZKV_ID_MAX];
    uint64_t epoch;
    uint64_t seq;           /* last committed seq */
    uint64_t bytes;         /* size on disk, estimated */
    uint64_t bytes_written; /* key + value bytes written since the node started */
    uint64_t at_ms;         /* when taken (monotonic) */
} zkv_stats_sample;

typedef struct zkv_stats_rate {
    double writes_per_s;
    double write_bytes_per_s;
} zkv_stats_rate;

/* The rates of now against prev (the same range earlier; NULL: none yet, rates 0). A
 * range whose seq went back (it was rebuilt) counts from 0. */
zkv_stats_rate zkv_stats_rate_of(const zkv_stats_sample *prev, const zkv_stats_sample *now);

/* The report's JSON (malloc'd, NULL out of memory): samples[i] with rates[i]. */
char *zkv_stats_render(const char *node, const char *updated_iso, uint64_t interval_ms,
                       const zkv_stats_sample *samples, const zkv_stats_rate *rates, size_t n);

#endif
