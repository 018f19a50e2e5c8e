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
 * - drain (drained/ marker, then everything moves off), undrain, set-replicas 3 -> 2 -> 3. */
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
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
