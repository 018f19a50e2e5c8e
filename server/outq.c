/* outq.c: answer bytes with large values referenced, not copied (outq.h). Positions of the
 * values are counted in bytes of q->b since the queue was last empty (q->gone of them
 * already sent), so consuming or compacting the buffer never moves them. */
#include "outq.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define IOV_BATCH 64 /* buffers per uv_try_write; uv_write takes them all */

struct zkv_outq_ref {
    size_t at; /* bytes of b before this value */
    const uint8_t *p;
    size_t len, done;
    zkv_store_value v;
};

void zkv_outq_init(zkv_outq *q)
{
    memset(q, 0, sizeof *q);
    zkv_buf_init(&q->b);
}

void zkv_outq_clear(zkv_outq *q)
{
    for (size_t i = q->head; i < q->n; i++)
        zkv_store_value_release(&q->refs[i].v);
    q->head = q->n = 0;
    q->gone = 0;
    q->ref_bytes = 0;
    q->b.len = q->b.off = 0;
}

void zkv_outq_free(zkv_outq *q)
{
    zkv_outq_clear(q);
    free(q->refs);
    zkv_buf_free(&q->b);
    zkv_outq_init(q);
}

size_t zkv_outq_unread(const zkv_outq *q)
{
    return zkv_buf_unread(&q->b) + q->ref_bytes;
}

int zkv_outq_reserve(zkv_outq *q)
{
    if (q->n < q->cap)
        return 0;
    if (q->head > 0) {
        memmove(q->refs, q->refs + q->head, (q->n - q->head) * sizeof *q->refs);
        q->n -= q->head;
        q->head = 0;
        return 0;
    }
    size_t cap = q->cap ? q->cap * 2 : 8;
    zkv_outq_ref *r = realloc(q->refs, cap * sizeof *r);
    if (!r)
        return -1;
    q->refs = r;
    q->cap = cap;
    return 0;
}

void zkv_outq_add(zkv_outq *q, zkv_store_value *v, const uint8_t *p, size_t len)
{
    zkv_outq_ref *r = &q->refs[q->n++];
    r->at = q->gone + zkv_buf_unread(&q->b);
    r->p = p;
    r->len = len;
    r->done = 0;
    r->v = *v;
    memset(v, 0, sizeof *v);
    q->ref_bytes += len;
}

/* The queue's next pieces as buffers, at most max; returns how many, *bytes their sum. */
static size_t fill_iov(const zkv_outq *q, uv_buf_t *iov, size_t max, size_t *bytes)
{
    size_t k = 0, pos = q->gone, boff = q->b.off;
    *bytes = 0;
    for (size_t i = q->head; i < q->n && k < max; i++) {
        const zkv_outq_ref *r = &q->refs[i];
        if (r->at > pos) {
            iov[k++] = uv_buf_init((char *)q->b.data + boff, (unsigned)(r->at - pos));
            *bytes += r->at - pos;
            boff += r->at - pos;
            pos = r->at;
            if (k == max)
                return k;
        }
        iov[k++] = uv_buf_init((char *)r->p + r->done, (unsigned)(r->len - r->done));
        *bytes += r->len - r->done;
    }
    if (k < max && boff < q->b.len) {
        iov[k++] = uv_buf_init((char *)q->b.data + boff, (unsigned)(q->b.len - boff));
        *bytes += q->b.len - boff;
    }
    return k;
}

/* Marks n bytes from the front as sent, releasing the values sent whole. */
static void consume(zkv_outq *q, size_t n)
{
    while (n > 0) {
        size_t before = zkv_buf_unread(&q->b);
        if (q->head < q->n && q->refs[q->head].at - q->gone < before)
            before = q->refs[q->head].at - q->gone;
        if (before > 0) {
            size_t k = n < before ? n : before;
            zkv_buf_consume(&q->b, k);
            q->gone += k;
            n -= k;
            continue;
        }
        zkv_outq_ref *r = &q->refs[q->head];
        size_t k = n < r->len - r->done ? n : r->len - r->done;
        r->done += k;
        q->ref_bytes -= k;
        n -= k;
        if (r->done == r->len) {
            zkv_store_value_release(&r->v);
            q->head++;
        }
    }
    if (q->head == q->n)
        q->head = q->n = 0;
    if (q->n == 0 && zkv_buf_unread(&q->b) == 0)
        q->gone = 0;
}

int zkv_outq_send(zkv_outq *q, zkv_outq *wq, uv_tcp_t *t, uv_write_t *req, uv_write_cb cb,
                  void *data, bool try_first)
{
    uv_stream_t *st = (uv_stream_t *)t;
    uv_buf_t small[IOV_BATCH];
    while (try_first && zkv_outq_unread(q) > 0) {
        size_t want;
        size_t k = fill_iov(q, small, IOV_BATCH, &want);
        int rc = uv_try_write(st, small, (unsigned)k);
        if (rc == UV_EAGAIN || rc == 0)
            break;
        if (rc < 0)
            return rc;
        consume(q, (size_t)rc);
        if ((size_t)rc < want)
            break; /* the socket is full: the rest waits for writability */
    }
    if (zkv_outq_unread(q) == 0)
        return 0;
    zkv_outq tmp = *wq;
    *wq = *q;
    *q = tmp;
    size_t max = 2 * (wq->n - wq->head) + 1, want;
    uv_buf_t *iov = max <= IOV_BATCH ? small : malloc(max * sizeof *iov);
    if (!iov)
        return UV_ENOMEM;
    size_t k = fill_iov(wq, iov, max, &want);
    req->data = data;
    int rc = uv_write(req, st, iov, (unsigned)k, cb);
    if (iov != small)
        free(iov);
    return rc != 0 ? rc : 1;
}
