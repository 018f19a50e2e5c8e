/* info.c: INFO on zkv-server (info.h). Key counts visit at most ZKV_INFO_KEY_SAMPLE keys
 * of each owned range, so an INFO costs the loop a bounded pause however large the data
 * (nodeinfo.h scales a partial count by LevelDB's size estimates). */
#include "info.h"

#include <stdlib.h>
#include <string.h>

#include "common/frame.h"
#include "common/procstat.h"
#include "common/util.h"
#include "nodeinfo.h"
#include "server_int.h"

#define ZKV_INFO_KEY_SAMPLE 2000

typedef struct key_sample {
    uint64_t counted;
    uint8_t last[ZKV_MAX_KEY_DEFAULT];
    size_t last_len;
    bool last_fits;
} key_sample;

static int count_key(void *ctx, const uint8_t *key, size_t klen, const zkv_value_view *v)
{
    (void)v;
    key_sample *k = ctx;
    if (k->counted == ZKV_INFO_KEY_SAMPLE)
        return 1; /* stopped: this key is not counted, and it bounds the sample */
    k->counted++;
    k->last_fits = klen <= sizeof k->last;
    if (k->last_fits) {
        memcpy(k->last, key, klen);
        k->last_len = klen;
    }
    return 0;
}

/* The range's keys counted and its bytes (*bytes, zkv_store_range_bytes) in one walk. */
static zkv_key_count range_keys(zkv_store *store, const zkv_range *r, uint64_t *bytes)
{
    key_sample k = {0};
    int rc;
    *bytes = zkv_store_range_bytes_walk(store, r->start, r->start_len, r->end, r->end_len,
                                        count_key, &k, &rc);
    if (rc < 0)
        return (zkv_key_count){.keys = k.counted, .at_least = true};
    uint64_t sample_bytes =
        rc == 1 && k.last_fits
            ? zkv_store_approx_size(store, r->start, r->start_len, k.last, k.last_len)
            : 0;
    return zkv_nodeinfo_key_count(k.counted, rc == 0, sample_bytes, *bytes);
}

char *zkv_server_info(void *ctx)
{
    zkv_server *s = ctx;
    const zkv_rangemap *m = s->map;
    zkv_nodeinfo ni = {.node_id = s->opt->node_id,
                       .version = ZKV_VERSION,
                       .zone = s->opt->membership.zone,
                       .address = s->opt->membership.advertise,
                       .serving = !s->env.fenced,
                       .has_map = m != NULL,
                       .keys = {.exact = true},
                       .connections = s->n_conns,
                       .counters = s->stats};
    zkv_procstat ps;
    if (zkv_procstat_read(&ps) == 0) {
        ni.rss_bytes = ps.rss_bytes;
        uint64_t now = zkv_wall_ms();
        ni.uptime_ms = now > ps.start_time_ms ? now - ps.start_time_ms : 0;
    }
    zkv_dbstats db;
    if (zkv_store_db_stats(s->store, &db) == 0)
        ni.db_bytes = db.size_bytes;
    for (size_t i = 0; m && i < m->n_ranges; i++) {
        const zkv_range *r = &m->ranges[i];
        if (zkv_range_is_replica(r, s->opt->node_id)) {
            ni.replica_of++;
            continue;
        }
        if (strcmp(r->owner, s->opt->node_id) != 0)
            continue;
        ni.owned++;
        uint64_t bytes;
        zkv_key_count_add(&ni.keys, range_keys(s->store, r, &bytes));
        ni.bytes += bytes;
    }
    return zkv_nodeinfo_render(&ni, &s->info_ring, zkv_now_ms());
}
