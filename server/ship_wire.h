/* ship_wire.h: the replication traffic in and out without protobuf-c's generic walk. On
 * the owner, that walk was a fifth of the shipper's instructions: APPEND frames encoded by
 * hand (byte for byte what protobuf-c writes) and the answers to replication requests
 * decoded by hand (the few fields the shipper reads). On a replica, decoding each APPEND
 * with protobuf-c cost some 2.3k instructions a log entry: APPEND requests are decoded by
 * hand, their keys and values pointing into the payload. Anything of another shape is left
 * to protobuf-c. Pure; tested by tests/unit/test_server_tail_wire.c against protobuf-c. */
#ifndef ZKV_SERVER_SHIP_WIRE_H
#define ZKV_SERVER_SHIP_WIRE_H
#include <stddef.h>
#include <stdint.h>
#include "arena.h"
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
 * skipped. Returns 1, or 0 when the payload is malformed, a field of the schema has another
 * wire type, a tag or length takes over five bytes, or it carries scan items or replica
 * lists (messages whose insides protobuf-c checks): anything protobuf-c could refuse. The
 * caller then asks zkv__response__unpack, which decides. */
int zkv_wire_decode_answer(const uint8_t *payload, size_t len, Zkv__Response *resp, char *msg,
                           size_t msglen);

/* Decodes an APPEND request payload into *req (initialised first), for a replica: id, op,
 * map_version, range_id (copied into arena, NUL-terminated), epoch, prev_seq, prev_epoch,
 * entries (the LogEntry structs and their array in arena; each entry's key and value point
 * into payload, which must outlive *req; data NULL when empty, as protobuf-c gives) and
 * commit_seq. Returns 1 with *req equal to what zkv__request__unpack gives, or 0 when op
 * is not APPEND or the payload has anything else: another field, one of these twice (but
 * entries), the wrong wire type, odd varints, lengths past the end, a NUL in range_id, an
 * unknown field in an entry; the caller then asks zkv__request__unpack, which decides. On
 * 0, *req is unspecified and arena may hold memory until its next reset. */
int zkv_wire_decode_append(const uint8_t *payload, size_t len, zkv_arena *arena, Zkv__Request *req);

#endif
