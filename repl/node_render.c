/* node_render.c: the tables and lines of `zkv info` and `zkv latency` (node_render.h). */
#include "node_render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/buf.h"
#include "describe_render.h"
#include "table.h"
#include "tokenize.h"

void zkv_repl_uptime_cell(double seconds, char *out, size_t outlen)
{
    unsigned long s = seconds > 0 ? (unsigned long)seconds : 0;
    if (s < 60)
        snprintf(out, outlen, "%lus", s);
    else if (s < 3600)
        snprintf(out, outlen, "%lum%02lus", s / 60, s % 60);
    else if (s < 86400)
        snprintf(out, outlen, "%luh%02lum", s / 3600, s % 3600 / 60);
    else
        snprintf(out, outlen, "%lud%02luh", s / 86400, s % 86400 / 3600);
}

static double num(const cJSON *o, const char *name, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

static const char *str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : "";
}

static bool flag(const cJSON *o, const char *name)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, name));
}

/* A percentile as the table shows it: "0.25", ">5000" past the last bucket, "-" none. */
static void pct(const cJSON *p, char *out, size_t outlen)
{
    if (!cJSON_IsNumber(p))
        snprintf(out, outlen, "-");
    else if (p->valuedouble < 0)
        snprintf(out, outlen, "slow");
    else
        snprintf(out, outlen, "%g", p->valuedouble);
}

/* "p50/p99" of op in the node's latency_ms. */
static void lat_cell(const cJSON *node, const char *op, char *out, size_t outlen)
{
    const cJSON *l =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(node, "latency_ms"), op);
    char a[32], b[32];
    pct(cJSON_GetObjectItemCaseSensitive(l, "p50"), a, sizeof a);
    pct(cJSON_GetObjectItemCaseSensitive(l, "p99"), b, sizeof b);
    snprintf(out, outlen, "%s/%s", a, b);
}

static void keys_cell(const cJSON *node, char *out, size_t outlen)
{
    double k = num(node, "keys", 0);
    snprintf(out, outlen, "%s%.0f",
             flag(node, "keys_exact")      ? ""
             : flag(node, "keys_at_least") ? ">="
                                           : "~",
             k);
}

static int by_node(const void *a, const void *b)
{
    return strcmp(str(*(const cJSON *const *)a, "node"), str(*(const cJSON *const *)b, "node"));
}

static int add_node_row(zkv_repl_table *t, const cJSON *n)
{
    char up[32], owned[24], replica[24], keys[40], size[32], ops[32], get[64], put[64], rtt[32];
    zkv_repl_uptime_cell(num(n, "uptime_s", 0), up, sizeof up);
    snprintf(owned, sizeof owned, "%.0f", num(n, "ranges_owned", 0));
    snprintf(replica, sizeof replica, "%.0f", num(n, "ranges_replica", 0));
    keys_cell(n, keys, sizeof keys);
    zkv_repl_size_cell(n, size, sizeof size);
    const cJSON *rates = cJSON_GetObjectItemCaseSensitive(n, "requests_per_s");
    snprintf(ops, sizeof ops, "%.0f", /* data requests: not PINGs, nor the nodes' own traffic */
             num(rates, "get", 0) + num(rates, "put", 0) + num(rates, "delete", 0) +
                 num(rates, "scan", 0));
    lat_cell(n, "get", get, sizeof get);
    lat_cell(n, "put", put, sizeof put);
    snprintf(rtt, sizeof rtt, "%.2f", num(n, "rtt_ms", 0));
    const char *row[] = {str(n, "node"),
                         str(n, "address"),
                         str(n, "version"),
                         up,
                         flag(n, "serving") ? "yes" : "NO",
                         owned,
                         replica,
                         keys,
                         size,
                         ops,
                         get,
                         put,
                         rtt};
    return zkv_repl_table_add_row(t, row);
}

static char *render_table(const cJSON *nodes, size_t *failed)
{
    static const char *const headers[] = {
        "NODE",    "ADDRESS", "VERSION", "UP",    "SERVING",         "OWNED",
        "REPLICA", "KEYS",    "SIZE",    "OPS/S", "GET_MS(P50/P99)", "PUT_MS(P50/P99)",
        "RTT_MS"};
    size_t n = (size_t)cJSON_GetArraySize(nodes), k = 0;
    const cJSON **sorted = calloc(n ? n : 1, sizeof *sorted);
    zkv_repl_table *t = zkv_repl_table_create(13, headers);
    zkv_buf errs;
    zkv_buf_init(&errs);
    char *out = NULL;
    if (!sorted || !t)
        goto done;
    for (size_t c = 5; c < 13; c++)
        zkv_repl_table_set_align(t, c, ZKV_REPL_ALIGN_RIGHT);
    const cJSON *it;
    cJSON_ArrayForEach(it, nodes) sorted[k++] = it;
    qsort(sorted, k, sizeof *sorted, by_node);
    for (size_t i = 0; i < k; i++) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(sorted[i], "error");
        if (!cJSON_IsString(e)) {
            if (add_node_row(t, sorted[i]) != 0)
                goto done;
            continue;
        }
        (*failed)++;
        char line[1200];
        int len = snprintf(line, sizeof line, "%s (%s): %s\n", str(sorted[i], "node"),
                           str(sorted[i], "address"), e->valuestring);
        if (len < 0 || zkv_buf_append(&errs, line, strlen(line)) != 0)
            goto done;
    }
    char *table = zkv_repl_table_rows(t) ? zkv_repl_table_render(t) : strdup("");
    if (!table)
        goto done;
    size_t tl = strlen(table);
    out = malloc(tl + errs.len + 1);
    if (out) {
        memcpy(out, table, tl);
        if (errs.len)
            memcpy(out + tl, errs.data, errs.len);
        out[tl + errs.len] = '\0';
    }
    free(table);
done:
    zkv_buf_free(&errs);
    zkv_repl_table_free(t);
    free(sorted);
    return out;
}

char *zkv_repl_info_render(const char *json, bool as_json, size_t *failed, char *err, size_t errlen)
{
    *failed = 0;
    cJSON *doc = cJSON_Parse(json);
    const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(doc, "nodes");
    if (!cJSON_IsArray(nodes)) {
        snprintf(err, errlen, "the node information is not the JSON zkv_info documents");
        cJSON_Delete(doc);
        return NULL;
    }
    char *out = NULL;
    if (as_json) {
        const cJSON *it;
        cJSON_ArrayForEach(it, nodes) *failed +=
            cJSON_IsString(cJSON_GetObjectItemCaseSensitive(it, "error"));
        char *text = cJSON_Print(doc);
        size_t len = text ? strlen(text) : 0;
        out = text ? malloc(len + 2) : NULL;
        if (out) {
            memcpy(out, text, len);
            memcpy(out + len, "\n", 2);
        }
        free(text);
    } else {
        out = render_table(nodes, failed);
    }
    cJSON_Delete(doc);
    if (!out)
        snprintf(err, errlen, "out of memory");
    return out;
}

void zkv_repl_latency_add(zkv_repl_latency *l, double ms)
{
    if (l->samples == 0 || ms < l->min_ms)
        l->min_ms = ms;
    if (l->samples == 0 || ms > l->max_ms)
        l->max_ms = ms;
    l->sum_ms += ms;
    l->samples++;
}

void zkv_repl_latency_line(const zkv_repl_latency *l, char *out, size_t outlen)
{
    char failed[48] = "";
    if (l->failed)
        snprintf(failed, sizeof failed, ", %llu failed", (unsigned long long)l->failed);
    if (l->samples == 0)
        snprintf(out, outlen, "(no samples%s)", failed);
    else
        snprintf(out, outlen, "min: %.2f, max: %.2f, avg: %.2f (%llu samples%s)", l->min_ms,
                 l->max_ms, l->sum_ms / (double)l->samples, (unsigned long long)l->samples, failed);
}

/* A whole decimal number in [1, max] from arg; -1 otherwise. */
static int parse_count(const zkv_repl_arg *arg, unsigned long max, unsigned long *out)
{
    if (!arg || arg->len == 0 || arg->len > 10 || strspn(arg->data, "0123456789") != arg->len)
        return -1;
    unsigned long v = strtoul(arg->data, NULL, 10);
    if (v < 1 || v > max)
        return -1;
    *out = v;
    return 0;
}

int zkv_repl_latency_args_parse(const zkv_repl_args *a, zkv_repl_latency_args *out, char *err,
                                size_t errlen)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 1; i < a->argc; i++) {
        const zkv_repl_arg *x = &a->argv[i];
        const zkv_repl_arg *v = i + 1 < a->argc ? &a->argv[i + 1] : NULL;
        if (zkv_repl_arg_is(x, "--samples")) {
            if (parse_count(v, 1000000000ul, &out->samples) != 0) {
                snprintf(err, errlen, "--samples takes a count from 1 to 1000000000");
                return -1;
            }
            i++;
        } else if (zkv_repl_arg_is(x, "--history")) {
            if (parse_count(v, 86400ul, &out->history_s) != 0) {
                snprintf(err, errlen, "--history takes seconds from 1 to 86400");
                return -1;
            }
            i++;
        } else if (x->len > 0 && x->data[0] != '-' && !out->node && strlen(x->data) == x->len) {
            out->node = x->data;
        } else {
            snprintf(err, errlen,
                     "unexpected argument '%.*s' (usage: latency [NODE] [--samples "
                     "N] [--history SECONDS])",
                     (int)(x->len > 64 ? 64 : x->len), x->data);
            return -1;
        }
    }
    return 0;
}
