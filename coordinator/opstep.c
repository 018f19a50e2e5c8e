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

/* ---- split ---- */

/* "r<N><letter>" for op-<N>, N without leading zeros. */
static void made_id(const char *op_id, char letter, char *out)
{
    const char *num = strncmp(op_id, "op-", 3) == 0 ? op_id + 3 : op_id;
    while (num[0] == '0' && num[1] >= '0' && num[1] <= '9')
        num++; /* op-0000000012 -> r12a */
    snprintf(out, ZKV_ID_MAX, "r%.*s%c", ZKV_ID_MAX - 3, num, letter);
}

void zkv_op_split_ids(const char *op_id, char (*ids)[ZKV_ID_MAX])
{
    made_id(op_id, 'a', ids[0]);
    made_id(op_id, 'b', ids[1]);
}

void zkv_op_merge_id(const char *op_id, char *id)
{
    made_id(op_id, 'm', id);
}

/* Asks the owner of a to split it into ids (at op's key, or its middle). */
static void ask_split(zkv_assignment *a, zkv_op *op, const char (*ids)[ZKV_ID_MAX])
{
    a->split_asked = true;
    memcpy(a->split_ids, ids, sizeof(a->split_ids));
    a->split_key = op->key_len ? op->key : NULL;
    a->split_key_len = op->key_len;
    a->changed = true;
}

static void split_step(zkv_op *op, zkv_op_world *w, zkv_op_effect *eff)
{
    char ids[2][ZKV_ID_MAX];
    zkv_op_split_ids(op->id, ids);
    int i = range_index(w, op->range);
    bool start = strcmp(op->step, "start") == 0;
    if (!start && strcmp(op->step, "splitting") != 0) {
        fail(op, eff, "unknown step '%s'", op->step);
        return;
    }
    if (i < 0) {
        if (!start && range_index(w, ids[0]) >= 0 && range_index(w, ids[1]) >= 0)
            finish(eff, "the range is split");
        else
            fail(op, eff, "no range %s", op->range);
        return;
    }
    zkv_assignment *a = &w->ranges[i];
    bool asked = a->split_asked && strcmp(a->split_ids[0], ids[0]) == 0 &&
                 strcmp(a->split_ids[1], ids[1]) == 0;
    if (!start && asked) {
        if (w->now_ms > op->updated_ms + ZKV_OP_SPLIT_WAIT_MS) {
            a->split_asked = false; /* the owner never answered: withdraw, then ask again */
            memset(a->split_ids, 0, sizeof(a->split_ids));
            a->split_key = NULL;
            a->split_key_len = 0;
            a->changed = true;
            op->attempts++;
            go(op, eff, "start");
            note(eff, "%s was not split within %d s; asking again", op->range,
                 ZKV_OP_SPLIT_WAIT_MS / 1000);
        }
        return;
    }
    if (!start && ++op->attempts >= ZKV_OP_MAX_ATTEMPTS) {
        fail(op, eff, "the owner of %s declined the split %d times (its log says why)", op->range,
             op->attempts);
        return;
    }
    if (op->attempts >= ZKV_OP_MAX_ATTEMPTS) {
        fail(op, eff, "%s was not split after %d requests", op->range, op->attempts);
        return;
    }
    if (!a->owner[0] || !in_ids(w->live, w->n_live, a->owner) || a->handoff[0] ||
        (a->split_asked && !asked))
        return; /* no owner (failover first), or a move or another split first */
    ask_split(a, op, (const char(*)[ZKV_ID_MAX])ids);
    go(op, eff, "splitting");
    note(eff, "asking %s to split %s into %s and %s", a->owner, op->range, ids[0], ids[1]);
}

/* ---- merge ---- */

static void set_merge(zkv_assignment *a, const char *with, const char *id)
{
    snprintf(a->merge_with, sizeof(a->merge_with), "%s", with);
    snprintf(a->merge_id, sizeof(a->merge_id), "%s", id);
    a->changed = true;
}

/* Brings the owner of r to node t (an in_sync replica of r, as a move does); true once t
 * owns r. */
static bool bring_owner(zkv_assignment *r, const char *t, int replicas)
{
    if (strcmp(r->owner, t) == 0)
        return true;
    if (r->handoff[0])
        return false; /* asked (or another move first) */
    if (in_list(r->in_sync, r->n_in_sync, t) && in_list(r->replicas, r->n_replicas, t)) {
        ask_handoff(r, t);
    } else if (!in_list(r->replicas, r->n_replicas, t) && r->n_replicas <= replicas - 1 &&
               r->n_replicas < ZKV_MAX_REPLICAS) {
        snprintf(r->replicas[r->n_replicas++], ZKV_ID_MAX, "%s", t); /* a copy first */
        r->changed = true;
    }
    return false;
}

static void merge_step(zkv_op *op, zkv_op_world *w, zkv_op_effect *eff)
{
    char mid[ZKV_ID_MAX];
    zkv_op_merge_id(op->id, mid);
    int i = range_index(w, op->range);
    bool start = strcmp(op->step, "start") == 0;
    bool colocate = strcmp(op->step, "colocate") == 0;
    if (!start && !colocate && strcmp(op->step, "merging") != 0) {
        fail(op, eff, "unknown step '%s'", op->step);
        return;
    }
    if (i < 0) {
        if (!start && range_index(w, mid) >= 0)
            finish(eff, "the ranges are merged");
        else
            fail(op, eff, "no range %s", op->range);
        return;
    }
    if ((size_t)i + 1 >= w->n_ranges) {
        fail(op, eff, "%s is the last range: it has no right neighbour", op->range);
        return;
    }
    zkv_assignment *l = &w->ranges[i], *r = &w->ranges[i + 1];
    const char *rid = w->range_ids[i + 1];
    bool asked = strcmp(l->merge_with, rid) == 0 && strcmp(l->merge_id, mid) == 0;
    if (start) { /* and on to colocate in the same pass */
        go(op, eff, "colocate");
        note(eff, "merging %s with %s into %s: %s owns both first", op->range, rid, mid, l->owner);
        colocate = true;
    } else if (w->now_ms > op->updated_ms + ZKV_OP_SPLIT_WAIT_MS) { /* stuck: withdraw, try again */
        if (asked)
            set_merge(l, "", "");
        if (++op->attempts >= ZKV_OP_MAX_ATTEMPTS) {
            fail(op, eff, "%s and %s were not merged after %d tries", op->range, rid, op->attempts);
            return;
        }
        go(op, eff, "colocate");
        note(eff, "%s and %s not merged within %d s; trying again", op->range, rid,
             ZKV_OP_SPLIT_WAIT_MS / 1000);
        return;
    }
    bool live = l->owner[0] && in_ids(w->live, w->n_live, l->owner) && r->owner[0] &&
                in_ids(w->live, w->n_live, r->owner);
    if (colocate) {
        if (!live || l->handoff[0] || zkv_assignment_reshaping(w->ranges, (size_t)i) ||
            zkv_assignment_reshaping(w->ranges, (size_t)i + 1))
            return; /* a failover, a move, a split or another merge first */
        if (!bring_owner(r, l->owner, w->replicas))
            return;
        set_merge(l, rid, mid);
        go(op, eff, "merging");
        note(eff, "asking %s to merge %s with %s into %s", l->owner, op->range, rid, mid);
        return;
    }
    /* merging */
    if (asked && strcmp(l->owner, r->owner) == 0)
        return; /* the owner carries it out */
    if (asked)
        set_merge(l, "", ""); /* the neighbour changed hands: bring it back first */
    else if (++op->attempts >= ZKV_OP_MAX_ATTEMPTS) {
        fail(op, eff, "the owner of %s declined the merge %d times (its log says why)", op->range,
             op->attempts);
        return;
    }
    go(op, eff, "colocate");
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
    case ZKV_OP_SPLIT:
        split_step(op, w, eff);
        break;
    case ZKV_OP_MERGE:
        merge_step(op, w, eff);
        break;
    case ZKV_OP_NONE:
    default:
        fail(op, eff, "unknown operation kind");
        break;
    }
}
