/* logbatch.c: see logbatch.h. An array of records plus one byte buffer per batch; both
 * keep their memory across batches, so a steady load allocates nothing. */
#include "logbatch.h"

#include <stdlib.h>
#include <string.h>

void zkv_logbatch_init(zkv_logbatch *b)
{
    memset(b, 0, sizeof(*b));
    zkv_buf_init(&b->bytes);
}

void zkv_logbatch_free(zkv_logbatch *b)
{
    free(b->recs);
    zkv_buf_free(&b->bytes);
    zkv_logbatch_init(b);
}

void zkv_logbatch_clear(zkv_logbatch *b)
{
    b->n = 0;
    b->bytes.len = b->bytes.off = 0;
    b->broken = false;
}

void zkv_logchain_init(zkv_logchain *c)
{
    c->head = c->tail = ZKV_LOGBATCH_NONE;
    c->first = c->last = 0;
}

int zkv_logbatch_add(zkv_logbatch *b, zkv_logchain *c, uint64_t seq, const uint8_t *rec, size_t len)
{
    if (c->first != 0 && seq != c->last + 1)
        zkv_logchain_init(c);
    if (b->n == b->cap) {
        size_t ncap = b->cap ? b->cap * 2 : 256;
        zkv_logbatch_rec *nr =
            ncap < ZKV_LOGBATCH_NONE ? realloc(b->recs, ncap * sizeof(*nr)) : NULL;
        if (!nr) {
            b->broken = true;
            zkv_logchain_init(c);
            return -1;
        }
        b->recs = nr;
        b->cap = ncap;
    }
    size_t off = b->bytes.len;
    if (zkv_buf_append(&b->bytes, rec, len) != 0) {
        b->broken = true;
        zkv_logchain_init(c);
        return -1;
    }
    uint32_t i = (uint32_t)b->n++;
    b->recs[i] = (zkv_logbatch_rec){.seq = seq, .off = off, .len = len, .next = ZKV_LOGBATCH_NONE};
    if (c->first == 0) {
        c->head = i;
        c->first = seq;
    } else {
        b->recs[c->tail].next = i;
    }
    c->tail = i;
    c->last = seq;
    return 0;
}

int zkv_logbatch_walk(const zkv_logbatch *b, const zkv_logchain *c, uint64_t from,
                      zkv_logbatch_fn fn, void *ctx)
{
    if (c->first == 0)
        return 0;
    for (uint32_t i = c->head; i != ZKV_LOGBATCH_NONE; i = b->recs[i].next) {
        const zkv_logbatch_rec *r = &b->recs[i];
        if (r->seq < from)
            continue;
        int rc = fn(ctx, r->seq, b->bytes.data + r->off, r->len);
        if (rc != 0)
            return rc;
    }
    return 0;
}
