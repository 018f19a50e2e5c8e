/* frame.h: length-prefixed framing of the wire protocol, independent of sockets.
 * A frame is a 4-byte big-endian payload length followed by one protobuf message.
 * The parser is fed whatever bytes have arrived and says: a whole frame, need more, or
 * a frame too large to accept (whose bytes the caller then skips, see zkv_frame_skip).
 * Errors: negative ZKV_FRAME_* values; no allocation happens in the parser. */
#ifndef ZKV_COMMON_FRAME_H
#define ZKV_COMMON_FRAME_H
#include <stddef.h>
#include <stdint.h>
#include "common/buf.h"
#include "zkv.pb-c.h"

#define ZKV_FRAME_HEADER_LEN 4u
#define ZKV_MAX_KEY_DEFAULT 4096u
#define ZKV_MAX_VALUE_DEFAULT (1024u * 1024u)
/* Room for the other fields of a request around the largest key and value. */
#define ZKV_FRAME_SLACK 1024u
/* Largest response a client accepts (scan pages are capped well below this). */
#define ZKV_MAX_RESPONSE_FRAME ((size_t)64 * 1024 * 1024)

typedef enum {
    ZKV_FRAME_OK = 1,         /* a whole frame: *payload, *payload_len, *consumed set */
    ZKV_FRAME_NEED_MORE = 0,  /* not enough bytes yet */
    ZKV_FRAME_TOO_LARGE = -1, /* declared length > max_payload: *payload_len set to it */
} zkv_frame_result;

/* Looks at buf[0..len). On ZKV_FRAME_OK the payload is buf+4 .. buf+4+*payload_len and
 * *consumed = 4 + *payload_len. On ZKV_FRAME_TOO_LARGE *payload_len holds the declared
 * length and *consumed = 4 (the header). */
zkv_frame_result zkv_frame_parse(const uint8_t *buf, size_t len, size_t max_payload,
                                 const uint8_t **payload, size_t *payload_len, size_t *consumed);

/* Writes the 4-byte header for a payload of len bytes. */
void zkv_frame_put_header(uint8_t hdr[ZKV_FRAME_HEADER_LEN], uint32_t len);

/* Recovers the request id from the first bytes of a payload (field 1, varint, which
 * protobuf-c always writes first). Returns 0 and sets *id, or -1 if it is not there. */
int zkv_frame_peek_id(const uint8_t *payload, size_t len, uint64_t *id);

/* Appends one framed message (header + packed protobuf) to out. Returns 0 or -1.
 * A message without repeated or unknown fields (every request but APPEND and SNAPSHOT
 * chunks, every response but SCAN and RANGE_STATUS answers) is encoded by hand in one
 * walk, the same bytes as protobuf-c; others go through protobuf-c. */
int zkv_frame_append_request(zkv_buf *out, const Zkv__Request *req);
int zkv_frame_append_response(zkv_buf *out, const Zkv__Response *resp);
/* The frame of resp but for its value, whose value_len bytes the caller sends right after
 * the bytes appended (a node's GET answer points the socket at the value instead of copying
 * it: server/outq.h). The value field is encoded last, which decoders accept. -1 when resp
 * has repeated or unknown fields (then append it whole), value_len is 0, or ENOMEM. */
int zkv_frame_append_response_head(zkv_buf *out, const Zkv__Response *resp, size_t value_len);

/* Decodes a request made only of fields id, op, key, value, end_key, limit, map_version,
 * flags and protocol, each at most once, into *req (initialised first) without copying:
 * req's bytes point into payload, which must outlive it. Returns 1 when decoded, 0 when
 * the payload needs zkv__request__unpack (other fields, repeats, or malformed: the slow
 * path decides). The result equals what zkv__request__unpack gives for such payloads. */
int zkv_frame_decode_request_fast(const uint8_t *payload, size_t len, Zkv__Request *req);

/* The same for a response made only of fields id, status, value, epoch, seq,
 * map_version, more, next_key, stale, range_epoch, range_seq and owner (an OK or
 * NOT_FOUND answer to GET/PUT/DELETE, from the owner or a replica): 1 with *resp's bytes
 * pointing into payload, or 0 when it needs zkv__response__unpack (a message string,
 * HELLO's ids, scan items, replica lists, repeats, malformed). */
int zkv_frame_decode_response_fast(const uint8_t *payload, size_t len, Zkv__Response *resp);

/* Reads the varint at p (before end) into *v: returns the bytes it took (1 to 10), or 0
 * when it is truncated, longer than ten bytes or over 64 bits (a 10th byte above 1).
 * Shared by the hand-made decoders (common/src/frame.c, server/ship_wire.c); lengths and
 * tags that took more bytes than protobuf-c accepts (5) are for the caller to refuse. */
static inline size_t zkv_get_varint(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
    if (p >= end)
        return 0;
    if (p[0] < 0x80) {
        *v = p[0]; /* the common case: one byte */
        return 1;
    }
    if (end - p >= 2 && p[1] < 0x80) {
        *v = (uint64_t)(p[0] & 0x7f) | (uint64_t)p[1] << 7; /* tags of fields 16 and up */
        return 2;
    }
    uint64_t r = 0;
    for (size_t i = 0; i < 10 && p + i < end; i++) {
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

/* Largest request payload a node accepts for the given key/value limits. */
size_t zkv_frame_max_request(size_t max_key, size_t max_value);

/* Name of a status ("NOT_OWNER"), for messages and the REPL. */
const char *zkv_status_name(int status);

#endif
