/* zkv/adapters/libuv.h: drives a zkv_async from a libuv loop (header only, as hiredis'
 * adapters). One uv_poll_t per node connection, made when the connection first wants an
 * event and closed when it wants none (before its socket is closed), and one uv_timer_t.
 *
 * Writes are tried before they are polled for: a connection that wants to write is put on
 * a list that a uv_prepare_t handle (run once per loop turn, just before libuv polls)
 * flushes with zkv_async_handle_write; only a connection that still wants to write after
 * that (a full socket buffer, a connect in progress) is polled for UV_WRITABLE. A socket is
 * nearly always writable, and libuv carries out every change of a uv_poll_t's events as
 * an epoll removal and a new registration, so polling for each write would cost two
 * epoll_ctl calls per request batch; this way every request queued in one loop turn leaves
 * in one send(2) and the poll set stays as it is.
 *
 *   zkv_async *a;
 *   zkv_async_create(client, &a);
 *   zkv_async_libuv_attach(a, uv_default_loop());
 *   zkv_async_put(a, "k", 1, "v", 1, 0, on_put, NULL);
 *   uv_run(uv_default_loop(), UV_RUN_DEFAULT);
 *
 * zkv_async_free releases the adapter, and may be called from inside a callback (also
 * one of a loop run from inside a callback); the handles it closes free their memory in
 * their close callbacks, so run the loop once more after it (uv_run returns when nothing
 * is left). Link with libuv. Returns ZKV_OK, ZKV_ENOMEM, or ZKV_EINVAL (NULL argument,
 * already attached). */
#ifndef ZKV_ADAPTERS_LIBUV_H
#define ZKV_ADAPTERS_LIBUV_H
#include <stdlib.h>
#include <uv.h>

#include "zkv/adapters/adapter_common.h"
#include "zkv/zkv_async.h"

typedef struct zkv__uv_watch {
    zkv__watch base; /* first; base.events: UV_READABLE | UV_WRITABLE polled for */
    uv_poll_t poll;  /* poll.data is the watcher, freed by the poll's close callback */
    int want_write;  /* the library wants to write (add_write without del_write) */
    int queued;      /* on the list of writes to try before the next poll */
} zkv__uv_watch;

typedef struct zkv__uv {
    zkv__wtable t; /* first: the watchers' owner */
    uv_loop_t *loop;
    uv_timer_t *timer;
    uv_prepare_t *prepare; /* active while writes wait on the list */
    int *pend;             /* fds whose writes to try, in order */
    int npend, cappend;
} zkv__uv;

static void zkv__uv_free_handle(uv_handle_t *h)
{
    free(h);
}

static void zkv__uv_free_watch(uv_handle_t *h)
{
    free(h->data);
}

static void zkv__uv_on_poll(uv_poll_t *p, int status, int events)
{
    zkv__uv_watch *w = (zkv__uv_watch *)p->data;
    /* an error reports as the events wanted, so the library sees the failure */
    if (status < 0)
        events = w->base.events;
    zkv__wt_dispatch(w->base.owner, &w->base, events & UV_READABLE, events & UV_WRITABLE,
                     UV_WRITABLE);
}

/* The watcher of fd, made (with no events) when create is set and there is none. */
static zkv__uv_watch *zkv__uv_get(zkv__uv *u, int fd, int create)
{
    int made;
    zkv__uv_watch *w = (zkv__uv_watch *)zkv__wt_at(&u->t, fd, create, sizeof *w, &made);
    if (w && made) {
        if (uv_poll_init(u->loop, &w->poll, fd) != 0) {
            zkv__wt_drop(&u->t, fd);
            free(w);
            return NULL;
        }
        w->poll.data = w;
    }
    return w;
}

/* Polls w for events (starts, changes or stops its poll handle); closes the watcher when
 * it wants nothing at all. */
static void zkv__uv_poll(zkv__uv *u, zkv__uv_watch *w, int events)
{
    if (events != w->base.events || !events) {
        w->base.events = events;
        if (events)
            uv_poll_start(&w->poll, events, zkv__uv_on_poll);
        else
            uv_poll_stop(&w->poll);
    }
    if (!events && !w->want_write) {
        zkv__wt_drop(&u->t, w->base.fd);
        uv_close((uv_handle_t *)&w->poll, zkv__uv_free_watch);
    }
}

static void zkv__uv_add_read(void *d, int fd)
{
    zkv__uv *u = (zkv__uv *)d;
    zkv__uv_watch *w = zkv__uv_get(u, fd, 1);
    if (w)
        zkv__uv_poll(u, w, w->base.events | UV_READABLE);
}
static void zkv__uv_del_read(void *d, int fd)
{
    zkv__uv *u = (zkv__uv *)d;
    zkv__uv_watch *w = zkv__uv_get(u, fd, 0);
    if (w)
        zkv__uv_poll(u, w, w->base.events & ~UV_READABLE);
}

static void zkv__uv_on_prepare(uv_prepare_t *p);

static void zkv__uv_add_write(void *d, int fd)
{
    zkv__uv *u = (zkv__uv *)d;
    zkv__uv_watch *w = zkv__uv_get(u, fd, 1);
    if (!w)
        return;
    w->want_write = 1;
    if (w->queued || (w->base.events & UV_WRITABLE))
        return;
    if (u->npend == u->cappend) {
        int n = u->cappend ? 2 * u->cappend : 16;
        int *pend = (int *)realloc(u->pend, (size_t)n * sizeof(int));
        if (!pend) { /* no room on the list: poll for it instead */
            zkv__uv_poll(u, w, w->base.events | UV_WRITABLE);
            return;
        }
        u->pend = pend;
        u->cappend = n;
    }
    u->pend[u->npend++] = fd;
    w->queued = 1;
    uv_prepare_start(u->prepare, zkv__uv_on_prepare);
}
static void zkv__uv_del_write(void *d, int fd)
{
    zkv__uv *u = (zkv__uv *)d;
    zkv__uv_watch *w = zkv__uv_get(u, fd, 0);
    if (!w)
        return;
    w->want_write = 0;
    zkv__uv_poll(u, w, w->base.events & ~UV_WRITABLE);
}

/* Before libuv polls: tries every queued write; a connection that still wants to write
 * (and was not queued again meanwhile) is then polled for UV_WRITABLE. Writes queued by
 * callbacks during the pass are tried in the same pass. */
static void zkv__uv_on_prepare(uv_prepare_t *p)
{
    zkv__uv *u = (zkv__uv *)p->data;
    zkv__wframe f;
    zkv__wt_enter(&u->t, &f); /* the context (and u) may be freed by a write's callbacks */
    for (int i = 0; i < u->npend; i++) {
        int fd = u->pend[i];
        zkv__uv_watch *w = (zkv__uv_watch *)zkv__wt_get(&u->t, fd);
        if (!w || !w->queued)
            continue; /* closed (and perhaps reopened) since it was queued */
        w->queued = 0;
        if (!w->want_write)
            continue;
        unsigned serial = w->base.serial;
        zkv_async_handle_write(u->t.a, fd);
        if (!f.alive)
            return;
        w = (zkv__uv_watch *)zkv__wt_get(&u->t, fd); /* the same watcher (serial) or not */
        if (w && w->base.serial == serial && w->want_write && !w->queued)
            zkv__uv_poll(u, w, w->base.events | UV_WRITABLE);
    }
    u->npend = 0;
    uv_prepare_stop(p);
    zkv__wt_leave(&u->t, &f);
}

static void zkv__uv_on_timer(uv_timer_t *t)
{
    zkv__uv *u = (zkv__uv *)t->data;
    zkv_async_handle_timeout(u->t.a);
}

static void zkv__uv_set_timer(void *d, long ms)
{
    zkv__uv *u = (zkv__uv *)d;
    if (ms < 0)
        uv_timer_stop(u->timer);
    else
        uv_timer_start(u->timer, zkv__uv_on_timer, (uint64_t)ms, 0);
}

static void zkv__uv_release(zkv__wtable *t, zkv__watch *b)
{
    zkv__uv_watch *w = (zkv__uv_watch *)b;
    (void)t;
    uv_poll_stop(&w->poll);
    uv_close((uv_handle_t *)&w->poll, zkv__uv_free_watch);
}

static void zkv__uv_cleanup(void *d)
{
    zkv__uv *u = (zkv__uv *)d;
    zkv__wt_free(&u->t, zkv__uv_release);
    uv_timer_stop(u->timer);
    uv_close((uv_handle_t *)u->timer, zkv__uv_free_handle);
    uv_prepare_stop(u->prepare);
    uv_close((uv_handle_t *)u->prepare, zkv__uv_free_handle);
    free(u->pend);
    free(u);
}

static inline int zkv_async_libuv_attach(zkv_async *a, uv_loop_t *loop)
{
    if (!a || !loop)
        return ZKV_EINVAL;
    zkv__uv *u = (zkv__uv *)calloc(1, sizeof *u);
    uv_timer_t *t = (uv_timer_t *)calloc(1, sizeof *t);
    uv_prepare_t *pr = (uv_prepare_t *)calloc(1, sizeof *pr);
    if (!u || !t || !pr || uv_timer_init(loop, t) != 0) {
        free(u);
        free(t);
        free(pr);
        return ZKV_ENOMEM;
    }
    uv_prepare_init(loop, pr);
    t->data = u;
    pr->data = u;
    u->t.a = a;
    u->loop = loop;
    u->timer = t;
    u->prepare = pr;
    zkv_async_hooks h = {u,
                         zkv__uv_add_read,
                         zkv__uv_del_read,
                         zkv__uv_add_write,
                         zkv__uv_del_write,
                         zkv__uv_set_timer,
                         zkv__uv_cleanup};
    int rc = zkv_async_set_hooks(a, &h);
    if (rc != ZKV_OK) {
        uv_close((uv_handle_t *)t, zkv__uv_free_handle);
        uv_close((uv_handle_t *)pr, zkv__uv_free_handle);
        free(u);
    }
    return rc;
}

#endif
