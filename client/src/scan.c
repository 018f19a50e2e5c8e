/* scan.c: zkv_scan and zkv_scan_range, a scan across ranges. A node answers for one range
 * only, so the client walks: ask the owner of the cursor's range, append its items,
 * continue from next_key while the node says more, until the limit or the bound. A
 * reverse walk goes down from the end, its cursor the exclusive upper bound of the next
 * page, routed by a key just below it (route_below).
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
    if (s) {
        zkv_buf_init(&s->bytes);
        zkv_buf_init(&s->token);
    }
    return s;
}

/* Whether key a comes before b in the scan's order (descending when reverse). */
static bool before(bool reverse, const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    int c = zkv_key_cmp(a, al, b, bl);
    return reverse ? c > 0 : c < 0;
}

int zkv__scan_page(zkv_scan *s, const Zkv__Response *r, bool reverse, const uint8_t *cursor,
                   size_t clen, bool cur_inf, const uint8_t *start, size_t slen, const uint8_t *end,
                   size_t elen, size_t limit, const char *node, bool *go_on, char *err,
                   size_t errlen)
{
    *go_on = false;
    size_t i = 0;
    for (; i < r->n_items && s->n < limit; i++) {
        const ProtobufCBinaryData *k = &r->items[i]->key;
        size_t llen;
        const uint8_t *lk = last_key(s, &llen);
        if (lk && !before(reverse, lk, llen, k->data, k->len))
            continue; /* repeated or backward */
        if (slen && zkv_key_cmp(k->data, k->len, start, slen) < 0)
            continue;
        if (elen && zkv_key_cmp(k->data, k->len, end, elen) >= 0)
            continue;
        if (reverse && !cur_inf && zkv_key_cmp(k->data, k->len, cursor, clen) >= 0)
            continue; /* a reverse page's bound is exclusive */
        if (scan_append(s, k, &r->items[i]->value) != 0)
            return zkv__err(ZKV_ENOMEM, err, errlen, "out of memory");
    }
    if (i < r->n_items)
        s->more = 1; /* the limit cut this page short */
    /* Where to go on: the node says (more, next_key); at its range end (reverse: start)
     * next_key is that bound of the range, so the walk crosses ranges without trusting
     * our map. */
    if (!r->more)
        return ZKV_OK;
    if (r->next_key.len == 0)
        return zkv__err(ZKV_EPROTOCOL, err, errlen,
                        "node %s answered a scan with more but no next key", node);
    if (!(reverse && cur_inf) && !before(reverse, cursor, clen, r->next_key.data, r->next_key.len))
        return zkv__err(ZKV_EPROTOCOL, err, errlen,
                        "node %s answered a scan with a next key that does not advance", node);
    *go_on = true;
    return ZKV_OK;
}

int zkv__scan_walk_begin(zkv__scan_walk *w, const zkv_client *c, const zkv_scan_args *a,
                         unsigned *flags)
{
    memset(w, 0, sizeof *w);
    zkv_buf_init(&w->cur);
    zkv_buf_init(&w->rkey);
    char err[ZKV__ERR_MAX];
    int rc = zkv__scan_spec_from(&w->sp, a, err, sizeof err);
    if (rc != ZKV_OK) {
        zkv__scan_walk_end(w);
        return zkv__fail(rc, "%s", rc == ZKV_ENOMEM ? "out of memory" : err);
    }
    const zkv__scan_spec *sp = &w->sp;
    *flags |= c->opts.default_flags;
    if (zkv__flags_check(*flags, err, sizeof err) != 0) {
        zkv__scan_walk_end(w);
        return zkv__fail(ZKV_EINVAL, "%s", err);
    }
    if (sp->slen > c->opts.max_key || sp->elen > c->opts.max_key ||
        sp->clen > c->opts.max_key + 1) {
        zkv__scan_walk_end(w);
        return zkv__fail(ZKV_ETOOLARGE, "scan bound over the key limit of %zu bytes",
                         c->opts.max_key);
    }
    w->limit = sp->limit ? sp->limit : ZKV__SCAN_DEFAULT_LIMIT;
    /* the first cursor: the token's, else the start (reverse: the end, none: +infinity) */
    const uint8_t *first = sp->has_cursor ? sp->cursor : sp->reverse ? sp->end : sp->start;
    size_t flen = sp->has_cursor ? sp->clen : sp->reverse ? sp->elen : sp->slen;
    w->cur_inf = sp->reverse && !sp->has_cursor && sp->elen == 0;
    w->s = zkv__scan_new();
    /* Reserved up front so the cursor never points at NULL, even when empty. */
    if (!w->s || zkv_buf_reserve(&w->cur, flen + 16) != 0 ||
        (flen && zkv_buf_append(&w->cur, first, flen) != 0) ||
        zkv_buf_reserve(&w->rkey, c->opts.max_key) != 0) {
        zkv__scan_walk_end(w);
        return zkv__fail(ZKV_ENOMEM, "out of memory");
    }
    return ZKV_OK;
}

/* A key of the range holding the keys just below cursor (cur_inf: the last range): the
 * cursor without a trailing 0x00 byte, else with its last byte decremented and 0xff bytes
 * up to max_key bytes. No range starts strictly between that key and the cursor (a range
 * start is a key, at most max_key bytes long), so it routes to the right range whatever
 * the map says at the time. */
static void route_below(zkv__scan_walk *w, size_t max_key)
{
    zkv_buf *rk = &w->rkey;
    rk->len = rk->off = 0;
    size_t clen = zkv_buf_unread(&w->cur);
    if (!w->cur_inf && clen && zkv_buf_head(&w->cur)[clen - 1] == 0x00) {
        memcpy(rk->data, zkv_buf_head(&w->cur), clen - 1);
        rk->len = clen - 1;
        return;
    }
    size_t keep = w->cur_inf ? 0 : clen;
    if (keep)
        memcpy(rk->data, zkv_buf_head(&w->cur), keep);
    if (keep)
        rk->data[keep - 1]--;
    memset(rk->data + keep, 0xff, max_key - keep);
    rk->len = max_key;
}

bool zkv__scan_walk_next(zkv__scan_walk *w, Zkv__Request *req, const uint8_t **rkey, size_t *rklen)
{
    const zkv__scan_spec *sp = &w->sp;
    const uint8_t *cur = zkv_buf_head(&w->cur);
    size_t clen = zkv_buf_unread(&w->cur);
    if (!sp->reverse) { /* done when the cursor reached the end bound */
        if (sp->elen && zkv_key_cmp(cur, clen, sp->end, sp->elen) >= 0)
            return false;
    } else if (!w->cur_inf &&
               (clen == 0 || (sp->slen && zkv_key_cmp(cur, clen, sp->start, sp->slen) <= 0))) {
        return false; /* nothing below the cursor within the start bound */
    }
    if (w->s->n >= w->limit) {
        w->s->more = 1;
        return false;
    }
    zkv__request__init(req);
    req->op = ZKV__OP__SCAN;
    req->reverse = sp->reverse;
    req->keys_only = sp->keys_only;
    if (!sp->reverse) {
        req->key.data = (uint8_t *)cur;
        req->key.len = clen;
        req->end_key.data = sp->elen ? (uint8_t *)sp->end : NULL;
        req->end_key.len = sp->elen;
        *rkey = cur;
        *rklen = clen;
    } else {
        req->key.data = sp->slen ? (uint8_t *)sp->start : NULL;
        req->key.len = sp->slen;
        req->end_key.data = w->cur_inf ? NULL : (uint8_t *)cur;
        req->end_key.len = w->cur_inf ? 0 : clen;
        route_below(w, w->rkey.cap);
        *rkey = w->rkey.data;
        *rklen = w->rkey.len;
    }
    size_t want = w->limit - w->s->n;
    req->limit = want > 10000 ? 10000 : (uint32_t)want;
    return true;
}

int zkv__scan_walk_page(zkv__scan_walk *w, const Zkv__Response *r, const char *node, bool replica,
                        bool *go_on, char *err, size_t errlen)
{
    const zkv__scan_spec *sp = &w->sp;
    int rc = zkv__scan_page(w->s, r, sp->reverse, zkv_buf_head(&w->cur), zkv_buf_unread(&w->cur),
                            w->cur_inf, sp->start, sp->slen, sp->end, sp->elen, w->limit, node,
                            go_on, err, errlen);
    if (rc != ZKV_OK)
        return rc;
    if (replica || r->stale)
        w->s->stale = 1;
    if (*go_on && set_cursor(&w->cur, r->next_key.data, r->next_key.len) != 0)
        return zkv__err(ZKV_ENOMEM, err, errlen, "out of memory");
    if (*go_on)
        w->cur_inf = false;
    return ZKV_OK;
}

/* The result's token when it has more: the scan goes on after its last item (forward: at
 * that key with a 0x00 byte added, its successor; reverse: below it). */
static int make_token(zkv__scan_walk *w)
{
    zkv_scan *s = w->s;
    size_t llen;
    const uint8_t *lk = last_key(s, &llen);
    if (!s->more || !lk)
        return 0;
    zkv_buf cur;
    zkv_buf_init(&cur);
    static const uint8_t zero = 0;
    int rc = zkv_buf_append(&cur, lk, llen) != 0 ||
                     (!w->sp.reverse && zkv_buf_append(&cur, &zero, 1) != 0) ||
                     zkv__scan_token_encode(&s->token, &w->sp, cur.data, cur.len) != 0
                 ? -1
                 : 0;
    zkv_buf_free(&cur);
    return rc;
}

zkv_scan *zkv__scan_walk_take(zkv__scan_walk *w)
{
    if (make_token(w) != 0)
        return NULL; /* out of memory */
    zkv_scan *s = w->s;
    w->s = NULL;
    return s;
}

void zkv__scan_walk_end(zkv__scan_walk *w)
{
    zkv_scan_free(w->s);
    w->s = NULL;
    zkv_buf_free(&w->cur);
    zkv_buf_free(&w->rkey);
    zkv__scan_spec_free(&w->sp);
}

int zkv_scan_run(zkv_client *c, const zkv_scan_args *args, int timeout_ms, unsigned flags,
                 zkv_scan **out)
{
    uint64_t deadline;
    int rc = zkv__call_begin(c, timeout_ms, &deadline);
    if (rc != ZKV_OK)
        return rc;
    if (!out)
        return zkv__fail(ZKV_EINVAL, "NULL out");
    *out = NULL;
    zkv__scan_walk w;
    rc = zkv__scan_walk_begin(&w, c, args, &flags);
    if (rc != ZKV_OK)
        return rc;
    char err[ZKV__ERR_MAX] = "";
    Zkv__Request req;
    const uint8_t *rkey;
    size_t rklen;
    while (zkv__scan_walk_next(&w, &req, &rkey, &rklen)) {
        zkv__reply reply;
        memset(&reply, 0, sizeof reply);
        rc = zkv__call(c, &req, rkey, rklen, ZKV__READ, flags, deadline, &reply, err, sizeof err);
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
    return *out ? ZKV_OK : zkv__fail(ZKV_ENOMEM, "out of memory");
}

int zkv_scan_range(zkv_client *c, const void *start, size_t slen, const void *end, size_t elen,
                   size_t limit, int timeout_ms, unsigned flags, zkv_scan **out)
{
    zkv_scan_args a = {.start = start, .slen = slen, .end = end, .elen = elen, .limit = limit};
    return zkv_scan_run(c, &a, timeout_ms, flags, out);
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

const void *zkv_scan_token(const zkv_scan *s, size_t *len)
{
    bool has = s && zkv_buf_unread(&s->token) > 0;
    if (len)
        *len = has ? zkv_buf_unread(&s->token) : 0;
    return has ? zkv_buf_head(&s->token) : NULL;
}

void zkv_scan_free(zkv_scan *s)
{
    if (!s)
        return;
    zkv_buf_free(&s->bytes);
    zkv_buf_free(&s->token);
    free(s->items);
    free(s);
}
