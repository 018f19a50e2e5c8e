/* fuzz_common.h: what the libFuzzer targets share: a check that aborts with a message (so
 * libFuzzer records the input as a crash), protobuf-c's unpack into one reused buffer,
 * the framing of protobuf-c's packing, and a field-by-field comparison of two messages
 * driven by protobuf-c's descriptors (every field, repeated and nested ones included), the
 * reference against which the hand-written codecs are judged. Header-only: each target is
 * one executable. */
#ifndef ZKV_FUZZ_COMMON_H
#define ZKV_FUZZ_COMMON_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/frame.h"
#include "zkv.pb-c.h"

#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz check failed at %s:%d: %s: ", __FILE__, __LINE__, #cond);        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* true when the two buffers hold the same bytes */
static inline bool fuzz_same(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    return alen == blen && (alen == 0 || (a && b && memcmp(a, b, alen) == 0));
}

/* A copy of data in a buffer of exactly len bytes (ASan sees a read past its end). */
static inline uint8_t *fuzz_dup(const uint8_t *data, size_t len)
{
    uint8_t *p = malloc(len ? len : 1);
    FUZZ_CHECK(p != NULL, "out of memory");
    if (len)
        memcpy(p, data, len);
    return p;
}

/* Appends protobuf-c's packing of msg to out, as one frame (header + payload). */
static inline void fuzz_append_packed(zkv_buf *out, const ProtobufCMessage *msg)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    FUZZ_CHECK(n <= UINT32_MAX && zkv_buf_reserve(out, ZKV_FRAME_HEADER_LEN + n) == 0, "reserve");
    zkv_frame_put_header(out->data + out->len, (uint32_t)n);
    size_t w = protobuf_c_message_pack(msg, out->data + out->len + ZKV_FRAME_HEADER_LEN);
    FUZZ_CHECK(w == n, "protobuf-c packed %zu bytes, announced %zu", w, n);
    out->len += ZKV_FRAME_HEADER_LEN + n;
}

static inline size_t fuzz_elt_size(ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    default:
        return 4; /* 32-bit numbers and enums */
    }
}

static inline bool fuzz_msg_same(const ProtobufCMessage *a, const ProtobufCMessage *b, bool say);

/* Every field of a and b (same descriptor) equal, and the same unknown fields. */
static inline bool fuzz_msg_equal(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    return fuzz_msg_same(a, b, false);
}

/* Aborts when a and b differ, naming the first field that does. */
#define FUZZ_CHECK_SAME_MSG(a, b, what) FUZZ_CHECK(fuzz_msg_same((a), (b), true), "%s", (what))

/* One value of field f at a and b (scalars by their bytes, strings and bytes by content,
 * with NULL only equal to NULL: the product reads them without checking). */
static inline bool fuzz_value_equal(const ProtobufCFieldDescriptor *f, const void *a, const void *b,
                                    bool say)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *sa = *(char *const *)a, *sb = *(char *const *)b;
        return (sa == NULL) == (sb == NULL) && (!sa || strcmp(sa, sb) == 0);
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *da = a, *db = b;
        return (da->data == NULL) == (db->data == NULL) &&
               fuzz_same(da->data, da->len, db->data, db->len);
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *ma = *(ProtobufCMessage *const *)a;
        const ProtobufCMessage *mb = *(ProtobufCMessage *const *)b;
        return (ma == NULL) == (mb == NULL) && (!ma || fuzz_msg_same(ma, mb, say));
    }
    default:
        return memcmp(a, b, fuzz_elt_size(f->type)) == 0;
    }
}

/* fuzz_msg_equal; with say, the first difference is printed to stderr. */
static inline bool fuzz_msg_same(const ProtobufCMessage *a, const ProtobufCMessage *b, bool say)
{
    const ProtobufCMessageDescriptor *d = a->descriptor;
    if (b->descriptor != d || a->n_unknown_fields != b->n_unknown_fields) {
        if (say)
            fprintf(stderr, "%s: %u against %u unknown fields\n", d->name, a->n_unknown_fields,
                    b->n_unknown_fields);
        return false;
    }
    for (unsigned i = 0; i < a->n_unknown_fields; i++) {
        const ProtobufCMessageUnknownField *ua = &a->unknown_fields[i], *ub = &b->unknown_fields[i];
        if (ua->tag != ub->tag || ua->wire_type != ub->wire_type ||
            !fuzz_same(ua->data, ua->len, ub->data, ub->len))
            return false;
    }
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *fa = (const char *)a + f->offset, *fb = (const char *)b + f->offset;
        if (f->label != PROTOBUF_C_LABEL_REPEATED) {
            if (!fuzz_value_equal(f, fa, fb, say)) {
                if (say)
                    fprintf(stderr, "field %s.%s differs\n", d->name, f->name);
                return false;
            }
            continue;
        }
        size_t na = *(const size_t *)((const char *)a + f->quantifier_offset);
        size_t nb = *(const size_t *)((const char *)b + f->quantifier_offset);
        if (na != nb) {
            if (say)
                fprintf(stderr, "field %s.%s: %zu against %zu elements\n", d->name, f->name, na,
                        nb);
            return false;
        }
        const char *ea = *(char *const *)fa, *eb = *(char *const *)fb;
        size_t sz = fuzz_elt_size(f->type);
        for (size_t k = 0; k < na; k++)
            if (!fuzz_value_equal(f, ea + k * sz, eb + k * sz, say)) {
                if (say)
                    fprintf(stderr, "field %s.%s[%zu] differs\n", d->name, f->name, k);
                return false;
            }
    }
    return true;
}

#endif
