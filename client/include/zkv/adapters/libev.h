/* zkv/adapters/libev.h: drives a zkv_async from a libev loop (header only, as hiredis'
 * adapters). One ev_io watcher per node connection, started when the connection first
 * wants an event and stopped and freed when it wants none (before its socket is closed),
 * and one ev_timer.
 *
 *   struct ev_loop *loop = ev_default_loop(0);
 *   zkv_async *a;
 *   zkv_async_create(client, &a);
 *   zkv_async_libev_attach(a, loop);
 *   zkv_async_put(a, "k", 1, "v", 1, 0, on_put, NULL);
 *   ev_run(loop, 0);
 *
 * zkv_async_free stops and frees every watcher at once (nothing is left for the loop to
 * run), and may be called from inside a callback. libev must be built with
 * EV_MULTIPLICITY (the default). Link with libev (-lev), and not with libevent too: libev's
 * library exports libevent compatibility functions (event_add, event_del, ...) that clash
 * with libevent's own (and ev.h and event2/event.h both define EV_READ and EV_WRITE).
 * Returns ZKV_OK, ZKV_ENOMEM, or ZKV_EINVAL (NULL argument, already attached). */
#ifndef ZKV_ADAPTERS_LIBEV_H
#define ZKV_ADAPTERS_LIBEV_H
#include <ev.h>
#include <stddef.h>
#include <stdlib.h>

#include "zkv/zkv_async.h"

#if defined(EV_MULTIPLICITY) && !EV_MULTIPLICITY
#error "zkv/adapters/libev.h needs libev built with EV_MULTIPLICITY"
#endif

typedef struct zkv__ev_watch {
    ev_io io; /* first: the callback gets &io back */
    int fd;
    int events;      /* EV_READ | EV_WRITE wanted */
    unsigned serial; /* tells a watcher from a later one at the same fd (and address) */
    struct zkv__ev *owner;
} zkv__ev_watch;

/* One adapter callback in progress: alive is cleared if the context is freed under it. */
typedef struct zkv__ev_frame {
    int alive;
    struct zkv__ev_frame *up; /* an outer one (a loop run from inside a callback) */
} zkv__ev_frame;

typedef struct zkv__ev {
    zkv_async *a;
    struct ev_loop *loop;
    ev_timer timer;
    zkv__ev_watch **w; /* indexed by fd */
    int nw;
    unsigned serial;
    zkv__ev_frame *frames;
} zkv__ev;

static int zkv__ev_same(const zkv__ev *u, int fd, unsigned serial)
{
    return fd < u->nw && u->w[fd] && u->w[fd]->serial == serial;
}

static void zkv__ev_on_io(struct ev_loop *loop, ev_io *io, int revents)
{
    zkv__ev_watch *w = (zkv__ev_watch *)io;
    zkv__ev *u = w->owner;
    int fd = w->fd;
    unsigned serial = w->serial;
    (void)loop;
    /* libev stopped the watcher on an error: report the events wanted, so the library
     * sees the failure (and closes the connection, which drops the watcher) */
    if (revents & EV_ERROR)
        revents |= w->events;
    zkv__ev_frame f = {1, u->frames};
    u->frames = &f; /* the context (and u, and w) may be freed by the first call */
    if (revents & EV_READ)
        zkv_async_handle_read(u->a, fd);
    /* still the same watcher, and it still wants to write: the read did not close (or
     * replace) the connection */
    if (f.alive && (revents & EV_WRITE) && zkv__ev_same(u, fd, serial) &&
        (u->w[fd]->events & EV_WRITE))
        zkv_async_handle_write(u->a, fd);
    if (f.alive)
        u->frames = f.up;
}

/* Sets the events wanted on fd: starts, changes, or stops and frees its watcher. */
static void zkv__ev_update(zkv__ev *u, int fd, int add, int del)
{
    if (fd < 0)
        return;
    if (fd >= u->nw) {
        if (!add)
            return;
        int n = fd + 16;
        zkv__ev_watch **w = (zkv__ev_watch **)realloc(u->w, (size_t)n * sizeof(zkv__ev_watch *));
        if (!w)
            return;
        for (int i = u->nw; i < n; i++)
            w[i] = NULL;
        u->w = w;
        u->nw = n;
    }
    zkv__ev_watch *w = u->w[fd];
    if (!w) {
        if (!add)
            return;
        w = (zkv__ev_watch *)calloc(1, sizeof *w);
        if (!w)
            return;
        ev_init(&w->io, zkv__ev_on_io);
        w->fd = fd;
        w->owner = u;
        w->serial = ++u->serial;
        u->w[fd] = w;
    }
    int events = (w->events | add) & ~del;
    if (events == w->events && ev_is_active(&w->io))
        return;
    ev_io_stop(u->loop, &w->io);
    w->events = events;
    if (!events) {
        u->w[fd] = NULL;
        free(w);
        return;
    }
    ev_io_set(&w->io, fd, events);
    ev_io_start(u->loop, &w->io);
}

static void zkv__ev_add_read(void *d, int fd)
{
    zkv__ev_update((zkv__ev *)d, fd, EV_READ, 0);
}
static void zkv__ev_del_read(void *d, int fd)
{
    zkv__ev_update((zkv__ev *)d, fd, 0, EV_READ);
}
static void zkv__ev_add_write(void *d, int fd)
{
    zkv__ev_update((zkv__ev *)d, fd, EV_WRITE, 0);
}
static void zkv__ev_del_write(void *d, int fd)
{
    zkv__ev_update((zkv__ev *)d, fd, 0, EV_WRITE);
}

static void zkv__ev_on_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    zkv__ev *u = (zkv__ev *)(void *)((char *)t - offsetof(zkv__ev, timer));
    (void)loop;
    (void)revents;
    zkv_async_handle_timeout(u->a); /* may free u: nothing after it */
}

static void zkv__ev_set_timer(void *d, long ms)
{
    zkv__ev *u = (zkv__ev *)d;
    ev_timer_stop(u->loop, &u->timer);
    if (ms < 0)
        return;
    /* relative to the loop's cached time: at worst early, and the library re-arms */
    ev_timer_set(&u->timer, (ev_tstamp)ms / 1000.0, 0.0);
    ev_timer_start(u->loop, &u->timer);
}

static void zkv__ev_cleanup(void *d)
{
    zkv__ev *u = (zkv__ev *)d;
    for (int fd = 0; fd < u->nw; fd++)
        if (u->w[fd]) {
            ev_io_stop(u->loop, &u->w[fd]->io);
            free(u->w[fd]);
        }
    ev_timer_stop(u->loop, &u->timer);
    for (zkv__ev_frame *f = u->frames; f; f = f->up)
        f->alive = 0;
    free(u->w);
    free(u);
}

static inline int zkv_async_libev_attach(zkv_async *a, struct ev_loop *loop)
{
    if (!a || !loop)
        return ZKV_EINVAL;
    zkv__ev *u = (zkv__ev *)calloc(1, sizeof *u);
    if (!u)
        return ZKV_ENOMEM;
    u->a = a;
    u->loop = loop;
    ev_init(&u->timer, zkv__ev_on_timer);
    zkv_async_hooks h = {u,
                         zkv__ev_add_read,
                         zkv__ev_del_read,
                         zkv__ev_add_write,
                         zkv__ev_del_write,
                         zkv__ev_set_timer,
                         zkv__ev_cleanup};
    int rc = zkv_async_set_hooks(a, &h);
    if (rc != ZKV_OK)
        free(u); /* nothing of it reached the loop */
    return rc;
}

#endif
