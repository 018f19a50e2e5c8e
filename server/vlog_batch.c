/* vlog_batch.c: the value log's batch of owned and referred pieces (see vlog_batch.h). */
#include "vlog_batch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#define MAX_IOV 1024 /* pieces a pwritev takes (Linux's IOV_MAX) */

struct zkv_vseg {
    size_t pos; /* where it starts in the batch */
    size_t len;
    const uint8_t *p; /* referred bytes; NULL: owned, at own.data + off */
    size_t off;
    void *owner;
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

uint8_t *zkv_vbatch_reserve(zkv_vbatch *b, size_t n)
{
    if (zkv_buf_reserve(&b->own, n) != 0)
        return NULL;
    zkv_vseg *last = b->n ? &b->segs[b->n - 1] : NULL;
    if (last && !last->p && last->off + last->len == b->own.len)
        last->len += n;
    else if (push(b, (zkv_vseg){.pos = b->len, .len = n, .off = b->own.len}) != 0)
        return NULL;
    uint8_t *at = b->own.data + b->own.len;
    b->own.len += n;
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

static const uint8_t *seg_bytes(const zkv_vbatch *b, const zkv_vseg *s)
{
    return s->p ? s->p : b->own.data + s->off;
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
        memcpy(dst, seg_bytes(b, s) + in, k);
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
    return from + n <= s->pos + s->len ? seg_bytes(b, s) + (from - s->pos) : NULL;
}

int zkv_vbatch_write(const zkv_vbatch *b, int fd, off_t at, size_t *done)
{
    struct iovec iov[MAX_IOV];
    *done = 0;
    while (*done < b->len) {
        int k = 0;
        for (size_t i = seg_at(b, *done), from = *done; i < b->n && k < MAX_IOV; i++, k++) {
            const zkv_vseg *s = &b->segs[i];
            size_t in = from > s->pos ? from - s->pos : 0;
            iov[k].iov_base = (void *)(seg_bytes(b, s) + in); // NOLINT: pwritev only reads
            iov[k].iov_len = s->len - in;
        }
        ssize_t w = pwritev(fd, iov, k, at + (off_t)*done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? errno : EIO;
        *done += (size_t)w;
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
    b->own.len = b->own.off = 0;
}

void zkv_vbatch_free(zkv_vbatch *b, zkv_vbatch_release_fn fn)
{
    zkv_vbatch_clear(b, fn);
    free(b->segs);
    b->segs = NULL;
    b->cap = 0;
    zkv_buf_free(&b->own);
}
