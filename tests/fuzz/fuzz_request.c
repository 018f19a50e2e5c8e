/* fuzz_request.c: libFuzzer target for the hand-written Request codec of common/src/frame.c,
 * differentially against protobuf-c. The input is one frame's payload. Why: a node decodes
 * every GET/PUT/DELETE from an untrusted socket with zkv_frame_decode_request_fast, and
 * every client and node encodes requests with zkv_frame_append_request; both claim to be
 * byte for byte protobuf-c. Checked:
 * - when the hand decoder accepts, zkv__request__unpack accepts too and gives the same
 *   message (every field), the hand decoder's bytes pointing into the payload; when it
 *   declines, the node asks protobuf-c (server/conn.c), so the node accepts exactly what
 *   protobuf-c accepts;
 * - the hand decoder does not decline protobuf-c's own packing of a message of its shape;
 * - for every message protobuf-c decoded, zkv_frame_append_request writes the same frame
 *   as protobuf-c's packing. */
#include "fuzz_common.h"

/* Only the fields the hand decoder takes (frame.h), none negative: it must take
 * protobuf-c's bytes of such a message. */
static bool fast_shaped(const Zkv__Request *r)
{
    Zkv__Request only = ZKV__REQUEST__INIT;
    only.id = r->id;
    only.op = r->op;
    only.key = r->key;
    only.value = r->value;
    only.end_key = r->end_key;
    only.limit = r->limit;
    only.map_version = r->map_version;
    only.flags = r->flags;
    only.protocol = r->protocol;
    return (int)r->op >= 0 && r->limit <= INT32_MAX && r->flags <= INT32_MAX &&
           r->protocol <= INT32_MAX && fuzz_msg_equal(&only.base, &r->base);
}

static bool inside(ProtobufCBinaryData b, const uint8_t *payload, size_t len)
{
    return b.len == 0 || (b.data >= payload && b.data + b.len <= payload + len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Zkv__Request *ref = zkv__request__unpack(NULL, size, data);
    Zkv__Request fast;
    if (zkv_frame_decode_request_fast(data, size, &fast)) {
        FUZZ_CHECK(ref != NULL, "hand decoder accepted %zu bytes protobuf-c refuses", size);
        FUZZ_CHECK_SAME_MSG(&fast.base, &ref->base, "hand decoder differs");
        FUZZ_CHECK(inside(fast.key, data, size) && inside(fast.value, data, size) &&
                       inside(fast.end_key, data, size),
                   "bytes outside the payload");
    }
    if (!ref)
        return 0;

    zkv_buf hand, pb;
    zkv_buf_init(&hand);
    zkv_buf_init(&pb);
    FUZZ_CHECK(zkv_frame_append_request(&hand, ref) == 0, "hand encoder failed");
    fuzz_append_packed(&pb, &ref->base);
    FUZZ_CHECK(fuzz_same(hand.data, hand.len, pb.data, pb.len),
               "hand encoder wrote %zu bytes, protobuf-c %zu", hand.len, pb.len);
    if (fast_shaped(ref)) {
        const uint8_t *p = pb.data + ZKV_FRAME_HEADER_LEN;
        size_t n = pb.len - ZKV_FRAME_HEADER_LEN;
        FUZZ_CHECK(zkv_frame_decode_request_fast(p, n, &fast) == 1,
                   "hand decoder declined protobuf-c's bytes of its shape");
        FUZZ_CHECK_SAME_MSG(&fast.base, &ref->base, "round trip differs");
    }
    zkv_buf_free(&hand);
    zkv_buf_free(&pb);
    zkv__request__free_unpacked(ref, NULL);
    return 0;
}
