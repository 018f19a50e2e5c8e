/* test_server_connlimits.c: server/connlimits.c, the node's connection limits without
 * sockets: admission by class (clients up to --max-conns, peers and probation in the
 * reserve, refusal beyond), the first frame of a probation connection, which HELLOs name
 * a peer, backpressure with hysteresis (per connection and for the node, simulated with
 * connections that read their answers and connections that never do: the queue stays
 * bounded and readers are never paused), the idle and request timeouts, the sweep period,
 * the open-file plan, and the rate of log lines. */
#include <CUnit/Basic.h>
#include <stdint.h>
#include <string.h>

#include "common/hello.h"
#include "connlimits.h"

#define MIB ((size_t)1024 * 1024)

static zkv_limits limits(void)
{
    return (zkv_limits){.max_conns = 3,
                        .peer_reserve = 2,
                        .idle_ms = 1000,
                        .request_ms = 500,
                        .conn_output = 16 * MIB,
                        .node_output = 64 * MIB};
}

static void test_admit(void)
{
    zkv_limits l = limits();
    zkv_conn_counts n = {0};
    CU_ASSERT_EQUAL(zkv_limits_admit(&l, &n), ZKV_CONN_CLIENT);
    n.clients = 2;
    CU_ASSERT_EQUAL(zkv_limits_admit(&l, &n), ZKV_CONN_CLIENT);
    n.clients = 3; /* at the limit: the reserve */
    CU_ASSERT_EQUAL(zkv_limits_admit(&l, &n), ZKV_CONN_PROBATION);
    n.probation = 1;
    CU_ASSERT_EQUAL(zkv_limits_admit(&l, &n), ZKV_CONN_PROBATION);
    n.probation = 2; /* the reserve is full: refused at once */
    CU_ASSERT_EQUAL(zkv_limits_admit(&l, &n), ZKV_CONN_REFUSED);
    n.probation = 1;
    n.peers = 1;
    CU_ASSERT_EQUAL(zkv_limits_admit(&l, &n), ZKV_CONN_REFUSED);
    /* peers do not count against --max-conns */
    n = (zkv_conn_counts){.clients = 0, .peers = 2, .probation = 0};
    CU_ASSERT_EQUAL(zkv_limits_admit(&l, &n), ZKV_CONN_CLIENT);
    /* accepting at all: up to the clients, the reserve and those being refused */
    CU_ASSERT_TRUE(zkv_limits_accept_now(&l, 0));
    CU_ASSERT_TRUE(zkv_limits_accept_now(&l, 3 + 2 + ZKV_LIMITS_REFUSING - 1));
    CU_ASSERT_FALSE(zkv_limits_accept_now(&l, 3 + 2 + ZKV_LIMITS_REFUSING));
}

static void test_classify(void)
{
    zkv_limits l = limits();
    /* probation: a known peer keeps its reserve slot as a peer, even with a full reserve */
    zkv_conn_counts n = {.clients = 3, .peers = 1, .probation = 1};
    CU_ASSERT_EQUAL(zkv_limits_classify(&l, &n, ZKV_CONN_PROBATION, true), ZKV_CONN_PEER);
    /* anything else is refused while the clients are at the limit */
    CU_ASSERT_EQUAL(zkv_limits_classify(&l, &n, ZKV_CONN_PROBATION, false), ZKV_CONN_REFUSED);
    /* and admitted as a client when one left meanwhile */
    n.clients = 2;
    CU_ASSERT_EQUAL(zkv_limits_classify(&l, &n, ZKV_CONN_PROBATION, false), ZKV_CONN_CLIENT);
    /* a client that says HELLO as a known node moves to the reserve when it has room */
    n = (zkv_conn_counts){.clients = 3, .peers = 0, .probation = 1};
    CU_ASSERT_EQUAL(zkv_limits_classify(&l, &n, ZKV_CONN_CLIENT, true), ZKV_CONN_PEER);
    n.peers = 1;
    CU_ASSERT_EQUAL(zkv_limits_classify(&l, &n, ZKV_CONN_CLIENT, true), ZKV_CONN_CLIENT);
    CU_ASSERT_EQUAL(zkv_limits_classify(&l, &n, ZKV_CONN_CLIENT, false), ZKV_CONN_CLIENT);
    /* the others stay what they are */
    CU_ASSERT_EQUAL(zkv_limits_classify(&l, &n, ZKV_CONN_PEER, false), ZKV_CONN_PEER);
    CU_ASSERT_EQUAL(zkv_limits_classify(&l, &n, ZKV_CONN_REFUSED, true), ZKV_CONN_REFUSED);
}

static void test_known_peer(void)
{
    zkv_node_info nodes[2];
    memset(nodes, 0, sizeof(nodes));
    snprintf(nodes[0].id, sizeof(nodes[0].id), "node-a");
    snprintf(nodes[1].id, sizeof(nodes[1].id), "node-b");
    zkv_rangemap m = {.version = 1, .nodes = nodes, .n_nodes = 2};
    CU_ASSERT_TRUE(zkv_limits_known_peer(&m, "node-a"));
    CU_ASSERT_TRUE(zkv_limits_known_peer(&m, "node-b"));
    CU_ASSERT_FALSE(zkv_limits_known_peer(&m, "node-c"));
    CU_ASSERT_FALSE(zkv_limits_known_peer(&m, "node-"));
    CU_ASSERT_FALSE(zkv_limits_known_peer(&m, ""));
    CU_ASSERT_FALSE(zkv_limits_known_peer(&m, NULL));
    CU_ASSERT_TRUE(zkv_limits_known_peer(&m, ZKV_COORDINATOR_NODE_ID));
    /* before the first map only the coordinator is known */
    CU_ASSERT_FALSE(zkv_limits_known_peer(NULL, "node-a"));
    CU_ASSERT_TRUE(zkv_limits_known_peer(NULL, "coordinator"));
}

static void test_keep_reading_thresholds(void)
{
    zkv_limits l = limits();
    /* per connection: paused at the cap, resumed below a quarter of it */
    CU_ASSERT_TRUE(zkv_limits_keep_reading(&l, false, 16 * MIB - 1, 16 * MIB));
    CU_ASSERT_FALSE(zkv_limits_keep_reading(&l, false, 16 * MIB, 16 * MIB));
    CU_ASSERT_FALSE(zkv_limits_keep_reading(&l, true, 8 * MIB, 8 * MIB));
    CU_ASSERT_FALSE(zkv_limits_keep_reading(&l, true, 4 * MIB, 4 * MIB));
    CU_ASSERT_TRUE(zkv_limits_keep_reading(&l, true, 4 * MIB - 1, 4 * MIB));
    /* for the node: big queues pause at the node's cap, small ones go on */
    CU_ASSERT_FALSE(zkv_limits_keep_reading(&l, false, MIB, 64 * MIB));
    CU_ASSERT_TRUE(zkv_limits_keep_reading(&l, false, MIB, 64 * MIB - 1));
    CU_ASSERT_TRUE(zkv_limits_keep_reading(&l, false, ZKV_LIMITS_SMALL_OUTPUT, 1000 * MIB));
    CU_ASSERT_FALSE(zkv_limits_keep_reading(&l, false, ZKV_LIMITS_SMALL_OUTPUT + 1, 1000 * MIB));
    /* resumed when the node is below three quarters, or the queue is small */
    CU_ASSERT_FALSE(zkv_limits_keep_reading(&l, true, MIB, 48 * MIB));
    CU_ASSERT_TRUE(zkv_limits_keep_reading(&l, true, MIB, 48 * MIB - 1));
    CU_ASSERT_TRUE(zkv_limits_keep_reading(&l, true, 0, 1000 * MIB));
    CU_ASSERT_TRUE(zkv_limits_keep_reading(&l, true, ZKV_LIMITS_SMALL_OUTPUT, 1000 * MIB));
}

/* A simulated node: each round every connection that is read sends its next requests
 * (answers of `answer` bytes) until the limits pause it; readers then take all their
 * answers (write complete: resumed when the limits allow), non-readers never do. */
#define SIM_CONNS 40
#define SIM_ROUNDS 300

typedef struct sim_conn {
    size_t own;
    bool paused, reader;
    int paused_rounds;
} sim_conn;

static void simulate(const zkv_limits *l, size_t answer, int per_round, int n_nonreaders,
                     size_t *max_total, size_t *max_own, int *reader_paused_rounds)
{
    sim_conn c[SIM_CONNS];
    memset(c, 0, sizeof(c));
    for (int i = 0; i < SIM_CONNS; i++)
        c[i].reader = i >= n_nonreaders;
    size_t total = 0;
    *max_total = *max_own = 0;
    *reader_paused_rounds = 0;
    for (int r = 0; r < SIM_ROUNDS; r++) {
        for (int i = 0; i < SIM_CONNS; i++) {
            sim_conn *x = &c[i];
            for (int k = 0; k < per_round && !x->paused; k++) {
                if (!zkv_limits_keep_reading(l, false, x->own, total)) {
                    x->paused = true;
                    break;
                }
                x->own += answer;
                total += answer;
            }
            if (x->own > *max_own)
                *max_own = x->own;
            if (total > *max_total)
                *max_total = total;
        }
        for (int i = 0; i < SIM_CONNS; i++) {
            sim_conn *x = &c[i];
            if (x->reader) {
                total -= x->own;
                x->own = 0;
            }
            if (x->paused && zkv_limits_keep_reading(l, true, x->own, total))
                x->paused = false;
            if (x->paused && x->reader)
                (*reader_paused_rounds)++;
        }
    }
}

static void test_backpressure_simulated(void)
{
    zkv_limits l = limits();
    l.conn_output = 4 * MIB;
    l.node_output = 16 * MIB;
    const size_t answers[] = {40, 4096, (size_t)100 * 1024, MIB};
    for (size_t a = 0; a < sizeof(answers) / sizeof(answers[0]); a++) {
        size_t answer = answers[a];
        for (int nonreaders = 0; nonreaders <= SIM_CONNS; nonreaders += 10) {
            size_t max_total, max_own;
            int reader_paused;
            simulate(&l, answer, 100000, nonreaders, &max_total, &max_own, &reader_paused);
            /* one connection never queues more than its cap and one answer */
            CU_ASSERT(max_own < l.conn_output + answer);
            /* the node: its cap, plus what each connection may still add past it */
            CU_ASSERT(max_total <
                      l.node_output + (size_t)SIM_CONNS * (ZKV_LIMITS_SMALL_OUTPUT + answer));
            if (nonreaders == SIM_CONNS)
                CU_ASSERT(max_total >= l.node_output); /* the caps are reached, not undercut */
        }
        /* readers that pipeline little (a small queue a round) are never paused, however
         * many non-readers fill the node */
        size_t small_batch = ZKV_LIMITS_SMALL_OUTPUT / answer;
        if (small_batch > 0) {
            size_t max_total, max_own;
            int reader_paused;
            simulate(&l, answer, (int)small_batch, SIM_CONNS / 2, &max_total, &max_own,
                     &reader_paused);
            CU_ASSERT_EQUAL(reader_paused, 0);
            CU_ASSERT(max_total >= l.node_output); /* the non-readers filled the node */
        }
    }
}

static void test_timeouts(void)
{
    zkv_limits l = limits(); /* idle 1000, request 500 */
    zkv_conn_clock c = {.last_io_ms = 10000};
    CU_ASSERT_EQUAL(zkv_limits_timeout(&l, &c, 10999), ZKV_TIMEOUT_NONE);
    CU_ASSERT_EQUAL(zkv_limits_timeout(&l, &c, 11000), ZKV_TIMEOUT_IDLE);
    c.idle_exempt = true; /* a peer, or answers held for it */
    CU_ASSERT_EQUAL(zkv_limits_timeout(&l, &c, 50000), ZKV_TIMEOUT_NONE);
    /* a frame being received: 500 ms from its first byte, whatever arrives meanwhile */
    c = (zkv_conn_clock){.last_io_ms = 10400, .frame_start_ms = 10000};
    CU_ASSERT_EQUAL(zkv_limits_timeout(&l, &c, 10499), ZKV_TIMEOUT_NONE);
    CU_ASSERT_EQUAL(zkv_limits_timeout(&l, &c, 10500), ZKV_TIMEOUT_REQUEST);
    c.idle_exempt = true; /* peers too */
    CU_ASSERT_EQUAL(zkv_limits_timeout(&l, &c, 10500), ZKV_TIMEOUT_REQUEST);
    /* both off */
    l.idle_ms = 0;
    l.request_ms = 0;
    c = (zkv_conn_clock){.last_io_ms = 1, .frame_start_ms = 1};
    CU_ASSERT_EQUAL(zkv_limits_timeout(&l, &c, 100000000), ZKV_TIMEOUT_NONE);
    /* probation always has one: the default when the flag is 0, never the idle one */
    c.probation = true;
    CU_ASSERT_EQUAL(zkv_limits_request_ms(&l, true), ZKV_LIMITS_DEFAULT_REQUEST_MS);
    CU_ASSERT_EQUAL(zkv_limits_request_ms(&l, false), 0);
    CU_ASSERT_EQUAL(zkv_limits_timeout(&l, &c, ZKV_LIMITS_DEFAULT_REQUEST_MS), ZKV_TIMEOUT_NONE);
    CU_ASSERT_EQUAL(zkv_limits_timeout(&l, &c, 1 + ZKV_LIMITS_DEFAULT_REQUEST_MS),
                    ZKV_TIMEOUT_REQUEST);
    l.idle_ms = 10;
    c.frame_start_ms = 5000;
    CU_ASSERT_EQUAL(zkv_limits_timeout(&l, &c, 5001), ZKV_TIMEOUT_NONE);
    /* a clock that seems to go back never times out */
    l = limits();
    c = (zkv_conn_clock){.last_io_ms = 9000, .frame_start_ms = 9000};
    CU_ASSERT_EQUAL(zkv_limits_timeout(&l, &c, 8000), ZKV_TIMEOUT_NONE);
}

static void test_sweep(void)
{
    zkv_limits l = limits(); /* idle 1000, request 500: a quarter of 500 */
    CU_ASSERT_EQUAL(zkv_limits_sweep_ms(&l), 125);
    l.request_ms = 20;
    CU_ASSERT_EQUAL(zkv_limits_sweep_ms(&l), ZKV_LIMITS_SWEEP_MIN_MS);
    l.request_ms = 0;
    l.idle_ms = 0; /* probation's default still needs sweeping */
    CU_ASSERT_EQUAL(zkv_limits_sweep_ms(&l), ZKV_LIMITS_SWEEP_MAX_MS);
    l.idle_ms = 2000;
    CU_ASSERT_EQUAL(zkv_limits_sweep_ms(&l), 500);
}

static void test_nofile_plan(void)
{
    const uint64_t reserve = ZKV_LIMITS_PEER_RESERVE + ZKV_LIMITS_REFUSING + ZKV_LIMITS_FD_OVERHEAD;
    /* the default on this kind of host: soft 1024, hard 1048576 -> raised */
    zkv_nofile_plan p = zkv_limits_plan_nofile(10000, ZKV_LIMITS_PEER_RESERVE, 1024, 1048576);
    CU_ASSERT_EQUAL(p.want, 10000 + reserve);
    CU_ASSERT_EQUAL(p.soft, 10000 + reserve);
    CU_ASSERT_EQUAL(p.max_conns, 10000);
    CU_ASSERT_FALSE(p.short_);
    /* a soft limit already high enough is left alone */
    p = zkv_limits_plan_nofile(10000, ZKV_LIMITS_PEER_RESERVE, 65536, 1048576);
    CU_ASSERT_EQUAL(p.soft, 65536);
    CU_ASSERT_EQUAL(p.max_conns, 10000);
    /* unlimited */
    p = zkv_limits_plan_nofile(10000, ZKV_LIMITS_PEER_RESERVE, 1024, UINT64_MAX);
    CU_ASSERT_EQUAL(p.soft, 10000 + reserve);
    CU_ASSERT_FALSE(p.short_);
    /* hard limit too low: soft to the hard limit, the connections that fit */
    p = zkv_limits_plan_nofile(10000, ZKV_LIMITS_PEER_RESERVE, 1024, 8192);
    CU_ASSERT_TRUE(p.short_);
    CU_ASSERT_EQUAL(p.soft, 8192);
    CU_ASSERT_EQUAL(p.max_conns, 8192 - reserve);
    /* a small hard limit: half of it for connections (1024 - 1448 does not fit) */
    p = zkv_limits_plan_nofile(10000, ZKV_LIMITS_PEER_RESERVE, 1024, 1024);
    CU_ASSERT_TRUE(p.short_);
    CU_ASSERT_EQUAL(p.soft, 1024);
    CU_ASSERT_EQUAL(p.max_conns, 512);
    /* never more than asked */
    p = zkv_limits_plan_nofile(100, ZKV_LIMITS_PEER_RESERVE, 1024, 1024);
    CU_ASSERT_EQUAL(p.max_conns, 100);
    /* the connections, the reserve and the overhead always fit in the soft limit when not
     * short; when short, the connections never take more than the limit */
    for (uint64_t hard = 64; hard < 40000; hard = hard * 3 / 2) {
        p = zkv_limits_plan_nofile(10000, ZKV_LIMITS_PEER_RESERVE, 64, hard);
        CU_ASSERT(p.soft <= hard);
        CU_ASSERT(p.max_conns <= 10000);
        if (!p.short_) {
            CU_ASSERT(p.max_conns + reserve <= p.soft);
        } else {
            CU_ASSERT(p.max_conns < hard && p.max_conns >= hard / 2);
        }
    }
}

static void test_ratelog(void)
{
    zkv_ratelog r = {0};
    uint64_t skipped = 99;
    CU_ASSERT_TRUE(zkv_ratelog_due(&r, 5000, 1000, &skipped));
    CU_ASSERT_EQUAL(skipped, 0);
    CU_ASSERT_FALSE(zkv_ratelog_due(&r, 5001, 1000, &skipped));
    CU_ASSERT_FALSE(zkv_ratelog_due(&r, 5999, 1000, &skipped));
    CU_ASSERT_TRUE(zkv_ratelog_due(&r, 6000, 1000, &skipped));
    CU_ASSERT_EQUAL(skipped, 2);
    CU_ASSERT_TRUE(zkv_ratelog_due(&r, 9000, 1000, &skipped));
    CU_ASSERT_EQUAL(skipped, 0);
    zkv_ratelog z = {0}; /* a loop clock at 0 still logs the first line */
    CU_ASSERT_TRUE(zkv_ratelog_due(&z, 0, 1000, NULL));
    CU_ASSERT_FALSE(zkv_ratelog_due(&z, 10, 1000, NULL));
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("server_connlimits", NULL, NULL);
    CU_add_test(s, "admission: clients, reserve, refusal", test_admit);
    CU_add_test(s, "the first frame of a probation connection, peers", test_classify);
    CU_add_test(s, "which HELLO names a peer", test_known_peer);
    CU_add_test(s, "backpressure thresholds and hysteresis", test_keep_reading_thresholds);
    CU_add_test(s, "backpressure simulated: bounded queues, readers served",
                test_backpressure_simulated);
    CU_add_test(s, "idle and request timeouts", test_timeouts);
    CU_add_test(s, "the sweep period", test_sweep);
    CU_add_test(s, "the open-file plan", test_nofile_plan);
    CU_add_test(s, "log lines at most once an interval", test_ratelog);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
