/* util.h: small helpers of the test harness: monotonic clock, progress log lines on
 * stderr, whole-file reads, the binary paths ctest passes in the environment. */
#ifndef ZKT_UTIL_H
#define ZKT_UTIL_H
#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t zkt_now_ms(void);
/* "12:00:00.123 zkt: message" on stderr, for following a test run in ctest logs. */
void zkt_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Reads a whole file into a malloc'd NUL-terminated buffer (caller frees); NULL on error.
 * *len (if not NULL) receives the length without the NUL. */
char *zkt_read_file(const char *path, size_t *len);
/* Writes a whole file (truncating). Returns 0 or -1. */
int zkt_write_file(const char *path, const void *data, size_t len);
/* Path of a program from the environment variable env (ZKV_SERVER_BIN, ZKV_COORDINATOR_BIN,
 * ZKV_CLI_BIN, ZKV_BENCH_BIN; ctest sets them). NULL, with a log line, when unset or not
 * executable. */
const char *zkt_bin(const char *env);

#endif
