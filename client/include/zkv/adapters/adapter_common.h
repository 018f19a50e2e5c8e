/* zkv/adapters/adapter_common.h: what the event-loop adapters (libuv.h, libev.h,
 * libevent.h) share; internal, included by them, not meant to be used on its own. Header
 * only (as the adapters), static functions with the zkv__ prefix, casts that C++ accepts.
 *
 * Each adapter keeps one watcher per fd the library wants watched. The common part kept
 * here, so it is written (and fixed) once:
 *  - the watcher table: watchers indexed by fd, grown on demand (fd + 16 slots);
 *  - serial numbers: a watcher's number tells it from a later watcher at the same fd (a
 *    connection closed and another opened, perhaps at the same address) after a callback
 *    that may have done either;
 *  - frames: the chain of adapter callbacks in progress, whose alive flags the cleanup
 *    hook (zkv_async_free, possibly from inside a callback, or from a loop run nested in
 *    one) clears, so a callback knows not to touch the freed context again;
 *  - the dispatch of a ready fd: zkv_async_handle_read, then zkv_async_handle_write only if
 *    the context is still there and the same watcher still wants to write;
 *  - the add/del read/write hooks, and the attaching, of an adapter that sets a watcher's
 *    events in one update function (libev.h, libevent.h; not libuv.h, which tries writes
 *    before it polls for them).
 * What is the loop's own (its handles, when and how writes are polled for) stays in each
 * adapter. An adapter's watcher struct has a zkv__watch as its first member, and its
 * context struct a zkv__wtable as its first member. */
#ifndef ZKV_ADAPTERS_ADAPTER_COMMON_H
#define ZKV_ADAPTERS_ADAPTER_COMMON_H
#include <stdlib.h>

#include "zkv/zkv_async.h"

struct zkv__wtable;

/* The part of a watcher the table knows: the first member of each adapter's watcher. */
typedef struct zkv__watch {
    int fd;
    int events;      /* the adapter's event bits (what each adapter keeps here: see it) */
    unsigned serial; /* tells a watcher from a later one at the same fd (and address) */
    struct zkv__wtable *owner;
} zkv__watch;

/* One adapter callback in progress: alive is cleared if the context is freed under it. */
typedef struct zkv__wframe {
    int alive;
    struct zkv__wframe *up; /* an outer one (a loop run from inside a callback) */
} zkv__wframe;

/* The watchers of one zkv_async: the first member of each adapter's context. */
typedef struct zkv__wtable {
    zkv_async *a;
    zkv__watch **w; /* indexed by fd */
    int nw;
    unsigned serial;
    zkv__wframe *frames;
    /* for the zkv__wt_add_read/... hooks of an adapter that sets the events wanted in one
     * function: update(t, fd, add, del) with its read and write event bits */
    void (*update)(struct zkv__wtable *t, int fd, int add, int del);
    int rbit, wbit;
} zkv__wtable;

/* The watcher of fd, or NULL. */
static inline zkv__watch *zkv__wt_get(const zkv__wtable *t, int fd)
{
    return fd >= 0 && fd < t->nw ? t->w[fd] : NULL;
}

/* True while fd still has the watcher whose serial number is serial. */
static inline int zkv__wt_same(const zkv__wtable *t, int fd, unsigned serial)
{
    return fd < t->nw && t->w[fd] && t->w[fd]->serial == serial;
}

/* The watcher of fd; when there is none and create is set, a new zeroed one of size bytes
 * (a struct that starts with a zkv__watch) entered in the table with the next serial
 * number, and *made (if made is not NULL) set. NULL: none, fd < 0, or out of memory. */
static inline void *zkv__wt_at(zkv__wtable *t, int fd, int create, size_t size, int *made)
{
    zkv__watch *w = zkv__wt_get(t, fd);
    if (made)
        *made = 0;
    if (w || !create || fd < 0)
        return w;
    if (fd >= t->nw) {
        int n = fd + 16;
        zkv__watch **tw = (zkv__watch **)realloc(t->w, (size_t)n * sizeof(zkv__watch *));
        if (!tw)
            return NULL;
        for (int i = t->nw; i < n; i++)
            tw[i] = NULL;
        t->w = tw;
        t->nw = n;
    }
    w = (zkv__watch *)calloc(1, size);
    if (!w)
        return NULL;
    w->fd = fd;
    w->owner = t;
    w->serial = ++t->serial;
    t->w[fd] = w;
    if (made)
        *made = 1;
    return w;
}

/* Removes the watcher of fd from the table (the adapter frees it). */
static inline void zkv__wt_drop(zkv__wtable *t, int fd)
{
    t->w[fd] = NULL;
}

/* Starts a callback's frame: from here on the context (and its watchers) may be freed. */
static inline void zkv__wt_enter(zkv__wtable *t, zkv__wframe *f)
{
    f->alive = 1;
    f->up = t->frames;
    t->frames = f;
}

/* Ends the frame f (nothing to do when the context was freed under it). */
static inline void zkv__wt_leave(zkv__wtable *t, const zkv__wframe *f)
{
    if (f->alive)
        t->frames = f->up;
}

/* fd (watcher w) is ready: reads when rd; then, if the context is still there, the read did
 * not close (or replace) the connection and its watcher still has the event bits wbit,
 * writes when wr. The context (and w) may be freed by the first call. */
static inline void zkv__wt_dispatch(zkv__wtable *t, const zkv__watch *w, int rd, int wr, int wbit)
{
    int fd = w->fd;
    unsigned serial = w->serial;
    zkv__wframe f;
    zkv__wt_enter(t, &f);
    if (rd)
        zkv_async_handle_read(t->a, fd);
    if (f.alive && wr && zkv__wt_same(t, fd, serial) && (t->w[fd]->events & wbit))
        zkv_async_handle_write(t->a, fd);
    zkv__wt_leave(t, &f);
}

/* The add_read, del_read, add_write and del_write hooks of an adapter with an update
 * function (d is its context, which starts with the zkv__wtable). */
static inline void zkv__wt_add_read(void *d, int fd)
{
    zkv__wtable *t = (zkv__wtable *)d;
    t->update(t, fd, t->rbit, 0);
}
static inline void zkv__wt_del_read(void *d, int fd)
{
    zkv__wtable *t = (zkv__wtable *)d;
    t->update(t, fd, 0, t->rbit);
}
static inline void zkv__wt_add_write(void *d, int fd)
{
    zkv__wtable *t = (zkv__wtable *)d;
    t->update(t, fd, t->wbit, 0);
}
static inline void zkv__wt_del_write(void *d, int fd)
{
    zkv__wtable *t = (zkv__wtable *)d;
    t->update(t, fd, 0, t->wbit);
}

/* Hooks an adapter with an update function into a: its context starts with t, the hooks
 * are the zkv__wt_ ones above and its set_timer and cleanup. zkv_async_set_hooks' answer. */
static inline int zkv__wt_attach(zkv__wtable *t, zkv_async *a,
                                 void (*update)(zkv__wtable *t, int fd, int add, int del), int rbit,
                                 int wbit, void (*set_timer)(void *d, long ms),
                                 void (*cleanup)(void *d))
{
    t->a = a;
    t->update = update;
    t->rbit = rbit;
    t->wbit = wbit;
    zkv_async_hooks h = {
        t,         zkv__wt_add_read, zkv__wt_del_read, zkv__wt_add_write, zkv__wt_del_write,
        set_timer, cleanup};
    return zkv_async_set_hooks(a, &h);
}

/* The cleanup hook's common part: release(w) for every watcher (it stops and frees it),
 * every callback in progress told the context is gone, the table freed. */
static inline void zkv__wt_free(zkv__wtable *t, void (*release)(zkv__wtable *t, zkv__watch *w))
{
    for (int fd = 0; fd < t->nw; fd++)
        if (t->w[fd])
            release(t, t->w[fd]);
    for (zkv__wframe *f = t->frames; f; f = f->up)
        f->alive = 0;
    free(t->w);
    t->w = NULL;
    t->nw = 0;
}

#endif
