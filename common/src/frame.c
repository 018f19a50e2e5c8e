/* frame.c: length-prefixed framing of the wire protocol. The parser never allocates and
 * never touches a socket, so it is tested by feeding it bytes; a too-large frame is
 * reported with its declared length so the caller can skip it without buffering it.
 * Packing goes straight into the caller's zkv_buf after a 4-byte big-endian header.
 *
 * Hot path: a Response without repeated fields (every answer but SCAN and RANGE_STATUS)
 * is encoded by hand in one walk, byte for byte what protobuf-c writes (fields in number
 * order, proto3 defaults left out); a Request made only of scalar and bytes fields (GET,
 * PUT, DELETE) is decoded by hand with its bytes pointing into the payload. Everything
 * else, and anything unusual (strings, repeated or unknown fields, a field seen twice,
 * odd varints), goes to protobuf-c. */
#include "common/frame.h"

#include <stdbool.h>
#include <string.h>

zkv_frame_result zkv_frame_parse(const uint8_t *buf, size_t len, size_t max_payload,
                                 const uint8_t **payload, size_t *payload_len, size_t *consumed)
{
    if (len < ZKV_FRAME_HEADER_LEN)
        return ZKV_FRAME_NEED_MORE;
    size_t plen =
        ((size_t)buf[0] << 24) | ((size_t)buf[1] << 16) | ((size_t)buf[2] << 8) | (size_t)buf[3];
    if (plen > max_payload) {
        if (payload)
            *payload = buf + ZKV_FRAME_HEADER_LEN;
        if (payload_len)
            *payload_len = plen;
        if (consumed)
            *consumed = ZKV_FRAME_HEADER_LEN;
        return ZKV_FRAME_TOO_LARGE;
    }
    if (len - ZKV_FRAME_HEADER_LEN < plen)
        return ZKV_FRAME_NEED_MORE;
    if (payload)
        *payload = buf + ZKV_FRAME_HEADER_LEN;
    if (payload_len)
        *payload_len = plen;
    if (consumed)
        *consumed = ZKV_FRAME_HEADER_LEN + plen;
    return ZKV_FRAME_OK;
}

void zkv_frame_put_header(uint8_t hdr[ZKV_FRAME_HEADER_LEN], uint32_t len)
{
    hdr[0] = (uint8_t)(len >> 24);
    hdr[1] = (uint8_t)(len >> 16);
    hdr[2] = (uint8_t)(len >> 8);
    hdr[3] = (uint8_t)len;
}

int zkv_frame_peek_id(const uint8_t *payload, size_t len, uint64_t *id)
{
    /* Field 1, wire type 0 (varint): tag byte 0x08. */
    if (!payload || len < 2 || payload[0] != 0x08)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < 10; i++) {
        if (1 + i >= len)
            return -1;
        uint8_t b = payload[1 + i];
        if (i == 9 && b > 1)
            return -1; /* would overflow 64 bits */
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            if (id)
                *id = v;
            return 0;
        }
    }
    return -1;
}

/* Packs a message of packed size n with pack() after a header into out. */
static int append_packed(zkv_buf *out, size_t n, size_t (*pack)(const void *, uint8_t *),
                         const void *msg)
{
    if (n > UINT32_MAX)
        return -1;
    if (zkv_buf_reserve(out, ZKV_FRAME_HEADER_LEN + n) != 0)
        return -1;
    uint8_t *p = out->data + out->len;
    zkv_frame_put_header(p, (uint32_t)n);
    size_t w = pack(msg, p + ZKV_FRAME_HEADER_LEN);
    if (w != n)
        return -1;
    out->len += ZKV_FRAME_HEADER_LEN + n;
    return 0;
}

static size_t pack_request(const void *m, uint8_t *out)
{
    return zkv__request__pack((const Zkv__Request *)m, out);
}

static size_t pack_response(const void *m, uint8_t *out)
{
    return zkv__response__pack((const Zkv__Response *)m, out);
}

int zkv_frame_append_request(zkv_buf *out, const Zkv__Request *req)
{
    if (!out || !req)
        return -1;
    return append_packed(out, zkv__request__get_packed_size(req), pack_request, req);
}

/* ---- hand-made Response encoder ---- */

#define VARINT_MAX 10u

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* Tag of field n with wire type wt (n < 2048: at most 2 bytes). */
static uint8_t *put_tag(uint8_t *p, unsigned n, unsigned wt)
{
    return put_varint(p, ((uint64_t)n << 3) | wt);
}

static uint8_t *put_u64_field(uint8_t *p, unsigned n, uint64_t v)
{
    if (v == 0)
        return p;
    return put_varint(put_tag(p, n, 0), v);
}

static uint8_t *put_bool_field(uint8_t *p, unsigned n, protobuf_c_boolean v)
{
    if (!v)
        return p;
    p = put_tag(p, n, 0);
    *p++ = 1;
    return p;
}

static uint8_t *put_bytes_field(uint8_t *p, unsigned n, const uint8_t *data, size_t len)
{
    if (len == 0)
        return p;
    p = put_varint(put_tag(p, n, 2), len);
    memcpy(p, data, len);
    return p + len;
}

static size_t str_len(const char *s)
{
    return s ? strlen(s) : 0;
}

/* The fast path takes responses without repeated or unknown fields and a status >= 0
 * (protobuf-c writes a negative enum as a 10-byte varint; none is defined). */
static bool response_is_simple(const Zkv__Response *r)
{
    return r->n_items == 0 && r->n_replicas == 0 && r->base.n_unknown_fields == 0 &&
           (int)r->status >= 0;
}

int zkv_frame_append_response(zkv_buf *out, const Zkv__Response *resp)
{
    if (!out || !resp)
        return -1;
    if (!response_is_simple(resp))
        return append_packed(out, zkv__response__get_packed_size(resp), pack_response, resp);
    size_t lmsg = str_len(resp->message), lnode = str_len(resp->node_id),
           lclu = str_len(resp->cluster_id), lrange = str_len(resp->range_id);
    /* Upper bound: 12 varint fields, 3 bools, 6 length-delimited fields, 2-byte tags. */
    size_t bound = 12u * (2u + VARINT_MAX) + 3u * 3u + 6u * (2u + VARINT_MAX) + lmsg +
                   resp->value.len + resp->next_key.len + lnode + lclu + lrange;
    if (zkv_buf_reserve(out, ZKV_FRAME_HEADER_LEN + bound) != 0)
        return -1;
    uint8_t *start = out->data + out->len;
    uint8_t *p = start + ZKV_FRAME_HEADER_LEN;
    p = put_u64_field(p, 1, resp->id);
    p = put_u64_field(p, 2, (uint64_t)resp->status);
    p = put_bytes_field(p, 3, (const uint8_t *)resp->message, lmsg);
    p = put_bytes_field(p, 4, resp->value.data, resp->value.len);
    p = put_u64_field(p, 5, resp->epoch);
    p = put_u64_field(p, 6, resp->seq);
    p = put_u64_field(p, 7, resp->map_version);
    p = put_bool_field(p, 9, resp->more);
    p = put_bytes_field(p, 10, resp->next_key.data, resp->next_key.len);
    p = put_bytes_field(p, 11, (const uint8_t *)resp->node_id, lnode);
    p = put_bool_field(p, 12, resp->stale);
    p = put_bytes_field(p, 13, (const uint8_t *)resp->cluster_id, lclu);
    p = put_bytes_field(p, 14, (const uint8_t *)resp->range_id, lrange);
    p = put_u64_field(p, 15, resp->range_epoch);
    p = put_u64_field(p, 16, resp->range_seq);
    p = put_bool_field(p, 18, resp->owner);
    size_t n = (size_t)(p - start) - ZKV_FRAME_HEADER_LEN;
    if (n > UINT32_MAX)
        return -1;
    zkv_frame_put_header(start, (uint32_t)n);
    out->len += ZKV_FRAME_HEADER_LEN + n;
    return 0;
}

/* ---- hand-made Request decoder ---- */

/* Reads a varint of at most 10 bytes (the 10th at most 1). Returns bytes read, 0 if bad. */
static size_t get_varint(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
    if (p < end && p[0] < 0x80) {
        *v = p[0]; /* the common case: one byte */
        return 1;
    }
    uint64_t r = 0;
    for (size_t i = 0; i < VARINT_MAX && p + i < end; i++) {
        uint8_t b = p[i];
        if (i == 9 && b > 1)
            return 0;
        r |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = r;
            return i + 1;
        }
    }
    return 0;
}

int zkv_frame_decode_request_fast(const uint8_t *payload, size_t len, Zkv__Request *req)
{
    zkv__request__init(req);
    if (len == 0)
        return 1; /* every field at its default, as protobuf-c decodes it */
    if (!payload)
        return 0;
    const uint8_t *p = payload, *end = payload + len;
    uint32_t seen = 0;
    while (p < end) {
        uint64_t tag, v;
        size_t n = get_varint(p, end, &tag);
        if (n == 0 || tag > 0xff)
            return 0;
        p += n;
        unsigned field = (unsigned)(tag >> 3), wt = (unsigned)(tag & 7);
        if (field >= 32 || (seen & (1u << field)))
            return 0; /* a field twice: protobuf-c's rules (last wins, merges) apply */
        seen |= 1u << field;
        switch (field) {
        case 1:
        case 2:
        case 6:
        case 8:
        case 9:
        case 11: /* varints */
            if (wt != 0 || (n = get_varint(p, end, &v)) == 0)
                return 0;
            p += n;
            if (field == 1) {
                req->id = v;
            } else if (field == 8) {
                req->map_version = v;
            } else {
                /* 32-bit fields: protobuf-c keeps the low bits of longer varints; leave
                 * those (and negative enums) to it. */
                if (v > INT32_MAX || n > 5)
                    return 0;
                if (field == 2)
                    req->op = (Zkv__Op)v;
                else if (field == 6)
                    req->limit = (uint32_t)v;
                else if (field == 9)
                    req->flags = (uint32_t)v;
                else
                    req->protocol = (uint32_t)v;
            }
            break;
        case 3:
        case 4:
        case 5: { /* bytes */
            if (wt != 2 || (n = get_varint(p, end, &v)) == 0)
                return 0;
            p += n;
            if (v > (uint64_t)(end - p))
                return 0;
            ProtobufCBinaryData *b = field == 3   ? &req->key
                                     : field == 4 ? &req->value
                                                  : &req->end_key;
            b->len = (size_t)v;
            b->data = v ? (uint8_t *)p : NULL;
            p += v;
            break;
        }
        default:
            return 0; /* strings, replication fields, unknown fields */
        }
    }
    return 1;
}

size_t zkv_frame_max_request(size_t max_key, size_t max_value)
{
    return max_key + max_value + ZKV_FRAME_SLACK;
}

const char *zkv_status_name(int status)
{
    switch (status) {
    case ZKV__STATUS__OK:
        return "OK";
    case ZKV__STATUS__NOT_FOUND:
        return "NOT_FOUND";
    case ZKV__STATUS__NOT_OWNER:
        return "NOT_OWNER";
    case ZKV__STATUS__UNAVAILABLE:
        return "UNAVAILABLE";
    case ZKV__STATUS__TOO_LARGE:
        return "TOO_LARGE";
    case ZKV__STATUS__BAD_REQUEST:
        return "BAD_REQUEST";
    case ZKV__STATUS__TIMEOUT:
        return "TIMEOUT";
    case ZKV__STATUS__INTERNAL:
        return "INTERNAL";
    default:
        return "UNKNOWN";
    }
}
