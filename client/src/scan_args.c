/* scan_args.c: a scan's bounds, prefix and resume token (scan_args.h). A token is
 * "zs", version 1, a flags byte (1: reverse, 2: keys only), then start, end and cursor,
 * each a 16-bit big-endian length and its bytes. */
#include "scan_args.h"

#include <stdio.h>
#include <string.h>

#include "common/keyrange.h"

#define TOKEN_VERSION 1u
#define TOKEN_REVERSE 1u
#define TOKEN_KEYS_ONLY 2u

void zkv__prefix_end(const uint8_t *prefix, size_t plen, uint8_t *out, size_t *len)
{
    while (plen > 0 && prefix[plen - 1] == 0xff)
        plen--;
    if (plen > 0)
        memcpy(out, prefix, plen);
    if (plen > 0)
        out[plen - 1]++;
    *len = plen;
}

static int put_part(zkv_buf *out, const uint8_t *p, size_t n)
{
    uint8_t len[2] = {(uint8_t)(n >> 8), (uint8_t)n};
    return n > 0xffff || zkv_buf_append(out, len, 2) != 0 || (n && zkv_buf_append(out, p, n) != 0)
               ? -1
               : 0;
}

int zkv__scan_token_encode(zkv_buf *out, const zkv__scan_spec *sp, const uint8_t *cursor,
                           size_t clen)
{
    uint8_t head[4] = {
        'z', 's', TOKEN_VERSION,
        (uint8_t)((sp->reverse ? TOKEN_REVERSE : 0) | (sp->keys_only ? TOKEN_KEYS_ONLY : 0))};
    if (zkv_buf_append(out, head, sizeof head) != 0 || put_part(out, sp->start, sp->slen) != 0 ||
        put_part(out, sp->end, sp->elen) != 0 || put_part(out, cursor, clen) != 0)
        return -1;
    return 0;
}

/* The next part of a token at *p (n bytes left): offset of its bytes in the token and its
 * length; -1 when the token ends too soon. */
static int get_part(const uint8_t *t, size_t tlen, size_t *at, size_t *off, size_t *len)
{
    if (tlen - *at < 2)
        return -1;
    size_t n = ((size_t)t[*at] << 8) | t[*at + 1];
    if (tlen - *at - 2 < n)
        return -1;
    *off = *at + 2;
    *len = n;
    *at += 2 + n;
    return 0;
}

static int from_token(zkv__scan_spec *sp, const zkv_scan_args *a, char *err, size_t errlen)
{
    const uint8_t *t = a->token;
    size_t tlen = a->tlen, at = 4, off[3], len[3];
    if (tlen < 4 || t[0] != 'z' || t[1] != 's' || t[2] != TOKEN_VERSION || t[3] > 3 ||
        get_part(t, tlen, &at, &off[0], &len[0]) != 0 ||
        get_part(t, tlen, &at, &off[1], &len[1]) != 0 ||
        get_part(t, tlen, &at, &off[2], &len[2]) != 0 || at != tlen) {
        snprintf(err, errlen, "not a scan token (zkv_scan_token gives them)");
        return ZKV_EINVAL;
    }
    if (zkv_buf_append(&sp->own, t, tlen) != 0)
        return ZKV_ENOMEM;
    const uint8_t *b = sp->own.data;
    sp->reverse = (t[3] & TOKEN_REVERSE) != 0;
    sp->keys_only = (t[3] & TOKEN_KEYS_ONLY) != 0;
    sp->start = b + off[0];
    sp->slen = len[0];
    sp->end = b + off[1];
    sp->elen = len[1];
    sp->cursor = b + off[2];
    sp->clen = len[2];
    sp->has_cursor = true;
    return ZKV_OK;
}

int zkv__scan_spec_from(zkv__scan_spec *sp, const zkv_scan_args *a, char *err, size_t errlen)
{
    memset(sp, 0, sizeof *sp);
    zkv_buf_init(&sp->own);
    if (!a || (!a->start && a->slen) || (!a->end && a->elen) || (!a->prefix && a->plen) ||
        (!a->token && a->tlen)) {
        snprintf(err, errlen, "NULL scan arguments, or a NULL bound with a length");
        return ZKV_EINVAL;
    }
    sp->limit = a->limit;
    if (a->tlen)
        return from_token(sp, a, err, errlen);
    sp->reverse = a->reverse != 0;
    sp->keys_only = a->keys_only != 0;
    /* start' = max(start, prefix), end' = min(end, prefix_end), copied */
    const uint8_t *s = a->start, *e = a->end;
    size_t sl = a->slen, el = a->elen;
    if (zkv_buf_reserve(&sp->own, a->slen + a->elen + 2 * a->plen + 1) != 0 || !sp->own.data)
        return ZKV_ENOMEM;
    uint8_t *b = sp->own.data;
    if (a->plen) {
        if (sl == 0 || zkv_key_cmp(a->prefix, a->plen, s, sl) > 0) {
            s = a->prefix;
            sl = a->plen;
        }
        size_t pel;
        zkv__prefix_end(a->prefix, a->plen, b, &pel);
        if (pel && (el == 0 || zkv_key_cmp(b, pel, e, el) < 0)) {
            e = b; /* (already in place) */
            el = pel;
        }
        sp->own.len = pel;
    }
    size_t at = sp->own.len;
    if (e != b) {
        if (el)
            memcpy(b + at, e, el);
        sp->end = b + at;
        at += el;
    } else {
        sp->end = b;
    }
    sp->elen = el;
    if (sl)
        memcpy(b + at, s, sl);
    sp->start = b + at;
    sp->slen = sl;
    sp->own.len = at + sl;
    return ZKV_OK;
}

void zkv__scan_spec_free(zkv__scan_spec *sp)
{
    zkv_buf_free(&sp->own);
}
