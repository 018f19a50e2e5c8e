/* zkv_async.h: the asynchronous API of libzkv, for programs built around an event loop
 * (a web server multiplexing thousands of requests on a few threads), in the manner of
 * hiredis' async.h.
 *
 * Rules of this header (zkv.h's rules hold too):
 * - A zkv_async is made from a zkv_client and shares its options, its ZooKeeper session
 *   and its range map (the client's refresher thread reloads the map). It keeps its own
 *   connections: one non-blocking connection per node, on which requests are pipelined
 *   and answers matched to their callbacks by request id, in order.
 * - It never blocks and never waits on its own: an event loop drives it. An adapter
 *   (zkv/adapters/libuv.h, or your own) installs zkv_async_hooks and calls
 *   zkv_async_handle_read / _write / _timeout when the loop reports a ready fd or the
 *   timer fires.
 * - Callback contract (as in hiredis):
 *     each callback of an accepted request runs exactly once;
 *     a call that returns an error never runs its callback;
 *     callbacks run only from zkv_async_handle_* and zkv_async_free, never from the
 *     call that queued the request;
 *     when a connection is lost (or never opens) every request pending on it runs its
 *     callback with ZKV_ECONNECT;
 *     zkv_async_free runs every callback still pending with ZKV_ECONNECT; called from
 *     inside a callback it is deferred until that callback returns.
 *   Inside a failure callback zkv_last_error() gives the reason.
 * - Routing: the key's owner from the cached map (route.c, as the blocking API). A
 *   NOT_OWNER answer asks the client's refresher for a new map and re-sends the request
 *   with backoff, until the request's time budget (zkv_options_set_timeout) runs out
 *   (then ZKV_ENOTOWNER). A request without an answer within its budget completes with
 *   ZKV_ETIMEOUT (a late answer is dropped).
 * - Limits of this first version: no replica fallback for reads (ZKV_FLAG_READ_REPLICA
 *   is refused with ZKV_EINVAL, every read goes to the owner as with
 *   ZKV_FLAG_OWNER_ONLY); no waiting for a new owner (an unreachable owner fails the
 *   request with ZKV_ECONNECT, an ownerless range with ZKV_EUNAVAILABLE at once); no
 *   scans or batches.
 * - Threads: a zkv_async is not thread-safe: use it from its loop's thread only. One
 *   zkv_client may back several zkv_async (one per loop thread) and blocking calls.
 *   The client must outlive every zkv_async made from it.
 */
#ifndef ZKV_ZKV_ASYNC_H
#define ZKV_ZKV_ASYNC_H

#include "zkv/zkv.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zkv_async zkv_async;

/* Completion of one request. status is a ZKV_* code (ZKV_ENOTFOUND for a get of a
 * missing key). v is the value of a successful get, NULL otherwise; it belongs to the
 * library and is valid only during the call (copy what you keep). */
typedef void (*zkv_async_cb)(zkv_async *a, int status, const zkv_value *v, void *privdata);

/* What an event loop adapter provides. data is passed back to every hook. fd is one
 * node connection's socket; a zkv_async has one per node it talks to, so an adapter
 * keeps one watcher per fd. del_read and del_write are both called before an fd is
 * closed. set_timer arms the single timer to fire once after ms (0: as soon as
 * possible), replacing an earlier setting; ms < 0 disarms it. cleanup runs once, from
 * zkv_async_free, after every fd was removed: release the adapter's resources. */
typedef struct zkv_async_hooks {
    void *data;
    void (*add_read)(void *data, int fd);
    void (*del_read)(void *data, int fd);
    void (*add_write)(void *data, int fd);
    void (*del_write)(void *data, int fd);
    void (*set_timer)(void *data, long ms);
    void (*cleanup)(void *data);
} zkv_async_hooks;

/* A new asynchronous context on c. *out is the caller's (zkv_async_free). ZKV_OK,
 * ZKV_EINVAL, ZKV_ENOMEM. */
ZKV_EXPORT int zkv_async_create(zkv_client *c, zkv_async **out);
/* Closes every connection, runs pending callbacks with ZKV_ECONNECT, calls the hooks'
 * cleanup. From inside a callback: deferred until the callback returns. NULL: no-op. */
ZKV_EXPORT void zkv_async_free(zkv_async *a);
/* Installs the event loop hooks (copied). Once only, before the first request:
 * ZKV_EINVAL otherwise or when a hook is missing. Adapters call this. */
ZKV_EXPORT int zkv_async_set_hooks(zkv_async *a, const zkv_async_hooks *h);

/* Queue a request. Key and value are copied. The request's time budget is the client's
 * timeout. Returns ZKV_OK (cb will run exactly once) or an error (cb will never run):
 * ZKV_EINVAL (bad argument, no hooks), ZKV_ETOOLARGE, ZKV_ENOMEM, ZKV_EUNAVAILABLE (the
 * key's range has no owner), ZKV_ECONNECT (the owner could not even be dialled). */
ZKV_EXPORT int zkv_async_get(zkv_async *a, const void *key, size_t klen, unsigned flags,
                             zkv_async_cb cb, void *privdata);
ZKV_EXPORT int zkv_async_put(zkv_async *a, const void *key, size_t klen, const void *val,
                             size_t vlen, unsigned flags, zkv_async_cb cb, void *privdata);
/* Deleting a missing key completes with ZKV_OK. */
ZKV_EXPORT int zkv_async_del(zkv_async *a, const void *key, size_t klen, unsigned flags,
                             zkv_async_cb cb, void *privdata);

/* Requests whose callback has not run yet. */
ZKV_EXPORT size_t zkv_async_pending(const zkv_async *a);

/* Entry points for adapters: fd is readable / writable; the timer fired. */
ZKV_EXPORT void zkv_async_handle_read(zkv_async *a, int fd);
ZKV_EXPORT void zkv_async_handle_write(zkv_async *a, int fd);
ZKV_EXPORT void zkv_async_handle_timeout(zkv_async *a);

#ifdef __cplusplus
}
#endif
#endif
