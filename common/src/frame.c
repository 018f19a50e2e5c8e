/* frame.c: length-prefixed framing of the wire protocol. The parser never allocates and
 * never touches a socket, so it is tested by feeding it bytes; a too-large frame is
 * reported with its declared length so the caller can skip it without buffering it.
 * Packing goes straight into the caller's zkv_buf after a 4-byte big-endian header. */
#include "common/frame.h"

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

int zkv_frame_append_response(zkv_buf *out, const Zkv__Response *resp)
{
    if (!out || !resp)
        return -1;
    return append_packed(out, zkv__response__get_packed_size(resp), pack_response, resp);
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
