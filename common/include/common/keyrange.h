/* keyrange.h: key-range math over binary keys (any bytes, NUL included).
 * Keys compare as unsigned bytes, a proper prefix sorting first (memcmp order).
 * A range is [start, end): an empty start means "from the lowest key" and an empty end
 * means "to the end of the key space". Pure functions, no allocation except where said. */
#ifndef ZKV_COMMON_KEYRANGE_H
#define ZKV_COMMON_KEYRANGE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* memcmp order with length as tie-break; returns <0, 0, >0. */
int zkv_key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

/* true when start <= key < end, with the empty-bound rules above. */
bool zkv_range_contains(const uint8_t *start, size_t slen, const uint8_t *end, size_t elen,
                        const uint8_t *key, size_t klen);

/* Compares an end bound with a key: an empty end is +infinity. <0 when end < key. */
int zkv_end_cmp(const uint8_t *end, size_t elen, const uint8_t *key, size_t klen);

/* Boundary i (0 < i < n) of an even split of the whole key space into n ranges:
 * the 2-byte big-endian value floor(i * 65536 / n), written to out[0..1]. n is 1..65536.
 * Range i is [boundary(i), boundary(i+1)) with boundary(0) and boundary(n) empty.
 * Returns the boundary length (0 for i == 0 or i == n, else 2). */
size_t zkv_split_boundary(unsigned i, unsigned n, uint8_t out[2]);

/* A key m with a <= m < b in key order (b empty: +infinity, as 0xff bytes), about halfway
 * between them read as base-256 fractions: the bisection step of picking a split key.
 * out must hold max(alen, blen) + 1 bytes; returns m's length (trailing zero bytes kept
 * only where needed to stay >= a). */
size_t zkv_key_midpoint(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, uint8_t *out);

/* Printable form of a key for JSON, logs and tables: bytes 0x20..0x7e except '\\' are
 * kept, every other byte becomes "\xHH" (lowercase hex). out must hold 4*len+1 bytes;
 * returns the string length. */
size_t zkv_key_escape(const uint8_t *key, size_t len, char *out);
/* Value of one hexadecimal digit (either case), or -1 for any other character. */
int zkv_hex_digit(char c);
/* Inverse of zkv_key_escape; also accepts "\\\\" for a backslash. out must hold
 * strlen(s) bytes. Returns the key length, or -1 for a bad escape. */
long zkv_key_unescape(const char *s, uint8_t *out);

#endif
