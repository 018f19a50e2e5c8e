/* keyrange.c: key-range math over binary keys. Keys compare as unsigned bytes (memcmp)
 * with a proper prefix first; empty bounds mean unbounded. Pure functions, so the
 * routing logic built on them is tested without sockets or ZooKeeper. */
#include "common/keyrange.h"

#include <string.h>

int zkv_key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    if (n > 0) {
        int c = memcmp(a, b, n);
        if (c != 0)
            return c < 0 ? -1 : 1;
    }
    if (alen == blen)
        return 0;
    return alen < blen ? -1 : 1;
}

bool zkv_range_contains(const uint8_t *start, size_t slen, const uint8_t *end, size_t elen,
                        const uint8_t *key, size_t klen)
{
    if (slen > 0 && zkv_key_cmp(key, klen, start, slen) < 0)
        return false;
    if (elen > 0 && zkv_key_cmp(key, klen, end, elen) >= 0)
        return false;
    return true;
}

int zkv_end_cmp(const uint8_t *end, size_t elen, const uint8_t *key, size_t klen)
{
    if (elen == 0)
        return 1;
    return zkv_key_cmp(end, elen, key, klen);
}

size_t zkv_split_boundary(unsigned i, unsigned n, uint8_t out[2])
{
    if (n == 0 || i == 0 || i >= n)
        return 0;
    uint64_t v = (uint64_t)i * 65536u / n;
    out[0] = (uint8_t)(v >> 8);
    out[1] = (uint8_t)v;
    return 2;
}

size_t zkv_key_escape(const uint8_t *key, size_t len, char *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = key[i];
        if (c >= 0x20 && c <= 0x7e && c != '\\') {
            out[o++] = (char)c;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    return o;
}

int zkv_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long zkv_key_unescape(const char *s, uint8_t *out)
{
    long o = 0;
    for (size_t i = 0; s[i];) {
        if (s[i] != '\\') {
            out[o++] = (uint8_t)s[i++];
            continue;
        }
        if (s[i + 1] == '\\') {
            out[o++] = '\\';
            i += 2;
            continue;
        }
        if (s[i + 1] != 'x')
            return -1;
        int hi = zkv_hex_digit(s[i + 2]);
        if (hi < 0)
            return -1;
        int lo = zkv_hex_digit(s[i + 3]);
        if (lo < 0)
            return -1;
        out[o++] = (uint8_t)(hi << 4 | lo);
        i += 4;
    }
    return o;
}

size_t zkv_key_midpoint(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, uint8_t *out)
{
    size_t n = (alen > blen ? alen : blen) + 1;
    /* sum = a + b over n digits (b empty: all 0xff), then halve from the top */
    unsigned carry = 0;
    for (size_t i = n; i-- > 0;) {
        unsigned da = i < alen ? a[i] : 0;
        unsigned db = blen ? (i < blen ? b[i] : 0) : 0xff;
        unsigned sum = da + db + carry;
        out[i] = (uint8_t)(sum & 0xff);
        carry = sum >> 8;
    }
    unsigned rem = carry; /* the 2^(8n) digit of the sum */
    for (size_t i = 0; i < n; i++) {
        unsigned cur = (rem << 8) | out[i];
        out[i] = (uint8_t)(cur >> 1);
        rem = cur & 1;
    }
    size_t len = n;
    while (len > alen && len > 0 && out[len - 1] == 0)
        len--; /* a shorter key sorts before; never below a */
    return len;
}
