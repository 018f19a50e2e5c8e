/* stats.c: the per-range report of a node (see stats.h). */
#include "stats.h"

#include <cjson/cJSON.h>

zkv_stats_rate zkv_stats_rate_of(const zkv_stats_sample *prev, const zkv_stats_sample *now)
{
    zkv_stats_rate r = {0, 0};
    if (!prev || now->at_ms <= prev->at_ms)
        return r;
    double dt = (double)(now->at_ms - prev->at_ms) / 1000.0;
    uint64_t seqs = now->seq >= prev->seq ? now->seq - prev->seq : now->seq;
    uint64_t bytes = now->bytes_written >= prev->bytes_written
                         ? now->bytes_written - prev->bytes_written
                         : now->bytes_written;
    r.writes_per_s = (double)seqs / dt;
    r.write_bytes_per_s = (double)bytes / dt;
    return r;
}

char *zkv_stats_render(const char *node, const char *updated_iso, uint64_t interval_ms,
                       const zkv_stats_sample *samples, const zkv_stats_rate *rates, size_t n)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = o ? cJSON_CreateArray() : NULL;
    if (!arr || !cJSON_AddStringToObject(o, "node", node) ||
        !cJSON_AddStringToObject(o, "updated", updated_iso) ||
        !cJSON_AddNumberToObject(o, "interval_ms", (double)interval_ms) ||
        !cJSON_AddItemToObject(o, "ranges", arr)) {
        cJSON_Delete(arr);
        cJSON_Delete(o);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        cJSON *r = cJSON_CreateObject();
        if (!r || !cJSON_AddItemToArray(arr, r) ||
            !cJSON_AddStringToObject(r, "id", samples[i].id) ||
            !cJSON_AddNumberToObject(r, "epoch", (double)samples[i].epoch) ||
            !cJSON_AddNumberToObject(r, "seq", (double)samples[i].seq) ||
            !cJSON_AddNumberToObject(r, "bytes", (double)samples[i].bytes) ||
            !cJSON_AddNumberToObject(r, "writes_per_s", rates[i].writes_per_s) ||
            !cJSON_AddNumberToObject(r, "write_bytes_per_s", rates[i].write_bytes_per_s)) {
            cJSON_Delete(o);
            return NULL;
        }
    }
    char *json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return json;
}
