/* test_protocol.c: (f) a running zkv-server against a raw TCP client speaking the wire
 * protocol (common/frame.h + zkv.pb-c.h) badly on purpose: a request before HELLO, HELLO
 * with a wrong cluster id (refused, then closed), an oversized frame declared 8 MiB and
 * streamed in full (TOO_LARGE with its request id; the connection stays usable), garbage
 * frames (BAD_REQUEST; disconnected after 3 in a row), keys over 4 KiB and values over
 * 1 MiB (TOO_LARGE), a GET to a node that does not own the key (NOT_OWNER with the map
 * version). A well-behaved connection is served between every abuse and at the end. */
#include <CUnit/CUnit.h>
#include <stdlib.h>
#include <string.h>
#include "it_wire.h"
#include "zkt/zkt.h"
#include "zkv.pb-c.h"

static zkt_cluster g_cl;
static char g_cluster_id[ZKT_ID_MAX];
static conn g_bystander; /* the well-behaved client */

/* Expects one answer with status and (when id != 0) that request id. */
static void expect(Zkv__Response *r, int status, uint64_t id, const char *what)
{
    log_resp(what, r);
    CU_ASSERT_FATAL(r != NULL);
    CU_ASSERT(r->status == (Zkv__Status)status);
    if (id)
        CU_ASSERT(r->id == id);
    if (status != ZKV__STATUS__OK && status != ZKV__STATUS__NOT_FOUND)
        CU_ASSERT(r->message && r->message[0]);
    CU_ASSERT(r->map_version > 0);
    zkv__response__free_unpacked(r, NULL);
}

static void bystander_ok(void)
{
    static uint64_t id = 1000;
    id++;
    char val[32];
    int vl = snprintf(val, sizeof val, "v%llu", (unsigned long long)id);
    /* Whichever node owns "bystander", the PUT and the GET of it agree: both served, or
     * both refused as NOT_OWNER. */
    Zkv__Response *p = simple(&g_bystander, ZKV__OP__PUT, id, "bystander", 9, val, (size_t)vl);
    CU_ASSERT_FATAL(p != NULL);
    CU_ASSERT(p->id == id);
    int put_status = p->status;
    CU_ASSERT(put_status == ZKV__STATUS__OK || put_status == ZKV__STATUS__NOT_OWNER);
    zkv__response__free_unpacked(p, NULL);
    Zkv__Response *g = simple(&g_bystander, ZKV__OP__GET, id + 100000, "bystander", 9, NULL, 0);
    CU_ASSERT_FATAL(g != NULL);
    CU_ASSERT(g->id == id + 100000);
    CU_ASSERT((int)g->status == put_status);
    if (put_status == ZKV__STATUS__OK)
        CU_ASSERT(g->value.len == (size_t)vl && memcmp(g->value.data, val, (size_t)vl) == 0);
    zkv__response__free_unpacked(g, NULL);
    Zkv__Response *ping = simple(&g_bystander, ZKV__OP__PING, id + 200000, NULL, 0, NULL, 0);
    CU_ASSERT(ping && ping->status == ZKV__STATUS__OK && ping->id == id + 200000);
    if (ping)
        zkv__response__free_unpacked(ping, NULL);
}

static int suite_init(void)
{
    if (zkt_cluster_init(&g_cl, "proto") != 0)
        return -1;
    g_cl.replicas = 2;
    for (int i = 0; i < 2; i++)
        if (zkt_cluster_add_server(&g_cl) < 0)
            return -1;
    if (zkt_cluster_add_coordinator(&g_cl, 2) < 0 || !zkt_cluster_wait_ready(&g_cl, 60000))
        return -1;
    zkt_map *m = zkt_cluster_map(&g_cl);
    if (!m || !m->cluster_id[0]) {
        zkt_map_free(m);
        return -1;
    }
    snprintf(g_cluster_id, sizeof g_cluster_id, "%s", m->cluster_id);
    zkt_map_free(m);
    if (conn_open(&g_bystander, g_cl.servers[0].port) != 0)
        return -1;
    Zkv__Response *r = hello(&g_bystander, g_cluster_id, 1);
    int ok = r && r->status == ZKV__STATUS__OK;
    log_resp("bystander HELLO", r);
    if (r)
        zkv__response__free_unpacked(r, NULL);
    return ok ? 0 : -1;
}

static int suite_cleanup(void)
{
    conn_close(&g_bystander);
    zkt_cluster_destroy(&g_cl);
    return 0;
}

static void test_hello(void)
{
    conn c;
    CU_ASSERT_FATAL(conn_open(&c, g_cl.servers[0].port) == 0);
    /* Anything before HELLO: BAD_REQUEST "hello required". */
    expect(simple(&c, ZKV__OP__GET, 7, "k", 1, NULL, 0), ZKV__STATUS__BAD_REQUEST, 7,
           "GET before HELLO");
    Zkv__Response *r = hello(&c, g_cluster_id, 8);
    log_resp("HELLO", r);
    CU_ASSERT_FATAL(r != NULL);
    CU_ASSERT(r->status == ZKV__STATUS__OK);
    CU_ASSERT(r->id == 8);
    CU_ASSERT_STRING_EQUAL(r->node_id, g_cl.servers[0].id);
    CU_ASSERT_STRING_EQUAL(r->cluster_id, g_cluster_id);
    CU_ASSERT(r->map_version > 0);
    zkv__response__free_unpacked(r, NULL);
    Zkv__Response *p = simple(&c, ZKV__OP__PING, 9, NULL, 0, NULL, 0);
    CU_ASSERT(p && p->status == ZKV__STATUS__OK && p->id == 9);
    if (p)
        zkv__response__free_unpacked(p, NULL);
    conn_close(&c);

    /* Another cluster's id: refused, then closed. */
    CU_ASSERT_FATAL(conn_open(&c, g_cl.servers[0].port) == 0);
    r = hello(&c, "some-other-cluster", 10);
    log_resp("HELLO with a wrong cluster id", r);
    CU_ASSERT_FATAL(r != NULL);
    CU_ASSERT(r->status == ZKV__STATUS__WRONG_CLUSTER);
    CU_ASSERT(r->message && strstr(r->message, "another cluster") != NULL);
    zkv__response__free_unpacked(r, NULL);
    int answers = 0, bad = 0;
    CU_ASSERT(closed_by_peer(&c, 5000, &answers, &bad));
    conn_close(&c);
    bystander_ok();
}

static size_t put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static void test_oversized_frame(void)
{
    conn c;
    conn_open_hello(&c, g_cl.servers[0].port, g_cluster_id);

    /* A well-formed PUT whose frame is 8 MiB: id 4242, op PUT, key "big", value fill. */
    const uint32_t total = 8u * 1024u * 1024u;
    uint8_t head[64];
    size_t n = 0;
    head[n++] = 0x08; /* field 1, varint: id */
    n += put_varint(head + n, 4242);
    head[n++] = 0x10; /* field 2, varint: op */
    head[n++] = ZKV__OP__PUT;
    head[n++] = 0x1a; /* field 3, bytes: key */
    head[n++] = 3;
    memcpy(head + n, "big", 3);
    n += 3;
    head[n++] = 0x22;              /* field 4, bytes: value */
    uint64_t vlen = total - n - 4; /* the varint of ~8 MiB takes 4 bytes */
    n += put_varint(head + n, vlen);
    CU_ASSERT_FATAL(n + vlen == total);
    uint8_t hdr[ZKV_FRAME_HEADER_LEN];
    zkv_frame_put_header(hdr, total);
    CU_ASSERT_FATAL(send_all(&c, hdr, sizeof hdr) == 0);
    CU_ASSERT_FATAL(send_all(&c, head, n) == 0);
    static uint8_t chunk[256 * 1024];
    memset(chunk, 'x', sizeof chunk);
    uint64_t left = vlen;
    uint64_t t0 = zkt_now_ms();
    while (left) {
        size_t k = left < sizeof chunk ? (size_t)left : sizeof chunk;
        if (send_all(&c, chunk, k) != 0)
            break;
        left -= k;
    }
    zkt_log("streamed an 8 MiB frame in %d ms (%llu bytes not sent)", (int)(zkt_now_ms() - t0),
            (unsigned long long)left);
    CU_ASSERT(left == 0);
    expect(recv_resp(&c, IO_TIMEOUT_MS), ZKV__STATUS__TOO_LARGE, 4242, "8 MiB frame");
    /* Still in sync and usable. */
    Zkv__Response *p = simple(&c, ZKV__OP__PING, 4243, NULL, 0, NULL, 0);
    log_resp("PING after the oversized frame", p);
    CU_ASSERT(p && p->status == ZKV__STATUS__OK && p->id == 4243);
    if (p)
        zkv__response__free_unpacked(p, NULL);
    conn_close(&c);
    bystander_ok();
}

static void test_garbage_frames(void)
{
    conn c;
    conn_open_hello(&c, g_cl.servers[0].port, g_cluster_id);
    /* Wire type 7 does not exist: no protobuf decoder accepts this. */
    static const uint8_t garbage[] = {0x0f, 0xde, 0xad, 0xbe, 0xef, 0xff, 0xff};

    /* Two bad frames, then a good request: the count of consecutive bad frames restarts. */
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 2; i++) {
            CU_ASSERT_FATAL(send_frame(&c, garbage, sizeof garbage) == 0);
            expect(recv_resp(&c, IO_TIMEOUT_MS), ZKV__STATUS__BAD_REQUEST, 0, "garbage frame");
        }
        Zkv__Response *p = simple(&c, ZKV__OP__PING, 50 + (uint64_t)round, NULL, 0, NULL, 0);
        CU_ASSERT(p && p->status == ZKV__STATUS__OK);
        if (p)
            zkv__response__free_unpacked(p, NULL);
    }
    /* An empty frame decodes to a request without op: refused, not a crash. */
    CU_ASSERT_FATAL(send_frame(&c, NULL, 0) == 0);
    expect(recv_resp(&c, IO_TIMEOUT_MS), ZKV__STATUS__BAD_REQUEST, 0, "empty frame");
    Zkv__Response *p = simple(&c, ZKV__OP__PING, 60, NULL, 0, NULL, 0);
    CU_ASSERT(p && p->status == ZKV__STATUS__OK);
    if (p)
        zkv__response__free_unpacked(p, NULL);

    /* Three in a row: answered, then disconnected. */
    for (int i = 0; i < 3; i++)
        send_frame(&c, garbage, sizeof garbage);
    int answers = 0, bad = 0;
    CU_ASSERT(closed_by_peer(&c, 5000, &answers, &bad));
    zkt_log("3 garbage frames: %d answers (%d BAD_REQUEST), then %s", answers, bad,
            c.eof ? "closed" : "still open");
    CU_ASSERT(bad >= 2);
    conn_close(&c);
    bystander_ok();
}

static void test_limits(void)
{
    conn c;
    conn_open_hello(&c, g_cl.servers[0].port, g_cluster_id);
    static uint8_t big[1024 * 1024 + 1];
    memset(big, 'k', sizeof big);
    expect(simple(&c, ZKV__OP__GET, 71, big, 4097, NULL, 0), ZKV__STATUS__TOO_LARGE, 71,
           "GET with a 4097-byte key");
    expect(simple(&c, ZKV__OP__PUT, 72, big, 4097, "v", 1), ZKV__STATUS__TOO_LARGE, 72,
           "PUT with a 4097-byte key");
    expect(simple(&c, ZKV__OP__PUT, 73, "k", 1, big, sizeof big), ZKV__STATUS__TOO_LARGE, 73,
           "PUT with a 1 MiB + 1 value");
    /* Limits are inclusive: a 4096-byte key is fine (answered, whoever owns it). */
    Zkv__Response *g = simple(&c, ZKV__OP__GET, 74, big, 4096, NULL, 0);
    log_resp("GET with a 4096-byte key", g);
    CU_ASSERT(g && g->status != ZKV__STATUS__TOO_LARGE && g->status != ZKV__STATUS__BAD_REQUEST);
    if (g)
        zkv__response__free_unpacked(g, NULL);
    conn_close(&c);
    bystander_ok();
}

static void test_not_owner(void)
{
    zkt_map *m = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(m != NULL);
    /* For each server, a key of a range the other one owns. */
    for (int s = 0; s < 2; s++) {
        const zkt_map_range *r = NULL;
        for (int i = 0; i < m->n_ranges && !r; i++)
            if (strcmp(m->ranges[i].owner, g_cl.servers[s].id) != 0)
                r = &m->ranges[i];
        CU_ASSERT_FATAL(r != NULL);
        uint8_t key[ZKT_KEY_MAX + 8];
        size_t kl = r->start_len;
        memcpy(key, r->start, kl);
        if (kl == 0) /* the first range: below every other start */
            key[kl++] = 0x00;
        memcpy(key + kl, "probe", 5);
        kl += 5;
        CU_ASSERT_FATAL(zkt_map_find(m, key, kl) == r);
        conn c;
        conn_open_hello(&c, g_cl.servers[s].port, g_cluster_id);
        /* the node's map may lag the one just read from ZooKeeper by a watch's delay (an
         * in_sync write bumps the version too): ask again until it caught up (bounded) */
        Zkv__Response *g = NULL;
        for (uint64_t t0 = zkt_now_ms(); zkt_now_ms() - t0 < 5000;) {
            g = simple(&c, ZKV__OP__GET, 81, key, kl, NULL, 0);
            if (!g || g->map_version >= (uint64_t)m->version)
                break;
            zkv__response__free_unpacked(g, NULL);
            g = NULL;
            zkt_pause_ms(ZKT_POLL_MS);
        }
        log_resp("GET to a node that does not own the key", g);
        CU_ASSERT_FATAL(g != NULL);
        CU_ASSERT(g->status == ZKV__STATUS__NOT_OWNER);
        CU_ASSERT(g->id == 81);
        CU_ASSERT(g->map_version >= (uint64_t)m->version);
        zkv__response__free_unpacked(g, NULL);
        Zkv__Response *p = simple(&c, ZKV__OP__PUT, 82, key, kl, "v", 1);
        CU_ASSERT(p && p->status == ZKV__STATUS__NOT_OWNER);
        if (p)
            zkv__response__free_unpacked(p, NULL);
        conn_close(&c);
    }
    zkt_map_free(m);
    bystander_ok();
    /* Both servers survived all of it. */
    for (int s = 0; s < 2; s++)
        CU_ASSERT(zkt_proc_alive(g_cl.servers[s].pid));
}

int main(void)
{
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("protocol robustness", suite_init, suite_cleanup);
    CU_add_test(s, "HELLO first, and with the right cluster id", test_hello);
    CU_add_test(s, "an 8 MiB frame: TOO_LARGE with its id, connection usable",
                test_oversized_frame);
    CU_add_test(s, "garbage frames: BAD_REQUEST, disconnect after 3", test_garbage_frames);
    CU_add_test(s, "key and value limits: TOO_LARGE", test_limits);
    CU_add_test(s, "GET to a non-owner: NOT_OWNER with the map version", test_not_owner);
    return zkt_run_all();
}
