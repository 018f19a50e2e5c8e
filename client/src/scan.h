/* scan.h: the contents of zkv_scan, the merge of one node's scan page into it (exposed
 * for unit tests), and the walk across ranges that both zkv_scan_range (scan.c, blocking)
 * and zkv_async_scan_range (async_scan.c) drive: its decisions (which page to ask for
 * next, what a page adds, when the scan ends) are pure, the I/O is the caller's. */
#ifndef ZKV_CLIENT_SCAN_H
#define ZKV_CLIENT_SCAN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zkv/zkv.h"
#include "common/buf.h"
#include "common/frame.h"
#include "scan_args.h"

typedef struct scan_item {
    size_t koff, klen, voff, vlen;
} scan_item;

struct zkv_scan {
    zkv_buf bytes; /* keys and values */
    scan_item *items;
    size_t n, cap;
    int more;
    int stale;     /* a replica answered a page */
    zkv_buf token; /* when more: continues after the last item (scan_args.h) */
};

/* An empty result. NULL on ENOMEM. */
zkv_scan *zkv__scan_new(void);

/* Merges one page r, asked for from cursor (clen bytes; reverse: the page's exclusive upper
 * bound, cur_inf when there is none yet): appends its items that lie in [start, end) and
 * beyond the last key kept (above it; reverse: below), until s holds limit items; then
 * *go_on says whether the walk continues from r->next_key. ZKV_OK, ZKV_ENOMEM, or
 * ZKV_EPROTOCOL (more without a next key, or one that does not advance) with err. */
int zkv__scan_page(zkv_scan *s, const Zkv__Response *r, bool reverse, const uint8_t *cursor,
                   size_t clen, bool cur_inf, const uint8_t *start, size_t slen, const uint8_t *end,
                   size_t elen, size_t limit, const char *node, bool *go_on, char *err,
                   size_t errlen);

/* A scan under way: the result being filled, its bounds and the cursor (the start key of
 * the next page; reverse: its exclusive upper bound, with cur_inf before the first page
 * of a scan without an end). It owns copies of the bounds, so the caller's may go away. */
typedef struct zkv__scan_walk {
    zkv_scan *s;
    zkv__scan_spec sp; /* bounds and flags (copies) */
    zkv_buf cur;       /* the cursor (never NULL data, even when empty) */
    bool cur_inf;
    zkv_buf rkey; /* reverse: a key of the range the next page asks (routing) */
    size_t limit;
} zkv__scan_walk;

/* Checks a scan's arguments for client c (ORs the client's default flags into *flags)
 * and starts the walk. ZKV_OK, or ZKV_EINVAL / ZKV_ETOOLARGE / ZKV_ENOMEM, published
 * (zkv_last_error) with w left empty. limit 0 means 1000. */
int zkv__scan_walk_begin(zkv__scan_walk *w, const zkv_client *c, const zkv_scan_args *a,
                         unsigned *flags);
/* The next page to ask for: true with *req's op, key, end key, limit and flags set and
 * *rkey the key it is routed by; false when the walk is over (the cursor reached the
 * bound, or the limit: then the result says more). */
bool zkv__scan_walk_next(zkv__scan_walk *w, Zkv__Request *req, const uint8_t **rkey, size_t *rklen);
/* Adds page r (the answer to the last zkv__scan_walk_next, from node; replica: a
 * replica answered) and moves the cursor; *go_on says whether to ask for the next page.
 * ZKV_OK, or ZKV_ENOMEM / ZKV_EPROTOCOL with the reason in err. */
int zkv__scan_walk_page(zkv__scan_walk *w, const Zkv__Response *r, const char *node, bool replica,
                        bool *go_on, char *err, size_t errlen);
/* Hands the result over (the caller's, zkv_scan_free); the walk keeps nothing. */
zkv_scan *zkv__scan_walk_take(zkv__scan_walk *w);
/* Frees what the walk holds (a result not taken too). */
void zkv__scan_walk_end(zkv__scan_walk *w);

#endif
