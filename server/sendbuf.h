/* sendbuf.h: writing a buffered output to a libuv TCP handle, shared by the client
 * connections (conn.c, where it lives) and the replication links (peerlink.c). */
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
int zkv_send_buffered(uv_tcp_t *t, zkv_buf *out, zkv_buf *wbuf, uv_write_t *req, uv_write_cb cb,
                      void *data, bool try_first);

#endif
