/* frame.c: length-prefixed framing of the wire protocol. The parser never allocates and
 * never touches a socket, so it is tested by feeding it bytes; a too-large frame is
 * reported with its declared length so the caller can skip it without buffering it.
 * Packing goes straight into the caller's zkv_buf after a 4-byte big-endian header.
 *
 * Hot path: a message without repeated fields (every answer but SCAN and RANGE_STATUS,
 * every request but APPEND and SNAPSHOT chunks) is encoded by hand in one walk, byte for
 * byte what protobuf-c writes (fields in number order, proto3 defaults left out); a
 * Request made only of scalar and bytes fields (GET, PUT, DELETE) and a Response made
 * only of scalar and bytes fields (their OK and NOT_FOUND answers) are decoded by hand,
 * by one table-driven decoder, with their bytes pointing into the payload. Everything
 * else, and anything unusual (strings, repeated or unknown fields, a field seen twice,
 * odd varints), goes to protobuf-c. */
#include "common/frame.h"

#include <stdbool.h>
#include <stddef.h>
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

/* Room for n fields around payload bytes of data: a tag (at most 2 bytes, fields < 2048)
 * and a varint each. */
static size_t fields_bound(size_t n, size_t data)
{
    return n * (2u + VARINT_MAX) + data;
}

/* Reserves a frame of at most bound payload bytes at the end of out; returns where the
 * payload goes (NULL on ENOMEM). finish_frame closes it at p, its length counting
 * spliced_len more bytes that the caller sends after it. */
static uint8_t *begin_frame(zkv_buf *out, size_t bound)
{
    if (zkv_buf_reserve(out, ZKV_FRAME_HEADER_LEN + bound) != 0)
        return NULL;
    return out->data + out->len + ZKV_FRAME_HEADER_LEN;
}

static int finish_frame(zkv_buf *out, const uint8_t *p, size_t spliced_len)
{
    uint8_t *start = out->data + out->len;
    size_t n = (size_t)(p - start) - ZKV_FRAME_HEADER_LEN;
    if (spliced_len > UINT32_MAX || n > UINT32_MAX - spliced_len)
        return -1;
    zkv_frame_put_header(start, (uint32_t)(n + spliced_len));
    out->len += ZKV_FRAME_HEADER_LEN + n;
    return 0;
}

/* The fast paths take messages without repeated or unknown fields and enums >= 0
 * (protobuf-c writes a negative enum as a 10-byte varint; none is defined). */
static bool response_is_simple(const Zkv__Response *r)
{
    return r->n_items == 0 && r->n_replicas == 0 && r->base.n_unknown_fields == 0 &&
           (int)r->status >= 0 && str_len(r->info) == 0; /* INFO: rare, protobuf-c's */
}

static bool request_is_simple(const Zkv__Request *r)
{
    return r->n_entries == 0 && r->n_items == 0 && r->n_history == 0 && r->n_writes == 0 &&
           r->base.n_unknown_fields == 0 && (int)r->op >= 0 && (int)r->phase >= 0 &&
           (int)r->condition >= 0 &&
           str_len(r->auth) == 0; /* a credential: a HELLO, rare, protobuf-c's */
}

/* The hand-written encoding of a simple resp. spliced_len > 0: the value field comes last
 * and only its tag and length are written; the frame counts the spliced_len bytes the
 * caller sends after these (resp->value is ignored). Protobuf takes fields in any order. */
static int append_simple_response(zkv_buf *out, const Zkv__Response *resp, size_t spliced_len)
{
    size_t lmsg = str_len(resp->message), lnode = str_len(resp->node_id),
           lclu = str_len(resp->cluster_id), lrange = str_len(resp->range_id);
    size_t lval = spliced_len ? 0 : resp->value.len;
    uint8_t *p = begin_frame(
        out, fields_bound(21, lmsg + lval + resp->next_key.len + lnode + lclu + lrange));
    if (!p)
        return -1;
    p = put_u64_field(p, 1, resp->id);
    p = put_u64_field(p, 2, (uint64_t)resp->status);
    p = put_bytes_field(p, 3, (const uint8_t *)resp->message, lmsg);
    p = put_bytes_field(p, 4, resp->value.data, lval);
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
    p = put_u64_field(p, 19, resp->ttl_ms);
    p = put_u64_field(p, 20, resp->lag_ms);
    p = put_u64_field(p, 21, resp->lag_entries);
    if (spliced_len)
        p = put_varint(put_tag(p, 4, 2), spliced_len);
    return finish_frame(out, p, spliced_len);
}

int zkv_frame_append_response(zkv_buf *out, const Zkv__Response *resp)
{
    if (!out || !resp)
        return -1;
    if (!response_is_simple(resp))
        return append_packed(out, zkv__response__get_packed_size(resp), pack_response, resp);
    return append_simple_response(out, resp, 0);
}

int zkv_frame_append_response_head(zkv_buf *out, const Zkv__Response *resp, size_t value_len)
{
    if (!out || !resp || value_len == 0 || !response_is_simple(resp))
        return -1;
    return append_simple_response(out, resp, value_len);
}

int zkv_frame_append_request(zkv_buf *out, const Zkv__Request *req)
{
    if (!out || !req)
        return -1;
    if (!request_is_simple(req))
        return append_packed(out, zkv__request__get_packed_size(req), pack_request, req);
    size_t lclu = str_len(req->cluster_id), lname = str_len(req->client_name),
           lrange = str_len(req->range_id), lnode = str_len(req->node_id);
    uint8_t *p =
        begin_frame(out, fields_bound(40, req->key.len + req->value.len + req->end_key.len + lclu +
                                              lname + lrange + lnode));
    if (!p)
        return -1;
    p = put_u64_field(p, 1, req->id);
    p = put_u64_field(p, 2, (uint64_t)req->op);
    p = put_bytes_field(p, 3, req->key.data, req->key.len);
    p = put_bytes_field(p, 4, req->value.data, req->value.len);
    p = put_bytes_field(p, 5, req->end_key.data, req->end_key.len);
    p = put_u64_field(p, 6, req->limit);
    p = put_bytes_field(p, 7, (const uint8_t *)req->cluster_id, lclu);
    p = put_u64_field(p, 8, req->map_version);
    p = put_u64_field(p, 9, req->flags);
    p = put_bytes_field(p, 10, (const uint8_t *)req->client_name, lname);
    p = put_u64_field(p, 11, req->protocol);
    if (lrange || lnode || req->epoch || req->prev_seq || req->prev_epoch || req->commit_seq ||
        req->phase || req->seq) { /* the replication fields, rare from clients */
        p = put_bytes_field(p, 16, (const uint8_t *)req->range_id, lrange);
        const uint64_t mid[] = {
            req->epoch, req->prev_seq, req->prev_epoch, 0, req->commit_seq, (uint64_t)req->phase, 0,
            0,          req->seq};
        for (unsigned i = 0; i < sizeof mid / sizeof mid[0]; i++)
            p = put_u64_field(p, 17 + i, mid[i]); /* 20, 23, 24: repeated, empty here */
        p = put_bytes_field(p, 26, (const uint8_t *)req->node_id, lnode);
    }
    /* 27, auth: never here (not simple); then a conditional write's fields */
    const uint64_t cond[] = {(uint64_t)req->condition, req->if_epoch, req->if_seq, req->client_id,
                             req->client_seq};
    for (unsigned i = 0; i < sizeof cond / sizeof cond[0]; i++)
        p = put_u64_field(p, 28 + i, cond[i]);
    /* 33, writes: never here (not simple); then a scan's flags */
    p = put_bool_field(p, 34, req->reverse);
    p = put_bool_field(p, 35, req->keys_only);
    p = put_u64_field(p, 36, req->ttl_ms);
    p = put_u64_field(p, 37, req->owner_time_ms);
    p = put_u64_field(p, 38, req->max_lag_ms);
    p = put_u64_field(p, 39, req->max_lag_entries);
    p = put_u64_field(p, 40, req->head_seq);
    return finish_frame(out, p, 0);
}

/* ---- hand-made decoders (Request on the server, Response on the client) ---- */

/* How the fast decoders take a field (by number, below 32); anything else declines. */
typedef enum {
    FK_NONE = 0, /* strings, repeated, replication and unknown fields: protobuf-c's */
    FK_U64,      /* uint64 */
    FK_32,       /* uint32 or enum: only 0..INT32_MAX in at most 5 bytes */
    FK_BOOL,     /* bool: only 0 or 1 in one byte */
    FK_BYTES,    /* bytes: a ProtobufCBinaryData pointing into the payload */
} field_kind;

typedef struct {
    uint8_t kind;
    uint16_t off; /* offsetof the member */
} field_desc;

_Static_assert(sizeof(Zkv__Op) == sizeof(uint32_t) && sizeof(Zkv__Status) == sizeof(uint32_t),
               "enums are int-sized (protobuf-c forces it)");

#define FIELD(k, type, m)                                                                          \
    {                                                                                              \
        (k), (uint16_t)offsetof(type, m)                                                           \
    }

static const field_desc request_fields[32] = {
    [1] = FIELD(FK_U64, Zkv__Request, id),          [2] = FIELD(FK_32, Zkv__Request, op),
    [3] = FIELD(FK_BYTES, Zkv__Request, key),       [4] = FIELD(FK_BYTES, Zkv__Request, value),
    [5] = FIELD(FK_BYTES, Zkv__Request, end_key),   [6] = FIELD(FK_32, Zkv__Request, limit),
    [8] = FIELD(FK_U64, Zkv__Request, map_version), [9] = FIELD(FK_32, Zkv__Request, flags),
    [11] = FIELD(FK_32, Zkv__Request, protocol),
};

static const field_desc response_fields[32] = {
    [1] = FIELD(FK_U64, Zkv__Response, id),
    [2] = FIELD(FK_32, Zkv__Response, status),
    [4] = FIELD(FK_BYTES, Zkv__Response, value),
    [5] = FIELD(FK_U64, Zkv__Response, epoch),
    [6] = FIELD(FK_U64, Zkv__Response, seq),
    [7] = FIELD(FK_U64, Zkv__Response, map_version),
    [9] = FIELD(FK_BOOL, Zkv__Response, more),
    [10] = FIELD(FK_BYTES, Zkv__Response, next_key),
    [12] = FIELD(FK_BOOL, Zkv__Response, stale),
    [15] = FIELD(FK_U64, Zkv__Response, range_epoch),
    [16] = FIELD(FK_U64, Zkv__Response, range_seq),
    [18] = FIELD(FK_BOOL, Zkv__Response, owner),
    [19] = FIELD(FK_U64, Zkv__Response, ttl_ms),
    [20] = FIELD(FK_U64, Zkv__Response, lag_ms),
    [21] = FIELD(FK_U64, Zkv__Response, lag_entries),
};

/* Decodes payload into msg (already initialised) by fields[]. 1 when decoded, 0 when it
 * needs protobuf-c: a field not in fields[], a field twice (protobuf-c's rules: last
 * wins, merges), the wrong wire type, odd varints, a length past the end. */
static int decode_fast(const uint8_t *payload, size_t len, const field_desc *fields, void *msg)
{
    if (len == 0)
        return 1; /* every field at its default, as protobuf-c decodes it */
    if (!payload)
        return 0;
    const uint8_t *p = payload, *end = payload + len;
    uint32_t seen = 0;
    while (p < end) {
        uint64_t tag, v;
        size_t n = zkv_get_varint(p, end, &tag);
        if (n == 0 || n > 5 || tag > 0xff) /* protobuf-c refuses tags longer than 5 bytes */
            return 0;
        p += n;
        unsigned field = (unsigned)(tag >> 3), wt = (unsigned)(tag & 7);
        if (field >= 32 || (seen & (1u << field)))
            return 0;
        seen |= 1u << field;
        field_desc fd = fields[field];
        if (fd.kind == FK_NONE || wt != (fd.kind == FK_BYTES ? 2u : 0u) ||
            (n = zkv_get_varint(p, end, &v)) == 0)
            return 0;
        p += n;
        uint8_t *m = (uint8_t *)msg + fd.off;
        switch ((field_kind)fd.kind) {
        case FK_U64:
            memcpy(m, &v, sizeof v);
            break;
        case FK_32: {
            /* protobuf-c keeps the low bits of longer varints; leave those (and negative
             * enums) to it. uint32_t and the enums (int-sized) have the same size. */
            if (v > INT32_MAX || n > 5)
                return 0;
            uint32_t v32 = (uint32_t)v;
            memcpy(m, &v32, sizeof v32);
            break;
        }
        case FK_BOOL: {
            if (v > 1 || n > 1)
                return 0;
            protobuf_c_boolean b = (protobuf_c_boolean)v;
            memcpy(m, &b, sizeof b);
            break;
        }
        case FK_BYTES: {
            if (n > 5 || v > (uint64_t)(end - p)) /* protobuf-c refuses longer lengths */
                return 0;
            ProtobufCBinaryData b = {.len = (size_t)v, .data = v ? (uint8_t *)p : NULL};
            memcpy(m, &b, sizeof b);
            p += v;
            break;
        }
        default:
            return 0;
        }
    }
    return 1;
}

int zkv_frame_decode_request_fast(const uint8_t *payload, size_t len, Zkv__Request *req)
{
    zkv__request__init(req);
    return decode_fast(payload, len, request_fields, req);
}

int zkv_frame_decode_response_fast(const uint8_t *payload, size_t len, Zkv__Response *resp)
{
    zkv__response__init(resp);
    return decode_fast(payload, len, response_fields, resp);
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
    case ZKV__STATUS__LOG_MISMATCH:
        return "LOG_MISMATCH";
    case ZKV__STATUS__STALE_EPOCH:
        return "STALE_EPOCH";
    case ZKV__STATUS__WRONG_CLUSTER:
        return "WRONG_CLUSTER";
    case ZKV__STATUS__AUTH_FAILED:
        return "AUTH_FAILED";
    case ZKV__STATUS__CONDITION_FAILED:
        return "CONDITION_FAILED";
    case ZKV__STATUS__TOO_STALE:
        return "TOO_STALE";
    default:
        return "UNKNOWN";
    }
}
