/* async_int.h: what the files of the asynchronous client (zkv_async.h) share, and
 * nothing public. The work is split by job, each file a layer over the next:
 *   async.c        the context: create, hooks, free (deferred inside a callback), the
 *                  handle_* entry points and the callback contract (complete);
 *   async_route.c  each request's way through route.c's decisions: route, send, settle
 *                  after an answer or a failure, the waiting list and the timer;
 *   async_conn.c   the non-blocking connections, one per node: connect, HELLO, write,
 *                  read, parse answers, attempts past their time;
 *   async_batch.c  zkv_async_batch_run on top of ordinary requests;
 *   async_scan.c   zkv_async_scan_range: one page request at a time, walked by scan.c;
 *   async_hedge.c  hedged gets (ZKV_FLAG_HEDGE): a copy of the request to a replica when
 *                  the owner is silent past the hedge delay; the first answer wins.
 * The structs live here because each file works on the others' state (a connection's
 * table holds requests; a request is routed to a connection); every function named
 * here is used across files. Nothing blocks or sleeps; callbacks run only from the
 * handle_* entry points and from zkv_async_free, counted in zkv_async.depth. */
#ifndef ZKV_CLIENT_ASYNC_INT_H
#define ZKV_CLIENT_ASYNC_INT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zkv/zkv_async.h"
#include "common/buf.h"
#include "common/pending.h"
#include "common/stream.h"
#include "common/util.h"
#include "client.h"
#include "error.h"

/* SCAN: one page of a scan (async_scan.c); its value is the page's end key. EXPIRE: a
 * key's expiry set anew (ttl_ms). ATOMIC: a batch's writes as one MULTI_WRITE (batch;
 * async_batch.c), keyed by its first key. SCAN and ATOMIC complete through page_cb. */
typedef enum {
    ZKV__AREQ_GET,
    ZKV__AREQ_PUT,
    ZKV__AREQ_DEL,
    ZKV__AREQ_SCAN,
    ZKV__AREQ_EXPIRE,
    ZKV__AREQ_ATOMIC
} zkv__areq_op;

/* Completion of a scan page request: status, and on ZKV_OK the page (valid during the
 * call; its NOT_FOUND counts as an empty page), the node that answered and whether it
 * is a replica. */
typedef void (*zkv__apage_cb)(zkv_async *a, int status, const Zkv__Response *page, const char *node,
                              bool replica, void *priv);

/* A batch or scan whose callback is due: it runs from the next timer (so never from the
 * call that queued it), or from zkv_async_free. run calls the callback and frees d. */
typedef struct zkv__adone {
    struct zkv__adone *next;
    void (*run)(zkv_async *a, struct zkv__adone *d);
} zkv__adone;

/* What a request keeps once an attempt failed: nodes to skip this round, and the texts
 * its final error is made of (route.h's zkv__failures, as zkv__call keeps them). */
typedef struct zkv__aslow {
    zkv__down down;
    zkv__failures f;
} zkv__aslow;

/* One accepted request, owned by the async context until its callback ran. It is in
 * exactly one place: a connection's table, the waiting list, or in hand. */
typedef struct zkv__areq {
    struct zkv__areq *next; /* on the waiting list (backoff) */
    zkv__areq_op op;
    bool to_replica; /* the attempt on the wire went to a replica */
    unsigned flags;
    uint32_t limit;          /* a scan page's */
    bool reverse, keys_only; /* a scan page's flags */
    bool route_own;          /* routed by the key after the end key (rklen bytes) */
    size_t rklen;
    /* a conditional write's (client.h's zkv__condition_set), sent with every attempt;
     * client_seq also an atomic batch's */
    int condition; /* Zkv__Condition; 0: none */
    uint64_t if_epoch, if_seq, client_seq;
    uint64_t ttl_ms;  /* PUT, EXPIRE: the key's expiry from when the owner takes it */
    zkv_batch *batch; /* ATOMIC: the batch (the caller's until the callback) */
    size_t klen, vlen;
    uint64_t started;
    uint64_t attempt_deadline; /* on the wire: the attempt counts as timed out then */
    uint64_t retry_at;         /* waiting: when to route again */
    zkv__call_state st;        /* route.h's state across attempts (deadline, retries) */
    zkv__aslow *slow;          /* NULL until an attempt failed */
    zkv_async_cb cb;           /* get, put, del */
    zkv__apage_cb page_cb;     /* scan page */
    void *priv;
    char node[ZKV_ID_MAX];     /* node of the last attempt */
    struct zkv__aconn *conn;   /* the connection of the attempt on the wire */
    uint64_t hedge_at;         /* a hedged get on the owner's wire: ask a replica then (0: no) */
    struct zkv__areq *twin;    /* a hedged get: its copy on a replica's wire (NULL: none) */
    struct zkv__areq *primary; /* a hedge's copy: the get it hedges (NULL: not a copy) */
    size_t cap;                /* bytes of kv[] allocated */
    uint8_t kv[];              /* the key, then the value */
} zkv__areq;

/* zkv__async_submit for a PUT or DELETE with a condition (cond 0: none) and a PUT or
 * EXPIRE with an expiry (ttl_ms; zkv_async_put_if, _put_ex, _del_if, _expire). */
int zkv__async_submit_if(zkv_async *a, zkv__areq_op op, const void *key, size_t klen,
                         const void *val, size_t vlen, int cond, zkv_version expected,
                         uint64_t ttl_ms, unsigned flags, zkv_async_cb cb, void *privdata);

/* Requests whose key and value fit this many bytes get a block of this size, and such
 * blocks are kept for reuse (zkv_async's spare list, at most ZKV__AREQ_SPARE_MAX), so a
 * steady load of small requests allocates nothing. */
#define ZKV__AREQ_SMALL 256u
#define ZKV__AREQ_SPARE_MAX 1024u
/* A spare block is poisoned for AddressSanitizer but for its next link, so a use of a
 * finished request is still caught in the sanitizer build. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define ZKV__POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define ZKV__UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define ZKV__POISON(p, n) ((void)(p), (void)(n))
#define ZKV__UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* A connection's record of one request in flight (common/pending.h): the request, or
 * async_conn.c's HELLO marker or tombstone. */
typedef struct zkv__apend {
    uint64_t id;
    void *item;
} zkv__apend;

/* One non-blocking connection to one node. */
typedef struct zkv__aconn {
    char node_id[ZKV_ID_MAX];
    char addr[ZKV_ADDR_MAX];
    zkv_stream s;           /* s.fd -1 while closed; plain or TLS */
    bool connecting;        /* connect(2) in progress */
    bool ready;             /* HELLO answered */
    bool reading;           /* add_read is in force */
    bool writing;           /* add_write is in force */
    unsigned gen;           /* closes so far: a reader notices its socket was replaced */
    uint64_t open_deadline; /* connect + HELLO must be done by then (zkv__open_deadline) */
    uint64_t skip_until;    /* reads that may fall back skip the node until then */
    zkv_buf in, out;
    zkv_pending q;    /* requests sent (or queued in out), in id order: zkv__apend */
    uint64_t next_id; /* id of the next request (from 1; kept across reconnects) */
    /* An answer decoded in place is being handed out: its bytes (a get's value, given to
     * the callback as it is) point into in, so a read from inside the callback (a nested
     * loop) moves in to a new buffer and leaves the old one here until it returns. */
    bool lending;
    uint8_t *lent_data;
} zkv__aconn;

struct zkv_async {
    zkv_client *c;
    zkv_async_hooks h;
    bool hooked;
    zkv__aconn **conns;
    size_t nconns, capconns;
    zkv__areq *waiting; /* requests waiting for their retry time */
    size_t live;        /* requests whose callback has not run */
    int depth;          /* entry points and callbacks running */
    bool free_asked;    /* zkv_async_free while depth > 0 */
    bool closing;       /* inside the real free */
    bool timer_on;
    uint64_t timer_due;
    zkv__adone *ready; /* batches and scans that ended: callback on the timer */
    /* map reloads the decisions asked for, sent to the refresher once per entry point */
    bool want_refresh, want_force;
    int64_t want_version;
    uint64_t want_gen;
    /* Held while entry points, a batch's submissions or one submission run (held > 0):
     * the clock read once when the outermost began (refreshed per read(2), see
     * zkv__async_now), and the map snapshot requests route with, taken at the first
     * routing and good while the client's map generation is snap_gen (a reload since
     * makes each routing take its own, as outside). Both end when the outermost ends. */
    int held;
    uint64_t now;
    zkv__mapsnap *snap;
    uint64_t snap_gen;
    zkv__areq *spare; /* finished small request blocks, linked by next */
    size_t n_spare;
    uint64_t hedge_due; /* the earliest hedge_at of the gets on the wire (0: none) */
};

/* --- async.c --- */

/* Begins / ends a span in which the clock and the map snapshot are shared (held). */
void zkv__async_hold(zkv_async *a);
void zkv__async_unhold(zkv_async *a);
/* The time (zkv_now_ms) for deadlines and backoffs: read once per held span. */
static inline uint64_t zkv__async_now(const zkv_async *a)
{
    return a->held > 0 ? a->now : zkv_now_ms();
}
/* The map to route with and whether the caller owns (must release) it. */
zkv__mapsnap *zkv__async_snapshot(zkv_async *a, bool *own);

/* Runs r's callback and frees r. why is the reason of a failure. */
void zkv__async_complete(zkv_async *a, zkv__areq *r, int status, const zkv_value *v,
                         const char *why);
/* The same for a scan page or an atomic batch answered with page (status: ZKV_OK, or
 * ZKV_ECONDITION for a batch whose condition failed). */
void zkv__async_complete_page(zkv_async *a, zkv__areq *r, int status, const Zkv__Response *page);
/* Validates and routes one request (zkv_async_get/put/del). ZKV_OK (the callback will
 * run) or the error, published (it will not). */
int zkv__async_submit(zkv_async *a, zkv__areq_op op, const void *key, size_t klen, const void *val,
                      size_t vlen, unsigned flags, zkv_async_cb cb, void *privdata);
/* A request of a (its key and value copied, callbacks unset), or NULL on ENOMEM. */
zkv__areq *zkv__areq_new(zkv_async *a, zkv__areq_op op, const void *key, size_t klen,
                         const void *val, size_t vlen, unsigned flags, void *privdata);
/* Frees a finished request of a (or keeps its block for the next). NULL is a no-op. */
void zkv__areq_release(zkv_async *a, zkv__areq *r);
/* Routes r, made by zkv__areq_new with its callback set, within deadline_ms (0: the
 * client's timeout from now). ZKV_OK (the callback will run) or the error, published
 * (it will not; r was freed). */
int zkv__async_start(zkv_async *a, zkv__areq *r, uint64_t deadline_ms);
/* Puts d on the ready list: its callback runs from the next timer. */
void zkv__async_ready(zkv_async *a, zkv__adone *d);
/* Runs the callbacks of the ready list (not once zkv_async_free was asked for). */
void zkv__async_deliver_ready(zkv_async *a);
/* ZKV_OK when a may take requests (hooked, not being freed), else ZKV_EINVAL, published. */
int zkv__async_usable(const zkv_async *a);
/* The start of a public call: clears the last error; ZKV_EINVAL when a is NULL or the
 * callback is missing (cb_ok false); then zkv__async_usable. Published. */
int zkv__async_entry(const zkv_async *a, bool cb_ok);

/* --- async_route.c --- */

/* Routes r until it is on a connection, waiting, or completed. From the call that
 * queues r (sync_rc set) a failure is returned there (*sync_rc, reason in sync_err of
 * ZKV__ERR_MAX bytes) instead of running the callback; r is then the caller's. */
void zkv__areq_route(zkv_async *a, zkv__areq *r, char *sync_err, int *sync_rc);
/* The attempt of r on the wire failed without an answer (code, why in full). */
void zkv__areq_attempt_failed(zkv_async *a, zkv__areq *r, int code, const char *why);
/* The answer to r, which left its connection's table. value_nul: resp's value is
 * followed by a NUL byte in memory that stays put until this returns (a get's value is
 * then handed to the callback without a copy). */
void zkv__areq_answer(zkv_async *a, zkv__areq *r, const Zkv__Response *resp, bool value_nul);
/* Queues r on the connection of the node rt chose (one attempt). ZKV_OK, or the
 * attempt's failure (ZKV_ECONNECT: unreachable or skipped; ZKV_ENOMEM), reason in err. */
int zkv__areq_send(zkv_async *a, zkv__areq *r, const zkv__route *rt, char *err, size_t errlen);
/* Routes again the waiting requests whose retry time has come. */
void zkv__async_retry_due(zkv_async *a);
/* Arms the timer for the earliest of: the next deadline tick, the next retry. */
void zkv__async_rearm(zkv_async *a);
/* Passes the reloads decided since the last call to the refresher (never waits). */
void zkv__async_flush_refresh(zkv_async *a);

/* --- async_hedge.c --- */

/* After r went on the wire: a get with ZKV_FLAG_HEDGE sent to the owner is to be hedged
 * at now + the hedge delay (the timer fires then). */
void zkv__ahedge_arm(zkv_async *a, zkv__areq *r, bool to_replica, uint64_t now);
/* The timer: r's hedge time came while it is still on the owner's wire: its copy goes
 * to a replica (if the map has one to ask). */
void zkv__ahedge_fire(zkv_async *a, zkv__areq *r);
/* The answer to r, when r is a hedge's copy: a value or its absence completes the get it
 * hedges (stale-flagged) and leaves that get's owner attempt abandoned; anything else is
 * dropped. True when r was a copy (now freed). */
bool zkv__ahedge_answered(zkv_async *a, zkv__areq *r, const Zkv__Response *resp, bool value_nul);
/* r's attempt failed: when r is a hedge's copy, it is dropped (the get waits on for the
 * owner). True when r was a copy (now freed). */
bool zkv__ahedge_failed(zkv_async *a, zkv__areq *r);
/* Drops r's copy on a replica's wire, if any (r got an answer, failed or completes). */
void zkv__ahedge_drop(zkv_async *a, zkv__areq *r);

/* --- async_conn.c --- */

/* r left c's wire unanswered: its answer, when it comes, is dropped (a tombstone). */
void zkv__aconn_abandon(zkv__aconn *c, const zkv__areq *r);
/* The connection to node_id at addr, made (closed) on first use. NULL on ENOMEM. */
zkv__aconn *zkv__aconn_get(zkv_async *a, const char *node_id, const char *addr);
zkv__aconn *zkv__aconn_by_fd(zkv_async *a, int fd);
/* Queues req (its id assigned here) for item on c, opening c (connect, HELLO with
 * req->map_version) if it is closed. ZKV_OK, or ZKV_ECONNECT/ZKV_ENOMEM with the reason
 * in err and nothing queued. */
int zkv__aconn_send(zkv_async *a, zkv__aconn *c, Zkv__Request *req, void *item, uint64_t now,
                    char *err, size_t errlen);
/* Closes c; every request pending on it failed its attempt with code (each is decided
 * on, or completed while the context is being freed). */
void zkv__aconn_fail(zkv_async *a, zkv__aconn *c, int code, const char *why);
/* The loop reported c's socket writable / readable. */
void zkv__aconn_on_writable(zkv_async *a, zkv__aconn *c);
void zkv__aconn_on_readable(zkv_async *a, zkv__aconn *c);
/* Fails what on c is past its time: a HELLO, attempts past their deadline. */
void zkv__aconn_check(zkv_async *a, zkv__aconn *c, uint64_t now);
/* Frees a closed connection (zkv__aconn_fail first). */
void zkv__aconn_destroy(zkv__aconn *c);

#endif
