/* crc32c.c: CRC-32C, by the SSE4.2 crc32 instruction (8 bytes a step) when the CPU has it,
 * else by a table built on first use (byte a step). Both give the same value; the unit
 * test checks them against the standard check value and against each other. */
#include "crc32c.h"

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
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t c = ~crc;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, b, 8);
        c = __builtin_ia32_crc32di(c, w);
        b += 8;
        n -= 8;
    }
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
