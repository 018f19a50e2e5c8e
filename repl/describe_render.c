/* describe_render.c: tables and JSON arrays from the zkv_describe JSON (see
 * describe_render.h). Parsing with cJSON; sorting on copies of the item pointers. */
#include "describe_render.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/keyrange.h"
#include "table.h"

static const char *str_field(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : "";
}

static void num_field(const cJSON *o, const char *name, char *out, size_t outlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (cJSON_IsNumber(v))
        snprintf(out, outlen, "%.0f", v->valuedouble);
    else if (cJSON_IsString(v) && v->valuestring)
        snprintf(out, outlen, "%s", v->valuestring);
    else
        snprintf(out, outlen, "-");
}

/* "a,b,c" from an array of strings; "-" when empty. Returns malloc'd or NULL. */
static char *join_list(const cJSON *arr)
{
    size_t len = 2;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        if (cJSON_IsString(it))
            len += strlen(it->valuestring) + 1;
    }
    char *out = malloc(len);
    if (!out)
        return NULL;
    out[0] = '\0';
    size_t o = 0;
    cJSON_ArrayForEach(it, arr)
    {
        if (!cJSON_IsString(it))
            continue;
        size_t n = strlen(it->valuestring);
        if (o)
            out[o++] = ',';
        memcpy(out + o, it->valuestring, n + 1);
        o += n;
    }
    if (o == 0)
        memcpy(out, "-", 2);
    return out;
}

/* Writes an escaped bound for a table cell: spaces become \x20 so a cell never holds a
 * blank; an empty bound is unbounded. out has room for 4 * strlen(key) + 4 bytes. Returns
 * the length written (no NUL). */
static size_t put_bound(char *out, const char *key, const char *unbounded)
{
    size_t o = 0;
    if (!key[0])
        key = unbounded;
    for (; *key; key++) {
        if (*key == ' ') {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = '2';
            out[o++] = '0';
        } else {
            out[o++] = *key;
        }
    }
    return o;
}

/* Orders ranges by their start key (unescaped bytes; an empty start first). */
static int cmp_range_start(const void *a, const void *b)
{
    const char *sa = str_field(*(const cJSON *const *)a, "start");
    const char *sb = str_field(*(const cJSON *const *)b, "start");
    size_t la = strlen(sa), lb = strlen(sb);
    uint8_t *ka = malloc(la + 1), *kb = malloc(lb + 1);
    int r;
    long na = ka ? zkv_key_unescape(sa, ka) : -1;
    long nb = kb ? zkv_key_unescape(sb, kb) : -1;
    if (na >= 0 && nb >= 0)
        r = zkv_key_cmp(ka, (size_t)na, kb, (size_t)nb);
    else
        r = strcmp(sa, sb);
    free(ka);
    free(kb);
    return r;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(str_field(*(const cJSON *const *)a, "id"),
                  str_field(*(const cJSON *const *)b, "id"));
}

/* The items of arr in a malloc'd array of n pointers, sorted with cmp. */
static const cJSON **sorted_items(const cJSON *arr, int (*cmp)(const void *, const void *),
                                  size_t *n)
{
    *n = (size_t)cJSON_GetArraySize(arr);
    const cJSON **items = calloc(*n ? *n : 1, sizeof(const cJSON *));
    if (!items)
        return NULL;
    size_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        items[i++] = it;
    }
    qsort((void *)items, *n, sizeof(const cJSON *), cmp);
    return items;
}

static const char *owner_address(const cJSON *nodes, const char *owner)
{
    const cJSON *n;
    if (!owner[0])
        return "-";
    cJSON_ArrayForEach(n, nodes)
    {
        if (strcmp(str_field(n, "id"), owner) == 0)
            return str_field(n, "addr")[0] ? str_field(n, "addr") : "-";
    }
    return "(down)";
}

/* Appends "id:N" (N = seq_behind, or ?) to a cell being built in out (cap bytes). */
static void lag_entry(char *out, size_t cap, size_t *o, const char *id, const cJSON *e)
{
    const cJSON *behind = cJSON_GetObjectItemCaseSensitive(e, "seq_behind");
    int n;
    if (cJSON_IsNumber(behind) && behind->valuedouble >= 0 && behind->valuedouble < 1e19)
        n = snprintf(out + *o, cap - *o, "%s%s:%.0f", *o ? "," : "", id, behind->valuedouble);
    else
        n = snprintf(out + *o, cap - *o, "%s%s:?", *o ? "," : "", id);
    if (n > 0)
        *o = *o + (size_t)n < cap ? *o + (size_t)n : cap - 1;
}

char *zkv_repl_lag_cell(const cJSON *range)
{
    const cJSON *replicas = cJSON_GetObjectItemCaseSensitive(range, "replicas");
    const cJSON *lag = cJSON_GetObjectItemCaseSensitive(range, "lag");
    size_t cap = 4;
    const cJSON *it;
    cJSON_ArrayForEach(it, replicas)
    {
        if (cJSON_IsString(it))
            cap += strlen(it->valuestring) + 32;
    }
    if (cJSON_IsObject(lag))
        cJSON_ArrayForEach(it, lag)
        {
            cap += (it->string ? strlen(it->string) : 0) + 32;
        }
    char *out = malloc(cap);
    if (!out)
        return NULL;
    size_t o = 0;
    out[0] = '\0';
    if (!cJSON_IsObject(lag)) {
        bool any = false;
        cJSON_ArrayForEach(it, replicas)
        {
            any |= cJSON_IsString(it) && it->valuestring[0];
        }
        memcpy(out, any ? "?" : "-", 2);
        return out;
    }
    cJSON_ArrayForEach(it, replicas)
    {
        if (cJSON_IsString(it) && it->valuestring[0])
            lag_entry(out, cap, &o, it->valuestring,
                      cJSON_GetObjectItemCaseSensitive(lag, it->valuestring));
    }
    cJSON_ArrayForEach(it, lag) /* replicas the owner ships to that the map does not list */
    {
        bool listed = false;
        const cJSON *r;
        cJSON_ArrayForEach(r, replicas)
        {
            listed |= cJSON_IsString(r) && it->string && strcmp(r->valuestring, it->string) == 0;
        }
        if (!listed && it->string && it->string[0])
            lag_entry(out, cap, &o, it->string, it);
    }
    if (o == 0)
        memcpy(out, "-", 2);
    return out;
}

void zkv_repl_size_cell(const cJSON *range, char *out, size_t outlen)
{
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(range, "bytes");
    if (!cJSON_IsNumber(b) || b->valuedouble < 0) {
        snprintf(out, outlen, "?");
        return;
    }
    static const char units[] = "KMGTP";
    double v = b->valuedouble;
    int u = -1;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    if (u < 0)
        snprintf(out, outlen, "%.0fB", v);
    else
        snprintf(out, outlen, v < 10 ? "%.1f%c" : "%.0f%c", v, units[u]);
}

static char *render_ranges(const cJSON *ranges, const cJSON *nodes)
{
    static const char *const headers[] = {"ID",    "RANGE", "OWNER", "REPLICAS", "IN_SYNC",
                                          "EPOCH", "SEQ",   "SIZE",  "LAG",      "ADDRESS"};
    zkv_repl_table *t = zkv_repl_table_create(10, headers);
    size_t n = 0;
    const cJSON **items = sorted_items(ranges, cmp_range_start, &n);
    char *out = NULL;
    if (!t || !items)
        goto done;
    zkv_repl_table_set_align(t, 5, ZKV_REPL_ALIGN_RIGHT);
    zkv_repl_table_set_align(t, 6, ZKV_REPL_ALIGN_RIGHT);
    zkv_repl_table_set_align(t, 7, ZKV_REPL_ALIGN_RIGHT);
    for (size_t i = 0; i < n; i++) {
        const cJSON *r = items[i];
        const char *start = str_field(r, "start"), *end = str_field(r, "end");
        const char *owner = str_field(r, "owner");
        char epoch[32], seq[32], size[16];
        num_field(r, "epoch", epoch, sizeof epoch);
        zkv_repl_size_cell(r, size, sizeof size);
        if (cJSON_GetObjectItemCaseSensitive(r, "seq"))
            num_field(r, "seq", seq, sizeof seq);
        else
            snprintf(seq, sizeof seq, "?");
        size_t rlen = 4 * (strlen(start) + strlen(end)) + 16;
        char *range = malloc(rlen);
        char *replicas = join_list(cJSON_GetObjectItemCaseSensitive(r, "replicas"));
        char *in_sync = join_list(cJSON_GetObjectItemCaseSensitive(r, "in_sync"));
        char *lag = zkv_repl_lag_cell(r);
        int rc = -1;
        if (range && replicas && in_sync && lag) {
            size_t o = put_bound(range, start, "-inf");
            memcpy(range + o, "..", 2);
            o += put_bound(range + o + 2, end, "+inf") + 2;
            range[o] = '\0';
            const char *cells[] = {str_field(r, "id"),
                                   range,
                                   owner[0] ? owner : "-",
                                   replicas,
                                   in_sync,
                                   epoch,
                                   seq,
                                   size,
                                   lag,
                                   owner_address(nodes, owner)};
            rc = zkv_repl_table_add_row(t, cells);
        }
        free(range);
        free(replicas);
        free(in_sync);
        free(lag);
        if (rc < 0)
            goto done;
    }
    out = zkv_repl_table_render(t);
done:
    free(items);
    zkv_repl_table_free(t);
    return out;
}

static char *render_nodes(const cJSON *nodes)
{
    static const char *const headers[] = {"ID", "ADDRESS", "INCARNATION", "OWNED", "REPLICA_OF"};
    zkv_repl_table *t = zkv_repl_table_create(5, headers);
    size_t n = 0;
    const cJSON **items = sorted_items(nodes, cmp_id, &n);
    char *out = NULL;
    if (!t || !items)
        goto done;
    for (size_t c = 2; c < 5; c++)
        zkv_repl_table_set_align(t, c, ZKV_REPL_ALIGN_RIGHT);
    for (size_t i = 0; i < n; i++) {
        char inc[32], owned[32], replica_of[32];
        num_field(items[i], "incarnation", inc, sizeof inc);
        num_field(items[i], "owned", owned, sizeof owned);
        num_field(items[i], "replica_of", replica_of, sizeof replica_of);
        const char *cells[] = {str_field(items[i], "id"), str_field(items[i], "addr"), inc, owned,
                               replica_of};
        if (zkv_repl_table_add_row(t, cells) < 0)
            goto done;
    }
    out = zkv_repl_table_render(t);
done:
    free(items);
    zkv_repl_table_free(t);
    return out;
}

char *zkv_repl_describe_render(const char *json, zkv_repl_describe_view view, bool as_json,
                               char *err, size_t errlen)
{
    cJSON *root = cJSON_Parse(json);
    char *out = NULL;
    if (!root || !cJSON_IsObject(root)) {
        snprintf(err, errlen, "cannot parse the cluster description");
        goto done;
    }
    const cJSON *ranges = cJSON_GetObjectItemCaseSensitive(root, "ranges");
    const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(root, "nodes");
    if (!cJSON_IsArray(ranges) || !cJSON_IsArray(nodes)) {
        snprintf(err, errlen, "cluster description without ranges or nodes");
        goto done;
    }
    if (as_json) {
        char *text = cJSON_PrintUnformatted(view == ZKV_REPL_VIEW_RANGES ? ranges : nodes);
        if (text) {
            size_t len = strlen(text);
            out = malloc(len + 2);
            if (out) {
                memcpy(out, text, len);
                memcpy(out + len, "\n", 2);
            }
            cJSON_free(text);
        }
    } else {
        out = view == ZKV_REPL_VIEW_RANGES ? render_ranges(ranges, nodes) : render_nodes(nodes);
    }
    if (!out)
        snprintf(err, errlen, "out of memory");
done:
    cJSON_Delete(root);
    return out;
}
