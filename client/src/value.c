/* value.c: zkv_value, what a get returns: the bytes, their version, whether a replica
 * answered (stale), how far that node had caught up (position) and which node
 * answered. Opaque so fields can grow (TTL, flags). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    if (len)
        memcpy(v->data, data, len);
    v->data[len] = '\0';
    v->len = len;
    v->version = ver;
    v->position = position;
    v->stale = stale;
    v->ttl_ms = -1;
    zkv__copy_str(v->node, sizeof v->node, node ? node : "");
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
    free(v); /* data lives in the same block (zkv__value_new) */
}

int64_t zkv_value_ttl(const zkv_value *v)
{
    return v ? v->ttl_ms : -1;
}
