/* nodeinfo.c: the INFO answer's figures and JSON (nodeinfo.h). */
#include "nodeinfo.h"

#include <string.h>

#include <cjson/cJSON.h>

void zkv_nodeinfo_tick(zkv_nodeinfo_ring *r, const zkv_metrics_counters *c, uint64_t now_ms)
{
    zkv_nodeinfo_sample *s = &r->s[r->next];
    s->at_ms = now_ms;
    s->latency = c->latency;
    for (int op = 0; op < ZKV_MOP_COUNT; op++) {
        uint64_t n = 0;
        for (int st = 0; st < ZKV_MST_COUNT; st++)
            n += c->requests[op][st];
        s->requests[op] = n;
    }
    r->next = (r->next + 1) % (ZKV_NODEINFO_WINDOW + 1);
    if (r->n < ZKV_NODEINFO_WINDOW + 1)
        r->n++;
}

zkv_key_count zkv_nodeinfo_key_count(uint64_t counted, bool reached_end, uint64_t sample_bytes,
                                     uint64_t range_bytes)
{
    zkv_key_count k = {.keys = counted, .exact = reached_end, .at_least = false};
    if (reached_end)
        return k;
    if (sample_bytes > 0 && range_bytes > sample_bytes) {
        double est = (double)counted * ((double)range_bytes / (double)sample_bytes);
        k.keys = (uint64_t)(est + 0.5);
    } else {
        k.at_least = true; /* the count stopped, and the sizes cannot scale it */
    }
    return k;
}

void zkv_key_count_add(zkv_key_count *a, zkv_key_count b)
{
    a->keys += b.keys;
    a->exact = a->exact && b.exact;
    a->at_least = a->at_least || b.at_least;
}

/* The oldest sample no older than the window (NULL: none yet). */
static const zkv_nodeinfo_sample *window_start(const zkv_nodeinfo_ring *r, uint64_t now_ms)
{
    const zkv_nodeinfo_sample *best = NULL;
    for (size_t i = 0; i < r->n; i++) {
        const zkv_nodeinfo_sample *s = &r->s[i];
        if (s->at_ms >= now_ms || now_ms - s->at_ms > (ZKV_NODEINFO_WINDOW + 1) * 1000u)
            continue;
        if (!best || s->at_ms < best->at_ms)
            best = s;
    }
    return best;
}

static cJSON *percentiles(const zkv_latency *l, zkv_metrics_op op)
{
    cJSON *o = cJSON_CreateObject();
    static const struct {
        const char *name;
        double q;
    } qs[] = {{"p50", 0.50}, {"p99", 0.99}, {"p999", 0.999}};
    for (size_t i = 0; o && i < sizeof qs / sizeof qs[0]; i++) {
        uint64_t us = zkv_metrics_quantile_us(l, op, qs[i].q);
        cJSON *v = us == 0            ? cJSON_CreateNull()
                   : us == UINT64_MAX ? cJSON_CreateNumber(-1)
                                      : cJSON_CreateNumber((double)us / 1000.0);
        if (!v || !cJSON_AddItemToObject(o, qs[i].name, v)) {
            cJSON_Delete(v);
            cJSON_Delete(o);
            return NULL;
        }
    }
    return o;
}

/* Rates and percentiles between the window's start w and now. */
static bool add_window(cJSON *root, const zkv_nodeinfo *ni, const zkv_nodeinfo_sample *w,
                       uint64_t now_ms)
{
    double secs = w ? (double)(now_ms - w->at_ms) / 1000.0 : 0;
    if (!cJSON_AddNumberToObject(root, "window_s", secs))
        return false;
    cJSON *rates = cJSON_AddObjectToObject(root, "requests_per_s");
    cJSON *lat = cJSON_AddObjectToObject(root, "latency_ms");
    if (!rates || !lat)
        return false;
    zkv_latency diff;
    memset(&diff, 0, sizeof diff);
    uint64_t total = 0, total_window = 0;
    for (int op = 0; op < ZKV_MOP_COUNT; op++) {
        uint64_t n = 0;
        for (int st = 0; st < ZKV_MST_COUNT; st++)
            n += ni->counters.requests[op][st];
        total += n;
        uint64_t in_window = w && n >= w->requests[op] ? n - w->requests[op] : 0;
        total_window += in_window;
        for (int b = 0; b <= ZKV_LAT_NB; b++) {
            uint64_t now_b = ni->counters.latency.n[op][b];
            uint64_t then_b = w ? w->latency.n[op][b] : now_b;
            diff.n[op][b] = now_b >= then_b ? now_b - then_b : 0;
        }
        const char *name = zkv_metrics_op_name((zkv_metrics_op)op);
        if (!cJSON_AddNumberToObject(rates, name, secs > 0 ? (double)in_window / secs : 0))
            return false;
        cJSON *p = percentiles(&diff, (zkv_metrics_op)op);
        if (!p || !cJSON_AddItemToObject(lat, name, p)) {
            cJSON_Delete(p);
            return false;
        }
    }
    return cJSON_AddNumberToObject(rates, "total", secs > 0 ? (double)total_window / secs : 0) &&
           cJSON_AddNumberToObject(root, "requests_total", (double)total);
}

char *zkv_nodeinfo_render(const zkv_nodeinfo *ni, const zkv_nodeinfo_ring *r, uint64_t now_ms)
{
    cJSON *root = cJSON_CreateObject();
    bool ok = root && cJSON_AddStringToObject(root, "node", ni->node_id ? ni->node_id : "") &&
              cJSON_AddStringToObject(root, "version", ni->version ? ni->version : "") &&
              cJSON_AddStringToObject(root, "zone", ni->zone ? ni->zone : "") &&
              cJSON_AddStringToObject(root, "address", ni->address ? ni->address : "") &&
              cJSON_AddNumberToObject(root, "uptime_s", (double)(ni->uptime_ms / 1000u)) &&
              cJSON_AddBoolToObject(root, "serving", ni->serving && ni->has_map) &&
              cJSON_AddNumberToObject(root, "ranges_owned", (double)ni->owned) &&
              cJSON_AddNumberToObject(root, "ranges_replica", (double)ni->replica_of) &&
              cJSON_AddNumberToObject(root, "keys", (double)ni->keys.keys) &&
              cJSON_AddBoolToObject(root, "keys_exact", ni->keys.exact) &&
              cJSON_AddBoolToObject(root, "keys_at_least", ni->keys.at_least) &&
              cJSON_AddNumberToObject(root, "bytes", (double)ni->bytes) &&
              cJSON_AddNumberToObject(root, "db_bytes", (double)ni->db_bytes) &&
              cJSON_AddNumberToObject(root, "connections", (double)ni->connections) &&
              cJSON_AddNumberToObject(root, "rss_bytes", (double)ni->rss_bytes) &&
              add_window(root, ni, window_start(r, now_ms), now_ms);
    char *out = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return out;
}
