/* dbwrite.h: what the store's LevelDB writes cost, for the metrics: a histogram of how long
 * each group commit's write took, and the writes that waited, by the likely reason. LevelDB
 * (db_impl.cc, MakeRoomForWrite) makes a writer wait in three cases: 1 ms once when level 0
 * holds 8 files or more (a slowdown), until a compaction when it holds 12 or more (a stop),
 * and until the previous memtable is flushed when the current one is full. With --sync a
 * write also waits for fdatasync. LevelDB does not say which happened, so a write is
 * judged by its time and the level-0 file count around it (zkv_dbwrite_cause). Pure. */
#ifndef ZKV_SERVER_DBWRITE_H
#define ZKV_SERVER_DBWRITE_H
#include <stdbool.h>
#include <stdint.h>

#include "latbuckets.h"

/* LevelDB's level-0 triggers (db/dbformat.h, config::kL0_*). */
#define ZKV_DBW_L0_SLOWDOWN 8
#define ZKV_DBW_L0_STOP 12
/* A write this long (us) or longer waited for something. */
#define ZKV_DBW_WAIT_US 1000u

typedef enum {
    ZKV_DBW_NONE,            /* no wait: under ZKV_DBW_WAIT_US */
    ZKV_DBW_LEVEL0_SLOWDOWN, /* level 0 at the slowdown trigger */
    ZKV_DBW_LEVEL0_STOP,     /* level 0 at the stop trigger: waited for a compaction */
    ZKV_DBW_MEMTABLE,        /* neither: waited for the full memtable's flush */
    ZKV_DBW_SYNC,            /* neither, with --sync: the fsync (or a memtable wait) */
    ZKV_DBW_NCAUSE
} zkv_dbwrite_cause;

/* The cause of a write that took us microseconds, with l0_files the larger of the level-0
 * file counts seen just before and just after it, and sync whether writes are synced. */
zkv_dbwrite_cause zkv_dbwrite_cause_of(uint64_t us, uint64_t l0_files, bool sync);
/* The metrics' label of a cause ("level0_slowdown", ...; "none" for ZKV_DBW_NONE). */
const char *zkv_dbwrite_cause_name(zkv_dbwrite_cause c);

typedef struct zkv_dbwrite_stats {
    uint64_t n[ZKV_LAT_NB + 1]; /* writes per duration bucket (zkv_lat_bounds_us), not cumulative */
    uint64_t sum_us;
    uint64_t waits[ZKV_DBW_NCAUSE];   /* writes that waited, by cause (NONE unused) */
    uint64_t wait_us[ZKV_DBW_NCAUSE]; /* and their time */
    uint64_t max_us;                  /* the longest write */
} zkv_dbwrite_stats;

/* Counts one write of us microseconds with its cause. */
void zkv_dbwrite_observe(zkv_dbwrite_stats *st, uint64_t us, zkv_dbwrite_cause c);

#endif
