/* gen_corpus.c: writes the seed corpus of the fuzz targets, one small file per seed, into
 * DIR/<target>/ (scripts/fuzz.sh corpus runs it on tests/fuzz/corpus). The seeds are what
 * the programs really exchange: requests of every op, answers of every kind, APPENDs with
 * and without entries, streams of frames, each znode as its encoder writes it, REPL lines.
 * Deterministic, so regenerating changes nothing unless the generator does. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/buf.h"
#include "common/frame.h"
#include "common/znode.h"
#include "zkv.pb-c.h"

static const char *root;
static int failed;

static void emit(const char *target, const char *name, const void *data, size_t len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        failed = 1;
        return;
    }
    snprintf(path, sizeof path, "%s/%s/%s", root, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        failed = 1;
    }
}

/* protobuf-c's packing of msg (no frame header); caller frees. */
static uint8_t *pack(const ProtobufCMessage *msg, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(msg);
    uint8_t *p = malloc(*len ? *len : 1);
    if (!p)
        abort();
    protobuf_c_message_pack(msg, p);
    return p;
}

static zkv_buf stream; /* every message framed, for the frame target */

static void emit_msg(const char *target, const char *name, const ProtobufCMessage *msg)
{
    size_t len;
    uint8_t *p = pack(msg, &len);
    emit(target, name, p, len);
    uint8_t hdr[ZKV_FRAME_HEADER_LEN];
    zkv_frame_put_header(hdr, (uint32_t)len);
    if (zkv_buf_append(&stream, hdr, sizeof hdr) != 0 || zkv_buf_append(&stream, p, len) != 0)
        abort();
    free(p);
}

static ProtobufCBinaryData bin(const char *s, size_t len)
{
    ProtobufCBinaryData b = {len, (uint8_t *)s};
    return b;
}

static void requests(void)
{
    Zkv__Request r = ZKV__REQUEST__INIT;
    r.id = 1;
    r.op = ZKV__OP__HELLO;
    r.cluster_id = "0a02de7e5cc0daf5";
    r.client_name = "zkv-repl";
    r.protocol = 1;
    emit_msg("request", "hello", &r.base);
    r.node_id = "node-1";
    emit_msg("request", "hello-node", &r.base);

    zkv__request__init(&r);
    r.id = 2;
    r.op = ZKV__OP__GET;
    r.key = bin("user:1", 6);
    r.map_version = 7;
    emit_msg("request", "get", &r.base);
    r.flags = ZKV__REQUEST_FLAG__FLAG_ALLOW_STALE;
    r.id = 300;
    emit_msg("request", "get-stale", &r.base);
    r.max_lag_ms = 500;
    r.max_lag_entries = 1000;
    emit_msg("request", "get-bounded", &r.base);
    r.max_lag_ms = r.max_lag_entries = 0;
    r.op = ZKV__OP__DELETE;
    r.flags = 0;
    emit_msg("request", "delete", &r.base);
    r.op = ZKV__OP__PUT;
    r.id = 1ull << 40;
    r.key = bin("\x00\xff\x80k", 4);
    r.value = bin("value\x00with\x01bytes", 16);
    r.flags = ZKV__REQUEST_FLAG__FLAG_ACK_OWNER;
    emit_msg("request", "put-binary", &r.base);

    zkv__request__init(&r);
    r.id = 4;
    r.op = ZKV__OP__SCAN;
    r.key = bin("a", 1);
    r.end_key = bin("b", 1);
    r.limit = 100;
    emit_msg("request", "scan", &r.base);
    zkv__request__init(&r);
    r.id = 5;
    r.op = ZKV__OP__PING;
    emit_msg("request", "ping", &r.base);
    r.op = ZKV__OP__RANGE_STATUS;
    r.range_id = "r0003";
    emit_msg("request", "range-status", &r.base);

    /* snapshot phases */
    Zkv__KeyValue kv[2] = {ZKV__KEY_VALUE__INIT, ZKV__KEY_VALUE__INIT};
    Zkv__KeyValue *kvp[2] = {&kv[0], &kv[1]};
    kv[0].key = bin("k1", 2);
    kv[0].value = bin("v1", 2);
    kv[0].epoch = 2;
    kv[0].seq = 10;
    kv[1].key = bin("k2", 2);
    kv[1].expiry_ms = 1700000000000ull;
    Zkv__EpochStart es[2] = {ZKV__EPOCH_START__INIT, ZKV__EPOCH_START__INIT};
    Zkv__EpochStart *esp[2] = {&es[0], &es[1]};
    es[0].epoch = 1;
    es[0].start_seq = 1;
    es[1].epoch = 2;
    es[1].start_seq = 40;
    zkv__request__init(&r);
    r.id = 6;
    r.op = ZKV__OP__SNAPSHOT;
    r.range_id = "r0003";
    r.epoch = 2;
    r.phase = ZKV__SNAPSHOT_PHASE__SNAPSHOT_BEGIN;
    emit_msg("request", "snapshot-begin", &r.base);
    r.phase = ZKV__SNAPSHOT_PHASE__SNAPSHOT_CHUNK;
    r.n_items = 2;
    r.items = kvp;
    emit_msg("request", "snapshot-chunk", &r.base);
    r.n_items = 0;
    r.phase = ZKV__SNAPSHOT_PHASE__SNAPSHOT_END;
    r.n_history = 2;
    r.history = esp;
    r.seq = 41;
    emit_msg("request", "snapshot-end", &r.base);
    /* a GET whose id tag is padded to five bytes, the most protobuf-c reads */
    static const uint8_t padded[] = {0x88, 0x80, 0x80, 0x80, 0x00, 0x05, 0x10, 0x02};
    emit("request", "padded-tag", padded, sizeof padded);
    emit("response", "padded-tag", padded, sizeof padded);
    /* ttl_ms (19, a varint) sent as empty bytes: protobuf-c refuses it (found by fuzzing) */
    static const uint8_t ttl_as_bytes[] = {0x9a, 0x01, 0x00};
    emit("response", "ttl-as-bytes", ttl_as_bytes, sizeof ttl_as_bytes);
}

static void appends(void)
{
    Zkv__LogEntry e[3] = {ZKV__LOG_ENTRY__INIT, ZKV__LOG_ENTRY__INIT, ZKV__LOG_ENTRY__INIT};
    Zkv__LogEntry *ep[3] = {&e[0], &e[1], &e[2]};
    e[0].seq = 11;
    e[0].epoch = 2;
    e[0].op = ZKV__OP__PUT;
    e[0].key = bin("user:1", 6);
    e[0].value = bin("alice", 5);
    e[1].seq = 12;
    e[1].epoch = 2;
    e[1].op = ZKV__OP__DELETE;
    e[1].key = bin("user:\x00", 6);
    e[2].seq = 1ull << 33;
    e[2].epoch = 3;
    e[2].op = ZKV__OP__PUT;
    e[2].key = bin("k", 1);
    e[2].expiry_ms = 1700000000000ull;
    e[2].client_id = 0x0123456789abcdefull; /* a conditional write's */
    e[2].client_seq = 7;
    Zkv__Request r = ZKV__REQUEST__INIT;
    r.id = 9;
    r.op = ZKV__OP__APPEND;
    r.range_id = "r0003";
    r.epoch = 2;
    emit_msg("append", "heartbeat", &r.base);
    r.prev_seq = 10;
    r.prev_epoch = 2;
    r.commit_seq = 10;
    r.map_version = 12;
    r.owner_time_ms = 1700000000123ull; /* the owner's clock and log end */
    r.head_seq = 1ull << 33;
    r.n_entries = 1;
    r.entries = ep;
    emit_msg("append", "one-entry", &r.base);
    r.n_entries = 3;
    r.id = 1ull << 35;
    emit_msg("append", "three-entries", &r.base);
    Zkv__LogEntry empty = ZKV__LOG_ENTRY__INIT;
    Zkv__LogEntry *emp = &empty;
    r.n_entries = 1;
    r.entries = &emp;
    emit_msg("append", "empty-entry", &r.base);
}

static void responses(void)
{
    Zkv__Response r = ZKV__RESPONSE__INIT;
    r.id = 2;
    r.value = bin("alice", 5);
    r.epoch = 2;
    r.seq = 11;
    r.map_version = 7;
    emit_msg("response", "get-ok", &r.base);
    r.stale = 1;
    r.range_epoch = 2;
    r.range_seq = 40;
    emit_msg("response", "get-stale", &r.base);
    r.lag_ms = 120;
    r.lag_entries = 3;
    emit_msg("response", "get-stale-lag", &r.base);
    r.status = ZKV__STATUS__TOO_STALE;
    r.value = bin("", 0);
    r.lag_ms = UINT64_MAX;
    r.message = "replica node-2 of range r0003 has not held all its owner had since it started";
    emit_msg("response", "too-stale", &r.base);
    zkv__response__init(&r);
    r.id = 3;
    r.status = ZKV__STATUS__NOT_FOUND;
    r.map_version = 7;
    emit_msg("response", "not-found", &r.base);
    r.status = ZKV__STATUS__NOT_OWNER;
    r.message = "node-2 does not own key 'user:1' (map version 7)";
    emit_msg("response", "not-owner", &r.base);
    zkv__response__init(&r);
    r.id = 1;
    r.node_id = "node-1";
    r.cluster_id = "0a02de7e5cc0daf5";
    r.map_version = 7;
    emit_msg("response", "hello", &r.base);

    Zkv__KeyValue kv[2] = {ZKV__KEY_VALUE__INIT, ZKV__KEY_VALUE__INIT};
    Zkv__KeyValue *kvp[2] = {&kv[0], &kv[1]};
    kv[0].key = bin("a1", 2);
    kv[0].value = bin("x", 1);
    kv[0].epoch = 1;
    kv[0].seq = 5;
    kv[1].key = bin("a2", 2);
    zkv__response__init(&r);
    r.id = 4;
    r.n_items = 2;
    r.items = kvp;
    r.more = 1;
    r.next_key = bin("a3", 2);
    emit_msg("response", "scan-page", &r.base);

    Zkv__ReplicaStatus rs = ZKV__REPLICA_STATUS__INIT;
    Zkv__ReplicaStatus *rsp = &rs;
    rs.node_id = "node-3";
    rs.acked_seq = 39;
    rs.connected = 1;
    rs.lag_ms = 12;
    zkv__response__init(&r);
    r.id = 5;
    r.range_id = "r0003";
    r.range_epoch = 2;
    r.range_seq = 40;
    r.owner = 1;
    r.n_replicas = 1;
    r.replicas = &rsp;
    emit_msg("response", "range-status", &r.base);
    zkv__response__init(&r);
    r.id = 9;
    r.status = ZKV__STATUS__LOG_MISMATCH;
    r.message = "range r0003: APPEND after (2, 10) but the last entry here is (2, 9)";
    r.range_id = "r0003";
    r.range_epoch = 2;
    r.range_seq = 9;
    emit_msg("response", "append-mismatch", &r.base);
    r.status = ZKV__STATUS__STALE_EPOCH;
    emit_msg("response", "append-stale-epoch", &r.base);
}

/* A limit byte, a chunking seed byte, then part of the stream of every message above. */
static void frames(void)
{
    uint8_t buf[4096];
    size_t n = stream.len < sizeof buf - 2 ? stream.len : sizeof buf - 2;
    static const struct {
        const char *name;
        uint8_t limit, seed;
        size_t take;
    } cases[] = {
        {"all-node-limit", 5, 7, 0}, {"all-tiny-chunks", 6, 4, 0}, {"oversized-64", 3, 9, 0},
        {"partial-last", 5, 1, 1},   {"zero-limit", 0, 2, 64},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t take = cases[i].take == 0 ? n : cases[i].take == 1 ? n - 3 : cases[i].take;
        buf[0] = cases[i].limit;
        buf[1] = cases[i].seed;
        memcpy(buf + 2, stream.data, take);
        emit("frame", cases[i].name, buf, take + 2);
    }
    /* a frame whose header announces more than any limit, then a GET */
    static const uint8_t huge[] = {5, 3, 0x7f, 0xff, 0xff, 0xff, 0x08, 0x2a, 0x10, 0x02};
    emit("frame", "oversized-announced", huge, sizeof huge);
}

static void emit_json(const char *name, uint8_t kind, char *json)
{
    if (!json)
        abort();
    size_t len = strlen(json);
    uint8_t *p = malloc(len + 2);
    if (!p)
        abort();
    p[0] = kind;
    memcpy(p + 1, json, len + 1); /* the NUL is not written out */
    emit("znode", name, p, len + 1);
    free(p);
    free(json);
}

static void znodes(void)
{
    /* kinds as fuzz_znode.c numbers them: cluster, node, range, op, map, stats */
    zkv_cluster_info c = {"0a02de7e5cc0daf5", "2026-11-22T13:32:07.525Z", 3, 1};
    emit_json("cluster", 0, zkv_cluster_to_json(&c));
    zkv_node_info nd = {"node-1", "127.0.0.1:7401", 4, "zone-a", "0.1.0", false};
    emit_json("node", 1, zkv_node_to_json(&nd));
    nd.leaving = true;
    emit_json("node-leaving", 1, zkv_node_to_json(&nd));

    zkv_range r;
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "r0003");
    if (zkv_range_set_bounds(&r, (const uint8_t *)"`\x00", 2, (const uint8_t *)"\x80\x00", 2))
        abort();
    snprintf(r.owner, sizeof r.owner, "node-1");
    snprintf(r.replicas[0], ZKV_ID_MAX, "node-3");
    snprintf(r.replicas[1], ZKV_ID_MAX, "node-2");
    r.n_replicas = 2;
    snprintf(r.in_sync[0], ZKV_ID_MAX, "node-3");
    r.n_in_sync = 1;
    r.epoch = 5;
    emit_json("range", 2, zkv_range_to_json(&r));
    snprintf(r.handoff, sizeof r.handoff, "node-3");
    snprintf(r.leaving, sizeof r.leaving, "node-2");
    emit_json("range-handoff", 2, zkv_range_to_json(&r));
    r.handoff[0] = r.leaving[0] = '\0';
    r.n_parents = 2;
    snprintf(r.parents[0].id, ZKV_ID_MAX, "r0002");
    r.parents[0].epoch = 4;
    r.parents[0].seq = 100;
    snprintf(r.parents[1].id, ZKV_ID_MAX, "r0003");
    r.parents[1].epoch = 5;
    r.parents[1].seq = 1ull << 40;
    emit_json("range-parents", 2, zkv_range_to_json(&r));
    r.n_parents = 0;
    r.split_asked = true;
    if (zkv_range_set_split_key(&r, (const uint8_t *)"p\\q\x01", 4))
        abort();
    snprintf(r.split_ids[0], ZKV_ID_MAX, "r12a");
    snprintf(r.split_ids[1], ZKV_ID_MAX, "r12b");
    emit_json("range-split", 2, zkv_range_to_json(&r));
    r.split_asked = false;
    snprintf(r.merge_with, sizeof r.merge_with, "r0004");
    snprintf(r.merge_id, sizeof r.merge_id, "r12m");
    emit_json("range-merge", 2, zkv_range_to_json(&r));
    zkv_range_clear(&r);
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "r0000");
    emit_json("range-unowned", 2, zkv_range_to_json(&r));

    static const struct {
        zkv_op_kind kind;
        const char *name;
    } ops[] = {{ZKV_OP_MOVE, "op-move"},       {ZKV_OP_DRAIN, "op-drain"},
               {ZKV_OP_UNDRAIN, "op-undrain"}, {ZKV_OP_SET_REPLICAS, "op-set-replicas"},
               {ZKV_OP_SPLIT, "op-split"},     {ZKV_OP_MERGE, "op-merge"}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        zkv_op op;
        zkv_op_init(&op, ops[i].kind, 1795000000000ull);
        snprintf(op.range, sizeof op.range, "r0003");
        snprintf(op.node, sizeof op.node, "node-2");
        op.replicas = 3;
        if (ops[i].kind == ZKV_OP_SPLIT) {
            op.key[0] = 'm'; /* "m\x00" */
            op.key[1] = 0;
            op.key_len = 2;
            op.node[0] = '\0';
        }
        if (ops[i].kind == ZKV_OP_DRAIN) {
            snprintf(op.step, sizeof op.step, "failed");
            op.attempts = 2;
            snprintf(op.error, sizeof op.error, "node node-2 is gone");
        }
        emit_json(ops[i].name, 3, zkv_op_to_json(&op));
    }
    emit_json("map", 4, zkv_mapver_to_json(12));
    static const char stats[] =
        "{\"node\":\"node-1\",\"updated\":\"2026-11-22T13:32:07.525Z\",\"interval_ms\":10000,"
        "\"ranges\":[{\"id\":\"r0003\",\"epoch\":2,\"seq\":40,\"bytes\":1048576,"
        "\"writes_per_s\":12.5,\"write_bytes_per_s\":1200}]}";
    char *s = malloc(sizeof stats);
    if (!s)
        abort();
    memcpy(s, stats, sizeof stats);
    emit_json("stats", 5, s);
}

static void lines(void)
{
    static const struct {
        const char *name, *line;
    } cases[] = {
        {"put", "put user:1 alice"},
        {"double-quotes", "put \"key with spaces\" \"a \\\"quoted\\\" value\\n\""},
        {"single-quotes", "put k 'it\\'s a \\\\ value'"},
        {"hex-escapes", "scan \\x00 \"\\xff\\xFE\" limit 10"},
        {"joined-pieces", "get \"a\"'b'c\"\""},
        {"comment", "  # a comment"},
        {"blanks", " \t\r\n"},
        {"admin", "admin move r0003 node-2"},
        {"unterminated", "get \"open"},
        {"bad-escape", "get a\\q"},
        {"trailing-backslash", "get a\\"},
        {"short-hex", "get \\x4"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        emit("tokenize", cases[i].name, cases[i].line, strlen(cases[i].line));
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR (writes DIR/<target>/<seed>)\n", argv[0]);
        return 2;
    }
    root = argv[1];
    if (mkdir(root, 0755) != 0 && errno != EEXIST) {
        perror(root);
        return 1;
    }
    zkv_buf_init(&stream);
    requests();
    appends();
    responses();
    frames();
    znodes();
    lines();
    zkv_buf_free(&stream);
    return failed;
}
