/* test_server_shipper.c: the pure parts of the owner's log shipper (server/shipper.c):
 * the (range, replica) stream transitions, how replica answers map to events, and the
 * reconnect backoff. */
#include <CUnit/Basic.h>

#include "shipper.h"

static void test_transitions(void)
{
    /* connect -> probe -> stream; mismatch -> probe -> snapshot -> stream */
    zkv_ship_state s = ZKV_SHIP_IDLE;
    s = zkv_ship_next(s, ZKV_SHIP_EV_CONNECTED);
    CU_ASSERT_EQUAL(s, ZKV_SHIP_PROBE);
    CU_ASSERT_EQUAL(zkv_ship_next(s, ZKV_SHIP_EV_PLAN_STREAM), ZKV_SHIP_STREAM);
    s = zkv_ship_next(s, ZKV_SHIP_EV_PLAN_SNAPSHOT);
    CU_ASSERT_EQUAL(s, ZKV_SHIP_SNAPSHOT);
    CU_ASSERT_EQUAL(zkv_ship_next(s, ZKV_SHIP_EV_ACK), ZKV_SHIP_SNAPSHOT);
    s = zkv_ship_next(s, ZKV_SHIP_EV_SNAPSHOT_DONE);
    CU_ASSERT_EQUAL(s, ZKV_SHIP_STREAM);
    CU_ASSERT_EQUAL(zkv_ship_next(s, ZKV_SHIP_EV_ACK), ZKV_SHIP_STREAM);
    CU_ASSERT_EQUAL(zkv_ship_next(s, ZKV_SHIP_EV_MISMATCH), ZKV_SHIP_PROBE);
    CU_ASSERT_EQUAL(zkv_ship_next(s, ZKV_SHIP_EV_ERROR), ZKV_SHIP_PROBE);
    /* a plan answer outside PROBE changes nothing */
    CU_ASSERT_EQUAL(zkv_ship_next(ZKV_SHIP_STREAM, ZKV_SHIP_EV_PLAN_SNAPSHOT), ZKV_SHIP_STREAM);
    CU_ASSERT_EQUAL(zkv_ship_next(ZKV_SHIP_STREAM, ZKV_SHIP_EV_SNAPSHOT_DONE), ZKV_SHIP_STREAM);
    /* connection loss from anywhere: idle, and probe again after reconnecting */
    CU_ASSERT_EQUAL(zkv_ship_next(ZKV_SHIP_STREAM, ZKV_SHIP_EV_DISCONNECTED), ZKV_SHIP_IDLE);
    CU_ASSERT_EQUAL(zkv_ship_next(ZKV_SHIP_SNAPSHOT, ZKV_SHIP_EV_DISCONNECTED), ZKV_SHIP_IDLE);
    CU_ASSERT_EQUAL(zkv_ship_next(ZKV_SHIP_IDLE, ZKV_SHIP_EV_ERROR), ZKV_SHIP_IDLE);
    CU_ASSERT_EQUAL(zkv_ship_next(ZKV_SHIP_STREAM, ZKV_SHIP_EV_CONNECTED), ZKV_SHIP_STREAM);
    /* stale epoch: stopped for good */
    s = zkv_ship_next(ZKV_SHIP_STREAM, ZKV_SHIP_EV_STALE);
    CU_ASSERT_EQUAL(s, ZKV_SHIP_STOPPED);
    CU_ASSERT_EQUAL(zkv_ship_next(s, ZKV_SHIP_EV_DISCONNECTED), ZKV_SHIP_STOPPED);
    CU_ASSERT_EQUAL(zkv_ship_next(s, ZKV_SHIP_EV_CONNECTED), ZKV_SHIP_STOPPED);
    CU_ASSERT_EQUAL(zkv_ship_next(s, ZKV_SHIP_EV_MISMATCH), ZKV_SHIP_STOPPED);
    CU_ASSERT_STRING_EQUAL(zkv_ship_state_name(ZKV_SHIP_SNAPSHOT), "snapshot");
}

static void test_classify(void)
{
    CU_ASSERT_EQUAL(zkv_ship_classify(ZKV__STATUS__OK, false), ZKV_SHIP_EV_ACK);
    CU_ASSERT_EQUAL(zkv_ship_classify(ZKV__STATUS__OK, true), ZKV_SHIP_EV_SNAPSHOT_DONE);
    CU_ASSERT_EQUAL(zkv_ship_classify(ZKV__STATUS__LOG_MISMATCH, false), ZKV_SHIP_EV_MISMATCH);
    CU_ASSERT_EQUAL(zkv_ship_classify(ZKV__STATUS__STALE_EPOCH, true), ZKV_SHIP_EV_STALE);
    CU_ASSERT_EQUAL(zkv_ship_classify(ZKV__STATUS__UNAVAILABLE, false), ZKV_SHIP_EV_ERROR);
    CU_ASSERT_EQUAL(zkv_ship_classify(ZKV__STATUS__BAD_REQUEST, false), ZKV_SHIP_EV_ERROR);
}

static void test_backoff(void)
{
    uint32_t b = zkv_ship_backoff_next(0);
    CU_ASSERT_EQUAL(b, 50);
    b = zkv_ship_backoff_next(b);
    CU_ASSERT_EQUAL(b, 100);
    b = zkv_ship_backoff_next(zkv_ship_backoff_next(b));
    CU_ASSERT_EQUAL(b, 400);
    b = zkv_ship_backoff_next(b);
    CU_ASSERT_EQUAL(b, 800);
    CU_ASSERT_EQUAL(zkv_ship_backoff_next(b), 1000);
    CU_ASSERT_EQUAL(zkv_ship_backoff_next(1000), 1000);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    CU_pSuite s = CU_add_suite("server_shipper", NULL, NULL);
    CU_add_test(s, "stream transitions", test_transitions);
    CU_add_test(s, "answers to events", test_classify);
    CU_add_test(s, "reconnect backoff", test_backoff);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
