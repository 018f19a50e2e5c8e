/* crc32c.h: CRC-32C (Castagnoli), the checksum of every value-log record (vlog.h), with
 * the SSE4.2 instruction where the CPU has it and a table elsewhere. Pure. */
#ifndef ZKV_SERVER_CRC32C_H
#define ZKV_SERVER_CRC32C_H
#include <stddef.h>
#include <stdint.h>

/* The CRC of p[0..n) continued from crc (0 to start): crc32c(crc32c(0, a), b) is the CRC
 * of a followed by b. */
uint32_t zkv_crc32c(uint32_t crc, const void *p, size_t n);
/* The table's answer whatever the CPU (the unit test compares the two). */
uint32_t zkv__crc32c_sw(uint32_t crc, const void *p, size_t n);

#endif
