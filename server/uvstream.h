/* sendbuf.h: buffered libuv socket I/O shared by the client connections (conn.c, where it
 * lives) and the replication links (peerlink.c): the input buffer handed to a read, and
 * the write of a buffered output. */
#ifndef ZKV_SERVER_SENDBUF_H
#define ZKV_SERVER_SENDBUF_H
#include <stdbool.h>
#include <uv.h>
#include "common/buf.h"

/* Sends out on t: first straight to the socket (uv_try_write: no request, no poll change)
 * when try_first, then what it did not take by one uv_write of req (req->data = data, cb
 * when it completes), out and wbuf swapping roles so out is empty for the next answers.
 * Returns 0 when everything went out (out is empty), 1 when a write is queued (the caller
 * waits for cb before sending again), or a libuv error. */
/* A read's buffer: the free tail of in after compacting it, grown to at least want bytes
 * (buf->base NULL when that fails: libuv then reports UV_ENOBUFS). */
void zkv_uv_read_buf(zkv_buf *in, size_t want, uv_buf_t *buf);

int zkv_send_buffered(uv_tcp_t *t, zkv_buf *out, zkv_buf *wbuf, uv_write_t *req, uv_write_cb cb,
                      void *data, bool try_first);

#endif
