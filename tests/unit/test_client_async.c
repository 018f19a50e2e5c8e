/* Unit tests of the async client (its pending table, common/pending.h, is tested by
 * test_common_pending.c): zkv_async on a hand-made client (a one-range map, no ZooKeeper)
 * against a scripted loopback peer and a poll(2) loop standing in for an adapter: answers
 * matched to their callbacks, writes of a lost connection waiting for a new owner for the
 * failfast and then failing once each with ZKV_EUNAVAILABLE, zkv_async_free inside a
 * callback deferred, NOT_OWNER re-sent after a backoff; reads falling back to an in-sync
 * replica (stale, with its node and position) when the owner refuses connections or the
 * range has none, ZKV_FLAG_OWNER_ONLY and ZKV_FLAG_READ_REPLICA; a write waiting on the
 * timer until the map names a new owner, then sent there; zkv_async_batch_run (one callback
 * with every operation's status and value). A real cluster: test_async.c. */
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
#include "client.h"

/* --- zkv_async against a scripted peer ------------------------------------------------ */

/* The hooks: what the library wants watched (a few fds), and the timer. */
#define LOOP_FDS 8
typedef struct loop {
    int fd[LOOP_FDS];
    bool r[LOOP_FDS], w[LOOP_FDS];
    long timer_ms;
    int cleanups;
    int rfd; /* the last fd watched for reading, -1 once none is */
} loop;

static void loop_init(loop *l)
{
    memset(l, 0, sizeof *l);
    for (int i = 0; i < LOOP_FDS; i++)
        l->fd[i] = -1;
    l->timer_ms = -1;
    l->rfd = -1;
}

/* The slot of fd (a new one when add). */
static int slot_of(loop *l, int fd, bool add)
{
    for (int i = 0; i < LOOP_FDS; i++)
        if (l->fd[i] == fd)
            return i;
    for (int i = 0; add && i < LOOP_FDS; i++)
        if (l->fd[i] < 0) {
            l->fd[i] = fd;
            return i;
        }
    CU_ASSERT(!add);
    return -1;
}

static void watch_set(loop *l, int fd, bool read, bool on)
{
    int i = slot_of(l, fd, on);
    if (i < 0)
        return;
    (read ? l->r : l->w)[i] = on;
    if (!l->r[i] && !l->w[i])
        l->fd[i] = -1;
    l->rfd = -1;
    for (int k = 0; k < LOOP_FDS; k++)
        if (l->fd[k] >= 0 && l->r[k])
            l->rfd = l->fd[k];
}

static void h_add_read(void *d, int fd)
{
    watch_set(d, fd, true, true);
}
static void h_del_read(void *d, int fd)
{
    watch_set(d, fd, true, false);
}
static void h_add_write(void *d, int fd)
{
    watch_set(d, fd, false, true);
}
static void h_del_write(void *d, int fd)
{
    watch_set(d, fd, false, false);
}
static void h_set_timer(void *d, long ms)
{
    ((loop *)d)->timer_ms = ms;
}
static void h_cleanup(void *d)
{
    ((loop *)d)->cleanups++;
}

/* A map version with one range owned by owner ("" for none), node-2 its in-sync
 * replica; node-1 at 127.0.0.1:port1, node-2 at port2 (0: node-2 not live). */
static zkv_rangemap *fake_map(int64_t version, const char *owner, int port1, int port2)
{
    zkv_rangemap *m = calloc(1, sizeof *m);
    m->version = version;
    m->n_ranges = 1;
    m->ranges = calloc(1, sizeof *m->ranges);
    strcpy(m->ranges[0].id, "r0000");
    strcpy(m->ranges[0].owner, owner);
    if (strcmp(owner, "node-2") != 0) {
        strcpy(m->ranges[0].replicas[0], "node-2");
        strcpy(m->ranges[0].in_sync[0], "node-2");
        m->ranges[0].n_replicas = m->ranges[0].n_in_sync = 1;
    }
    m->ranges[0].epoch = 4;
    m->nodes = calloc(2, sizeof *m->nodes);
    int ports[2] = {port1, port2};
    for (int i = 0; i < 2; i++) {
        if (!ports[i])
            continue;
        zkv_node_info *n = &m->nodes[m->n_nodes++];
        snprintf(n->id, sizeof n->id, "node-%d", i + 1);
        snprintf(n->addr, sizeof n->addr, "127.0.0.1:%d", ports[i]);
    }
    char err[128];
    CU_ASSERT_FATAL(zkv_range_set_bounds(&m->ranges[0], NULL, 0, NULL, 0) == 0);
    CU_ASSERT_FATAL(zkv_rangemap_finish(m, err, sizeof err) == 0);
    return m;
}

/* Replaces the client's map (what the refresher would do). */
static void fake_set_map(zkv_client *c, zkv_rangemap *m)
{
    zkv__mapsnap *s = calloc(1, sizeof *s);
    s->map = m;
    atomic_init(&s->refs, 1);
    pthread_mutex_lock(&c->mc.lock);
    zkv__mapsnap *old = c->mc.snap;
    c->mc.snap = s;
    pthread_mutex_unlock(&c->mc.lock);
    if (old)
        zkv__mapsnap_release(old);
}

/* A client whose map is fake_map(3, owner, port1, port2), failfast ms. */
static zkv_client *fake_client2(const char *owner, int port1, int port2, int failfast)
{
    zkv_client *c = calloc(1, sizeof *c);
    zkv_options *o = zkv_options_create();
    CU_ASSERT_FATAL(c && o && zkv_options_set_failfast(o, failfast) == ZKV_OK &&
                    zkv__options_copy(&c->opts, o) == ZKV_OK);
    zkv_options_free(o);
    strcpy(c->info.cluster_id, "cid-1");
    pthread_mutex_init(&c->mc.lock, NULL);
    fake_set_map(c, fake_map(3, owner, port1, port2));
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

/* One round of the stand-in event loop (up to 50 ms): ready fds, or the timer. */
static void loop_once(zkv_async *a, loop *l)
{
    struct pollfd p[2 * LOOP_FDS];
    int n = 0;
    for (int i = 0; i < LOOP_FDS; i++) {
        if (l->fd[i] >= 0 && l->r[i])
            p[n++] = (struct pollfd){.fd = l->fd[i], .events = POLLIN};
        if (l->fd[i] >= 0 && l->w[i])
            p[n++] = (struct pollfd){.fd = l->fd[i], .events = POLLOUT};
    }
    long wait = l->timer_ms >= 0 && l->timer_ms < 50 ? l->timer_ms : 50;
    if (poll(p, (nfds_t)n, (int)wait) <= 0) {
        if (l->timer_ms >= 0)
            zkv_async_handle_timeout(a);
        return;
    }
    int cleanups = l->cleanups;
    for (int i = 0; i < n && l->cleanups == cleanups; i++) { /* stop once a was freed */
        if (!p[i].revents || slot_of(l, p[i].fd, false) < 0)
            continue; /* closed by an earlier handler */
        if (p[i].events == POLLIN)
            zkv_async_handle_read(a, p[i].fd);
        else
            zkv_async_handle_write(a, p[i].fd);
    }
}

/* The peer sends r, framed. */
static void peer_send(int fd, const Zkv__Response *r)
{
    zkv_buf b;
    zkv_buf_init(&b);
    CU_ASSERT_FATAL(zkv_frame_append_response(&b, r) == 0);
    CU_ASSERT(send(fd, zkv_buf_head(&b), zkv_buf_unread(&b), MSG_NOSIGNAL) ==
              (ssize_t)zkv_buf_unread(&b));
    zkv_buf_free(&b);
}

/* The peer answers: id with status. */
static void peer_answer(int fd, uint64_t id, int status)
{
    Zkv__Response r = ZKV__RESPONSE__INIT;
    r.id = id;
    r.status = status;
    r.cluster_id = "cid-1";
    peer_send(fd, &r);
}

typedef struct got {
    int calls[8];
    int status[8];
    bool free_in_first;
    zkv_async *a;
} got;

static got g_got;
static char g_last_error[512]; /* zkv_last_error() in the last callback */
static int g_stale = -1;       /* zkv_value_stale of the last value (-1: none) */
static char g_node[64];        /* zkv_value_node of the last value */
static zkv_version g_pos;      /* zkv_value_position of the last value */

static void on_cb(zkv_async *a, int status, const zkv_value *v, void *priv)
{
    int i = (int)(intptr_t)priv;
    g_got.calls[i]++;
    g_got.status[i] = status;
    snprintf(g_last_error, sizeof g_last_error, "%s", zkv_last_error());
    g_stale = v ? zkv_value_stale(v) : -1;
    snprintf(g_node, sizeof g_node, "%s", v ? zkv_value_node(v) : "");
    g_pos = zkv_value_position(v);
    if (g_got.free_in_first && i == 0) {
        zkv_async_free(a); /* deferred: the others have not run yet */
        int others = 0;
        for (int k = 1; k < 8; k++)
            others += g_got.calls[k];
        CU_ASSERT_EQUAL(others, 0);
    }
}

/* --- fallback and failfast ------------------------------------------------------------- */

/* A port nothing listens on (connections are refused). */
static int refused_port(void)
{
    int port = 0;
    close(listen_any(&port));
    return port;
}

/* Drives the loop until the peer (sfd) sent a whole request; returns it decoded
 * (zkv__request__free_unpacked), NULL after 5 s. buf/have keep what follows it. */
static Zkv__Request *peer_next(zkv_async *a, loop *l, int sfd, uint8_t *buf, size_t *have)
{
    uint64_t until = zkv_now_ms() + 5000;
    for (;;) {
        if (*have >= 4) {
            size_t len =
                ((size_t)buf[0] << 24) | ((size_t)buf[1] << 16) | ((size_t)buf[2] << 8) | buf[3];
            if (*have >= 4 + len) {
                Zkv__Request *r = zkv__request__unpack(NULL, len, buf + 4);
                memmove(buf, buf + 4 + len, *have - 4 - len);
                *have -= 4 + len;
                return r;
            }
        }
        if (zkv_now_ms() >= until)
            return NULL;
        loop_once(a, l);
        struct pollfd p = {.fd = sfd, .events = POLLIN};
        if (poll(&p, 1, 0) > 0) {
            ssize_t n = recv(sfd, buf + *have, 4096 - *have, 0);
            if (n <= 0)
                return NULL;
            *have += (size_t)n;
        }
    }
}

/* The peer answers a get: value at version 4:seq, its position 4:pos, stale. */
static void peer_value(int fd, uint64_t id, const char *val, uint64_t seq, uint64_t pos)
{
    Zkv__Response r = ZKV__RESPONSE__INIT;
    r.id = id;
    r.status = ZKV__STATUS__OK;
    r.value.data = (uint8_t *)val;
    r.value.len = strlen(val);
    r.epoch = 4;
    r.seq = seq;
    r.range_epoch = 4;
    r.range_seq = pos;
    r.stale = true;
    peer_send(fd, &r);
}

/* Accepts the client's connection on lfd while driving the loop. */
static int peer_accept(zkv_async *a, loop *l, int lfd)
{
    uint64_t until = zkv_now_ms() + 5000;
    while (zkv_now_ms() < until) {
        struct pollfd p = {.fd = lfd, .events = POLLIN};
        if (poll(&p, 1, 0) > 0)
            return accept(lfd, NULL, NULL);
        loop_once(a, l);
    }
    return -1;
}

/* Drives the loop until callback i ran (5 s at most). */
static void wait_cb(zkv_async *a, loop *l, int i)
{
    uint64_t until = zkv_now_ms() + 5000;
    while (g_got.calls[i] == 0 && zkv_now_ms() < until)
        loop_once(a, l);
}

/* --- a fixture: the scripted peer, a client of it and a zkv_async on the stand-in loop ---- */

typedef struct fix {
    int lfd, sfd;     /* the peer's listening and accepted sockets (-1: none) */
    int port1, port2; /* node-1's and node-2's ports in the client's map (0: not live) */
    zkv_client *c;
    zkv_async *a; /* NULL once freed */
    loop l;
    uint8_t buf[4096]; /* what the peer received and has not decoded yet */
    size_t have;
} fix;

/* The peer listens as node-1 (node-2 not live) or, node2 set, as node-2 (node-1's port
 * refuses connections); the client's map is fake_map(3, owner, ...), its failfast ms; a
 * zkv_async of it refuses requests until its hooks (the stand-in loop) are set. g_got is
 * cleared. */
static void fix_open(fix *f, const char *owner, bool node2, int failfast)
{
    memset(f, 0, sizeof *f);
    f->sfd = -1;
    int port = 0;
    f->lfd = listen_any(&port);
    f->port1 = node2 ? refused_port() : port;
    f->port2 = node2 ? port : 0;
    f->c = fake_client2(owner, f->port1, f->port2, failfast);
    loop_init(&f->l);
    zkv_async_hooks h = {&f->l,       h_add_read,  h_del_read, h_add_write,
                         h_del_write, h_set_timer, h_cleanup};
    CU_ASSERT_FATAL(zkv_async_create(f->c, &f->a) == ZKV_OK);
    CU_ASSERT_EQUAL(zkv_async_put(f->a, "k", 1, "v", 1, 0, on_cb, NULL), ZKV_EINVAL); /* no hooks */
    CU_ASSERT_FATAL(zkv_async_set_hooks(f->a, &h) == ZKV_OK);
    memset(&g_got, 0, sizeof g_got);
}

/* Frees the zkv_async (unless it was), closes the peer's sockets, frees the client. */
static void fix_close(fix *f)
{
    if (f->a)
        zkv_async_free(f->a);
    f->a = NULL;
    if (f->sfd >= 0)
        close(f->sfd);
    if (f->lfd >= 0)
        close(f->lfd);
    fake_client_free(f->c);
}

/* The peer's next request (driving the loop), which must be an op; free it with
 * zkv__request__free_unpacked. */
static Zkv__Request *fix_next(fix *f, int op)
{
    Zkv__Request *rq = peer_next(f->a, &f->l, f->sfd, f->buf, &f->have);
    CU_ASSERT_FATAL(rq && (int)rq->op == op);
    return rq;
}

/* The peer accepts the client's connection (driving the loop) and answers its HELLO. */
static void fix_hello(fix *f)
{
    f->sfd = peer_accept(f->a, &f->l, f->lfd);
    CU_ASSERT_FATAL(f->sfd >= 0);
    Zkv__Request *rq = fix_next(f, ZKV__OP__HELLO);
    peer_answer(f->sfd, rq->id, ZKV__STATUS__OK);
    zkv__request__free_unpacked(rq, NULL);
}

/* The peer's next request must be an op; it answers a get with val (version 4:seq, its
 * position 4:pos, stale), anything else with status. */
static void fix_reply(fix *f, int op, int status, const char *val, uint64_t seq, uint64_t pos)
{
    Zkv__Request *rq = fix_next(f, op);
    if (val)
        peer_value(f->sfd, rq->id, val, seq, pos);
    else
        peer_answer(f->sfd, rq->id, status);
    zkv__request__free_unpacked(rq, NULL);
}

/* --- the context against the peer ------------------------------------------------------- */

static void async_scenario(bool free_in_first)
{
    fix f;
    fix_open(&f, "node-1", false, 200); /* failfast 200 ms */
    g_got.free_in_first = free_in_first;
    for (int i = 0; i < 5; i++)
        CU_ASSERT_EQUAL(zkv_async_put(f.a, "k", 1, "v", 1, 0, on_cb, (void *)(intptr_t)i), ZKV_OK);
    CU_ASSERT_EQUAL(zkv_async_pending(f.a), 5);
    CU_ASSERT_EQUAL(g_got.calls[0], 0); /* never from the call itself */
    CU_ASSERT(f.l.rfd >= 0 && f.l.w[slot_of(&f.l, f.l.rfd, false)] && f.l.timer_ms >= 0);
    f.sfd = accept(f.lfd, NULL, NULL);
    CU_ASSERT_FATAL(f.sfd >= 0);
    /* HELLO is id 1, the puts 2..6: hello OK, the first put OK, then the peer hangs up */
    peer_answer(f.sfd, 1, ZKV__STATUS__OK);
    peer_answer(f.sfd, 2, ZKV__STATUS__OK);
    wait_cb(f.a, &f.l, 0);
    CU_ASSERT_EQUAL(g_got.calls[0], 1);
    CU_ASSERT_EQUAL(g_got.status[0], ZKV_OK);
    if (free_in_first) {
        f.a = NULL; /* freed when handle_read returned: every other callback ran, failing */
        for (int i = 1; i < 5; i++) {
            CU_ASSERT_EQUAL(g_got.calls[i], 1);
            CU_ASSERT_EQUAL(g_got.status[i], ZKV_ECONNECT);
        }
        CU_ASSERT_EQUAL(f.l.cleanups, 1);
        CU_ASSERT_EQUAL(f.l.rfd, -1);
    } else {
        /* The node goes away (its port refuses): the writes on the lost connection wait
         * for a new owner for the failfast (200 ms), re-trying the owner, then fail with
         * ZKV_EUNAVAILABLE naming the range and the owner, once each. */
        close(f.sfd);
        close(f.lfd);
        f.sfd = f.lfd = -1;
        uint64_t t0 = zkv_now_ms(), until = t0 + 5000;
        while (zkv_async_pending(f.a) > 0 && zkv_now_ms() < until)
            loop_once(f.a, &f.l);
        uint64_t el = zkv_now_ms() - t0;
        CU_ASSERT(el >= 190 && el < 2000);
        for (int i = 1; i < 5; i++) {
            CU_ASSERT_EQUAL(g_got.calls[i], 1);
            CU_ASSERT_EQUAL(g_got.status[i], ZKV_EUNAVAILABLE);
        }
        CU_ASSERT(strstr(g_last_error, "r0000") && strstr(g_last_error, "node-1") &&
                  strstr(g_last_error, "writes are refused"));
        CU_ASSERT_EQUAL(zkv_async_pending(f.a), 0);
        CU_ASSERT_EQUAL(f.l.rfd, -1); /* the socket was closed and unwatched */
        zkv_async_free(f.a);
        f.a = NULL;
        CU_ASSERT_EQUAL(f.l.cleanups, 1);
    }
    CU_ASSERT_EQUAL(g_got.calls[0], 1);
    fix_close(&f);
}

/* NOT_OWNER (the node's map no newer than ours): re-sent after a backoff on the timer
 * under the next id, then answered; the callback runs once, with the final answer. */
static void test_async_not_owner_resent(void)
{
    fix f;
    fix_open(&f, "node-1", false, 1000);
    CU_ASSERT_EQUAL(zkv_async_del(f.a, "k", 1, 0, on_cb, (void *)(intptr_t)0), ZKV_OK);
    f.sfd = accept(f.lfd, NULL, NULL);
    CU_ASSERT_FATAL(f.sfd >= 0);
    peer_answer(f.sfd, 1, ZKV__STATUS__OK);        /* HELLO */
    peer_answer(f.sfd, 2, ZKV__STATUS__NOT_OWNER); /* the first try */
    uint64_t until = zkv_now_ms() + 5000;
    /* the re-send arrives: HELLO + the first try + the second try, three frames */
    int frames = 0;
    while (frames < 3 && zkv_now_ms() < until) {
        loop_once(f.a, &f.l);
        struct pollfd p = {.fd = f.sfd, .events = POLLIN};
        if (poll(&p, 1, 0) > 0) {
            ssize_t r = recv(f.sfd, f.buf + f.have, sizeof f.buf - f.have, 0);
            CU_ASSERT_FATAL(r > 0);
            f.have += (size_t)r;
            frames = 0;
            for (size_t off = 0; off + 4 <= f.have; frames++) {
                size_t len = ((size_t)f.buf[off] << 24) | ((size_t)f.buf[off + 1] << 16) |
                             ((size_t)f.buf[off + 2] << 8) | f.buf[off + 3];
                if (off + 4 + len > f.have)
                    break;
                off += 4 + len;
            }
        }
    }
    CU_ASSERT_EQUAL(frames, 3);
    CU_ASSERT_EQUAL(g_got.calls[0], 0);            /* not called back for the NOT_OWNER */
    peer_answer(f.sfd, 3, ZKV__STATUS__NOT_FOUND); /* deleting a missing key: OK */
    wait_cb(f.a, &f.l, 0);
    CU_ASSERT_EQUAL(g_got.calls[0], 1);
    CU_ASSERT_EQUAL(g_got.status[0], ZKV_OK);
    CU_ASSERT_EQUAL(zkv_async_pending(f.a), 0);
    fix_close(&f);
    CU_ASSERT_EQUAL(g_got.calls[0], 1); /* not again when freed */
}

/* The owner refuses connections: a get falls back to the in-sync replica (sent with
 * FLAG_ALLOW_STALE) and its value is flagged stale with the replica's node and position;
 * ZKV_FLAG_OWNER_ONLY fails with ZKV_EUNAVAILABLE after the failfast instead;
 * ZKV_FLAG_READ_REPLICA asks the replica on purpose; both flags at once are refused. */
static void test_async_read_fallback(void)
{
    fix f;
    fix_open(&f, "node-1", true, 150);
    CU_ASSERT_EQUAL(zkv_async_get(f.a, "k", 1, ZKV_FLAG_READ_REPLICA | ZKV_FLAG_OWNER_ONLY, on_cb,
                                  (void *)(intptr_t)7),
                    ZKV_EINVAL);
    CU_ASSERT_EQUAL(zkv_async_get(f.a, "k", 1, 0, on_cb, (void *)(intptr_t)0), ZKV_OK);
    fix_hello(&f);
    Zkv__Request *rq = fix_next(&f, ZKV__OP__GET);
    CU_ASSERT(rq->flags & ZKV__REQUEST_FLAG__FLAG_ALLOW_STALE);
    peer_value(f.sfd, rq->id, "v1", 10, 17);
    zkv__request__free_unpacked(rq, NULL);
    wait_cb(f.a, &f.l, 0);
    CU_ASSERT_EQUAL(g_got.calls[0], 1);
    CU_ASSERT_EQUAL(g_got.status[0], ZKV_OK);
    CU_ASSERT_EQUAL(g_stale, 1);
    CU_ASSERT_STRING_EQUAL(g_node, "node-2");
    CU_ASSERT(g_pos.epoch == 4 && g_pos.seq == 17);

    /* owner only: no replica asked; fails once the failfast ran out */
    uint64_t t0 = zkv_now_ms();
    CU_ASSERT_EQUAL(zkv_async_get(f.a, "k", 1, ZKV_FLAG_OWNER_ONLY, on_cb, (void *)(intptr_t)1),
                    ZKV_OK);
    wait_cb(f.a, &f.l, 1);
    CU_ASSERT_EQUAL(g_got.status[1], ZKV_EUNAVAILABLE);
    CU_ASSERT(zkv_now_ms() - t0 >= 140);
    CU_ASSERT(strstr(g_last_error, "ZKV_FLAG_OWNER_ONLY") != NULL);

    /* on purpose: the replica, on the same connection */
    CU_ASSERT_EQUAL(zkv_async_get(f.a, "k", 1, ZKV_FLAG_READ_REPLICA, on_cb, (void *)(intptr_t)2),
                    ZKV_OK);
    rq = fix_next(&f, ZKV__OP__GET);
    CU_ASSERT(rq->flags & ZKV__REQUEST_FLAG__FLAG_ALLOW_STALE);
    peer_value(f.sfd, rq->id, "v2", 11, 18);
    zkv__request__free_unpacked(rq, NULL);
    wait_cb(f.a, &f.l, 2);
    CU_ASSERT_EQUAL(g_got.status[2], ZKV_OK);
    CU_ASSERT(g_stale == 1 && g_pos.seq == 18);
    CU_ASSERT_EQUAL(zkv_async_pending(f.a), 0);
    fix_close(&f);
}

/* A write whose owner refuses connections waits (on the timer) while the map names no
 * other owner, then goes to the new owner the map names, within the failfast: one
 * callback, ZKV_OK. */
static void test_async_write_waits_for_new_owner(void)
{
    fix f;
    fix_open(&f, "node-1", true, 5000);
    CU_ASSERT_EQUAL(zkv_async_put(f.a, "k", 1, "v", 1, 0, on_cb, (void *)(intptr_t)0), ZKV_OK);
    /* a few rounds of backoff against the refusing owner: still waiting */
    uint64_t t0 = zkv_now_ms();
    while (zkv_now_ms() - t0 < 100)
        loop_once(f.a, &f.l);
    CU_ASSERT_EQUAL(g_got.calls[0], 0);
    CU_ASSERT_EQUAL(zkv_async_pending(f.a), 1);
    CU_ASSERT(f.l.timer_ms >= 0);
    struct pollfd p = {.fd = f.lfd, .events = POLLIN};
    CU_ASSERT_EQUAL(poll(&p, 1, 0), 0); /* the replica is never asked to write */
    /* failover: node-2 owns the range now */
    fake_set_map(f.c, fake_map(5, "node-2", f.port1, f.port2));
    fix_hello(&f);
    Zkv__Request *rq = fix_next(&f, ZKV__OP__PUT);
    CU_ASSERT_EQUAL(rq->map_version, 5);
    peer_answer(f.sfd, rq->id, ZKV__STATUS__OK);
    zkv__request__free_unpacked(rq, NULL);
    wait_cb(f.a, &f.l, 0);
    CU_ASSERT_EQUAL(g_got.calls[0], 1);
    CU_ASSERT_EQUAL(g_got.status[0], ZKV_OK);
    CU_ASSERT(zkv_now_ms() - t0 < 5000);
    fix_close(&f);
    CU_ASSERT_EQUAL(g_got.calls[0], 1); /* not again when freed */
}

/* A range without owner: the write is accepted (not refused at once) and fails with
 * ZKV_EUNAVAILABLE once the failfast ran out, saying so; a read is answered by the
 * replica, stale. */
static void test_async_ownerless(void)
{
    fix f;
    fix_open(&f, "", true, 150);
    uint64_t t0 = zkv_now_ms();
    CU_ASSERT_EQUAL(zkv_async_del(f.a, "k", 1, 0, on_cb, (void *)(intptr_t)0), ZKV_OK);
    CU_ASSERT_EQUAL(g_got.calls[0], 0);
    wait_cb(f.a, &f.l, 0);
    CU_ASSERT_EQUAL(g_got.calls[0], 1);
    CU_ASSERT_EQUAL(g_got.status[0], ZKV_EUNAVAILABLE);
    CU_ASSERT(zkv_now_ms() - t0 >= 140);
    CU_ASSERT(strstr(g_last_error, "range r0000 has no owner") != NULL);
    CU_ASSERT_EQUAL(zkv_async_get(f.a, "k", 1, 0, on_cb, (void *)(intptr_t)1), ZKV_OK);
    fix_hello(&f);
    fix_reply(&f, ZKV__OP__GET, 0, "v3", 12, 19);
    wait_cb(f.a, &f.l, 1);
    CU_ASSERT_EQUAL(g_got.status[1], ZKV_OK);
    CU_ASSERT(g_stale == 1 && strcmp(g_node, "node-2") == 0);
    fix_close(&f);
}

/* --- batches ------------------------------------------------------------------------------ */

static int g_batch_calls, g_batch_status;
static char g_batch_err[512];

static void on_batch(zkv_async *a, zkv_batch *b, int status, void *priv)
{
    (void)a;
    CU_ASSERT_PTR_EQUAL(priv, b);
    g_batch_calls++;
    g_batch_status = status;
    snprintf(g_batch_err, sizeof g_batch_err, "%s", zkv_last_error());
}

/* A batch of a get, a put, a delete of a missing key, a get of a missing key and a put
 * whose key is too large: pipelined on one connection, one callback (never from the
 * call) with each operation's status and the value read, as zkv_batch_run leaves them;
 * an empty batch calls back from the next timer. */
static void test_async_batch(void)
{
    fix f;
    fix_open(&f, "node-1", false, 1000);
    zkv_batch *b = zkv_batch_create();
    static char big[5000];
    memset(big, 'k', sizeof big);
    CU_ASSERT_FATAL(b && zkv_batch_get(b, "a", 1) == ZKV_OK &&
                    zkv_batch_put(b, "b", 1, "vb", 2) == 0 && zkv_batch_del(b, "c", 1) == 0 &&
                    zkv_batch_get(b, "d", 1) == 0 &&
                    zkv_batch_put(b, big, sizeof big, "v", 1) == 0);
    g_batch_calls = 0;
    CU_ASSERT_EQUAL(zkv_async_batch_run(f.a, NULL, 0, on_batch, b), ZKV_EINVAL);
    CU_ASSERT_EQUAL(
        zkv_async_batch_run(f.a, b, ZKV_FLAG_READ_REPLICA | ZKV_FLAG_OWNER_ONLY, on_batch, b),
        ZKV_EINVAL);
    CU_ASSERT_EQUAL(zkv_async_batch_run(f.a, b, 0, on_batch, b), ZKV_OK);
    CU_ASSERT_EQUAL(g_batch_calls, 0);
    CU_ASSERT_EQUAL(zkv_async_pending(f.a), 5); /* the batch and its 4 operations */
    fix_hello(&f);
    fix_reply(&f, ZKV__OP__GET, 0, "va", 1, 1);
    fix_reply(&f, ZKV__OP__PUT, ZKV__STATUS__OK, NULL, 0, 0);
    fix_reply(&f, ZKV__OP__DELETE, ZKV__STATUS__NOT_FOUND, NULL, 0, 0);
    fix_reply(&f, ZKV__OP__GET, ZKV__STATUS__NOT_FOUND, NULL, 0, 0);
    uint64_t until = zkv_now_ms() + 5000;
    while (g_batch_calls == 0 && zkv_now_ms() < until)
        loop_once(f.a, &f.l);
    CU_ASSERT_EQUAL(g_batch_calls, 1);
    CU_ASSERT_EQUAL(g_batch_status, ZKV_OK);
    CU_ASSERT(strstr(g_batch_err, "operation 4 of 5") != NULL);
    int st[] = {ZKV_OK, ZKV_OK, ZKV_OK, ZKV_ENOTFOUND, ZKV_ETOOLARGE};
    for (size_t i = 0; i < 5; i++)
        CU_ASSERT_EQUAL(zkv_batch_status(b, i), st[i]);
    size_t len = 0;
    const void *v = zkv_batch_value(b, 0, &len);
    CU_ASSERT(v && len == 2 && memcmp(v, "va", 2) == 0);
    CU_ASSERT_PTR_NULL(zkv_batch_value(b, 3, &len));
    CU_ASSERT_EQUAL(zkv_async_pending(f.a), 0);
    /* empty: called back from the timer, not from the call */
    zkv_batch_clear(b);
    CU_ASSERT_EQUAL(zkv_async_batch_run(f.a, b, 0, on_batch, b), ZKV_OK);
    CU_ASSERT_EQUAL(g_batch_calls, 1);
    CU_ASSERT_EQUAL(f.l.timer_ms, 0);
    while (g_batch_calls == 1 && zkv_now_ms() < until)
        loop_once(f.a, &f.l);
    CU_ASSERT_EQUAL(g_batch_calls, 2);
    zkv_async_free(f.a);
    f.a = NULL;
    zkv_batch_free(b);
    fix_close(&f);
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
    CU_pSuite t = CU_add_suite("client async context, scripted peer", NULL, NULL);
    CU_add_test(t, "answers matched; writes of a lost connection fail after the failfast",
                test_async_loss_fails_all);
    CU_add_test(t, "zkv_async_free inside a callback is deferred", test_async_free_in_callback);
    CU_add_test(t, "NOT_OWNER re-sent on the timer, one callback", test_async_not_owner_resent);
    CU_add_test(t, "owner unreachable: reads fall back to the replica, stale",
                test_async_read_fallback);
    CU_add_test(t, "owner unreachable: a write waits for the new owner",
                test_async_write_waits_for_new_owner);
    CU_add_test(t, "no owner: writes fail after the failfast, reads fall back",
                test_async_ownerless);
    CU_add_test(t, "a batch: pipelined, one callback, statuses and values", test_async_batch);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
