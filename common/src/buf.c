/* buf.c: growable byte buffer with a read offset. Growth doubles the capacity so that
 * appending n bytes costs amortised O(n); consumed bytes are reclaimed lazily (when the
 * buffer empties, or on an explicit compact) so reads never move memory. */
#include "common/buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void zkv_buf_init(zkv_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->off = 0;
    b->cap = 0;
}

void zkv_buf_free(zkv_buf *b)
{
    if (!b)
        return;
    free(b->data);
    zkv_buf_init(b);
}

int zkv_buf_reserve(zkv_buf *b, size_t n)
{
    if (n > SIZE_MAX - b->len) {
        errno = ENOMEM;
        return -1;
    }
    size_t need = b->len + n;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    uint8_t *p = realloc(b->data, cap);
    if (!p) {
        errno = ENOMEM;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

int zkv_buf_append(zkv_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    if (zkv_buf_reserve(b, n) != 0)
        return -1;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

void zkv_buf_consume(zkv_buf *b, size_t n)
{
    size_t unread = b->len - b->off;
    if (n > unread)
        n = unread;
    b->off += n;
    if (b->off == b->len) {
        b->off = 0;
        b->len = 0;
    }
}

void zkv_buf_compact(zkv_buf *b)
{
    if (b->off == 0)
        return;
    size_t unread = b->len - b->off;
    if (unread)
        memmove(b->data, b->data + b->off, unread);
    b->len = unread;
    b->off = 0;
}
