/* scan.h: the contents of zkv_scan and the merge of one node's scan page into it,
 * exposed for unit tests. */
#ifndef ZKV_CLIENT_SCAN_H
#define ZKV_CLIENT_SCAN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zkv/zkv.h"
#include "common/buf.h"
#include "common/frame.h"

typedef struct scan_item {
    size_t koff, klen, voff, vlen;
} scan_item;

struct zkv_scan {
    zkv_buf bytes; /* keys and values */
    scan_item *items;
    size_t n, cap;
    int more;
};

/* An empty result. NULL on ENOMEM. */
zkv_scan *zkv__scan_new(void);

/* Merges one page r, asked for from cursor (clen bytes): appends its items that lie in
 * [start, end) and above the last key kept, until s holds limit items; then *go_on says
 * whether the walk continues from r->next_key. ZKV_OK, ZKV_ENOMEM, or ZKV_EPROTOCOL (more
 * without a next key, or one that does not advance) with the reason in err. */
int zkv__scan_page(zkv_scan *s, const Zkv__Response *r, const uint8_t *cursor, size_t clen,
                   const uint8_t *start, size_t slen, const uint8_t *end, size_t elen, size_t limit,
                   const char *node, bool *go_on, char *err, size_t errlen);

#endif
