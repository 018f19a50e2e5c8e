/* Unit tests of client/src/route.c: which node a key goes to (binary keys at range edges,
 * ranges without owner, owners that are not live, stale-tolerant reads falling back to
 * replicas, nodes marked down) and what to do after each attempt (status -> code, NOT_OWNER
 * refresh and backoff, unreachable nodes, the time budget). */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zkv/zkv.h"
#include "common/frame.h"
#include "common/keyrange.h"
#include "common/rangemap.h"
#include "route.h"

/* Map of 3 ranges: r0000 [, "b\x00"), r0001 ["b\x00", "\xff"), r0002 ["\xff", ).
 * Owners: r0000 node-1, r0001 node-2 (replicas node-3 in sync, node-1 not), r0002 none.
 * Live nodes: node-1, node-2, node-3 (node-9 is absent). */
static zkv_rangemap *test_map(void)
{
    zkv_rangemap *m = calloc(1, sizeof *m);
    m->version = 7;
    m->n_ranges = 3;
    m->ranges = calloc(3, sizeof *m->ranges);
    const char *bounds[] = {"", "b\\x00", "\\xff", ""};
    for (int i = 0; i < 3; i++) {
        zkv_range *r = &m->ranges[i];
        snprintf(r->id, sizeof r->id, "r%04d", i);
        uint8_t s[16], e[16];
        long sl = zkv_key_unescape(bounds[i], s), el = zkv_key_unescape(bounds[i + 1], e);
        CU_ASSERT_FATAL(sl >= 0 && el >= 0);
        CU_ASSERT_FATAL(zkv_range_set_bounds(r, s, (size_t)sl, e, (size_t)el) == 0);
    }
    strcpy(m->ranges[0].owner, "node-1");
    strcpy(m->ranges[1].owner, "node-2");
    strcpy(m->ranges[1].replicas[0], "node-1");
    strcpy(m->ranges[1].replicas[1], "node-3");
    m->ranges[1].n_replicas = 2;
    strcpy(m->ranges[1].in_sync[0], "node-3");
    m->ranges[1].n_in_sync = 1;
    m->n_nodes = 3;
    m->nodes = calloc(3, sizeof *m->nodes);
    for (int i = 0; i < 3; i++) {
        snprintf(m->nodes[i].id, sizeof m->nodes[i].id, "node-%d", i + 1);
        snprintf(m->nodes[i].addr, sizeof m->nodes[i].addr, "127.0.0.1:740%d", i + 1);
    }
    char err[128];
    CU_ASSERT_FATAL(zkv_rangemap_finish(m, err, sizeof err) == 0);
    return m;
}

static zkv__route route(const zkv_rangemap *m, const char *key, size_t klen, zkv__op_kind op,
                        unsigned flags, const zkv__down *down)
{
    zkv__route rt;
    zkv__route_key(m, (const uint8_t *)key, klen, op, flags, down, &rt);
    return rt;
}

static void test_route_binary_edges(void)
{
    zkv_rangemap *m = test_map();
    struct {
        const char *key;
        size_t len;
        const char *range;
    } cases[] = {
        {"", 0, "r0000"},             /* the empty key: first range */
        {"\x00", 1, "r0000"},         /* NUL byte */
        {"b", 1, "r0000"},            /* proper prefix of the boundary sorts first */
        {"b\x00", 2, "r0001"},        /* exactly the boundary: the upper range */
        {"b\x00\x00", 3, "r0001"},    /* just above */
        {"\xfe\xff\xff", 3, "r0001"}, /* high bytes compare unsigned */
        {"\xff", 1, "r0002"},
        {"\xff\xff\xff", 3, "r0002"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        zkv__route rt = route(m, cases[i].key, cases[i].len, ZKV__READ, 0, NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(rt.range);
        CU_ASSERT_STRING_EQUAL(rt.range->id, cases[i].range);
    }
    zkv__route rt = route(m, "b\x00", 2, ZKV__WRITE, 0, NULL);
    CU_ASSERT_EQUAL(rt.kind, ZKV__ROUTE_SEND);
    CU_ASSERT_STRING_EQUAL(rt.node->id, "node-2");
    CU_ASSERT_STRING_EQUAL(rt.node->addr, "127.0.0.1:7402");
    CU_ASSERT_FALSE(rt.replica);
    rt = route(m, "a", 1, ZKV__WRITE, 0, NULL);
    CU_ASSERT_EQUAL(rt.kind, ZKV__ROUTE_SEND);
    CU_ASSERT_STRING_EQUAL(rt.node->id, "node-1");
    zkv_rangemap_free(m);
}

static void test_route_no_owner(void)
{
    zkv_rangemap *m = test_map();
    zkv__route rt = route(m, "\xff", 1, ZKV__WRITE, 0, NULL);
    CU_ASSERT_EQUAL(rt.kind, ZKV__ROUTE_NO_OWNER);
    CU_ASSERT_STRING_EQUAL(rt.range->id, "r0002");
    /* no replicas either: a stale read has nowhere to go */
    rt = route(m, "\xff", 1, ZKV__READ, ZKV_FLAG_ALLOW_STALE, NULL);
    CU_ASSERT_EQUAL(rt.kind, ZKV__ROUTE_NO_OWNER);
    /* a range whose owner is gone but that has a replica serves stale reads */
    strcpy(m->ranges[2].replicas[0], "node-3");
    m->ranges[2].n_replicas = 1;
    rt = route(m, "\xff", 1, ZKV__READ, ZKV_FLAG_ALLOW_STALE, NULL);
    CU_ASSERT_EQUAL(rt.kind, ZKV__ROUTE_SEND);
    CU_ASSERT_STRING_EQUAL(rt.node->id, "node-3");
    CU_ASSERT_TRUE(rt.replica);
    /* ...but never writes, nor reads without the flag */
    rt = route(m, "\xff", 1, ZKV__WRITE, ZKV_FLAG_ALLOW_STALE, NULL);
    CU_ASSERT_EQUAL(rt.kind, ZKV__ROUTE_NO_OWNER);
    rt = route(m, "\xff", 1, ZKV__READ, 0, NULL);
    CU_ASSERT_EQUAL(rt.kind, ZKV__ROUTE_NO_OWNER);
    zkv_rangemap_free(m);
}

static void test_route_unknown_owner(void)
{
    zkv_rangemap *m = test_map();
    strcpy(m->ranges[0].owner, "node-9"); /* not in nodes/: its session is gone */
    zkv__route rt = route(m, "a", 1, ZKV__WRITE, 0, NULL);
    CU_ASSERT_EQUAL(rt.kind, ZKV__ROUTE_ALL_DOWN);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rt.not_live);
    CU_ASSERT_STRING_EQUAL(rt.not_live, "node-9");
    CU_ASSERT_PTR_NULL(rt.node);
    zkv_rangemap_free(m);
}

static void test_route_stale_fallback_order(void)
{
    zkv_rangemap *m = test_map();
    zkv__down down = {.n = 0};
    /* owner first, even for stale-tolerant reads */
    zkv__route rt = route(m, "c", 1, ZKV__READ, ZKV_FLAG_ALLOW_STALE, &down);
    CU_ASSERT_STRING_EQUAL(rt.node->id, "node-2");
    CU_ASSERT_FALSE(rt.replica);
    /* owner down: the in-sync replica (node-3) before the lagging one (node-1) */
    zkv__down_add(&down, "node-2");
    rt = route(m, "c", 1, ZKV__READ, ZKV_FLAG_ALLOW_STALE, &down);
    CU_ASSERT_EQUAL(rt.kind, ZKV__ROUTE_SEND);
    CU_ASSERT_STRING_EQUAL(rt.node->id, "node-3");
    CU_ASSERT_TRUE(rt.replica);
    zkv__down_add(&down, "node-3");
    rt = route(m, "c", 1, ZKV__READ, ZKV_FLAG_ALLOW_STALE, &down);
    CU_ASSERT_STRING_EQUAL(rt.node->id, "node-1");
    zkv__down_add(&down, "node-1");
    rt = route(m, "c", 1, ZKV__READ, ZKV_FLAG_ALLOW_STALE, &down);
    CU_ASSERT_EQUAL(rt.kind, ZKV__ROUTE_ALL_DOWN);
    CU_ASSERT_PTR_NULL(rt.not_live);
    /* a write with the owner down waits for the owner; replicas are not asked */
    zkv__down_clear(&down);
    zkv__down_add(&down, "node-2");
    rt = route(m, "c", 1, ZKV__WRITE, ZKV_FLAG_ALLOW_STALE, &down);
    CU_ASSERT_EQUAL(rt.kind, ZKV__ROUTE_ALL_DOWN);
    zkv_rangemap_free(m);
}

static void test_down_set(void)
{
    zkv__down d = {.n = 0};
    CU_ASSERT_FALSE(zkv__down_has(&d, "a"));
    CU_ASSERT_FALSE(zkv__down_has(NULL, "a"));
    zkv__down_add(&d, "a");
    zkv__down_add(&d, "a");
    CU_ASSERT_EQUAL(d.n, 1);
    char id[16];
    for (int i = 0; i < ZKV__DOWN_MAX + 3; i++) {
        snprintf(id, sizeof id, "n%d", i);
        zkv__down_add(&d, id);
    }
    CU_ASSERT_EQUAL(d.n, ZKV__DOWN_MAX);
    CU_ASSERT_TRUE(zkv__down_has(&d, id)); /* the newest is kept, the oldest forgotten */
    CU_ASSERT_FALSE(zkv__down_has(&d, "a"));
    zkv__down_clear(&d);
    CU_ASSERT_FALSE(zkv__down_has(&d, id));
}

static void test_status_to_code(void)
{
    CU_ASSERT_EQUAL(zkv__status_to_code(ZKV__STATUS__OK), ZKV_OK);
    CU_ASSERT_EQUAL(zkv__status_to_code(ZKV__STATUS__NOT_FOUND), ZKV_ENOTFOUND);
    CU_ASSERT_EQUAL(zkv__status_to_code(ZKV__STATUS__NOT_OWNER), ZKV_ENOTOWNER);
    CU_ASSERT_EQUAL(zkv__status_to_code(ZKV__STATUS__UNAVAILABLE), ZKV_EUNAVAILABLE);
    CU_ASSERT_EQUAL(zkv__status_to_code(ZKV__STATUS__TOO_LARGE), ZKV_ETOOLARGE);
    CU_ASSERT_EQUAL(zkv__status_to_code(ZKV__STATUS__BAD_REQUEST), ZKV_EBADREQUEST);
    CU_ASSERT_EQUAL(zkv__status_to_code(ZKV__STATUS__TIMEOUT), ZKV_ETIMEOUT);
    CU_ASSERT_EQUAL(zkv__status_to_code(ZKV__STATUS__INTERNAL), ZKV_EINTERNAL);
    CU_ASSERT_EQUAL(zkv__status_to_code(99), ZKV_EPROTOCOL);
}

static void test_backoff(void)
{
    unsigned want[] = {5, 10, 20, 40, 80, 100, 100, 100};
    for (unsigned i = 0; i < 8; i++)
        CU_ASSERT_EQUAL(zkv__backoff_ms(i), want[i]);
    CU_ASSERT_EQUAL(zkv__backoff_ms(1000), 100);
}

static zkv__call_state state(unsigned retries, uint64_t now, uint64_t deadline)
{
    zkv__call_state st = {
        .retries = retries, .map_version = 7, .now_ms = now, .deadline_ms = deadline};
    return st;
}

static zkv__next response(int status, uint64_t node_version, bool stale_ok, bool replica,
                          const zkv__call_state *st)
{
    zkv__outcome o = {.event = ZKV__EV_RESPONSE,
                      .status = status,
                      .node_map_version = node_version,
                      .stale_ok = stale_ok,
                      .to_replica = replica};
    return zkv__route_decide(&o, st);
}

static void test_decide_final_statuses(void)
{
    zkv__call_state st = state(0, 1000, 6000);
    zkv__next nx = response(ZKV__STATUS__OK, 7, false, false, &st);
    CU_ASSERT_EQUAL(nx.kind, ZKV__NEXT_DONE);
    CU_ASSERT_EQUAL(nx.code, ZKV_OK);
    nx = response(ZKV__STATUS__NOT_FOUND, 7, false, false, &st);
    CU_ASSERT_EQUAL(nx.kind, ZKV__NEXT_DONE);
    CU_ASSERT_EQUAL(nx.code, ZKV_ENOTFOUND);
    int statuses[] = {ZKV__STATUS__TOO_LARGE, ZKV__STATUS__BAD_REQUEST, ZKV__STATUS__TIMEOUT,
                      ZKV__STATUS__INTERNAL};
    int codes[] = {ZKV_ETOOLARGE, ZKV_EBADREQUEST, ZKV_ETIMEOUT, ZKV_EINTERNAL};
    for (int i = 0; i < 4; i++) {
        nx = response(statuses[i], 7, false, false, &st);
        CU_ASSERT_EQUAL(nx.kind, ZKV__NEXT_FAIL);
        CU_ASSERT_EQUAL(nx.code, codes[i]);
    }
}

static void test_decide_not_owner(void)
{
    /* node knows a newer map: forced reload, short backoff */
    zkv__call_state st = state(0, 1000, 6000);
    zkv__next nx = response(ZKV__STATUS__NOT_OWNER, 8, false, false, &st);
    CU_ASSERT_EQUAL(nx.kind, ZKV__NEXT_RETRY);
    CU_ASSERT_EQUAL(nx.code, ZKV_ENOTOWNER);
    CU_ASSERT_TRUE(nx.refresh);
    CU_ASSERT_TRUE(nx.force_refresh);
    CU_ASSERT_EQUAL(nx.backoff_ms, 5);
    CU_ASSERT_FALSE(nx.mark_down);
    /* node is behind us: reload only if a watch fired, back off longer each time */
    st = state(3, 1000, 6000);
    nx = response(ZKV__STATUS__NOT_OWNER, 6, false, false, &st);
    CU_ASSERT_EQUAL(nx.kind, ZKV__NEXT_RETRY);
    CU_ASSERT_FALSE(nx.force_refresh);
    CU_ASSERT_TRUE(nx.refresh);
    CU_ASSERT_EQUAL(nx.backoff_ms, 40);
    /* budget exhausted: ENOTOWNER */
    st = state(6, 5950, 6000);
    nx = response(ZKV__STATUS__NOT_OWNER, 8, false, false, &st);
    CU_ASSERT_EQUAL(nx.kind, ZKV__NEXT_FAIL);
    CU_ASSERT_EQUAL(nx.code, ZKV_ENOTOWNER);
    /* a replica that does not serve the range: next candidate, no wait */
    st = state(0, 1000, 6000);
    nx = response(ZKV__STATUS__NOT_OWNER, 7, true, true, &st);
    CU_ASSERT_EQUAL(nx.kind, ZKV__NEXT_RETRY);
    CU_ASSERT_TRUE(nx.mark_down);
    CU_ASSERT_EQUAL(nx.backoff_ms, 0);
}

static void test_decide_unavailable_stale(void)
{
    zkv__call_state st = state(1, 1000, 6000);
    /* the owner cannot serve (starting, lost its session): back off, re-read the map */
    zkv__next nx = response(ZKV__STATUS__UNAVAILABLE, 7, false, false, &st);
    CU_ASSERT_EQUAL(nx.kind, ZKV__NEXT_RETRY);
    CU_ASSERT_EQUAL(nx.code, ZKV_EUNAVAILABLE);
    CU_ASSERT_TRUE(nx.force_refresh);
    CU_ASSERT_EQUAL(nx.backoff_ms, 10);
    CU_ASSERT_FALSE(nx.mark_down);
    /* ...until the budget is spent */
    st = state(1, 5995, 6000);
    nx = response(ZKV__STATUS__UNAVAILABLE, 7, false, false, &st);
    CU_ASSERT_EQUAL(nx.kind, ZKV__NEXT_FAIL);
    CU_ASSERT_EQUAL(nx.code, ZKV_EUNAVAILABLE);
    /* a stale-tolerant read tries a replica at once */
    st = state(0, 1000, 6000);
    nx = response(ZKV__STATUS__UNAVAILABLE, 7, true, false, &st);
    CU_ASSERT_EQUAL(nx.kind, ZKV__NEXT_RETRY);
    CU_ASSERT_TRUE(nx.mark_down);
    CU_ASSERT_EQUAL(nx.backoff_ms, 0);
    /* a replica saying UNAVAILABLE is final */
    nx = response(ZKV__STATUS__UNAVAILABLE, 7, true, true, &st);
    CU_ASSERT_EQUAL(nx.kind, ZKV__NEXT_FAIL);
    CU_ASSERT_EQUAL(nx.code, ZKV_EUNAVAILABLE);
}

static void test_decide_io(void)
{
    zkv__call_state st = state(0, 1000, 6000);
    zkv__outcome o = {.event = ZKV__EV_IO, .io_code = ZKV_ECONNECT};
    zkv__next nx = zkv__route_decide(&o, &st);
    CU_ASSERT_EQUAL(nx.kind, ZKV__NEXT_RETRY);
    CU_ASSERT_TRUE(nx.mark_down);
    CU_ASSERT_EQUAL(nx.backoff_ms, 0);
    CU_ASSERT_EQUAL(nx.code, ZKV_ECONNECT);
    /* a node refusing HELLO because it is still joining is skipped like an unreachable one */
    o.io_code = ZKV_EUNAVAILABLE;
    nx = zkv__route_decide(&o, &st);
    CU_ASSERT_EQUAL(nx.kind, ZKV__NEXT_RETRY);
    CU_ASSERT_TRUE(nx.mark_down);
    CU_ASSERT_EQUAL(nx.code, ZKV_EUNAVAILABLE);
    /* timeout at the deadline is final */
    st = state(0, 6000, 6000);
    o.io_code = ZKV_ETIMEOUT;
    nx = zkv__route_decide(&o, &st);
    CU_ASSERT_EQUAL(nx.kind, ZKV__NEXT_FAIL);
    CU_ASSERT_EQUAL(nx.code, ZKV_ETIMEOUT);
    /* an attempt's share ran out (stale read), the call's budget did not */
    st = state(0, 3000, 6000);
    nx = zkv__route_decide(&o, &st);
    CU_ASSERT_EQUAL(nx.kind, ZKV__NEXT_RETRY);
    CU_ASSERT_TRUE(nx.mark_down);
    /* protocol errors and wrong clusters are not retried */
    o.io_code = ZKV_EPROTOCOL;
    CU_ASSERT_EQUAL(zkv__route_decide(&o, &st).kind, ZKV__NEXT_FAIL);
    o.io_code = ZKV_ENOCLUSTER;
    nx = zkv__route_decide(&o, &st);
    CU_ASSERT_EQUAL(nx.kind, ZKV__NEXT_FAIL);
    CU_ASSERT_EQUAL(nx.code, ZKV_ENOCLUSTER);
}

static void test_decide_all_down_and_no_owner(void)
{
    zkv__call_state st = state(2, 1000, 6000);
    zkv__outcome o = {.event = ZKV__EV_ALL_DOWN, .io_code = ZKV_ECONNECT};
    zkv__next nx = zkv__route_decide(&o, &st);
    CU_ASSERT_EQUAL(nx.kind, ZKV__NEXT_RETRY);
    CU_ASSERT_TRUE(nx.clear_down);
    CU_ASSERT_TRUE(nx.force_refresh);
    CU_ASSERT_EQUAL(nx.backoff_ms, 20);
    st = state(2, 5990, 6000);
    nx = zkv__route_decide(&o, &st);
    CU_ASSERT_EQUAL(nx.kind, ZKV__NEXT_FAIL);
    CU_ASSERT_EQUAL(nx.code, ZKV_ECONNECT);
    o.io_code = 0; /* owner simply not live, nothing tried */
    nx = zkv__route_decide(&o, &st);
    CU_ASSERT_EQUAL(nx.code, ZKV_ECONNECT);

    /* no owner: one forced reload, then EUNAVAILABLE */
    st = state(0, 1000, 6000);
    zkv__outcome no = {.event = ZKV__EV_NO_OWNER};
    nx = zkv__route_decide(&no, &st);
    CU_ASSERT_EQUAL(nx.kind, ZKV__NEXT_RETRY);
    CU_ASSERT_TRUE(nx.force_refresh);
    CU_ASSERT_EQUAL(nx.backoff_ms, 0);
    st.forced_refresh = true;
    nx = zkv__route_decide(&no, &st);
    CU_ASSERT_EQUAL(nx.kind, ZKV__NEXT_FAIL);
    CU_ASSERT_EQUAL(nx.code, ZKV_EUNAVAILABLE);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("client_route", NULL, NULL);
    CU_add_test(s, "binary keys at range edges", test_route_binary_edges);
    CU_add_test(s, "range without owner", test_route_no_owner);
    CU_add_test(s, "owner not live", test_route_unknown_owner);
    CU_add_test(s, "stale reads fall back to replicas", test_route_stale_fallback_order);
    CU_add_test(s, "down set", test_down_set);
    CU_add_test(s, "status to code", test_status_to_code);
    CU_add_test(s, "backoff", test_backoff);
    CU_add_test(s, "final statuses", test_decide_final_statuses);
    CU_add_test(s, "NOT_OWNER retries", test_decide_not_owner);
    CU_add_test(s, "UNAVAILABLE and stale reads", test_decide_unavailable_stale);
    CU_add_test(s, "I/O outcomes", test_decide_io);
    CU_add_test(s, "all down, no owner", test_decide_all_down_and_no_owner);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
