/* util.h: small shared helpers: clocks, host:port parsing, random ids, file helpers. */
#ifndef ZKV_COMMON_UTIL_H
#define ZKV_COMMON_UTIL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

uint64_t zkv_now_ms(void);  /* CLOCK_MONOTONIC in milliseconds */
uint64_t zkv_now_us(void);  /* CLOCK_MONOTONIC in microseconds */
uint64_t zkv_wall_ms(void); /* CLOCK_REALTIME in milliseconds since the epoch */
/* Sleeps ms milliseconds, or less when a signal arrives. */
void zkv_sleep_ms(unsigned ms);
/* ISO-8601 UTC with milliseconds: "2026-11-22T12:00:00.123Z"; out holds >= 32 bytes. */
void zkv_iso8601(uint64_t wall_ms, char *out, size_t outlen);

/* Splits "host:port" ("[::1]:7400" too). Returns 0, or -1 for a malformed address. */
int zkv_parse_hostport(const char *s, char *host, size_t hostlen, int *port);

struct addrinfo;
#define ZKV_RESOLVE_BADADDR (-1) /* not "host:port" */
#define ZKV_RESOLVE_FAILED (-2)  /* getaddrinfo failed: its reason is in err */
/* Resolves "host:port" for a TCP connection (IPv4 or IPv6, numeric port). Returns 0 with
 * *res set (the caller frees it with freeaddrinfo), or one of the codes above. */
int zkv_resolve_tcp(const char *addr, struct addrinfo **res, char *err, size_t errlen);

/* Fills out with n random bytes from getrandom(2). Returns 0 or -1. */
int zkv_random_bytes(void *out, size_t n);
/* Writes 2*nbytes random lowercase hex digits and a NUL into out. Returns 0 or -1. */
int zkv_random_hex(char *out, size_t nbytes);

/* Reads a whole small file into a malloc'd NUL-terminated buffer. Returns NULL on error
 * (errno set). */
char *zkv_read_file(const char *path, size_t *len);
/* Writes data to path atomically (temp file, fsync, rename). Returns 0 or -1 (errno). */
int zkv_write_file_atomic(const char *path, const void *data, size_t len);
/* mkdir -p. Returns 0 or -1 (errno). */
int zkv_mkdirs(const char *path);

#endif
