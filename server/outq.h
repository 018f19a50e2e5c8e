/* outq.h: a connection's queue of answer bytes in which large GET values are not copied:
 * the queue holds the framed bytes and, between them, references to the values as the store
 * handed them out (row-cache entries or buffers of their own, store.h), which are written
 * to the socket from where they are (writev) and released once sent. Issue 14 item 3:
 * a 100 KB value was copied into the output buffer before the kernel copied it again.
 * Loop thread only. */
#ifndef ZKV_SERVER_OUTQ_H
#define ZKV_SERVER_OUTQ_H
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>
#include "common/buf.h"
#include "store.h"

/* Values shorter than this are copied into the bytes: a reference costs more than a copy. */
#define ZKV_OUTQ_SPLICE_MIN ((size_t)8192)

typedef struct zkv_outq_ref zkv_outq_ref;

typedef struct zkv_outq {
    zkv_buf b;          /* the bytes (frames), appended with zkv_outq_bytes */
    zkv_outq_ref *refs; /* values, in order, each after the byte position it was added at */
    size_t head, n, cap;
    size_t gone;      /* bytes of b consumed since the queue was last empty */
    size_t ref_bytes; /* value bytes not yet sent */
} zkv_outq;

void zkv_outq_init(zkv_outq *q);
/* Releases every value and frees the memory; q is empty and reusable afterwards. */
void zkv_outq_free(zkv_outq *q);
/* Drops what is queued (values released), keeping the memory. */
void zkv_outq_clear(zkv_outq *q);
/* Where to append bytes: they follow every value added before. */
static inline zkv_buf *zkv_outq_bytes(zkv_outq *q)
{
    return &q->b;
}
/* Bytes queued, values included. */
size_t zkv_outq_unread(const zkv_outq *q);
/* Room for one more value: call before appending the frame head a value completes. */
int zkv_outq_reserve(zkv_outq *q);
/* Queues len bytes at p, which v holds, after the bytes appended so far, and takes v over
 * (released once sent or dropped; *v is left empty). zkv_outq_reserve must have succeeded
 * since the last add. */
void zkv_outq_add(zkv_outq *q, zkv_store_value *v, const uint8_t *p, size_t len);

/* Sends q on t: first what the socket takes now (uv_try_write) when try_first, then the
 * rest by one uv_write of req (req->data = data, cb when it completes), q and wq swapping
 * roles (wq must be empty: the caller waits for cb before sending again; its values are
 * released by zkv_outq_clear in cb). Returns 0 when everything went out, 1 when a write is
 * queued, or a libuv error. */
int zkv_outq_send(zkv_outq *q, zkv_outq *wq, uv_tcp_t *t, uv_write_t *req, uv_write_cb cb,
                  void *data, bool try_first);

#endif
