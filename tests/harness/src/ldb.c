/* ldb.c: read-only looks into a stopped server's LevelDB through the LevelDB C API:
 * the value record of a user key ('d' + key) and key counts by prefix. */
#include "zkt/ldb.h"

#include <leveldb/c.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "zkt/util.h"

struct zkt_ldb {
    char dir[PATH_MAX]; /* DIR/db */
    leveldb_t *db;
    leveldb_options_t *opts;
    leveldb_readoptions_t *ropts;
};

zkt_ldb *zkt_ldb_open(const char *data_dir)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/db", data_dir);
    zkt_ldb *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    snprintf(d->dir, sizeof d->dir, "%s", path);
    d->opts = leveldb_options_create();
    leveldb_options_set_create_if_missing(d->opts, 0);
    d->ropts = leveldb_readoptions_create();
    char *err = NULL;
    d->db = leveldb_open(d->opts, path, &err);
    if (err || !d->db) {
        zkt_log("leveldb open %s: %s", path, err ? err : "?");
        leveldb_free(err);
        zkt_ldb_close(d);
        return NULL;
    }
    return d;
}

void zkt_ldb_close(zkt_ldb *d)
{
    if (!d)
        return;
    if (d->db)
        leveldb_close(d->db);
    if (d->ropts)
        leveldb_readoptions_destroy(d->ropts);
    if (d->opts)
        leveldb_options_destroy(d->opts);
    free(d);
}

static uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* CRC-32C, bit by bit: slow, and independent of the server's. */
static uint32_t crc32c(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1u)));
    }
    return ~c;
}

/* The value a format-2 record's pointer (20 bytes) names, read from the value log and
 * checked (CRC, lengths, key): a malloc'd copy (NUL-terminated) in *val, its length in
 * *vlen. 0, or -1 with a log line. */
static int vlog_value(const zkt_ldb *d, const uint8_t *key, size_t klen, const uint8_t *ptr,
                      uint8_t **val, size_t *vlen)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/vlog/%08u.vlog", d->dir, be32(ptr));
    uint64_t off = be64(ptr + 4);
    uint32_t rlen = be32(ptr + 12), n = be32(ptr + 16);
    uint8_t *r = malloc(rlen ? rlen : 1);
    FILE *f = fopen(path, "rb");
    int ok = r && f && fseek(f, (long)off, SEEK_SET) == 0 && fread(r, 1, rlen, f) == rlen &&
             rlen >= 22 && be32(r) == crc32c(r + 4, rlen - 4) && be32(r + 10) == n &&
             be32(r + 6) == klen && 22u + r[5] + klen + n == rlen &&
             memcmp(r + 22 + r[5], key, klen) == 0;
    if (f)
        fclose(f);
    if (!ok) {
        zkt_log("value log: bad record at %s offset %llu", path, (unsigned long long)off);
        free(r);
        return -1;
    }
    memmove(r, r + rlen - n, n);
    uint8_t *v = realloc(r, (size_t)n + 1);
    if (!v) {
        free(r);
        return -1;
    }
    v[n] = 0;
    *val = v;
    *vlen = n;
    return 0;
}

int zkt_ldb_get_raw(zkt_ldb *d, const void *key, size_t klen, uint8_t **val, size_t *vlen)
{
    char *err = NULL;
    size_t n = 0;
    char *v = leveldb_get(d->db, d->ropts, key, klen, &n, &err);
    if (err) {
        zkt_log("leveldb get: %s", err);
        leveldb_free(err);
        return -1;
    }
    if (!v)
        return 0;
    *val = malloc(n ? n : 1);
    if (*val && n)
        memcpy(*val, v, n);
    leveldb_free(v);
    if (!*val)
        return -1;
    *vlen = n;
    return 1;
}

int zkt_ldb_get(zkt_ldb *d, const void *key, size_t klen, uint8_t **val, size_t *vlen,
                uint64_t *epoch, uint64_t *seq)
{
    uint8_t *k = malloc(klen + 1);
    if (!k)
        return -1;
    k[0] = 'd';
    if (klen)
        memcpy(k + 1, key, klen);
    char *err = NULL;
    size_t rlen = 0;
    char *rec = leveldb_get(d->db, d->ropts, (const char *)k, klen + 1, &rlen, &err);
    free(k);
    if (err) {
        zkt_log("leveldb get: %s", err);
        leveldb_free(err);
        return -1;
    }
    if (!rec)
        return 0;
    int rc = -1;
    if (rlen == ZKT_VALUE_HEADER + 20 && (uint8_t)rec[0] == 2) {
        const uint8_t *p = (const uint8_t *)rec;
        if (epoch)
            *epoch = be64(p + 2);
        if (seq)
            *seq = be64(p + 10);
        uint8_t *v = NULL;
        size_t n = 0;
        rc = vlog_value(d, key, klen, p + ZKT_VALUE_HEADER, &v, &n) == 0 ? 1 : -1;
        if (rc == 1 && vlen)
            *vlen = n;
        if (rc == 1 && val)
            *val = v;
        else
            free(v);
    } else if (rlen >= ZKT_VALUE_HEADER && (uint8_t)rec[0] == 1) {
        const uint8_t *p = (const uint8_t *)rec;
        if (epoch)
            *epoch = be64(p + 2);
        if (seq)
            *seq = be64(p + 10);
        size_t n = rlen - ZKT_VALUE_HEADER;
        if (val) {
            *val = malloc(n + 1);
            if (*val) {
                if (n)
                    memcpy(*val, p + ZKT_VALUE_HEADER, n);
                (*val)[n] = 0;
            }
        }
        if (vlen)
            *vlen = n;
        rc = 1;
    } else {
        zkt_log("leveldb: malformed value record (%zu bytes, format %d)", rlen,
                rlen ? (uint8_t)rec[0] : -1);
    }
    leveldb_free(rec);
    return rc;
}

size_t zkt_ldb_count_prefix(zkt_ldb *d, const void *prefix, size_t plen)
{
    leveldb_iterator_t *it = leveldb_create_iterator(d->db, d->ropts);
    size_t n = 0;
    for (leveldb_iter_seek(it, prefix, plen); leveldb_iter_valid(it); leveldb_iter_next(it)) {
        size_t kl;
        const char *k = leveldb_iter_key(it, &kl);
        if (kl < plen || memcmp(k, prefix, plen) != 0)
            break;
        n++;
    }
    leveldb_iter_destroy(it);
    return n;
}

int zkt_ldb_foreach(zkt_ldb *d, const void *start, size_t slen, const void *end, size_t elen,
                    zkt_ldb_fn fn, void *arg)
{
    uint8_t seek[1 + 4096];
    if (slen > sizeof seek - 1)
        return -1;
    seek[0] = 'd';
    if (slen)
        memcpy(seek + 1, start, slen);
    leveldb_iterator_t *it = leveldb_create_iterator(d->db, d->ropts);
    int rc = 0;
    for (leveldb_iter_seek(it, (const char *)seek, slen + 1); leveldb_iter_valid(it);
         leveldb_iter_next(it)) {
        size_t kl, vl;
        const uint8_t *k = (const uint8_t *)leveldb_iter_key(it, &kl);
        if (kl < 1 || k[0] != 'd')
            break;
        if (elen) { /* stop at end: memcmp order, a prefix first */
            size_t n = kl - 1 < elen ? kl - 1 : elen;
            int c = memcmp(k + 1, end, n);
            if (c > 0 || (c == 0 && kl - 1 >= elen))
                break;
        }
        const uint8_t *v = (const uint8_t *)leveldb_iter_value(it, &vl);
        if (vl == ZKT_VALUE_HEADER + 20 && v[0] == 2) {
            uint8_t *val = NULL;
            size_t n = 0;
            if (vlog_value(d, k + 1, kl - 1, v + ZKT_VALUE_HEADER, &val, &n) != 0) {
                rc = -1;
                break;
            }
            rc = fn(arg, k + 1, kl - 1, val, n, be64(v + 2), be64(v + 10));
            free(val);
            if (rc != 0)
                break;
            continue;
        }
        if (vl < ZKT_VALUE_HEADER || v[0] != 1) {
            zkt_log("leveldb: malformed value record (%zu bytes)", vl);
            rc = -1;
            break;
        }
        rc = fn(arg, k + 1, kl - 1, v + ZKT_VALUE_HEADER, vl - ZKT_VALUE_HEADER, be64(v + 2),
                be64(v + 10));
        if (rc != 0)
            break;
    }
    leveldb_iter_destroy(it);
    return rc;
}
