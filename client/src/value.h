/* value.h: the contents of zkv_value (an answer to a get), made by client.c and batch.c. */
#ifndef ZKV_CLIENT_VALUE_H
#define ZKV_CLIENT_VALUE_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "zkv/zkv.h"
#include "common/frame.h"
#include "common/rangemap.h"

struct zkv_value {
    unsigned char *data; /* len bytes plus a NUL, so text values print as they are */
    Zkv__Response *hold; /* the answer data points into (zkv__value_take), else NULL */
    size_t len;
    zkv_version version;
    zkv_version position; /* the answering node's (epoch, seq) in the range's log */
    int stale;
    char node[ZKV_ID_MAX];
    int64_t ttl_ms;               /* ms until it expires when read, -1: it does not expire */
    uint64_t lag_ms, lag_entries; /* a replica's answer: how far behind its owner it was */
};

/* The metadata of a get answer (all but the bytes) into v: its version, the node's
 * position, ttl and lag; stale when a replica answered (node). */
void zkv__value_meta(zkv_value *v, const Zkv__Response *resp, int stale, const char *node);
/* A new value holding a copy of resp's bytes and their metadata. NULL on ENOMEM. */
zkv_value *zkv__value_from(const Zkv__Response *resp, int stale, const char *node);
/* As zkv__value_from, but a large value in a block of zkv__response_decode is not copied:
 * the value takes *resp over (*resp is then NULL). */
#define ZKV__VALUE_TAKE_MIN ((size_t)4096)
zkv_value *zkv__value_take(Zkv__Response **resp, int stale, const char *node);

/* A new value holding a copy of data. NULL on ENOMEM. */
zkv_value *zkv__value_new(const void *data, size_t len, zkv_version ver, zkv_version position,
                          int stale, const char *node);

/* snprintf(dst, cap, "%s", src) without the formatting machinery: on the hot path (a node
 * id copied per call and per value) snprintf cost ~700 instructions, this ~40. cap > 0. */
static inline void zkv__copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

#endif
