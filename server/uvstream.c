/* uvstream.c: plain and TLS byte streams over libuv TCP handles (uvstream.h). The write
 * path tries the socket first: a uv_write that completes costs libuv an epoll_ctl to stop
 * watching for writability, one per frame at pipeline 1. */
#include "uvstream.h"

#include <stdint.h>

#define TLS_READ_CHUNK ((size_t)64 * 1024)

void zkv_uv_read_buf(zkv_buf *in, size_t want, uv_buf_t *buf)
{
    zkv_buf_compact(in);
    if (zkv_buf_reserve(in, want) != 0) {
        buf->base = NULL;
        buf->len = 0;
        return;
    }
    buf->base = (char *)in->data + in->len;
    buf->len = in->cap - in->len;
}

void zkv_uvstream_read_buf(zkv_uvstream *st, zkv_buf *in, size_t want, uv_buf_t *buf)
{
    if (st->tls)
        zkv_uv_read_buf(&st->cin, TLS_READ_CHUNK, buf);
    else
        zkv_uv_read_buf(in, want, buf);
}

int zkv_uvstream_got(zkv_uvstream *st, zkv_buf *in, size_t n)
{
    if (!st->tls) {
        in->len += n;
        return ZKV_TLS_OK;
    }
    st->cin.len += n;
    int rc = zkv_tls_recv(st->tls, zkv_buf_head(&st->cin), zkv_buf_unread(&st->cin), in);
    zkv_buf_consume(&st->cin, zkv_buf_unread(&st->cin));
    return rc;
}

/* Writes as much of b as the socket takes now and consumes it from b. 0 (also when the
 * socket took nothing), or a libuv error. */
static int try_write(uv_tcp_t *t, zkv_buf *b)
{
    while (zkv_buf_unread(b) != 0) {
        size_t n = zkv_buf_unread(b);
        uv_buf_t ub = uv_buf_init((char *)zkv_buf_head(b), n > INT32_MAX ? INT32_MAX : (unsigned)n);
        int rc = uv_try_write((uv_stream_t *)t, &ub, 1);
        if (rc == UV_EAGAIN || rc == 0)
            return 0;
        if (rc < 0)
            return rc;
        zkv_buf_consume(b, (size_t)rc);
        if ((size_t)rc < ub.len)
            return 0; /* the socket is full: the rest waits for writability */
    }
    return 0;
}

int zkv_uvstream_send(zkv_uvstream *st, uv_tcp_t *t, zkv_buf *out, zkv_buf *wbuf, uv_write_t *req,
                      uv_write_cb cb, void *data, bool try_first)
{
    if (st->tls) {
        if (zkv_buf_unread(out) > 0 && zkv_tls_send(st->tls, out) != ZKV_TLS_OK)
            return UV_EPROTO;
        out = zkv_tls_outbox(st->tls);
    }
    if (try_first && zkv_buf_unread(out) != 0) {
        int rc = try_write(t, out);
        if (rc != 0)
            return rc;
    }
    if (zkv_buf_unread(out) == 0)
        return 0;
    zkv_buf tmp = *wbuf;
    *wbuf = *out;
    *out = tmp;
    out->len = out->off = 0;
    uv_buf_t b = uv_buf_init((char *)zkv_buf_head(wbuf), (unsigned)zkv_buf_unread(wbuf));
    req->data = data;
    int rc = uv_write(req, (uv_stream_t *)t, &b, 1, cb);
    return rc != 0 ? rc : 1;
}

size_t zkv_uvstream_held(const zkv_uvstream *st)
{
    return st->tls ? zkv_tls_held(st->tls) : 0;
}

void zkv_uvstream_free(zkv_uvstream *st)
{
    zkv_tls_free(st->tls);
    st->tls = NULL;
    zkv_buf_free(&st->cin);
}
