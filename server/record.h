/* record.h: the LevelDB key and record formats of a node's store (docs/internals.md),
 * as pure encode/decode functions over byte buffers. No I/O, no LevelDB.
 *
 *   'd' + user key                      value record
 *   'l' + range id + 0x00 + u64be seq   log entry, or a chunk of entries from seq on
 *   'r' + range id                      range state
 *   'e' + range id + 0x00 + u64be epoch u64be start_seq: first seq written in that epoch
 *   'p' + range id                      u64be epoch: a snapshot of that epoch is being
 *                                       received (the range's data is incomplete)
 *
 * value record: u8 format (1), u8 flags (0), u64be epoch, u64be seq, u64be expiry_ms,
 *               value bytes; or format 2 (the value is in the value log, vlog.h) with
 *               a value pointer instead of the bytes: u32be file, u64be offset,
 *               u32be record length, u32be value length
 * log entry:    u8 op (1 put, 2 delete), u64be epoch, u32be key length, key, and for a
 *               put the value record; a conditional write's entry has the op's bit 0x80
 *               set and u64be client id, u64be client seq after the epoch (its retries
 *               are recognised by them, server/dedupe.h); an atomic batch's entry has
 *               bit 0x40 set and then u64be batch end (the seq of its last entry)
 * log chunk:    u8 0x10, u64be last seq, then for each seq from the key's to the last:
 *               u32be length, log entry (a batch's small entries of one range as one
 *               record: LevelDB's cost is per record)
 * range state:  u64be epoch, u64be last seq
 *
 * Errors: encoders append to a zkv_buf and return 0 or -1 (ENOMEM); decoders return 0,
 * or -1 for a malformed or unknown-format record. Decoded pointers alias the input. */
#ifndef ZKV_SERVER_RECORD_H
#define ZKV_SERVER_RECORD_H
#include <stddef.h>
#include <stdint.h>
#include "common/buf.h"

#define ZKV_REC_FORMAT 1u
#define ZKV_REC_VALUE_HDR 26u /* bytes of a value record before the value */
#define ZKV_REC_RANGE_STATE_LEN 16u
#define ZKV_REC_DATA_PREFIX 'd'
#define ZKV_REC_LOG_PREFIX 'l'
#define ZKV_REC_RANGE_PREFIX 'r'
#define ZKV_REC_EPOCH_PREFIX 'e'
#define ZKV_REC_SNAP_PREFIX 'p'

typedef enum {
    ZKV_LOG_OP_PUT = 1,
    ZKV_LOG_OP_DELETE = 2,
} zkv_log_op;

/* Version and expiry stored with every value. */
typedef struct zkv_value_meta {
    uint8_t flags;  /* 0 for now; room for tombstones, compression, ... */
    uint64_t epoch; /* (epoch, seq) of the write that stored the value */
    uint64_t seq;
    uint64_t expiry_ms; /* wall-clock expiry, 0 = none */
} zkv_value_meta;

/* meta.flags bit, in memory only: the value record is of format 2 and its "value" is a
 * value pointer (zkv_rec_vptr_decode); the store resolves it before anyone else sees it. */
#define ZKV_VALUE_INDIRECT 0x80u
#define ZKV_REC_FORMAT_INDIRECT 2u
#define ZKV_REC_VPTR_LEN 20u

/* Where a value-log value is (vlog.h): its record at off in file, rec_len bytes long,
 * ending with the vlen value bytes. */
typedef struct zkv_vptr {
    uint32_t file;
    uint64_t off;
    uint32_t rec_len;
    uint32_t vlen;
} zkv_vptr;

typedef struct zkv_value_view {
    zkv_value_meta meta;
    const uint8_t *value;
    size_t value_len;
} zkv_value_view;

/* What a log entry carries beside the write: a conditional write's client id and request
 * sequence (0, 0: none), so that every copy of the range knows which requests it applied,
 * and for an entry of an atomic batch the seq of the batch's last entry (0: none), so the
 * batch is shipped and applied whole. */
typedef struct zkv_write_tag {
    uint64_t client_id;
    uint64_t client_seq;
    uint64_t batch_end;
} zkv_write_tag;

#define ZKV_REC_LOG_TAGGED 0x80u /* the op byte's bit: client id and seq follow the epoch */
#define ZKV_REC_LOG_BATCH 0x40u  /* the op byte's bit: the batch end follows them */

typedef struct zkv_log_view {
    zkv_log_op op;
    uint64_t epoch;
    zkv_write_tag tag; /* 0, 0 for an entry without one */
    const uint8_t *key;
    size_t key_len;
    zkv_value_view value; /* put only */
} zkv_log_view;

/* One entry of a range's epoch history: the first seq written in epoch. */
typedef struct zkv_epoch_start {
    uint64_t epoch;
    uint64_t start_seq;
} zkv_epoch_start;

typedef struct zkv_range_state_rec {
    uint64_t epoch;
    uint64_t last_seq;
} zkv_range_state_rec;

void zkv_put_u64be(uint8_t *p, uint64_t v);
uint64_t zkv_get_u64be(const uint8_t *p);
void zkv_put_u32be(uint8_t *p, uint32_t v);
uint32_t zkv_get_u32be(const uint8_t *p);

/* 'd' + key. */
int zkv_rec_data_key(zkv_buf *out, const uint8_t *key, size_t klen);
/* Strips the 'd' prefix: returns 0 and sets key and klen, or -1 for another kind of key. */
int zkv_rec_data_key_decode(const uint8_t *k, size_t len, const uint8_t **key, size_t *klen);

/* 'l' + range id + 0x00 + u64be seq. The range id holds no NUL (ids are [A-Za-z0-9._-]),
 * so every log key of one range sorts together, in seq order. */
int zkv_rec_log_key(zkv_buf *out, const char *range_id, uint64_t seq);
/* range_id receives the id (NUL-terminated, at most idlen-1 bytes). */
int zkv_rec_log_key_decode(const uint8_t *k, size_t len, char *range_id, size_t idlen,
                           uint64_t *seq);

/* 'r' + range id. */
int zkv_rec_range_key(zkv_buf *out, const char *range_id);
int zkv_rec_range_key_decode(const uint8_t *k, size_t len, char *range_id, size_t idlen);

/* 'e' + range id + 0x00 + u64be epoch (the value is a u64be start seq). */
int zkv_rec_epoch_key(zkv_buf *out, const char *range_id, uint64_t epoch);
int zkv_rec_epoch_key_decode(const uint8_t *k, size_t len, char *range_id, size_t idlen,
                             uint64_t *epoch);

/* 'p' + range id (the value is the u64be epoch of the snapshot being received). */
int zkv_rec_snap_key(zkv_buf *out, const char *range_id);
int zkv_rec_snap_key_decode(const uint8_t *k, size_t len, char *range_id, size_t idlen);

/* A bare u64be (epoch history and snapshot marker values). */
int zkv_rec_u64_encode(zkv_buf *out, uint64_t v);
int zkv_rec_u64_decode(const uint8_t *rec, size_t len, uint64_t *out);

/* A meta with ZKV_VALUE_INDIRECT writes format 2: value must then be a pointer's
 * ZKV_REC_VPTR_LEN bytes (zkv_rec_vptr_encode). Decoding format 2 sets that bit and
 * checks the length. */
int zkv_rec_value_encode(zkv_buf *out, const zkv_value_meta *m, const uint8_t *value, size_t vlen);
/* The record's first ZKV_REC_VALUE_HDR bytes, which its value follows. */
void zkv_rec_value_head(uint8_t out[ZKV_REC_VALUE_HDR], const zkv_value_meta *m);
int zkv_rec_value_decode(const uint8_t *rec, size_t len, zkv_value_view *out);
void zkv_rec_vptr_encode(uint8_t out[ZKV_REC_VPTR_LEN], const zkv_vptr *p);
/* 0, or -1 unless len is ZKV_REC_VPTR_LEN. */
int zkv_rec_vptr_decode(const uint8_t *p, size_t len, zkv_vptr *out);

/* A put entry carries the value record of the write; a delete entry none (value/m ignored).
 * tag: a conditional write's (NULL, or 0, 0: an entry without one, as before tags). */
int zkv_rec_log_encode(zkv_buf *out, zkv_log_op op, uint64_t epoch, const zkv_write_tag *tag,
                       const uint8_t *key, size_t klen, const zkv_value_meta *m,
                       const uint8_t *value, size_t vlen);
int zkv_rec_log_decode(const uint8_t *rec, size_t len, zkv_log_view *out);

/* Log chunks: the value of a log key holds one entry (its first byte an op) or a chunk of
 * consecutive entries (its first byte ZKV_REC_LOG_CHUNK, never an op's). */
#define ZKV_REC_LOG_CHUNK 0x10u
#define ZKV_REC_LOG_CHUNK_HDR 9u
/* Appends entry rec[0..len) to the chunk being built in out (its header first when out is
 * empty). 0, or -1 out of memory. */
int zkv_rec_chunk_append(zkv_buf *out, const uint8_t *rec, size_t len);
/* The LevelDB value for the chunk built in b of entries first..last: the chunk with its
 * last seq in the header, or, for one entry, that entry bare (as entries were written
 * before chunks). Sets *len; points into b. */
const uint8_t *zkv_rec_chunk_finish(zkv_buf *b, uint64_t first, uint64_t last, size_t *len);
/* The last seq of the log key's value v (an entry: the key's seq). 0, or -1 malformed. */
int zkv_rec_log_value_last(const uint8_t *v, size_t vlen, uint64_t key_seq, uint64_t *last);
/* Calls fn for each entry of the log key's value v (seq from key_seq on) until fn returns
 * non-zero. Returns what fn last returned (0: all seen), or -1 when v is malformed (a chunk
 * whose entries do not fill it, or do not number last - key_seq + 1). */
typedef int (*zkv_rec_entry_fn)(void *ctx, uint64_t seq, const uint8_t *rec, size_t len);
int zkv_rec_log_value_walk(const uint8_t *v, size_t vlen, uint64_t key_seq, zkv_rec_entry_fn fn,
                           void *ctx);

int zkv_rec_range_state_encode(zkv_buf *out, const zkv_range_state_rec *st);
int zkv_rec_range_state_decode(const uint8_t *rec, size_t len, zkv_range_state_rec *out);

#endif
