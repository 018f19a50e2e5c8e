/* test_server_dispatch.c: server/dispatch.c without sockets: routing decisions (owned,
 * other owner, no owner, no map), the hello rules, key/value limits, unknown ops, writes
 * with the map's epoch, scan pages (limit, range end, end key) over a real store, and the
 * read-visibility hook (owner reads wait for uncommitted writes they reflect). */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/keyrange.h"
#include "common/hello.h"
#include "common/util.h"
#include "dispatch.h"
#include "ownerclock.h"
#include "readvis.h"
#include "server_fixture.h"

/* r0000 [, "m") owned by node-1 at epoch 3; r0001 ["m", "\xff") owned by node-2;
 * r0002 ["\xff", ) without owner. */
static zkv_rangemap *test_map(void)
{
    zkv_rangemap *m = calloc(1, sizeof *m);
    m->version = 7;
    m->n_ranges = 3;
    m->ranges = calloc(3, sizeof *m->ranges);
    const char *bounds[] = {"", "m", "\\xff", ""};
    for (int i = 0; i < 3; i++) {
        zkv_range *r = &m->ranges[i];
        snprintf(r->id, sizeof r->id, "r%04d", i);
        uint8_t s[16], e[16];
        long sl = zkv_key_unescape(bounds[i], s), el = zkv_key_unescape(bounds[i + 1], e);
        if (sl < 0 || el < 0 || zkv_range_set_bounds(r, s, (size_t)sl, e, (size_t)el) != 0) {
            zkv_rangemap_free(m);
            return NULL; /* called from the suite setup: no assertions there */
        }
    }
    strcpy(m->ranges[0].owner, "node-1");
    m->ranges[0].epoch = 3;
    strcpy(m->ranges[1].owner, "node-2");
    m->ranges[1].epoch = 1;
    strcpy(m->ranges[1].replicas[0], "node-1"); /* node-1 answers its stale reads */
    m->ranges[1].n_replicas = 1;
    return m;
}

static int setup(void)
{
    return fixture_setup("dispatch", test_map);
}

static zkv_dispatch_env env(void)
{
    return fixture_env(100);
}

/* A request with id, op and key (the rest left at its defaults). */
static Zkv__Request request(uint64_t id, Zkv__Op op, const char *key, size_t klen)
{
    Zkv__Request req = ZKV__REQUEST__INIT;
    req.id = id;
    req.op = op;
    req.key.data = (uint8_t *)key;
    req.key.len = klen;
    return req;
}

static zkv_dispatch_result run(const zkv_dispatch_env *e, zkv_session *sess, Zkv__Op op,
                               const char *key, size_t klen, const char *value, size_t vlen)
{
    Zkv__Request req = request(42, op, key, klen);
    req.value.data = (uint8_t *)value;
    req.value.len = vlen;
    return zkv_dispatch(e, sess, &req, &reply);
}

/* A GET of key with FLAG_ALLOW_STALE and a staleness bound. */
static void stale_get(const zkv_dispatch_env *e, const char *key, uint64_t max_ms,
                      uint64_t max_entries)
{
    zkv_session sess = {.hello_done = true};
    Zkv__Request req = request(43, ZKV__OP__GET, key, strlen(key));
    req.flags = ZKV__REQUEST_FLAG__FLAG_ALLOW_STALE;
    req.max_lag_ms = max_ms;
    req.max_lag_entries = max_entries;
    zkv_dispatch(e, &sess, &req, &reply);
}

static void test_replica_lag(void)
{
    zkv_dispatch_env e = env();
    zkv_ownerclock *clock = zkv_ownerclock_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(clock);
    e.clock = clock;
    /* nothing heard from r0001's owner: stale answers say so, any bound refuses */
    stale_get(&e, "mango", 0, 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__NOT_FOUND);
    CU_ASSERT_TRUE(reply.resp.stale);
    CU_ASSERT_EQUAL(reply.resp.lag_ms, UINT64_MAX);
    stale_get(&e, "mango", 60000, 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__TOO_STALE);
    CU_ASSERT_PTR_NOT_NULL(strstr(reply.resp.message, "has not held all its owner had"));
    /* caught up just now (a heartbeat at the owner's log end): within a bound in ms */
    zkv_ownerclock_note_position(clock, "r0001", 0, 0, zkv_now_ms());
    stale_get(&e, "mango", 60000, 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__NOT_FOUND);
    CU_ASSERT_TRUE(reply.resp.stale);
    CU_ASSERT(reply.resp.lag_ms < 60000);
    CU_ASSERT_EQUAL(reply.resp.lag_entries, 0);
    /* the owner then tells of 50 entries this copy lacks: a bound in entries refuses */
    const zkv_range_state *st = zkv_store_range(store, "r0001");
    uint64_t applied = st ? st->last_seq : 0;
    zkv_ownerclock_note_position(clock, "r0001", applied + 50, applied, zkv_now_ms());
    stale_get(&e, "mango", 0, 10);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__TOO_STALE);
    CU_ASSERT_EQUAL(reply.resp.lag_entries, 50);
    CU_ASSERT_PTR_NOT_NULL(strstr(reply.resp.message, "50 entries behind its owner"));
    stale_get(&e, "mango", 60000, 50);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__NOT_FOUND);
    CU_ASSERT_EQUAL(reply.resp.lag_entries, 50);
    /* an owned range ignores the bound: the owner is not behind itself */
    stale_get(&e, "apple", 1, 1);
    CU_ASSERT_NOT_EQUAL(reply.resp.status, ZKV__STATUS__TOO_STALE);
    CU_ASSERT_FALSE(reply.resp.stale);
    zkv_ownerclock_free(clock);
}

static void test_route(void)
{
    const zkv_range *r;
    CU_ASSERT_EQUAL(zkv_dispatch_route(map, "node-1", (const uint8_t *)"", 0, &r), ZKV_ROUTE_SERVE);
    CU_ASSERT_STRING_EQUAL(r->id, "r0000");
    CU_ASSERT_EQUAL(zkv_dispatch_route(map, "node-1", (const uint8_t *)"l\xff", 2, &r),
                    ZKV_ROUTE_SERVE);
    CU_ASSERT_EQUAL(zkv_dispatch_route(map, "node-1", (const uint8_t *)"m", 1, &r),
                    ZKV_ROUTE_NOT_OWNER);
    CU_ASSERT_STRING_EQUAL(r->id, "r0001");
    CU_ASSERT_EQUAL(zkv_dispatch_route(map, "node-2", (const uint8_t *)"m", 1, &r),
                    ZKV_ROUTE_SERVE);
    CU_ASSERT_EQUAL(zkv_dispatch_route(map, "node-1", (const uint8_t *)"\xff", 1, &r),
                    ZKV_ROUTE_NO_OWNER);
    CU_ASSERT_STRING_EQUAL(r->id, "r0002");
    CU_ASSERT_EQUAL(zkv_dispatch_route(NULL, "node-1", (const uint8_t *)"a", 1, &r),
                    ZKV_ROUTE_NOT_READY);
    CU_ASSERT_PTR_NULL(r);
}

static void test_hello(void)
{
    zkv_dispatch_env e = env();
    zkv_session sess = {0};
    /* anything before hello */
    CU_ASSERT_EQUAL(run(&e, &sess, ZKV__OP__PING, NULL, 0, NULL, 0), ZKV_DISPATCH_REPLY);
    CU_ASSERT_EQUAL(reply.resp.id, 42);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__BAD_REQUEST);
    CU_ASSERT_STRING_EQUAL(reply.resp.message, "hello required");
    CU_ASSERT_EQUAL(reply.resp.map_version, 7);
    /* wrong cluster: refused and closed */
    Zkv__Request req = ZKV__REQUEST__INIT;
    req.id = 1;
    req.op = ZKV__OP__HELLO;
    req.cluster_id = "cid-2";
    CU_ASSERT_EQUAL(zkv_dispatch(&e, &sess, &req, &reply), ZKV_DISPATCH_CLOSE);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__WRONG_CLUSTER);
    CU_ASSERT_PTR_NOT_NULL(strstr(reply.resp.message, "another cluster"));
    CU_ASSERT_PTR_NULL(strstr(reply.resp.message, "cid-1")); /* the real id is not told */
    CU_ASSERT_FALSE(sess.hello_done);
    /* a protocol this node does not speak: refused and closed */
    req.cluster_id = "cid-1";
    req.protocol = ZKV_PROTOCOL_VERSION + 1;
    CU_ASSERT_EQUAL(zkv_dispatch(&e, &sess, &req, &reply), ZKV_DISPATCH_CLOSE);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__BAD_REQUEST);
    CU_ASSERT_PTR_NOT_NULL(strstr(reply.resp.message, "protocol 2"));
    CU_ASSERT_FALSE(sess.hello_done);
    req.protocol = 0;
    /* before the node knows its cluster id */
    e.cluster_id = "";
    req.cluster_id = "cid-1";
    CU_ASSERT_EQUAL(zkv_dispatch(&e, &sess, &req, &reply), ZKV_DISPATCH_REPLY);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__UNAVAILABLE);
    CU_ASSERT_FALSE(sess.hello_done);
    /* the right one */
    e.cluster_id = "cid-1";
    CU_ASSERT_EQUAL(zkv_dispatch(&e, &sess, &req, &reply), ZKV_DISPATCH_REPLY);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__OK);
    CU_ASSERT_STRING_EQUAL(reply.resp.node_id, "node-1");
    CU_ASSERT_STRING_EQUAL(reply.resp.cluster_id, "cid-1");
    CU_ASSERT_EQUAL(reply.resp.map_version, 7);
    CU_ASSERT_TRUE(sess.hello_done);
    CU_ASSERT_EQUAL(run(&e, &sess, ZKV__OP__PING, NULL, 0, NULL, 0), ZKV_DISPATCH_REPLY);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__OK);
    CU_ASSERT_EQUAL(run(&e, &sess, (Zkv__Op)77, NULL, 0, NULL, 0), ZKV_DISPATCH_REPLY);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__BAD_REQUEST);
    CU_ASSERT_STRING_EQUAL(reply.resp.message, "unknown op 77");
}

static void test_ownership(void)
{
    zkv_dispatch_env e = env();
    zkv_session sess = {.hello_done = true};
    run(&e, &sess, ZKV__OP__PUT, "mango", 5, "v", 1);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__NOT_OWNER);
    CU_ASSERT_STRING_EQUAL(reply.resp.message, "range r0001 is owned by node-2");
    CU_ASSERT_EQUAL(reply.resp.map_version, 7);
    run(&e, &sess, ZKV__OP__GET, "\xff\x01", 2, NULL, 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__UNAVAILABLE);
    CU_ASSERT_STRING_EQUAL(reply.resp.message, "range r0002 has no owner");
    e.map = NULL;
    run(&e, &sess, ZKV__OP__GET, "a", 1, NULL, 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__UNAVAILABLE);
    CU_ASSERT_STRING_EQUAL(reply.resp.message, "node not ready: range map not loaded");
    CU_ASSERT_EQUAL(reply.resp.map_version, 0);
}

static void test_fenced(void)
{
    zkv_dispatch_env e = env();
    e.fenced = true;
    zkv_session sess = {.hello_done = true};
    run(&e, &sess, ZKV__OP__PUT, "apple", 5, "v", 1);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__UNAVAILABLE);
    CU_ASSERT_PTR_NOT_NULL(strstr(reply.resp.message, "node node-1 is fenced"));
    run(&e, &sess, ZKV__OP__GET, "apple", 5, NULL, 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__UNAVAILABLE);
    /* Keys of other owners are still redirected: fencing is about owned ranges. */
    run(&e, &sess, ZKV__OP__GET, "mango", 5, NULL, 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__NOT_OWNER);
    e.fenced = false;
    run(&e, &sess, ZKV__OP__GET, "apple", 5, NULL, 0);
    CU_ASSERT_NOT_EQUAL(reply.resp.status, ZKV__STATUS__UNAVAILABLE);
}

static void test_limits(void)
{
    zkv_dispatch_env e = env();
    zkv_session sess = {.hello_done = true};
    static char big[5000];
    memset(big, 'k', sizeof(big));
    run(&e, &sess, ZKV__OP__GET, big, 4097, NULL, 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__TOO_LARGE);
    CU_ASSERT_STRING_EQUAL(reply.resp.message, "key of 4097 bytes exceeds the limit of 4096 bytes");
    run(&e, &sess, ZKV__OP__PUT, "a", 1, big, 101);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__TOO_LARGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(reply.resp.message, "limit of 100 bytes"));
    /* limits are checked before ownership */
    run(&e, &sess, ZKV__OP__PUT, "zz", 2, big, 101);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__TOO_LARGE);
    run(&e, &sess, ZKV__OP__PUT, big, 4096, big, 100);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__OK);
    zkv_store_commit(store, err, sizeof(err));
}

static void test_write_read(void)
{
    zkv_dispatch_env e = env();
    zkv_session sess = {.hello_done = true};
    uint64_t base = zkv_store_range(store, "r0000") ? zkv_store_range(store, "r0000")->last_seq : 0;
    run(&e, &sess, ZKV__OP__PUT, "a\x00b", 3, "v\x00", 2);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__OK);
    CU_ASSERT_EQUAL(reply.resp.epoch, 3);
    CU_ASSERT_EQUAL(reply.resp.seq, base + 1);
    /* read your staged write */
    run(&e, &sess, ZKV__OP__GET, "a\x00b", 3, NULL, 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__OK);
    CU_ASSERT_EQUAL_FATAL(reply.resp.value.len, 2);
    CU_ASSERT_EQUAL(memcmp(reply.resp.value.data, "v\x00", 2), 0);
    CU_ASSERT_EQUAL(reply.resp.epoch, 3);
    CU_ASSERT_EQUAL(reply.resp.seq, base + 1);
    run(&e, &sess, ZKV__OP__DELETE, "a\x00b", 3, NULL, 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__OK);
    CU_ASSERT_EQUAL(reply.resp.seq, base + 2);
    run(&e, &sess, ZKV__OP__GET, "a\x00b", 3, NULL, 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__NOT_FOUND);
    /* deleting a missing key is fine */
    run(&e, &sess, ZKV__OP__DELETE, "gone", 4, NULL, 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__OK);
    CU_ASSERT_EQUAL(reply.resp.seq, base + 3);
    CU_ASSERT_EQUAL(zkv_store_commit(store, err, sizeof(err)), 0);
}

static void scan(const zkv_dispatch_env *e, zkv_session *sess, const char *start, size_t slen,
                 const char *end, size_t elen, uint32_t limit)
{
    Zkv__Request req = request(9, ZKV__OP__SCAN, start, slen);
    req.end_key.data = (uint8_t *)end;
    req.end_key.len = elen;
    req.limit = limit;
    zkv_dispatch(e, sess, &req, &reply);
}

static void test_scan(void)
{
    zkv_dispatch_env e = env();
    zkv_session sess = {.hello_done = true};
    /* fresh keys c0..c4 in r0000, plus what earlier tests left (a 4096-byte "kkk..." key) */
    char k[4];
    for (int i = 0; i < 5; i++) {
        snprintf(k, sizeof(k), "c%d", i);
        run(&e, &sess, ZKV__OP__PUT, k, 2, k, 2);
        CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__OK);
    }
    /* a key of another range in the store must not leak into r0000's pages */
    zkv_value_meta m;
    CU_ASSERT_EQUAL(zkv_store_put(store, "r0001", 1, (const uint8_t *)"n", 1, (const uint8_t *)"x",
                                  1, &m, err, sizeof(err)),
                    0);
    scan(&e, &sess, "c", 1, NULL, 0, 2);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__OK);
    CU_ASSERT_EQUAL_FATAL(reply.resp.n_items, 2);
    CU_ASSERT_EQUAL(memcmp(reply.resp.items[0]->key.data, "c0", 2), 0);
    CU_ASSERT_EQUAL(memcmp(reply.resp.items[1]->value.data, "c1", 2), 0);
    CU_ASSERT_TRUE(reply.resp.items[1]->seq > reply.resp.items[0]->seq);
    CU_ASSERT_EQUAL(reply.resp.items[0]->epoch, 3);
    CU_ASSERT_TRUE(reply.resp.more);
    CU_ASSERT_EQUAL(reply.resp.next_key.len, 2);
    CU_ASSERT_EQUAL(memcmp(reply.resp.next_key.data, "c2", 2), 0);
    /* up to the range end: more, continue at the range end "m" */
    scan(&e, &sess, "d", 1, NULL, 0, 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__OK);
    CU_ASSERT_EQUAL_FATAL(reply.resp.n_items, 1); /* the long "kkk..." key */
    CU_ASSERT_EQUAL(reply.resp.items[0]->key.len, 4096);
    CU_ASSERT_TRUE(reply.resp.more);
    CU_ASSERT_EQUAL_FATAL(reply.resp.next_key.len, 1);
    CU_ASSERT_EQUAL(reply.resp.next_key.data[0], 'm');
    /* an end key inside the range: no more */
    scan(&e, &sess, "", 0, "l", 1, 0);
    CU_ASSERT_EQUAL(reply.resp.n_items, 6);
    CU_ASSERT_FALSE(reply.resp.more);
    /* exactly at the limit with nothing after it inside the bounds: no more */
    scan(&e, &sess, "k", 1, "l", 1, 1);
    CU_ASSERT_EQUAL(reply.resp.n_items, 1);
    CU_ASSERT_FALSE(reply.resp.more);
    /* start in a range owned elsewhere */
    scan(&e, &sess, "n", 1, NULL, 0, 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__NOT_OWNER);
    /* empty interval */
    scan(&e, &sess, "b", 1, "a", 1, 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__OK);
    CU_ASSERT_EQUAL(reply.resp.n_items, 0);
    CU_ASSERT_FALSE(reply.resp.more);
}

/* The read-visibility hook: the test's zkv_readvis for r0000, or NULL (no state yet). */
static zkv_readvis hook_vis;
static bool hook_has_vis;
static zkv_readvis *vis_hook(void *ctx, const zkv_range *r)
{
    (void)ctx;
    return hook_has_vis && strcmp(r->id, "r0000") == 0 ? &hook_vis : NULL;
}

/* Owner reads answer only committed writes: a value past the commit point, a miss whose
 * delete is not committed and a scan page over either wait (wait_seq, the range set); a
 * node without the range's replication state refuses the read. */
static void test_read_visibility(void)
{
    zkv_dispatch_env e = env();
    e.read_vis = vis_hook;
    zkv_session sess = {.hello_done = true};
    uint64_t base = zkv_store_range(store, "r0000")->last_seq;
    zkv_readvis_init(&hook_vis, base); /* everything before this ownership */
    zkv_readvis_set_commit_point(&hook_vis, base);
    hook_has_vis = true;
    run(&e, &sess, ZKV__OP__PUT, "b1", 2, "x", 1);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__OK);
    CU_ASSERT_EQUAL(reply.wait_seq, 0); /* writes wait for acks elsewhere (conn.c) */
    run(&e, &sess, ZKV__OP__GET, "b1", 2, NULL, 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__OK);
    CU_ASSERT_EQUAL(reply.wait_seq, base + 1);
    CU_ASSERT_PTR_EQUAL(reply.range, &map->ranges[0]);
    zkv_readvis_set_commit_point(&hook_vis, base + 1);
    run(&e, &sess, ZKV__OP__GET, "b1", 2, NULL, 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__OK);
    CU_ASSERT_EQUAL(reply.wait_seq, 0);
    /* a delete: the miss waits for it, other misses do not */
    run(&e, &sess, ZKV__OP__DELETE, "b1", 2, NULL, 0);
    CU_ASSERT_EQUAL(reply.resp.seq, base + 2);
    run(&e, &sess, ZKV__OP__GET, "b1", 2, NULL, 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__NOT_FOUND);
    CU_ASSERT_EQUAL(reply.wait_seq, base + 2);
    run(&e, &sess, ZKV__OP__GET, "b-never", 7, NULL, 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__NOT_FOUND);
    CU_ASSERT_EQUAL(reply.wait_seq, 0);
    /* a scan page waits for the tracked delete */
    scan(&e, &sess, "b", 1, "c", 1, 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__OK);
    CU_ASSERT_EQUAL(reply.wait_seq, base + 2);
    zkv_readvis_set_commit_point(&hook_vis, base + 2);
    scan(&e, &sess, "b", 1, "c", 1, 0);
    CU_ASSERT_EQUAL(reply.wait_seq, 0);
    /* no replication state for the range: refused, not answered */
    hook_has_vis = false;
    run(&e, &sess, ZKV__OP__GET, "b1", 2, NULL, 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__UNAVAILABLE);
    scan(&e, &sess, "b", 1, "c", 1, 0);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__UNAVAILABLE);
    zkv_readvis_free(&hook_vis);
    CU_ASSERT_EQUAL(zkv_store_commit(store, err, sizeof(err)), 0);
}

static void test_error_reply(void)
{
    zkv_dispatch_env e = env();
    zkv_dispatch_error(&e, &reply, 5, ZKV__STATUS__TOO_LARGE, "frame of %d bytes", 9);
    CU_ASSERT_EQUAL(reply.resp.id, 5);
    CU_ASSERT_EQUAL(reply.resp.status, ZKV__STATUS__TOO_LARGE);
    CU_ASSERT_STRING_EQUAL(reply.resp.message, "frame of 9 bytes");
    CU_ASSERT_EQUAL(reply.resp.map_version, 7);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("server_dispatch", setup, teardown);
    CU_add_test(s, "route", test_route);
    CU_add_test(s, "hello rules", test_hello);
    CU_add_test(s, "ownership", test_ownership);
    CU_add_test(s, "fenced node refuses owned keys", test_fenced);
    CU_add_test(s, "limits", test_limits);
    CU_add_test(s, "write and read", test_write_read);
    CU_add_test(s, "scan pages", test_scan);
    CU_add_test(s, "owner reads see committed writes only", test_read_visibility);
    CU_add_test(s, "error reply", test_error_reply);
    CU_add_test(s, "replica reads with a staleness bound", test_replica_lag);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
