/* handoff.h: the owner side of a live ownership move (docs/operations.md, "How a move
 * works"), and of a split or merge, which go the same way: writes held until every
 * in_sync replica has the last entry, then one conditional write that replaces the range
 * by two (or two neighbours by one). The owner of a range stops taking writes for that
 * range only, waits until the
 * target (an in_sync replica) has applied its last entry, then passes ownership with one
 * conditional ZooKeeper write of the range (owner := target, epoch + 1, the old owner in
 * the target's replica slot) plus a map bump. Requests for the range that arrive while it
 * moves are held and answered NOT_OWNER once it has moved (or the move was given up), so
 * libzkv retries them at the new owner: clients see no error, only the pause.
 *
 * Two things start a handoff: the range znode names a target (`"handoff"`, written by the
 * coordinator for a move, a drain or balancing), or the node leaves (SIGTERM: controlled
 * shutdown hands every owned range to an in_sync replica before the node exits, and then
 * its old slots do not wait for it: it is not put back in in_sync).
 *
 * The pure parts (the step of one handoff, the range the owner writes, the choice of a
 * target on shutdown) are functions of plain data, tested by
 * tests/unit/test_server_handoff.c; zkv_handoffs is the thin shell the server drives on
 * its loop thread. */
#ifndef ZKV_SERVER_HANDOFF_H
#define ZKV_SERVER_HANDOFF_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/rangemap.h"

/* ---- pure ---- */

/* States of one handoff. */
typedef enum {
    ZKV_HO_DRAIN = 0, /* writes held; waiting until the target has every committed entry */
    ZKV_HO_FLIP,      /* the range write is submitted or took effect: everything is held
                         until a map shows how it ended */
    ZKV_HO_OVER,      /* finished or given up: held answers go out (NOT_OWNER) */
} zkv_ho_state;

/* What the owner knows of the range and the target when it decides. */
typedef struct zkv_ho_view {
    bool owned;            /* the map names this node owner at the handoff's epoch */
    bool range_changed;    /* ZKV_HO_FLIP: the map's range is newer than the version the
                              range write was conditional on */
    bool asked;            /* the handoff is still wanted (the range znode still names the
                              target, or the node is leaving) */
    bool target_in_sync;   /* the target is a confirmed in_sync replica */
    bool isr_inflight;     /* an in_sync write of the range is pending */
    uint64_t last_seq;     /* the range's last seq given out (staged writes included) */
    uint64_t committed;    /* the range's last seq durable here */
    uint64_t target_acked; /* the target's acknowledged position */
    uint64_t now_ms, started_ms, timeout_ms;
} zkv_ho_view;

typedef enum {
    ZKV_HO_WAIT,   /* nothing to do yet */
    ZKV_HO_SUBMIT, /* write the range to pass ownership (ZKV_HO_DRAIN -> ZKV_HO_FLIP) */
    ZKV_HO_ABORT,  /* give up: the range is served here again (-> ZKV_HO_OVER) */
    ZKV_HO_END,    /* the range left this node (-> ZKV_HO_OVER) */
} zkv_ho_action;

/* The next action of a handoff in state st (pure).
 * ZKV_HO_DRAIN: END when the range is no longer owned here; ABORT when no longer asked,
 * after timeout_ms, or when the target is not in_sync; WAIT while an in_sync write is
 * pending, a staged write is not committed, or the target has not acknowledged every
 * committed entry; else SUBMIT.
 * ZKV_HO_FLIP: END once the range is no longer owned here; ABORT when the map shows the
 * range changed and still owned here at the same epoch (the write did not take effect);
 * else WAIT, however long: the write may have taken effect, so serving again before a
 * map says otherwise could make two owners. */
zkv_ho_action zkv_ho_next(zkv_ho_state st, const zkv_ho_view *v);

/* What a range write's result means to a handoff in ZKV_HO_FLIP awaiting it (pure). A move
 * writes the range at epoch + 1 (zkv_ho_flip_range), a split or merge deletes it at epoch;
 * a result of another epoch is not the handoff's (ours false: it is the shipper's in_sync
 * write of the same range). written: a move that took effect. again: nothing was written
 * (ZKV_ZK_MAPRACE) or the outcome is unknown (the connection dropped), so the write is
 * submitted again; after ZOK, ZBADVERSION and ZNONODE the handoff waits for the map. */
typedef struct zkv_ho_result {
    bool ours, written, again;
} zkv_ho_result;
zkv_ho_result zkv_ho_write_result(bool move, uint64_t epoch, uint64_t write_epoch, int rc);

/* The range the owner writes to pass ownership of cur from me to target: owner target,
 * epoch + 1, target's replica slot taken by me (me stays in in_sync in target's place when
 * keep_in_sync, else leaves it), handoff cleared; zversion kept (the write is conditional
 * on it). Returns 0, or -1 when target is not a replica of cur or out of memory. */
int zkv_ho_flip_range(const zkv_range *cur, const char *me, const char *target, bool keep_in_sync,
                      zkv_range *out);

/* The two ranges a split of cur at key makes (ids[0] [start, key), ids[1] [key, end)):
 * the same owner, replicas and in_sync, epoch + 1, made from cur at (pepoch, pseq), no
 * request of any kind. key must lie strictly inside cur. Returns 0, or -1 (bad key, out
 * of memory: out cleared). */
int zkv_ho_split_ranges(const zkv_range *cur, const uint8_t *key, size_t klen,
                        const char (*ids)[ZKV_ID_MAX], uint64_t pepoch, uint64_t pseq,
                        zkv_range out[2]);
/* The range a merge of neighbours left and right makes (id, [left.start, right.end)):
 * left's owner and replicas, in_sync the replicas in sync for both, epoch one above both,
 * made from them at pos[0], pos[1]; no request of any kind. Returns 0, or -1 (not
 * neighbours, out of memory: out cleared). */
int zkv_ho_merge_range(const zkv_range *left, const zkv_range *right, const char *id,
                       const zkv_range_parent pos[2], zkv_range *out);

/* The target for a shutdown handoff of r (owned by me): the confirmed in_sync replica that
 * is live in m and owns the fewest ranges of m (ties: lowest id). Returns false when there
 * is none. */
bool zkv_ho_pick_target(const zkv_rangemap *m, const zkv_range *r, const char *me,
                        char out[ZKV_ID_MAX]);

/* ---- the shell (loop thread) ---- */

typedef struct zkv_handoffs zkv_handoffs;
struct zkv_server;

/* How a range stands for dispatch.c. */
typedef enum {
    ZKV_HO_SERVE = 0,   /* no handoff: serve */
    ZKV_HO_HOLD_WRITES, /* moving: writes are held, reads served */
    ZKV_HO_HOLD_ALL,    /* passing: every request for it is held */
} zkv_ho_gate;

zkv_handoffs *zkv_handoffs_new(struct zkv_server *s, uint64_t timeout_ms);
void zkv_handoffs_free(zkv_handoffs *h);
/* A new map: starts the handoffs its ranges ask of this node, ends those that are over. */
void zkv_handoffs_sync_map(zkv_handoffs *h);
/* Starts a handoff of every range this node owns, each to zkv_ho_pick_target's choice
 * (controlled shutdown; the node leaves in_sync). Returns how many started. */
size_t zkv_handoffs_leave(zkv_handoffs *h);
/* Drives every handoff one step (after each commit and on the tick). */
void zkv_handoffs_pump(zkv_handoffs *h);
/* The result of a range write (membership.h); true when it was this module's (a handoff
 * in ZKV_HO_FLIP waiting for it), which takes it: ZOK and ZBADVERSION wait for the map, any
 * other outcome (ZKV_ZK_MAPRACE, or unknown: the connection dropped) is submitted again. */
bool zkv_handoffs_write_result(zkv_handoffs *h, const char *range_id, uint64_t epoch, int rc);
/* How requests for range_id must be treated now. */
zkv_ho_gate zkv_handoffs_gate(const zkv_handoffs *h, const char *range_id);
/* Handoffs not yet over. */
size_t zkv_handoffs_active(const zkv_handoffs *h);
/* Hook of dispatch.h (ctx is the zkv_handoffs). */
int zkv_handoffs_gate_hook(void *ctx, const zkv_range *r);
/* Whether this node's handoff of range_id to node took effect (its range write succeeded)
 * at epoch, while its map does not show it yet; and its hook for dispatch.h. */
bool zkv_handoffs_handed(const zkv_handoffs *h, const char *range_id, uint64_t epoch,
                         const char *node);
bool zkv_handoffs_handed_hook(void *ctx, const char *range_id, uint64_t epoch, const char *node);

#endif
