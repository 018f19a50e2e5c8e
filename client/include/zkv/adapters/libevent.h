/* zkv/adapters/libevent.h: drives a zkv_async from a libevent 2 event_base (header only,
 * as hiredis' adapters). One persistent struct event per node connection, added when the
 * connection first wants an event and deleted and freed when it wants none (before its
 * socket is closed), and one timer event.
 *
 *   struct event_base *base = event_base_new();
 *   zkv_async *a;
 *   zkv_async_create(client, &a);
 *   zkv_async_libevent_attach(a, base);
 *   zkv_async_put(a, "k", 1, "v", 1, 0, on_put, NULL);
 *   event_base_dispatch(base);
 *
 * zkv_async_free deletes and frees every event at once (nothing is left for the base to
 * run), and may be called from inside a callback. The base must outlive the zkv_async.
 * Link with libevent (pkg-config libevent, or libevent_core), and not with libev too (see
 * libev.h). Returns ZKV_OK, ZKV_ENOMEM, or ZKV_EINVAL (NULL argument, already attached). */
#ifndef ZKV_ADAPTERS_LIBEVENT_H
#define ZKV_ADAPTERS_LIBEVENT_H
#include <event2/event.h>
#include <stdlib.h>

#include "zkv/adapters/adapter_common.h"
#include "zkv/zkv_async.h"

typedef struct zkv__evt_watch {
    zkv__watch base;  /* first; base.events: EV_READ | EV_WRITE wanted */
    struct event *ev; /* NULL until the first event is wanted */
} zkv__evt_watch;

typedef struct zkv__evt {
    zkv__wtable t; /* first: the watchers' owner */
    struct event_base *base;
    struct event *timer;
} zkv__evt;

static void zkv__evt_on_io(evutil_socket_t sock, short what, void *arg)
{
    zkv__evt_watch *w = (zkv__evt_watch *)arg;
    (void)sock;
    /* (an error or hang-up reports as both events, as far as they are wanted) */
    zkv__wt_dispatch(w->base.owner, &w->base, what & EV_READ, what & EV_WRITE, EV_WRITE);
}

/* Sets the events wanted on fd: adds, changes, or deletes and frees its event. */
static void zkv__evt_update(zkv__wtable *t, int fd, int add, int del)
{
    zkv__evt *u = (zkv__evt *)t;
    /* a new watcher has no event yet (w->ev NULL) */
    zkv__evt_watch *w = (zkv__evt_watch *)zkv__wt_at(t, fd, add != 0, sizeof *w, NULL);
    if (!w)
        return;
    short events = (short)((w->base.events | add) & ~del);
    if (events == w->base.events && w->ev)
        return;
    if (!events) {
        if (w->ev)
            event_free(w->ev); /* deletes it first; safe inside its own callback */
        zkv__wt_drop(&u->t, fd);
        free(w);
        return;
    }
    if (!w->ev) {
        w->ev = event_new(u->base, fd, (short)(events | EV_PERSIST), zkv__evt_on_io, w);
        if (!w->ev) {
            zkv__wt_drop(&u->t, fd);
            free(w);
            return;
        }
    } else {
        /* an event may be re-assigned once it is not pending */
        event_del(w->ev);
        event_assign(w->ev, u->base, fd, (short)(events | EV_PERSIST), zkv__evt_on_io, w);
    }
    w->base.events = events;
    event_add(w->ev, NULL);
}

static void zkv__evt_on_timer(evutil_socket_t sock, short what, void *arg)
{
    zkv__evt *u = (zkv__evt *)arg;
    (void)sock;
    (void)what;
    zkv_async_handle_timeout(u->t.a); /* may free u: nothing after it */
}

static void zkv__evt_set_timer(void *d, long ms)
{
    zkv__evt *u = (zkv__evt *)d;
    if (ms < 0) {
        event_del(u->timer);
        return;
    }
    struct timeval tv;
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    event_add(u->timer, &tv); /* re-adding a pending timer reschedules it */
}

static void zkv__evt_release(zkv__wtable *t, zkv__watch *b)
{
    zkv__evt_watch *w = (zkv__evt_watch *)b;
    (void)t;
    if (w->ev)
        event_free(w->ev);
    free(w);
}

static void zkv__evt_cleanup(void *d)
{
    zkv__evt *u = (zkv__evt *)d;
    zkv__wt_free(&u->t, zkv__evt_release);
    event_free(u->timer);
    free(u);
}

static inline int zkv_async_libevent_attach(zkv_async *a, struct event_base *base)
{
    if (!a || !base)
        return ZKV_EINVAL;
    zkv__evt *u = (zkv__evt *)calloc(1, sizeof *u);
    if (!u)
        return ZKV_ENOMEM;
    u->timer = event_new(base, -1, 0, zkv__evt_on_timer, u);
    if (!u->timer) {
        free(u);
        return ZKV_ENOMEM;
    }
    u->base = base;
    int rc = zkv__wt_attach(&u->t, a, zkv__evt_update, EV_READ, EV_WRITE, zkv__evt_set_timer,
                            zkv__evt_cleanup);
    if (rc != ZKV_OK) {
        event_free(u->timer);
        free(u);
    }
    return rc;
}

#endif
