/* value.c: zkv_value, what a get returns: the bytes, their version, whether a replica
 * answered (stale), how far that node had caught up (position) and which node
 * answered. Opaque so fields can grow (TTL, flags). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "value.h"

/* One allocation holds the struct and the bytes (data points just past the struct): a get
 * costs one malloc/free pair instead of calloc + malloc and two frees. */
zkv_value *zkv__value_new(const void *data, size_t len, zkv_version ver, zkv_version position,
                          int stale, const char *node)
{
    if (len > SIZE_MAX - sizeof(zkv_value) - 1)
        return NULL;
    zkv_value *v = malloc(sizeof *v + len + 1);
    if (!v)
        return NULL;
    v->data = (unsigned char *)(v + 1);
    v->hold = NULL;
    if (len)
        memcpy(v->data, data, len);
    v->data[len] = '\0';
    v->len = len;
    v->version = ver;
    v->position = position;
    v->stale = stale;
    v->ttl_ms = -1;
    v->lag_ms = v->lag_entries = 0;
    zkv__copy_str(v->node, sizeof v->node, node ? node : "");
    return v;
}

void zkv__value_meta(zkv_value *v, const Zkv__Response *resp, int stale, const char *node)
{
    v->version = (zkv_version){resp->epoch, resp->seq};
    v->position = (zkv_version){resp->range_epoch, resp->range_seq};
    v->stale = stale || resp->stale ? 1 : 0;
    v->ttl_ms = resp->ttl_ms ? (int64_t)resp->ttl_ms : -1;
    v->lag_ms = v->stale ? resp->lag_ms : 0;
    v->lag_entries = v->stale ? resp->lag_entries : 0;
    zkv__copy_str(v->node, sizeof v->node, node ? node : "");
}

zkv_value *zkv__value_from(const Zkv__Response *resp, int stale, const char *node)
{
    zkv_version none = {0, 0};
    zkv_value *v = zkv__value_new(resp->value.data, resp->value.len, none, none, 0, NULL);
    if (v)
        zkv__value_meta(v, resp, stale, node);
    return v;
}

zkv_value *zkv__value_take(Zkv__Response **resp, int stale, const char *node)
{
    Zkv__Response *r = *resp;
    if (r->value.len < ZKV__VALUE_TAKE_MIN || !zkv__response_is_block(r))
        return zkv__value_from(r, stale, node);
    zkv_value *v = malloc(sizeof *v);
    if (!v)
        return NULL;
    v->data = r->value.data; /* NUL-terminated in the block */
    v->len = r->value.len;
    v->hold = r;
    zkv__value_meta(v, r, stale, node);
    *resp = NULL;
    return v;
}

const void *zkv_value_data(const zkv_value *v)
{
    return v ? v->data : NULL;
}

size_t zkv_value_len(const zkv_value *v)
{
    return v ? v->len : 0;
}

zkv_version zkv_value_version(const zkv_value *v)
{
    zkv_version none = {0, 0};
    return v ? v->version : none;
}

int zkv_value_stale(const zkv_value *v)
{
    return v ? v->stale : 0;
}

zkv_version zkv_value_position(const zkv_value *v)
{
    zkv_version none = {0, 0};
    return v ? v->position : none;
}

const char *zkv_value_node(const zkv_value *v)
{
    return v ? v->node : "";
}

void zkv_value_free(zkv_value *v)
{
    if (v)
        zkv__response_free(v->hold);
    free(v); /* data lives in the same block (zkv__value_new) or in hold's */
}

int64_t zkv_value_ttl(const zkv_value *v)
{
    return v ? v->ttl_ms : -1;
}

int zkv_value_lag(const zkv_value *v, uint64_t *lag_ms, uint64_t *lag_entries)
{
    if (lag_ms)
        *lag_ms = v && v->stale ? v->lag_ms : 0;
    if (lag_entries)
        *lag_entries = v && v->stale ? v->lag_entries : 0;
    return v && v->stale ? 1 : 0;
}
