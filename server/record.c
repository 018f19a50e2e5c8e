/* record.c: encode/decode of the store's LevelDB keys and records (see record.h and
 * docs/internals.md). Every integer is big-endian so keys sort numerically. Encoders
 * reserve their whole size once and write in place (they run for every write). */
#include "record.h"

#include <stdbool.h>

#include <string.h>

void zkv_put_u64be(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

uint64_t zkv_get_u64be(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

void zkv_put_u32be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

uint32_t zkv_get_u32be(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Appends n bytes to out and returns where they go (NULL: out of memory). */
static uint8_t *take(zkv_buf *out, size_t n)
{
    if (zkv_buf_reserve(out, n) != 0)
        return NULL;
    uint8_t *p = out->data + out->len;
    out->len += n;
    return p;
}

static uint8_t *put_bytes(uint8_t *p, const void *src, size_t n)
{
    if (n)
        memcpy(p, src, n);
    return p + n;
}

int zkv_rec_data_key(zkv_buf *out, const uint8_t *key, size_t klen)
{
    uint8_t *p = take(out, 1 + klen);
    if (!p)
        return -1;
    p[0] = ZKV_REC_DATA_PREFIX;
    put_bytes(p + 1, key, klen);
    return 0;
}

int zkv_rec_data_key_decode(const uint8_t *k, size_t len, const uint8_t **key, size_t *klen)
{
    if (len < 1 || k[0] != ZKV_REC_DATA_PREFIX)
        return -1;
    *key = k + 1;
    *klen = len - 1;
    return 0;
}

static int copy_id(const uint8_t *p, size_t n, char *range_id, size_t idlen)
{
    if (n == 0 || n + 1 > idlen || memchr(p, 0, n) != NULL)
        return -1;
    memcpy(range_id, p, n);
    range_id[n] = '\0';
    return 0;
}

/* prefix + range id + 0x00 + u64be n: log and epoch-history keys. */
static int id_seq_key(zkv_buf *out, uint8_t prefix, const char *range_id, uint64_t n)
{
    size_t idlen = strlen(range_id);
    uint8_t *p = take(out, 1 + idlen + 1 + 8);
    if (!p)
        return -1;
    p[0] = prefix;
    p = put_bytes(p + 1, range_id, idlen);
    p[0] = 0;
    zkv_put_u64be(p + 1, n);
    return 0;
}

static int id_seq_key_decode(const uint8_t *k, size_t len, uint8_t prefix, char *range_id,
                             size_t idlen, uint64_t *n)
{
    if (len < 1 + 1 + 1 + 8 || k[0] != prefix || k[len - 9] != 0)
        return -1;
    if (copy_id(k + 1, len - 10, range_id, idlen) != 0)
        return -1;
    *n = zkv_get_u64be(k + len - 8);
    return 0;
}

int zkv_rec_log_key(zkv_buf *out, const char *range_id, uint64_t seq)
{
    return id_seq_key(out, ZKV_REC_LOG_PREFIX, range_id, seq);
}

int zkv_rec_log_key_decode(const uint8_t *k, size_t len, char *range_id, size_t idlen,
                           uint64_t *seq)
{
    return id_seq_key_decode(k, len, ZKV_REC_LOG_PREFIX, range_id, idlen, seq);
}

int zkv_rec_epoch_key(zkv_buf *out, const char *range_id, uint64_t epoch)
{
    return id_seq_key(out, ZKV_REC_EPOCH_PREFIX, range_id, epoch);
}

int zkv_rec_epoch_key_decode(const uint8_t *k, size_t len, char *range_id, size_t idlen,
                             uint64_t *epoch)
{
    return id_seq_key_decode(k, len, ZKV_REC_EPOCH_PREFIX, range_id, idlen, epoch);
}

/* prefix + range id: the keys with one record per range (snapshot marker, range state). */
static int id_key(zkv_buf *out, uint8_t prefix, const char *range_id)
{
    size_t idlen = strlen(range_id);
    uint8_t *p = take(out, 1 + idlen);
    if (!p)
        return -1;
    p[0] = prefix;
    put_bytes(p + 1, range_id, idlen);
    return 0;
}

static int id_key_decode(const uint8_t *k, size_t len, uint8_t prefix, char *range_id, size_t idlen)
{
    if (len < 2 || k[0] != prefix)
        return -1;
    return copy_id(k + 1, len - 1, range_id, idlen);
}

int zkv_rec_snap_key(zkv_buf *out, const char *range_id)
{
    return id_key(out, ZKV_REC_SNAP_PREFIX, range_id);
}

int zkv_rec_snap_key_decode(const uint8_t *k, size_t len, char *range_id, size_t idlen)
{
    return id_key_decode(k, len, ZKV_REC_SNAP_PREFIX, range_id, idlen);
}

int zkv_rec_u64_encode(zkv_buf *out, uint64_t v)
{
    uint8_t *p = take(out, 8);
    if (!p)
        return -1;
    zkv_put_u64be(p, v);
    return 0;
}

int zkv_rec_u64_decode(const uint8_t *rec, size_t len, uint64_t *out)
{
    if (len != 8)
        return -1;
    *out = zkv_get_u64be(rec);
    return 0;
}

int zkv_rec_range_key(zkv_buf *out, const char *range_id)
{
    return id_key(out, ZKV_REC_RANGE_PREFIX, range_id);
}

int zkv_rec_range_key_decode(const uint8_t *k, size_t len, char *range_id, size_t idlen)
{
    return id_key_decode(k, len, ZKV_REC_RANGE_PREFIX, range_id, idlen);
}

/* Writes a value record (ZKV_REC_VALUE_HDR + vlen bytes) at p. */
static void value_write(uint8_t *p, const zkv_value_meta *m, const uint8_t *value, size_t vlen)
{
    p[0] = (m->flags & ZKV_VALUE_INDIRECT) ? ZKV_REC_FORMAT_INDIRECT : ZKV_REC_FORMAT;
    p[1] = (uint8_t)(m->flags & ~ZKV_VALUE_INDIRECT);
    zkv_put_u64be(p + 2, m->epoch);
    zkv_put_u64be(p + 10, m->seq);
    zkv_put_u64be(p + 18, m->expiry_ms);
    put_bytes(p + ZKV_REC_VALUE_HDR, value, vlen);
}

void zkv_rec_value_head(uint8_t out[ZKV_REC_VALUE_HDR], const zkv_value_meta *m)
{
    value_write(out, m, NULL, 0);
}

int zkv_rec_value_encode(zkv_buf *out, const zkv_value_meta *m, const uint8_t *value, size_t vlen)
{
    uint8_t *p = take(out, ZKV_REC_VALUE_HDR + vlen);
    if (!p)
        return -1;
    value_write(p, m, value, vlen);
    return 0;
}

int zkv_rec_value_decode(const uint8_t *rec, size_t len, zkv_value_view *out)
{
    if (len < ZKV_REC_VALUE_HDR ||
        (rec[0] != ZKV_REC_FORMAT && rec[0] != ZKV_REC_FORMAT_INDIRECT) ||
        (rec[1] & ZKV_VALUE_INDIRECT))
        return -1;
    bool indirect = rec[0] == ZKV_REC_FORMAT_INDIRECT;
    if (indirect && len != ZKV_REC_VALUE_HDR + ZKV_REC_VPTR_LEN)
        return -1;
    out->meta.flags = (uint8_t)(rec[1] | (indirect ? ZKV_VALUE_INDIRECT : 0));
    out->meta.epoch = zkv_get_u64be(rec + 2);
    out->meta.seq = zkv_get_u64be(rec + 10);
    out->meta.expiry_ms = zkv_get_u64be(rec + 18);
    out->value = rec + ZKV_REC_VALUE_HDR;
    out->value_len = len - ZKV_REC_VALUE_HDR;
    return 0;
}

void zkv_rec_vptr_encode(uint8_t out[ZKV_REC_VPTR_LEN], const zkv_vptr *p)
{
    zkv_put_u32be(out, p->file);
    zkv_put_u64be(out + 4, p->off);
    zkv_put_u32be(out + 12, p->rec_len);
    zkv_put_u32be(out + 16, p->vlen);
}

int zkv_rec_vptr_decode(const uint8_t *p, size_t len, zkv_vptr *out)
{
    if (len != ZKV_REC_VPTR_LEN)
        return -1;
    out->file = zkv_get_u32be(p);
    out->off = zkv_get_u64be(p + 4);
    out->rec_len = zkv_get_u32be(p + 12);
    out->vlen = zkv_get_u32be(p + 16);
    return 0;
}

int zkv_rec_log_encode(zkv_buf *out, zkv_log_op op, uint64_t epoch, const zkv_write_tag *tag,
                       const uint8_t *key, size_t klen, const zkv_value_meta *m,
                       const uint8_t *value, size_t vlen)
{
    if (klen > UINT32_MAX || (op != ZKV_LOG_OP_PUT && op != ZKV_LOG_OP_DELETE))
        return -1;
    bool tagged = tag && (tag->client_id || tag->client_seq);
    bool batch = tag && tag->batch_end;
    size_t head = 1 + 8 + (tagged ? 16 : 0) + (batch ? 8 : 0) + 4;
    size_t need = head + klen + (op == ZKV_LOG_OP_PUT ? ZKV_REC_VALUE_HDR + vlen : 0);
    uint8_t *p = take(out, need);
    if (!p)
        return -1;
    p[0] = (uint8_t)(op | (tagged ? ZKV_REC_LOG_TAGGED : 0) | (batch ? ZKV_REC_LOG_BATCH : 0));
    zkv_put_u64be(p + 1, epoch);
    size_t at = 9;
    if (tagged) {
        zkv_put_u64be(p + at, tag->client_id);
        zkv_put_u64be(p + at + 8, tag->client_seq);
        at += 16;
    }
    if (batch)
        zkv_put_u64be(p + at, tag->batch_end);
    zkv_put_u32be(p + head - 4, (uint32_t)klen);
    p = put_bytes(p + head, key, klen);
    if (op == ZKV_LOG_OP_PUT)
        value_write(p, m, value, vlen);
    return 0;
}

int zkv_rec_log_decode(const uint8_t *rec, size_t len, zkv_log_view *out)
{
    memset(out, 0, sizeof(*out));
    if (len < 13)
        return -1;
    uint8_t op = rec[0] & (uint8_t) ~(ZKV_REC_LOG_TAGGED | ZKV_REC_LOG_BATCH);
    bool tagged = (rec[0] & ZKV_REC_LOG_TAGGED) != 0;
    bool batch = (rec[0] & ZKV_REC_LOG_BATCH) != 0;
    if (op != ZKV_LOG_OP_PUT && op != ZKV_LOG_OP_DELETE)
        return -1;
    size_t head = 13 + (tagged ? 16 : 0) + (batch ? 8 : 0);
    if (len < head)
        return -1;
    out->op = (zkv_log_op)op;
    out->epoch = zkv_get_u64be(rec + 1);
    size_t at = 9;
    if (tagged) {
        out->tag.client_id = zkv_get_u64be(rec + at);
        out->tag.client_seq = zkv_get_u64be(rec + at + 8);
        at += 16;
    }
    if (batch)
        out->tag.batch_end = zkv_get_u64be(rec + at);
    size_t klen = zkv_get_u32be(rec + head - 4);
    if (klen > len - head)
        return -1;
    out->key = rec + head;
    out->key_len = klen;
    const uint8_t *rest = rec + head + klen;
    size_t rest_len = len - head - klen;
    if (op == ZKV_LOG_OP_DELETE)
        return rest_len == 0 ? 0 : -1;
    return zkv_rec_value_decode(rest, rest_len, &out->value);
}

int zkv_rec_range_state_encode(zkv_buf *out, const zkv_range_state_rec *st)
{
    uint8_t *p = take(out, ZKV_REC_RANGE_STATE_LEN);
    if (!p)
        return -1;
    zkv_put_u64be(p, st->epoch);
    zkv_put_u64be(p + 8, st->last_seq);
    return 0;
}

int zkv_rec_range_state_decode(const uint8_t *rec, size_t len, zkv_range_state_rec *out)
{
    if (len != ZKV_REC_RANGE_STATE_LEN)
        return -1;
    out->epoch = zkv_get_u64be(rec);
    out->last_seq = zkv_get_u64be(rec + 8);
    return 0;
}

int zkv_rec_chunk_append(zkv_buf *out, const uint8_t *rec, size_t len)
{
    if (len > UINT32_MAX)
        return -1;
    uint8_t hdr[ZKV_REC_LOG_CHUNK_HDR] = {ZKV_REC_LOG_CHUNK};
    uint8_t l[4];
    zkv_put_u32be(l, (uint32_t)len);
    if (out->len == 0 && zkv_buf_append(out, hdr, sizeof hdr) != 0)
        return -1;
    return zkv_buf_append(out, l, sizeof l) != 0 || zkv_buf_append(out, rec, len) != 0 ? -1 : 0;
}

const uint8_t *zkv_rec_chunk_finish(zkv_buf *b, uint64_t first, uint64_t last, size_t *len)
{
    if (first == last) { /* one entry: without the chunk's framing */
        *len = b->len - (ZKV_REC_LOG_CHUNK_HDR + 4);
        return b->data + ZKV_REC_LOG_CHUNK_HDR + 4;
    }
    zkv_put_u64be(b->data + 1, last);
    *len = b->len;
    return b->data;
}

static bool is_chunk(const uint8_t *v, size_t vlen)
{
    return vlen > 0 && v[0] == ZKV_REC_LOG_CHUNK;
}

int zkv_rec_log_value_last(const uint8_t *v, size_t vlen, uint64_t key_seq, uint64_t *last)
{
    if (!is_chunk(v, vlen)) {
        *last = key_seq;
        return vlen > 0 ? 0 : -1;
    }
    if (vlen < ZKV_REC_LOG_CHUNK_HDR)
        return -1;
    *last = zkv_get_u64be(v + 1);
    return *last >= key_seq ? 0 : -1;
}

int zkv_rec_log_value_walk(const uint8_t *v, size_t vlen, uint64_t key_seq, zkv_rec_entry_fn fn,
                           void *ctx)
{
    if (!is_chunk(v, vlen))
        return vlen > 0 ? fn(ctx, key_seq, v, vlen) : -1;
    uint64_t last;
    if (zkv_rec_log_value_last(v, vlen, key_seq, &last) != 0)
        return -1;
    /* the count and the lengths are checked before fn sees anything */
    size_t at = ZKV_REC_LOG_CHUNK_HDR;
    uint64_t n = 0;
    while (at < vlen) {
        if (vlen - at < 4)
            return -1;
        size_t len = zkv_get_u32be(v + at);
        if (len == 0 || vlen - at - 4 < len)
            return -1;
        at += 4 + len;
        n++;
    }
    if (n == 0 || n != last - key_seq + 1)
        return -1;
    at = ZKV_REC_LOG_CHUNK_HDR;
    for (uint64_t seq = key_seq; seq <= last; seq++) {
        size_t len = zkv_get_u32be(v + at);
        int rc = fn(ctx, seq, v + at + 4, len);
        if (rc != 0)
            return rc;
        at += 4 + len;
    }
    return 0;
}
