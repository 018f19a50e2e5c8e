/* buf.h: a growable byte buffer with a read offset, used for socket input/output and
 * for building frames. Errors: functions that can allocate return 0 or -1 (ENOMEM). */
#ifndef ZKV_COMMON_BUF_H
#define ZKV_COMMON_BUF_H
#include <stddef.h>
#include <stdint.h>

typedef struct zkv_buf {
    uint8_t *data; /* owned; NULL while cap == 0 */
    size_t len;    /* bytes written */
    size_t off;    /* bytes already consumed from the front */
    size_t cap;
} zkv_buf;

void zkv_buf_init(zkv_buf *b);
void zkv_buf_free(zkv_buf *b); /* frees data, leaves b empty and reusable */
/* Makes room for at least n more bytes after len. */
int zkv_buf_reserve(zkv_buf *b, size_t n);
int zkv_buf_append(zkv_buf *b, const void *p, size_t n);
/* Marks n bytes as consumed; when everything is consumed len and off return to 0. */
void zkv_buf_consume(zkv_buf *b, size_t n);
/* Moves unconsumed bytes to the front (call before reading more into the buffer). */
void zkv_buf_compact(zkv_buf *b);
static inline size_t zkv_buf_unread(const zkv_buf *b)
{
    return b->len - b->off;
}
static inline uint8_t *zkv_buf_head(const zkv_buf *b)
{
    return b->data + b->off;
}

#endif
