/* opstep.c: the operations' state machine (see opstep.h). Each kind is a function of the
 * operation's recorded step and the world; helpers answer the questions the steps ask of
 * a range (is this node a replica, in_sync, the owner) and of the node list. */
#include "opstep.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static bool in_ids(const char *const *ids, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] && strcmp(ids[i], id) == 0)
            return true;
    return false;
}

static bool in_list(const char (*ids)[ZKV_ID_MAX], int n, const char *id)
{
    for (int i = 0; i < n; i++)
        if (strcmp(ids[i], id) == 0)
            return true;
    return false;
}

static int range_index(const zkv_op_world *w, const char *id)
{
    for (size_t i = 0; i < w->n_ranges; i++)
        if (strcmp(w->range_ids[i], id) == 0)
            return (int)i;
    return -1;
}

static void note(zkv_op_effect *eff, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(zkv_op_effect *eff, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(eff->note, sizeof(eff->note), fmt,
              ap); // NOLINT(clang-analyzer-valist.Uninitialized): va_start above
    va_end(ap);
}

static void go(zkv_op *op, zkv_op_effect *eff, const char *step)
{
    snprintf(op->step, sizeof(op->step), "%s", step);
    eff->write_op = true;
}

static void fail(zkv_op *op, zkv_op_effect *eff, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(zkv_op *op, zkv_op_effect *eff, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(op->error, sizeof(op->error), fmt,
              ap); // NOLINT(clang-analyzer-valist.Uninitialized): va_start above
    va_end(ap);
    go(op, eff, "failed");
    note(eff, "failed: %s", op->error);
}

static void finish(zkv_op_effect *eff, const char *what)
{
    eff->delete_op = true;
    note(eff, "done: %s", what);
}

/* Asks the owner of a to hand the range to node. */
static void ask_handoff(zkv_assignment *a, const char *node)
{
    if (strcmp(a->handoff, node) == 0)
        return;
    snprintf(a->handoff, sizeof(a->handoff), "%s", node);
    a->changed = true;
}

/* ---- move ---- */

static void move_step(zkv_op *op, zkv_op_world *w, zkv_op_effect *eff)
{
    int i = range_index(w, op->range);
    if (i < 0) {
        fail(op, eff, "no range %s", op->range);
        return;
    }
    zkv_assignment *a = &w->ranges[i];
    const char *t = op->node;
    if (strcmp(a->owner, t) == 0) {
        finish(eff, "the range has its new owner");
        return;
    }
    if (!in_ids(w->live, w->n_live, t)) {
        fail(op, eff, "node %s is not live", t);
        return;
    }
    if (in_ids(w->drained, w->n_drained, t)) {
        fail(op, eff, "node %s is drained", t);
        return;
    }
    bool owner_live = a->owner[0] && in_ids(w->live, w->n_live, a->owner);
    bool replica = in_list(a->replicas, a->n_replicas, t);
    bool synced = replica && in_list(a->in_sync, a->n_in_sync, t);

    if (strcmp(op->step, "start") == 0) {
        if (!owner_live)
            return; /* no owner to hand it over: wait for the failover */
        if (synced) {
            ask_handoff(a, t);
            go(op, eff, "handoff");
            note(eff, "%s is in_sync: asking %s to hand %s over", t, a->owner, op->range);
        } else if (replica) {
            go(op, eff, "catch_up");
            note(eff, "%s is a replica of %s: waiting until it is in_sync", t, op->range);
        } else {
            int r1 = w->replicas - 1;
            if (r1 < 1 || r1 >= ZKV_MAX_REPLICAS) {
                fail(op, eff, "replication factor %d leaves no room for a copy on %s", w->replicas,
                     t);
                return;
            }
            if (a->n_replicas > r1)
                return; /* a move of a replica is in progress: wait for it */
            snprintf(a->replicas[a->n_replicas++], ZKV_ID_MAX, "%s", t);
            a->changed = true;
            go(op, eff, "catch_up");
            note(eff, "%s added to %s as a replica; waiting until it is in_sync", t, op->range);
        }
        return;
    }
    if (strcmp(op->step, "catch_up") == 0) {
        if (!replica) { /* the extra was dropped meanwhile: add it again */
            if (++op->attempts >= ZKV_OP_MAX_ATTEMPTS) {
                fail(op, eff, "%s left the replicas of %s %d times", t, op->range, op->attempts);
                return;
            }
            go(op, eff, "start");
            return;
        }
        if (synced && owner_live) {
            ask_handoff(a, t);
            go(op, eff, "handoff");
            note(eff, "%s caught up: asking %s to hand %s over", t, a->owner, op->range);
        }
        return;
    }
    if (strcmp(op->step, "handoff") == 0) {
        if (!owner_live)
            return; /* the owner died: wait for the failover, then ask the new owner */
        if (strcmp(a->handoff, t) == 0)
            return; /* asked: the owner carries it out */
        if (++op->attempts >= ZKV_OP_MAX_ATTEMPTS) {
            fail(op, eff, "%s did not hand %s to %s (%d requests given up)", a->owner, op->range, t,
                 op->attempts);
            return;
        }
        go(op, eff, "catch_up"); /* asks again once the target is in_sync */
        note(eff, "the request to hand %s to %s was given up; trying again", op->range, t);
        return;
    }
    fail(op, eff, "unknown step '%s'", op->step);
}

/* ---- drain, undrain ---- */

static bool holds_anything(const zkv_op_world *w, const char *node)
{
    for (size_t i = 0; i < w->n_ranges; i++)
        if (strcmp(w->ranges[i].owner, node) == 0 ||
            in_list(w->ranges[i].replicas, w->ranges[i].n_replicas, node))
            return true;
    return false;
}

static void drain_step(zkv_op *op, zkv_op_world *w, zkv_op_effect *eff)
{
    if (strcmp(op->step, "start") == 0) {
        if (!in_ids(w->drained, w->n_drained, op->node))
            eff->drained = 1;
        go(op, eff, "moving");
        note(eff, "%s drained: moving everything off it", op->node);
        return;
    }
    if (strcmp(op->step, "moving") == 0) {
        if (!in_ids(w->drained, w->n_drained, op->node)) {
            fail(op, eff, "%s was undrained before it was empty", op->node);
            return;
        }
        if (!holds_anything(w, op->node))
            finish(eff, "the node holds nothing");
        return;
    }
    fail(op, eff, "unknown step '%s'", op->step);
}

static void undrain_step(zkv_op *op, zkv_op_world *w, zkv_op_effect *eff)
{
    if (strcmp(op->step, "start") != 0) {
        fail(op, eff, "unknown step '%s'", op->step);
        return;
    }
    if (in_ids(w->drained, w->n_drained, op->node))
        eff->drained = -1;
    finish(eff, "the node takes load again");
}

/* ---- set-replicas ---- */

static void set_replicas_step(zkv_op *op, zkv_op_world *w, zkv_op_effect *eff)
{
    if (strcmp(op->step, "start") == 0) {
        if (w->replicas != op->replicas)
            eff->set_replicas = op->replicas;
        go(op, eff, "converging");
        note(eff, "replication factor %d -> %d", w->replicas, op->replicas);
        return;
    }
    if (strcmp(op->step, "converging") != 0) {
        fail(op, eff, "unknown step '%s'", op->step);
        return;
    }
    if (w->replicas != op->replicas) {
        fail(op, eff, "the replication factor was changed to %d meanwhile", w->replicas);
        return;
    }
    int want = op->replicas - 1;
    if (want > (int)w->n_live - 1)
        want = (int)w->n_live - 1;
    if (want < 0)
        want = 0;
    for (size_t i = 0; i < w->n_ranges; i++) {
        const zkv_assignment *a = &w->ranges[i];
        if (a->n_replicas != want || a->n_in_sync != a->n_replicas)
            return;
    }
    finish(eff, "every range has its replicas in_sync");
}

void zkv_op_step(zkv_op *op, zkv_op_world *w, zkv_op_effect *eff)
{
    memset(eff, 0, sizeof(*eff));
    if (strcmp(op->step, "failed") == 0)
        return;
    switch (op->kind) {
    case ZKV_OP_MOVE:
        move_step(op, w, eff);
        break;
    case ZKV_OP_DRAIN:
        drain_step(op, w, eff);
        break;
    case ZKV_OP_UNDRAIN:
        undrain_step(op, w, eff);
        break;
    case ZKV_OP_SET_REPLICAS:
        set_replicas_step(op, w, eff);
        break;
    case ZKV_OP_NONE:
    default:
        fail(op, eff, "unknown operation kind");
        break;
    }
}
