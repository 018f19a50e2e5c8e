/* uvstream.h: a node's libuv connection as a byte stream, plain or TLS behind one
 * interface, shared by the client connections (conn.c) and the replication links
 * (peerlink.c). Plain reads land in the caller's input buffer and writes go from its
 * output; with TLS (common/tls.h) reads land in the ciphertext buffer and their
 * plaintext is appended to the input, and the output is encrypted into the session's
 * outbox, which is what goes to the socket. The clients and the coordinator use the
 * poll(2) counterpart, common/stream.h. */
#ifndef ZKV_SERVER_UVSTREAM_H
#define ZKV_SERVER_UVSTREAM_H
#include <stdbool.h>
#include <uv.h>
#include "common/buf.h"
#include "common/tls.h"

typedef struct zkv_uvstream {
    zkv_tls *tls; /* NULL: plain */
    zkv_buf cin;  /* TLS: ciphertext read, not yet decrypted */
} zkv_uvstream;

/* A read's buffer: the free tail of in after compacting it, grown to at least want bytes
 * (buf->base NULL when that fails: libuv then reports UV_ENOBUFS). */
void zkv_uv_read_buf(zkv_buf *in, size_t want, uv_buf_t *buf);
/* Where the next read of st goes: in (plain) or st->cin (TLS). */
void zkv_uvstream_read_buf(zkv_uvstream *st, zkv_buf *in, size_t want, uv_buf_t *buf);
/* Takes n bytes just read into that buffer: their plaintext ends up in in. ZKV_TLS_OK,
 * ZKV_TLS_CLOSED (the peer ended the session) or ZKV_TLS_FAILED (zkv_tls_error). After
 * it, zkv_uvstream_held may be non-zero: handshake messages to send. */
int zkv_uvstream_got(zkv_uvstream *st, zkv_buf *in, size_t n);

/* Sends out on t (TLS: encrypted first, all of it): first straight to the socket
 * (uv_try_write: no request, no poll change) when try_first, then what it did not take by
 * one uv_write of req (req->data = data, cb when it completes), the buffer written from
 * and wbuf swapping roles so it is empty for the next answers. Returns 0 when everything
 * went out, 1 when a write is queued (the caller waits for cb before sending again), or a
 * libuv error (UV_EPROTO for a TLS failure). */
int zkv_uvstream_send(zkv_uvstream *st, uv_tcp_t *t, zkv_buf *out, zkv_buf *wbuf, uv_write_t *req,
                      uv_write_cb cb, void *data, bool try_first);
/* Bytes the TLS session holds to send (0 when plain). */
size_t zkv_uvstream_held(const zkv_uvstream *st);
/* Ends the TLS session and frees the buffer; st is plain and empty afterwards. */
void zkv_uvstream_free(zkv_uvstream *st);

#endif
