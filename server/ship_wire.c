/* ship_wire.c: replication frames by hand (see ship_wire.h). */
#include "ship_wire.h"

#include <stdbool.h>
#include <string.h>

/* ---- APPEND frames by hand ---- */

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* Wire types: 0 varint, 2 length-delimited. A proto3 field without presence is written
 * only when it is not zero (empty for bytes and strings), as protobuf-c does. */
static size_t u64_field_len(uint32_t field, uint64_t v)
{
    return v ? varint_len((uint64_t)field << 3) + varint_len(v) : 0;
}

static size_t bytes_field_len(uint32_t field, size_t len)
{
    return len ? varint_len((uint64_t)field << 3 | 2) + varint_len(len) + len : 0;
}

static uint8_t *put_u64_field(uint8_t *p, uint32_t field, uint64_t v)
{
    if (!v)
        return p;
    p = put_varint(p, (uint64_t)field << 3);
    return put_varint(p, v);
}

static uint8_t *put_bytes_field(uint8_t *p, uint32_t field, const void *data, size_t len)
{
    if (!len)
        return p;
    p = put_varint(p, (uint64_t)field << 3 | 2);
    p = put_varint(p, len);
    memcpy(p, data, len);
    return p + len;
}

static size_t entry_len(const Zkv__LogEntry *e)
{
    return u64_field_len(1, e->seq) + u64_field_len(2, e->epoch) +
           u64_field_len(3, (uint64_t)(uint32_t)e->op) + bytes_field_len(4, e->key.len) +
           bytes_field_len(5, e->value.len) + u64_field_len(6, e->expiry_ms);
}

/* Only the fields an APPEND of the shipper sets; anything else goes to protobuf-c. */
static bool append_shaped(const Zkv__Request *req)
{
    if (req->key.len || req->value.len || req->end_key.len || req->limit || req->flags ||
        req->protocol || req->phase || req->n_items || req->n_history || req->seq ||
        (req->cluster_id && req->cluster_id[0]) || (req->client_name && req->client_name[0]) ||
        (req->node_id && req->node_id[0]) || (int)req->op < 0)
        return false;
    for (size_t i = 0; i < req->n_entries; i++)
        if (!req->entries[i] || (int)req->entries[i]->op < 0)
            return false; /* negative enums are ten-byte varints: leave them to protobuf-c */
    return true;
}

int zkv_wire_append_frame(zkv_buf *out, const Zkv__Request *req)
{
    if (!append_shaped(req))
        return -1;
    size_t rid = req->range_id ? strlen(req->range_id) : 0;
    size_t n = u64_field_len(1, req->id) + u64_field_len(2, (uint64_t)(uint32_t)req->op) +
               u64_field_len(8, req->map_version) + bytes_field_len(16, rid) +
               u64_field_len(17, req->epoch) + u64_field_len(18, req->prev_seq) +
               u64_field_len(19, req->prev_epoch) + u64_field_len(21, req->commit_seq);
    for (size_t i = 0; i < req->n_entries; i++) {
        size_t el = entry_len(req->entries[i]);
        n += varint_len(20u << 3 | 2) + varint_len(el) + el; /* written even when empty */
    }
    if (n > UINT32_MAX || zkv_buf_reserve(out, 4 + n) != 0)
        return -1;
    uint8_t *p = out->data + out->len;
    p[0] = (uint8_t)(n >> 24);
    p[1] = (uint8_t)(n >> 16);
    p[2] = (uint8_t)(n >> 8);
    p[3] = (uint8_t)n;
    p += 4;
    p = put_u64_field(p, 1, req->id);
    p = put_u64_field(p, 2, (uint64_t)(uint32_t)req->op);
    p = put_u64_field(p, 8, req->map_version);
    p = put_bytes_field(p, 16, req->range_id, rid);
    p = put_u64_field(p, 17, req->epoch);
    p = put_u64_field(p, 18, req->prev_seq);
    p = put_u64_field(p, 19, req->prev_epoch);
    for (size_t i = 0; i < req->n_entries; i++) {
        const Zkv__LogEntry *e = req->entries[i];
        p = put_varint(p, 20u << 3 | 2);
        p = put_varint(p, entry_len(e));
        p = put_u64_field(p, 1, e->seq);
        p = put_u64_field(p, 2, e->epoch);
        p = put_u64_field(p, 3, (uint64_t)(uint32_t)e->op);
        p = put_bytes_field(p, 4, e->key.data, e->key.len);
        p = put_bytes_field(p, 5, e->value.data, e->value.len);
        p = put_u64_field(p, 6, e->expiry_ms);
    }
    p = put_u64_field(p, 21, req->commit_seq);
    out->len = (size_t)(p - out->data);
    return 0;
}

/* ---- answers by hand ---- */

/* Reads a varint at *p (< end); 0, or -1 when truncated or longer than ten bytes. */
static int get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 70 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return 0;
        }
    }
    return -1;
}

int zkv_wire_decode_answer(const uint8_t *payload, size_t len, Zkv__Response *resp, char *msg,
                           size_t msglen)
{
    zkv__response__init(resp);
    resp->message = (char *)"";
    if (msglen)
        msg[0] = '\0';
    const uint8_t *p = payload, *end = payload + len;
    while (p < end) {
        uint64_t tag, v;
        if (get_varint(&p, end, &tag) != 0 || tag >> 3 == 0 || tag >> 3 > UINT32_MAX)
            return 0;
        uint32_t field = (uint32_t)(tag >> 3), wt = (uint32_t)(tag & 7);
        bool known = field == 1 || field == 2 || field == 3 || field == 15 || field == 16;
        if (known && wt != (field == 3 ? 2u : 0u))
            return 0;
        switch (wt) {
        case 0:
            if (get_varint(&p, end, &v) != 0)
                return 0;
            if (field == 1)
                resp->id = v;
            else if (field == 2)
                resp->status = (Zkv__Status)(int32_t)v;
            else if (field == 15)
                resp->range_epoch = v;
            else if (field == 16)
                resp->range_seq = v;
            break;
        case 1:
            if ((size_t)(end - p) < 8)
                return 0;
            p += 8;
            break;
        case 5:
            if ((size_t)(end - p) < 4)
                return 0;
            p += 4;
            break;
        case 2:
            if (get_varint(&p, end, &v) != 0 || v > (uint64_t)(end - p))
                return 0;
            if (field == 3) {
                if (memchr(p, 0, (size_t)v))
                    return 0; /* leave odd strings to protobuf-c */
                if (msglen) {
                    size_t n = (size_t)v < msglen - 1 ? (size_t)v : msglen - 1;
                    memcpy(msg, p, n);
                    msg[n] = '\0';
                    resp->message = msg;
                }
            }
            p += v;
            break;
        default:
            return 0; /* groups or nonsense */
        }
    }
    return 1;
}
