/* reclaim_plan.h: what a node may delete because it no longer holds it, as a pure plan
 * (docs/operations.md, "Disk space of ranges a node gave up"). From each map it sees, the
 * plan keeps the parts of the key space the node holds no copy of (neither owner nor
 * replica of the range covering them) with the time since when it has not held each part,
 * and the range ids the store still has a log or position for that the node does not hold,
 * with the same. A part or id unheld for the whole delay is due. The steps: first every
 * due id's log and position are forgotten; only when no unheld id is left with one are the
 * data keys of due parts deleted, piece by piece, each piece then marked clean. That order
 * is what makes deleting safe: a node that gets a range back with no position is rebuilt
 * from a snapshot, never caught up from a log tail over data that is gone. A part held
 * again leaves the plan at once, so deleting stops at the next step. No I/O, no clock;
 * tested by tests/unit/test_server_reclaim_plan.c. */
#ifndef ZKV_SERVER_RECLAIM_PLAN_H
#define ZKV_SERVER_RECLAIM_PLAN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/rangemap.h"

typedef struct zkv_reclaim_plan zkv_reclaim_plan;

typedef enum zkv_reclaim_kind {
    ZKV_RECLAIM_NONE,   /* nothing due */
    ZKV_RECLAIM_FORGET, /* forget range_id's log and position */
    ZKV_RECLAIM_DELETE  /* delete the data keys of [start, end), piece index piece */
} zkv_reclaim_kind;

typedef struct zkv_reclaim_step {
    zkv_reclaim_kind kind;
    const char *range_id; /* FORGET; valid until the plan changes */
    size_t piece;         /* DELETE */
    const uint8_t *start; /* DELETE: borrowed from the plan, valid until it changes */
    size_t slen;
    const uint8_t *end; /* empty: to the end of the key space */
    size_t elen;
} zkv_reclaim_step;

zkv_reclaim_plan *zkv_reclaim_plan_new(void); /* NULL: out of memory */
void zkv_reclaim_plan_free(zkv_reclaim_plan *p);

/* Takes in map m as node me sees it at now_ms, and the ids of the ranges the store has a
 * log or position for (ids, n_ids). Parts and ids unheld before keep their time; newly
 * unheld ones start now; held ones leave. Returns 0, or -1 out of memory (the plan is
 * then empty: nothing is deleted until the next observation). */
int zkv_reclaim_plan_observe(zkv_reclaim_plan *p, const zkv_rangemap *m, const char *me,
                             const char *const *ids, size_t n_ids, uint64_t now_ms);

/* The next step at now_ms for parts and ids unheld at least delay_ms. */
zkv_reclaim_step zkv_reclaim_plan_next(const zkv_reclaim_plan *p, uint64_t now_ms,
                                       uint64_t delay_ms);

/* The id was forgotten. */
void zkv_reclaim_plan_forgot(zkv_reclaim_plan *p, const char *range_id);

/* Piece i is clean below next (keys < next deleted); next_len 0: the whole piece is
 * clean. Returns 0, or -1 out of memory (the piece is left as it was). */
int zkv_reclaim_plan_cleaned(zkv_reclaim_plan *p, size_t i, const uint8_t *next, size_t next_len);

/* Unheld parts not yet clean, and unheld ids with a log or position (due or not). */
void zkv_reclaim_plan_pending(const zkv_reclaim_plan *p, size_t *pieces, size_t *ids);

#endif
