/* test_coordinator_opstep.c: the operators' operations as a state machine
 * (coordinator/opstep.c) in a simulated cluster (placement_sim.h). Each leader pass runs
 * the placement, then one step of every operation over its output, and "writes" both at
 * once, the operation going through its JSON (what ZooKeeper would keep); then the nodes
 * act. A leader crash is a pass whose write never lands: nothing of it survives.
 * - move to an in_sync replica, to a node with no copy (an extra replica first), with
 *   every step recorded in order; the same with a crash before any write, at random, over
 *   many seeds: the same end state every time;
 * - move failures: target dies while catching up, a handoff the owner never carries out
 *   (withdrawn three times), target drained, no such range, replication factor 1; and an
 *   owner that dies during the handoff, after which the move asks the new owner;
 * - drain (drained/ marker, then everything moves off), undrain, set-replicas 3 -> 2 -> 3;
 * - split: the ids it makes, each step on a hand-made world (ask the live owner, wait for a
 *   failover or a move, renew a request left unanswered, ask again after a decline, fail
 *   after ZKV_OP_MAX_ATTEMPTS, finish when both ranges replace the parent), and a split
 *   through the simulated cluster;
 * - merge: the id it makes, each step on a hand-made world (start on to colocate in the
 *   same pass, bring the right neighbour's owner over by a handoff or an extra replica
 *   first, wait for a move or a failover, ask the owner, a declined request, a neighbour
 *   that changed hands, a request stuck past ZKV_OP_SPLIT_WAIT_MS, fail after
 *   ZKV_OP_MAX_ATTEMPTS, the last range, finish when the merged range is there), and a
 *   merge through the simulated cluster. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opstep.h"
#include "placement_sim.h"

#define MAX_OPS 4

typedef struct sim {
    sim_world w;
    const char *ids[SIM_MAXR];
    char id_buf[SIM_MAXR][32];
    zkv_op ops[MAX_OPS];
    bool gone[MAX_OPS]; /* finished: its znode deleted */
    int n_ops;
    bool nodes_act;         /* owners carry out handoff requests, replicas catch up */
    bool refuse;            /* owners never carry out handoff requests */
    char log[MAX_OPS][256]; /* the steps each operation went through */
    char drained_names[8][ZKV_ID_MAX];
} sim;

static void sim_init(sim *s, size_t n_ranges, const char *owner, const char *const *reps,
                     int n_reps, const char *const *live, size_t n_live, int replicas)
{
    memset(s, 0, sizeof(*s));
    s->w.n = n_ranges;
    s->w.replicas = replicas;
    for (size_t i = 0; i < n_live; i++)
        s->w.live[i] = live[i];
    s->w.n_live = n_live;
    for (size_t i = 0; i < n_ranges; i++) {
        zkv_assignment *a = &s->w.r[i];
        snprintf(a->owner, ZKV_ID_MAX, "%s", owner);
        for (int j = 0; j < n_reps; j++) {
            snprintf(a->replicas[j], ZKV_ID_MAX, "%s", reps[j]);
            snprintf(a->in_sync[j], ZKV_ID_MAX, "%s", reps[j]);
        }
        a->n_replicas = a->n_in_sync = n_reps;
        a->epoch = 1;
        snprintf(s->id_buf[i], sizeof(s->id_buf[i]), "r%04zu", i);
        s->ids[i] = s->id_buf[i];
    }
    s->nodes_act = true;
}

static int add_op(sim *s, zkv_op_kind kind, const char *range, const char *node, int replicas)
{
    zkv_op *op = &s->ops[s->n_ops];
    memset(op, 0, sizeof(*op));
    op->kind = kind;
    snprintf(op->range, sizeof(op->range), "%s", range ? range : "");
    snprintf(op->node, sizeof(op->node), "%s", node ? node : "");
    op->replicas = replicas;
    snprintf(op->step, sizeof(op->step), "start");
    snprintf(op->id, sizeof(op->id), "op-%010d", s->n_ops);
    snprintf(s->log[s->n_ops], sizeof(s->log[0]), "start");
    return s->n_ops++;
}

/* The operation as ZooKeeper would give it back. */
static void roundtrip(zkv_op *op)
{
    char id[ZKV_ID_MAX];
    memcpy(id, op->id, sizeof(id));
    char *json = zkv_op_to_json(op);
    CU_ASSERT_FATAL(json != NULL);
    if (!json)
        return; /* (CU_ASSERT_FATAL has returned already; for the analysers) */
    char err[256];
    zkv_op back;
    CU_ASSERT_FATAL(zkv_op_from_json(json, strlen(json), &back, err, sizeof(err)) == 0);
    free(json);
    *op = back;
    memcpy(op->id, id, sizeof(id));
}

static void drained_set(sim *s, const char *node, bool on)
{
    size_t w = 0;
    for (size_t i = 0; i < s->w.n_excluded; i++)
        if (strcmp(s->w.excluded[i], node) != 0)
            s->w.excluded[w++] = s->w.excluded[i];
    s->w.n_excluded = w;
    if (on) {
        snprintf(s->drained_names[w], ZKV_ID_MAX, "%s", node);
        s->w.excluded[s->w.n_excluded++] = s->drained_names[w];
    }
    for (size_t i = 0; i < s->w.n_excluded; i++) /* names may have moved */
        if (s->w.excluded[i] != s->drained_names[i]) {
            snprintf(s->drained_names[i], ZKV_ID_MAX, "%s", s->w.excluded[i]);
            s->w.excluded[i] = s->drained_names[i];
        }
}

/* One leader pass; crash: it dies before its write lands. stale: the handoff requests are
 * withdrawn as too old. Returns whether anything was written. */
static bool leader_pass(sim *s, bool crash, bool stale)
{
    static zkv_assignment out[SIM_MAXR];
    bool stale_v[SIM_MAXR];
    for (size_t i = 0; i < s->w.n; i++)
        stale_v[i] = stale;
    CU_ASSERT_FATAL(sim_place(&s->w, out, stale_v) == 0);
    zkv_op_world ow = {.ranges = out,
                       .range_ids = s->ids,
                       .n_ranges = s->w.n,
                       .live = s->w.live,
                       .n_live = s->w.n_live,
                       .drained = s->w.excluded,
                       .n_drained = s->w.n_excluded,
                       .replicas = s->w.replicas};
    zkv_op next[MAX_OPS];
    zkv_op_effect eff[MAX_OPS];
    memset(eff, 0, sizeof(eff));
    bool wrote = false;
    for (int k = 0; k < s->n_ops; k++) {
        next[k] = s->ops[k];
        memset(&eff[k], 0, sizeof(eff[k]));
        if (!s->gone[k])
            zkv_op_step(&next[k], &ow, &eff[k]);
    }
    if (crash)
        return false;
    for (size_t i = 0; i < s->w.n; i++) {
        wrote |= out[i].changed || !zkv_assignment_equal(&out[i], &s->w.r[i]);
        s->w.r[i] = out[i];
        s->w.r[i].changed = false;
    }
    for (int k = 0; k < s->n_ops; k++) {
        if (s->gone[k])
            continue;
        if (eff[k].delete_op) {
            s->gone[k] = true;
            size_t l = strlen(s->log[k]);
            snprintf(s->log[k] + l, sizeof(s->log[0]) - l, " done");
        } else if (eff[k].write_op) {
            if (strcmp(next[k].step, s->ops[k].step) != 0) {
                size_t l = strlen(s->log[k]);
                snprintf(s->log[k] + l, sizeof(s->log[0]) - l, " %s", next[k].step);
            }
            s->ops[k] = next[k];
            roundtrip(&s->ops[k]);
        }
        if (eff[k].drained)
            drained_set(s, s->ops[k].node, eff[k].drained > 0);
        if (eff[k].set_replicas > 0)
            s->w.replicas = eff[k].set_replicas;
        wrote |= eff[k].delete_op || eff[k].write_op || eff[k].drained || eff[k].set_replicas;
    }
    return wrote;
}

/* Leader passes and node answers until every operation ended or 300 passes went by;
 * crash_rate: the share of passes that die before writing (0..1000 per mille). */
static void run(sim *s, int crash_per_mille, unsigned seed, bool stale)
{
    srand(seed);
    for (int pass = 0; pass < 300; pass++) {
        bool crash = rand() % 1000 < crash_per_mille;
        leader_pass(s, crash, stale);
        if (s->nodes_act && !s->refuse)
            sim_nodes_act(&s->w);
        else if (s->nodes_act) { /* replicas catch up, handoffs are not carried out */
            char keep[SIM_MAXR][ZKV_ID_MAX];
            for (size_t i = 0; i < s->w.n; i++) {
                memcpy(keep[i], s->w.r[i].handoff, ZKV_ID_MAX);
                memset(s->w.r[i].handoff, 0, ZKV_ID_MAX);
            }
            sim_nodes_act(&s->w);
            for (size_t i = 0; i < s->w.n; i++)
                memcpy(s->w.r[i].handoff, keep[i], ZKV_ID_MAX);
        }
        bool open = false;
        for (int k = 0; k < s->n_ops; k++)
            open |= !s->gone[k] && strcmp(s->ops[k].step, "failed") != 0;
        if (!open)
            return;
    }
}

static const char *LIVE3[] = {"a", "b", "c"};
static const char *LIVE4[] = {"a", "b", "c", "d"};
static const char *BC[] = {"b", "c"};

static void test_move_to_in_sync_replica(void)
{
    sim s;
    sim_init(&s, 2, "a", BC, 2, LIVE3, 3, 3);
    int k = add_op(&s, ZKV_OP_MOVE, "r0001", "c", 0);
    run(&s, 0, 1, false);
    CU_ASSERT(s.gone[k]);
    CU_ASSERT_STRING_EQUAL(s.log[k], "start handoff done");
    CU_ASSERT_STRING_EQUAL(s.w.r[1].owner, "c");
    CU_ASSERT_EQUAL(s.w.r[1].epoch, 2);
    CU_ASSERT_STRING_EQUAL(s.w.r[0].owner, "a"); /* the other range did not move */
}

static void test_move_to_a_new_node(void)
{
    sim s;
    sim_init(&s, 2, "a", BC, 2, LIVE4, 4, 3);
    int k = add_op(&s, ZKV_OP_MOVE, "r0000", "d", 0);
    run(&s, 0, 1, false);
    CU_ASSERT(s.gone[k]);
    CU_ASSERT_STRING_EQUAL(s.log[k], "start catch_up handoff done");
    CU_ASSERT_STRING_EQUAL(s.w.r[0].owner, "d");
    CU_ASSERT_EQUAL(s.w.r[0].n_replicas, 2); /* back to R-1 copies besides the owner */
    CU_ASSERT_EQUAL(s.w.r[0].n_in_sync, 2);
}

/* With crashes at random points, every seed ends where the crash-free run did. */
static void test_move_survives_leader_crashes(void)
{
    for (unsigned seed = 1; seed <= 200; seed++) {
        sim s;
        sim_init(&s, 3, "a", BC, 2, LIVE4, 4, 3);
        int k = add_op(&s, ZKV_OP_MOVE, "r0002", "d", 0);
        int k2 = add_op(&s, ZKV_OP_MOVE, "r0000", "b", 0);
        run(&s, 400, seed, false);
        CU_ASSERT(s.gone[k] && s.gone[k2]);
        CU_ASSERT_STRING_EQUAL(s.w.r[2].owner, "d");
        CU_ASSERT_STRING_EQUAL(s.w.r[0].owner, "b");
        for (size_t i = 0; i < s.w.n; i++) {
            CU_ASSERT(s.w.r[i].n_replicas == 2 && s.w.r[i].n_in_sync == 2);
            CU_ASSERT(s.w.r[i].handoff[0] == '\0');
        }
        if (!s.gone[k] || !s.gone[k2]) {
            fprintf(stderr, "seed %u: %s / %s\n", seed, s.log[k], s.log[k2]);
            break;
        }
    }
}

static void test_move_failures(void)
{
    /* the target dies while it catches up: failed; the placement drops the extra */
    sim s;
    sim_init(&s, 1, "a", BC, 2, LIVE4, 4, 3);
    int k = add_op(&s, ZKV_OP_MOVE, "r0000", "d", 0);
    s.nodes_act = false; /* d never catches up */
    leader_pass(&s, false, false);
    CU_ASSERT_STRING_EQUAL(s.ops[k].step, "catch_up");
    s.w.n_live = 3; /* d is gone */
    leader_pass(&s, false, false);
    CU_ASSERT_STRING_EQUAL(s.ops[k].step, "failed");
    CU_ASSERT(strstr(s.ops[k].error, "not live") != NULL);
    leader_pass(&s, false, false);
    CU_ASSERT_EQUAL(s.w.r[0].n_replicas, 2);

    /* the owner dies during the handoff: a failover promotes b, then b is asked */
    sim_init(&s, 1, "a", BC, 2, LIVE3, 3, 3);
    k = add_op(&s, ZKV_OP_MOVE, "r0000", "c", 0);
    s.nodes_act = false;
    leader_pass(&s, false, false);
    CU_ASSERT_STRING_EQUAL(s.ops[k].step, "handoff");
    s.w.live[0] = "c";
    s.w.n_live = 2; /* b, c: a is gone */
    s.nodes_act = true;
    run(&s, 0, 1, false);
    CU_ASSERT(s.gone[k]);
    CU_ASSERT_STRING_EQUAL(s.w.r[0].owner, "c");

    /* the owner never carries the request out: withdrawn as stale three times */
    sim_init(&s, 1, "a", BC, 2, LIVE3, 3, 3);
    k = add_op(&s, ZKV_OP_MOVE, "r0000", "b", 0);
    s.refuse = true;
    run(&s, 0, 1, true);
    CU_ASSERT_STRING_EQUAL(s.ops[k].step, "failed");
    CU_ASSERT_EQUAL(s.ops[k].attempts, ZKV_OP_MAX_ATTEMPTS);
    CU_ASSERT_STRING_EQUAL(s.w.r[0].owner, "a");

    /* a drained target, no such range, R = 1 and no copy on the target */
    sim_init(&s, 1, "a", BC, 2, LIVE4, 4, 3);
    drained_set(&s, "d", true);
    k = add_op(&s, ZKV_OP_MOVE, "r0000", "d", 0);
    int k2 = add_op(&s, ZKV_OP_MOVE, "r0009", "b", 0);
    leader_pass(&s, false, false);
    CU_ASSERT(strstr(s.ops[k].error, "drained") != NULL);
    CU_ASSERT(strstr(s.ops[k2].error, "no range") != NULL);
    sim_init(&s, 1, "a", NULL, 0, LIVE3, 3, 1);
    k = add_op(&s, ZKV_OP_MOVE, "r0000", "b", 0);
    leader_pass(&s, false, false);
    CU_ASSERT(strstr(s.ops[k].error, "replication factor 1") != NULL);
}

static int holds(const sim *s, const char *node)
{
    int n = 0;
    for (size_t i = 0; i < s->w.n; i++)
        n += (strcmp(s->w.r[i].owner, node) == 0) +
             sim_in_list((const char(*)[ZKV_ID_MAX])s->w.r[i].replicas, s->w.r[i].n_replicas, node);
    return n;
}

static void test_drain_undrain(void)
{
    for (unsigned seed = 1; seed <= 50; seed++) {
        sim s;
        sim_init(&s, 6, "a", BC, 2, LIVE4, 4, 3);
        int k = add_op(&s, ZKV_OP_DRAIN, NULL, "b", 0);
        run(&s, seed == 1 ? 0 : 300, seed, false);
        CU_ASSERT(s.gone[k]);
        CU_ASSERT_EQUAL(holds(&s, "b"), 0);
        CU_ASSERT(s.w.n_excluded == 1 && strcmp(s.w.excluded[0], "b") == 0);
        if (seed == 1)
            CU_ASSERT_STRING_EQUAL(s.log[k], "start moving done");
        int u = add_op(&s, ZKV_OP_UNDRAIN, NULL, "b", 0);
        run(&s, 0, seed, false);
        CU_ASSERT(s.gone[u]);
        CU_ASSERT_EQUAL(s.w.n_excluded, 0);
    }
}

static void test_set_replicas(void)
{
    sim s;
    sim_init(&s, 4, "a", BC, 2, LIVE3, 3, 3);
    int k = add_op(&s, ZKV_OP_SET_REPLICAS, NULL, NULL, 2);
    run(&s, 0, 1, false);
    CU_ASSERT(s.gone[k]);
    CU_ASSERT_STRING_EQUAL(s.log[k], "start converging done");
    CU_ASSERT_EQUAL(s.w.replicas, 2);
    for (size_t i = 0; i < s.w.n; i++)
        CU_ASSERT(s.w.r[i].n_replicas == 1 && s.w.r[i].n_in_sync == 1);
    k = add_op(&s, ZKV_OP_SET_REPLICAS, NULL, NULL, 3);
    run(&s, 300, 7, false);
    CU_ASSERT(s.gone[k]);
    CU_ASSERT_EQUAL(s.w.replicas, 3);
    for (size_t i = 0; i < s.w.n; i++)
        CU_ASSERT(s.w.r[i].n_replicas == 2 && s.w.r[i].n_in_sync == 2);
}

static void test_json(void)
{
    zkv_op op = {.kind = ZKV_OP_SET_REPLICAS, .replicas = 2, .attempts = 1, .updated_ms = 5};
    snprintf(op.step, sizeof(op.step), "converging");
    char *json = zkv_op_to_json(&op);
    CU_ASSERT_FATAL(json != NULL);
    if (!json)
        return; /* (CU_ASSERT_FATAL has returned already; for the analysers) */
    CU_ASSERT(strstr(json, "\"kind\":\"set-replicas\"") && strstr(json, "\"replicas\":2"));
    free(json);
    char err[256];
    zkv_op back;
    const char *bad[] = {
        "{\"kind\":\"move\",\"args\":{\"range\":\"r1\"},\"step\":\"start\"}",
        "{\"kind\":\"fly\",\"args\":{},\"step\":\"start\"}",
        "{\"kind\":\"set-replicas\",\"args\":{\"replicas\":99},\"step\":\"start\"}",
        "{\"kind\":\"drain\",\"args\":[],\"step\":\"start\"}", "nope"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CU_ASSERT(zkv_op_from_json(bad[i], strlen(bad[i]), &back, err, sizeof(err)) != 0);
    const char *good = "{\"kind\":\"drain\",\"args\":{\"node\":\"node-3\"},\"step\":\"moving\"}";
    CU_ASSERT(zkv_op_from_json(good, strlen(good), &back, err, sizeof(err)) == 0);
    CU_ASSERT(back.kind == ZKV_OP_DRAIN && strcmp(back.node, "node-3") == 0);
}

/* ---- split ---- */

static void test_split_ids(void)
{
    char ids[2][ZKV_ID_MAX];
    memset(ids, 'x', sizeof(ids));
    zkv_op_split_ids("op-0000000012", ids);
    CU_ASSERT_STRING_EQUAL(ids[0], "r12a");
    CU_ASSERT_STRING_EQUAL(ids[1], "r12b");
    zkv_op_split_ids("op-0000000000", ids);
    CU_ASSERT_STRING_EQUAL(ids[0], "r0a");
    CU_ASSERT_STRING_EQUAL(ids[1], "r0b");
    zkv_op_split_ids("op-0000000100", ids);
    CU_ASSERT_STRING_EQUAL(ids[0], "r100a");
    CU_ASSERT_STRING_EQUAL(ids[1], "r100b");
    zkv_op_split_ids("op-2147483647", ids);
    CU_ASSERT_STRING_EQUAL(ids[0], "r2147483647a");
    CU_ASSERT_STRING_EQUAL(ids[1], "r2147483647b");
    /* the ids are valid range ids, unlike the first ranges' r0000... */
    CU_ASSERT_TRUE(zkv_id_valid(ids[0]));
    zkv_op_split_ids("op-0000000007", ids);
    CU_ASSERT_STRING_EQUAL(ids[0], "r7a");
}

/* Two ranges r0000 and r0001, owned by a with replicas b and c, all live; a split of r0001
 * at "m\0" asked by op-0000000012, recorded at updated_ms 1000. */
typedef struct split_world {
    zkv_assignment a[4];
    const char *ids[4];
    const char *live[3];
    zkv_op_world w;
    zkv_op op;
    zkv_op_effect eff;
} split_world;

static void split_init(split_world *sw)
{
    memset(sw, 0, sizeof(*sw));
    static const char *const names[] = {"r0000", "r0001", "r12a", "r12b"};
    for (int i = 0; i < 4; i++) {
        zkv_assignment *a = &sw->a[i];
        strcpy(a->owner, "a");
        strcpy(a->replicas[0], "b");
        strcpy(a->replicas[1], "c");
        strcpy(a->in_sync[0], "b");
        strcpy(a->in_sync[1], "c");
        a->n_replicas = a->n_in_sync = 2;
        a->epoch = 3;
        sw->ids[i] = names[i];
    }
    sw->live[0] = "a";
    sw->live[1] = "b";
    sw->live[2] = "c";
    sw->w.ranges = sw->a;
    sw->w.range_ids = sw->ids;
    sw->w.n_ranges = 2;
    sw->w.live = sw->live;
    sw->w.n_live = 3;
    sw->w.replicas = 3;
    sw->w.now_ms = 2000;
    zkv_op *op = &sw->op;
    strcpy(op->id, "op-0000000012");
    op->kind = ZKV_OP_SPLIT;
    strcpy(op->range, "r0001");
    memcpy(op->key, "m\x00", 2);
    op->key_len = 2;
    strcpy(op->step, "start");
    op->updated_ms = 1000;
}

static void split_pass(split_world *sw)
{
    memset(&sw->eff, 0, sizeof(sw->eff));
    for (size_t i = 0; i < 4; i++)
        sw->a[i].changed = false;
    zkv_op_step(&sw->op, &sw->w, &sw->eff);
}

/* Nothing happened: no write, no change to any range. */
static void expect_split_waits(split_world *sw, const char *step, int attempts)
{
    CU_ASSERT_FALSE(sw->eff.write_op);
    CU_ASSERT_FALSE(sw->eff.delete_op);
    CU_ASSERT_EQUAL(sw->eff.drained, 0);
    CU_ASSERT_EQUAL(sw->eff.set_replicas, 0);
    CU_ASSERT_STRING_EQUAL(sw->op.step, step);
    CU_ASSERT_EQUAL(sw->op.attempts, attempts);
    for (size_t i = 0; i < sw->w.n_ranges; i++)
        CU_ASSERT_FALSE(sw->a[i].changed);
}

/* r0001 asked to split into r12a and r12b at the operation's key. */
static void expect_asked(split_world *sw)
{
    zkv_assignment *a = &sw->a[1];
    CU_ASSERT_TRUE(a->changed);
    CU_ASSERT_TRUE(a->split_asked);
    CU_ASSERT_STRING_EQUAL(a->split_ids[0], "r12a");
    CU_ASSERT_STRING_EQUAL(a->split_ids[1], "r12b");
    CU_ASSERT_EQUAL(a->split_key_len, sw->op.key_len);
    if (sw->op.key_len) {
        CU_ASSERT_PTR_NOT_NULL_FATAL(a->split_key);
        CU_ASSERT(a->split_key && memcmp(a->split_key, sw->op.key, sw->op.key_len) == 0);
    } else {
        CU_ASSERT_PTR_NULL(a->split_key);
    }
    /* nothing else of the range changes, and the other range is left alone */
    CU_ASSERT_STRING_EQUAL(a->owner, "a");
    CU_ASSERT_EQUAL(a->epoch, 3);
    CU_ASSERT_STRING_EQUAL(a->handoff, "");
    CU_ASSERT_FALSE(sw->a[0].changed);
    CU_ASSERT_FALSE(sw->a[0].split_asked);
    CU_ASSERT_STRING_EQUAL(sw->op.step, "splitting");
    CU_ASSERT_TRUE(sw->eff.write_op);
    CU_ASSERT_FALSE(sw->eff.delete_op);
    CU_ASSERT_STRING_EQUAL(sw->op.error, "");
}

static void test_split_start(void)
{
    split_world sw;
    split_init(&sw);
    split_pass(&sw);
    expect_asked(&sw);
    CU_ASSERT_EQUAL(sw.op.attempts, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(sw.eff.note, "r12a"));
    /* without a key: the owner picks the middle */
    split_init(&sw);
    sw.op.key_len = 0;
    split_pass(&sw);
    expect_asked(&sw);

    /* the owner is not live: wait for the failover */
    split_init(&sw);
    sw.w.n_live = 2;
    sw.live[0] = "c"; /* b, c */
    split_pass(&sw);
    expect_split_waits(&sw, "start", 0);
    CU_ASSERT_FALSE(sw.a[1].split_asked);
    /* no owner at all */
    split_init(&sw);
    sw.a[1].owner[0] = '\0';
    split_pass(&sw);
    expect_split_waits(&sw, "start", 0);
    CU_ASSERT_FALSE(sw.a[1].split_asked);
    /* a move of the range first */
    split_init(&sw);
    strcpy(sw.a[1].handoff, "b");
    split_pass(&sw);
    expect_split_waits(&sw, "start", 0);
    CU_ASSERT_FALSE(sw.a[1].split_asked);
    CU_ASSERT_STRING_EQUAL(sw.a[1].handoff, "b");
    /* another operation's split first */
    split_init(&sw);
    sw.a[1].split_asked = true;
    strcpy(sw.a[1].split_ids[0], "r9a");
    strcpy(sw.a[1].split_ids[1], "r9b");
    split_pass(&sw);
    expect_split_waits(&sw, "start", 0);
    CU_ASSERT_STRING_EQUAL(sw.a[1].split_ids[0], "r9a");
    /* then the move is over: asked */
    strcpy(sw.a[1].handoff, "");
    sw.a[1].split_asked = false;
    split_pass(&sw);
    expect_asked(&sw);
    /* no such range */
    split_init(&sw);
    strcpy(sw.op.range, "r0042");
    split_pass(&sw);
    CU_ASSERT_STRING_EQUAL(sw.op.step, "failed");
    CU_ASSERT_PTR_NOT_NULL(strstr(sw.op.error, "no range r0042"));
    CU_ASSERT_TRUE(sw.eff.write_op);
    CU_ASSERT_FALSE(sw.eff.delete_op);
    /* at start, a parent gone with both children there is not this operation's doing */
    split_init(&sw);
    sw.ids[1] = "r12b"; /* r0000, r12b, r12a */
    sw.ids[2] = "r12a";
    sw.w.n_ranges = 3;
    split_pass(&sw);
    CU_ASSERT_STRING_EQUAL(sw.op.step, "failed");
    CU_ASSERT_FALSE(sw.eff.delete_op);
    /* an unknown step */
    split_init(&sw);
    strcpy(sw.op.step, "bogus");
    split_pass(&sw);
    CU_ASSERT_STRING_EQUAL(sw.op.step, "failed");
    CU_ASSERT_PTR_NOT_NULL(strstr(sw.op.error, "bogus"));
    CU_ASSERT_FALSE(sw.a[1].split_asked);
}

static void test_split_waiting(void)
{
    split_world sw;
    split_init(&sw);
    split_pass(&sw); /* asked at 1000 */
    expect_asked(&sw);
    /* the owner has not answered yet, up to ZKV_OP_SPLIT_WAIT_MS after the request */
    sw.w.now_ms = 1001;
    split_pass(&sw);
    expect_split_waits(&sw, "splitting", 0);
    CU_ASSERT_TRUE(sw.a[1].split_asked);
    sw.w.now_ms = 1000 + ZKV_OP_SPLIT_WAIT_MS;
    split_pass(&sw);
    expect_split_waits(&sw, "splitting", 0);
    CU_ASSERT_TRUE(sw.a[1].split_asked);
    /* the owner died meanwhile: still waiting (the request stays in the range) */
    sw.w.n_live = 2;
    sw.live[0] = "c";
    split_pass(&sw);
    expect_split_waits(&sw, "splitting", 0);
    sw.w.n_live = 3;
    sw.live[0] = "a";
    /* then it is withdrawn, and asked again from start */
    sw.w.now_ms = 1000 + ZKV_OP_SPLIT_WAIT_MS + 1;
    split_pass(&sw);
    CU_ASSERT_TRUE(sw.a[1].changed);
    CU_ASSERT_FALSE(sw.a[1].split_asked);
    CU_ASSERT_STRING_EQUAL(sw.a[1].split_ids[0], "");
    CU_ASSERT_STRING_EQUAL(sw.a[1].split_ids[1], "");
    CU_ASSERT_PTR_NULL(sw.a[1].split_key);
    CU_ASSERT_EQUAL(sw.a[1].split_key_len, 0);
    CU_ASSERT_EQUAL(sw.op.attempts, 1);
    CU_ASSERT_STRING_EQUAL(sw.op.step, "start");
    CU_ASSERT_TRUE(sw.eff.write_op);
    CU_ASSERT_FALSE(sw.eff.delete_op);
    CU_ASSERT_PTR_NOT_NULL(strstr(sw.eff.note, "asking again"));
    sw.op.updated_ms = sw.w.now_ms; /* what the leader writes */
    split_pass(&sw);
    expect_asked(&sw);
    CU_ASSERT_EQUAL(sw.op.attempts, 1);
    /* left unanswered twice more: the third withdrawal fails the operation */
    for (int k = 2; k <= ZKV_OP_MAX_ATTEMPTS; k++) {
        sw.w.now_ms = sw.op.updated_ms + ZKV_OP_SPLIT_WAIT_MS + 1;
        split_pass(&sw);
        CU_ASSERT_STRING_EQUAL(sw.op.step, "start");
        CU_ASSERT_EQUAL(sw.op.attempts, k);
        CU_ASSERT_FALSE(sw.a[1].split_asked);
        sw.op.updated_ms = sw.w.now_ms;
        split_pass(&sw);
        if (k < ZKV_OP_MAX_ATTEMPTS) {
            expect_asked(&sw);
        } else {
            CU_ASSERT_STRING_EQUAL(sw.op.step, "failed");
            CU_ASSERT_PTR_NOT_NULL(strstr(sw.op.error, "not split after 3 requests"));
            CU_ASSERT_FALSE(sw.a[1].split_asked);
            CU_ASSERT_FALSE(sw.a[1].changed);
        }
    }
}

static void test_split_declined(void)
{
    split_world sw;
    split_init(&sw);
    split_pass(&sw);
    expect_asked(&sw);
    /* the owner declines: it removes the request from the range */
    for (int k = 1; k < ZKV_OP_MAX_ATTEMPTS; k++) {
        sw.a[1].split_asked = false;
        memset(sw.a[1].split_ids, 0, sizeof(sw.a[1].split_ids));
        sw.a[1].split_key = NULL;
        sw.a[1].split_key_len = 0;
        split_pass(&sw);
        expect_asked(&sw);
        CU_ASSERT_EQUAL(sw.op.attempts, k);
    }
    sw.a[1].split_asked = false;
    memset(sw.a[1].split_ids, 0, sizeof(sw.a[1].split_ids));
    split_pass(&sw);
    CU_ASSERT_STRING_EQUAL(sw.op.step, "failed");
    CU_ASSERT_EQUAL(sw.op.attempts, ZKV_OP_MAX_ATTEMPTS);
    CU_ASSERT_PTR_NOT_NULL(strstr(sw.op.error, "declined the split 3 times"));
    CU_ASSERT_FALSE(sw.a[1].split_asked);
    CU_ASSERT_TRUE(sw.eff.write_op);
    /* a request replaced by another operation's split: wait for that one */
    split_init(&sw);
    strcpy(sw.op.step, "splitting");
    sw.a[1].split_asked = true;
    strcpy(sw.a[1].split_ids[0], "r9a");
    strcpy(sw.a[1].split_ids[1], "r9b");
    split_pass(&sw);
    CU_ASSERT_FALSE(sw.eff.write_op);
    CU_ASSERT_FALSE(sw.eff.delete_op);
    CU_ASSERT_FALSE(sw.a[1].changed);
    CU_ASSERT_STRING_EQUAL(sw.a[1].split_ids[0], "r9a"); /* not taken over */
}

static void test_split_done(void)
{
    split_world sw;
    split_init(&sw);
    split_pass(&sw);
    expect_asked(&sw);
    /* the owner split r0001: r0000, r12a, r12b */
    sw.ids[1] = "r12a";
    sw.ids[2] = "r12b";
    sw.a[1].split_asked = false;
    sw.w.n_ranges = 3;
    split_pass(&sw);
    CU_ASSERT_TRUE(sw.eff.delete_op);
    CU_ASSERT_FALSE(sw.eff.write_op);
    CU_ASSERT_STRING_EQUAL(sw.op.step, "splitting");
    CU_ASSERT_EQUAL(sw.op.attempts, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(sw.eff.note, "done"));
    for (size_t i = 0; i < 3; i++)
        CU_ASSERT_FALSE(sw.a[i].changed);
    /* the parent gone, one child missing: the range went some other way */
    sw.w.n_ranges = 2; /* r0000, r12a */
    split_pass(&sw);
    CU_ASSERT_FALSE(sw.eff.delete_op);
    CU_ASSERT_STRING_EQUAL(sw.op.step, "failed");
    CU_ASSERT_PTR_NOT_NULL(strstr(sw.op.error, "no range r0001"));
    /* the parent gone, neither child there */
    split_init(&sw);
    strcpy(sw.op.step, "splitting");
    sw.w.n_ranges = 1; /* r0000 */
    split_pass(&sw);
    CU_ASSERT_FALSE(sw.eff.delete_op);
    CU_ASSERT_STRING_EQUAL(sw.op.step, "failed");
    CU_ASSERT_TRUE(sw.eff.write_op);
}

/* A split through the simulated cluster: asked once, kept by placement while the owner
 * works, done when the two ranges replace the parent; the JSON round trip of every write
 * included. */
static void test_split_in_sim(void)
{
    sim s;
    sim_init(&s, 3, "a", BC, 2, LIVE3, 3, 3);
    int k = add_op(&s, ZKV_OP_SPLIT, "r0001", NULL, 0); /* op-0000000000: r0a, r0b */
    CU_ASSERT_TRUE(leader_pass(&s, false, false));
    CU_ASSERT_STRING_EQUAL(s.ops[k].step, "splitting");
    CU_ASSERT_TRUE(s.w.r[1].split_asked);
    CU_ASSERT_STRING_EQUAL(s.w.r[1].split_ids[0], "r0a");
    CU_ASSERT_STRING_EQUAL(s.w.r[1].split_ids[1], "r0b");
    CU_ASSERT_FALSE(s.w.r[0].split_asked);
    CU_ASSERT_FALSE(s.w.r[2].split_asked);
    /* passes while the owner works change nothing; a crashed one neither */
    CU_ASSERT_FALSE(leader_pass(&s, false, false));
    CU_ASSERT_FALSE(leader_pass(&s, true, false));
    CU_ASSERT_TRUE(s.w.r[1].split_asked);
    CU_ASSERT_STRING_EQUAL(s.ops[k].step, "splitting");
    /* the owner replaces r0001 by r0a and r0b (epoch + 1, the same holders) */
    zkv_assignment kid = s.w.r[1];
    kid.split_asked = false;
    memset(kid.split_ids, 0, sizeof(kid.split_ids));
    kid.epoch++;
    s.w.r[1] = kid;
    s.w.r[3] = kid;
    snprintf(s.id_buf[1], sizeof(s.id_buf[1]), "r0a");
    snprintf(s.id_buf[3], sizeof(s.id_buf[3]), "r0b");
    s.ids[3] = s.id_buf[3];
    s.w.n = 4;
    CU_ASSERT_TRUE(leader_pass(&s, false, false));
    CU_ASSERT_TRUE(s.gone[k]);
    CU_ASSERT_STRING_EQUAL(s.log[k], "start splitting done");
    for (size_t i = 0; i < s.w.n; i++)
        CU_ASSERT_FALSE(s.w.r[i].split_asked);
}

/* ---- merge ---- */

static void test_merge_id(void)
{
    char id[ZKV_ID_MAX];
    memset(id, 'x', sizeof(id));
    zkv_op_merge_id("op-0000000012", id);
    CU_ASSERT_STRING_EQUAL(id, "r12m");
    zkv_op_merge_id("op-0000000000", id);
    CU_ASSERT_STRING_EQUAL(id, "r0m");
    zkv_op_merge_id("op-0000000100", id);
    CU_ASSERT_STRING_EQUAL(id, "r100m");
    CU_ASSERT_TRUE(zkv_id_valid(id));
}

/* The split world with a merge of r0000 (owned by a, like r0001) with its right neighbour
 * r0001 into r12m, asked by op-0000000012 at updated_ms 1000. */
static void merge_init(split_world *sw)
{
    split_init(sw);
    sw->op.kind = ZKV_OP_MERGE;
    strcpy(sw->op.range, "r0000");
    memset(sw->op.key, 0, sizeof(sw->op.key));
    sw->op.key_len = 0;
}

/* r0001 owned by b, with a and c in_sync. */
static void right_owned_by_b(split_world *sw)
{
    zkv_assignment *r = &sw->a[1];
    strcpy(r->owner, "b");
    strcpy(r->replicas[0], "a");
    strcpy(r->in_sync[0], "a");
}

/* r0000 asked to merge with r0001 into r12m, the operation at "merging". */
static void expect_merge_asked(split_world *sw)
{
    zkv_assignment *l = &sw->a[0];
    CU_ASSERT_TRUE(l->changed);
    CU_ASSERT_STRING_EQUAL(l->merge_with, "r0001");
    CU_ASSERT_STRING_EQUAL(l->merge_id, "r12m");
    CU_ASSERT_STRING_EQUAL(l->owner, "a");
    CU_ASSERT_EQUAL(l->epoch, 3);
    CU_ASSERT_STRING_EQUAL(l->handoff, "");
    CU_ASSERT_FALSE(l->split_asked);
    /* the right neighbour is asked nothing */
    CU_ASSERT_FALSE(sw->a[1].changed);
    CU_ASSERT_STRING_EQUAL(sw->a[1].merge_with, "");
    CU_ASSERT_STRING_EQUAL(sw->a[1].handoff, "");
    CU_ASSERT_STRING_EQUAL(sw->op.step, "merging");
    CU_ASSERT_TRUE(sw->eff.write_op);
    CU_ASSERT_FALSE(sw->eff.delete_op);
    CU_ASSERT_STRING_EQUAL(sw->op.error, "");
}

static void test_merge_start(void)
{
    /* the same owner: on to colocate and merging in the same pass */
    split_world sw;
    merge_init(&sw);
    split_pass(&sw);
    expect_merge_asked(&sw);
    CU_ASSERT_EQUAL(sw.op.attempts, 0);
    CU_ASSERT_STRING_EQUAL(sw.eff.note, "asking a to merge r0000 with r0001 into r12m");

    /* b owns r0001 and a is an in_sync replica of it: b asked to hand it to a */
    merge_init(&sw);
    right_owned_by_b(&sw);
    split_pass(&sw);
    CU_ASSERT_STRING_EQUAL(sw.op.step, "colocate");
    CU_ASSERT_TRUE(sw.eff.write_op);
    CU_ASSERT_FALSE(sw.eff.delete_op);
    CU_ASSERT_EQUAL(sw.op.attempts, 0);
    CU_ASSERT_TRUE(sw.a[1].changed);
    CU_ASSERT_STRING_EQUAL(sw.a[1].handoff, "a");
    CU_ASSERT_STRING_EQUAL(sw.a[1].owner, "b");
    CU_ASSERT_EQUAL(sw.a[1].n_replicas, 2);
    CU_ASSERT_FALSE(sw.a[0].changed);
    CU_ASSERT_STRING_EQUAL(sw.a[0].merge_with, "");
    CU_ASSERT_STRING_EQUAL(sw.eff.note, "merging r0000 with r0001 into r12m: a owns both first");

    /* a is a replica of r0001 but not in_sync: nothing asked, wait for it */
    merge_init(&sw);
    right_owned_by_b(&sw);
    strcpy(sw.a[1].in_sync[0], "c");
    sw.a[1].n_in_sync = 1;
    split_pass(&sw);
    CU_ASSERT_STRING_EQUAL(sw.op.step, "colocate");
    CU_ASSERT_FALSE(sw.a[1].changed);
    CU_ASSERT_STRING_EQUAL(sw.a[1].handoff, "");
    CU_ASSERT_EQUAL(sw.a[1].n_replicas, 2);

    /* a holds no copy of r0001 (b owns it, c a replica): a added as a replica first */
    merge_init(&sw);
    right_owned_by_b(&sw);
    strcpy(sw.a[1].replicas[0], "c");
    strcpy(sw.a[1].in_sync[0], "c");
    sw.a[1].n_replicas = sw.a[1].n_in_sync = 1;
    split_pass(&sw);
    CU_ASSERT_STRING_EQUAL(sw.op.step, "colocate");
    CU_ASSERT_TRUE(sw.a[1].changed);
    CU_ASSERT_EQUAL(sw.a[1].n_replicas, 2);
    CU_ASSERT_STRING_EQUAL(sw.a[1].replicas[0], "c");
    CU_ASSERT_STRING_EQUAL(sw.a[1].replicas[1], "a");
    CU_ASSERT_EQUAL(sw.a[1].n_in_sync, 1); /* not in_sync before it caught up */
    CU_ASSERT_STRING_EQUAL(sw.a[1].handoff, "");
    CU_ASSERT_FALSE(sw.a[0].changed);
    /* at R - 1 copies (n_replicas <= replicas - 1): still room for the extra */
    merge_init(&sw);
    right_owned_by_b(&sw);
    strcpy(sw.a[1].replicas[0], "c");
    strcpy(sw.a[1].replicas[1], "d");
    strcpy(sw.a[1].in_sync[0], "c");
    strcpy(sw.a[1].in_sync[1], "d");
    split_pass(&sw);
    CU_ASSERT_TRUE(sw.a[1].changed);
    CU_ASSERT_EQUAL(sw.a[1].n_replicas, 3);
    CU_ASSERT_STRING_EQUAL(sw.a[1].replicas[2], "a");
    CU_ASSERT_STRING_EQUAL(sw.op.step, "colocate");
    /* past it (an extra of another move there): no room, wait */
    merge_init(&sw);
    right_owned_by_b(&sw);
    strcpy(sw.a[1].replicas[0], "c");
    strcpy(sw.a[1].replicas[1], "d");
    strcpy(sw.a[1].replicas[2], "e");
    sw.a[1].n_replicas = 3;
    split_pass(&sw);
    CU_ASSERT_STRING_EQUAL(sw.op.step, "colocate");
    CU_ASSERT_TRUE(sw.eff.write_op); /* the step changed */
    CU_ASSERT_FALSE(sw.a[1].changed);
    CU_ASSERT_EQUAL(sw.a[1].n_replicas, 3);

    /* no range r0000 */
    merge_init(&sw);
    strcpy(sw.op.range, "r0042");
    split_pass(&sw);
    CU_ASSERT_STRING_EQUAL(sw.op.step, "failed");
    CU_ASSERT_STRING_EQUAL(sw.op.error, "no range r0042");
    CU_ASSERT_TRUE(sw.eff.write_op);
    CU_ASSERT_FALSE(sw.eff.delete_op);
    /* the last range: no right neighbour */
    merge_init(&sw);
    strcpy(sw.op.range, "r0001");
    split_pass(&sw);
    CU_ASSERT_STRING_EQUAL(sw.op.step, "failed");
    CU_ASSERT_STRING_EQUAL(sw.op.error, "r0001 is the last range: it has no right neighbour");
    CU_ASSERT_TRUE(sw.eff.write_op);
    CU_ASSERT_FALSE(sw.a[0].changed);
    CU_ASSERT_FALSE(sw.a[1].changed);
    /* ... also after start */
    merge_init(&sw);
    strcpy(sw.op.range, "r0001");
    strcpy(sw.op.step, "merging");
    split_pass(&sw);
    CU_ASSERT_STRING_EQUAL(sw.op.step, "failed");
    CU_ASSERT_PTR_NOT_NULL(strstr(sw.op.error, "last range"));
    /* at start, the merged range already there is not this operation's doing */
    merge_init(&sw);
    sw.ids[0] = "r12m";
    sw.w.n_ranges = 1;
    split_pass(&sw);
    CU_ASSERT_STRING_EQUAL(sw.op.step, "failed");
    CU_ASSERT_FALSE(sw.eff.delete_op);
    /* an unknown step */
    merge_init(&sw);
    strcpy(sw.op.step, "bogus");
    split_pass(&sw);
    CU_ASSERT_STRING_EQUAL(sw.op.step, "failed");
    CU_ASSERT_STRING_EQUAL(sw.op.error, "unknown step 'bogus'");
    CU_ASSERT_STRING_EQUAL(sw.a[0].merge_with, "");
}

static void test_merge_colocate(void)
{
    /* b asked to hand r0001 to a: wait while the handoff is pending */
    split_world sw;
    merge_init(&sw);
    right_owned_by_b(&sw);
    split_pass(&sw);
    CU_ASSERT_STRING_EQUAL(sw.op.step, "colocate");
    CU_ASSERT_STRING_EQUAL(sw.a[1].handoff, "a");
    sw.w.now_ms = 1500;
    split_pass(&sw);
    expect_split_waits(&sw, "colocate", 0);
    CU_ASSERT_STRING_EQUAL(sw.a[1].handoff, "a");
    CU_ASSERT_STRING_EQUAL(sw.a[0].merge_with, "");
    /* a handoff of r0001 to another node (a move first): not replaced, wait */
    strcpy(sw.a[1].handoff, "c");
    split_pass(&sw);
    expect_split_waits(&sw, "colocate", 0);
    CU_ASSERT_STRING_EQUAL(sw.a[1].handoff, "c");
    /* b handed r0001 to a: the owners are the same, a asked */
    strcpy(sw.a[1].handoff, "");
    strcpy(sw.a[1].owner, "a");
    strcpy(sw.a[1].replicas[0], "b");
    strcpy(sw.a[1].in_sync[0], "b");
    sw.a[1].epoch = 4;
    split_pass(&sw);
    expect_merge_asked(&sw);
    CU_ASSERT_EQUAL(sw.op.attempts, 0);

    /* the owner of r0000 not live: wait for the failover (start moves on to colocate) */
    merge_init(&sw);
    sw.live[0] = "c";
    sw.w.n_live = 2; /* b, c */
    split_pass(&sw);
    CU_ASSERT_STRING_EQUAL(sw.op.step, "colocate");
    CU_ASSERT_TRUE(sw.eff.write_op);
    CU_ASSERT_FALSE(sw.a[0].changed);
    CU_ASSERT_FALSE(sw.a[1].changed);
    CU_ASSERT_STRING_EQUAL(sw.a[0].merge_with, "");
    split_pass(&sw);
    expect_split_waits(&sw, "colocate", 0);
    CU_ASSERT_STRING_EQUAL(sw.a[0].merge_with, "");
    /* the owner of r0001 not live */
    merge_init(&sw);
    strcpy(sw.op.step, "colocate");
    strcpy(sw.a[1].owner, "d");
    split_pass(&sw);
    expect_split_waits(&sw, "colocate", 0);
    CU_ASSERT_STRING_EQUAL(sw.a[1].handoff, "");
    /* no owner of r0000 */
    merge_init(&sw);
    strcpy(sw.op.step, "colocate");
    sw.a[0].owner[0] = '\0';
    split_pass(&sw);
    expect_split_waits(&sw, "colocate", 0);

    /* a split, a move or another merge first */
    merge_init(&sw);
    strcpy(sw.op.step, "colocate");
    sw.a[0].split_asked = true;
    split_pass(&sw);
    expect_split_waits(&sw, "colocate", 0);
    CU_ASSERT_STRING_EQUAL(sw.a[0].merge_with, "");
    merge_init(&sw);
    strcpy(sw.op.step, "colocate");
    sw.a[1].split_asked = true;
    split_pass(&sw);
    expect_split_waits(&sw, "colocate", 0);
    merge_init(&sw);
    strcpy(sw.op.step, "colocate");
    strcpy(sw.a[0].handoff, "b");
    split_pass(&sw);
    expect_split_waits(&sw, "colocate", 0);
    CU_ASSERT_STRING_EQUAL(sw.a[0].merge_with, "");
    merge_init(&sw);
    strcpy(sw.op.step, "colocate");
    strcpy(sw.a[1].merge_with, "r12a"); /* r0001 merging with its own right neighbour */
    split_pass(&sw);
    expect_split_waits(&sw, "colocate", 0);
    CU_ASSERT_STRING_EQUAL(sw.a[0].merge_with, "");
    /* r0001 with r0002, while r0000 merges with r0001 */
    merge_init(&sw);
    sw.w.n_ranges = 3; /* r0000, r0001, r12a */
    strcpy(sw.op.range, "r0001");
    strcpy(sw.op.step, "colocate");
    strcpy(sw.a[0].merge_with, "r0001");
    strcpy(sw.a[0].merge_id, "r7m");
    split_pass(&sw);
    expect_split_waits(&sw, "colocate", 0);
    CU_ASSERT_STRING_EQUAL(sw.a[1].merge_with, "");
    /* that one over: asked */
    sw.a[0].merge_with[0] = sw.a[0].merge_id[0] = '\0';
    split_pass(&sw);
    CU_ASSERT_STRING_EQUAL(sw.op.step, "merging");
    CU_ASSERT_TRUE(sw.a[1].changed);
    CU_ASSERT_STRING_EQUAL(sw.a[1].merge_with, "r12a");
    CU_ASSERT_STRING_EQUAL(sw.a[1].merge_id, "r12m");
    CU_ASSERT_FALSE(sw.a[0].changed);
    CU_ASSERT_FALSE(sw.a[2].changed);
}

static void test_merge_merging(void)
{
    split_world sw;
    merge_init(&sw);
    split_pass(&sw);
    expect_merge_asked(&sw);
    /* asked, the owners the same: the owner carries it out, up to the wait */
    sw.w.now_ms = 1000 + ZKV_OP_SPLIT_WAIT_MS;
    split_pass(&sw);
    expect_split_waits(&sw, "merging", 0);
    CU_ASSERT_STRING_EQUAL(sw.a[0].merge_with, "r0001");
    CU_ASSERT_STRING_EQUAL(sw.a[0].merge_id, "r12m");
    /* the owner of r0001 died meanwhile (a failover made b owner): the request is withdrawn
     * and the neighbour brought back */
    sw.w.now_ms = 2000;
    right_owned_by_b(&sw);
    sw.a[1].epoch = 4;
    split_pass(&sw);
    CU_ASSERT_STRING_EQUAL(sw.op.step, "colocate");
    CU_ASSERT_EQUAL(sw.op.attempts, 0); /* not a try given up */
    CU_ASSERT_TRUE(sw.eff.write_op);
    CU_ASSERT_TRUE(sw.a[0].changed);
    CU_ASSERT_STRING_EQUAL(sw.a[0].merge_with, "");
    CU_ASSERT_STRING_EQUAL(sw.a[0].merge_id, "");
    CU_ASSERT_FALSE(sw.a[1].changed);
    sw.op.updated_ms = sw.w.now_ms;
    split_pass(&sw);
    CU_ASSERT_STRING_EQUAL(sw.a[1].handoff, "a");
    CU_ASSERT_STRING_EQUAL(sw.op.step, "colocate");
    /* a request for another merge id is not this operation's: given up as declined */
    merge_init(&sw);
    strcpy(sw.op.step, "merging");
    strcpy(sw.a[0].merge_with, "r0001");
    strcpy(sw.a[0].merge_id, "r9m");
    split_pass(&sw);
    CU_ASSERT_STRING_EQUAL(sw.op.step, "colocate");
    CU_ASSERT_EQUAL(sw.op.attempts, 1);
    CU_ASSERT_STRING_EQUAL(sw.a[0].merge_id, "r9m"); /* not taken over */
    CU_ASSERT_FALSE(sw.a[0].changed);
}

static void test_merge_declined(void)
{
    split_world sw;
    merge_init(&sw);
    split_pass(&sw);
    expect_merge_asked(&sw);
    /* the owner declines: it removes the request; back to colocate, asked again */
    for (int k = 1; k < ZKV_OP_MAX_ATTEMPTS; k++) {
        sw.a[0].merge_with[0] = sw.a[0].merge_id[0] = '\0';
        split_pass(&sw);
        CU_ASSERT_STRING_EQUAL(sw.op.step, "colocate");
        CU_ASSERT_EQUAL(sw.op.attempts, k);
        CU_ASSERT_TRUE(sw.eff.write_op);
        CU_ASSERT_FALSE(sw.a[0].changed);
        CU_ASSERT_FALSE(sw.a[1].changed);
        split_pass(&sw);
        expect_merge_asked(&sw);
        CU_ASSERT_EQUAL(sw.op.attempts, k);
    }
    sw.a[0].merge_with[0] = sw.a[0].merge_id[0] = '\0';
    split_pass(&sw);
    CU_ASSERT_STRING_EQUAL(sw.op.step, "failed");
    CU_ASSERT_EQUAL(sw.op.attempts, ZKV_OP_MAX_ATTEMPTS);
    CU_ASSERT_STRING_EQUAL(sw.op.error,
                           "the owner of r0000 declined the merge 3 times (its log says why)");
    CU_ASSERT_TRUE(sw.eff.write_op);
    CU_ASSERT_FALSE(sw.eff.delete_op);
    CU_ASSERT_FALSE(sw.a[0].changed);
    /* failed: later passes do nothing */
    split_pass(&sw);
    expect_split_waits(&sw, "failed", ZKV_OP_MAX_ATTEMPTS);
}

static void test_merge_stuck(void)
{
    split_world sw;
    merge_init(&sw);
    split_pass(&sw); /* asked at 1000 */
    expect_merge_asked(&sw);
    /* not merged within ZKV_OP_SPLIT_WAIT_MS: withdrawn, colocate again */
    sw.w.now_ms = 1000 + ZKV_OP_SPLIT_WAIT_MS + 1;
    split_pass(&sw);
    CU_ASSERT_STRING_EQUAL(sw.op.step, "colocate");
    CU_ASSERT_EQUAL(sw.op.attempts, 1);
    CU_ASSERT_TRUE(sw.eff.write_op);
    CU_ASSERT_FALSE(sw.eff.delete_op);
    CU_ASSERT_TRUE(sw.a[0].changed);
    CU_ASSERT_STRING_EQUAL(sw.a[0].merge_with, "");
    CU_ASSERT_STRING_EQUAL(sw.a[0].merge_id, "");
    CU_ASSERT_STRING_EQUAL(sw.eff.note, "r0000 and r0001 not merged within 60 s; trying again");
    sw.op.updated_ms = sw.w.now_ms; /* what the leader writes */
    split_pass(&sw);
    expect_merge_asked(&sw);
    CU_ASSERT_EQUAL(sw.op.attempts, 1);
    /* stuck in colocate too (b never hands r0001 over): a try given up, nothing withdrawn */
    sw.w.now_ms = sw.op.updated_ms + ZKV_OP_SPLIT_WAIT_MS + 1;
    sw.a[0].merge_with[0] = sw.a[0].merge_id[0] = '\0';
    right_owned_by_b(&sw);
    strcpy(sw.op.step, "colocate");
    strcpy(sw.a[1].handoff, "a");
    split_pass(&sw);
    CU_ASSERT_STRING_EQUAL(sw.op.step, "colocate");
    CU_ASSERT_EQUAL(sw.op.attempts, 2);
    CU_ASSERT_TRUE(sw.eff.write_op);
    CU_ASSERT_FALSE(sw.a[0].changed);
    CU_ASSERT_FALSE(sw.a[1].changed);
    CU_ASSERT_STRING_EQUAL(sw.a[1].handoff, "a");
    /* the third time: failed, and the request withdrawn */
    merge_init(&sw);
    split_pass(&sw);
    expect_merge_asked(&sw);
    sw.op.attempts = ZKV_OP_MAX_ATTEMPTS - 1;
    sw.w.now_ms = sw.op.updated_ms + ZKV_OP_SPLIT_WAIT_MS + 1;
    split_pass(&sw);
    CU_ASSERT_STRING_EQUAL(sw.op.step, "failed");
    CU_ASSERT_EQUAL(sw.op.attempts, ZKV_OP_MAX_ATTEMPTS);
    CU_ASSERT_STRING_EQUAL(sw.op.error, "r0000 and r0001 were not merged after 3 tries");
    CU_ASSERT_TRUE(sw.a[0].changed);
    CU_ASSERT_STRING_EQUAL(sw.a[0].merge_with, "");
    CU_ASSERT_STRING_EQUAL(sw.a[0].merge_id, "");
    /* at start the clock is not looked at: a late first pass still asks */
    merge_init(&sw);
    sw.w.now_ms = sw.op.updated_ms + 10 * (uint64_t)ZKV_OP_SPLIT_WAIT_MS;
    split_pass(&sw);
    expect_merge_asked(&sw);
    CU_ASSERT_EQUAL(sw.op.attempts, 0);
}

static void test_merge_done(void)
{
    split_world sw;
    merge_init(&sw);
    split_pass(&sw);
    expect_merge_asked(&sw);
    /* the owner merged r0000 and r0001: r12m alone */
    sw.ids[0] = "r12m";
    sw.a[0].merge_with[0] = sw.a[0].merge_id[0] = '\0';
    sw.w.n_ranges = 1;
    split_pass(&sw);
    CU_ASSERT_TRUE(sw.eff.delete_op);
    CU_ASSERT_FALSE(sw.eff.write_op);
    CU_ASSERT_STRING_EQUAL(sw.op.step, "merging");
    CU_ASSERT_EQUAL(sw.op.attempts, 0);
    CU_ASSERT_STRING_EQUAL(sw.eff.note, "done: the ranges are merged");
    CU_ASSERT_FALSE(sw.a[0].changed);
    /* with other ranges around it */
    merge_init(&sw);
    strcpy(sw.op.step, "merging");
    sw.ids[0] = "r12a";
    sw.ids[1] = "r12m";
    split_pass(&sw);
    CU_ASSERT_TRUE(sw.eff.delete_op);
    /* from colocate too */
    merge_init(&sw);
    strcpy(sw.op.step, "colocate");
    sw.ids[0] = "r12m";
    split_pass(&sw);
    CU_ASSERT_TRUE(sw.eff.delete_op);
    /* r0000 gone, r12m not there: the range went some other way */
    merge_init(&sw);
    strcpy(sw.op.step, "merging");
    sw.ids[0] = "r12a"; /* r12a, r0001 */
    split_pass(&sw);
    CU_ASSERT_FALSE(sw.eff.delete_op);
    CU_ASSERT_TRUE(sw.eff.write_op);
    CU_ASSERT_STRING_EQUAL(sw.op.step, "failed");
    CU_ASSERT_STRING_EQUAL(sw.op.error, "no range r0000");
}

/* A merge through the simulated cluster: r0001's owner brought to r0000's by a handoff,
 * the owner asked, done when r0m replaces both; the JSON round trip of every write
 * included. */
static void test_merge_in_sim(void)
{
    sim s;
    sim_init(&s, 3, "a", BC, 2, LIVE3, 3, 3);
    strcpy(s.w.r[1].owner, "b"); /* r0001: b, with a and c in_sync */
    strcpy(s.w.r[1].replicas[0], "a");
    strcpy(s.w.r[1].in_sync[0], "a");
    int k = add_op(&s, ZKV_OP_MERGE, "r0000", NULL, 0); /* op-0000000000: r0m */
    CU_ASSERT_TRUE(leader_pass(&s, false, false));
    CU_ASSERT_STRING_EQUAL(s.ops[k].step, "colocate");
    CU_ASSERT_STRING_EQUAL(s.w.r[1].handoff, "a");
    sim_nodes_act(&s.w); /* b hands r0001 to a */
    CU_ASSERT_STRING_EQUAL(s.w.r[1].owner, "a");
    CU_ASSERT_FALSE(leader_pass(&s, true, false)); /* a crash changes nothing */
    CU_ASSERT_TRUE(leader_pass(&s, false, false));
    CU_ASSERT_STRING_EQUAL(s.ops[k].step, "merging");
    CU_ASSERT_STRING_EQUAL(s.w.r[0].merge_with, "r0001");
    CU_ASSERT_STRING_EQUAL(s.w.r[0].merge_id, "r0m");
    CU_ASSERT_STRING_EQUAL(s.w.r[1].merge_with, "");
    CU_ASSERT_STRING_EQUAL(s.w.r[2].merge_with, "");
    /* passes while the owner works change nothing (placement keeps the request) */
    CU_ASSERT_FALSE(leader_pass(&s, false, false));
    CU_ASSERT_STRING_EQUAL(s.w.r[0].merge_with, "r0001");
    CU_ASSERT_STRING_EQUAL(s.ops[k].step, "merging");
    /* the owner replaces r0000 and r0001 by r0m */
    zkv_assignment m = s.w.r[0];
    m.merge_with[0] = m.merge_id[0] = '\0';
    m.epoch = 3;
    s.w.r[0] = m;
    s.w.r[1] = s.w.r[2];
    snprintf(s.id_buf[0], sizeof(s.id_buf[0]), "r0m");
    snprintf(s.id_buf[1], sizeof(s.id_buf[1]), "r0002");
    s.w.n = 2;
    leader_pass(&s, false, false);
    CU_ASSERT_TRUE(s.gone[k]);
    CU_ASSERT_STRING_EQUAL(s.log[k], "start colocate merging done");
    CU_ASSERT_STRING_EQUAL(s.w.r[0].owner, "a");
}

/* The same with a copy of r0001 on a first (a held none), then the handoff; whatever the
 * crashes, the same end. */
static void test_merge_in_sim_with_copy(void)
{
    for (unsigned seed = 1; seed <= 50; seed++) {
        sim s;
        sim_init(&s, 2, "a", BC, 2, LIVE4, 4, 3);
        strcpy(s.w.r[1].owner, "d"); /* r0001: d, with b and c */
        int k = add_op(&s, ZKV_OP_MERGE, "r0000", NULL, 0);
        srand(seed);
        for (int pass = 0; pass < 100 && strcmp(s.ops[k].step, "merging") != 0 &&
                           strcmp(s.ops[k].step, "failed") != 0;
             pass++) {
            leader_pass(&s, seed > 1 && rand() % 1000 < 300, false);
            sim_nodes_act(&s.w);
        }
        CU_ASSERT_STRING_EQUAL(s.ops[k].step, "merging");
        CU_ASSERT_EQUAL(s.ops[k].attempts, 0);
        CU_ASSERT_STRING_EQUAL(s.w.r[1].owner, "a");
        CU_ASSERT_STRING_EQUAL(s.w.r[0].merge_with, "r0001");
        CU_ASSERT_STRING_EQUAL(s.w.r[0].merge_id, "r0m");
        if (seed == 1)
            CU_ASSERT_STRING_EQUAL(s.log[k], "start colocate merging");
        if (strcmp(s.ops[k].step, "merging") != 0) {
            fprintf(stderr, "seed %u: %s (%s)\n", seed, s.log[k], s.ops[k].error);
            break;
        }
    }
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    CU_pSuite s = CU_add_suite("coordinator_opstep", NULL, NULL);
    CU_add_test(s, "move to an in_sync replica", test_move_to_in_sync_replica);
    CU_add_test(s, "move to a node without a copy", test_move_to_a_new_node);
    CU_add_test(s, "moves survive leader crashes at every point",
                test_move_survives_leader_crashes);
    CU_add_test(s, "move failures", test_move_failures);
    CU_add_test(s, "drain and undrain", test_drain_undrain);
    CU_add_test(s, "set-replicas 3 -> 2 -> 3", test_set_replicas);
    CU_add_test(s, "operation JSON", test_json);
    CU_add_test(s, "split: the ids of the two ranges", test_split_ids);
    CU_add_test(s, "split: start", test_split_start);
    CU_add_test(s, "split: a request left unanswered", test_split_waiting);
    CU_add_test(s, "split: a request declined", test_split_declined);
    CU_add_test(s, "split: done, or the range went", test_split_done);
    CU_add_test(s, "split in the simulated cluster", test_split_in_sim);
    CU_add_test(s, "merge: the id of the merged range", test_merge_id);
    CU_add_test(s, "merge: start, and on to colocate", test_merge_start);
    CU_add_test(s, "merge: colocate waits, then asks", test_merge_colocate);
    CU_add_test(s, "merge: merging, a neighbour that changed hands", test_merge_merging);
    CU_add_test(s, "merge: a request declined", test_merge_declined);
    CU_add_test(s, "merge: a request or colocation stuck", test_merge_stuck);
    CU_add_test(s, "merge: done, or the range went", test_merge_done);
    CU_add_test(s, "merge in the simulated cluster", test_merge_in_sim);
    CU_add_test(s, "merge in the simulated cluster, a copy first, with crashes",
                test_merge_in_sim_with_copy);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
