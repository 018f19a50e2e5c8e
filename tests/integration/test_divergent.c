/* test_divergent.c: an old owner returns with a divergent log tail (docs/replication.md,
 * catch-up: "a divergent tail is never patched in place"; docs/guarantees.md: replicas
 * that hold a divergent tail of an old epoch discard it).
 * Range R's two replicas are frozen (SIGSTOP; --replica-lag-ms 30000 keeps them in
 * in_sync), so writes to R enter its owner O's log and LevelDB but are never acknowledged
 * (the client gives up after 250 ms), and O ships at most its in-flight window of them.
 * O is killed (kill -9): its data dir holds writes its replicas never saw (checked with
 * LevelDB, the precondition). The replicas resume, the coordinator promotes one of them
 * (epoch + 1), which takes new acknowledged writes. O started again with its data dir
 * comes back as a replica whose log continues the old epoch past the new owner's fork
 * point: it must end with exactly the new owner's data for R (its extra writes gone,
 * every acknowledged write there), and be back in in_sync. */
#include <CUnit/CUnit.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include "it_common.h"
#include "it_repl.h"
#include "zkt/zkt.h"
#include "zkv/zkv.h"

#define N_SERVERS 3
#define WAIT_MS 30000
#define N_ACKED 10  /* keys -a<i>: acknowledged before, overwritten after the failover */
#define N_LOST 14   /* keys -x<i>: written only while the replicas are frozen */
#define MAX_KEYS 64 /* keys of R compared between the copies */

static zkt_cluster g_cl;
static zkv_client *g_client; /* 5 s per call */

static int init(void)
{
    if (zkt_cluster_init(&g_cl, "divergent") != 0)
        return -1;
    if (zkt_cluster_server_flag(&g_cl, "--replica-lag-ms", "30000") != 0)
        return -1;
    return it_cluster_up(&g_cl, N_SERVERS, 5000, 1000, &g_client);
}

static int cleanup(void)
{
    return it_cluster_down(&g_cl, &g_client);
}

/* The key prefix + "-" + tag + i. */
static size_t key_of(const uint8_t *prefix, size_t plen, char tag, int i, uint8_t *out)
{
    memcpy(out, prefix, plen);
    return plen + (size_t)snprintf((char *)out + plen, 16, "-%c%d", tag, i);
}

typedef struct kv_set {
    int n;
    uint8_t key[MAX_KEYS][ZKT_KEY_MAX + 16];
    size_t klen[MAX_KEYS];
    char val[MAX_KEYS][32];
} kv_set;

static int collect(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
                   uint64_t epoch, uint64_t seq)
{
    (void)epoch;
    (void)seq;
    kv_set *s = arg;
    if (s->n >= MAX_KEYS || klen > sizeof s->key[0] || vlen >= sizeof s->val[0])
        return 1;
    memcpy(s->key[s->n], key, klen);
    s->klen[s->n] = klen;
    memcpy(s->val[s->n], val, vlen);
    s->val[s->n][vlen] = '\0';
    s->n++;
    return 0;
}

/* What server i's LevelDB holds in range r (the server must be stopped). -1 on error. */
static int disk_set(int i, const zkt_map_range *r, kv_set *out)
{
    memset(out, 0, sizeof *out);
    zkt_ldb *db = zkt_ldb_open(g_cl.servers[i].dir);
    if (!db)
        return -1;
    int rc = zkt_ldb_foreach(db, r->start, r->start_len, r->end, r->end_len, collect, out);
    zkt_ldb_close(db);
    return rc == 0 ? 0 : -1;
}

/* Whether the set holds key with value val (val NULL: the key, whatever its value). */
static bool has(const kv_set *s, const uint8_t *key, size_t klen, const char *val)
{
    for (int k = 0; k < s->n; k++)
        if (s->klen[k] == klen && memcmp(s->key[k], key, klen) == 0)
            return !val || strcmp(s->val[k], val) == 0;
    return false;
}

static void test_divergent_tail(void)
{
    CU_ASSERT_FATAL(it_wait_all_in_sync(&g_cl, WAIT_MS));
    zkt_map *m = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(m != NULL);
    if (!m)
        return; /* (CU_ASSERT_FATAL has returned already; for the analysers) */
    zkt_map_range r = m->ranges[1];
    r.json = NULL;
    uint8_t prefix[ZKT_KEY_MAX];
    size_t plen = it_range_prefix(m, &m->ranges[1], prefix, false);
    zkt_map_free(m);
    CU_ASSERT_FATAL(plen > 0);
    const int o = zkt_cluster_server_index(&g_cl, r.owner);
    CU_ASSERT_FATAL(o >= 0 && r.n_in_sync == 2);
    int rep[2] = {zkt_cluster_server_index(&g_cl, r.in_sync[0]),
                  zkt_cluster_server_index(&g_cl, r.in_sync[1])};
    CU_ASSERT_FATAL(rep[0] >= 0 && rep[1] >= 0);
    uint8_t key[ZKT_KEY_MAX + 16];
    char val[32];
    for (int i = 0; i < N_ACKED; i++) {
        snprintf(val, sizeof val, "v1-%d", i);
        CU_ASSERT(zkv_put(g_client, key, key_of(prefix, plen, 'a', i, key), val, strlen(val), 0, 0,
                          NULL) == ZKV_OK);
    }

    /* Replicas frozen: writes reach O's log only, and none is acknowledged. */
    zkt_log("SIGSTOP %s and %s; writes to %s (owner %s) are not acknowledged", r.in_sync[0],
            r.in_sync[1], r.id, r.owner);
    for (int k = 0; k < 2; k++)
        CU_ASSERT_FATAL(zkt_proc_signal(g_cl.servers[rep[k]].pid, SIGSTOP) == 0);
    int refused = 0;
    for (int i = 0; i < N_LOST; i++) {
        snprintf(val, sizeof val, "v2-%d", i);
        refused += zkv_put(g_client, key, key_of(prefix, plen, 'x', i, key), val, strlen(val), 250,
                           0, NULL) != ZKV_OK;
    }
    CU_ASSERT(refused == N_LOST);
    CU_ASSERT(zkt_server_stop(&g_cl, o, SIGKILL) == -SIGKILL);
    kv_set old;
    CU_ASSERT_FATAL(disk_set(o, &r, &old) == 0);
    int on_disk = 0;
    for (int i = 0; i < N_LOST; i++)
        on_disk += has(&old, key, key_of(prefix, plen, 'x', i, key), NULL);
    zkt_log("%s's LevelDB after kill -9: %d of the %d unacknowledged writes", r.owner, on_disk,
            N_LOST);
    CU_ASSERT_FATAL(on_disk > 0); /* the writes entered the old owner's store */
    for (int k = 0; k < 2; k++)
        CU_ASSERT_FATAL(zkt_proc_signal(g_cl.servers[rep[k]].pid, SIGCONT) == 0);

    /* A replica is promoted and takes new writes. */
    it_owner_arg oa;
    CU_ASSERT_FATAL(it_wait_new_owner(&oa, &g_cl, r.id, r.owner, r.epoch, WAIT_MS));
    zkt_log("%s: new owner %s at epoch %llu", r.id, oa.now.owner, (unsigned long long)oa.now.epoch);
    for (int i = 0; i < N_ACKED; i++) {
        snprintf(val, sizeof val, "v3-%d", i);
        int rc = ZKV_EUNAVAILABLE;
        for (int t = 0; t < 50 && rc != ZKV_OK; t++)
            if ((rc = zkv_put(g_client, key, key_of(prefix, plen, 'a', i, key), val, strlen(val), 0,
                              0, NULL)) != ZKV_OK)
                zkt_pause_ms(100);
        CU_ASSERT(rc == ZKV_OK);
    }
    /* Which unacknowledged writes the new owner has (those its replicas got before the
     * freeze took hold): the truth O must come back to. */
    kv_set truth = {0};
    zkv_scan *sc = NULL;
    CU_ASSERT_FATAL(zkv_scan_range(g_client, r.start, r.start_len, r.end, r.end_len, MAX_KEYS, 0,
                                   ZKV_FLAG_OWNER_ONLY, &sc) == ZKV_OK);
    for (size_t k = 0; k < zkv_scan_count(sc); k++) {
        size_t kl, vl;
        const void *kk = zkv_scan_key(sc, k, &kl), *vv = zkv_scan_value(sc, k, &vl);
        collect(&truth, kk, kl, vv, vl, 0, 0);
    }
    zkv_scan_free(sc);
    int divergent = 0;
    for (int i = 0; i < N_LOST; i++) {
        size_t kl = key_of(prefix, plen, 'x', i, key);
        divergent += has(&old, key, kl, NULL) && !has(&truth, key, kl, NULL);
    }
    zkt_log("%d writes only on the old owner: its divergent tail", divergent);
    CU_ASSERT_FATAL(divergent > 0);

    /* The old owner comes back: a replica of R again, with the new owner's data. */
    CU_ASSERT_FATAL(zkt_server_start(&g_cl, o) == 0);
    CU_ASSERT(it_wait_all_in_sync(&g_cl, WAIT_MS));
    CU_ASSERT(zkt_server_stop(&g_cl, o, SIGTERM) == 0);
    kv_set now;
    CU_ASSERT_FATAL(disk_set(o, &r, &now) == 0);
    CU_ASSERT(now.n == truth.n);
    for (int k = 0; k < truth.n; k++)
        CU_ASSERT(has(&now, truth.key[k], truth.klen[k], truth.val[k]));
    for (int i = 0; i < N_ACKED; i++) {
        snprintf(val, sizeof val, "v3-%d", i);
        CU_ASSERT(has(&now, key, key_of(prefix, plen, 'a', i, key), val));
    }
    zkt_log("%s after catch-up: %d keys in %s, as on the new owner", r.owner, now.n, r.id);
    CU_ASSERT_FATAL(zkt_server_start(&g_cl, o) == 0);
    CU_ASSERT(it_wait_all_in_sync(&g_cl, WAIT_MS));
    CU_ASSERT(it_check_sane(&g_cl) == 0);
}

int main(void)
{
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("divergent tail (--replica-lag-ms 30000)", init, cleanup);
    CU_add_test(s, "an old owner's unacknowledged tail is discarded when it returns",
                test_divergent_tail);
    return zkt_run_all();
}
