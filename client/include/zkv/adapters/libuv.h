/* zkv/adapters/libuv.h: drives a zkv_async from a libuv loop (header only, as hiredis'
 * adapters). One uv_poll_t per node connection, made when the connection first wants an
 * event and closed when it wants none (before its socket is closed), and one uv_timer_t.
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

#include "zkv/zkv_async.h"

typedef struct zkv__uv_watch {
    uv_poll_t poll;
    int fd;
    int events;      /* UV_READABLE | UV_WRITABLE wanted */
    unsigned serial; /* tells a watcher from a later one at the same fd (and address) */
    struct zkv__uv *owner;
} zkv__uv_watch;

/* One adapter callback in progress: alive is cleared if the context is freed under it. */
typedef struct zkv__uv_frame {
    int alive;
    struct zkv__uv_frame *up; /* an outer one (a loop run from inside a callback) */
} zkv__uv_frame;

typedef struct zkv__uv {
    zkv_async *a;
    uv_loop_t *loop;
    uv_timer_t *timer;
    zkv__uv_watch **w; /* indexed by fd */
    int nw;
    unsigned serial;
    zkv__uv_frame *frames;
} zkv__uv;

static void zkv__uv_free_handle(uv_handle_t *h)
{
    free(h);
}

static int zkv__uv_same(const zkv__uv *u, int fd, unsigned serial)
{
    return fd < u->nw && u->w[fd] && u->w[fd]->serial == serial;
}

static void zkv__uv_on_poll(uv_poll_t *p, int status, int events)
{
    zkv__uv_watch *w = (zkv__uv_watch *)p->data;
    zkv__uv *u = w->owner;
    int fd = w->fd;
    unsigned serial = w->serial;
    /* an error reports as the events wanted, so the library sees the failure */
    if (status < 0)
        events = w->events;
    zkv__uv_frame f = {1, u->frames};
    u->frames = &f; /* the context (and u, and w) may be freed by the first call */
    if (events & UV_READABLE)
        zkv_async_handle_read(u->a, fd);
    /* still the same watcher, and it still wants to write: the read did not close (or
     * replace) the connection */
    if (f.alive && (events & UV_WRITABLE) && zkv__uv_same(u, fd, serial) &&
        (u->w[fd]->events & UV_WRITABLE))
        zkv_async_handle_write(u->a, fd);
    if (f.alive)
        u->frames = f.up;
}

/* Sets the events wanted on fd: starts, changes or closes its poll handle. */
static void zkv__uv_update(zkv__uv *u, int fd, int add, int del)
{
    if (fd < 0)
        return;
    if (fd >= u->nw) {
        if (!add)
            return;
        int n = fd + 16;
        zkv__uv_watch **w = (zkv__uv_watch **)realloc(u->w, (size_t)n * sizeof(zkv__uv_watch *));
        if (!w)
            return;
        for (int i = u->nw; i < n; i++)
            w[i] = NULL;
        u->w = w;
        u->nw = n;
    }
    zkv__uv_watch *w = u->w[fd];
    if (!w) {
        if (!add)
            return;
        w = (zkv__uv_watch *)calloc(1, sizeof *w);
        if (!w)
            return;
        if (uv_poll_init(u->loop, &w->poll, fd) != 0) {
            free(w);
            return;
        }
        w->fd = fd;
        w->owner = u;
        w->serial = ++u->serial;
        w->poll.data = w;
        u->w[fd] = w;
    }
    w->events = (w->events | add) & ~del;
    if (w->events) {
        uv_poll_start(&w->poll, w->events, zkv__uv_on_poll);
    } else {
        uv_poll_stop(&w->poll);
        uv_close((uv_handle_t *)&w->poll, zkv__uv_free_handle);
        u->w[fd] = NULL;
    }
}

static void zkv__uv_add_read(void *d, int fd)
{
    zkv__uv_update((zkv__uv *)d, fd, UV_READABLE, 0);
}
static void zkv__uv_del_read(void *d, int fd)
{
    zkv__uv_update((zkv__uv *)d, fd, 0, UV_READABLE);
}
static void zkv__uv_add_write(void *d, int fd)
{
    zkv__uv_update((zkv__uv *)d, fd, UV_WRITABLE, 0);
}
static void zkv__uv_del_write(void *d, int fd)
{
    zkv__uv_update((zkv__uv *)d, fd, 0, UV_WRITABLE);
}

static void zkv__uv_on_timer(uv_timer_t *t)
{
    zkv__uv *u = (zkv__uv *)t->data;
    zkv_async_handle_timeout(u->a);
}

static void zkv__uv_set_timer(void *d, long ms)
{
    zkv__uv *u = (zkv__uv *)d;
    if (ms < 0)
        uv_timer_stop(u->timer);
    else
        uv_timer_start(u->timer, zkv__uv_on_timer, (uint64_t)ms, 0);
}

static void zkv__uv_cleanup(void *d)
{
    zkv__uv *u = (zkv__uv *)d;
    for (int fd = 0; fd < u->nw; fd++)
        if (u->w[fd]) {
            uv_poll_stop(&u->w[fd]->poll);
            uv_close((uv_handle_t *)&u->w[fd]->poll, zkv__uv_free_handle);
        }
    uv_timer_stop(u->timer);
    uv_close((uv_handle_t *)u->timer, zkv__uv_free_handle);
    for (zkv__uv_frame *f = u->frames; f; f = f->up)
        f->alive = 0;
    free(u->w);
    free(u);
}

static inline int zkv_async_libuv_attach(zkv_async *a, uv_loop_t *loop)
{
    if (!a || !loop)
        return ZKV_EINVAL;
    zkv__uv *u = (zkv__uv *)calloc(1, sizeof *u);
    uv_timer_t *t = (uv_timer_t *)calloc(1, sizeof *t);
    if (!u || !t || uv_timer_init(loop, t) != 0) {
        free(u);
        free(t);
        return ZKV_ENOMEM;
    }
    t->data = u;
    u->a = a;
    u->loop = loop;
    u->timer = t;
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
        free(u);
    }
    return rc;
}

#endif
