/* scan.c: zkv_scan_range, a scan across ranges. A node answers for the range holding the
 * start key only, so the client walks: ask the owner of the cursor, append its items,
 * continue from next_key while the node says more, until the limit or the end bound.
 * The walk's decisions (zkv__scan_walk_*) are pure and shared with the asynchronous scan
 * (async_scan.c); zkv_scan_range only adds the blocking exchange of each page (zkv__call).
 * Items are kept in one byte arena (offsets, so growing it never invalidates anything)
 * and must come in strictly increasing key order within [start, end): a repeated,
 * backward or out-of-bounds key is dropped, never returned twice. */
#include <stdlib.h>
#include <string.h>

#include "common/keyrange.h"
#include "common/util.h"
#include "client.h"
#include "error.h"
#include "scan.h"

#define ZKV__SCAN_DEFAULT_LIMIT 1000

static int scan_append(zkv_scan *s, const ProtobufCBinaryData *k, const ProtobufCBinaryData *v)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        scan_item *it = realloc(s->items, cap * sizeof *it);
        if (!it)
            return -1;
        s->items = it;
        s->cap = cap;
    }
    scan_item *it = &s->items[s->n];
    it->koff = s->bytes.len;
    it->klen = k->len;
    if (k->len && zkv_buf_append(&s->bytes, k->data, k->len) != 0)
        return -1;
    it->voff = s->bytes.len;
    it->vlen = v->len;
    if (v->len && zkv_buf_append(&s->bytes, v->data, v->len) != 0)
        return -1;
    s->n++;
    return 0;
}

/* Last key returned so far (NULL when none). */
static const uint8_t *last_key(const zkv_scan *s, size_t *len)
{
    if (s->n == 0) {
        *len = 0;
        return NULL;
    }
    *len = s->items[s->n - 1].klen;
    return s->bytes.data ? s->bytes.data + s->items[s->n - 1].koff : (const uint8_t *)"";
}

/* Replaces the cursor with a copy of key. */
static int set_cursor(zkv_buf *cur, const uint8_t *key, size_t len)
{
    cur->len = cur->off = 0;
    return zkv_buf_append(cur, key, len);
}

zkv_scan *zkv__scan_new(void)
{
    zkv_scan *s = calloc(1, sizeof *s);
    if (s)
        zkv_buf_init(&s->bytes);
    return s;
}

int zkv__scan_page(zkv_scan *s, const Zkv__Response *r, const uint8_t *cursor, size_t clen,
                   const uint8_t *start, size_t slen, const uint8_t *end, size_t elen, size_t limit,
                   const char *node, bool *go_on, char *err, size_t errlen)
{
    *go_on = false;
    size_t i = 0;
    for (; i < r->n_items && s->n < limit; i++) {
        const ProtobufCBinaryData *k = &r->items[i]->key;
        size_t llen;
        const uint8_t *lk = last_key(s, &llen);
        if (lk && zkv_key_cmp(k->data, k->len, lk, llen) <= 0)
            continue; /* repeated or backward */
        if (slen && zkv_key_cmp(k->data, k->len, start, slen) < 0)
            continue;
        if (elen && zkv_key_cmp(k->data, k->len, end, elen) >= 0)
            continue;
        if (scan_append(s, k, &r->items[i]->value) != 0)
            return zkv__err(ZKV_ENOMEM, err, errlen, "out of memory");
    }
    if (i < r->n_items)
        s->more = 1; /* the limit cut this page short */
    /* Where to go on: the node says (more, next_key); at its range end next_key is the end
     * of that range, so the walk crosses ranges without trusting our map. */
    if (!r->more)
        return ZKV_OK;
    if (r->next_key.len == 0)
        return zkv__err(ZKV_EPROTOCOL, err, errlen,
                        "node %s answered a scan with more but no next key", node);
    if (zkv_key_cmp(r->next_key.data, r->next_key.len, cursor, clen) <= 0)
        return zkv__err(ZKV_EPROTOCOL, err, errlen,
                        "node %s answered a scan with a next key that does not advance", node);
    *go_on = true;
    return ZKV_OK;
}

int zkv__scan_walk_begin(zkv__scan_walk *w, const zkv_client *c, const void *start, size_t slen,
                         const void *end, size_t elen, size_t limit, unsigned *flags)
{
    memset(w, 0, sizeof *w);
    zkv_buf_init(&w->cur);
    zkv_buf_init(&w->bounds);
    if ((!start && slen) || (!end && elen))
        return zkv__fail(ZKV_EINVAL, "NULL start or end with a non-zero length");
    *flags |= c->opts.default_flags;
    char ferr[128];
    if (zkv__flags_check(*flags, ferr, sizeof ferr) != 0)
        return zkv__fail(ZKV_EINVAL, "%s", ferr);
    if (slen > c->opts.max_key || elen > c->opts.max_key)
        return zkv__fail(ZKV_ETOOLARGE, "scan bound over the key limit of %zu bytes",
                         c->opts.max_key);
    w->slen = slen;
    w->elen = elen;
    w->limit = limit ? limit : ZKV__SCAN_DEFAULT_LIMIT;
    w->s = zkv__scan_new();
    /* Reserved up front so the cursor never points at NULL, even when empty. */
    if (!w->s || zkv_buf_reserve(&w->cur, slen + 16) != 0 ||
        zkv_buf_reserve(&w->bounds, slen + elen + 1) != 0 ||
        (slen && zkv_buf_append(&w->cur, start, slen) != 0) ||
        (slen && zkv_buf_append(&w->bounds, start, slen) != 0) ||
        (elen && zkv_buf_append(&w->bounds, end, elen) != 0)) {
        zkv__scan_walk_end(w);
        return zkv__fail(ZKV_ENOMEM, "out of memory");
    }
    return ZKV_OK;
}

bool zkv__scan_walk_next(zkv__scan_walk *w, Zkv__Request *req)
{
    const uint8_t *e = w->bounds.data + w->slen;
    /* Done when the cursor reached the end bound. */
    if (w->elen && zkv_key_cmp(zkv_buf_head(&w->cur), zkv_buf_unread(&w->cur), e, w->elen) >= 0)
        return false;
    if (w->s->n >= w->limit) {
        w->s->more = 1;
        return false;
    }
    zkv__request__init(req);
    req->op = ZKV__OP__SCAN;
    req->key.data = zkv_buf_head(&w->cur);
    req->key.len = zkv_buf_unread(&w->cur);
    req->end_key.data = w->elen ? (uint8_t *)e : NULL;
    req->end_key.len = w->elen;
    size_t want = w->limit - w->s->n;
    req->limit = want > 10000 ? 10000 : (uint32_t)want;
    return true;
}

int zkv__scan_walk_page(zkv__scan_walk *w, const Zkv__Response *r, const char *node, bool replica,
                        bool *go_on, char *err, size_t errlen)
{
    const uint8_t *b = w->bounds.data;
    int rc = zkv__scan_page(w->s, r, zkv_buf_head(&w->cur), zkv_buf_unread(&w->cur), b, w->slen,
                            b + w->slen, w->elen, w->limit, node, go_on, err, errlen);
    if (rc != ZKV_OK)
        return rc;
    if (replica || r->stale)
        w->s->stale = 1;
    if (*go_on && set_cursor(&w->cur, r->next_key.data, r->next_key.len) != 0)
        return zkv__err(ZKV_ENOMEM, err, errlen, "out of memory");
    return ZKV_OK;
}

zkv_scan *zkv__scan_walk_take(zkv__scan_walk *w)
{
    zkv_scan *s = w->s;
    w->s = NULL;
    return s;
}

void zkv__scan_walk_end(zkv__scan_walk *w)
{
    zkv_scan_free(w->s);
    w->s = NULL;
    zkv_buf_free(&w->cur);
    zkv_buf_free(&w->bounds);
}

int zkv_scan_range(zkv_client *c, const void *start, size_t slen, const void *end, size_t elen,
                   size_t limit, int timeout_ms, unsigned flags, zkv_scan **out)
{
    uint64_t deadline;
    int rc = zkv__call_begin(c, timeout_ms, &deadline);
    if (rc != ZKV_OK)
        return rc;
    if (!out)
        return zkv__fail(ZKV_EINVAL, "NULL out");
    *out = NULL;
    zkv__scan_walk w;
    rc = zkv__scan_walk_begin(&w, c, start, slen, end, elen, limit, &flags);
    if (rc != ZKV_OK)
        return rc;
    char err[ZKV__ERR_MAX] = "";
    Zkv__Request req;
    while (zkv__scan_walk_next(&w, &req)) {
        zkv__reply reply;
        memset(&reply, 0, sizeof reply);
        rc = zkv__call(c, &req, req.key.data, req.key.len, ZKV__READ, flags, deadline, &reply, err,
                       sizeof err);
        if (rc == ZKV_ENOTFOUND)
            rc = ZKV_OK; /* an empty page */
        if (rc != ZKV_OK)
            break;
        bool go_on = false;
        rc =
            zkv__scan_walk_page(&w, reply.resp, reply.node, reply.replica, &go_on, err, sizeof err);
        zkv__response_free(reply.resp);
        if (rc != ZKV_OK || !go_on)
            break;
    }
    if (rc != ZKV_OK) {
        zkv__scan_walk_end(&w);
        return zkv__fail(rc, "%s", err);
    }
    *out = zkv__scan_walk_take(&w);
    zkv__scan_walk_end(&w);
    return ZKV_OK;
}

size_t zkv_scan_count(const zkv_scan *s)
{
    return s ? s->n : 0;
}

const void *zkv_scan_key(const zkv_scan *s, size_t i, size_t *len)
{
    if (!s || i >= s->n) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = s->items[i].klen;
    return s->bytes.data ? s->bytes.data + s->items[i].koff : (const void *)"";
}

const void *zkv_scan_value(const zkv_scan *s, size_t i, size_t *len)
{
    if (!s || i >= s->n) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = s->items[i].vlen;
    return s->bytes.data ? s->bytes.data + s->items[i].voff : (const void *)"";
}

int zkv_scan_more(const zkv_scan *s)
{
    return s ? s->more : 0;
}

int zkv_scan_stale(const zkv_scan *s)
{
    return s ? s->stale : 0;
}

void zkv_scan_free(zkv_scan *s)
{
    if (!s)
        return;
    zkv_buf_free(&s->bytes);
    free(s->items);
    free(s);
}
