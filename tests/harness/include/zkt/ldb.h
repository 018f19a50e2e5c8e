/* ldb.h: reads a stopped server's LevelDB (DIR/db) with the LevelDB C API to check what
 * it stored. Keys and value records as in docs/internals.md: data key 'd' + user key,
 * value record u8 format (1), u8 flags, u64be epoch, u64be seq, u64be expiry_ms, bytes;
 * format 2 holds a value-log pointer instead of the bytes, which this reader follows into
 * DIR/db/vlog on its own (its own CRC-32C and record parser, not the server's). */
#ifndef ZKT_LDB_H
#define ZKT_LDB_H
#include <stddef.h>
#include <stdint.h>

#define ZKT_VALUE_HEADER 26

typedef struct zkt_ldb zkt_ldb;

/* Opens DIR/db (never creates it). NULL with a log line on error (e.g. still locked). */
zkt_ldb *zkt_ldb_open(const char *data_dir);
void zkt_ldb_close(zkt_ldb *db); /* NULL is a no-op */
/* Looks up user key. Returns 1 (found: *val malloc'd value bytes, caller frees; epoch/seq
 * filled when not NULL), 0 (absent), -1 (read error or malformed value record). */
int zkt_ldb_get(zkt_ldb *db, const void *key, size_t klen, uint8_t **val, size_t *vlen,
                uint64_t *epoch, uint64_t *seq);
/* Looks up a LevelDB key as it is (no 'd' prefix: the store's own records). Returns as
 * zkt_ldb_get. */
int zkt_ldb_get_raw(zkt_ldb *db, const void *key, size_t klen, uint8_t **val, size_t *vlen);
/* Calls fn for every user key of [start, end) in key order (data keys 'd' + key; slen 0:
 * from the first key, elen 0: to the last), with the value bytes and version of its
 * record. fn returns 0 to go on, anything else to stop (returned). Returns 0, or -1 on a
 * malformed record. */
typedef int (*zkt_ldb_fn)(void *arg, const uint8_t *key, size_t klen, const uint8_t *val,
                          size_t vlen, uint64_t epoch, uint64_t seq);
int zkt_ldb_foreach(zkt_ldb *db, const void *start, size_t slen, const void *end, size_t elen,
                    zkt_ldb_fn fn, void *arg);
/* Number of LevelDB keys starting with prefix. */
size_t zkt_ldb_count_prefix(zkt_ldb *db, const void *prefix, size_t plen);

#endif
