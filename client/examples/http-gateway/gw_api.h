/* gw_api.h: the REST API of zkv-http-gateway (README.md) as pure functions, so every rule
 * is unit tested without sockets: keys from URL paths (percent-decoded, binary-safe),
 * versions as ETags, the HTTP status and JSON error body of each libzkv code, the JSON of
 * values and scan pages (binary-safe: UTF-8 text as strings, other bytes as base64), and
 * the request headers' values (If-Match, Zkv-TTL). */
#ifndef ZKV_GW_API_H
#define ZKV_GW_API_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zkv/zkv.h>

/* Percent-decodes len bytes of s into out (cap bytes): "%00" is a NUL byte, '+' stays '+'.
 * Returns the decoded length, or -1 for a malformed escape or no room. */
long gw_percent_decode(const char *s, size_t len, uint8_t *out, size_t cap);

/* The key of a "/kv/KEY" path (raw, not yet decoded) into out: its length, 0 for "/kv" or
 * "/kv/" (the scan endpoint), -1 for another path or a malformed escape. */
long gw_key_of_path(const char *path, uint8_t *out, size_t cap);

/* A version as an ETag: "\"EPOCH:SEQ\"" into out. */
void gw_etag(zkv_version v, char *out, size_t n);
/* An If-Match / If-None-Match value: "*" (*any true), or one quoted (or weak, W/"...")
 * "EPOCH:SEQ". 0, or -1 for anything else. */
int gw_etag_parse(const char *value, bool *any, zkv_version *v);

/* Zkv-TTL: whole seconds, 1 to 10 years, into *ms. 0, or -1 for anything else. */
int gw_ttl_parse(const char *value, uint64_t *ms);

/* The HTTP status of a libzkv result code (ZKV_OK 200; ZKV_ENOTFOUND 404; ZKV_ECONDITION
 * 412; ZKV_ETOOLARGE 413; ZKV_EINVAL, ZKV_EBADREQUEST 400; ZKV_EUNAVAILABLE, ZKV_ECONNECT,
 * ZKV_EZOOKEEPER 503; ZKV_ETIMEOUT 504; others 500). */
int gw_http_status(int code);
/* A JSON error body: {"error":"message","code":"ZKV_..."} (with "version":"E:S" when
 * version is not NULL), NUL-terminated, malloc'd; NULL out of memory. */
char *gw_json_error(int code, const char *message, const zkv_version *version);

/* Bytes as a JSON value into a cJSON-free text: a string when they are UTF-8 without NUL
 * or control bytes, else {"base64":"..."}. Appended to *buf (malloc'd, grown; *len its
 * length). 0 or -1 out of memory. */
int gw_json_bytes(char **buf, size_t *len, size_t *cap, const void *data, size_t n);

/* n bytes as lower-case hex into out (2n + 1 bytes, NUL-terminated): scan tokens in JSON. */
void gw_hex_encode(const uint8_t *p, size_t n, char *out);
/* Hex text into out (cap bytes): the byte count, or -1 for odd, non-hex or too long text. */
long gw_hex_decode(const char *hex, uint8_t *out, size_t cap);
/* text appended as it is (JSON the caller wrote), as gw_json_bytes appends. 0 or -1. */
int gw_json_raw(char **buf, size_t *len, size_t *cap, const char *text);

#endif
