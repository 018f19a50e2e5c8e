/* Unit tests of client/src/route.c: which node a key goes to (binary keys at range edges,
 * ranges without owner, owners that are not live, reads falling back to replicas in_sync
 * first then by id, ZKV_FLAG_OWNER_ONLY, ZKV_FLAG_READ_REPLICA with zone preference, nodes
 * marked down), the wire flags, and what to do after each attempt (status -> code,
 * NOT_OWNER refresh and backoff, unreachable nodes, failfast waiting for a new owner,
 * the time budget, the UNAVAILABLE messages), and the parts the blocking and the async
 * loops share: an attempt's budget and skip, what a retry changes in a call's state, the
 * texts kept of failed attempts and the wording of the final error. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zkv/zkv.h"
#include "common/frame.h"
#include "common/keyrange.h"
#include "common/rangemap.h"
#include "options.h"
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
    zkv__route_key(m, (const uint8_t *)key, klen, op, flags, NULL, down, &rt);
    return rt;
}

static zkv__route route_zone(const zkv_rangemap *m, const char *key, unsigned flags,
                             const char *zone, const zkv__down *down)
{
    zkv__route rt;
    zkv__route_key(m, (const uint8_t *)key, strlen(key), ZKV__READ, flags, zone, down, &rt);
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
    CU_ASSERT_EQUAL(rt.owner, ZKV__OWNER_NONE);
    CU_ASSERT_STRING_EQUAL(rt.range->id, "r0002");
    /* no replicas either: a read has nowhere to go */
    rt = route(m, "\xff", 1, ZKV__READ, 0, NULL);
    CU_ASSERT_EQUAL(rt.kind, ZKV__ROUTE_NO_OWNER);
    CU_ASSERT_EQUAL(rt.n_candidates, 0);
    /* a range whose owner is gone but that has a replica serves reads by default */
    strcpy(m->ranges[2].replicas[0], "node-3");
    m->ranges[2].n_replicas = 1;
    rt = route(m, "\xff", 1, ZKV__READ, 0, NULL);
    CU_ASSERT_EQUAL(rt.kind, ZKV__ROUTE_SEND);
    CU_ASSERT_STRING_EQUAL(rt.node->id, "node-3");
    CU_ASSERT_TRUE(rt.replica);
    CU_ASSERT_EQUAL(rt.owner, ZKV__OWNER_NONE);
    /* ...but never writes, nor owner-only reads */
    rt = route(m, "\xff", 1, ZKV__WRITE, ZKV_FLAG_READ_REPLICA, NULL);
    CU_ASSERT_EQUAL(rt.kind, ZKV__ROUTE_NO_OWNER);
    rt = route(m, "\xff", 1, ZKV__READ, ZKV_FLAG_OWNER_ONLY, NULL);
    CU_ASSERT_EQUAL(rt.kind, ZKV__ROUTE_NO_OWNER);
    zkv_rangemap_free(m);
}

static void test_route_unknown_owner(void)
{
    zkv_rangemap *m = test_map();
    strcpy(m->ranges[0].owner, "node-9"); /* not in nodes/: its session is gone */
    zkv__route rt = route(m, "a", 1, ZKV__WRITE, 0, NULL);
    CU_ASSERT_EQUAL(rt.kind, ZKV__ROUTE_ALL_DOWN);
    CU_ASSERT_EQUAL(rt.owner, ZKV__OWNER_NOT_LIVE);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rt.not_live);
    CU_ASSERT_STRING_EQUAL(rt.not_live, "node-9");
    CU_ASSERT_PTR_NULL(rt.node);
    /* a read goes straight to a replica: no attempt on an owner that is not live */
    strcpy(m->ranges[0].replicas[0], "node-2");
    m->ranges[0].n_replicas = 1;
    rt = route(m, "a", 1, ZKV__READ, 0, NULL);
    CU_ASSERT_EQUAL(rt.kind, ZKV__ROUTE_SEND);
    CU_ASSERT_STRING_EQUAL(rt.node->id, "node-2");
    CU_ASSERT_TRUE(rt.replica);
    CU_ASSERT_EQUAL(rt.owner, ZKV__OWNER_NOT_LIVE);
    /* owner-only: nothing to ask */
    rt = route(m, "a", 1, ZKV__READ, ZKV_FLAG_OWNER_ONLY, NULL);
    CU_ASSERT_EQUAL(rt.kind, ZKV__ROUTE_ALL_DOWN);
    zkv_rangemap_free(m);
}

static void test_route_fallback_order(void)
{
    zkv_rangemap *m = test_map();
    zkv__down down = {.n = 0};
    /* owner first */
    zkv__route rt = route(m, "c", 1, ZKV__READ, 0, &down);
    CU_ASSERT_STRING_EQUAL(rt.node->id, "node-2");
    CU_ASSERT_FALSE(rt.replica);
    CU_ASSERT_EQUAL(rt.n_candidates, 3);
    /* owner down: the in-sync replica (node-3) before the lagging one (node-1) */
    zkv__down_add(&down, "node-2");
    rt = route(m, "c", 1, ZKV__READ, 0, &down);
    CU_ASSERT_EQUAL(rt.kind, ZKV__ROUTE_SEND);
    CU_ASSERT_STRING_EQUAL(rt.node->id, "node-3");
    CU_ASSERT_TRUE(rt.replica);
    zkv__down_add(&down, "node-3");
    rt = route(m, "c", 1, ZKV__READ, 0, &down);
    CU_ASSERT_STRING_EQUAL(rt.node->id, "node-1");
    zkv__down_add(&down, "node-1");
    rt = route(m, "c", 1, ZKV__READ, 0, &down);
    CU_ASSERT_EQUAL(rt.kind, ZKV__ROUTE_ALL_DOWN);
    CU_ASSERT_PTR_NULL(rt.not_live);
    /* a write with the owner down waits for the owner; replicas are not asked */
    zkv__down_clear(&down);
    zkv__down_add(&down, "node-2");
    rt = route(m, "c", 1, ZKV__WRITE, 0, &down);
    CU_ASSERT_EQUAL(rt.kind, ZKV__ROUTE_ALL_DOWN);
    CU_ASSERT_EQUAL(rt.n_candidates, 1);
    /* owner-only reads too */
    rt = route(m, "c", 1, ZKV__READ, ZKV_FLAG_OWNER_ONLY, &down);
    CU_ASSERT_EQUAL(rt.kind, ZKV__ROUTE_ALL_DOWN);
    zkv_rangemap_free(m);
}

/* Candidates in order, as "id,id,..." with a '*' after replicas. */
static void cands_str(const zkv_rangemap *m, const zkv_range *r, zkv__op_kind op, unsigned flags,
                      const char *zone, char *out, size_t outlen)
{
    zkv__cand c[ZKV__CAND_MAX];
    size_t n = zkv__route_candidates(m, r, op, flags, zone, c);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(out);
        snprintf(out + len, outlen - len, "%s%s%s", i ? "," : "", c[i].id, c[i].replica ? "*" : "");
    }
}

static void test_candidates_sorted(void)
{
    zkv_rangemap *m = test_map();
    zkv_range *r = &m->ranges[1];
    /* replicas listed out of id order; in_sync: node-5 and node-3; the owner listed too */
    const char *reps[] = {"node-6", "node-5", "node-2", "node-4", "node-3"};
    for (int i = 0; i < 5; i++)
        strcpy(r->replicas[i], reps[i]);
    r->n_replicas = 5;
    strcpy(r->in_sync[0], "node-5");
    strcpy(r->in_sync[1], "node-3");
    r->n_in_sync = 2;
    char s[256];
    cands_str(m, r, ZKV__READ, 0, NULL, s, sizeof s);
    CU_ASSERT_STRING_EQUAL(s, "node-2,node-3*,node-5*,node-4*,node-6*");
    cands_str(m, r, ZKV__WRITE, 0, NULL, s, sizeof s);
    CU_ASSERT_STRING_EQUAL(s, "node-2");
    cands_str(m, r, ZKV__READ, ZKV_FLAG_OWNER_ONLY, NULL, s, sizeof s);
    CU_ASSERT_STRING_EQUAL(s, "node-2");
    /* READ_REPLICA without a zone: replicas only, in_sync first */
    cands_str(m, r, ZKV__READ, ZKV_FLAG_READ_REPLICA, NULL, s, sizeof s);
    CU_ASSERT_STRING_EQUAL(s, "node-3*,node-5*,node-4*,node-6*");
    cands_str(m, r, ZKV__READ, ZKV_FLAG_READ_REPLICA, "", s, sizeof s);
    CU_ASSERT_STRING_EQUAL(s, "node-3*,node-5*,node-4*,node-6*");
    zkv_rangemap_free(m);
}

static void test_read_replica_zone(void)
{
    zkv_rangemap *m = test_map();
    /* node-1 (lagging) is in zone "b" with the client; node-3 (in sync) in zone "a" */
    strcpy(m->nodes[0].zone, "b");
    strcpy(m->nodes[2].zone, "a");
    zkv__route rt = route_zone(m, "c", ZKV_FLAG_READ_REPLICA, "b", NULL);
    CU_ASSERT_EQUAL(rt.kind, ZKV__ROUTE_SEND);
    CU_ASSERT_STRING_EQUAL(rt.node->id, "node-1"); /* same zone beats in_sync */
    CU_ASSERT_TRUE(rt.replica);
    rt = route_zone(m, "c", ZKV_FLAG_READ_REPLICA, "a", NULL);
    CU_ASSERT_STRING_EQUAL(rt.node->id, "node-3");
    /* a zone nobody is in: in_sync first */
    rt = route_zone(m, "c", ZKV_FLAG_READ_REPLICA, "z", NULL);
    CU_ASSERT_STRING_EQUAL(rt.node->id, "node-3");
    /* the owner is never asked, even with every replica down */
    zkv__down down = {.n = 0};
    zkv__down_add(&down, "node-1");
    zkv__down_add(&down, "node-3");
    rt = route_zone(m, "c", ZKV_FLAG_READ_REPLICA, "b", &down);
    CU_ASSERT_EQUAL(rt.kind, ZKV__ROUTE_ALL_DOWN);
    /* the zone matters only with READ_REPLICA: a plain read asks the owner */
    rt = route_zone(m, "c", 0, "b", NULL);
    CU_ASSERT_STRING_EQUAL(rt.node->id, "node-2");
    CU_ASSERT_FALSE(rt.replica);
    /* a range without replicas: nothing to read */
    rt = route_zone(m, "a", ZKV_FLAG_READ_REPLICA, "b", NULL);
    CU_ASSERT_EQUAL(rt.kind, ZKV__ROUTE_NO_OWNER);
    zkv_rangemap_free(m);
}

static void test_wire_flags_and_check(void)
{
    CU_ASSERT_EQUAL(zkv__wire_flags(ZKV__READ, 0, false), 0);
    CU_ASSERT_EQUAL(zkv__wire_flags(ZKV__READ, 0, true), ZKV__REQUEST_FLAG__FLAG_ALLOW_STALE);
    CU_ASSERT_EQUAL(zkv__wire_flags(ZKV__READ, ZKV_FLAG_READ_REPLICA, true),
                    ZKV__REQUEST_FLAG__FLAG_ALLOW_STALE);
    /* never to the owner: a deposed owner must answer NOT_OWNER, not a stale value */
    CU_ASSERT_EQUAL(zkv__wire_flags(ZKV__READ, ZKV_FLAG_ACK_OWNER, false), 0);
    CU_ASSERT_EQUAL(zkv__wire_flags(ZKV__WRITE, ZKV_FLAG_ACK_OWNER, false),
                    ZKV__REQUEST_FLAG__FLAG_ACK_OWNER);
    CU_ASSERT_EQUAL(zkv__wire_flags(ZKV__WRITE, ZKV_FLAG_READ_REPLICA | ZKV_FLAG_OWNER_ONLY, false),
                    0);
    char err[128];
    CU_ASSERT_EQUAL(zkv__flags_check(0, err, sizeof err), 0);
    CU_ASSERT_EQUAL(zkv__flags_check(ZKV_FLAG_READ_REPLICA | ZKV_FLAG_ACK_OWNER, err, sizeof err),
                    0);
    CU_ASSERT_EQUAL(zkv__flags_check(ZKV_FLAG_READ_NEAREST | ZKV_FLAG_HEDGE | ZKV_FLAG_ACK_OWNER,
                                     err, sizeof err),
                    0);
    const unsigned clash[][2] = {{ZKV_FLAG_READ_NEAREST, ZKV_FLAG_OWNER_ONLY},
                                 {ZKV_FLAG_HEDGE, ZKV_FLAG_OWNER_ONLY},
                                 {ZKV_FLAG_READ_NEAREST, ZKV_FLAG_READ_REPLICA},
                                 {ZKV_FLAG_HEDGE, ZKV_FLAG_READ_REPLICA}};
    for (size_t i = 0; i < sizeof clash / sizeof clash[0]; i++) {
        CU_ASSERT_EQUAL(zkv__flags_check(clash[i][0] | clash[i][1], err, sizeof err), -1);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "exclude"));
    }
    CU_ASSERT_EQUAL(zkv__flags_check(ZKV__FLAG_BOUNDED, err, sizeof err), -1); /* internal */
    CU_ASSERT_EQUAL(zkv__flags_check(ZKV_FLAG_OWNER_ONLY | ZKV_FLAG_ACK_OWNER, err, sizeof err), 0);
    CU_ASSERT_EQUAL(zkv__flags_check(1u << 9, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "0x200"));
    CU_ASSERT_EQUAL(zkv__flags_check(ZKV_FLAG_READ_REPLICA | ZKV_FLAG_OWNER_ONLY, err, sizeof err),
                    -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "exclude"));
}

static void test_down_set(void)
{
    zkv__down d = {.n = 0};
    CU_ASSERT_FALSE(zkv__down_has(&d, "a"));
    CU_ASSERT_FALSE(zkv__down_has(NULL, "a"));
    zkv__down_add(&d, "a");
    zkv__down_add(&d, "a");
    CU_ASSERT_EQUAL(d.n, 1);
    CU_ASSERT_STRING_EQUAL(zkv__down_why(&d, "a"), "");
    zkv__down_add_why(&d, "a", "connection refused");
    CU_ASSERT_EQUAL(d.n, 1);
    CU_ASSERT_STRING_EQUAL(zkv__down_why(&d, "a"), "connection refused");
    zkv__down_add(&d, "a"); /* no reason: keeps the one it had */
    CU_ASSERT_STRING_EQUAL(zkv__down_why(&d, "a"), "connection refused");
    CU_ASSERT_STRING_EQUAL(zkv__down_why(&d, "b"), "");
    char id[16];
    for (int i = 0; i < ZKV__DOWN_MAX + 3; i++) {
        snprintf(id, sizeof id, "n%d", i);
        zkv__down_add_why(&d, id, id);
    }
    CU_ASSERT_EQUAL(d.n, ZKV__DOWN_MAX);
    CU_ASSERT_TRUE(zkv__down_has(&d, id)); /* the newest is kept, the oldest forgotten */
    CU_ASSERT_STRING_EQUAL(zkv__down_why(&d, id), id);
    CU_ASSERT_STRING_EQUAL(zkv__down_why(&d, "n5"), "n5"); /* reasons moved with their ids */
    CU_ASSERT_FALSE(zkv__down_has(&d, "a"));
    zkv__down_clear(&d);
    CU_ASSERT_FALSE(zkv__down_has(&d, id));
}

static void test_short_reason(void)
{
    CU_ASSERT_STRING_EQUAL(
        zkv__short_reason("node node-2 at 127.0.0.1:7402 unreachable: connection refused"),
        "connection refused");
    CU_ASSERT_STRING_EQUAL(zkv__short_reason("connection to node n at a lost: x: reset"), "reset");
    CU_ASSERT_STRING_EQUAL(zkv__short_reason("node n at a did not answer"),
                           "node n at a did not answer");
    CU_ASSERT_STRING_EQUAL(zkv__short_reason("trailing: "), "trailing: ");
    CU_ASSERT_STRING_EQUAL(zkv__short_reason(""), "");
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
    /* replication statuses are never an answer to a client's request */
    CU_ASSERT_EQUAL(zkv__status_to_code(ZKV__STATUS__STALE_EPOCH), ZKV_EPROTOCOL);
    CU_ASSERT_EQUAL(zkv__status_to_code(ZKV__STATUS__LOG_MISMATCH), ZKV_EPROTOCOL);
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
    zkv__call_state st = {.retries = retries,
                          .map_version = 7,
                          .now_ms = now,
                          .deadline_ms = deadline,
                          .failfast_ms = 1000};
    return st;
}

static zkv__next response(int status, uint64_t node_version, bool fallback, bool replica,
                          const zkv__call_state *st)
{
    zkv__outcome o = {.event = ZKV__EV_RESPONSE,
                      .status = status,
                      .node_map_version = node_version,
                      .fallback = fallback,
                      .to_replica = replica,
                      .owner = "node-2",
                      .owner_live = true};
    return zkv__route_decide(&o, st);
}

/* Zones for the replica-read tests: node-1 (lagging replica of r0001) in "b", node-2 (its
 * owner) in "c", node-3 (in-sync replica) in "a". */
static zkv_rangemap *zoned_map(void)
{
    zkv_rangemap *m = test_map();
    strcpy(m->nodes[0].zone, "b");
    strcpy(m->nodes[1].zone, "c");
    strcpy(m->nodes[2].zone, "a");
    return m;
}

static void test_read_nearest(void)
{
    zkv_rangemap *m = zoned_map();
    zkv__cand c[ZKV__CAND_MAX];
    /* the client's zone holds a lagging replica: it first, then the owner, then the rest */
    size_t n = zkv__route_candidates(m, &m->ranges[1], ZKV__READ, ZKV_FLAG_READ_NEAREST, "b", c);
    CU_ASSERT_EQUAL_FATAL(n, 3);
    CU_ASSERT_STRING_EQUAL(c[0].id, "node-1");
    CU_ASSERT_TRUE(c[0].replica);
    CU_ASSERT_STRING_EQUAL(c[1].id, "node-2");
    CU_ASSERT_FALSE(c[1].replica);
    CU_ASSERT_STRING_EQUAL(c[2].id, "node-3");
    /* the owner's zone: the owner (fresh) */
    zkv__route rt = route_zone(m, "c", ZKV_FLAG_READ_NEAREST, "c", NULL);
    CU_ASSERT_STRING_EQUAL(rt.node->id, "node-2");
    CU_ASSERT_FALSE(rt.replica);
    rt = route_zone(m, "c", ZKV_FLAG_READ_NEAREST, "a", NULL);
    CU_ASSERT_STRING_EQUAL(rt.node->id, "node-3");
    CU_ASSERT_TRUE(rt.replica);
    /* no zone, or one nobody is in: the owner */
    rt = route_zone(m, "c", ZKV_FLAG_READ_NEAREST, "", NULL);
    CU_ASSERT_STRING_EQUAL(rt.node->id, "node-2");
    rt = route_zone(m, "c", ZKV_FLAG_READ_NEAREST, "z", NULL);
    CU_ASSERT_STRING_EQUAL(rt.node->id, "node-2");
    /* the nearest down: the owner next */
    zkv__down down = {.n = 0};
    zkv__down_add(&down, "node-1");
    rt = route_zone(m, "c", ZKV_FLAG_READ_NEAREST, "b", &down);
    CU_ASSERT_STRING_EQUAL(rt.node->id, "node-2");
    /* writes ignore it */
    n = zkv__route_candidates(m, &m->ranges[1], ZKV__WRITE, ZKV_FLAG_READ_NEAREST, "b", c);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_STRING_EQUAL(c[0].id, "node-2");
    /* a plain read's fallback order puts the client's zone first too */
    n = zkv__route_candidates(m, &m->ranges[1], ZKV__READ, 0, "b", c);
    CU_ASSERT_EQUAL_FATAL(n, 3);
    CU_ASSERT_STRING_EQUAL(c[0].id, "node-2");
    CU_ASSERT_STRING_EQUAL(c[1].id, "node-1");
    zkv_rangemap_free(m);
}

static void test_bounded_read_replica(void)
{
    zkv_rangemap *m = zoned_map();
    zkv__cand c[ZKV__CAND_MAX];
    /* with a staleness bound, READ_REPLICA asks the owner after the replicas */
    unsigned f = ZKV_FLAG_READ_REPLICA | ZKV__FLAG_BOUNDED;
    size_t n = zkv__route_candidates(m, &m->ranges[1], ZKV__READ, f, "", c);
    CU_ASSERT_EQUAL_FATAL(n, 3);
    CU_ASSERT_STRING_EQUAL(c[0].id, "node-3");
    CU_ASSERT_STRING_EQUAL(c[1].id, "node-1");
    CU_ASSERT_STRING_EQUAL(c[2].id, "node-2");
    CU_ASSERT_FALSE(c[2].replica);
    zkv__down down = {.n = 0};
    zkv__down_add(&down, "node-1");
    zkv__down_add(&down, "node-3");
    zkv__route rt = route_zone(m, "c", f, "", &down);
    CU_ASSERT_EQUAL(rt.kind, ZKV__ROUTE_SEND);
    CU_ASSERT_STRING_EQUAL(rt.node->id, "node-2");
    CU_ASSERT_FALSE(rt.replica);
    /* the internal bit comes from the options */
    struct zkv_options o;
    memset(&o, 0, sizeof o);
    CU_ASSERT_EQUAL(zkv__route_flags(ZKV_FLAG_READ_REPLICA, &o), ZKV_FLAG_READ_REPLICA);
    o.max_lag_entries = 5;
    CU_ASSERT_EQUAL(zkv__route_flags(ZKV_FLAG_READ_REPLICA, &o), f);
    /* the bound travels with reads sent to replicas only */
    o.max_lag_ms = 250;
    Zkv__Request req = ZKV__REQUEST__INIT;
    zkv__stamp(&req, ZKV__READ, 0, true, &o);
    CU_ASSERT_EQUAL(req.flags, ZKV__REQUEST_FLAG__FLAG_ALLOW_STALE);
    CU_ASSERT_EQUAL(req.max_lag_ms, 250);
    CU_ASSERT_EQUAL(req.max_lag_entries, 5);
    zkv__stamp(&req, ZKV__READ, 0, false, &o);
    CU_ASSERT_EQUAL(req.flags, 0);
    CU_ASSERT_EQUAL(req.max_lag_ms, 0);
    CU_ASSERT_EQUAL(req.max_lag_entries, 0);
    zkv__stamp(&req, ZKV__WRITE, ZKV_FLAG_ACK_OWNER, false, &o);
    CU_ASSERT_EQUAL(req.flags, ZKV__REQUEST_FLAG__FLAG_ACK_OWNER);
    CU_ASSERT_EQUAL(req.max_lag_ms, 0);
    /* a replica too far behind: the next candidate at once, ZKV_EUNAVAILABLE in the end */
    zkv__call_state st = state(0, 1000, 6000);
    zkv__next nx = response(ZKV__STATUS__TOO_STALE, 7, true, true, &st);
    CU_ASSERT_EQUAL(nx.kind, ZKV__NEXT_RETRY);
    CU_ASSERT_TRUE(nx.mark_down);
    CU_ASSERT_EQUAL(nx.backoff_ms, 0);
    CU_ASSERT_EQUAL(nx.code, ZKV_EUNAVAILABLE);
    CU_ASSERT_TRUE(zkv__node_refusal(ZKV__STATUS__TOO_STALE));
    CU_ASSERT_TRUE(zkv__node_refusal(ZKV__STATUS__UNAVAILABLE));
    CU_ASSERT_FALSE(zkv__node_refusal(ZKV__STATUS__NOT_OWNER));
    CU_ASSERT_EQUAL(zkv__status_to_code(ZKV__STATUS__TOO_STALE), ZKV_EUNAVAILABLE);
    zkv_rangemap_free(m);
}

static void test_hedge_target(void)
{
    zkv_rangemap *m = zoned_map();
    zkv__route rt = route_zone(m, "c", ZKV_FLAG_HEDGE, "", NULL);
    CU_ASSERT_STRING_EQUAL(rt.node->id, "node-2");
    const zkv_node_info *h = zkv__hedge_target(m, &rt, ZKV__READ, ZKV_FLAG_HEDGE, "", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    CU_ASSERT_STRING_EQUAL(h->id, "node-3"); /* in sync first */
    h = zkv__hedge_target(m, &rt, ZKV__READ, ZKV_FLAG_HEDGE, "b", NULL);
    CU_ASSERT_STRING_EQUAL(h->id, "node-1"); /* the client's zone first */
    zkv__down down = {.n = 0};
    zkv__down_add(&down, "node-1");
    h = zkv__hedge_target(m, &rt, ZKV__READ, ZKV_FLAG_HEDGE, "b", &down);
    CU_ASSERT_STRING_EQUAL(h->id, "node-3");
    zkv__down_add(&down, "node-3");
    CU_ASSERT_PTR_NULL(zkv__hedge_target(m, &rt, ZKV__READ, ZKV_FLAG_HEDGE, "b", &down));
    /* not without the flag, not for writes, not when the route is a replica already */
    CU_ASSERT_PTR_NULL(zkv__hedge_target(m, &rt, ZKV__READ, 0, "", NULL));
    CU_ASSERT_PTR_NULL(zkv__hedge_target(m, &rt, ZKV__WRITE, ZKV_FLAG_HEDGE, "", NULL));
    zkv__route rr = route_zone(m, "c", ZKV_FLAG_HEDGE | ZKV_FLAG_READ_NEAREST, "a", NULL);
    CU_ASSERT_TRUE(rr.replica);
    CU_ASSERT_PTR_NULL(
        zkv__hedge_target(m, &rr, ZKV__READ, ZKV_FLAG_HEDGE | ZKV_FLAG_READ_NEAREST, "a", NULL));
    /* a range without replicas: nothing to hedge to */
    zkv__route r0 = route_zone(m, "a", ZKV_FLAG_HEDGE, "", NULL);
    CU_ASSERT_PTR_NULL(zkv__hedge_target(m, &r0, ZKV__READ, ZKV_FLAG_HEDGE, "", NULL));
    zkv_rangemap_free(m);
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
    nx = response(ZKV__STATUS__OK, 7, true, true, &st); /* a replica's answer is an answer */
    CU_ASSERT_EQUAL(nx.kind, ZKV__NEXT_DONE);
    int statuses[] = {ZKV__STATUS__TOO_LARGE, ZKV__STATUS__BAD_REQUEST, ZKV__STATUS__TIMEOUT,
                      ZKV__STATUS__INTERNAL,  ZKV__STATUS__STALE_EPOCH, ZKV__STATUS__LOG_MISMATCH};
    int codes[] = {ZKV_ETOOLARGE, ZKV_EBADREQUEST, ZKV_ETIMEOUT,
                   ZKV_EINTERNAL, ZKV_EPROTOCOL,   ZKV_EPROTOCOL};
    for (int i = 0; i < 6; i++) {
        nx = response(statuses[i], 7, false, false, &st);
        CU_ASSERT_EQUAL(nx.kind, ZKV__NEXT_FAIL);
        CU_ASSERT_EQUAL(nx.code, codes[i]);
        nx = response(statuses[i], 7, true, true, &st); /* from a replica too: not retried */
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
    CU_ASSERT_FALSE(nx.unserved);
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

static void test_decide_unavailable(void)
{
    /* a read the replicas may answer: a fenced owner is skipped at once */
    zkv__call_state st = state(0, 1000, 6000);
    zkv__next nx = response(ZKV__STATUS__UNAVAILABLE, 7, true, false, &st);
    CU_ASSERT_EQUAL(nx.kind, ZKV__NEXT_RETRY);
    CU_ASSERT_TRUE(nx.mark_down);
    CU_ASSERT_EQUAL(nx.backoff_ms, 0);
    CU_ASSERT_FALSE(nx.unserved);
    /* a replica that cannot answer: the next replica */
    nx = response(ZKV__STATUS__UNAVAILABLE, 7, true, true, &st);
    CU_ASSERT_EQUAL(nx.kind, ZKV__NEXT_RETRY);
    CU_ASSERT_TRUE(nx.mark_down);
    /* a write (or an owner-only read): wait for a new owner, refreshing the map */
    st = state(1, 1000, 6000);
    nx = response(ZKV__STATUS__UNAVAILABLE, 7, false, false, &st);
    CU_ASSERT_EQUAL(nx.kind, ZKV__NEXT_RETRY);
    CU_ASSERT_EQUAL(nx.code, ZKV_EUNAVAILABLE);
    CU_ASSERT_TRUE(nx.unserved);
    CU_ASSERT_EQUAL(nx.unserved_since, 1000); /* the wait starts now */
    CU_ASSERT_TRUE(nx.force_refresh);
    CU_ASSERT_EQUAL(nx.backoff_ms, 10);
    CU_ASSERT_FALSE(nx.mark_down);
    /* ...for failfast, well inside the call's budget */
    st.unserved_since = 1000;
    strcpy(st.unserved_owner, "node-2");
    st.now_ms = 1999;
    nx = response(ZKV__STATUS__UNAVAILABLE, 7, false, false, &st);
    CU_ASSERT_EQUAL(nx.kind, ZKV__NEXT_RETRY);
    CU_ASSERT_EQUAL(nx.unserved_since, 1000);
    st.now_ms = 2000;
    nx = response(ZKV__STATUS__UNAVAILABLE, 7, false, false, &st);
    CU_ASSERT_EQUAL(nx.kind, ZKV__NEXT_FAIL);
    CU_ASSERT_EQUAL(nx.code, ZKV_EUNAVAILABLE);
    CU_ASSERT_TRUE(nx.unserved);
    /* the call's budget ends first: still EUNAVAILABLE */
    st = state(1, 5995, 6000);
    nx = response(ZKV__STATUS__UNAVAILABLE, 7, false, false, &st);
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
    /* an attempt's share ran out (a read that may fall back), the call's budget did not */
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

static void test_failfast_expired(void)
{
    /* (first failure, now, failfast, map names a new live owner) */
    CU_ASSERT_FALSE(zkv__failfast_expired(1000, 1000, 1000, false));
    CU_ASSERT_FALSE(zkv__failfast_expired(1000, 1999, 1000, false));
    CU_ASSERT_TRUE(zkv__failfast_expired(1000, 2000, 1000, false));
    CU_ASSERT_TRUE(zkv__failfast_expired(1000, 9000, 1000, false));
    CU_ASSERT_FALSE(zkv__failfast_expired(1000, 9000, 1000, true)); /* ask the new owner */
    CU_ASSERT_TRUE(zkv__failfast_expired(1000, 1000, 0, false));    /* failfast 0: at once */
    CU_ASSERT_FALSE(zkv__failfast_expired(2000, 1000, 0, false));   /* clock before: no */
    CU_ASSERT_FALSE(zkv__failfast_expired(1000, 1250, 300, false));
    CU_ASSERT_TRUE(zkv__failfast_expired(1000, 1300, 300, false));
}

static zkv__next unserved_event(zkv__event ev, zkv__call_state *st, const char *owner, bool live)
{
    zkv__outcome o = {.event = ev, .owner = owner, .owner_live = live};
    zkv__next nx = zkv__route_decide(&o, st);
    if (nx.unserved) { /* as call.c does */
        st->unserved_since = nx.unserved_since;
        snprintf(st->unserved_owner, sizeof st->unserved_owner, "%s", owner);
    }
    return nx;
}

static void test_decide_all_down_and_no_owner(void)
{
    /* every candidate down (owner killed, still registered): wait and refresh */
    zkv__call_state st = state(2, 1000, 6000);
    zkv__next nx = unserved_event(ZKV__EV_ALL_DOWN, &st, "node-2", true);
    CU_ASSERT_EQUAL(nx.kind, ZKV__NEXT_RETRY);
    CU_ASSERT_EQUAL(nx.code, ZKV_EUNAVAILABLE);
    CU_ASSERT_TRUE(nx.unserved);
    CU_ASSERT_TRUE(nx.clear_down);
    CU_ASSERT_TRUE(nx.force_refresh);
    CU_ASSERT_EQUAL(nx.backoff_ms, 20);
    CU_ASSERT_EQUAL(st.unserved_since, 1000);
    st.now_ms = 1500;
    nx = unserved_event(ZKV__EV_ALL_DOWN, &st, "node-2", true);
    CU_ASSERT_EQUAL(nx.kind, ZKV__NEXT_RETRY);
    CU_ASSERT_EQUAL(st.unserved_since, 1000); /* the first failure counts */
    st.now_ms = 2000;
    nx = unserved_event(ZKV__EV_ALL_DOWN, &st, "node-2", true);
    CU_ASSERT_EQUAL(nx.kind, ZKV__NEXT_FAIL);
    CU_ASSERT_EQUAL(nx.code, ZKV_EUNAVAILABLE);
    CU_ASSERT_TRUE(nx.unserved);

    /* the map now names another owner: it gets its own failfast */
    st = state(0, 1000, 6000);
    unserved_event(ZKV__EV_ALL_DOWN, &st, "node-2", true);
    st.now_ms = 1900;
    nx = unserved_event(ZKV__EV_ALL_DOWN, &st, "node-3", true);
    CU_ASSERT_EQUAL(nx.kind, ZKV__NEXT_RETRY);
    CU_ASSERT_EQUAL(st.unserved_since, 1900);
    CU_ASSERT_STRING_EQUAL(st.unserved_owner, "node-3");
    st.now_ms = 2100; /* past node-2's failfast, inside node-3's */
    nx = unserved_event(ZKV__EV_ALL_DOWN, &st, "node-3", true);
    CU_ASSERT_EQUAL(nx.kind, ZKV__NEXT_RETRY);
    st.now_ms = 2900;
    nx = unserved_event(ZKV__EV_ALL_DOWN, &st, "node-3", true);
    CU_ASSERT_EQUAL(nx.kind, ZKV__NEXT_FAIL);
    /* ...but an owner that is not live does not restart the wait */
    st = state(0, 1000, 6000);
    unserved_event(ZKV__EV_ALL_DOWN, &st, "node-2", true);
    st.now_ms = 2000;
    nx = unserved_event(ZKV__EV_ALL_DOWN, &st, "node-9", false);
    CU_ASSERT_EQUAL(nx.kind, ZKV__NEXT_FAIL);

    /* no owner at all: the same wait, then EUNAVAILABLE */
    st = state(0, 1000, 6000);
    nx = unserved_event(ZKV__EV_NO_OWNER, &st, "", false);
    CU_ASSERT_EQUAL(nx.kind, ZKV__NEXT_RETRY);
    CU_ASSERT_TRUE(nx.force_refresh);
    CU_ASSERT_EQUAL(nx.backoff_ms, 5);
    st.now_ms = 2000;
    nx = unserved_event(ZKV__EV_NO_OWNER, &st, "", false);
    CU_ASSERT_EQUAL(nx.kind, ZKV__NEXT_FAIL);
    CU_ASSERT_EQUAL(nx.code, ZKV_EUNAVAILABLE);
    /* a shorter call budget ends it first, with the same code */
    st = state(2, 5990, 6000);
    nx = unserved_event(ZKV__EV_ALL_DOWN, &st, "node-2", true);
    CU_ASSERT_EQUAL(nx.kind, ZKV__NEXT_FAIL);
    CU_ASSERT_EQUAL(nx.code, ZKV_EUNAVAILABLE);
    /* a custom failfast */
    st = state(0, 1000, 60000);
    st.failfast_ms = 3000;
    unserved_event(ZKV__EV_ALL_DOWN, &st, "node-2", true);
    st.now_ms = 3999;
    CU_ASSERT_EQUAL(unserved_event(ZKV__EV_ALL_DOWN, &st, "node-2", true).kind, ZKV__NEXT_RETRY);
    st.now_ms = 4000;
    CU_ASSERT_EQUAL(unserved_event(ZKV__EV_ALL_DOWN, &st, "node-2", true).kind, ZKV__NEXT_FAIL);
}

static void test_unavailable_messages(void)
{
    char msg[512];
    zkv__unserved u = {.range = "r0003",
                       .owner = "node-2",
                       .state = ZKV__OWNER_LIVE,
                       .owner_why = "connection refused"};
    zkv__unavailable_message(&u, ZKV__WRITE, msg, sizeof msg);
    CU_ASSERT_STRING_EQUAL(msg, "range r0003: owner node-2 unreachable (connection refused); "
                                "writes are refused until a new owner serves");
    u.state = ZKV__OWNER_NONE;
    u.owner = "";
    zkv__unavailable_message(&u, ZKV__WRITE, msg, sizeof msg);
    CU_ASSERT_STRING_EQUAL(msg,
                           "range r0003 has no owner; writes are refused until a new owner serves");
    u.state = ZKV__OWNER_NOT_LIVE;
    u.owner = "node-2";
    zkv__unavailable_message(&u, ZKV__WRITE, msg, sizeof msg);
    CU_ASSERT_STRING_EQUAL(msg, "range r0003: owner node-2 is not live (no nodes/ entry); writes "
                                "are refused until a new owner serves");
    /* the owner answered: its message; a new owner helps only when it is fenced */
    u.state = ZKV__OWNER_LIVE;
    u.owner_answered = true;
    u.owner_why = "range r0003 is fenced";
    zkv__unavailable_message(&u, ZKV__WRITE, msg, sizeof msg);
    CU_ASSERT_STRING_EQUAL(msg, "range r0003: owner node-2 answered UNAVAILABLE: range r0003 is "
                                "fenced; writes are refused until a new owner serves");
    u.owner_why = "range r0003 has 1 in-sync copy (owner only); --min-in-sync is 2";
    zkv__unavailable_message(&u, ZKV__WRITE, msg, sizeof msg);
    CU_ASSERT_STRING_EQUAL(msg, "range r0003: owner node-2 answered UNAVAILABLE: range r0003 has 1 "
                                "in-sync copy (owner only); --min-in-sync is 2");
    /* reads */
    u.owner_answered = false;
    u.owner_why = "connection refused";
    u.fallback = true;
    u.n_replicas = 2;
    u.replica_why = "node node-3: connection refused";
    zkv__unavailable_message(&u, ZKV__READ, msg, sizeof msg);
    CU_ASSERT_STRING_EQUAL(msg, "range r0003: owner node-2 unreachable (connection refused); no "
                                "replica could answer (node node-3: connection refused)");
    u.n_replicas = 0;
    zkv__unavailable_message(&u, ZKV__READ, msg, sizeof msg);
    CU_ASSERT_STRING_EQUAL(
        msg, "range r0003: owner node-2 unreachable (connection refused); no replica to read from");
    u.fallback = false;
    zkv__unavailable_message(&u, ZKV__READ, msg, sizeof msg);
    CU_ASSERT_STRING_EQUAL(msg, "range r0003: owner node-2 unreachable (connection refused); "
                                "ZKV_FLAG_OWNER_ONLY: no replica asked");
    u.fallback = u.read_replica = true;
    zkv__unavailable_message(&u, ZKV__READ, msg, sizeof msg);
    CU_ASSERT_STRING_EQUAL(msg, "range r0003 has no replica to read from");
    u.n_replicas = 1;
    zkv__unavailable_message(&u, ZKV__READ, msg, sizeof msg);
    CU_ASSERT_STRING_EQUAL(
        msg, "range r0003: no replica could answer (node node-3: connection refused)");
    /* truncation is safe */
    char small[16];
    zkv__unavailable_message(&u, ZKV__READ, small, sizeof small);
    CU_ASSERT_EQUAL(strlen(small), sizeof small - 1);
}

static void test_attempt_plan(void)
{
    zkv_rangemap *m = test_map();
    zkv__call_state st = state(0, 0, 1000);
    /* a read to an owner with replicas: half the budget, skip a node that just failed */
    zkv__route rt = route(m, "c", 1, ZKV__READ, 0, NULL);
    zkv__attempt at = zkv__attempt_plan(&rt, true, &st, 200);
    CU_ASSERT_EQUAL(at.deadline_ms, 600);
    CU_ASSERT_TRUE(at.may_skip);
    st.retries = 1; /* only in the first round */
    at = zkv__attempt_plan(&rt, true, &st, 200);
    CU_ASSERT_FALSE(at.may_skip);
    CU_ASSERT_EQUAL(at.deadline_ms, 600);
    st.retries = 0;
    /* past the deadline: the deadline */
    at = zkv__attempt_plan(&rt, true, &st, 1200);
    CU_ASSERT_EQUAL(at.deadline_ms, 1000);
    /* owner-only reads and writes: the whole budget, never skipped */
    at = zkv__attempt_plan(&rt, false, &st, 200);
    CU_ASSERT_EQUAL(at.deadline_ms, 1000);
    CU_ASSERT_FALSE(at.may_skip);
    /* a replica gets the whole rest */
    zkv__down down = {.n = 0};
    zkv__down_add(&down, "node-2");
    rt = route(m, "c", 1, ZKV__READ, 0, &down);
    CU_ASSERT_TRUE_FATAL(rt.replica);
    at = zkv__attempt_plan(&rt, true, &st, 200);
    CU_ASSERT_EQUAL(at.deadline_ms, 1000);
    CU_ASSERT_TRUE(at.may_skip);
    /* an owner without replicas: nothing to fall back to */
    rt = route(m, "a", 1, ZKV__READ, 0, NULL);
    at = zkv__attempt_plan(&rt, true, &st, 200);
    CU_ASSERT_EQUAL(at.deadline_ms, 1000);
    CU_ASSERT_FALSE(at.may_skip);
    zkv_rangemap_free(m);
}

static void test_route_outcome_and_retry_note(void)
{
    zkv_rangemap *m = test_map();
    zkv__route rt = route(m, "c", 1, ZKV__READ, 0, NULL);
    zkv__outcome o = zkv__route_outcome(&rt, true);
    CU_ASSERT_TRUE(o.fallback);
    CU_ASSERT_FALSE(o.to_replica);
    CU_ASSERT_STRING_EQUAL(o.owner, "node-2");
    CU_ASSERT_TRUE(o.owner_live);
    rt = route(m, "\xff", 1, ZKV__WRITE, 0, NULL); /* no owner */
    o = zkv__route_outcome(&rt, false);
    CU_ASSERT_STRING_EQUAL(o.owner, "");
    CU_ASSERT_FALSE(o.owner_live);

    /* NO_OWNER: the wait begins, a forced reload is noted, the backoff counted */
    zkv__call_state st = state(0, 100, 5000);
    zkv__down down = {.n = 0};
    zkv__down_add(&down, "node-3");
    o.event = ZKV__EV_NO_OWNER;
    zkv__next nx = zkv__route_decide(&o, &st);
    CU_ASSERT_EQUAL_FATAL(nx.kind, ZKV__NEXT_RETRY);
    zkv__retry_note(&st, &down, &o, &nx, NULL);
    CU_ASSERT_EQUAL(st.unserved_since, 100);
    CU_ASSERT_STRING_EQUAL(st.unserved_owner, "");
    CU_ASSERT_TRUE(st.forced_refresh);
    CU_ASSERT_EQUAL(st.retries, 1);
    CU_ASSERT_EQUAL(down.n, 0); /* a new round */
    /* an unreachable node: marked down, no backoff */
    zkv__outcome io = {.event = ZKV__EV_IO,
                       .io_code = ZKV_ECONNECT,
                       .fallback = true,
                       .owner = "node-2",
                       .owner_live = true};
    nx = zkv__route_decide(&io, &st);
    CU_ASSERT_EQUAL_FATAL(nx.kind, ZKV__NEXT_RETRY);
    zkv__retry_note(&st, &down, &io, &nx, "node-2");
    CU_ASSERT_TRUE(zkv__down_has(&down, "node-2"));
    CU_ASSERT_EQUAL(st.retries, 1);
    zkv__retry_note(&st, NULL, &io, &nx, "node-2"); /* no down set: nothing marked */
    zkv__retry_note(&st, &down, &io, &nx, "");      /* no node: nothing marked */
    CU_ASSERT_EQUAL(down.n, 1);
    zkv_rangemap_free(m);
}

static void test_failure_texts(void)
{
    char text[512];
    zkv__answer_text(ZKV__STATUS__NOT_OWNER, "moved", 9, "node-2", 7, text, sizeof text);
    CU_ASSERT_STRING_EQUAL(text,
                           "node node-2 does not own the key (node map version 9, ours 7): moved");
    zkv__answer_text(ZKV__STATUS__NOT_OWNER, "", 9, "node-2", 7, text, sizeof text);
    CU_ASSERT_STRING_EQUAL(text, "node node-2 does not own the key (node map version 9, ours 7)");
    zkv__answer_text(ZKV__STATUS__UNAVAILABLE, NULL, 0, "node-3", 7, text, sizeof text);
    CU_ASSERT_STRING_EQUAL(text, "node node-3: UNAVAILABLE");
    zkv__answer_text(ZKV__STATUS__UNAVAILABLE, "fenced", 0, "node-3", 7, text, sizeof text);
    CU_ASSERT_STRING_EQUAL(text, "node node-3: fenced");

    zkv__failures f;
    memset(&f, 0, sizeof f);
    zkv__failures_note(&f, "node-2", false, false, "node node-2 at a unreachable: refused",
                       "refused");
    CU_ASSERT_STRING_EQUAL(f.owner_why, "refused");
    CU_ASSERT_FALSE(f.owner_answered);
    CU_ASSERT_STRING_EQUAL(f.last, "node node-2 at a unreachable: refused");
    zkv__failures_note(&f, "node-3", true, true, "node node-3: fenced", "fenced");
    CU_ASSERT_STRING_EQUAL(f.replica_why, "node node-3: fenced");
    CU_ASSERT_STRING_EQUAL(f.owner_why, "refused"); /* the owner's stays */
    CU_ASSERT_STRING_EQUAL(f.last, "node node-3: fenced");
}

static void test_fail_text(void)
{
    zkv_rangemap *m = test_map();
    char msg[512];
    zkv__failures f;
    memset(&f, 0, sizeof f);
    zkv__failures_note(&f, "node-2", false, false, "x: connection refused", "connection refused");
    zkv__failures_note(&f, "node-3", true, false, "y: connection refused", "connection refused");
    /* no node could serve: the UNAVAILABLE sentence of the route */
    zkv__next nx = {.kind = ZKV__NEXT_FAIL, .code = ZKV_EUNAVAILABLE, .unserved = true};
    zkv__route rt = route(m, "c", 1, ZKV__READ, 0, NULL);
    zkv__fail_text(&nx, ZKV__EV_ALL_DOWN, &rt, ZKV__READ, 0, 7, &f, f.last, 10, msg, sizeof msg);
    CU_ASSERT_STRING_EQUAL(msg, "range r0001: owner node-2 unreachable (connection refused); no "
                                "replica could answer (node node-3: connection refused)");
    rt = route(m, "c", 1, ZKV__WRITE, 0, NULL);
    zkv__fail_text(&nx, ZKV__EV_ALL_DOWN, &rt, ZKV__WRITE, 0, 7, NULL, "", 10, msg, sizeof msg);
    CU_ASSERT_STRING_EQUAL(msg, "range r0001: owner node-2 unreachable (no answer); writes are "
                                "refused until a new owner serves");
    rt = route(m, "c", 1, ZKV__READ, ZKV_FLAG_READ_REPLICA, NULL);
    zkv__fail_text(&nx, ZKV__EV_ALL_DOWN, &rt, ZKV__READ, ZKV_FLAG_READ_REPLICA, 7, &f, f.last, 10,
                   msg, sizeof msg);
    CU_ASSERT_STRING_EQUAL(
        msg, "range r0001: no replica could answer (node node-3: connection refused)");
    /* a map that does not cover the key */
    zkv__route none = {.kind = ZKV__ROUTE_NO_RANGE};
    zkv__fail_text(&nx, ZKV__EV_NO_OWNER, &none, ZKV__WRITE, 0, 7, &f, f.last, 10, msg, sizeof msg);
    CU_ASSERT_STRING_EQUAL(msg, "map version 7 does not cover the key");
    /* NOT_OWNER until the deadline, a time-out on the wire, anything else */
    zkv__next no = {.kind = ZKV__NEXT_FAIL, .code = ZKV_ENOTOWNER};
    zkv__fail_text(&no, ZKV__EV_RESPONSE, NULL, ZKV__WRITE, 0, 7, NULL, "node n: moved", 42, msg,
                   sizeof msg);
    CU_ASSERT_STRING_EQUAL(msg, "routing did not settle within 42 ms: node n: moved");
    zkv__next to = {.kind = ZKV__NEXT_FAIL, .code = ZKV_ETIMEOUT};
    zkv__fail_text(&to, ZKV__EV_IO, NULL, ZKV__WRITE, 0, 7, NULL, "node n did not answer", 42, msg,
                   sizeof msg);
    CU_ASSERT_STRING_EQUAL(msg, "node n did not answer within 42 ms");
    zkv__failures rf = {.owner_why = "", .replica_why = "", .last = ""};
    zkv__failures_note(&rf, "r2", true, true, "node r2: 900 ms behind", "900 ms behind");
    /* a later replica's silence (the call's time ran out on it) does not hide a refusal */
    zkv__failures_note(&rf, "r3", true, false, "node r3 did not answer", "did not answer");
    CU_ASSERT_STRING_EQUAL(rf.last, "node r3 did not answer");
    zkv__fail_text(&to, ZKV__EV_IO, NULL, ZKV__READ, 0, 7, &rf, "node n did not answer", 42, msg,
                   sizeof msg);
    CU_ASSERT_STRING_EQUAL(
        msg,
        "node n did not answer within 42 ms; no replica could answer (node r2: 900 ms behind)");
    zkv__fail_text(&to, ZKV__EV_RESPONSE, NULL, ZKV__WRITE, 0, 7, NULL, "node n: TIMEOUT", 42, msg,
                   sizeof msg);
    CU_ASSERT_STRING_EQUAL(msg, "node n: TIMEOUT");
    zkv__next other = {.kind = ZKV__NEXT_FAIL, .code = ZKV_ENOMEM};
    zkv__fail_text(&other, ZKV__EV_IO, NULL, ZKV__WRITE, 0, 7, NULL, "", 42, msg, sizeof msg);
    CU_ASSERT_STRING_EQUAL(msg, zkv_strerror(ZKV_ENOMEM));
    zkv_rangemap_free(m);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("client_route", NULL, NULL);
    CU_add_test(s, "binary keys at range edges", test_route_binary_edges);
    CU_add_test(s, "range without owner", test_route_no_owner);
    CU_add_test(s, "owner not live", test_route_unknown_owner);
    CU_add_test(s, "reads fall back to replicas", test_route_fallback_order);
    CU_add_test(s, "candidates sorted (in_sync, id)", test_candidates_sorted);
    CU_add_test(s, "READ_REPLICA prefers the client's zone", test_read_replica_zone);
    CU_add_test(s, "wire flags and flag checks", test_wire_flags_and_check);
    CU_add_test(s, "READ_NEAREST: the client's zone, owner first", test_read_nearest);
    CU_add_test(s, "bounded staleness: owner last, TOO_STALE", test_bounded_read_replica);
    CU_add_test(s, "hedge target", test_hedge_target);
    CU_add_test(s, "down set", test_down_set);
    CU_add_test(s, "short reason", test_short_reason);
    CU_add_test(s, "status to code", test_status_to_code);
    CU_add_test(s, "backoff", test_backoff);
    CU_add_test(s, "final statuses", test_decide_final_statuses);
    CU_add_test(s, "NOT_OWNER retries", test_decide_not_owner);
    CU_add_test(s, "UNAVAILABLE answers", test_decide_unavailable);
    CU_add_test(s, "I/O outcomes", test_decide_io);
    CU_add_test(s, "failfast", test_failfast_expired);
    CU_add_test(s, "all down, no owner: failfast", test_decide_all_down_and_no_owner);
    CU_add_test(s, "UNAVAILABLE messages", test_unavailable_messages);
    CU_add_test(s, "attempt budget and skip", test_attempt_plan);
    CU_add_test(s, "route outcome, retry bookkeeping", test_route_outcome_and_retry_note);
    CU_add_test(s, "failure texts", test_failure_texts);
    CU_add_test(s, "final error text", test_fail_text);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
