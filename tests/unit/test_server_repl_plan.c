/* test_server_repl_plan.c: server/repl_plan.c, the STREAM-or-SNAPSHOT decision of
 * docs/replication.md: empty and caught-up replicas, replicas behind within the log and
 * beyond its truncated start, divergent tails of older epochs, epochs the owner never had,
 * replicas ahead of the owner, empty owner logs and owners without a history. */
#include <CUnit/Basic.h>

#include "repl_plan.h"

/* The owner: epoch 2 from seq 1, epoch 4 from seq 11, epoch 7 from seq 21; last seq 30
 * (epoch 7); its log holds seqs 6..30 (1..5 truncated). */
static const zkv_epoch_start hist[] = {{2, 1}, {4, 11}, {7, 21}};
#define N 3u
#define FIRST 6u
#define LAST 30u
#define LAST_EPOCH 7u

static zkv_repl_action plan(uint64_t rep_epoch, uint64_t rep_seq, uint64_t *from)
{
    *from = 12345;
    return zkv_repl_plan(hist, N, FIRST, LAST, LAST_EPOCH, rep_epoch, rep_seq, from);
}

static void test_empty_replica(void)
{
    uint64_t from;
    /* the log lost seq 1: a snapshot */
    CU_ASSERT_EQUAL(plan(0, 0, &from), ZKV_REPL_SNAPSHOT);
    /* with the whole log: stream from 1 */
    CU_ASSERT_EQUAL(zkv_repl_plan(hist, N, 1, LAST, LAST_EPOCH, 0, 0, &from), ZKV_REPL_STREAM);
    CU_ASSERT_EQUAL(from, 1);
    /* an empty owner and an empty replica */
    CU_ASSERT_EQUAL(zkv_repl_plan(NULL, 0, 0, 0, 3, 0, 0, &from), ZKV_REPL_STREAM);
    CU_ASSERT_EQUAL(from, 1);
}

static void test_caught_up(void)
{
    uint64_t from;
    CU_ASSERT_EQUAL(plan(7, 30, &from), ZKV_REPL_STREAM);
    CU_ASSERT_EQUAL(from, 31);
    /* caught up with an owner whose log is empty (truncated to nothing, or just snapshotted) */
    CU_ASSERT_EQUAL(zkv_repl_plan(hist, N, 0, LAST, LAST_EPOCH, 7, 30, &from), ZKV_REPL_STREAM);
    CU_ASSERT_EQUAL(from, 31);
    /* behind an owner with an empty log: nothing to stream from */
    CU_ASSERT_EQUAL(zkv_repl_plan(hist, N, 0, LAST, LAST_EPOCH, 7, 29, &from), ZKV_REPL_SNAPSHOT);
}

static void test_behind_within_log(void)
{
    uint64_t from;
    CU_ASSERT_EQUAL(plan(7, 25, &from), ZKV_REPL_STREAM);
    CU_ASSERT_EQUAL(from, 26);
    /* at the last entry of an older epoch: its log continues the owner's */
    CU_ASSERT_EQUAL(plan(4, 20, &from), ZKV_REPL_STREAM);
    CU_ASSERT_EQUAL(from, 21);
    /* inside epoch 2; exactly the first entry still in the log is next */
    CU_ASSERT_EQUAL(plan(2, 5, &from), ZKV_REPL_STREAM);
    CU_ASSERT_EQUAL(from, 6);
    CU_ASSERT_EQUAL(plan(2, 7, &from), ZKV_REPL_STREAM);
    CU_ASSERT_EQUAL(from, 8);
}

static void test_behind_truncated(void)
{
    uint64_t from;
    CU_ASSERT_EQUAL(plan(2, 4, &from), ZKV_REPL_SNAPSHOT);
    CU_ASSERT_EQUAL(plan(2, 1, &from), ZKV_REPL_SNAPSHOT);
    CU_ASSERT_EQUAL(from, 12345); /* untouched for a snapshot */
}

static void test_divergent_older_epoch(void)
{
    uint64_t from;
    /* the replica wrote seqs 11..13 in epoch 2; the owner's epoch 2 ended at 10 */
    CU_ASSERT_EQUAL(plan(2, 13, &from), ZKV_REPL_SNAPSHOT);
    /* one entry past the end of epoch 4 */
    CU_ASSERT_EQUAL(plan(4, 21, &from), ZKV_REPL_SNAPSHOT);
}

static void test_unknown_epoch(void)
{
    uint64_t from;
    /* epoch 3 was never the owner's (a deposed owner's unacknowledged writes) */
    CU_ASSERT_EQUAL(plan(3, 12, &from), ZKV_REPL_SNAPSHOT);
    /* even when its seq is one the owner's log still has */
    CU_ASSERT_EQUAL(plan(5, 8, &from), ZKV_REPL_SNAPSHOT);
    /* a newer epoch than the owner's */
    CU_ASSERT_EQUAL(plan(9, 30, &from), ZKV_REPL_SNAPSHOT);
    /* epoch 7 known, but it began after the replica's last seq: not the same entry */
    CU_ASSERT_EQUAL(plan(7, 15, &from), ZKV_REPL_SNAPSHOT);
}

static void test_ahead_same_epoch(void)
{
    uint64_t from;
    CU_ASSERT_EQUAL(plan(7, 31, &from), ZKV_REPL_SNAPSHOT);
    CU_ASSERT_EQUAL(plan(7, 99, &from), ZKV_REPL_SNAPSHOT);
    /* the owner is empty, the replica is not */
    CU_ASSERT_EQUAL(zkv_repl_plan(NULL, 0, 0, 0, 1, 1, 4, &from), ZKV_REPL_SNAPSHOT);
}

static void test_no_history(void)
{
    uint64_t from;
    /* an owner whose data predates histories: one epoch (its last) from seq 1 */
    CU_ASSERT_EQUAL(zkv_repl_plan(NULL, 0, 1, 10, 3, 3, 4, &from), ZKV_REPL_STREAM);
    CU_ASSERT_EQUAL(from, 5);
    CU_ASSERT_EQUAL(zkv_repl_plan(NULL, 0, 1, 10, 3, 2, 4, &from), ZKV_REPL_SNAPSHOT);
    CU_ASSERT_EQUAL(zkv_repl_plan(NULL, 0, 1, 10, 3, 3, 11, &from), ZKV_REPL_SNAPSHOT);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("server_repl_plan", NULL, NULL);
    CU_add_test(s, "empty replica", test_empty_replica);
    CU_add_test(s, "caught-up replica", test_caught_up);
    CU_add_test(s, "behind within the log", test_behind_within_log);
    CU_add_test(s, "behind beyond the truncated log", test_behind_truncated);
    CU_add_test(s, "divergent tail of an older epoch", test_divergent_older_epoch);
    CU_add_test(s, "epoch the owner never had", test_unknown_epoch);
    CU_add_test(s, "ahead of the owner in its epoch", test_ahead_same_epoch);
    CU_add_test(s, "owner without history", test_no_history);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
