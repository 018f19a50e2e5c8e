/* ship_wire.h: the replication traffic of the owner in and out without protobuf-c's
 * generic walk, which was a fifth of the shipper's instructions: APPEND frames encoded by
 * hand (byte for byte what protobuf-c writes) and the answers to replication requests
 * decoded by hand (the few fields the shipper reads). Anything of another shape is left
 * to protobuf-c. Pure; tested by tests/unit/test_server_tail_wire.c against protobuf-c. */
#ifndef ZKV_SERVER_SHIP_WIRE_H
#define ZKV_SERVER_SHIP_WIRE_H
#include <stddef.h>
#include <stdint.h>
#include "common/buf.h"
#include "zkv.pb-c.h"

/* Appends req as one frame (header + payload) to out: the same bytes as
 * zkv_frame_append_request for an APPEND request, which sets only id, op, map_version,
 * range_id, epoch, prev_seq, prev_epoch, entries (seq, epoch, op, key, value, expiry_ms)
 * and commit_seq, at about a tenth of the instructions. Returns 0, or -1 when req has
 * another field set (the caller then uses zkv_frame_append_request) or out of memory (out
 * unchanged). */
int zkv_wire_append_frame(zkv_buf *out, const Zkv__Request *req);

/* Decodes a Response payload into *resp (initialised first) for the shipper: id, status,
 * message (copied, NUL-terminated, cut to msglen - 1 bytes, into msg; resp->message points
 * there, or is "" when absent), range_epoch and range_seq; every other well-formed field is
 * skipped. Returns 1, or 0 when the payload is malformed or a known field has an unexpected
 * wire type (the caller then asks zkv__response__unpack, which decides). */
int zkv_wire_decode_answer(const uint8_t *payload, size_t len, Zkv__Response *resp, char *msg,
                           size_t msglen);

#endif
