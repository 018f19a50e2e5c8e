/* it_repl.h: helpers shared by the replication, failover and elastic tests
 * (docs/replication.md, docs/operations.md): key prefixes that fall in one range, a writer
 * thread that records every write it saw acknowledged (with its value and version) and
 * checks them all back afterwards, a reader thread that reads acknowledged writes back
 * while the writer runs and counts every error, and bounded waits on the in_sync sets and
 * owners in ZooKeeper. */
#ifndef ZKV_IT_REPL_H
#define ZKV_IT_REPL_H
#include <CUnit/CUnit.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "it_common.h"
#include "zkt/zkt.h"
#include "zkv/zkv.h"

/* Wall clock (CLOCK_REALTIME) in ms: comparable with ZooKeeper's mtime on this machine. */
static inline uint64_t it_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A key prefix all of whose extensions by a suffix of '-'..'~' bytes fall in range r of m
 * (printable: one printable byte, for the command line). Returns its length, 0 if none. */
static inline size_t it_range_prefix(const zkt_map *m, const zkt_map_range *r, uint8_t *out,
                                     bool printable)
{
    uint8_t probe[ZKT_KEY_MAX + 16];
    for (int c = printable ? '0' : -1; c <= (printable ? 'z' : -1); c++) {
        size_t n;
        if (printable) {
            out[0] = (uint8_t)c;
            n = 1;
        } else if (r->start_len) {
            memcpy(out, r->start, r->start_len);
            n = r->start_len;
        } else {
            out[0] = 0x01;
            n = 1;
        }
        memcpy(probe, out, n);
        memset(probe + n, '~', 12);
        if (zkt_map_find(m, out, n) == r && zkt_map_find(m, probe, n + 12) == r)
            return n;
    }
    return 0;
}

/* Index of the first range (by start key) owned by id, or -1. */
static inline int it_range_owned_by(const zkt_map *m, const char *id)
{
    for (int i = 0; i < m->n_ranges; i++)
        if (strcmp(m->ranges[i].owner, id) == 0)
            return i;
    return -1;
}

/* --- the writer thread ------------------------------------------------------------------ */

#define IT_W_MAX 400000
#define IT_W_PREFIXES 16
#define IT_W_HOT 8

enum { IT_W_NONE = 0, IT_W_ACKED = 1, IT_W_FAILED = 2 };

typedef struct it_attempt {
    uint64_t t_sent; /* wall ms */
    uint64_t t_done; /* wall ms */
    zkv_version ver; /* from the acknowledgement */
    int8_t state;    /* IT_W_* */
    int8_t rc;       /* libzkv status of a failure */
} it_attempt;

/* Attempt i writes key prefix[i % n_prefixes] + "-w<tag>-<i>" (a key of its own) or, for
 * odd i when hot is set, overwrites prefix[i % n_prefixes] + "-w<tag>-hot-<j>" (one of
 * IT_W_HOT keys per prefix). The value names the attempt: "w<tag>-a<i>-" + filler. */
typedef struct it_writer {
    pthread_t thread;
    bool running;
    zkv_client *client; /* the writer's own client (created and freed by the caller) */
    int tag;
    bool hot;
    unsigned flags;
    int timeout_ms; /* per call (0: the client's) */
    int pace_ms;    /* pause after each write (0: none) */
    uint8_t prefix[IT_W_PREFIXES][ZKT_KEY_MAX];
    size_t prefix_len[IT_W_PREFIXES];
    int n_prefixes;
    atomic_bool stop;
    atomic_int n; /* attempts finished */
    atomic_int acked;
    atomic_int failed;
    atomic_int acked_since_mark; /* reset by the test to watch progress */
    it_attempt *a;               /* IT_W_MAX */
    char first_error[512];
} it_writer;

static inline size_t it_w_key(const it_writer *w, int i, uint8_t *out)
{
    int p = i % w->n_prefixes;
    size_t n = w->prefix_len[p];
    memcpy(out, w->prefix[p], n);
    if (w->hot && (i & 1))
        n += (size_t)snprintf((char *)out + n, 48, "-w%d-hot-%d", w->tag, (i / 2) % IT_W_HOT);
    else
        n += (size_t)snprintf((char *)out + n, 48, "-w%d-%d", w->tag, i);
    return n;
}

static inline size_t it_w_value(const it_writer *w, int i, uint8_t *out)
{
    size_t n = (size_t)snprintf((char *)out, 48, "w%d-a%d-", w->tag, i);
    size_t len = 24 + (size_t)(i % 80);
    for (size_t k = n; k < len; k++)
        out[k] = (uint8_t)('a' + (k + (size_t)i) % 26);
    return len;
}

static inline void *it_writer_main(void *p)
{
    it_writer *w = p;
    uint8_t key[ZKT_KEY_MAX + 64], val[160];
    char show[256];
    for (int i = 0; i < IT_W_MAX && !atomic_load(&w->stop); i++) {
        size_t kl = it_w_key(w, i, key), vl = it_w_value(w, i, val);
        it_attempt *a = &w->a[i];
        a->t_sent = it_wall_ms();
        zkv_version ver = {0, 0};
        int rc = zkv_put(w->client, key, kl, val, vl, w->timeout_ms, w->flags, &ver);
        a->t_done = it_wall_ms();
        if (rc == ZKV_OK) {
            a->ver = ver;
            a->state = IT_W_ACKED;
            atomic_fetch_add(&w->acked, 1);
            atomic_fetch_add(&w->acked_since_mark, 1);
        } else {
            a->state = IT_W_FAILED;
            a->rc = (int8_t)rc;
            if (atomic_fetch_add(&w->failed, 1) == 0)
                snprintf(w->first_error, sizeof w->first_error, "put %s: %s: %s",
                         it_show(key, kl, show, sizeof show), zkv_strerror(rc), zkv_last_error());
        }
        atomic_store(&w->n, i + 1);
        if (w->pace_ms)
            zkt_pause_ms(w->pace_ms);
    }
    return NULL;
}

/* Sets the writer up (client, tag, prefixes of the given ranges of m, pause after each
 * write) and starts it. */
static inline int it_writer_start_paced(it_writer *w, zkv_client *client, int tag, const zkt_map *m,
                                        const int *ranges, int n_ranges, bool hot, int pace_ms)
{
    memset(w, 0, sizeof *w);
    w->client = client;
    w->tag = tag;
    w->hot = hot;
    w->pace_ms = pace_ms;
    w->a = calloc(IT_W_MAX, sizeof *w->a);
    if (!w->a)
        return -1;
    for (int k = 0; k < n_ranges && w->n_prefixes < IT_W_PREFIXES; k++) {
        size_t n = it_range_prefix(m, &m->ranges[ranges[k]], w->prefix[w->n_prefixes], false);
        if (n == 0)
            return -1;
        w->prefix_len[w->n_prefixes++] = n;
    }
    if (w->n_prefixes == 0)
        return -1;
    if (pthread_create(&w->thread, NULL, it_writer_main, w) != 0)
        return -1;
    w->running = true;
    return 0;
}

/* The same without a pause. */
static inline int it_writer_start(it_writer *w, zkv_client *client, int tag, const zkt_map *m,
                                  const int *ranges, int n_ranges, bool hot)
{
    return it_writer_start_paced(w, client, tag, m, ranges, n_ranges, hot, 0);
}

static inline void it_writer_stop(it_writer *w)
{
    atomic_store(&w->stop, true);
    if (w->running)
        pthread_join(w->thread, NULL);
    w->running = false;
    zkt_log("writer %d: %d attempts, %d acknowledged, %d failed%s%s", w->tag, atomic_load(&w->n),
            atomic_load(&w->acked), atomic_load(&w->failed), w->first_error[0] ? "; first: " : "",
            w->first_error);
}

static inline void it_writer_free(it_writer *w)
{
    it_writer_stop(w);
    free(w->a);
    w->a = NULL;
}

typedef struct it_progress_arg {
    it_writer *w;
    int want;
} it_progress_arg;

/* The longest acknowledged or failed write of w to range r of m between t0 and t1 (wall
 * ms): the write pause a move or a split of r cost. */
static inline uint64_t it_longest_write(it_writer *w, const zkt_map *m, const zkt_map_range *r,
                                        uint64_t t0, uint64_t t1)
{
    uint8_t key[ZKT_KEY_MAX + 64];
    uint64_t worst = 0;
    int n = atomic_load(&w->n);
    for (int i = 0; i < n; i++) {
        const it_attempt *a = &w->a[i];
        if (a->t_done < t0 || a->t_sent > t1)
            continue;
        size_t kl = it_w_key(w, i, key);
        if (zkt_map_find(m, key, kl) != r)
            continue;
        if (a->t_done - a->t_sent > worst)
            worst = a->t_done - a->t_sent;
    }
    return worst;
}

static inline bool it_writer_progressed(void *p)
{
    it_progress_arg *a = p;
    return atomic_load(&a->w->acked_since_mark) >= a->want;
}

/* Waits until the writer has `want` more acknowledged writes than now. */
static inline bool it_writer_wait_acks(it_writer *w, int want, int timeout_ms)
{
    atomic_store(&w->acked_since_mark, 0);
    it_progress_arg a = {w, want};
    bool ok = zkt_wait_for(it_writer_progressed, &a, timeout_ms);
    if (!ok)
        zkt_log("writer %d: fewer than %d acknowledged writes in %d ms (%d)", w->tag, want,
                timeout_ms, atomic_load(&w->acked_since_mark));
    return ok;
}

/* Reads back every write the (stopped) writer saw acknowledged, through c with flags
 * (ZKV_FLAG_OWNER_ONLY: from owners only). A key of its own must hold exactly the
 * acknowledged value and version; a hot key must hold the last acknowledged value or that
 * of a later attempt (one that failed, which may still have been applied), never an older
 * one. Values must not be flagged stale unless allow_stale. Returns the number of
 * problems (the first ones logged); *checked counts the keys read. */
static inline int it_writer_verify(it_writer *w, zkv_client *c, unsigned flags, bool allow_stale,
                                   int *checked)
{
    uint8_t key[ZKT_KEY_MAX + 64], val[160];
    char show[256];
    int n = atomic_load(&w->n), bad = 0, reads = 0;
    int last_acked[IT_W_PREFIXES][IT_W_HOT];
    bool tried[IT_W_PREFIXES][IT_W_HOT];
    memset(last_acked, 0xff, sizeof last_acked);
    memset(tried, 0, sizeof tried);
    for (int i = 0; i < n; i++) {
        it_attempt *a = &w->a[i];
        size_t kl = it_w_key(w, i, key);
        if (w->hot && (i & 1)) {
            int p = i % w->n_prefixes, h = (i / 2) % IT_W_HOT;
            tried[p][h] = true;
            if (a->state == IT_W_ACKED)
                last_acked[p][h] = i;
            continue;
        }
        if (a->state != IT_W_ACKED)
            continue;
        size_t vl = it_w_value(w, i, val);
        zkv_value *v = NULL;
        int rc = zkv_get(c, key, kl, 0, flags, &v);
        reads++;
        bool ok = rc == ZKV_OK && zkv_value_len(v) == vl && memcmp(zkv_value_data(v), val, vl) == 0;
        bool ver_ok = ok && zkv_value_version(v).epoch == a->ver.epoch &&
                      zkv_value_version(v).seq == a->ver.seq;
        bool stale_ok = ok && (allow_stale || !zkv_value_stale(v));
        if (!(ok && ver_ok && stale_ok) && bad++ < 8)
            zkt_log("LOST/WRONG acknowledged write %d %s (acked at %llu:%llu): %s (%s)%s%s", i,
                    it_show(key, kl, show, sizeof show), (unsigned long long)a->ver.epoch,
                    (unsigned long long)a->ver.seq, zkv_strerror(rc),
                    rc == ZKV_OK ? "" : zkv_last_error(),
                    ok && !ver_ok ? " other version"
                    : ok          ? ""
                                  : " other value or none",
                    ok && !stale_ok ? " stale" : "");
        zkv_value_free(v);
    }
    for (int p = 0; w->hot && p < w->n_prefixes; p++)
        for (int h = 0; h < IT_W_HOT; h++) {
            if (!tried[p][h])
                continue;
            int i0 = 1; /* an attempt index of this hot key, for its name */
            while (i0 < n && !((i0 & 1) && i0 % w->n_prefixes == p && (i0 / 2) % IT_W_HOT == h))
                i0++;
            size_t kl = it_w_key(w, i0, key);
            zkv_value *v = NULL;
            int rc = zkv_get(c, key, kl, 0, flags, &v);
            reads++;
            int L = last_acked[p][h], j = -1, tag = -1;
            if (rc == ZKV_OK) {
                char buf[48];
                size_t l = zkv_value_len(v) < sizeof buf - 1 ? zkv_value_len(v) : sizeof buf - 1;
                memcpy(buf, zkv_value_data(v), l);
                buf[l] = '\0';
                if (sscanf(buf, "w%d-a%d-", &tag, &j) != 2)
                    j = -1;
            }
            bool ok;
            if (L < 0)
                ok = rc == ZKV_ENOTFOUND || (rc == ZKV_OK && j >= 0);
            else
                ok = rc == ZKV_OK && tag == w->tag && j >= L && j < n &&
                     (j == L || w->a[j].state != IT_W_ACKED) && (j & 1) && j % w->n_prefixes == p &&
                     (j / 2) % IT_W_HOT == h;
            if (ok && rc == ZKV_OK && j >= 0 && j < n) {
                size_t vl = it_w_value(w, j, val);
                ok = zkv_value_len(v) == vl && memcmp(zkv_value_data(v), val, vl) == 0;
            }
            if (ok && rc == ZKV_OK && !allow_stale && zkv_value_stale(v))
                ok = false;
            if (!ok && bad++ < 8)
                zkt_log("hot key %s: last acknowledged attempt %d, read %s attempt %d%s",
                        it_show(key, kl, show, sizeof show), L, zkv_strerror(rc), j,
                        rc == ZKV_OK && zkv_value_stale(v) ? " (stale)" : "");
            zkv_value_free(v);
        }
    if (checked)
        *checked = reads;
    zkt_log("writer %d: read back %d keys, %d problems", w->tag, reads, bad);
    return bad;
}

/* --- the reader thread ------------------------------------------------------------------ */

/* Reads, in a loop, keys of its own that a running writer saw acknowledged (owner reads
 * with flags), and counts every answer that is not that exact value: errors (any libzkv
 * failure) and wrong answers (another value, not found, stale when !allow_stale). */
typedef struct it_reader {
    pthread_t thread;
    bool running;
    zkv_client *client;
    it_writer *w;
    unsigned flags;
    bool allow_stale;
    atomic_bool stop;
    atomic_int reads, errors, wrong;
    char first_error[512];
    uint64_t rng;
} it_reader;

static inline void *it_reader_main(void *p)
{
    it_reader *r = p;
    uint8_t key[ZKT_KEY_MAX + 64], val[160];
    char show[256];
    while (!atomic_load(&r->stop)) {
        int n = atomic_load(&r->w->n);
        if (n < 2) {
            zkt_pause_ms(2);
            continue;
        }
        r->rng = r->rng * 6364136223846793005ULL + 1442695040888963407ULL;
        int i = (int)((r->rng >> 33) % (uint64_t)n);
        if (r->w->hot)
            i &= ~1; /* keys of its own only (odd attempts overwrite hot keys) */
        if (r->w->a[i].state != IT_W_ACKED)
            continue;
        size_t kl = it_w_key(r->w, i, key), vl = it_w_value(r->w, i, val);
        zkv_value *v = NULL;
        int rc = zkv_get(r->client, key, kl, 0, r->flags, &v);
        atomic_fetch_add(&r->reads, 1);
        bool ok = rc == ZKV_OK && zkv_value_len(v) == vl &&
                  memcmp(zkv_value_data(v), val, vl) == 0 &&
                  (r->allow_stale || !zkv_value_stale(v));
        if (!ok) {
            bool err = rc != ZKV_OK && rc != ZKV_ENOTFOUND;
            int first = err ? atomic_fetch_add(&r->errors, 1) : atomic_fetch_add(&r->wrong, 1);
            if (first == 0 && !r->first_error[0])
                snprintf(r->first_error, sizeof r->first_error, "get %s: %s: %s",
                         it_show(key, kl, show, sizeof show), zkv_strerror(rc),
                         rc == ZKV_OK ? (zkv_value_stale(v) ? "stale" : "another value")
                                      : zkv_last_error());
        }
        zkv_value_free(v);
    }
    return NULL;
}

static inline int it_reader_start(it_reader *r, zkv_client *client, it_writer *w, unsigned flags,
                                  bool allow_stale)
{
    memset(r, 0, sizeof *r);
    r->client = client;
    r->w = w;
    r->flags = flags;
    r->allow_stale = allow_stale;
    r->rng = 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)r;
    if (pthread_create(&r->thread, NULL, it_reader_main, r) != 0)
        return -1;
    r->running = true;
    return 0;
}

static inline void it_reader_stop(it_reader *r)
{
    atomic_store(&r->stop, true);
    if (r->running)
        pthread_join(r->thread, NULL);
    r->running = false;
    zkt_log("reader: %d reads, %d errors, %d wrong answers%s%s", atomic_load(&r->reads),
            atomic_load(&r->errors), atomic_load(&r->wrong), r->first_error[0] ? "; first: " : "",
            r->first_error);
}

/* --- ZooKeeper state -------------------------------------------------------------------- */

/* true when every range has a live owner, min(replicas-1, live-1) replicas, all of them
 * in in_sync and live. */
static inline bool it_all_in_sync(void *p)
{
    zkt_cluster *cl = p;
    zkt_map *m = zkt_cluster_map(cl);
    if (!m)
        return false;
    bool ok = zkt_map_all_owned(m, cl->ranges);
    int want = cl->replicas - 1 < m->n_nodes - 1 ? cl->replicas - 1 : m->n_nodes - 1;
    for (int i = 0; ok && i < m->n_ranges; i++) {
        const zkt_map_range *r = &m->ranges[i];
        ok = r->n_replicas >= want && r->n_in_sync == r->n_replicas;
        for (int k = 0; ok && k < r->n_in_sync; k++)
            ok = zkt_map_node_by_id(m, r->in_sync[k]) != NULL;
    }
    zkt_map_free(m);
    return ok;
}

static inline void it_log_map(zkt_cluster *cl, const char *why)
{
    zkt_map *m = zkt_cluster_map(cl);
    if (!m)
        return;
    zkt_log("%s: map version %lld, %d live nodes", why, (long long)m->version, m->n_nodes);
    for (int i = 0; i < m->n_ranges; i++)
        zkt_log("  %s", m->ranges[i].json ? m->ranges[i].json : "?");
    zkt_map_free(m);
}

static inline bool it_wait_all_in_sync(zkt_cluster *cl, int timeout_ms)
{
    uint64_t t0 = zkt_now_ms();
    bool ok = zkt_wait_for(it_all_in_sync, cl, timeout_ms);
    if (ok)
        zkt_log("every replica in in_sync after %d ms", (int)(zkt_now_ms() - t0));
    else
        it_log_map(cl, "NOT every replica in in_sync");
    return ok;
}

typedef struct it_sync_arg {
    zkt_cluster *cl;
    const char *id;
    bool want;  /* in in_sync (true) or out of it (false) */
    int ranges; /* ranges listing id in replicas, at the last check */
} it_sync_arg;

static inline bool it_in_sync_is(void *p)
{
    it_sync_arg *a = p;
    zkt_map *m = zkt_cluster_map(a->cl);
    if (!m)
        return false;
    bool ok = true;
    a->ranges = 0;
    for (int i = 0; i < m->n_ranges; i++) {
        const zkt_map_range *r = &m->ranges[i];
        bool listed = false;
        for (int k = 0; k < r->n_replicas; k++)
            listed |= strcmp(r->replicas[k], a->id) == 0;
        if (!listed)
            continue;
        a->ranges++;
        if (zkt_range_in_sync(r, a->id) != a->want)
            ok = false;
    }
    zkt_map_free(m);
    return ok && a->ranges > 0;
}

/* Waits until node id is (want) or is not (!want) in in_sync of every range whose
 * replicas list it (there must be at least one). */
static inline bool it_wait_in_sync(zkt_cluster *cl, const char *id, bool want, int timeout_ms)
{
    it_sync_arg a = {cl, id, want, 0};
    uint64_t t0 = zkt_now_ms();
    bool ok = zkt_wait_for(it_in_sync_is, &a, timeout_ms);
    if (ok)
        zkt_log("%s %s in_sync of its %d replica ranges after %d ms", id, want ? "in" : "out of",
                a.ranges, (int)(zkt_now_ms() - t0));
    else
        it_log_map(cl, want ? "replica NOT back in in_sync" : "replica NOT out of in_sync");
    return ok;
}

/* When ZooKeeper last changed each of ranges[0..n) of m (the range znodes' mtime, wall
 * ms; 0 where it cannot be read) into mtime. */
static inline void it_range_mtimes(zkt_cluster *cl, const zkt_map *m, const int *ranges, int n,
                                   uint64_t *mtime)
{
    for (int k = 0; k < n; k++) {
        char path[256];
        struct Stat st;
        snprintf(path, sizeof path, "/zkv/%s/ranges/%s", cl->name, m->ranges[ranges[k]].id);
        char *data = zkt_zkc_get_stat(cl->zc, path, &st, NULL);
        mtime[k] = data ? (uint64_t)st.mtime : 0;
        free(data);
    }
}

/* Of the writes the (stopped) writer saw acknowledged, those sent after t_cut (wall ms, +
 * 20 ms of slack) go to *after; returns how many of them were acknowledged before the
 * replica's removal was recorded for their range (removed_at[k] for prefix k, from
 * it_range_mtimes; 0: unknown): writes acknowledged without a replica still in in_sync. */
static inline int it_writer_acked_early(const it_writer *w, const zkt_map *m, const int *ranges,
                                        uint64_t t_cut, const uint64_t *removed_at, int *after)
{
    int early = 0, max_ms = 0, total = atomic_load(&w->n);
    *after = 0;
    for (int i = 0; i < total; i++) {
        const it_attempt *a = &w->a[i];
        if (a->state != IT_W_ACKED || a->t_sent < t_cut + 20)
            continue;
        int k = i % w->n_prefixes; /* prefix k belongs to ranges[k] */
        (*after)++;
        if ((int)(a->t_done - a->t_sent) > max_ms)
            max_ms = (int)(a->t_done - a->t_sent);
        if (removed_at[k] && a->t_done + 5 < removed_at[k] && early++ < 5)
            zkt_log("write %d acknowledged at %llu, before the replica's removal from %s at %llu",
                    i, (unsigned long long)a->t_done, m->ranges[ranges[k]].id,
                    (unsigned long long)removed_at[k]);
    }
    zkt_log("%d writes acknowledged after the cut, %d before the removal; slowest %d ms", *after,
            early, max_ms);
    return early;
}

typedef struct it_owner_arg {
    zkt_cluster *cl;
    char range_id[ZKT_ID_MAX];
    char old_owner[ZKT_ID_MAX];
    uint64_t old_epoch;
    zkt_map_range now; /* the range when the condition held (json not kept) */
} it_owner_arg;

static inline bool it_owner_changed(void *p)
{
    it_owner_arg *a = p;
    zkt_map *m = zkt_cluster_map(a->cl);
    if (!m)
        return false;
    const zkt_map_range *r = zkt_map_range_by_id(m, a->range_id);
    bool ok = r && r->owner[0] && strcmp(r->owner, a->old_owner) != 0 && r->epoch > a->old_epoch &&
              zkt_map_node_by_id(m, r->owner);
    if (ok) {
        a->now = *r;
        a->now.json = NULL;
    }
    zkt_map_free(m);
    return ok;
}

/* Waits until range_id has a live owner other than old_owner with an epoch above
 * old_epoch; the range as then is in a->now. */
static inline bool it_wait_new_owner(it_owner_arg *a, zkt_cluster *cl, const char *range_id,
                                     const char *old_owner, uint64_t old_epoch, int timeout_ms)
{
    memset(a, 0, sizeof *a);
    a->cl = cl;
    snprintf(a->range_id, sizeof a->range_id, "%s", range_id);
    snprintf(a->old_owner, sizeof a->old_owner, "%s", old_owner);
    a->old_epoch = old_epoch;
    bool ok = zkt_wait_for(it_owner_changed, a, timeout_ms);
    if (!ok)
        it_log_map(cl, "NO new owner");
    return ok;
}

typedef struct it_node_arg {
    zkt_cluster *cl;
    const char *id;
} it_node_arg;

static inline bool it_node_gone(void *p)
{
    it_node_arg *a = p;
    zkt_map *m = zkt_cluster_map(a->cl);
    if (!m)
        return false;
    bool gone = !zkt_map_node_by_id(m, a->id);
    zkt_map_free(m);
    return gone;
}

/* Asserts every range of the map follows the layout rules (zkt_range_sane). */
static inline int it_check_sane(zkt_cluster *cl)
{
    zkt_map *m = zkt_cluster_map(cl);
    if (!m)
        return 1;
    int bad = 0;
    char why[256];
    for (int i = 0; i < m->n_ranges; i++)
        if (!zkt_range_sane(&m->ranges[i], cl->replicas - 1, why, sizeof why)) {
            zkt_log("map not sane: %s (%s)", why, m->ranges[i].json);
            bad++;
        }
    zkt_map_free(m);
    return bad;
}

#endif
