/* test_copythrottle.c: a range copy (snapshot) is sent no faster than --copy-rate-mb
 * (docs/operations.md, "Copy speed and throttling"), while foreground writes go on.
 *
 * Servers run with --copy-rate-mb 1 and --log-retain 200. One range gets about 4 MiB
 * (1,024 values of 4,000 bytes) while one of its replicas, R, is down (kill -9), far past
 * what the owner's log keeps; R is started again with a writer running over every range,
 * and needs a snapshot of that range. The owner's log says when the snapshot began and
 * when R installed it: that took at least (bytes - one burst) / rate, a lower bound that
 * checks the throttle (not a speed assertion: a slow machine only makes it longer). The
 * writer wrote meanwhile and none of its writes failed; R ends in in_sync of every range;
 * every acknowledged write and every loaded value reads back from the owners, and, with
 * every process stopped, is in R's LevelDB. */
#include <CUnit/CUnit.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "it_common.h"
#include "it_repl.h"
#include "zkt/zkt.h"
#include "zkv/zkv.h"

#define N_SERVERS 3
#define WAIT_MS 60000
#define RATE_MB 1
#define RATE ((uint64_t)RATE_MB << 20)
#define BURST ((uint64_t)256 * 1024) /* max(one frame, rate / 10) at 1 MiB/s */
#define N_LOAD 1024
#define LOAD_VALUE 4000

static zkt_cluster g_cl;
static zkv_client *g_client;

static int init_suite(void)
{
    if (zkt_cluster_init(&g_cl, "copythrottle") != 0 ||
        zkt_cluster_server_flag(&g_cl, "--copy-rate-mb", "1") != 0 ||
        zkt_cluster_server_flag(&g_cl, "--log-retain", "200") != 0)
        return -1;
    return it_cluster_up(&g_cl, N_SERVERS, 10000, 0, &g_client);
}

static int cleanup_suite(void)
{
    return it_cluster_down(&g_cl, &g_client);
}

/* Loaded key i: the range's prefix, then "-load-%05d". */
static size_t load_key(const uint8_t *prefix, size_t plen, int i, uint8_t *out)
{
    memcpy(out, prefix, plen);
    return plen + (size_t)snprintf((char *)out + plen, 32, "-load-%05d", i);
}

static void load_value(int i, uint8_t *out)
{
    int p = snprintf((char *)out, 32, "load-%d:", i);
    for (int k = p; k < LOAD_VALUE; k++)
        out[k] = (uint8_t)('A' + (k * 7 + i) % 26);
}

/* Wall ms of a log line's ISO-8601 stamp ("2026-12-07T02:27:21.123Z ..."), 0 if none. */
static uint64_t line_ms(const char *line)
{
    struct tm tm;
    int ms = 0;
    memset(&tm, 0, sizeof tm);
    if (sscanf(line, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (uint64_t)timegm(&tm) * 1000u + (uint64_t)ms;
}

/* What the owner's log says of the snapshot of range to node. */
typedef struct snap_log {
    const char *path;
    size_t from; /* log offset where the search starts */
    char begin_pat[256], wait_pat[256], end_pat[256], end_at[256];
    uint64_t t_begin, t_end; /* wall ms of its BEGIN and of the install */
    unsigned long long bytes, ms;
    int waits; /* "waits for a copy slot" lines for it */
} snap_log;

/* true once the log holds the install line; fills the times of the last BEGIN before it. */
static bool snapshot_installed(void *p)
{
    snap_log *s = p;
    size_t len = 0;
    char *text = zkt_read_file(s->path, &len);
    if (!text)
        return false;
    bool done = false;
    s->t_begin = 0;
    s->waits = 0;
    char *save = NULL;
    for (char *line = strtok_r(text + (s->from < len ? s->from : len), "\n", &save); line && !done;
         line = strtok_r(NULL, "\n", &save)) {
        if (strstr(line, s->begin_pat))
            s->t_begin = line_ms(line);
        else if (strstr(line, s->wait_pat))
            s->waits++;
        const char *e = strstr(line, s->end_at);
        if (e && strstr(line, s->end_pat) && s->t_begin &&
            sscanf(e + strlen(s->end_at), "%llu bytes in %llu ms", &s->bytes, &s->ms) == 2) {
            s->t_end = line_ms(line);
            done = s->t_end != 0;
        }
    }
    free(text);
    return done;
}

static void test_throttled_snapshot(void)
{
    CU_ASSERT_FATAL(it_wait_all_in_sync(&g_cl, WAIT_MS));
    zkt_map *m = zkt_cluster_map(&g_cl);
    if (!m || m->n_ranges < 2) {
        CU_FAIL("no map with two ranges");
        zkt_map_free(m);
        return;
    }
    const zkt_map_range *rg = &m->ranges[1];
    char range_id[ZKT_ID_MAX], rid[ZKT_ID_MAX]; /* kept: m goes when the test ends */
    memcpy(range_id, rg->id, sizeof range_id);
    CU_ASSERT_FATAL(rg->n_replicas >= 1);
    memcpy(rid, rg->replicas[0], sizeof rid);
    const int o = zkt_cluster_server_index(&g_cl, rg->owner);
    const int r = zkt_cluster_server_index(&g_cl, rid);
    CU_ASSERT_FATAL(o >= 0 && r >= 0 && o != r);
    uint8_t prefix[ZKT_KEY_MAX];
    size_t plen = it_range_prefix(m, rg, prefix, false);
    CU_ASSERT_FATAL(plen > 0);
    int all[ZKT_MAX_RANGES], n_all = m->n_ranges;
    for (int i = 0; i < n_all; i++)
        all[i] = i;

    zkt_log("range %s: owner %s; kill -9 replica %s, then %d values of %d bytes", range_id,
            rg->owner, rid, N_LOAD, LOAD_VALUE);
    CU_ASSERT(zkt_server_stop(&g_cl, r, SIGKILL) == -SIGKILL);
    it_node_arg gone = {&g_cl, rid}; /* its session expires, its own ranges fail over */
    CU_ASSERT_FATAL(zkt_wait_for(it_node_gone, &gone, WAIT_MS));
    CU_ASSERT_FATAL(zkt_cluster_wait_ready(&g_cl, WAIT_MS));
    CU_ASSERT(it_wait_in_sync(&g_cl, rid, false, WAIT_MS));
    static uint8_t val[LOAD_VALUE];
    uint8_t key[ZKT_KEY_MAX + 32];
    uint64_t loaded = 0;
    int failed = 0;
    for (int i = 0; i < N_LOAD; i++) {
        size_t kl = load_key(prefix, plen, i, key);
        load_value(i, val);
        int rc = zkv_put(g_client, key, kl, val, LOAD_VALUE, 0, 0, NULL);
        if (rc != ZKV_OK && failed++ < 5)
            zkt_log("load put %d: %s: %s", i, zkv_strerror(rc), zkv_last_error());
        loaded += kl + LOAD_VALUE;
    }
    CU_ASSERT_FATAL(failed == 0);

    /* The writer runs from before R is back until after it is in sync. */
    zkv_client *wc = NULL;
    CU_ASSERT_FATAL(it_client(&g_cl, 10000, &wc) == ZKV_OK);
    static it_writer w;
    CU_ASSERT_FATAL(it_writer_start(&w, wc, 1, m, all, n_all, false) == 0);
    CU_ASSERT(it_writer_wait_acks(&w, 20, WAIT_MS));

    snap_log s = {.path = g_cl.servers[o].log};
    free(zkt_read_file(s.path, &s.from)); /* only what the owner logs from now on */
    snprintf(s.begin_pat, sizeof s.begin_pat, "range %s: sending a snapshot at ", range_id);
    snprintf(s.wait_pat, sizeof s.wait_pat, "range %s: the snapshot for %s waits", range_id, rid);
    snprintf(s.end_pat, sizeof s.end_pat, "range %s: snapshot at seq ", range_id);
    snprintf(s.end_at, sizeof s.end_at, " installed on %s: ", rid);
    CU_ASSERT_FATAL(zkt_server_start(&g_cl, r) == 0);
    uint64_t t0 = zkt_now_ms();
    bool installed = zkt_wait_for(snapshot_installed, &s, WAIT_MS);
    CU_ASSERT_FATAL(installed);
    CU_ASSERT(it_wait_in_sync(&g_cl, rid, true, WAIT_MS));
    zkt_log("R in in_sync of every range %d ms after its start", (int)(zkt_now_ms() - t0));
    CU_ASSERT(it_writer_wait_acks(&w, 20, WAIT_MS));
    it_writer_stop(&w);

    uint64_t took = s.t_end - s.t_begin;
    uint64_t floor_ms = (loaded - BURST) * 1000 / RATE;
    zkt_log("snapshot of %s to %s: %llu bytes (loaded %llu) in %llu ms by the owner's clock, "
            "%llu ms between its log lines (%.2f MiB/s; at least %llu ms expected at %d MiB/s); "
            "%d waits for a copy slot",
            range_id, rid, s.bytes, (unsigned long long)loaded, s.ms, (unsigned long long)took,
            (double)s.bytes / 1048576.0 / ((double)(took ? took : 1) / 1000.0),
            (unsigned long long)floor_ms, RATE_MB, s.waits);
    CU_ASSERT(s.bytes >= loaded);
    CU_ASSERT(took >= floor_ms);
    CU_ASSERT(s.ms >= floor_ms);

    /* Foreground writes went on during the copy, none failed. */
    int during = 0, slowest = 0, total = atomic_load(&w.n);
    for (int i = 0; i < total; i++) {
        const it_attempt *a = &w.a[i];
        if (a->state != IT_W_ACKED || a->t_done < s.t_begin || a->t_sent > s.t_end)
            continue;
        during++;
        if ((int)(a->t_done - a->t_sent) > slowest)
            slowest = (int)(a->t_done - a->t_sent);
    }
    zkt_log("%d writes acknowledged during the copy, the slowest in %d ms", during, slowest);
    CU_ASSERT(during > 0);
    CU_ASSERT(atomic_load(&w.failed) == 0);

    /* Every acknowledged write and every loaded value reads back from the owners. */
    int checked = 0;
    CU_ASSERT(it_writer_verify(&w, g_client, ZKV_FLAG_OWNER_ONLY, false, &checked) == 0);
    int bad = 0;
    for (int i = 0; i < N_LOAD; i++) {
        size_t kl = load_key(prefix, plen, i, key);
        load_value(i, val);
        zkv_value *v = NULL;
        int rc = zkv_get(g_client, key, kl, 0, ZKV_FLAG_OWNER_ONLY, &v);
        bad += !(rc == ZKV_OK && zkv_value_len(v) == LOAD_VALUE &&
                 memcmp(zkv_value_data(v), val, LOAD_VALUE) == 0);
        zkv_value_free(v);
    }
    CU_ASSERT(bad == 0);

    /* And R holds all of it: it is in in_sync, so it applied every acknowledged write. */
    zkt_ldb *db[N_SERVERS];
    it_stop_all_open_ldb(&g_cl, db);
    int missing = 0;
    for (int i = 0; i < N_LOAD; i++) {
        size_t kl = load_key(prefix, plen, i, key);
        load_value(i, val);
        uint8_t *got = NULL;
        size_t gl = 0;
        bool ok = zkt_ldb_get(db[r], key, kl, &got, &gl, NULL, NULL) == 1 && gl == LOAD_VALUE &&
                  memcmp(got, val, LOAD_VALUE) == 0;
        free(got);
        missing += !ok;
    }
    uint8_t wkey[ZKT_KEY_MAX + 64], wval[160];
    int wmissing = 0;
    for (int i = 0; i < total; i++) {
        if (w.a[i].state != IT_W_ACKED)
            continue;
        size_t kl = it_w_key(&w, i, wkey), vl = it_w_value(&w, i, wval);
        uint8_t *got = NULL;
        size_t gl = 0;
        bool ok = zkt_ldb_get(db[r], wkey, kl, &got, &gl, NULL, NULL) == 1 && gl == vl &&
                  memcmp(got, wval, vl) == 0;
        free(got);
        if (!ok && wmissing++ < 5)
            zkt_log("acknowledged write %d missing on %s", i, rid);
    }
    zkt_log("%s's LevelDB: %d of %d loaded values and %d of %d acknowledged writes missing", rid,
            missing, N_LOAD, wmissing, atomic_load(&w.acked));
    CU_ASSERT(missing == 0);
    CU_ASSERT(wmissing == 0);
    for (int i = 0; i < N_SERVERS; i++)
        zkt_ldb_close(db[i]);
    it_writer_free(&w);
    zkv_client_free(wc);
    zkt_map_free(m);
}

int main(void)
{
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("copy throttling (--copy-rate-mb 1)", init_suite, cleanup_suite);
    CU_add_test(s, "a 4 MiB snapshot takes at least its bytes over the rate; writes go on",
                test_throttled_snapshot);
    return zkt_run_all();
}
