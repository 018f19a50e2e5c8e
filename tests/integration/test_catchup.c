/* test_catchup.c: a restarted replica catches up before it rejoins in_sync
 * (docs/replication.md: Log shipping, Log truncation; DESIGN.md Guarantees).
 * 1. Log tail: replica R is stopped (SIGTERM), 3,000 keys are written (far fewer than
 *    --log-retain, 100000 by default; half of them pipelined, 250 at a time, so that the
 *    owners log them in chunks, several entries a record: record.h), R is restarted and waited for
 * in in_sync of every range it replicates. Then the third node T is killed and leaves in_sync, then
 * the owner O: R, the only live in_sync replica, is promoted for every range, and every key,
 * written before or while it was down, reads back from R (owner only).
 * 2. Snapshot: servers run with --log-retain 50. R is killed (kill -9); thousands of
 *    writes, overwrites and deletes follow, far past what the owners' logs keep; R is
 *    restarted, rejoins in_sync, a few more writes follow. With every process stopped,
 *    R's LevelDB holds, for every range it replicates, exactly the owner's keys, values
 *    and versions (deleted keys gone), and that is exactly what the test wrote. */
#include <CUnit/CUnit.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include "it_common.h"
#include "it_repl.h"
#include "zkt/zkt.h"
#include "zkv/zkv.h"

#define N_SERVERS 3
#define N_KEYS 4000
#define WAIT_MS 30000

static zkt_cluster g_cl;
static zkv_client *g_client;
static int g_gen[N_KEYS]; /* generation of the last acknowledged write; 0: never, -1: deleted */

static int start_cluster(const char *name, const char *log_retain)
{
    memset(g_gen, 0, sizeof g_gen);
    if (zkt_cluster_init(&g_cl, name) != 0)
        return -1;
    if (log_retain && zkt_cluster_server_flag(&g_cl, "--log-retain", log_retain) != 0)
        return -1;
    return it_cluster_up(&g_cl, N_SERVERS, 10000, 0, &g_client);
}

static int init_tail(void)
{
    return start_cluster("catchup-tail", NULL);
}

static int init_snapshot(void)
{
    return start_cluster("catchup-snap", "50");
}

static int cleanup(void)
{
    return it_cluster_down(&g_cl, &g_client);
}

static int put_keys(int from, int to, int gen)
{
    return it_put_keys(g_client, from, to, gen, g_gen);
}

/* Puts keys [from, to) of generation gen 250 at a time in one pipelined zkv_batch_run: an
 * owner takes many of them in one group commit, whose small entries share a log record. */
static int put_keys_pipelined(int from, int to, int gen)
{
    static uint8_t val[IT_VAL_MAX];
    uint8_t key[IT_KEY_MAX];
    int failed = 0;
    zkv_batch *b = zkv_batch_create();
    if (!b)
        return -1;
    for (int at = from; at < to; at += 250) {
        int end = at + 250 < to ? at + 250 : to;
        zkv_batch_clear(b);
        for (int i = at; i < end; i++) {
            size_t kl = it_key(i, key), vl = it_value(i, gen, val);
            if (zkv_batch_put(b, key, kl, val, vl) != ZKV_OK)
                failed++;
        }
        int rc = zkv_batch_run(g_client, b, 10000, 0);
        for (int i = at; i < end; i++) {
            int st = rc == ZKV_OK ? zkv_batch_status(b, (size_t)(i - at)) : rc;
            if (st == ZKV_OK)
                g_gen[i] = gen;
            else if (failed++ < 5)
                zkt_log("pipelined put %d: %s", i, zkv_strerror(st));
        }
    }
    zkv_batch_free(b);
    return failed;
}

static int del_keys(int from, int to)
{
    uint8_t key[IT_KEY_MAX];
    int failed = 0;
    for (int i = from; i < to; i++) {
        size_t kl = it_key(i, key);
        int rc = zkv_del(g_client, key, kl, 0, 0, NULL);
        if (rc == ZKV_OK || rc == ZKV_ENOTFOUND)
            g_gen[i] = -1;
        else if (failed++ < 5)
            zkt_log("del: %s: %s", zkv_strerror(rc), zkv_last_error());
    }
    return failed;
}

/* Reads every key (owner only); expect_node: the node that must answer (NULL: any). */
static int read_all(const char *expect_node)
{
    static uint8_t val[IT_VAL_MAX];
    uint8_t key[IT_KEY_MAX];
    char show[256];
    int bad = 0;
    for (int i = 0; i < N_KEYS; i++) {
        if (g_gen[i] == 0)
            continue;
        size_t kl = it_key(i, key);
        zkv_value *v = NULL;
        int rc = zkv_get(g_client, key, kl, 0, ZKV_FLAG_OWNER_ONLY, &v);
        bool ok;
        if (g_gen[i] < 0) {
            ok = rc == ZKV_ENOTFOUND;
        } else {
            size_t vl = it_value(i, g_gen[i], val);
            ok = rc == ZKV_OK && zkv_value_len(v) == vl &&
                 memcmp(zkv_value_data(v), val, vl) == 0 && !zkv_value_stale(v) &&
                 (!expect_node || strcmp(zkv_value_node(v), expect_node) == 0);
        }
        if (!ok && bad++ < 8)
            zkt_log("get %s (generation %d): %s (%s) from %s", it_show(key, kl, show, sizeof show),
                    g_gen[i], zkv_strerror(rc), rc == ZKV_OK ? "" : zkv_last_error(),
                    v ? zkv_value_node(v) : "-");
        zkv_value_free(v);
    }
    return bad;
}

typedef struct owned_all_arg {
    zkt_cluster *cl;
    const char *id;
} owned_all_arg;

static bool all_owned_by(void *p)
{
    owned_all_arg *a = p;
    zkt_map *m = zkt_cluster_map(a->cl);
    if (!m)
        return false;
    bool ok = m->n_ranges == a->cl->ranges && zkt_map_owned_by(m, a->id) == m->n_ranges;
    zkt_map_free(m);
    return ok;
}

/* How both tests start: every replica in_sync, then keys 0..999 written (generation 1).
 * Returns the index of the server that owns range 1 (fatal when there is none). */
static int first_writes(void)
{
    CU_ASSERT_FATAL(it_wait_all_in_sync(&g_cl, WAIT_MS));
    zkt_map *m = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(m != NULL);
    const int o = zkt_cluster_server_index(&g_cl, m->ranges[1].owner);
    zkt_map_free(m);
    CU_ASSERT_FATAL(o >= 0);
    CU_ASSERT_FATAL(put_keys(0, 1000, 1) == 0);
    return o;
}

/* --- 1. log tail ------------------------------------------------------------------------ */

static void test_log_tail_catch_up(void)
{
    const int o = first_writes();
    const int r = (o + 1) % N_SERVERS, t = (o + 2) % N_SERVERS;
    const char *rid = g_cl.servers[r].id, *tid = g_cl.servers[t].id;

    zkt_log("stopping replica %s; writing while it is down", rid);
    CU_ASSERT(zkt_server_stop(&g_cl, r, SIGTERM) == 0);
    uint64_t t0 = zkt_now_ms();
    CU_ASSERT(put_keys_pipelined(1000, 2500, 1) == 0);
    CU_ASSERT(put_keys(2500, N_KEYS, 1) == 0);
    CU_ASSERT(put_keys(0, 500, 2) == 0);
    CU_ASSERT(del_keys(500, 700) == 0);
    zkt_log("3,700 writes while %s was down, in %d ms", rid, (int)(zkt_now_ms() - t0));
    CU_ASSERT(it_wait_in_sync(&g_cl, rid, false, WAIT_MS));

    CU_ASSERT_FATAL(zkt_server_start(&g_cl, r) == 0);
    CU_ASSERT_FATAL(zkt_cluster_wait_registered(&g_cl, r, 0, WAIT_MS, NULL));
    CU_ASSERT_FATAL(it_wait_in_sync(&g_cl, rid, true, WAIT_MS));

    /* T goes and leaves in_sync; then O goes: R is the only candidate left. */
    CU_ASSERT(zkt_server_stop(&g_cl, t, SIGKILL) == -SIGKILL);
    CU_ASSERT(it_wait_in_sync(&g_cl, tid, false, WAIT_MS));
    CU_ASSERT(zkt_cluster_wait_ready(&g_cl, WAIT_MS));
    CU_ASSERT(zkt_server_stop(&g_cl, o, SIGKILL) == -SIGKILL);
    owned_all_arg oa = {&g_cl, rid};
    CU_ASSERT_FATAL(zkt_wait_for(all_owned_by, &oa, WAIT_MS));
    it_log_map(&g_cl, "R owns everything");
    CU_ASSERT(it_check_sane(&g_cl) == 0);
    CU_ASSERT(read_all(rid) == 0);

    /* Writes work on R alone (min-in-sync 1), and the others return. */
    CU_ASSERT(put_keys(700, 800, 3) == 0);
    CU_ASSERT_FATAL(zkt_server_start(&g_cl, o) == 0);
    CU_ASSERT_FATAL(zkt_server_start(&g_cl, t) == 0);
    CU_ASSERT(it_wait_all_in_sync(&g_cl, WAIT_MS));
    CU_ASSERT(read_all(NULL) == 0);
}

/* --- 2. snapshot ------------------------------------------------------------------------ */

typedef struct kv {
    uint8_t *k, *v;
    size_t kl, vl;
    uint64_t epoch, seq;
} kv;

typedef struct kvs {
    kv *a;
    size_t n, cap;
} kvs;

static int collect(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
                   uint64_t epoch, uint64_t seq)
{
    kvs *s = arg;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 1024;
        kv *a = realloc(s->a, cap * sizeof *a);
        if (!a)
            return -1;
        s->a = a;
        s->cap = cap;
    }
    kv *e = &s->a[s->n++];
    e->k = malloc(klen + 1);
    e->v = malloc(vlen + 1);
    if (!e->k || !e->v)
        return -1;
    memcpy(e->k, key, klen);
    if (vlen)
        memcpy(e->v, val, vlen);
    e->kl = klen;
    e->vl = vlen;
    e->epoch = epoch;
    e->seq = seq;
    return 0;
}

static void kvs_free(kvs *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->a[i].k);
        free(s->a[i].v);
    }
    free(s->a);
    memset(s, 0, sizeof *s);
}

/* Compares one range's data on two stopped nodes. Returns the number of differences. */
static int compare_range(zkt_ldb *owner, zkt_ldb *replica, const zkt_map_range *r, size_t *keys)
{
    kvs a = {0}, b = {0};
    int bad = 0;
    if (zkt_ldb_foreach(owner, r->start, r->start_len, r->end, r->end_len, collect, &a) != 0 ||
        zkt_ldb_foreach(replica, r->start, r->start_len, r->end, r->end_len, collect, &b) != 0) {
        kvs_free(&a);
        kvs_free(&b);
        return 1;
    }
    char show[256];
    size_t i = 0, j = 0;
    while (i < a.n || j < b.n) {
        int c = i == a.n   ? 1
                : j == b.n ? -1
                           : zkt_key_cmp(a.a[i].k, a.a[i].kl, b.a[j].k, b.a[j].kl);
        if (c != 0) {
            const kv *e = c < 0 ? &a.a[i] : &b.a[j];
            if (bad++ < 5)
                zkt_log("%s: key %s only on the %s", r->id, it_show(e->k, e->kl, show, sizeof show),
                        c < 0 ? "owner" : "replica");
            c < 0 ? i++ : j++;
            continue;
        }
        const kv *x = &a.a[i++], *y = &b.a[j++];
        if (x->vl != y->vl || memcmp(x->v, y->v, x->vl) != 0 || x->epoch != y->epoch ||
            x->seq != y->seq) {
            if (bad++ < 5)
                zkt_log("%s: key %s differs: owner %zu bytes at %llu:%llu, replica %zu bytes at "
                        "%llu:%llu",
                        r->id, it_show(x->k, x->kl, show, sizeof show), x->vl,
                        (unsigned long long)x->epoch, (unsigned long long)x->seq, y->vl,
                        (unsigned long long)y->epoch, (unsigned long long)y->seq);
        }
    }
    *keys = a.n;
    kvs_free(&a);
    kvs_free(&b);
    return bad;
}

static void test_snapshot_catch_up(void)
{
    const int o = first_writes();
    const int r = (o + 1) % N_SERVERS;
    const char *rid = g_cl.servers[r].id;

    zkt_log("kill -9 replica %s; writing far past --log-retain 50 while it is down", rid);
    CU_ASSERT(zkt_server_stop(&g_cl, r, SIGKILL) == -SIGKILL);
    CU_ASSERT(put_keys(1000, 3500, 1) == 0);
    CU_ASSERT(put_keys(0, 500, 2) == 0);
    CU_ASSERT(del_keys(500, 800) == 0);
    CU_ASSERT(it_wait_in_sync(&g_cl, rid, false, WAIT_MS));

    CU_ASSERT_FATAL(zkt_server_start(&g_cl, r) == 0);
    CU_ASSERT_FATAL(zkt_cluster_wait_registered(&g_cl, r, 0, WAIT_MS, NULL));
    CU_ASSERT_FATAL(it_wait_in_sync(&g_cl, rid, true, WAIT_MS));
    /* Acknowledged only once R applied them: the stream after the snapshot. */
    CU_ASSERT(put_keys(3500, N_KEYS, 1) == 0);
    CU_ASSERT(del_keys(800, 850) == 0);
    CU_ASSERT(read_all(NULL) == 0);

    zkt_map *mm = zkt_cluster_map(&g_cl);
    CU_ASSERT_FATAL(mm != NULL);
    zkt_ldb *db[N_SERVERS];
    it_stop_all_open_ldb(&g_cl, db);
    int bad = 0, compared = 0;
    for (int i = 0; i < mm->n_ranges; i++) {
        const zkt_map_range *rg = &mm->ranges[i];
        int oi = zkt_cluster_server_index(&g_cl, rg->owner);
        CU_ASSERT_FATAL(oi >= 0);
        if (oi == r)
            continue;
        size_t keys = 0;
        int d = compare_range(db[oi], db[r], rg, &keys);
        /* Truncation: the owner keeps about --log-retain entries of the range. */
        uint8_t lp[ZKT_ID_MAX + 2];
        size_t ll = (size_t)snprintf((char *)lp, sizeof lp, "l%s", rg->id) + 1; /* + NUL */
        size_t logn = zkt_ldb_count_prefix(db[oi], lp, ll);
        zkt_log("%s: owner %s, %zu keys, %d differences on %s; owner log %zu entries", rg->id,
                rg->owner, keys, d, rid, logn);
        CU_ASSERT(logn <= 50 + 200);
        bad += d;
        compared++;
    }
    CU_ASSERT(compared > 0);
    CU_ASSERT(bad == 0);

    /* And the owners hold exactly what the test wrote. */
    static uint8_t val[IT_VAL_MAX];
    uint8_t key[IT_KEY_MAX];
    int wrong = 0;
    for (int i = 0; i < N_KEYS; i++) {
        size_t kl = it_key(i, key);
        const zkt_map_range *rg = zkt_map_find(mm, key, kl);
        int oi = rg ? zkt_cluster_server_index(&g_cl, rg->owner) : -1;
        if (oi < 0) {
            wrong++;
            continue;
        }
        uint8_t *got = NULL;
        size_t gl = 0;
        int f = zkt_ldb_get(db[oi], key, kl, &got, &gl, NULL, NULL);
        size_t vl = g_gen[i] > 0 ? it_value(i, g_gen[i], val) : 0;
        bool ok = g_gen[i] > 0 ? f == 1 && gl == vl && memcmp(got, val, vl) == 0 : f == 0;
        wrong += !ok;
        free(got);
    }
    CU_ASSERT(wrong == 0);
    for (int i = 0; i < N_SERVERS; i++)
        zkt_ldb_close(db[i]);
    zkt_map_free(mm);
}

int main(void)
{
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("catch-up from the log tail", init_tail, cleanup);
    CU_add_test(s, "replica down for 3,700 writes: caught up, in_sync, promoted, all data",
                test_log_tail_catch_up);
    s = CU_add_suite("catch-up from a snapshot (--log-retain 50)", init_snapshot, cleanup);
    CU_add_test(s, "replica down past the log: snapshot, in_sync, LevelDB equals the owner's",
                test_snapshot_catch_up);
    return zkt_run_all();
}
