/* crc32c.c: CRC-32C, by the SSE4.2 crc32 instruction when the CPU has it, else by a table
 * built on first use (byte a step). Both give the same value; the unit test checks them
 * against the standard check value and against each other.
 *
 * The instruction takes 3 cycles and can start one a cycle, so one chain of it runs at a
 * third of its speed: long buffers are cut into three blocks summed side by side, and
 * the three CRCs are joined by "shift over n zero bytes" tables (the method of Mark
 * Adler's crc32c.c; zlib's crc32_combine shows the GF(2) operators). A 100 KB value-log
 * record took 15% of a node's CPU with one chain. */
#include "crc32c.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#define POLY 0x82f63b78u /* reflected Castagnoli polynomial */

static uint32_t table[256];
static bool table_ready;

static void table_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1u) ? (c >> 1) ^ POLY : c >> 1;
        table[i] = c;
    }
    table_ready = true;
}

uint32_t zkv__crc32c_sw(uint32_t crc, const void *p, size_t n)
{
    if (!table_ready)
        table_init();
    const uint8_t *b = p;
    crc = ~crc;
    while (n--)
        crc = table[(crc ^ *b++) & 0xffu] ^ (crc >> 8);
    return ~crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
/* The two block sizes: long for large records, short for the rest of a few KB. */
#define LONG_BLOCK ((size_t)8192)
#define SHORT_BLOCK ((size_t)256)

/* shift_long[k][b]: what byte k (of 4) of a raw CRC register holding b becomes after
 * LONG_BLOCK zero bytes; XOR over the four bytes shifts the whole register. */
static uint32_t shift_long[4][256], shift_short[4][256];
static pthread_once_t shift_once = PTHREAD_ONCE_INIT;

/* GF(2) 32x32 matrices as 32 columns: mat applied to vec. */
static uint32_t gf2_times(const uint32_t *mat, uint32_t vec)
{
    uint32_t sum = 0;
    for (; vec; vec >>= 1, mat++)
        if (vec & 1u)
            sum ^= *mat;
    return sum;
}

/* out = a after b (columns of b passed through a). out may not alias a or b. */
static void gf2_compose(uint32_t *out, const uint32_t *a, const uint32_t *b)
{
    for (int i = 0; i < 32; i++)
        out[i] = gf2_times(a, b[i]);
}

/* The operator that appends n zero bytes to a raw register, as tables by byte. */
static void shift_tables(uint32_t tab[4][256], size_t n)
{
    uint32_t step[32], sq[32], op[32], t[32];
    step[0] = POLY; /* one zero bit */
    for (int i = 1; i < 32; i++)
        step[i] = 1u << (i - 1);
    for (int k = 0; k < 3; k++) { /* one bit, two, four, then eight: a byte */
        gf2_compose(sq, step, step);
        memcpy(step, sq, sizeof step);
    }
    for (int i = 0; i < 32; i++)
        op[i] = 1u << i; /* identity */
    for (; n; n >>= 1) {
        if (n & 1u) {
            gf2_compose(t, step, op);
            memcpy(op, t, sizeof op);
        }
        gf2_compose(sq, step, step);
        memcpy(step, sq, sizeof step);
    }
    for (int k = 0; k < 4; k++)
        for (uint32_t b = 0; b < 256; b++)
            tab[k][b] = gf2_times(op, b << (8 * k));
}

static void shift_init(void)
{
    shift_tables(shift_long, LONG_BLOCK);
    shift_tables(shift_short, SHORT_BLOCK);
}

static uint32_t shift(uint32_t tab[4][256], uint32_t c)
{
    return tab[0][c & 0xffu] ^ tab[1][(c >> 8) & 0xffu] ^ tab[2][(c >> 16) & 0xffu] ^
           tab[3][c >> 24];
}

static uint64_t word(const uint8_t *b)
{
    uint64_t w;
    memcpy(&w, b, 8);
    return w;
}

/* Three blocks of block bytes at a time, while three remain; returns the raw register. */
__attribute__((target("sse4.2"))) static uint64_t
crc_blocks(uint64_t c, const uint8_t **bp, size_t *np, size_t block, uint32_t tab[4][256])
{
    const uint8_t *b = *bp;
    size_t n = *np;
    while (n >= 3 * block) {
        uint64_t c1 = 0, c2 = 0;
        for (const uint8_t *end = b + block; b < end; b += 8) {
            c = __builtin_ia32_crc32di(c, word(b));
            c1 = __builtin_ia32_crc32di(c1, word(b + block));
            c2 = __builtin_ia32_crc32di(c2, word(b + 2 * block));
        }
        c = shift(tab, (uint32_t)c) ^ (uint32_t)c1;
        c = shift(tab, (uint32_t)c) ^ (uint32_t)c2;
        b += 2 * block;
        n -= 3 * block;
    }
    *bp = b;
    *np = n;
    return c;
}

__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t c = ~crc;
    if (n >= 3 * SHORT_BLOCK) {
        pthread_once(&shift_once, shift_init);
        c = crc_blocks(c, &b, &n, LONG_BLOCK, shift_long);
        c = crc_blocks(c, &b, &n, SHORT_BLOCK, shift_short);
    }
    for (; n >= 8; b += 8, n -= 8)
        c = __builtin_ia32_crc32di(c, word(b));
    uint32_t c32 = (uint32_t)c;
    while (n--)
        c32 = __builtin_ia32_crc32qi(c32, *b++);
    return ~c32;
}

uint32_t zkv_crc32c(uint32_t crc, const void *p, size_t n)
{
    static int hw = -1;
    if (hw < 0) {
        __builtin_cpu_init();
        hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
    }
    return hw ? crc_hw(crc, p, n) : zkv__crc32c_sw(crc, p, n);
}
#else
uint32_t zkv_crc32c(uint32_t crc, const void *p, size_t n)
{
    return zkv__crc32c_sw(crc, p, n);
}
#endif
