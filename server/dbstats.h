/* dbstats.h: what LevelDB says about itself, for the metrics: its "leveldb.stats" property
 * (files, size and compaction work per level) parsed into numbers. Pure. */
#ifndef ZKV_SERVER_DBSTATS_H
#define ZKV_SERVER_DBSTATS_H
#include <stdint.h>

#define ZKV_DB_LEVELS 7 /* LevelDB's config::kNumLevels */

typedef struct zkv_dbstats {
    uint64_t files[ZKV_DB_LEVELS];       /* table files per level */
    uint64_t level_bytes[ZKV_DB_LEVELS]; /* their size (LevelDB reports MB: 1 MiB steps) */
    uint64_t size_bytes;                 /* all levels (the store makes it byte-exact) */
    uint64_t compaction_ms;              /* time spent compacting, all levels */
    uint64_t compaction_read_bytes;      /* bytes read by compactions */
    uint64_t compaction_write_bytes;     /* bytes written by compactions (and flushes) */
} zkv_dbstats;

/* Parses the text of the "leveldb.stats" property into *out (zeroed first): the rows
 * "LEVEL FILES SIZE(MB) TIME(sec) READ(MB) WRITE(MB)" under its header. 0, or -1 when the
 * header is not there. */
int zkv_dbstats_parse(const char *text, zkv_dbstats *out);

#endif
