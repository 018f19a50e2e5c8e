/* fuzz_frame.c: libFuzzer target for the frame reader of common/src/frame.c and the byte
 * buffer it reads from (common/src/buf.c). Why: every byte a node, a client or a peer
 * receives goes through zkv_frame_parse first, and an oversized frame's id through
 * zkv_frame_peek_id, before anything has checked it. The input is a limit byte, a
 * chunking seed byte, then the stream. Checked:
 * - zkv_frame_parse reads only inside what it is given and says OK, NEED_MORE or
 *   TOO_LARGE exactly as the 4-byte big-endian header and the limit decide;
 * - the stream fed in chunks of varied sizes into a zkv_buf, consumed and compacted as the
 *   connections do (oversized frames skipped, as server/conn.c skips them), gives the same
 *   frames as the stream parsed in one piece;
 * - zkv_frame_peek_id finds the id exactly when the payload starts with field 1 as a
 *   varint of at most 64 bits, and that id. */
#include "fuzz_common.h"

#define MAX_FRAMES 4096

typedef struct {
    size_t n;
    size_t off[MAX_FRAMES], len[MAX_FRAMES]; /* payloads, by offset in the stream */
    size_t skipped;                          /* oversized frames */
} frames;

/* The reference reading of a payload's leading id: tag 0x08, then a varint of at most ten
 * bytes whose value fits 64 bits. */
static int ref_peek_id(const uint8_t *p, size_t len, uint64_t *id)
{
    if (len < 2 || p[0] != 0x08)
        return -1;
    uint64_t v = 0;
    for (size_t i = 1; i < len && i <= 10; i++) {
        uint64_t b = p[i] & 0x7f;
        if (i == 10 && b > 1)
            return -1;
        v |= b << (7 * (i - 1));
        if (!(p[i] & 0x80)) {
            *id = v;
            return 0;
        }
    }
    return -1;
}

static void check_peek(const uint8_t *payload, size_t len)
{
    uint8_t *copy = fuzz_dup(payload, len); /* exactly len bytes */
    uint64_t id = 0, want = 0;
    int rc = zkv_frame_peek_id(copy, len, &id), ref = ref_peek_id(copy, len, &want);
    FUZZ_CHECK(rc == ref && (rc != 0 || id == want), "peek_id %d/%llu, reference %d/%llu", rc,
               (unsigned long long)id, ref, (unsigned long long)want);
    free(copy);
}

/* One call of the parser on buf[0..len) (an exact-size copy), checked against the header. */
static zkv_frame_result parse(const uint8_t *buf, size_t len, size_t max, size_t *plen,
                              size_t *consumed)
{
    uint8_t *copy = fuzz_dup(buf, len);
    const uint8_t *payload = NULL;
    zkv_frame_result r = zkv_frame_parse(copy, len, max, &payload, plen, consumed);
    if (len < ZKV_FRAME_HEADER_LEN) {
        FUZZ_CHECK(r == ZKV_FRAME_NEED_MORE, "%d on %zu bytes", r, len);
    } else {
        size_t declared =
            (size_t)buf[0] << 24 | (size_t)buf[1] << 16 | (size_t)buf[2] << 8 | buf[3];
        if (declared > max)
            FUZZ_CHECK(r == ZKV_FRAME_TOO_LARGE && *plen == declared &&
                           *consumed == ZKV_FRAME_HEADER_LEN,
                       "oversized %zu over %zu: %d", declared, max, r);
        else if (len - ZKV_FRAME_HEADER_LEN < declared)
            FUZZ_CHECK(r == ZKV_FRAME_NEED_MORE, "partial: %d", r);
        else
            FUZZ_CHECK(r == ZKV_FRAME_OK && *plen == declared &&
                           *consumed == ZKV_FRAME_HEADER_LEN + declared &&
                           payload == copy + ZKV_FRAME_HEADER_LEN,
                       "whole: %d", r);
        uint8_t hdr[ZKV_FRAME_HEADER_LEN];
        zkv_frame_put_header(hdr, (uint32_t)declared);
        FUZZ_CHECK(memcmp(hdr, buf, sizeof hdr) == 0, "put_header differs");
    }
    free(copy);
    return r;
}

/* The stream parsed in one piece. */
static void parse_whole(const uint8_t *s, size_t len, size_t max, frames *f)
{
    size_t off = 0;
    while (off < len && f->n < MAX_FRAMES) {
        size_t plen = 0, consumed = 0;
        zkv_frame_result r = parse(s + off, len - off, max, &plen, &consumed);
        if (r == ZKV_FRAME_NEED_MORE)
            break;
        if (r == ZKV_FRAME_TOO_LARGE) {
            f->skipped++;
            if (plen > len - off - ZKV_FRAME_HEADER_LEN)
                break;
            off += ZKV_FRAME_HEADER_LEN + plen;
            continue;
        }
        check_peek(s + off + ZKV_FRAME_HEADER_LEN, plen);
        f->off[f->n] = off + ZKV_FRAME_HEADER_LEN;
        f->len[f->n++] = plen;
        off += consumed;
    }
}

/* The stream fed in chunks into a buffer, as a connection reads it. */
static void parse_chunked(const uint8_t *s, size_t len, size_t max, uint8_t seed,
                          const frames *want)
{
    zkv_buf in;
    zkv_buf_init(&in);
    size_t fed = 0, got = 0, skipped = 0;
    uint64_t skip = 0;
    uint32_t rnd = seed * 2654435761u + 1;
    bool full = want->n == MAX_FRAMES, stop = false;
    while (!stop && fed < len) {
        rnd = rnd * 1103515245u + 12345u;
        size_t chunk = 1 + (rnd >> 16) % (seed % 4 == 0 ? 3 : 64);
        if (chunk > len - fed)
            chunk = len - fed;
        zkv_buf_compact(&in);
        FUZZ_CHECK(zkv_buf_append(&in, s + fed, chunk) == 0, "append");
        fed += chunk;
        while (!stop) {
            size_t avail = zkv_buf_unread(&in);
            if (skip) {
                size_t n = avail < skip ? avail : (size_t)skip;
                zkv_buf_consume(&in, n);
                skip -= n;
                if (skip)
                    break;
                continue;
            }
            const uint8_t *payload;
            size_t plen, consumed;
            zkv_frame_result r =
                zkv_frame_parse(zkv_buf_head(&in), avail, max, &payload, &plen, &consumed);
            if (r == ZKV_FRAME_NEED_MORE)
                break;
            if (r == ZKV_FRAME_TOO_LARGE) {
                skipped++;
                skip = (uint64_t)ZKV_FRAME_HEADER_LEN + plen;
                continue;
            }
            if (got == want->n) {
                FUZZ_CHECK(full, "more frames in chunks than in one piece");
                stop = true;
                break;
            }
            FUZZ_CHECK(fuzz_same(payload, plen, s + want->off[got], want->len[got]),
                       "frame %zu differs when read in chunks", got);
            got++;
            zkv_buf_consume(&in, consumed);
        }
    }
    FUZZ_CHECK(got == want->n, "%zu frames in chunks, %zu in one piece", got, want->n);
    FUZZ_CHECK(full || skipped == want->skipped, "skipped %zu, %zu in one piece", skipped,
               want->skipped);
    zkv_buf_free(&in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    /* limits from tiny to the client's, through the node's default */
    static const size_t limits[] = {0, 1, 8, 64, 300, 4096, ZKV_MAX_RESPONSE_FRAME};
    size_t max = limits[data[0] % (sizeof limits / sizeof limits[0])];
    uint8_t seed = data[1];
    const uint8_t *s = data + 2;
    size_t len = size - 2;
    static frames f;
    f.n = 0;
    f.skipped = 0;
    parse_whole(s, len, max, &f);
    parse_chunked(s, len, max, seed, &f);
    return 0;
}
