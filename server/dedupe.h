/* dedupe.h: the conditional writes a node has applied, by client id and request sequence,
 * so that a retry whose first attempt was applied gets that attempt's outcome (its
 * version) instead of being judged again and failing its own condition (docs/api.md,
 * "Conditional writes"). Owners note the writes they make, replicas the ones they apply
 * from APPEND (the id and sequence travel in the log entry), so the range's next owner
 * knows them after a failover. One table for the node: ids are random per client, so
 * ranges, splits and merges do not matter. Entries live between ZKV_DEDUPE_KEEP_MS / 2
 * and ZKV_DEDUPE_KEEP_MS (two generations, the older dropped as a whole), fewer when more
 * than ZKV_DEDUPE_GEN_MAX writes come in that time. Pure: the caller gives the time. */
#ifndef ZKV_SERVER_DEDUPE_H
#define ZKV_SERVER_DEDUPE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZKV_DEDUPE_KEEP_MS ((uint64_t)10 * 60 * 1000) /* ten minutes */
#define ZKV_DEDUPE_GEN_MAX ((size_t)1 << 17)          /* entries per generation */

typedef struct zkv_dedupe zkv_dedupe;

/* An applied conditional write: where it landed. */
typedef struct zkv_dedupe_hit {
    uint64_t epoch;
    uint64_t seq;
} zkv_dedupe_hit;

zkv_dedupe *zkv_dedupe_new(void); /* NULL out of memory */
void zkv_dedupe_free(zkv_dedupe *d);
/* Notes that request (client_id, client_seq) was applied to range_id at (epoch, seq).
 * A client id of 0 is no request. Out of memory it forgets instead (a retry is then
 * judged again). */
void zkv_dedupe_note(zkv_dedupe *d, uint64_t client_id, uint64_t client_seq, const char *range_id,
                     uint64_t epoch, uint64_t seq, uint64_t now_ms);
/* Whether (client_id, client_seq) was applied: true with *hit. */
bool zkv_dedupe_find(const zkv_dedupe *d, uint64_t client_id, uint64_t client_seq,
                     zkv_dedupe_hit *hit);
/* Forgets range_id's writes with seq > after (0: all): its log was cut back or rebuilt from
 * a snapshot, so they may not be there any more. */
void zkv_dedupe_forget_range(zkv_dedupe *d, const char *range_id, uint64_t after);
/* Entries held (both generations). */
size_t zkv_dedupe_count(const zkv_dedupe *d);

#endif
