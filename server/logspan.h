/* logspan.h: how many of a range's newest log entries fit in a number of bytes, for
 * --log-retain-mb. The log keeps entries for replicas that fall behind; counted in entries
 * alone it holds gigabytes of large values (100,000 entries of 100 KB), which LevelDB then
 * compacts again and again. A mark (seq, bytes logged so far) every ZKV_LOGSPAN_STEP bytes,
 * the newest ZKV_LOGSPAN_MARKS kept, answers it to a step's precision. Pure. */
#ifndef ZKV_SERVER_LOGSPAN_H
#define ZKV_SERVER_LOGSPAN_H
#include <stddef.h>
#include <stdint.h>

#define ZKV_LOGSPAN_MARKS 256
#define ZKV_LOGSPAN_STEP ((uint64_t)1 << 20)

typedef struct zkv_logspan {
    uint64_t total;   /* bytes logged since the marks began */
    uint64_t next_at; /* total at which the next mark is taken */
    uint64_t seq[ZKV_LOGSPAN_MARKS], cum[ZKV_LOGSPAN_MARKS];
    size_t head, n; /* the oldest mark, and how many there are */
} zkv_logspan;

/* Forgets every mark (the log was reset or dropped). */
void zkv_logspan_reset(zkv_logspan *l);
/* Notes entry seq of bytes bytes, the log's newest. */
void zkv_logspan_add(zkv_logspan *l, uint64_t seq, uint64_t bytes);
/* How many of the newest entries, the last being last_seq, take at most bytes bytes (to a
 * step's precision, never more); UINT64_MAX when they all might (the marks do not reach
 * back past bytes). */
uint64_t zkv_logspan_entries_within(const zkv_logspan *l, uint64_t last_seq, uint64_t bytes);

#endif
