/* vlog_plan.h: the value log's garbage-collection decisions (docs/internals.md, "Value
 * log"): which file to measure next, whether to rewrite it, how much reading the writes
 * so far pay for. Pure: the store's GC (vlog_gc.c) does the reading and moving.
 *
 * A file's live bytes only fall once measured (values are overwritten or deleted, never
 * revived: moves go to new files), so a measurement stays an upper bound. Files are
 * measured oldest first, each again once enough bytes were appended for its live share
 * to fall to max_live were the writes to overwrite the live values uniformly (a file
 * measured just above it soon, a file all live much later; at least `recheck`); a file whose
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
    uint64_t dead;        /* bytes the writes are known to have killed since it was written */
    uint64_t dead_at;     /* dead at the last measure */
    uint64_t listed_at;   /* appended bytes when it was closed (ZKV_VLOG_NEVER: before this
                           * process started, its deaths unknown) */
} zkv_vlog_file_gc;

/* An upper bound of f's live bytes now: its measure less the deaths counted since, or
 * before a measure its bytes less the deaths counted. */
uint64_t zkv_vlog_plan_live(const zkv_vlog_file_gc *f);
/* Whether f is known to be at most low_live live (zkv_vlog_plan_live): it is moved in one
 * pass, without a measure first. */
bool zkv_vlog_plan_low(const zkv_vlog_file_gc *f, double low_live);

/* The index of the file to read next, or -1, oldest first: a pinned file when `recheck`
 * appended bytes passed since its last read (not yet: it stops the search); a file known
 * low (zkv_vlog_plan_low at low_live); a file from before this process started, never
 * measured; a file never measured once uniform overwrites would have taken it to max_live
 * when its counted deaths are short of that by more than a tenth (the row cache did not
 * see them all), or else once they would have taken it to half of low_live (not yet: it
 * stops the search, as moving younger files first cost PUT p99s); a measured
 * file once zkv_vlog_plan_wait passed since its measure. Waits are at least `recheck`. A
 * forced pass (pass > 0) takes every file it has not measured yet instead. live_total: the
 * value log's live bytes as known. */
long zkv_vlog_plan_pick(const zkv_vlog_file_gc *f, size_t n, uint64_t appended, uint64_t live_total,
                        uint64_t recheck, double max_live, double low_live, uint64_t pass);
/* Appended bytes after which a file measured at live share `share` falls to max_live if
 * writes overwrite live_total bytes of live values uniformly: live_total * ln(share /
 * max_live) (0 at or below max_live). */
uint64_t zkv_vlog_plan_wait(double share, double max_live, uint64_t live_total);
/* Whether a measured file is rewritten: nothing pinned and live <= max_live of its bytes. */
bool zkv_vlog_plan_rewrite(const zkv_vlog_file_gc *f, double max_live);
/* Credit after appended grew from before to now (at most cap). */
uint64_t zkv_vlog_plan_credit(uint64_t credit, uint64_t before, uint64_t now, uint64_t cap);
/* Whether a GC call that has run elapsed_us yields to the loop now: only when paced (a
 * step_us bound, not forced) and not behind (credit below half of cap: a GC that falls
 * behind takes its full steps again, so that the value log stays bounded). */
bool zkv_vlog_plan_yield(bool force, uint64_t step_us, uint64_t credit, uint64_t cap,
                         uint64_t elapsed_us);

#endif
