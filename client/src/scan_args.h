/* scan_args.h: what a scan walks, from the caller's zkv_scan_args: the bounds (a prefix
 * narrows them to the keys that begin with it), the order, keys only, and where to
 * continue when a resume token is given; and the token itself, which a result with more
 * to come carries (zkv_scan_token). A token holds the scan's bounds, flags and cursor, all
 * as keys: it keeps working across splits, merges and moves, which change which node
 * holds a key but never a key's place in the order. Pure. */
#ifndef ZKV_CLIENT_SCAN_ARGS_H
#define ZKV_CLIENT_SCAN_ARGS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zkv/zkv.h"
#include "common/buf.h"

typedef struct zkv__scan_spec {
    const uint8_t *start; /* keys >= start (slen 0: from the first) */
    size_t slen;
    const uint8_t *end; /* keys < end (elen 0: to the last) */
    size_t elen;
    const uint8_t *cursor; /* continue here (forward: the next key; reverse: below it) */
    size_t clen;
    bool has_cursor; /* false: from the beginning (reverse: from the last key) */
    bool reverse, keys_only;
    size_t limit;
    zkv_buf own; /* the bytes the pointers above may point into */
} zkv__scan_spec;

/* Builds sp from a (copied). ZKV_OK, ZKV_EINVAL with err (NULL pointers with lengths, a
 * token that is not one), or ZKV_ENOMEM. Free with zkv__scan_spec_free either way. */
int zkv__scan_spec_from(zkv__scan_spec *sp, const zkv_scan_args *a, char *err, size_t errlen);
void zkv__scan_spec_free(zkv__scan_spec *sp);

/* The first key after every key that begins with prefix (*len 0: there is none, the
 * prefix is all 0xff bytes): the prefix with its trailing 0xff bytes dropped and its last
 * byte incremented. out holds at least plen bytes. */
void zkv__prefix_end(const uint8_t *prefix, size_t plen, uint8_t *out, size_t *len);

/* Appends the token of a scan of sp that goes on at cursor. 0 or -1 (ENOMEM). */
int zkv__scan_token_encode(zkv_buf *out, const zkv__scan_spec *sp, const uint8_t *cursor,
                           size_t clen);

#endif
