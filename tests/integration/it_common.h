/* it_common.h: small helpers shared by the integration tests that use libzkv: making a
 * client for a harness cluster, the test key and value sets (spread over every range,
 * some with NUL and 0xFF bytes), assertion messages with libzkv's reason. */
#ifndef ZKV_IT_COMMON_H
#define ZKV_IT_COMMON_H
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>
#include "zkt/zkt.h"
#include "zkv/zkv.h"

#define IT_KEY_MAX 64
#define IT_VAL_MAX (128 * 1024)

/* A client of cl's cluster. Returns the libzkv status; *out set on ZKV_OK. */
static inline int it_client(zkt_cluster *cl, int timeout_ms, zkv_client **out)
{
    zkv_options *o = zkv_options_create();
    if (!o)
        return ZKV_ENOMEM;
    zkv_options_set_zk(o, cl->zk.connect);
    zkv_options_set_cluster(o, cl->name);
    zkv_options_set_connect_timeout(o, 10000);
    zkv_options_set_timeout(o, timeout_ms);
    zkv_options_set_session_timeout(o, 10000);
    zkv_options_set_client_name(o, "zkv-integration-test");
    int rc = zkv_client_create(o, out);
    zkv_options_free(o);
    if (rc != ZKV_OK)
        zkt_log("zkv_client_create: %s: %s", zkv_strerror(rc), zkv_last_error());
    return rc;
}

/* Key i of the test set: its first byte walks every byte value (so keys land in every
 * range, 0x00 and 0xFF first bytes included), then "key-%05d" keeps it unique; every
 * 50th key also ends with the bytes 00 FF. Returns the length. */
static inline size_t it_key(int i, uint8_t *out)
{
    out[0] = (uint8_t)((i * 151) & 0xff);
    size_t n = 1 + (size_t)snprintf((char *)out + 1, IT_KEY_MAX - 1, "key-%05d", i);
    if (i % 50 == 0) {
        out[n++] = 0x00;
        out[n++] = 0xff;
        out[n++] = (uint8_t)(i & 0xff);
    }
    return n;
}

/* Value i (generation gen): printable, 10..209 bytes, every 1000th one 100 KiB. */
static inline size_t it_value(int i, int gen, uint8_t *out)
{
    size_t len = (i % 1000 == 7) ? 100 * 1024 : 10 + (size_t)(i % 200);
    int p = snprintf((char *)out, 64, "v%d-%d:", gen, i);
    for (size_t k = (size_t)p; k < len; k++)
        out[k] = (uint8_t)('a' + (k + (size_t)i) % 26);
    return len;
}

/* Printable form of a key for messages (\xHH for other bytes). */
static inline const char *it_show(const void *key, size_t len, char *buf, size_t buflen)
{
    size_t o = 0;
    const uint8_t *k = key;
    for (size_t i = 0; i < len && o + 5 < buflen; i++) {
        if (k[i] >= 0x20 && k[i] < 0x7f && k[i] != '\\')
            buf[o++] = (char)k[i];
        else
            o += (size_t)snprintf(buf + o, buflen - o, "\\x%02x", k[i]);
    }
    buf[o] = '\0';
    return buf;
}

#endif
