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
 *     when a connection is lost (or never opens) every request pending on it is decided
 *     on as the blocking API decides on a failed attempt (below): a read moves on to a
 *     replica, a write waits for a new owner; its callback runs when that ends;
 *     zkv_async_free runs every callback still pending with ZKV_ECONNECT; called from
 *     inside a callback it is deferred until that callback returns.
 *   Inside a failure callback zkv_last_error() gives the reason, in the blocking API's
 *   words.
 * - Routing and failures are the blocking API's (zkv.h; route.c decides for both):
 *   a request goes to the key's owner in the client's cached map. A NOT_OWNER answer
 *   asks the client's refresher for a new map and re-sends the request after a backoff.
 *   Reads: when the owner is unreachable (refused, connection lost, failed within the
 *   last second, silent for half the request's budget), answers UNAVAILABLE, or the
 *   range has none, a read moves on to the range's replicas (in_sync ones first) and its
 *   value comes back flagged stale (zkv_value_stale) with the replica's node and
 *   position (zkv_value_node, zkv_value_position); ZKV_FLAG_OWNER_ONLY turns that off,
 *   ZKV_FLAG_READ_REPLICA asks the replicas only (same zone first, zkv_options_set_zone).
 *   Writes: when no node can serve (owner unreachable, not live, fenced or absent), a
 *   write waits for the failfast (zkv_options_set_failfast) for the map to name a new
 *   serving owner, re-trying with backoff on the timer (never blocking), and is sent to
 *   it; after the failfast it fails with ZKV_EUNAVAILABLE naming the range and why.
 *   Every request ends within its time budget (zkv_options_set_timeout): ZKV_ETIMEOUT
 *   for one without an answer (a late answer is dropped), ZKV_ENOTOWNER for routing that
 *   did not settle, ZKV_ECONNECT for nodes still unreachable when it runs out.
 *   Reloads of the map are asked of the client's refresher thread, never waited for.
 * - Cost: a request on the owner path makes one allocation (it, its key and its value);
 *   state for retries is allocated only when an attempt fails.
 * - Batches: zkv_async_batch_run runs a zkv_batch (zkv.h: zkv_batch_get/_put/_del)
 *   without blocking: every operation is a request as above, pipelined with all others,
 *   and one callback runs when all have ended, with each operation's status and value in
 *   the batch (zkv_batch_status, zkv_batch_value) as after zkv_batch_run.
 * - Scans: zkv_async_scan_range walks ranges as zkv_scan_range does (zkv.h): one page
 *   request at a time, in key order, each page a read as above (replica fallback, stale
 *   result: zkv_scan_stale), the whole scan within one time budget; one callback gets
 *   the result, which it owns (zkv_scan_free), unlike a get's value: a scan is
 *   assembled in memory of its own, so handing it over costs nothing.
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
 * timeout; flags are zkv.h's (with the client's default flags). Returns ZKV_OK (cb will
 * run exactly once) or an error (cb will never run): ZKV_EINVAL (bad argument or flags,
 * no hooks), ZKV_ETOOLARGE, ZKV_ENOMEM; ZKV_EUNAVAILABLE or ZKV_ECONNECT only when no
 * node can serve and the client's failfast is 0 (otherwise the request waits and its
 * callback reports the outcome). */
ZKV_EXPORT int zkv_async_get(zkv_async *a, const void *key, size_t klen, unsigned flags,
                             zkv_async_cb cb, void *privdata);
ZKV_EXPORT int zkv_async_put(zkv_async *a, const void *key, size_t klen, const void *val,
                             size_t vlen, unsigned flags, zkv_async_cb cb, void *privdata);
/* Deleting a missing key completes with ZKV_OK. */
ZKV_EXPORT int zkv_async_del(zkv_async *a, const void *key, size_t klen, unsigned flags,
                             zkv_async_cb cb, void *privdata);
/* Conditional writes, as zkv_put_if and zkv_del_if (zkv.h). The callback's v carries the
 * version (zkv_value_version, no data): the write's on ZKV_OK, the key's current one on
 * ZKV_ECONDITION (0:0: the key does not exist). */
ZKV_EXPORT int zkv_async_put_if(zkv_async *a, const void *key, size_t klen, const void *val,
                                size_t vlen, int cond, zkv_version expected, unsigned flags,
                                zkv_async_cb cb, void *privdata);
ZKV_EXPORT int zkv_async_del_if(zkv_async *a, const void *key, size_t klen, zkv_version expected,
                                unsigned flags, zkv_async_cb cb, void *privdata);
/* Expiry, as zkv_put_ex and zkv_expire (zkv.h): a put with a condition (cond 0: none) and
 * an expiry (ttl_ms 0: none); a key's expiry set anew (ttl_ms 0: none any more; a missing
 * key completes with ZKV_ENOTFOUND). The callback's v carries the version (no data) when
 * there is a condition, and for an expire. */
ZKV_EXPORT int zkv_async_put_ex(zkv_async *a, const void *key, size_t klen, const void *val,
                                size_t vlen, int cond, zkv_version expected, uint64_t ttl_ms,
                                unsigned flags, zkv_async_cb cb, void *privdata);
ZKV_EXPORT int zkv_async_expire(zkv_async *a, const void *key, size_t klen, uint64_t ttl_ms,
                                unsigned flags, zkv_async_cb cb, void *privdata);

/* Completion of a zkv_async_batch_run. status is ZKV_OK: every operation ran (each may
 * still have failed: zkv_batch_status; zkv_last_error() names the first failure). The
 * batch is the caller's again from this call on (read, clear or free it here or later). */
typedef void (*zkv_async_batch_cb)(zkv_async *a, zkv_batch *b, int status, void *privdata);

/* Runs every operation queued in b (flags as for single requests, ORed with the client's
 * default flags; reads use them all, writes ZKV_FLAG_ACK_OWNER only), pipelined over the
 * node connections, each routed, retried, falling back or waiting for a new owner as a
 * single request would. b must stay untouched until cb runs. An operation refused at
 * once (too large) gets that status; the run goes on. Returns ZKV_OK (cb will run
 * exactly once, even for an empty batch) or ZKV_EINVAL / ZKV_ENOMEM (cb will never run). */
ZKV_EXPORT int zkv_async_batch_run(zkv_async *a, zkv_batch *b, unsigned flags,
                                   zkv_async_batch_cb cb, void *privdata);
/* zkv_batch_atomic (zkv.h) without blocking: b's writes applied all or none by their
 * range's owner. Refused at once (cb never runs) as zkv_batch_atomic refuses: ZKV_EINVAL
 * for gets or keys of several ranges, ZKV_ETOOLARGE. cb's status is zkv_batch_atomic's
 * (ZKV_OK, ZKV_ECONDITION with each write's status and the keys' versions, or the
 * error); b must stay untouched until then. */
ZKV_EXPORT int zkv_async_batch_atomic(zkv_async *a, zkv_batch *b, unsigned flags,
                                      zkv_async_batch_cb cb, void *privdata);

/* Completion of a zkv_async_scan_range. On ZKV_OK s is the result, as zkv_scan_range
 * gives it (zkv_scan_count/_key/_value/_more/_stale): the callback's to keep or free
 * (zkv_scan_free), here or later. On failure s is NULL and zkv_last_error() says why. */
typedef void (*zkv_async_scan_cb)(zkv_async *a, int status, zkv_scan *s, void *privdata);

/* Scans up to limit pairs with start <= key < end in key order, across ranges, as
 * zkv_scan_range does: empty start/end (len 0) mean unbounded; limit 0 means 1000; when
 * the limit stops it before end, zkv_scan_more is 1 (continue from just past the last
 * key). Bounds are copied. Pages are asked for one after the other (each routed to the
 * owner of its start key, falling back to a replica when the owner is down, unless
 * ZKV_FLAG_OWNER_ONLY; ZKV_FLAG_READ_REPLICA reads replicas); the scan fails with the
 * first page that fails (its code and reason, as zkv_scan_range), and all of it ends
 * within the client's timeout. Returns ZKV_OK (cb will run exactly once, even for a scan
 * with nothing to read; zkv_async_free runs it with ZKV_ECONNECT unless its walk had
 * already ended) or an error (cb will never run): ZKV_EINVAL (bad argument or
 * flags, no hooks), ZKV_ETOOLARGE (a bound over the key limit), ZKV_ENOMEM;
 * ZKV_EUNAVAILABLE or ZKV_ECONNECT only as for zkv_async_get. */
ZKV_EXPORT int zkv_async_scan_range(zkv_async *a, const void *start, size_t slen, const void *end,
                                    size_t elen, size_t limit, unsigned flags, zkv_async_scan_cb cb,
                                    void *privdata);
/* A scan with zkv_scan's arguments (prefix, reverse, keys only, resume token), as
 * zkv_async_scan_range otherwise. */
ZKV_EXPORT int zkv_async_scan_run(zkv_async *a, const zkv_scan_args *args, unsigned flags,
                                  zkv_async_scan_cb cb, void *privdata);

/* Requests whose callback has not run yet (a batch or a scan counts once, plus its
 * requests still under way). */
ZKV_EXPORT size_t zkv_async_pending(const zkv_async *a);

/* Entry points for adapters: fd is readable / writable; the timer fired. A call whose fd
 * is not ready (a spurious wake-up, or an adapter that tries a write before polling for
 * it, as libuv.h does) is harmless: the connection keeps wanting the event. */
ZKV_EXPORT void zkv_async_handle_read(zkv_async *a, int fd);
ZKV_EXPORT void zkv_async_handle_write(zkv_async *a, int fd);
ZKV_EXPORT void zkv_async_handle_timeout(zkv_async *a);

#ifdef __cplusplus
}
#endif
#endif
