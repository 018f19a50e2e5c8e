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

#include "zkv/adapters/adapter_common.h"
#include "zkv/zkv_async.h"

#if defined(EV_MULTIPLICITY) && !EV_MULTIPLICITY
#error "zkv/adapters/libev.h needs libev built with EV_MULTIPLICITY"
#endif

typedef struct zkv__ev_watch {
    zkv__watch base; /* first; base.events: EV_READ | EV_WRITE wanted */
    ev_io io;        /* the callback gets &io back */
} zkv__ev_watch;

typedef struct zkv__ev {
    zkv__wtable t; /* first: the watchers' owner */
    struct ev_loop *loop;
    ev_timer timer;
} zkv__ev;

static void zkv__ev_on_io(struct ev_loop *loop, ev_io *io, int revents)
{
    zkv__ev_watch *w = (zkv__ev_watch *)(void *)((char *)io - offsetof(zkv__ev_watch, io));
    (void)loop;
    /* libev stopped the watcher on an error: report the events wanted, so the library
     * sees the failure (and closes the connection, which drops the watcher) */
    if (revents & EV_ERROR)
        revents |= w->base.events;
    zkv__wt_dispatch(w->base.owner, &w->base, revents & EV_READ, revents & EV_WRITE, EV_WRITE);
}

/* Sets the events wanted on fd: starts, changes, or stops and frees its watcher. */
static void zkv__ev_update(zkv__wtable *t, int fd, int add, int del)
{
    zkv__ev *u = (zkv__ev *)t;
    int made;
    zkv__ev_watch *w = (zkv__ev_watch *)zkv__wt_at(t, fd, add != 0, sizeof *w, &made);
    if (!w)
        return;
    if (made)
        ev_init(&w->io, zkv__ev_on_io);
    int events = (w->base.events | add) & ~del;
    if (events == w->base.events && ev_is_active(&w->io))
        return;
    ev_io_stop(u->loop, &w->io);
    w->base.events = events;
    if (!events) {
        zkv__wt_drop(&u->t, fd);
        free(w);
        return;
    }
    ev_io_set(&w->io, fd, events);
    ev_io_start(u->loop, &w->io);
}

static void zkv__ev_on_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    zkv__ev *u = (zkv__ev *)(void *)((char *)t - offsetof(zkv__ev, timer));
    (void)loop;
    (void)revents;
    zkv_async_handle_timeout(u->t.a); /* may free u: nothing after it */
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

static void zkv__ev_release(zkv__wtable *t, zkv__watch *b)
{
    zkv__ev_watch *w = (zkv__ev_watch *)b;
    ev_io_stop(((zkv__ev *)t)->loop, &w->io);
    free(w);
}

static void zkv__ev_cleanup(void *d)
{
    zkv__ev *u = (zkv__ev *)d;
    zkv__wt_free(&u->t, zkv__ev_release);
    ev_timer_stop(u->loop, &u->timer);
    free(u);
}

static inline int zkv_async_libev_attach(zkv_async *a, struct ev_loop *loop)
{
    if (!a || !loop)
        return ZKV_EINVAL;
    zkv__ev *u = (zkv__ev *)calloc(1, sizeof *u);
    if (!u)
        return ZKV_ENOMEM;
    u->loop = loop;
    ev_init(&u->timer, zkv__ev_on_timer);
    int rc = zkv__wt_attach(&u->t, a, zkv__ev_update, EV_READ, EV_WRITE, zkv__ev_set_timer,
                            zkv__ev_cleanup);
    if (rc != ZKV_OK)
        free(u); /* nothing of it reached the loop */
    return rc;
}

#endif
