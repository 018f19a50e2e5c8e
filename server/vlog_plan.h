/* vlog_plan.h: the value log's garbage-collection decisions (docs/internals.md, "Value
 * log"): which file to measure next, whether to rewrite it, how much reading the writes
 * so far pay for. Pure: the store's GC (vlog_gc.c) does the reading and moving.
 *
 * A file's live bytes only fall once measured (values are overwritten or deleted, never
 * revived: moves go to new files), so a measurement stays an upper bound. Files are
 * measured oldest first, each again once `every` more bytes were appended; a file whose
 * live share is at most max_live and that no range's log still holds is rewritten:
 * its live values are moved to the newest file and it is deleted. A file a range's log
 * still holds (pinned) is the frontier: files are written in seq order and logs are cut
 * from their old end, so the younger files are pinned too; nothing younger is measured
 * until it is measured again, `recheck` appended bytes later (a log moves on about as
 * fast as files fill). GC reads cost credit: ZKV_VLOG_GC_CREDIT bytes for each byte
 * writes append, so GC keeps pace with writes without outrunning them. */
#ifndef ZKV_SERVER_VLOG_PLAN_H
#define ZKV_SERVER_VLOG_PLAN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZKV_VLOG_NEVER UINT64_MAX
#define ZKV_VLOG_GC_CREDIT 2u /* GC bytes read per byte appended: a measure and a move */

typedef struct zkv_vlog_file_gc {
    uint32_t num;
    uint64_t bytes;
    uint64_t live;        /* bytes of live records at the last measure (bytes before one) */
    uint64_t pinned;      /* of those, records a range's log may still point at */
    uint64_t measured_at; /* appended bytes at the last measure (ZKV_VLOG_NEVER: none) */
    uint64_t pass;        /* the forced pass that measured it last (0: none) */
} zkv_vlog_file_gc;

/* The index of the file to measure next: the oldest never measured, or measured at least
 * `every` appended bytes ago (`recheck` for a pinned one), or -1 (none, or a pinned file
 * not yet due comes first). A forced pass (pass > 0) takes every file it has not measured
 * yet instead. */
long zkv_vlog_plan_pick(const zkv_vlog_file_gc *f, size_t n, uint64_t appended, uint64_t every,
                        uint64_t recheck, uint64_t pass);
/* `every` for a value log of total bytes in files of file_bytes: a sweep of every file
 * costs about a byte read per byte appended meanwhile, half the credit (the rest is for
 * moves). */
uint64_t zkv_vlog_plan_every(uint64_t total, uint64_t file_bytes);
/* Whether a measured file is rewritten: nothing pinned and live <= max_live of its bytes. */
bool zkv_vlog_plan_rewrite(const zkv_vlog_file_gc *f, double max_live);
/* Credit after appended grew from before to now (at most cap). */
uint64_t zkv_vlog_plan_credit(uint64_t credit, uint64_t before, uint64_t now, uint64_t cap);

#endif
