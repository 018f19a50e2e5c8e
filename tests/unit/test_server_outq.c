/* test_server_outq.c: a connection's answer queue with referenced values (server/outq.h)
 * over a real loopback TCP connection whose buffers are made small, so the socket takes
 * writes in pieces that end inside values and between them: the bytes received are
 * exactly the bytes and values queued, in order, while more is queued during writes; each
 * value is released once (ASan reports a double free, a leak or a use after free). Also
 * the frame head of a GET answer whose value is sent after it decodes like the whole
 * answer, by protobuf-c and by the clients' fast decoder. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "common/frame.h"
#include "outq.h"
#include "zkv.pb-c.h"

static uint32_t rng = 12345;

static uint32_t next_rand(void)
{
    rng = rng * 1103515245u + 12345u;
    return rng >> 8;
}

static void test_head_decodes_as_whole(void)
{
    uint8_t value[20000];
    for (size_t i = 0; i < sizeof value; i++)
        value[i] = (uint8_t)(i * 7);
    Zkv__Response r;
    zkv__response__init(&r);
    r.id = 77;
    r.status = ZKV__STATUS__OK;
    r.epoch = 3;
    r.seq = 99;
    r.stale = 1;
    r.range_seq = 100;
    r.value.data = value;
    r.value.len = sizeof value;
    zkv_buf b;
    zkv_buf_init(&b);
    CU_ASSERT_EQUAL_FATAL(zkv_frame_append_response_head(&b, &r, sizeof value), 0);
    CU_ASSERT_TRUE(b.len < 100); /* the value is not in it */
    CU_ASSERT_EQUAL_FATAL(zkv_buf_append(&b, value, sizeof value), 0);
    const uint8_t *payload;
    size_t plen, used;
    CU_ASSERT_EQUAL_FATAL(zkv_frame_parse(b.data, b.len, 1u << 20, &payload, &plen, &used),
                          ZKV_FRAME_OK);
    CU_ASSERT_EQUAL(used, b.len);
    Zkv__Response *u = zkv__response__unpack(NULL, plen, payload);
    CU_ASSERT_PTR_NOT_NULL_FATAL(u);
    CU_ASSERT_EQUAL(u->id, 77);
    CU_ASSERT_EQUAL(u->seq, 99);
    CU_ASSERT_TRUE(u->stale);
    CU_ASSERT_EQUAL_FATAL(u->value.len, sizeof value);
    CU_ASSERT_EQUAL(memcmp(u->value.data, value, sizeof value), 0);
    zkv__response__free_unpacked(u, NULL);
    Zkv__Response f;
    CU_ASSERT_TRUE_FATAL(zkv_frame_decode_response_fast(payload, plen, &f));
    CU_ASSERT_EQUAL(f.range_seq, 100);
    CU_ASSERT_EQUAL_FATAL(f.value.len, sizeof value);
    CU_ASSERT_EQUAL(memcmp(f.value.data, value, sizeof value), 0);
    /* no head for an empty value or a message the hand encoder does not take */
    CU_ASSERT_EQUAL(zkv_frame_append_response_head(&b, &r, 0), -1);
    Zkv__KeyValue kv = ZKV__KEY_VALUE__INIT, *items[1] = {&kv};
    r.n_items = 1;
    r.items = items;
    CU_ASSERT_EQUAL(zkv_frame_append_response_head(&b, &r, 10), -1);
    zkv_buf_free(&b);
}

/* ---- sending over a loopback connection ---- */

typedef struct pair {
    uv_loop_t loop;
    uv_tcp_t server, conn;
    int client; /* the reading end: a plain blocking socket */
    bool accepted;
} pair;

static void on_conn(uv_stream_t *srv, int status)
{
    pair *p = srv->data;
    CU_ASSERT_EQUAL_FATAL(status, 0);
    CU_ASSERT_EQUAL_FATAL(uv_tcp_init(&p->loop, &p->conn), 0);
    CU_ASSERT_EQUAL_FATAL(uv_accept(srv, (uv_stream_t *)&p->conn), 0);
    p->accepted = true;
}

static void pair_open(pair *p)
{
    memset(p, 0, sizeof *p);
    CU_ASSERT_EQUAL_FATAL(uv_loop_init(&p->loop), 0);
    CU_ASSERT_EQUAL_FATAL(uv_tcp_init(&p->loop, &p->server), 0);
    p->server.data = p;
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    CU_ASSERT_EQUAL_FATAL(uv_tcp_bind(&p->server, (const struct sockaddr *)&a, 0), 0);
    CU_ASSERT_EQUAL_FATAL(uv_listen((uv_stream_t *)&p->server, 1, on_conn), 0);
    int len = sizeof a;
    CU_ASSERT_EQUAL_FATAL(uv_tcp_getsockname(&p->server, (struct sockaddr *)&a, &len), 0);
    p->client = socket(AF_INET, SOCK_STREAM, 0);
    CU_ASSERT_FATAL(p->client >= 0);
    int small = 4096;
    setsockopt(p->client, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    CU_ASSERT_EQUAL_FATAL(connect(p->client, (struct sockaddr *)&a, sizeof a), 0);
    for (int i = 0; i < 1000 && !p->accepted; i++)
        uv_run(&p->loop, UV_RUN_ONCE);
    CU_ASSERT_TRUE_FATAL(p->accepted);
    uv_os_fd_t fd;
    CU_ASSERT_EQUAL_FATAL(uv_fileno((uv_handle_t *)&p->conn, &fd), 0);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
}

static void pair_close(pair *p)
{
    close(p->client);
    uv_close((uv_handle_t *)&p->conn, NULL);
    uv_close((uv_handle_t *)&p->server, NULL);
    uv_run(&p->loop, UV_RUN_DEFAULT);
    CU_ASSERT_EQUAL(uv_loop_close(&p->loop), 0);
}

typedef struct sender {
    zkv_outq q, wq;
    uv_write_t req;
    bool writing;
    int status;
    size_t writes_queued; /* sends that left a uv_write */
} sender;

static void on_written(uv_write_t *req, int status)
{
    sender *s = req->data;
    s->writing = false;
    s->status = status;
    zkv_outq_clear(&s->wq);
}

/* Queues a value of n bytes from pattern[at...] held in a buffer of its own (released by
 * the queue) and appends the same bytes to want. */
static void queue_value(sender *s, zkv_buf *want, size_t n)
{
    uint8_t *own = malloc(n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(own);
    if (!own)
        return;
    for (size_t i = 0; i < n; i++)
        own[i] = (uint8_t)next_rand();
    CU_ASSERT_EQUAL_FATAL(zkv_buf_append(want, own, n), 0);
    zkv_store_value v;
    memset(&v, 0, sizeof v);
    v.own = own;
    CU_ASSERT_EQUAL_FATAL(zkv_outq_reserve(&s->q), 0);
    zkv_outq_add(&s->q, &v, own, n);
    CU_ASSERT_PTR_NULL(v.own); /* taken over */
}

static void queue_bytes(sender *s, zkv_buf *want, size_t n)
{
    uint8_t tmp[512];
    for (size_t i = 0; i < n; i++)
        tmp[i] = (uint8_t)next_rand();
    CU_ASSERT_EQUAL_FATAL(zkv_buf_append(zkv_outq_bytes(&s->q), tmp, n), 0);
    CU_ASSERT_EQUAL_FATAL(zkv_buf_append(want, tmp, n), 0);
}

/* Reads what is there (without blocking) into got. */
static void drain(pair *p, zkv_buf *got)
{
    for (;;) {
        CU_ASSERT_EQUAL_FATAL(zkv_buf_reserve(got, 65536), 0);
        ssize_t n = recv(p->client, got->data + got->len, 65536, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        CU_ASSERT_FATAL(n > 0);
        got->len += (size_t)n;
    }
}

static void test_send_in_pieces(void)
{
    pair p;
    pair_open(&p);
    sender s;
    memset(&s, 0, sizeof s);
    zkv_outq_init(&s.q);
    zkv_outq_init(&s.wq);
    zkv_buf want, got;
    zkv_buf_init(&want);
    zkv_buf_init(&got);
    for (int round = 0; round < 200; round++) {
        int pieces = 1 + (int)(next_rand() % 6);
        for (int i = 0; i < pieces; i++) {
            if (next_rand() % 2)
                queue_bytes(&s, &want, 1 + next_rand() % 500);
            else
                queue_value(&s, &want, 1 + next_rand() % 40000);
        }
        /* what is queued, in the kernel's buffers or received makes up what was queued */
        if (!s.writing)
            CU_ASSERT_TRUE(zkv_outq_unread(&s.q) + got.len <= want.len);
        /* as the server does: one write at a time; while it is under way answers queue up */
        if (!s.writing) {
            int rc = zkv_outq_send(&s.q, &s.wq, &p.conn, &s.req, on_written, &s, round % 3 != 0);
            CU_ASSERT_FATAL(rc == 0 || rc == 1);
            if (rc == 1) {
                s.writing = true;
                s.writes_queued++;
            }
        }
        drain(&p, &got);
        uv_run(&p.loop, UV_RUN_NOWAIT);
        CU_ASSERT_EQUAL_FATAL(s.status, 0);
    }
    /* the rest: keep reading while the loop writes */
    for (int i = 0; i < 1000000 && (s.writing || zkv_outq_unread(&s.q) > 0); i++) {
        if (!s.writing && zkv_outq_unread(&s.q) > 0) {
            int rc = zkv_outq_send(&s.q, &s.wq, &p.conn, &s.req, on_written, &s, true);
            CU_ASSERT_FATAL(rc == 0 || rc == 1);
            s.writing = rc == 1;
        }
        drain(&p, &got);
        uv_run(&p.loop, UV_RUN_NOWAIT);
    }
    CU_ASSERT_FALSE(s.writing);
    for (int i = 0; i < 100000 && got.len < want.len; i++)
        drain(&p, &got);
    CU_ASSERT_TRUE(s.writes_queued > 0); /* the small buffers made the socket refuse some */
    CU_ASSERT_EQUAL_FATAL(got.len, want.len);
    CU_ASSERT_EQUAL(memcmp(got.data, want.data, want.len), 0);
    CU_ASSERT_EQUAL(zkv_outq_unread(&s.q), 0);
    zkv_outq_free(&s.q);
    zkv_outq_free(&s.wq);
    zkv_buf_free(&want);
    zkv_buf_free(&got);
    pair_close(&p);
}

static void test_clear_releases(void)
{
    sender s;
    memset(&s, 0, sizeof s);
    zkv_outq_init(&s.q);
    zkv_buf want;
    zkv_buf_init(&want);
    queue_bytes(&s, &want, 10);
    queue_value(&s, &want, 9000);
    queue_value(&s, &want, 9000);
    CU_ASSERT_EQUAL(zkv_outq_unread(&s.q), 18010);
    zkv_outq_clear(&s.q); /* dropped unsent: both values released (else ASan: a leak) */
    CU_ASSERT_EQUAL(zkv_outq_unread(&s.q), 0);
    queue_value(&s, &want, 9000);
    zkv_outq_free(&s.q);
    zkv_buf_free(&want);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite suite = CU_add_suite("server_outq", NULL, NULL);
    CU_add_test(suite, "a GET answer's head decodes as the whole answer",
                test_head_decodes_as_whole);
    CU_add_test(suite, "bytes and values arrive in order through a small socket",
                test_send_in_pieces);
    CU_add_test(suite, "dropping a queue releases its values", test_clear_releases);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed == 0 ? 0 : 1;
}
