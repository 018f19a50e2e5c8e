/* test_coordinator_position.c: CUnit tests of the coordinator's RANGE_STATUS client
 * (coordinator/position.c) against fake nodes on loopback, one thread each: positions
 * read back per range, the hello it sends, a node of another cluster, a node that does
 * not know RANGE_STATUS, a refused connection, a node that accepts and never answers
 * (the budget bounds the call, and the other nodes are still heard), and many ranges
 * pipelined on one connection. */
#include <CUnit/Basic.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/hello.h"
#include "position.h"
#include "common/buf.h"
#include "common/frame.h"
#include "common/util.h"

#define CLUSTER_ID "c-1234"

typedef enum {
    FAKE_OK,    /* answers RANGE_STATUS with the position table */
    FAKE_HANG,  /* reads everything, answers nothing */
    FAKE_OTHER, /* belongs to another cluster: refuses the hello and closes */
    FAKE_OLD,   /* answers the hello, then BAD_REQUEST "unknown op" */
    FAKE_HALF,  /* answers the hello and the first range, then closes */
} fake_mode;

typedef struct fake {
    fake_mode mode;
    int lfd;
    char addr[64];
    pthread_t th;
    /* what it saw */
    char hello_node_id[64];
    char hello_cluster[64];
    int range_requests;
} fake;

/* Position of a range on a fake node: epoch = 3, seq = 1000 + the range number. */
static uint64_t fake_seq(const char *range_id)
{
    return 1000u + (uint64_t)strtoul(range_id + 1, NULL, 10);
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void *fake_main(void *arg)
{
    fake *f = arg;
    int fd = accept(f->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    zkv_buf in, out;
    zkv_buf_init(&in);
    zkv_buf_init(&out);
    bool open = true;
    while (open) {
        zkv_buf_compact(&in);
        if (zkv_buf_reserve(&in, 4096) != 0)
            break;
        ssize_t r = recv(fd, in.data + in.len, in.cap - in.len, 0);
        if (r <= 0)
            break;
        in.len += (size_t)r;
        for (;;) {
            const uint8_t *payload;
            size_t plen, consumed;
            if (zkv_frame_parse(zkv_buf_head(&in), zkv_buf_unread(&in), 1u << 20, &payload, &plen,
                                &consumed) != ZKV_FRAME_OK)
                break;
            Zkv__Request *req = zkv__request__unpack(NULL, plen, payload);
            zkv_buf_consume(&in, consumed);
            if (!req) {
                open = false;
                break;
            }
            Zkv__Response resp = ZKV__RESPONSE__INIT;
            resp.id = req->id;
            bool close_after = false, answer = f->mode != FAKE_HANG;
            if (req->op == ZKV__OP__HELLO) {
                snprintf(f->hello_node_id, sizeof(f->hello_node_id), "%s",
                         req->node_id ? req->node_id : "");
                snprintf(f->hello_cluster, sizeof(f->hello_cluster), "%s",
                         req->cluster_id ? req->cluster_id : "");
                if (f->mode == FAKE_OTHER) {
                    resp.status = ZKV__STATUS__WRONG_CLUSTER;
                    resp.message = (char *)"this node belongs to another cluster";
                    close_after = true;
                }
            } else if (req->op == ZKV__OP__RANGE_STATUS) {
                f->range_requests++;
                if (f->mode == FAKE_OLD) {
                    resp.status = ZKV__STATUS__BAD_REQUEST;
                    resp.message = (char *)"unknown op 7";
                } else if (f->mode == FAKE_HALF && f->range_requests > 1) {
                    answer = false;
                    close_after = true;
                } else {
                    resp.range_id = req->range_id;
                    resp.range_epoch = 3;
                    resp.range_seq = fake_seq(req->range_id);
                }
            } else {
                resp.status = ZKV__STATUS__BAD_REQUEST;
            }
            if (answer && zkv_frame_append_response(&out, &resp) != 0)
                close_after = true;
            zkv__request__free_unpacked(req, NULL);
            if (close_after) {
                open = false;
                break;
            }
        }
        if (zkv_buf_unread(&out) > 0 &&
            write_all(fd, zkv_buf_head(&out), zkv_buf_unread(&out)) != 0)
            break;
        out.len = out.off = 0;
    }
    if (zkv_buf_unread(&out) > 0)
        (void)write_all(fd, zkv_buf_head(&out), zkv_buf_unread(&out));
    close(fd);
    zkv_buf_free(&in);
    zkv_buf_free(&out);
    return NULL;
}

/* Listens on a free loopback port; the thread serves one connection. */
static void fake_start(fake *f, fake_mode mode)
{
    memset(f, 0, sizeof(*f));
    f->mode = mode;
    f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CU_ASSERT_FATAL(f->lfd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CU_ASSERT_FATAL(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    CU_ASSERT_FATAL(listen(f->lfd, 4) == 0);
    socklen_t sl = sizeof(sa);
    CU_ASSERT_FATAL(getsockname(f->lfd, (struct sockaddr *)&sa, &sl) == 0);
    snprintf(f->addr, sizeof(f->addr), "127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
    CU_ASSERT_FATAL(pthread_create(&f->th, NULL, fake_main, f) == 0);
}

/* The client closed its end when zkv_position_ask returned, so every fake ends. */
static void fake_stop(fake *f)
{
    shutdown(f->lfd, SHUT_RDWR); /* a fake nobody connected to leaves accept() */
    pthread_join(f->th, NULL);
    close(f->lfd);
}

/* A loopback port nobody listens on. */
static void closed_addr(char *out, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    CU_ASSERT_FATAL(getsockname(fd, (struct sockaddr *)&sa, &sl) == 0);
    snprintf(out, len, "127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
    close(fd);
}

static const char *const three_ranges[] = {"r0001", "r0003", "r0007"};

static void target(zkv_position_target *t, const char *node, const char *addr,
                   const char *const *ranges, size_t n, zkv_position_answer *answers)
{
    memset(t, 0, sizeof(*t));
    t->node_id = node;
    t->addr = addr;
    t->range_ids = ranges;
    t->n_ranges = n;
    t->answers = answers;
    snprintf(t->error, sizeof(t->error), "stale text from before");
}

static void test_positions_read_back(void)
{
    fake f;
    fake_start(&f, FAKE_OK);
    zkv_position_answer ans[3];
    memset(ans, 0xff, sizeof(ans));
    zkv_position_target t;
    target(&t, "node-2", f.addr, three_ranges, 3, ans);
    zkv_position_ask(&t, 1, CLUSTER_ID, NULL, NULL, 2000);
    fake_stop(&f);
    CU_ASSERT_STRING_EQUAL(t.error, "");
    for (int k = 0; k < 3; k++) {
        CU_ASSERT_TRUE(ans[k].answered);
        CU_ASSERT_EQUAL(ans[k].epoch, 3);
        CU_ASSERT_EQUAL(ans[k].seq, fake_seq(three_ranges[k]));
    }
    CU_ASSERT_STRING_EQUAL(f.hello_node_id, ZKV_COORDINATOR_NODE_ID);
    CU_ASSERT_STRING_EQUAL(f.hello_cluster, CLUSTER_ID);
    CU_ASSERT_EQUAL(f.range_requests, 3);
}

static void test_other_cluster(void)
{
    fake f;
    fake_start(&f, FAKE_OTHER);
    zkv_position_answer ans[3];
    zkv_position_target t;
    target(&t, "node-2", f.addr, three_ranges, 3, ans);
    uint64_t t0 = zkv_now_ms();
    zkv_position_ask(&t, 1, CLUSTER_ID, NULL, NULL, 2000);
    CU_ASSERT_TRUE(zkv_now_ms() - t0 < 1500); /* ends on the refusal, not the budget */
    fake_stop(&f);
    for (int k = 0; k < 3; k++)
        CU_ASSERT_FALSE(ans[k].answered);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(t.error, "hello refused: WRONG_CLUSTER: this node belongs to another cluster"));
}

static void test_node_without_range_status(void)
{
    fake f;
    fake_start(&f, FAKE_OLD);
    zkv_position_answer ans[3];
    zkv_position_target t;
    target(&t, "node-2", f.addr, three_ranges, 3, ans);
    uint64_t t0 = zkv_now_ms();
    zkv_position_ask(&t, 1, CLUSTER_ID, NULL, NULL, 2000);
    CU_ASSERT_TRUE(zkv_now_ms() - t0 < 1500); /* every answer came: no waiting */
    fake_stop(&f);
    for (int k = 0; k < 3; k++)
        CU_ASSERT_FALSE(ans[k].answered);
    CU_ASSERT_STRING_EQUAL(t.error, "r0001: BAD_REQUEST: unknown op 7");
}

static void test_refused_and_bad_address(void)
{
    char addr[64];
    closed_addr(addr, sizeof(addr));
    zkv_position_answer a1[3], a2[3];
    zkv_position_target t[2];
    target(&t[0], "node-2", addr, three_ranges, 3, a1);
    target(&t[1], "node-3", "no-port-here", three_ranges, 3, a2);
    zkv_position_ask(t, 2, CLUSTER_ID, NULL, NULL, 500);
    for (int k = 0; k < 3; k++)
        CU_ASSERT_FALSE(a1[k].answered || a2[k].answered);
    CU_ASSERT_PTR_NOT_NULL(strstr(t[0].error, "connect: Connection refused"));
    CU_ASSERT_STRING_EQUAL(t[1].error, "bad address");
}

static void test_hung_node_bounded(void)
{
    /* One node hangs, one closes half way, one answers: the call takes the budget once
     * and still returns what the healthy node said. */
    fake hang, half, ok;
    fake_start(&hang, FAKE_HANG);
    fake_start(&half, FAKE_HALF);
    fake_start(&ok, FAKE_OK);
    zkv_position_answer a0[3], a1[3], a2[1];
    zkv_position_target t[3];
    target(&t[0], "node-2", hang.addr, three_ranges, 3, a0);
    target(&t[1], "node-3", half.addr, three_ranges, 3, a1);
    target(&t[2], "node-4", ok.addr, &three_ranges[2], 1, a2);
    uint64_t t0 = zkv_now_ms();
    zkv_position_ask(t, 3, CLUSTER_ID, NULL, NULL, 400);
    uint64_t took = zkv_now_ms() - t0;
    fake_stop(&hang);
    fake_stop(&half);
    fake_stop(&ok);
    CU_ASSERT_TRUE(took >= 390);
    CU_ASSERT_TRUE(took < 700); /* the budget once, not once per node */
    CU_ASSERT_STRING_EQUAL(t[0].error, "no answer within 400 ms");
    for (int k = 0; k < 3; k++)
        CU_ASSERT_FALSE(a0[k].answered);
    CU_ASSERT_TRUE(a1[0].answered);
    CU_ASSERT_EQUAL(a1[0].seq, 1001);
    CU_ASSERT_FALSE(a1[1].answered);
    CU_ASSERT_FALSE(a1[2].answered);
    CU_ASSERT_STRING_EQUAL(t[1].error, "closed the connection");
    CU_ASSERT_STRING_EQUAL(t[2].error, "");
    CU_ASSERT_TRUE(a2[0].answered);
    CU_ASSERT_EQUAL(a2[0].seq, 1007);
}

static void test_many_ranges_one_connection(void)
{
    enum { N = 3000 };
    static char names[N][16];
    static const char *ids[N];
    static zkv_position_answer ans[N];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "r%04d", i);
        ids[i] = names[i];
    }
    fake f;
    fake_start(&f, FAKE_OK);
    zkv_position_target t;
    target(&t, "node-2", f.addr, ids, N, ans);
    zkv_position_ask(&t, 1, CLUSTER_ID, NULL, NULL, 5000);
    fake_stop(&f);
    CU_ASSERT_STRING_EQUAL(t.error, "");
    CU_ASSERT_EQUAL(f.range_requests, N);
    int right = 0;
    for (int i = 0; i < N; i++)
        right += ans[i].answered && ans[i].seq == 1000u + (uint64_t)i;
    CU_ASSERT_EQUAL(right, N);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("coordinator_position", NULL, NULL);
    CU_add_test(s, "positions read back", test_positions_read_back);
    CU_add_test(s, "other cluster", test_other_cluster);
    CU_add_test(s, "node without RANGE_STATUS", test_node_without_range_status);
    CU_add_test(s, "refused and bad address", test_refused_and_bad_address);
    CU_add_test(s, "hung node bounded", test_hung_node_bounded);
    CU_add_test(s, "many ranges on one connection", test_many_ranges_one_connection);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
