/* fuzz_response.c: libFuzzer target for the hand-written Response codecs, differentially
 * against protobuf-c. The input is one frame's payload. Why: clients decode OK and
 * NOT_FOUND answers with zkv_frame_decode_response_fast, an owner decodes its replicas'
 * answers with zkv_wire_decode_answer (server/ship_wire.c), and nodes encode every answer
 * with zkv_frame_append_response; all three claim to be protobuf-c's equal. Checked:
 * - when either hand decoder accepts, zkv__response__unpack accepts too and gives the same
 *   values (every field for the client's; id, status, range_epoch, range_seq and the
 *   message, cut to the caller's buffer, for the shipper's, which skips the rest); when
 *   they decline, the callers ask protobuf-c, so they accept exactly what it accepts;
 * - neither declines protobuf-c's own packing of a message of its shape without unknown
 *   fields (those protobuf-c writes back as they came, not in its own encoding);
 * - for every message protobuf-c decoded, zkv_frame_append_response writes the same frame
 *   as protobuf-c's packing. */
#include "fuzz_common.h"
#include "server/ship_wire.h"

/* Only the fields the client's decoder takes (frame.h), enums not negative. */
static bool fast_shaped(const Zkv__Response *r)
{
    Zkv__Response only = ZKV__RESPONSE__INIT;
    only.id = r->id;
    only.status = r->status;
    only.value = r->value;
    only.epoch = r->epoch;
    only.seq = r->seq;
    only.map_version = r->map_version;
    only.more = r->more;
    only.next_key = r->next_key;
    only.stale = r->stale;
    only.range_epoch = r->range_epoch;
    only.range_seq = r->range_seq;
    only.owner = r->owner;
    return (int)r->status >= 0 && fuzz_msg_equal(&only.base, &r->base);
}

static bool inside(ProtobufCBinaryData b, const uint8_t *payload, size_t len)
{
    return b.len == 0 || (b.data >= payload && b.data + b.len <= payload + len);
}

/* The shipper's reading of payload agrees with ref (protobuf-c's); a message longer than
 * the shipper's buffer is cut, as its contract says. */
static void check_answer(const uint8_t *payload, size_t len, const Zkv__Response *ref,
                         size_t msglen)
{
    Zkv__Response got;
    char msg[512];
    if (!zkv_wire_decode_answer(payload, len, &got, msg, msglen))
        return; /* the shipper asks protobuf-c */
    FUZZ_CHECK(ref != NULL, "shipper's decoder accepted %zu bytes protobuf-c refuses", len);
    FUZZ_CHECK(got.id == ref->id && got.status == ref->status &&
                   got.range_epoch == ref->range_epoch && got.range_seq == ref->range_seq,
               "shipper's decoder differs");
    const char *want = ref->message ? ref->message : "";
    size_t n = strlen(want), cut = msglen && n > msglen - 1 ? msglen - 1 : n;
    FUZZ_CHECK(got.message && strlen(got.message) == (msglen ? cut : 0) &&
                   memcmp(got.message, want, strlen(got.message)) == 0,
               "shipper's message differs");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Zkv__Response *ref = zkv__response__unpack(NULL, size, data);
    Zkv__Response fast;
    if (zkv_frame_decode_response_fast(data, size, &fast)) {
        FUZZ_CHECK(ref != NULL, "client's decoder accepted %zu bytes protobuf-c refuses", size);
        FUZZ_CHECK_SAME_MSG(&fast.base, &ref->base, "client's decoder differs");
        FUZZ_CHECK(inside(fast.value, data, size) && inside(fast.next_key, data, size),
                   "bytes outside the payload");
    }
    /* the shipper's buffer (512), and a small one that cuts most messages */
    check_answer(data, size, ref, 512);
    check_answer(data, size, ref, size ? 1 + data[0] % 16 : 1);
    if (!ref)
        return 0;

    zkv_buf hand, pb;
    zkv_buf_init(&hand);
    zkv_buf_init(&pb);
    FUZZ_CHECK(zkv_frame_append_response(&hand, ref) == 0, "hand encoder failed");
    fuzz_append_packed(&pb, &ref->base);
    FUZZ_CHECK(fuzz_same(hand.data, hand.len, pb.data, pb.len),
               "hand encoder wrote %zu bytes, protobuf-c %zu", hand.len, pb.len);
    const uint8_t *p = pb.data + ZKV_FRAME_HEADER_LEN;
    size_t n = pb.len - ZKV_FRAME_HEADER_LEN;
    if (fast_shaped(ref)) {
        FUZZ_CHECK(zkv_frame_decode_response_fast(p, n, &fast) == 1,
                   "client's decoder declined protobuf-c's bytes of its shape");
        FUZZ_CHECK_SAME_MSG(&fast.base, &ref->base, "round trip differs");
    }
    /* protobuf-c writes unknown fields back as they came (a 10-byte varint over 64 bits,
     * a field numbered 0 in a padded tag, which it then refuses itself): only its own
     * encoding of known fields counts */
    if (ref->n_items == 0 && ref->n_replicas == 0 && ref->base.n_unknown_fields == 0) {
        Zkv__Response got;
        char msg[512];
        FUZZ_CHECK(zkv_wire_decode_answer(p, n, &got, msg, sizeof msg) == 1,
                   "shipper's decoder declined protobuf-c's bytes");
    }
    zkv_buf_free(&hand);
    zkv_buf_free(&pb);
    zkv__response__free_unpacked(ref, NULL);
    return 0;
}
