/* fuzz_append.c: libFuzzer target for the hand-written APPEND codec of server/ship_wire.c,
 * differentially against protobuf-c. The input is one frame's payload. Why: a replica
 * decodes every APPEND (log entries, from the network) with zkv_wire_decode_append, and an
 * owner encodes them with zkv_wire_append_frame; both claim to be protobuf-c's equal.
 * Checked:
 * - when the hand decoder accepts, zkv__request__unpack accepts too and gives the same
 *   message (every field of the request and of each entry), keys and values pointing into
 *   the payload; when it declines, the node asks protobuf-c (server/conn.c);
 * - it does not decline protobuf-c's own packing of an APPEND of its shape;
 * - for every message protobuf-c decoded, zkv_wire_append_frame either declines it (the
 *   shipper then uses zkv_frame_append_request) or writes protobuf-c's bytes, and it
 *   declines none of the APPEND shape.
 * The arena starts empty and never keeps a block, so each allocation is its own malloc
 * and ASan sees writes past it. */
#include "fuzz_common.h"
#include "server/arena.h"
#include "server/ship_wire.h"

/* Only the fields an owner's APPEND sets (ship_wire.h), entries without unknown fields,
 * enums not negative. */
static bool append_shaped(const Zkv__Request *r)
{
    Zkv__Request only = ZKV__REQUEST__INIT;
    only.id = r->id;
    only.op = r->op;
    only.map_version = r->map_version;
    only.range_id = r->range_id;
    only.epoch = r->epoch;
    only.prev_seq = r->prev_seq;
    only.prev_epoch = r->prev_epoch;
    only.n_entries = r->n_entries;
    only.entries = r->entries;
    only.commit_seq = r->commit_seq;
    if ((int)r->op < 0 || !fuzz_msg_equal(&only.base, &r->base))
        return false;
    for (size_t i = 0; i < r->n_entries; i++)
        if ((int)r->entries[i]->op < 0 || r->entries[i]->base.n_unknown_fields)
            return false;
    return true;
}

static bool inside(ProtobufCBinaryData b, const uint8_t *payload, size_t len)
{
    return b.len == 0 || (b.data >= payload && b.data + b.len <= payload + len);
}

/* Decodes payload by hand; when it accepts, checks it against ref. Returns the verdict. */
static int decode(const uint8_t *payload, size_t len, const Zkv__Request *ref)
{
    zkv_arena arena;
    zkv_arena_init(&arena, 0, 0);
    Zkv__Request got;
    int ok = zkv_wire_decode_append(payload, len, &arena, &got);
    if (ok) {
        FUZZ_CHECK(ref != NULL, "hand decoder accepted %zu bytes protobuf-c refuses", len);
        FUZZ_CHECK(got.op == ZKV__OP__APPEND, "hand decoder accepted op %d", (int)got.op);
        FUZZ_CHECK_SAME_MSG(&got.base, &ref->base, "hand decoder differs");
        for (size_t i = 0; i < got.n_entries; i++)
            FUZZ_CHECK(inside(got.entries[i]->key, payload, len) &&
                           inside(got.entries[i]->value, payload, len),
                       "entry %zu outside the payload", i);
    }
    zkv_arena_free(&arena);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Zkv__Request *ref = zkv__request__unpack(NULL, size, data);
    decode(data, size, ref);
    if (!ref)
        return 0;

    zkv_buf hand, pb;
    zkv_buf_init(&hand);
    zkv_buf_init(&pb);
    fuzz_append_packed(&pb, &ref->base);
    bool shaped = append_shaped(ref);
    if (zkv_wire_append_frame(&hand, ref) == 0)
        FUZZ_CHECK(fuzz_same(hand.data, hand.len, pb.data, pb.len),
                   "hand encoder wrote %zu bytes, protobuf-c %zu", hand.len, pb.len);
    else
        FUZZ_CHECK(!shaped && hand.len == 0, "hand encoder declined an APPEND of its shape");
    if (shaped && ref->op == ZKV__OP__APPEND)
        FUZZ_CHECK(decode(pb.data + ZKV_FRAME_HEADER_LEN, pb.len - ZKV_FRAME_HEADER_LEN, ref) == 1,
                   "hand decoder declined protobuf-c's bytes of its shape");
    zkv_buf_free(&hand);
    zkv_buf_free(&pb);
    zkv__request__free_unpacked(ref, NULL);
    return 0;
}
