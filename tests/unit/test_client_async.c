/* Unit tests of the async client. The pure part: the pending-request table of one
 * connection (client/src/apending.c): consecutive ids from 1, in-order completion (an
 * answer for any id but the head's is refused), growth while the ring wraps, fail-all
 * on connection loss in order, and ids that keep growing after a drain. Then zkv_async
 * itself on a hand-made client (a one-range map, no ZooKeeper) against a scripted
 * loopback peer and a poll(2) loop standing in for an adapter: answers matched to their
 * callbacks, a closed connection failing every pending callback once with ZKV_ECONNECT,
 * zkv_async_free inside a callback deferred, NOT_OWNER re-sent after a backoff. A real
 * cluster: test_async.c. */
#include <CUnit/Basic.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zkv/zkv_async.h"
#include "common/util.h"
#include "apending.h"
#include "client.h"

static void test_ids_and_order(void)
{
    zkv__apq q;
    zkv__apq_init(&q);
    int items[3];
    uint64_t id = 0;
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(zkv__apq_push(&q, &items[i], &id), 0);
        CU_ASSERT_EQUAL(id, (uint64_t)i + 1);
    }
    CU_ASSERT_EQUAL(zkv__apq_count(&q), 3);
    void *item = NULL;
    CU_ASSERT_EQUAL(zkv__apq_pop(&q, 2, &item), -1); /* not the head: out of order */
    CU_ASSERT_EQUAL(zkv__apq_pop(&q, 9, &item), -1); /* unknown */
    CU_ASSERT_EQUAL(zkv__apq_count(&q), 3);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(zkv__apq_pop(&q, (uint64_t)i + 1, &item), 0);
        CU_ASSERT_PTR_EQUAL(item, &items[i]);
    }
    CU_ASSERT_EQUAL(zkv__apq_count(&q), 0);
    CU_ASSERT_EQUAL(zkv__apq_pop(&q, 4, &item), -1); /* empty */
    zkv__apq_free(&q);
    zkv__apq_free(&q); /* twice is harmless */
}

/* Pushes and pops interleaved so the ring wraps before it grows. */
static void test_wrap_and_grow(void)
{
    zkv__apq q;
    zkv__apq_init(&q);
    static int items[5000];
    uint64_t next_pop = 1, id = 0;
    int pushed = 0;
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 70 + round * 2 && pushed < 5000; i++, pushed++) {
            CU_ASSERT_EQUAL_FATAL(zkv__apq_push(&q, &items[pushed], &id), 0);
            CU_ASSERT_EQUAL(id, (uint64_t)pushed + 1);
        }
        for (int i = 0; i < 60 && zkv__apq_count(&q) > 0; i++) {
            void *item = NULL;
            CU_ASSERT_EQUAL_FATAL(zkv__apq_pop(&q, next_pop, &item), 0);
            CU_ASSERT_PTR_EQUAL(item, &items[next_pop - 1]);
            next_pop++;
        }
        for (size_t k = 0; k < zkv__apq_count(&q); k++)
            CU_ASSERT_EQUAL(zkv__apq_at(&q, k)->id, next_pop + k);
    }
    zkv__apq_free(&q);
}

typedef struct seen {
    uint64_t ids[16];
    void *items[16];
    int n;
} seen;

static void record(void *arg, uint64_t id, void *item)
{
    seen *s = arg;
    s->ids[s->n] = id;
    s->items[s->n++] = item;
}

static void test_drain_on_loss(void)
{
    zkv__apq q;
    zkv__apq_init(&q);
    int items[5];
    uint64_t id = 0;
    for (int i = 0; i < 5; i++)
        zkv__apq_push(&q, &items[i], &id);
    void *item = NULL;
    CU_ASSERT_EQUAL(zkv__apq_pop(&q, 1, &item), 0);
    seen s = {.n = 0};
    zkv__apq_drain(&q, record, &s); /* the connection is lost: every pending one fails */
    CU_ASSERT_EQUAL(s.n, 4);
    for (int i = 0; i < 4; i++) {
        CU_ASSERT_EQUAL(s.ids[i], (uint64_t)i + 2);
        CU_ASSERT_PTR_EQUAL(s.items[i], &items[i + 1]);
    }
    CU_ASSERT_EQUAL(zkv__apq_count(&q), 0);
    CU_ASSERT_EQUAL(zkv__apq_push(&q, &items[0], &id), 0);
    CU_ASSERT_EQUAL(id, 6); /* ids never repeat on the same table */
    s.n = 0;
    zkv__apq_drain(&q, record, &s);
    CU_ASSERT_EQUAL(s.n, 1);
    zkv__apq_free(&q);
}

/* --- zkv_async against a scripted peer ------------------------------------------------ */

/* The hooks: what the library wants watched, and the timer. */
typedef struct loop {
    int rfd, wfd; /* one connection in these tests */
    long timer_ms;
    int cleanups;
} loop;

static void h_add_read(void *d, int fd)
{
    ((loop *)d)->rfd = fd;
}
static void h_del_read(void *d, int fd)
{
    (void)fd;
    ((loop *)d)->rfd = -1;
}
static void h_add_write(void *d, int fd)
{
    ((loop *)d)->wfd = fd;
}
static void h_del_write(void *d, int fd)
{
    (void)fd;
    ((loop *)d)->wfd = -1;
}
static void h_set_timer(void *d, long ms)
{
    ((loop *)d)->timer_ms = ms;
}
static void h_cleanup(void *d)
{
    ((loop *)d)->cleanups++;
}

/* A client whose map has one range, owned by node-1 at 127.0.0.1:port. */
static zkv_client *fake_client(int port)
{
    zkv_client *c = calloc(1, sizeof *c);
    zkv_options *o = zkv_options_create();
    CU_ASSERT_FATAL(c && o && zkv__options_copy(&c->opts, o) == ZKV_OK);
    zkv_options_free(o);
    strcpy(c->info.cluster_id, "cid-1");
    pthread_mutex_init(&c->mc.lock, NULL);
    zkv_rangemap *m = calloc(1, sizeof *m);
    m->version = 3;
    m->n_ranges = 1;
    m->ranges = calloc(1, sizeof *m->ranges);
    strcpy(m->ranges[0].id, "r0000");
    strcpy(m->ranges[0].owner, "node-1");
    m->n_nodes = 1;
    m->nodes = calloc(1, sizeof *m->nodes);
    strcpy(m->nodes[0].id, "node-1");
    snprintf(m->nodes[0].addr, sizeof m->nodes[0].addr, "127.0.0.1:%d", port);
    char err[128];
    CU_ASSERT_FATAL(zkv_range_set_bounds(&m->ranges[0], NULL, 0, NULL, 0) == 0);
    CU_ASSERT_FATAL(zkv_rangemap_finish(m, err, sizeof err) == 0);
    c->mc.snap = calloc(1, sizeof *c->mc.snap);
    c->mc.snap->map = m;
    atomic_init(&c->mc.snap->refs, 1);
    return c;
}

static void fake_client_free(zkv_client *c)
{
    zkv__mapsnap_release(c->mc.snap);
    pthread_mutex_destroy(&c->mc.lock);
    zkv__options_clear(&c->opts);
    free(c);
}

static int listen_any(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    CU_ASSERT_FATAL(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
                    listen(fd, 4) == 0 && getsockname(fd, (struct sockaddr *)&sa, &sl) == 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

/* One round of the stand-in event loop (up to 50 ms). */
static void loop_once(zkv_async *a, loop *l)
{
    struct pollfd p[2];
    int n = 0;
    if (l->rfd >= 0)
        p[n++] = (struct pollfd){.fd = l->rfd, .events = POLLIN};
    if (l->wfd >= 0)
        p[n++] = (struct pollfd){.fd = l->wfd, .events = POLLOUT};
    if (poll(p, (nfds_t)n, 50) <= 0) {
        if (l->timer_ms >= 0)
            zkv_async_handle_timeout(a);
        return;
    }
    int cleanups = l->cleanups;
    for (int i = 0; i < n && l->cleanups == cleanups; i++) { /* stop once a was freed */
        if ((p[i].revents & (POLLIN | POLLHUP | POLLERR)) && p[i].events == POLLIN)
            zkv_async_handle_read(a, p[i].fd);
        else if (p[i].revents && p[i].events == POLLOUT)
            zkv_async_handle_write(a, p[i].fd);
    }
}

/* The peer answers: id with status. */
static void peer_answer(int fd, uint64_t id, int status)
{
    Zkv__Response r = ZKV__RESPONSE__INIT;
    r.id = id;
    r.status = status;
    r.cluster_id = "cid-1";
    zkv_buf b;
    zkv_buf_init(&b);
    CU_ASSERT_FATAL(zkv_frame_append_response(&b, &r) == 0);
    CU_ASSERT(send(fd, zkv_buf_head(&b), zkv_buf_unread(&b), MSG_NOSIGNAL) ==
              (ssize_t)zkv_buf_unread(&b));
    zkv_buf_free(&b);
}

typedef struct got {
    int calls[8];
    int status[8];
    bool free_in_first;
    zkv_async *a;
} got;

static got g_got;

static void on_cb(zkv_async *a, int status, const zkv_value *v, void *priv)
{
    (void)v;
    int i = (int)(intptr_t)priv;
    g_got.calls[i]++;
    g_got.status[i] = status;
    if (g_got.free_in_first && i == 0) {
        zkv_async_free(a); /* deferred: the others have not run yet */
        int others = 0;
        for (int k = 1; k < 8; k++)
            others += g_got.calls[k];
        CU_ASSERT_EQUAL(others, 0);
    }
}

static void async_scenario(bool free_in_first)
{
    int port = 0;
    int lfd = listen_any(&port);
    zkv_client *c = fake_client(port);
    zkv_async *a = NULL;
    loop l = {.rfd = -1, .wfd = -1, .timer_ms = -1};
    zkv_async_hooks h = {&l,          h_add_read,  h_del_read, h_add_write,
                         h_del_write, h_set_timer, h_cleanup};
    CU_ASSERT_FATAL(zkv_async_create(c, &a) == ZKV_OK);
    CU_ASSERT_EQUAL(zkv_async_put(a, "k", 1, "v", 1, 0, on_cb, NULL), ZKV_EINVAL); /* no hooks */
    CU_ASSERT_FATAL(zkv_async_set_hooks(a, &h) == ZKV_OK);
    memset(&g_got, 0, sizeof g_got);
    g_got.free_in_first = free_in_first;
    for (int i = 0; i < 5; i++)
        CU_ASSERT_EQUAL(zkv_async_put(a, "k", 1, "v", 1, 0, on_cb, (void *)(intptr_t)i), ZKV_OK);
    CU_ASSERT_EQUAL(zkv_async_pending(a), 5);
    CU_ASSERT_EQUAL(g_got.calls[0], 0); /* never from the call itself */
    CU_ASSERT(l.rfd >= 0 && l.wfd >= 0 && l.timer_ms >= 0);
    int sfd = accept(lfd, NULL, NULL);
    CU_ASSERT_FATAL(sfd >= 0);
    /* HELLO is id 1, the puts 2..6: hello OK, the first put OK, then the peer hangs up */
    peer_answer(sfd, 1, ZKV__STATUS__OK);
    peer_answer(sfd, 2, ZKV__STATUS__OK);
    uint64_t until = zkv_now_ms() + 5000;
    while (g_got.calls[0] == 0 && zkv_now_ms() < until)
        loop_once(a, &l);
    CU_ASSERT_EQUAL(g_got.calls[0], 1);
    CU_ASSERT_EQUAL(g_got.status[0], ZKV_OK);
    if (free_in_first) {
        /* freed when handle_read returned: every other callback ran, with a failure */
        for (int i = 1; i < 5; i++) {
            CU_ASSERT_EQUAL(g_got.calls[i], 1);
            CU_ASSERT_EQUAL(g_got.status[i], ZKV_ECONNECT);
        }
        CU_ASSERT_EQUAL(l.cleanups, 1);
        CU_ASSERT_EQUAL(l.rfd, -1);
    } else {
        close(sfd);
        sfd = -1;
        while (zkv_async_pending(a) > 0 && zkv_now_ms() < until)
            loop_once(a, &l);
        for (int i = 1; i < 5; i++) {
            CU_ASSERT_EQUAL(g_got.calls[i], 1);
            CU_ASSERT_EQUAL(g_got.status[i], ZKV_ECONNECT);
        }
        CU_ASSERT_EQUAL(zkv_async_pending(a), 0);
        CU_ASSERT_EQUAL(l.rfd, -1); /* the socket was closed and unwatched */
        zkv_async_free(a);
        CU_ASSERT_EQUAL(l.cleanups, 1);
    }
    CU_ASSERT_EQUAL(g_got.calls[0], 1);
    if (sfd >= 0)
        close(sfd);
    close(lfd);
    fake_client_free(c);
}

/* NOT_OWNER (the node's map no newer than ours): re-sent after a backoff on the timer
 * under the next id, then answered; the callback runs once, with the final answer. */
static void test_async_not_owner_resent(void)
{
    int port = 0;
    int lfd = listen_any(&port);
    zkv_client *c = fake_client(port);
    zkv_async *a = NULL;
    loop l = {.rfd = -1, .wfd = -1, .timer_ms = -1};
    zkv_async_hooks h = {&l,          h_add_read,  h_del_read, h_add_write,
                         h_del_write, h_set_timer, h_cleanup};
    CU_ASSERT_FATAL(zkv_async_create(c, &a) == ZKV_OK);
    CU_ASSERT_FATAL(zkv_async_set_hooks(a, &h) == ZKV_OK);
    memset(&g_got, 0, sizeof g_got);
    CU_ASSERT_EQUAL(zkv_async_del(a, "k", 1, 0, on_cb, (void *)(intptr_t)0), ZKV_OK);
    int sfd = accept(lfd, NULL, NULL);
    CU_ASSERT_FATAL(sfd >= 0);
    peer_answer(sfd, 1, ZKV__STATUS__OK);        /* HELLO */
    peer_answer(sfd, 2, ZKV__STATUS__NOT_OWNER); /* the first try */
    uint64_t until = zkv_now_ms() + 5000;
    uint8_t buf[4096];
    size_t have = 0;
    /* the re-send arrives: HELLO + the first try + the second try, three frames */
    int frames = 0;
    while (frames < 3 && zkv_now_ms() < until) {
        loop_once(a, &l);
        struct pollfd p = {.fd = sfd, .events = POLLIN};
        if (poll(&p, 1, 0) > 0) {
            ssize_t r = recv(sfd, buf + have, sizeof buf - have, 0);
            CU_ASSERT_FATAL(r > 0);
            have += (size_t)r;
            frames = 0;
            for (size_t off = 0; off + 4 <= have; frames++) {
                size_t len = ((size_t)buf[off] << 24) | ((size_t)buf[off + 1] << 16) |
                             ((size_t)buf[off + 2] << 8) | buf[off + 3];
                if (off + 4 + len > have)
                    break;
                off += 4 + len;
            }
        }
    }
    CU_ASSERT_EQUAL(frames, 3);
    CU_ASSERT_EQUAL(g_got.calls[0], 0);          /* not called back for the NOT_OWNER */
    peer_answer(sfd, 3, ZKV__STATUS__NOT_FOUND); /* deleting a missing key: OK */
    while (g_got.calls[0] == 0 && zkv_now_ms() < until)
        loop_once(a, &l);
    CU_ASSERT_EQUAL(g_got.calls[0], 1);
    CU_ASSERT_EQUAL(g_got.status[0], ZKV_OK);
    CU_ASSERT_EQUAL(zkv_async_pending(a), 0);
    zkv_async_free(a);
    CU_ASSERT_EQUAL(g_got.calls[0], 1);
    close(sfd);
    close(lfd);
    fake_client_free(c);
}

static void test_async_loss_fails_all(void)
{
    async_scenario(false);
}

static void test_async_free_in_callback(void)
{
    async_scenario(true);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("client async pending table", NULL, NULL);
    CU_add_test(s, "ids from 1, in-order pops, other ids refused", test_ids_and_order);
    CU_add_test(s, "ring wraps and grows", test_wrap_and_grow);
    CU_add_test(s, "drain on loss, ids keep growing", test_drain_on_loss);
    CU_pSuite t = CU_add_suite("client async context, scripted peer", NULL, NULL);
    CU_add_test(t, "answers matched, a lost connection fails the rest once",
                test_async_loss_fails_all);
    CU_add_test(t, "zkv_async_free inside a callback is deferred", test_async_free_in_callback);
    CU_add_test(t, "NOT_OWNER re-sent on the timer, one callback", test_async_not_owner_resent);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
