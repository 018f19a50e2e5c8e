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

#include "zkv/zkv_async.h"

typedef struct zkv__evt_watch {
    struct event *ev; /* NULL until the first event is wanted */
    int fd;
    short events;    /* EV_READ | EV_WRITE wanted */
    unsigned serial; /* tells a watcher from a later one at the same fd (and address) */
    struct zkv__evt *owner;
} zkv__evt_watch;

/* One adapter callback in progress: alive is cleared if the context is freed under it. */
typedef struct zkv__evt_frame {
    int alive;
    struct zkv__evt_frame *up; /* an outer one (a loop run from inside a callback) */
} zkv__evt_frame;

typedef struct zkv__evt {
    zkv_async *a;
    struct event_base *base;
    struct event *timer;
    zkv__evt_watch **w; /* indexed by fd */
    int nw;
    unsigned serial;
    zkv__evt_frame *frames;
} zkv__evt;

static int zkv__evt_same(const zkv__evt *u, int fd, unsigned serial)
{
    return fd < u->nw && u->w[fd] && u->w[fd]->serial == serial;
}

static void zkv__evt_on_io(evutil_socket_t sock, short what, void *arg)
{
    zkv__evt_watch *w = (zkv__evt_watch *)arg;
    zkv__evt *u = w->owner;
    int fd = w->fd;
    unsigned serial = w->serial;
    (void)sock;
    zkv__evt_frame f = {1, u->frames};
    u->frames = &f; /* the context (and u, and w) may be freed by the first call */
    /* (an error or hang-up reports as both events, as far as they are wanted) */
    if (what & EV_READ)
        zkv_async_handle_read(u->a, fd);
    /* still the same watcher, and it still wants to write: the read did not close (or
     * replace) the connection */
    if (f.alive && (what & EV_WRITE) && zkv__evt_same(u, fd, serial) &&
        (u->w[fd]->events & EV_WRITE))
        zkv_async_handle_write(u->a, fd);
    if (f.alive)
        u->frames = f.up;
}

/* Sets the events wanted on fd: adds, changes, or deletes and frees its event. */
static void zkv__evt_update(zkv__evt *u, int fd, short add, short del)
{
    if (fd < 0)
        return;
    if (fd >= u->nw) {
        if (!add)
            return;
        int n = fd + 16;
        zkv__evt_watch **w = (zkv__evt_watch **)realloc(u->w, (size_t)n * sizeof(zkv__evt_watch *));
        if (!w)
            return;
        for (int i = u->nw; i < n; i++)
            w[i] = NULL;
        u->w = w;
        u->nw = n;
    }
    zkv__evt_watch *w = u->w[fd];
    if (!w) {
        if (!add)
            return;
        w = (zkv__evt_watch *)calloc(1, sizeof *w);
        if (!w)
            return;
        w->fd = fd;
        w->owner = u;
        w->serial = ++u->serial;
        u->w[fd] = w;
    }
    short events = (short)((w->events | add) & ~del);
    if (events == w->events && w->ev)
        return;
    if (!events) {
        if (w->ev)
            event_free(w->ev); /* deletes it first; safe inside its own callback */
        u->w[fd] = NULL;
        free(w);
        return;
    }
    if (!w->ev) {
        w->ev = event_new(u->base, fd, (short)(events | EV_PERSIST), zkv__evt_on_io, w);
        if (!w->ev) {
            u->w[fd] = NULL;
            free(w);
            return;
        }
    } else {
        /* an event may be re-assigned once it is not pending */
        event_del(w->ev);
        event_assign(w->ev, u->base, fd, (short)(events | EV_PERSIST), zkv__evt_on_io, w);
    }
    w->events = events;
    event_add(w->ev, NULL);
}

static void zkv__evt_add_read(void *d, int fd)
{
    zkv__evt_update((zkv__evt *)d, fd, EV_READ, 0);
}
static void zkv__evt_del_read(void *d, int fd)
{
    zkv__evt_update((zkv__evt *)d, fd, 0, EV_READ);
}
static void zkv__evt_add_write(void *d, int fd)
{
    zkv__evt_update((zkv__evt *)d, fd, EV_WRITE, 0);
}
static void zkv__evt_del_write(void *d, int fd)
{
    zkv__evt_update((zkv__evt *)d, fd, 0, EV_WRITE);
}

static void zkv__evt_on_timer(evutil_socket_t sock, short what, void *arg)
{
    zkv__evt *u = (zkv__evt *)arg;
    (void)sock;
    (void)what;
    zkv_async_handle_timeout(u->a); /* may free u: nothing after it */
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

static void zkv__evt_cleanup(void *d)
{
    zkv__evt *u = (zkv__evt *)d;
    for (int fd = 0; fd < u->nw; fd++)
        if (u->w[fd]) {
            if (u->w[fd]->ev)
                event_free(u->w[fd]->ev);
            free(u->w[fd]);
        }
    event_free(u->timer);
    for (zkv__evt_frame *f = u->frames; f; f = f->up)
        f->alive = 0;
    free(u->w);
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
    u->a = a;
    u->base = base;
    zkv_async_hooks h = {u,
                         zkv__evt_add_read,
                         zkv__evt_del_read,
                         zkv__evt_add_write,
                         zkv__evt_del_write,
                         zkv__evt_set_timer,
                         zkv__evt_cleanup};
    int rc = zkv_async_set_hooks(a, &h);
    if (rc != ZKV_OK) {
        event_free(u->timer);
        free(u);
    }
    return rc;
}

#endif
