/* async_scan.c: zkv_async_scan_range, the asynchronous twin of zkv_scan_range. A scan
 * is a walk across ranges (scan.c's zkv__scan_walk: which page next, what a page adds,
 * when it ends), and each page is an ordinary async request (op SCAN, routed, falling
 * back to replicas and retried as a get is, async_route.c), sent when the previous page
 * came back, so the walk's pure decisions are shared with the blocking scan and the
 * routing with every other request; only the sequencing is this file's. The whole scan
 * has one time budget, the client's timeout, that every page request shares. When the
 * walk ends (done, or a page failed) the scan waits on the ready list and its callback
 * runs from the next timer, so never from zkv_async_scan_range itself, even for a scan
 * with nothing to ask. The callback owns the result (zkv_async.h). */
#include <stdlib.h>
#include <string.h>

#include "async_int.h"
#include "scan.h"
#include "value.h"

typedef struct zkv__ascan {
    zkv__adone done; /* on the ready list once the walk ended (first member) */
    zkv__scan_walk w;
    unsigned flags;
    uint64_t deadline_ms;
    int status;
    zkv_async_scan_cb cb;
    void *priv;
    char why[ZKV__ERR_MAX]; /* the reason of a failure */
} zkv__ascan;

/* The scan's callback, from the ready list: hands the result over. */
static void scan_deliver(zkv_async *a, zkv__adone *d)
{
    zkv__ascan *sc = (zkv__ascan *)d;
    zkv_scan *s = NULL;
    if (sc->status == ZKV_OK) {
        s = zkv__scan_walk_take(&sc->w);
        zkv__clear_error();
        if (!s) /* no memory for its token */
            sc->status = zkv__fail(ZKV_ENOMEM, "out of memory");
    } else {
        zkv__fail(sc->status, "%s", sc->why);
    }
    zkv_async_scan_cb cb = sc->cb;
    void *priv = sc->priv;
    int status = sc->status;
    zkv__scan_walk_end(&sc->w);
    free(sc);
    cb(a, status, s, priv);
}

/* The walk ended with status (why: the reason of a failure). */
static void scan_end(zkv_async *a, zkv__ascan *sc, int status, const char *why)
{
    sc->status = status;
    if (status != ZKV_OK)
        zkv__copy_str(sc->why, sizeof sc->why, why && why[0] ? why : zkv_strerror(status));
    sc->done.run = scan_deliver;
    zkv__async_ready(a, &sc->done);
}

static void on_page(zkv_async *a, int status, const Zkv__Response *page, const char *node,
                    bool replica, void *priv);

/* Sends the page req asks for. ZKV_OK, or the error (published) when it could not be
 * queued. */
static int page_send(zkv_async *a, zkv__ascan *sc, const Zkv__Request *req, const uint8_t *rkey,
                     size_t rklen)
{
    if (a->closing || a->free_asked)
        return zkv__fail(ZKV_ECONNECT, "the async context was freed");
    /* A reverse page is routed by a key of its own (scan.c's route_below), kept after the
     * end key; a forward page by its start key. */
    bool own_route = req->reverse;
    size_t elen = req->end_key.len, vlen = elen + (own_route ? rklen : 0);
    uint8_t *tail = vlen ? malloc(vlen) : NULL;
    if (vlen && !tail)
        return zkv__fail(ZKV_ENOMEM, "out of memory");
    if (tail && elen)
        memcpy(tail, req->end_key.data, elen);
    if (tail && own_route && rklen)
        memcpy(tail + elen, rkey, rklen);
    zkv__areq *r =
        zkv__areq_new(a, ZKV__AREQ_SCAN, req->key.data, req->key.len, tail, vlen, sc->flags, sc);
    free(tail);
    if (!r)
        return zkv__fail(ZKV_ENOMEM, "out of memory");
    r->limit = req->limit;
    r->reverse = req->reverse;
    r->keys_only = req->keys_only;
    r->rklen = own_route ? rklen : 0;
    r->route_own = own_route;
    r->page_cb = on_page;
    return zkv__async_start(a, r, sc->deadline_ms);
}

/* A page request ended: add the page and ask for the next, or end the walk. */
static void on_page(zkv_async *a, int status, const Zkv__Response *page, const char *node,
                    bool replica, void *priv)
{
    zkv__ascan *sc = priv;
    if (status != ZKV_OK) {
        scan_end(a, sc, status, zkv_last_error());
        return;
    }
    char err[ZKV__ERR_MAX];
    bool go_on = false;
    int rc = zkv__scan_walk_page(&sc->w, page, node, replica, &go_on, err, sizeof err);
    if (rc != ZKV_OK) {
        scan_end(a, sc, rc, err);
        return;
    }
    Zkv__Request req;
    const uint8_t *rkey;
    size_t rklen;
    if (!go_on || !zkv__scan_walk_next(&sc->w, &req, &rkey, &rklen)) {
        scan_end(a, sc, ZKV_OK, NULL);
        return;
    }
    rc = page_send(a, sc, &req, rkey, rklen);
    if (rc != ZKV_OK)
        scan_end(a, sc, rc, zkv_last_error());
}

int zkv_async_scan_range(zkv_async *a, const void *start, size_t slen, const void *end, size_t elen,
                         size_t limit, unsigned flags, zkv_async_scan_cb cb, void *privdata)
{
    zkv_scan_args args = {.start = start, .slen = slen, .end = end, .elen = elen, .limit = limit};
    return zkv_async_scan_run(a, &args, flags, cb, privdata);
}

int zkv_async_scan_run(zkv_async *a, const zkv_scan_args *args, unsigned flags,
                       zkv_async_scan_cb cb, void *privdata)
{
    int rc = zkv__async_entry(a, cb != NULL);
    if (rc != ZKV_OK)
        return rc;
    zkv__ascan *sc = calloc(1, sizeof *sc);
    if (!sc)
        return zkv__fail(ZKV_ENOMEM, "out of memory");
    rc = zkv__scan_walk_begin(&sc->w, a->c, args, &flags);
    if (rc != ZKV_OK) {
        free(sc);
        return rc;
    }
    sc->flags = flags;
    sc->deadline_ms = zkv__async_now(a) + (uint64_t)a->c->opts.timeout_ms;
    sc->cb = cb;
    sc->priv = privdata;
    Zkv__Request req;
    const uint8_t *rkey;
    size_t rklen;
    if (zkv__scan_walk_next(&sc->w, &req, &rkey, &rklen)) {
        rc = page_send(a, sc, &req, rkey, rklen);
        if (rc != ZKV_OK) {
            zkv__scan_walk_end(&sc->w);
            free(sc);
            return rc;
        }
    } else {
        scan_end(a, sc, ZKV_OK, NULL); /* nothing to ask: delivered from the timer */
    }
    a->live++;
    if (a->depth == 0)
        zkv__async_rearm(a);
    return ZKV_OK;
}
