/* tail.c: bounded in-memory run of a range's recent log entries (see tail.h).
 *
 * Entries sit in a ring (grown by doubling); their key and value bytes in one buffer
 * addressed by logical offsets that only grow, so evicting the oldest entries never moves
 * anything. When the buffer is full the live bytes are moved to its front (at most the
 * budget, and only after at least as many bytes were appended since the last move: linear
 * overall) and only then grown. */
#include "tail.h"

#include <stdlib.h>
#include <string.h>

void zkv_tail_init(zkv_tail *t, size_t budget)
{
    memset(t, 0, sizeof(*t));
    t->budget = budget;
}

void zkv_tail_free(zkv_tail *t)
{
    free(t->ring);
    free(t->bytes);
    memset(t, 0, sizeof(*t));
}

void zkv_tail_reset(zkv_tail *t, uint64_t next_seq)
{
    t->head = t->n = 0;
    t->base += t->len;
    t->len = 0;
    t->used = 0;
    t->next_seq = next_seq;
}

static zkv_tail_entry *entry(const zkv_tail *t, size_t i)
{
    return &t->ring[(t->head + i) % t->cap];
}

static size_t cost(size_t klen, size_t vlen)
{
    return klen + vlen + ZKV_TAIL_ENTRY_COST;
}

static void drop_oldest(zkv_tail *t)
{
    const zkv_tail_entry *e = entry(t, 0);
    t->used -= cost(e->klen, e->vlen);
    t->head = (t->head + 1) % t->cap;
    t->n--;
    if (t->n == 0) { /* nothing lives in the buffer: start it over */
        t->base += t->len;
        t->len = 0;
    }
}

/* Room for need more bytes at the end of the buffer, which stays within twice the budget
 * (need is at most the budget). */
static int reserve_bytes(zkv_tail *t, size_t need)
{
    if (t->len + need <= t->bcap)
        return 0;
    if (t->n > 0) {
        uint64_t live = entry(t, 0)->off;
        size_t skip = (size_t)(live - t->base);
        /* move when the dead front is at least as large as what stays, or when the buffer
         * may not grow any more */
        if (skip > 0 && (skip >= t->len - skip || t->bcap >= 2 * t->budget)) {
            memmove(t->bytes, t->bytes + skip, t->len - skip);
            t->len -= skip;
            t->base = live;
        }
    }
    if (t->len + need <= t->bcap)
        return 0;
    size_t want = t->len + need;
    size_t ncap = t->bcap ? t->bcap * 2 : 4096;
    while (ncap < want)
        ncap *= 2;
    if (ncap > 2 * t->budget && want <= 2 * t->budget)
        ncap = 2 * t->budget;
    uint8_t *nb = realloc(t->bytes, ncap);
    if (!nb)
        return -1;
    t->bytes = nb;
    t->bcap = ncap;
    return 0;
}

static int reserve_entry(zkv_tail *t)
{
    if (t->n < t->cap)
        return 0;
    size_t ncap = t->cap ? t->cap * 2 : 64;
    zkv_tail_entry *nr = malloc(ncap * sizeof(*nr));
    if (!nr)
        return -1;
    for (size_t i = 0; i < t->n; i++)
        nr[i] = *entry(t, i);
    free(t->ring);
    t->ring = nr;
    t->cap = ncap;
    t->head = 0;
    return 0;
}

int zkv_tail_append(zkv_tail *t, uint64_t seq, uint64_t epoch, zkv_log_op op, const uint8_t *key,
                    size_t klen, const uint8_t *value, size_t vlen, uint64_t expiry_ms,
                    const zkv_write_tag *tag)
{
    if ((t->next_seq != 0 && seq != t->next_seq) || seq == 0)
        return 1;
    if (t->n > 0 && epoch < entry(t, t->n - 1)->epoch)
        return 1;
    if (op != ZKV_LOG_OP_PUT)
        vlen = 0;
    size_t c = cost(klen, vlen);
    if (c > t->budget) {
        zkv_tail_reset(t, seq + 1);
        return 0;
    }
    while (t->n > 0 && t->used + c > t->budget)
        drop_oldest(t);
    if (reserve_entry(t) != 0 || reserve_bytes(t, klen + vlen) != 0) {
        zkv_tail_reset(t, seq);
        return -1;
    }
    zkv_tail_entry *e = &t->ring[(t->head + t->n) % t->cap];
    e->seq = seq;
    e->epoch = epoch;
    e->op = op;
    e->klen = klen;
    e->vlen = vlen;
    e->expiry_ms = op == ZKV_LOG_OP_PUT ? expiry_ms : 0;
    e->tag = tag ? *tag : (zkv_write_tag){0, 0, 0};
    e->off = t->base + t->len;
    if (klen)
        memcpy(t->bytes + t->len, key, klen);
    if (vlen)
        memcpy(t->bytes + t->len + klen, value, vlen);
    t->len += klen + vlen;
    t->used += c;
    t->n++;
    t->next_seq = seq + 1;
    return 0;
}

void zkv_tail_drop_before(zkv_tail *t, uint64_t seq)
{
    while (t->n > 0 && entry(t, 0)->seq < seq)
        drop_oldest(t);
}

uint64_t zkv_tail_first(const zkv_tail *t)
{
    return t->n ? entry(t, 0)->seq : 0;
}

uint64_t zkv_tail_last(const zkv_tail *t)
{
    return t->n ? entry(t, t->n - 1)->seq : 0;
}

const zkv_tail_entry *zkv_tail_at(const zkv_tail *t, uint64_t seq)
{
    if (t->n == 0)
        return NULL;
    uint64_t first = entry(t, 0)->seq;
    if (seq < first || seq - first >= t->n)
        return NULL;
    return entry(t, (size_t)(seq - first)); /* the seqs are consecutive */
}

const uint8_t *zkv_tail_key(const zkv_tail *t, const zkv_tail_entry *e)
{
    return t->bytes + (size_t)(e->off - t->base);
}

const uint8_t *zkv_tail_value(const zkv_tail *t, const zkv_tail_entry *e)
{
    return t->bytes + (size_t)(e->off - t->base) + e->klen;
}

zkv_tail_src zkv_tail_source(bool usable, uint64_t first, uint64_t last, uint64_t stream_next,
                             uint64_t committed)
{
    if (stream_next > committed)
        return ZKV_TAIL_SRC_NONE;
    if (!usable)
        return ZKV_TAIL_SRC_LOG;
    if (first == 0)
        return ZKV_TAIL_SRC_FILL;
    if (stream_next < first)
        return ZKV_TAIL_SRC_LOG;
    if (stream_next <= last)
        return ZKV_TAIL_SRC_TAIL;
    return ZKV_TAIL_SRC_FILL;
}
