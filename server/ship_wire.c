/* ship_wire.c: replication frames by hand (see ship_wire.h). */
#include "ship_wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include "common/frame.h"

/* ---- APPEND frames by hand ---- */

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* Wire types: 0 varint, 2 length-delimited. A proto3 field without presence is written
 * only when it is not zero (empty for bytes and strings), as protobuf-c does. */
static size_t u64_field_len(uint32_t field, uint64_t v)
{
    return v ? varint_len((uint64_t)field << 3) + varint_len(v) : 0;
}

static size_t bytes_field_len(uint32_t field, size_t len)
{
    return len ? varint_len((uint64_t)field << 3 | 2) + varint_len(len) + len : 0;
}

static uint8_t *put_u64_field(uint8_t *p, uint32_t field, uint64_t v)
{
    if (!v)
        return p;
    p = put_varint(p, (uint64_t)field << 3);
    return put_varint(p, v);
}

static uint8_t *put_bytes_field(uint8_t *p, uint32_t field, const void *data, size_t len)
{
    if (!len)
        return p;
    p = put_varint(p, (uint64_t)field << 3 | 2);
    p = put_varint(p, len);
    memcpy(p, data, len);
    return p + len;
}

static size_t entry_len(const Zkv__LogEntry *e)
{
    return u64_field_len(1, e->seq) + u64_field_len(2, e->epoch) +
           u64_field_len(3, (uint64_t)(uint32_t)e->op) + bytes_field_len(4, e->key.len) +
           bytes_field_len(5, e->value.len) + u64_field_len(6, e->expiry_ms) +
           u64_field_len(7, e->client_id) + u64_field_len(8, e->client_seq) +
           u64_field_len(9, e->batch_end);
}

/* Only the fields an APPEND of the shipper sets; anything else (unknown fields kept from a
 * decoding included) goes to protobuf-c. */
static bool append_shaped(const Zkv__Request *req)
{
    if (req->key.len || req->value.len || req->end_key.len || req->limit || req->flags ||
        req->protocol || req->phase || req->n_items || req->n_history || req->seq ||
        (req->cluster_id && req->cluster_id[0]) || (req->client_name && req->client_name[0]) ||
        (req->node_id && req->node_id[0]) || (req->auth && req->auth[0]) || (int)req->op < 0 ||
        req->base.n_unknown_fields || req->condition || req->if_epoch || req->if_seq ||
        req->client_id || req->client_seq || req->n_writes || req->reverse || req->keys_only ||
        req->ttl_ms || req->max_lag_ms || req->max_lag_entries)
        return false;
    for (size_t i = 0; i < req->n_entries; i++)
        if (!req->entries[i] || (int)req->entries[i]->op < 0 ||
            req->entries[i]->base.n_unknown_fields)
            return false; /* negative enums are ten-byte varints: leave them to protobuf-c */
    return true;
}

int zkv_wire_append_frame(zkv_buf *out, const Zkv__Request *req)
{
    if (!append_shaped(req))
        return -1;
    size_t rid = req->range_id ? strlen(req->range_id) : 0;
    size_t n = u64_field_len(1, req->id) + u64_field_len(2, (uint64_t)(uint32_t)req->op) +
               u64_field_len(8, req->map_version) + bytes_field_len(16, rid) +
               u64_field_len(17, req->epoch) + u64_field_len(18, req->prev_seq) +
               u64_field_len(19, req->prev_epoch) + u64_field_len(21, req->commit_seq) +
               u64_field_len(37, req->owner_time_ms) + u64_field_len(40, req->head_seq);
    for (size_t i = 0; i < req->n_entries; i++) {
        size_t el = entry_len(req->entries[i]);
        n += varint_len(20u << 3 | 2) + varint_len(el) + el; /* written even when empty */
    }
    if (n > UINT32_MAX || zkv_buf_reserve(out, 4 + n) != 0)
        return -1;
    uint8_t *p = out->data + out->len;
    p[0] = (uint8_t)(n >> 24);
    p[1] = (uint8_t)(n >> 16);
    p[2] = (uint8_t)(n >> 8);
    p[3] = (uint8_t)n;
    p += 4;
    p = put_u64_field(p, 1, req->id);
    p = put_u64_field(p, 2, (uint64_t)(uint32_t)req->op);
    p = put_u64_field(p, 8, req->map_version);
    p = put_bytes_field(p, 16, req->range_id, rid);
    p = put_u64_field(p, 17, req->epoch);
    p = put_u64_field(p, 18, req->prev_seq);
    p = put_u64_field(p, 19, req->prev_epoch);
    for (size_t i = 0; i < req->n_entries; i++) {
        const Zkv__LogEntry *e = req->entries[i];
        p = put_varint(p, 20u << 3 | 2);
        p = put_varint(p, entry_len(e));
        p = put_u64_field(p, 1, e->seq);
        p = put_u64_field(p, 2, e->epoch);
        p = put_u64_field(p, 3, (uint64_t)(uint32_t)e->op);
        p = put_bytes_field(p, 4, e->key.data, e->key.len);
        p = put_bytes_field(p, 5, e->value.data, e->value.len);
        p = put_u64_field(p, 6, e->expiry_ms);
        p = put_u64_field(p, 7, e->client_id);
        p = put_u64_field(p, 8, e->client_seq);
        p = put_u64_field(p, 9, e->batch_end);
    }
    p = put_u64_field(p, 21, req->commit_seq);
    p = put_u64_field(p, 37, req->owner_time_ms);
    p = put_u64_field(p, 40, req->head_seq);
    out->len = (size_t)(p - out->data);
    return 0;
}

/* ---- answers by hand ---- */

/* The wire type of each field of Response (zkv.proto): 0 varint, 2 length-delimited. A
 * field of the schema with another one is refused by protobuf-c, so it declines too;
 * items (8) and replicas (17), messages whose insides protobuf-c checks, always decline
 * (-1). Fields past the schema are skipped, as protobuf-c keeps them as unknown; so are
 * the schema's fields the shipper has no use for (ttl_ms, lag_ms, lag_entries, info: 19-22),
 * once their wire type is checked. Every field added to Response belongs here. */
static const int8_t answer_wire[] = {
    [1] = 0,   [2] = 0,  [3] = 2,  [4] = 2,  [5] = 0,  [6] = 0,  [7] = 0,  [8] = -1,
    [9] = 0,   [10] = 2, [11] = 2, [12] = 0, [13] = 2, [14] = 2, [15] = 0, [16] = 0,
    [17] = -1, [18] = 0, [19] = 0, [20] = 0, [21] = 0, [22] = 2,
};

int zkv_wire_decode_answer(const uint8_t *payload, size_t len, Zkv__Response *resp, char *msg,
                           size_t msglen)
{
    zkv__response__init(resp);
    resp->message = (char *)"";
    if (msglen)
        msg[0] = '\0';
    const uint8_t *p = payload, *end = payload + len;
    while (p < end) {
        uint64_t tag, v;
        size_t n = zkv_get_varint(p, end, &tag);
        /* protobuf-c reads tags and lengths of at most 5 bytes: longer ones decline */
        if (n == 0 || n > 5 || tag >> 3 == 0 || tag >> 3 > UINT32_MAX)
            return 0;
        p += n;
        uint32_t field = (uint32_t)(tag >> 3), wt = (uint32_t)(tag & 7);
        if (field < sizeof answer_wire && (int)wt != answer_wire[field])
            return 0;
        switch (wt) {
        case 0:
            if ((n = zkv_get_varint(p, end, &v)) == 0)
                return 0;
            p += n;
            if (field == 1)
                resp->id = v;
            else if (field == 2)
                resp->status = (Zkv__Status)(int32_t)v;
            else if (field == 15)
                resp->range_epoch = v;
            else if (field == 16)
                resp->range_seq = v;
            break;
        case 1:
            if ((size_t)(end - p) < 8)
                return 0;
            p += 8;
            break;
        case 5:
            if ((size_t)(end - p) < 4)
                return 0;
            p += 4;
            break;
        case 2:
            if ((n = zkv_get_varint(p, end, &v)) == 0 || n > 5)
                return 0;
            p += n;
            if (v > (uint64_t)(end - p))
                return 0;
            if (field == 3) {
                if (memchr(p, 0, (size_t)v))
                    return 0; /* leave odd strings to protobuf-c */
                if (msglen) {
                    size_t cut = (size_t)v < msglen - 1 ? (size_t)v : msglen - 1;
                    memcpy(msg, p, cut);
                    msg[cut] = '\0';
                    resp->message = msg;
                }
            }
            p += v;
            break;
        default:
            return 0; /* groups or nonsense */
        }
    }
    return 1;
}

/* ---- APPEND requests by hand ---- */

/* How the APPEND decoder takes a field of Request or LogEntry (by number); anything else
 * declines. Kinds from AK_BYTES on are length-delimited. */
typedef enum {
    AK_NONE = 0, /* not an APPEND field: protobuf-c's */
    AK_U64,      /* uint64 */
    AK_ENUM,     /* Op: only 0..INT32_MAX in at most 5 bytes */
    AK_BYTES,    /* bytes: a ProtobufCBinaryData pointing into the payload */
    AK_STRING,   /* string: copied into the arena with a NUL; none inside */
    AK_ENTRY,    /* repeated LogEntry */
} append_kind;

typedef struct {
    uint8_t kind;
    uint16_t off; /* offsetof the member */
} append_field;

_Static_assert(sizeof(Zkv__Op) == sizeof(uint32_t), "enums are int-sized (protobuf-c forces it)");

#define AFIELD(k, type, m)                                                                         \
    {                                                                                              \
        (k), (uint16_t)offsetof(type, m)                                                           \
    }

#define N_REQUEST_FIELDS 41u
#define N_ENTRY_FIELDS 10u

static const append_field append_request_fields[N_REQUEST_FIELDS] = {
    [1] = AFIELD(AK_U64, Zkv__Request, id),
    [2] = AFIELD(AK_ENUM, Zkv__Request, op),
    [8] = AFIELD(AK_U64, Zkv__Request, map_version),
    [16] = AFIELD(AK_STRING, Zkv__Request, range_id),
    [17] = AFIELD(AK_U64, Zkv__Request, epoch),
    [18] = AFIELD(AK_U64, Zkv__Request, prev_seq),
    [19] = AFIELD(AK_U64, Zkv__Request, prev_epoch),
    [20] = AFIELD(AK_ENTRY, Zkv__Request, entries),
    [21] = AFIELD(AK_U64, Zkv__Request, commit_seq),
    [37] = AFIELD(AK_U64, Zkv__Request, owner_time_ms),
    [40] = AFIELD(AK_U64, Zkv__Request, head_seq),
};

static const append_field append_entry_fields[N_ENTRY_FIELDS] = {
    [1] = AFIELD(AK_U64, Zkv__LogEntry, seq),       [2] = AFIELD(AK_U64, Zkv__LogEntry, epoch),
    [3] = AFIELD(AK_ENUM, Zkv__LogEntry, op),       [4] = AFIELD(AK_BYTES, Zkv__LogEntry, key),
    [5] = AFIELD(AK_BYTES, Zkv__LogEntry, value),   [6] = AFIELD(AK_U64, Zkv__LogEntry, expiry_ms),
    [7] = AFIELD(AK_U64, Zkv__LogEntry, client_id), [8] = AFIELD(AK_U64, Zkv__LogEntry, client_seq),
    [9] = AFIELD(AK_U64, Zkv__LogEntry, batch_end),
};

typedef struct {
    zkv_arena *arena;
    Zkv__LogEntry **entries; /* initialised entries to fill; NULL while counting */
    size_t cap;              /* how many there are */
    size_t n_entries;        /* entries counted, or filled */
} append_ctx;

/* Walks the message [p, end) by fields[] (nfields of them). With msg, stores every field
 * in it: strings copied into the arena, bytes pointing into [p, end), each entry decoded
 * into the next of ctx->entries. Without, only checks the shape and counts the entries in
 * ctx->n_entries. false when protobuf-c must decide: a field not in fields[], a field other
 * than entries twice (protobuf-c's rules: last wins, merges), the wrong wire type, odd
 * varints, tags or lengths longer than protobuf-c reads, a length past the end, a string
 * with a NUL, out of arena memory. */
static bool walk(const uint8_t *p, const uint8_t *end, const append_field *fields, unsigned nfields,
                 void *msg, append_ctx *ctx)
{
    uint64_t seen = 0; /* fields < 64 (N_REQUEST_FIELDS) */
    while (p < end) {
        uint64_t tag, v;
        size_t n = zkv_get_varint(p, end, &tag);
        if (n == 0 || n > 2 || tag >> 3 >= nfields)
            return false;
        p += n;
        unsigned field = (unsigned)(tag >> 3);
        append_field fd = fields[field];
        bool delimited = fd.kind >= AK_BYTES;
        if (fd.kind == AK_NONE || (tag & 7) != (delimited ? 2u : 0u) || (seen & (1ull << field)) ||
            (n = zkv_get_varint(p, end, &v)) == 0)
            return false;
        p += n;
        if (fd.kind != AK_ENTRY)
            seen |= 1ull << field;
        /* protobuf-c reads lengths of at most 5 bytes up to INT_MAX, and keeps the low bits
         * of longer enums: leave those, and negative enums, to it */
        if ((delimited || fd.kind == AK_ENUM) && (n > 5 || v > INT32_MAX))
            return false;
        if (delimited && v > (uint64_t)(end - p))
            return false;
        uint8_t *m = msg ? (uint8_t *)msg + fd.off : NULL;
        switch ((append_kind)fd.kind) {
        case AK_U64:
            if (m)
                memcpy(m, &v, sizeof v);
            break;
        case AK_ENUM:
            if (m) {
                uint32_t v32 = (uint32_t)v;
                memcpy(m, &v32, sizeof v32);
            }
            break;
        case AK_BYTES:
            if (m) {
                ProtobufCBinaryData b = {.len = (size_t)v, .data = v ? (uint8_t *)p : NULL};
                memcpy(m, &b, sizeof b);
            }
            break;
        case AK_STRING:
            if (m) {
                char *str = memchr(p, 0, (size_t)v) ? NULL : zkv_arena_alloc(ctx->arena, v + 1);
                if (!str)
                    return false;
                memcpy(str, p, (size_t)v);
                str[v] = '\0';
                memcpy(m, &str, sizeof str);
            }
            break;
        case AK_ENTRY:
            if (!m)
                ctx->n_entries++;
            else if (ctx->n_entries >= ctx->cap ||
                     !walk(p, p + v, append_entry_fields, N_ENTRY_FIELDS,
                           ctx->entries[ctx->n_entries++], ctx))
                return false;
            break;
        default:
            return false;
        }
        if (delimited)
            p += v;
    }
    return true;
}

int zkv_wire_decode_append(const uint8_t *payload, size_t len, zkv_arena *arena, Zkv__Request *req)
{
    zkv__request__init(req);
    if (!payload)
        return 0;
    const uint8_t *end = payload + len;
    append_ctx ctx = {.arena = arena, .entries = NULL, .cap = 0, .n_entries = 0};
    if (!walk(payload, end, append_request_fields, N_REQUEST_FIELDS, NULL, &ctx))
        return 0;
    size_t n = ctx.n_entries; /* at most len / 3: no overflow below */
    if (n) {
        /* the entries, then the array of pointers to them, in one piece */
        Zkv__LogEntry *es =
            zkv_arena_alloc(arena, n * (sizeof(Zkv__LogEntry) + sizeof(Zkv__LogEntry *)));
        if (!es)
            return 0;
        ctx.entries = (Zkv__LogEntry **)(es + n);
        for (size_t i = 0; i < n; i++) {
            zkv__log_entry__init(&es[i]);
            ctx.entries[i] = &es[i];
        }
        ctx.cap = n;
        ctx.n_entries = 0;
    }
    if (!walk(payload, end, append_request_fields, N_REQUEST_FIELDS, req, &ctx) ||
        req->op != ZKV__OP__APPEND)
        return 0;
    req->n_entries = n;
    req->entries = ctx.entries;
    return 1;
}
