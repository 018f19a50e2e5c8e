/* vlog_batch.c: the value log's batch of owned and referred pieces (see vlog_batch.h). */
#include "vlog_batch.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK ((size_t)256 * 1024) /* owned bytes per chunk (more for a larger record) */

struct zkv_vchunk {
    uint8_t *data;
    size_t cap, used;
};

struct zkv_vseg {
    size_t pos; /* where it starts in the batch */
    size_t len;
    const uint8_t *p;
    bool own;    /* in a chunk of the batch */
    void *owner; /* a referred piece's, or NULL */
};

static int push(zkv_vbatch *b, zkv_vseg s)
{
    if (b->n == b->cap || !b->segs) {
        size_t ncap = b->cap ? b->cap * 2 : 64;
        zkv_vseg *ns = realloc(b->segs, ncap * sizeof(*ns));
        if (!ns)
            return -1;
        b->segs = ns;
        b->cap = ncap;
    }
    b->segs[b->n++] = s;
    return 0;
}

/* The chunk with n free bytes for the next owned ones: the current, the next (emptied), or
 * a new one. NULL out of memory. */
static zkv_vchunk *room(zkv_vbatch *b, size_t n)
{
    if (b->n_chunks && b->chunks[b->cur].cap - b->chunks[b->cur].used >= n)
        return &b->chunks[b->cur];
    size_t next = b->n_chunks ? b->cur + 1 : 0;
    if (next < b->n_chunks && b->chunks[next].cap >= n) {
        b->cur = next;
        b->chunks[next].used = 0;
        return &b->chunks[next];
    }
    size_t cap = n > CHUNK ? n : CHUNK;
    uint8_t *d = malloc(cap);
    if (!d)
        return NULL;
    if (next == b->n_chunks) {
        if (b->n_chunks == b->cap_chunks || !b->chunks) {
            size_t nc = b->cap_chunks ? b->cap_chunks * 2 : 8;
            zkv_vchunk *c = realloc(b->chunks, nc * sizeof(*c));
            if (!c) {
                free(d);
                return NULL;
            }
            b->chunks = c;
            b->cap_chunks = nc;
        }
        b->n_chunks++;
    } else {
        free(b->chunks[next].data); /* too small for n */
    }
    b->chunks[next] = (zkv_vchunk){.data = d, .cap = cap};
    b->cur = next;
    return &b->chunks[next];
}

uint8_t *zkv_vbatch_reserve(zkv_vbatch *b, size_t n)
{
    size_t cur = b->cur;
    zkv_vchunk *c = room(b, n);
    if (!c)
        return NULL;
    uint8_t *at = c->data + c->used;
    zkv_vseg *last = b->n ? &b->segs[b->n - 1] : NULL;
    if (last && last->own && last->p + last->len == at) {
        last->len += n;
    } else if (push(b, (zkv_vseg){.pos = b->len, .len = n, .p = at, .own = true}) != 0) {
        b->cur = cur; /* (a chunk it moved to is empty: nothing lost) */
        return NULL;
    }
    c->used += n;
    b->len += n;
    return at;
}

int zkv_vbatch_refer(zkv_vbatch *b, const uint8_t *p, size_t n, void *owner)
{
    if (push(b, (zkv_vseg){.pos = b->len, .len = n, .p = p, .owner = owner}) != 0)
        return -1;
    b->len += n;
    return 0;
}

/* The index of the piece that holds byte at (< b->len). */
static size_t seg_at(const zkv_vbatch *b, size_t at)
{
    size_t lo = 0, hi = b->n;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (b->segs[mid].pos <= at)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

void zkv_vbatch_copy(const zkv_vbatch *b, size_t from, size_t n, uint8_t *dst)
{
    for (size_t i = n ? seg_at(b, from) : b->n; n; i++) {
        const zkv_vseg *s = &b->segs[i];
        size_t in = from - s->pos, k = s->len - in < n ? s->len - in : n;
        memcpy(dst, s->p + in, k);
        dst += k;
        from += k;
        n -= k;
    }
}

const uint8_t *zkv_vbatch_span(const zkv_vbatch *b, size_t from, size_t n)
{
    if (b->n == 0 || from + n > b->len)
        return NULL;
    const zkv_vseg *s = &b->segs[seg_at(b, from)];
    return from + n <= s->pos + s->len ? s->p + (from - s->pos) : NULL;
}

size_t zkv_vbatch_iov(const zkv_vbatch *b, size_t from, struct iovec *iov, size_t max,
                      size_t *bytes)
{
    size_t k = 0;
    *bytes = 0;
    for (size_t i = from < b->len ? seg_at(b, from) : b->n; i < b->n && k < max; i++, k++) {
        const zkv_vseg *s = &b->segs[i];
        size_t in = from > s->pos ? from - s->pos : 0;
        iov[k].iov_base = (void *)(s->p + in); // NOLINT: pwritev only reads
        iov[k].iov_len = s->len - in;
        *bytes += s->len - in;
    }
    return k;
}

int zkv_vbatch_pwritev_all(int fd, off_t off, struct iovec *iov, size_t n)
{
    while (n) {
        int k = n < ZKV_VBATCH_MAX_IOV ? (int)n : ZKV_VBATCH_MAX_IOV;
        ssize_t w = pwritev(fd, iov, k, off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? errno : EIO;
        off += w;
        for (size_t left = (size_t)w; left && n;) { /* past what went */
            if (iov->iov_len <= left) {
                left -= iov->iov_len;
                iov++;
                n--;
            } else {
                iov->iov_base = (char *)iov->iov_base + left;
                iov->iov_len -= left;
                left = 0;
            }
        }
    }
    return 0;
}

int zkv_vbatch_write(const zkv_vbatch *b, size_t from, int fd, off_t at, size_t *done)
{
    struct iovec iov[ZKV_VBATCH_MAX_IOV];
    *done = from;
    while (*done < b->len) {
        size_t bytes;
        size_t k = zkv_vbatch_iov(b, *done, iov, ZKV_VBATCH_MAX_IOV, &bytes);
        int e = zkv_vbatch_pwritev_all(fd, at + (off_t)*done, iov, k);
        if (e)
            return e;
        *done += bytes;
    }
    return 0;
}

void zkv_vbatch_clear(zkv_vbatch *b, zkv_vbatch_release_fn fn)
{
    for (size_t i = 0; fn && i < b->n; i++)
        if (b->segs[i].owner)
            fn(b->segs[i].owner);
    b->n = 0;
    b->len = 0;
    b->cur = 0;
    if (b->n_chunks)
        b->chunks[0].used = 0;
}

void zkv_vbatch_free(zkv_vbatch *b, zkv_vbatch_release_fn fn)
{
    zkv_vbatch_clear(b, fn);
    free(b->segs);
    for (size_t i = 0; i < b->n_chunks; i++)
        free(b->chunks[i].data);
    free(b->chunks);
    *b = (zkv_vbatch){0};
}
