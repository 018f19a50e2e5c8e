/* gw_api.c: the REST API's pure rules (gw_api.h). */
#include "gw_api.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long gw_percent_decode(const char *s, size_t len, uint8_t *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (o == cap)
            return -1;
        if (s[i] != '%') {
            out[o++] = (uint8_t)s[i];
            continue;
        }
        if (len - i < 3)
            return -1;
        int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
        if (h < 0 || l < 0)
            return -1;
        out[o++] = (uint8_t)(h * 16 + l);
        i += 2;
    }
    return (long)o;
}

long gw_key_of_path(const char *path, uint8_t *out, size_t cap)
{
    if (strcmp(path, "/kv") == 0 || strcmp(path, "/kv/") == 0)
        return 0;
    if (strncmp(path, "/kv/", 4) != 0)
        return -1;
    return gw_percent_decode(path + 4, strlen(path + 4), out, cap);
}

void gw_etag(zkv_version v, char *out, size_t n)
{
    snprintf(out, n, "\"%" PRIu64 ":%" PRIu64 "\"", v.epoch, v.seq);
}

int gw_etag_parse(const char *value, bool *any, zkv_version *v)
{
    *any = false;
    if (!value)
        return -1;
    while (*value == ' ')
        value++;
    if (strcmp(value, "*") == 0) {
        *any = true;
        return 0;
    }
    if (strncmp(value, "W/", 2) == 0)
        value += 2;
    unsigned long long e, s;
    int used = 0;
    if (sscanf(value, "\"%llu:%llu\"%n", &e, &s, &used) != 2 || used == 0 || value[used] != '\0')
        return -1;
    v->epoch = e;
    v->seq = s;
    return 0;
}

int gw_ttl_parse(const char *value, uint64_t *ms)
{
    if (!value || !*value)
        return -1;
    uint64_t s = 0;
    for (const char *p = value; *p; p++) {
        if (*p < '0' || *p > '9' || s > 315360000u)
            return -1;
        s = s * 10 + (uint64_t)(*p - '0');
    }
    if (s == 0 || s > 315360000u) /* 10 years */
        return -1;
    *ms = s * 1000u;
    return 0;
}

int gw_http_status(int code)
{
    switch (code) {
    case ZKV_OK:
        return 200;
    case ZKV_ENOTFOUND:
        return 404;
    case ZKV_ECONDITION:
        return 412;
    case ZKV_ETOOLARGE:
        return 413;
    case ZKV_EINVAL:
    case ZKV_EBADREQUEST:
        return 400;
    case ZKV_EUNAVAILABLE:
    case ZKV_ECONNECT:
    case ZKV_EZOOKEEPER:
        return 503;
    case ZKV_ETIMEOUT:
        return 504;
    default:
        return 500;
    }
}

/* s as the inside of a JSON string (quotes, backslashes, control bytes escaped). */
static int json_string(char **buf, size_t *len, size_t *cap, const char *s, size_t n);

static int grow(char **buf, size_t *len, size_t *cap, size_t more)
{
    if (*len + more + 1 <= *cap)
        return 0;
    size_t nc = *cap ? *cap : 256;
    while (nc < *len + more + 1)
        nc *= 2;
    char *nb = realloc(*buf, nc);
    if (!nb)
        return -1;
    *buf = nb;
    *cap = nc;
    return 0;
}

static int put(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (grow(buf, len, cap, n) != 0)
        return -1;
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

static int json_string(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (put(buf, len, cap, "\"", 1) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[7];
        size_t k = 0;
        if (c == '"' || c == '\\') {
            esc[k++] = '\\';
            esc[k++] = (char)c;
        } else if (c < 0x20) {
            memcpy(esc, "\\u00", 4);
            k = 4;
            esc[k++] = hex[c >> 4];
            esc[k++] = hex[c & 15];
        } else {
            esc[k++] = (char)c;
        }
        if (put(buf, len, cap, esc, k) != 0)
            return -1;
    }
    return put(buf, len, cap, "\"", 1);
}

/* Whether n bytes at p are UTF-8 text a JSON string carries as it is: valid sequences, no
 * NUL or other control bytes. */
static bool is_text(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint8_t c = p[i];
        if (c < 0x20 || c == 0x7f)
            return false;
        size_t k = c < 0x80             ? 1
                   : (c & 0xe0) == 0xc0 ? 2
                   : (c & 0xf0) == 0xe0 ? 3
                   : (c & 0xf8) == 0xf0 ? 4
                                        : 0;
        if (!k || i + k > n || (k == 2 && c < 0xc2))
            return false;
        for (size_t j = 1; j < k; j++)
            if ((p[i + j] & 0xc0) != 0x80)
                return false;
        i += k;
    }
    return true;
}

int gw_json_bytes(char **buf, size_t *len, size_t *cap, const void *data, size_t n)
{
    const uint8_t *p = data;
    if (is_text(p, n))
        return json_string(buf, len, cap, (const char *)p, n);
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (put(buf, len, cap, "{\"base64\":\"", 11) != 0 || grow(buf, len, cap, (n + 2) / 3 * 4) != 0)
        return -1;
    char *o = *buf + *len;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        *o++ = b64[v >> 18 & 63];
        *o++ = b64[v >> 12 & 63];
        *o++ = i + 1 < n ? b64[v >> 6 & 63] : '=';
        *o++ = i + 2 < n ? b64[v & 63] : '=';
    }
    *len = (size_t)(o - *buf);
    (*buf)[*len] = '\0';
    return put(buf, len, cap, "\"}", 2);
}

char *gw_json_error(int code, const char *message, const zkv_version *version)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    char tail[96];
    const char *name = zkv_strerror(code);
    size_t nl = strcspn(name, ":"); /* "ZKV_ENOTFOUND: key not found" -> the code's name */
    int rc = put(&buf, &len, &cap, "{\"error\":", 9);
    rc |= json_string(&buf, &len, &cap, message ? message : name, strlen(message ? message : name));
    rc |= put(&buf, &len, &cap, ",\"code\":", 8);
    rc |= json_string(&buf, &len, &cap, name, nl);
    if (version) {
        int n = snprintf(tail, sizeof tail, ",\"version\":\"%" PRIu64 ":%" PRIu64 "\"",
                         version->epoch, version->seq);
        rc |= put(&buf, &len, &cap, tail, (size_t)n);
    }
    rc |= put(&buf, &len, &cap, "}\n", 2);
    if (rc != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

int gw_json_raw(char **buf, size_t *len, size_t *cap, const char *text)
{
    return put(buf, len, cap, text, strlen(text));
}

void gw_hex_encode(const uint8_t *p, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 15];
    }
    out[2 * n] = '\0';
}

long gw_hex_decode(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = strlen(hex);
    if (n % 2 || n / 2 > cap)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int h = hexval(hex[2 * i]), l = hexval(hex[2 * i + 1]);
        if (h < 0 || l < 0)
            return -1;
        out[i] = (uint8_t)(h * 16 + l);
    }
    return (long)(n / 2);
}
