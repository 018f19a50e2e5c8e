/* it_common.h: small helpers shared by the integration tests that use libzkv: making a
 * client for a harness cluster, the test key and value sets (spread over every range,
 * some with NUL and 0xFF bytes), assertion messages with libzkv's reason. */
#ifndef ZKV_IT_COMMON_H
#define ZKV_IT_COMMON_H
#include <CUnit/CUnit.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include "zkt/zkt.h"
#include "zkv/zkv.h"

#define IT_KEY_MAX 64
#define IT_VAL_MAX (128 * 1024)

/* Options for a client of cl's cluster with a per-call timeout (the caller adds its own
 * and frees them); NULL out of memory. */
static inline zkv_options *it_options(zkt_cluster *cl, int timeout_ms)
{
    zkv_options *o = zkv_options_create();
    if (!o)
        return NULL;
    zkv_options_set_zk(o, cl->zk.connect);
    zkv_options_set_cluster(o, cl->name);
    zkv_options_set_connect_timeout(o, 10000);
    zkv_options_set_timeout(o, timeout_ms);
    zkv_options_set_session_timeout(o, 10000);
    zkv_options_set_client_name(o, "zkv-integration-test");
    return o;
}

/* Writes text to NAME in the run's temp dir, mode 600 (a credentials file); its path into
 * path. 0 or -1. */
static inline int it_secret_file(const char *name, const char *text, char *path, size_t n)
{
    snprintf(path, n, "%s/%s", zkt_tmpdir(), name);
    FILE *f = fopen(path, "w");
    bool ok = f && chmod(path, 0600) == 0 && fputs(text, f) >= 0;
    if (f)
        ok = fclose(f) == 0 && ok;
    return ok ? 0 : -1;
}

/* Lines of the file at path (a process's log) that contain needle; -1 when it cannot be
 * read. */
static inline int it_log_count(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof(line), f))
        n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

/* Reads the file dir/rel (a page of docs/) into buf, NUL-terminated, at most cap - 1
 * bytes. Returns the bytes read, or -1 when it cannot be opened. */
static inline long it_read_file(const char *dir, const char *rel, char *buf, size_t cap)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
    return (long)n;
}

typedef struct it__failover {
    zkt_cluster *cl;
    char victim[64];
} it__failover;

static inline bool it__failed_over(void *arg)
{
    it__failover *f = arg;
    zkt_map *m = zkt_cluster_map(f->cl);
    bool ok = m && m->n_ranges > 0 && m->ranges[0].owner[0] &&
              strcmp(m->ranges[0].owner, f->victim) != 0 &&
              zkt_map_node_by_id(m, m->ranges[0].owner) != NULL;
    zkt_map_free(m);
    return ok;
}

/* Kills the owner of the first range (SIGKILL) and waits up to wait_ms until a live node
 * owns it instead: the victim's server index, or -1 (no map, no owner, no failover). */
static inline int it_kill_first_owner(zkt_cluster *cl, int wait_ms)
{
    it__failover f = {.cl = cl};
    zkt_map *m = zkt_cluster_map(cl);
    if (!m || m->n_ranges == 0) {
        zkt_map_free(m);
        return -1;
    }
    snprintf(f.victim, sizeof(f.victim), "%s", m->ranges[0].owner);
    zkt_map_free(m);
    int victim = zkt_cluster_server_index(cl, f.victim);
    if (victim < 0)
        return -1;
    zkt_server_stop(cl, victim, SIGKILL); /* its exit status is the signal's */
    return zkt_wait_for(it__failed_over, &f, wait_ms) ? victim : -1;
}

/* A client of cl's cluster with a per-call timeout and a failfast budget (ms; <= 0: the
 * library's default). Returns the libzkv status; *out set on ZKV_OK. */
static inline int it_client_ff(zkt_cluster *cl, int timeout_ms, int failfast_ms, zkv_client **out)
{
    zkv_options *o = it_options(cl, timeout_ms);
    if (!o)
        return ZKV_ENOMEM;
    if (failfast_ms > 0)
        zkv_options_set_failfast(o, failfast_ms);
    int rc = zkv_client_create(o, out);
    zkv_options_free(o);
    if (rc != ZKV_OK)
        zkt_log("zkv_client_create: %s: %s", zkv_strerror(rc), zkv_last_error());
    return rc;
}

/* A client of cl's cluster with the library's failfast budget. */
static inline int it_client(zkt_cluster *cl, int timeout_ms, zkv_client **out)
{
    return it_client_ff(cl, timeout_ms, 0, out);
}

/* Brings up a cluster that zkt_cluster_init started (and the test gave its server flags):
 * adds zkv-servers until it has n_servers, a coordinator waiting for n_servers nodes,
 * waits (60 s) until every range has a live owner, then makes *client with
 * it_client_ff(timeout_ms, failfast_ms). Returns 0 or -1 (a suite init's answer). */
static inline int it_cluster_up(zkt_cluster *cl, int n_servers, int timeout_ms, int failfast_ms,
                                zkv_client **client)
{
    while (cl->n_servers < n_servers)
        if (zkt_cluster_add_server(cl) < 0)
            return -1;
    if (zkt_cluster_add_coordinator(cl, n_servers) < 0 || !zkt_cluster_wait_ready(cl, 60000))
        return -1;
    return it_client_ff(cl, timeout_ms, failfast_ms, client) == ZKV_OK ? 0 : -1;
}

/* A suite cleanup: frees *client (set to NULL) and destroys cl. Returns 0. */
static inline int it_cluster_down(zkt_cluster *cl, zkv_client **client)
{
    zkv_client_free(*client);
    *client = NULL;
    zkt_cluster_destroy(cl);
    return 0;
}

/* Key i of the test set: its first byte walks every byte value (so keys land in every
 * range, 0x00 and 0xFF first bytes included), then "key-%05d" keeps it unique; every
 * 50th key also ends with the bytes 00 FF. Returns the length. */
static inline size_t it_key(int i, uint8_t *out)
{
    out[0] = (uint8_t)((i * 151) & 0xff);
    size_t n = 1 + (size_t)snprintf((char *)out + 1, IT_KEY_MAX - 1, "key-%05d", i);
    if (i % 50 == 0) {
        out[n++] = 0x00;
        out[n++] = 0xff;
        out[n++] = (uint8_t)(i & 0xff);
    }
    return n;
}

/* Value i (generation gen): printable, 10..209 bytes, every 1000th one 100 KiB. */
static inline size_t it_value(int i, int gen, uint8_t *out)
{
    size_t len = (i % 1000 == 7) ? 100 * 1024 : 10 + (size_t)(i % 200);
    int p = snprintf((char *)out, 64, "v%d-%d:", gen, i);
    for (size_t k = (size_t)p; k < len; k++)
        out[k] = (uint8_t)('a' + (k + (size_t)i) % 26);
    return len;
}

/* Printable form of a key for messages (\xHH for other bytes). */
static inline const char *it_show(const void *key, size_t len, char *buf, size_t buflen)
{
    size_t o = 0;
    const uint8_t *k = key;
    for (size_t i = 0; i < len && o + 5 < buflen; i++) {
        if (k[i] >= 0x20 && k[i] < 0x7f && k[i] != '\\')
            buf[o++] = (char)k[i];
        else
            o += (size_t)snprintf(buf + o, buflen - o, "\\x%02x", k[i]);
    }
    buf[o] = '\0';
    return buf;
}

/* Puts keys from..to-1 with values of generation gen through c; gens[i] = gen for each
 * acknowledged put. Returns the number of failed puts (the first 5 are logged). */
static inline int it_put_keys(zkv_client *c, int from, int to, int gen, int *gens)
{
    static uint8_t val[IT_VAL_MAX];
    uint8_t key[IT_KEY_MAX];
    char show[256];
    int failed = 0;
    for (int i = from; i < to; i++) {
        size_t kl = it_key(i, key), vl = it_value(i, gen, val);
        int rc = zkv_put(c, key, kl, val, vl, 0, 0, NULL);
        if (rc == ZKV_OK)
            gens[i] = gen;
        else if (failed++ < 5)
            zkt_log("put %s: %s: %s", it_show(key, kl, show, sizeof show), zkv_strerror(rc),
                    zkv_last_error());
    }
    return failed;
}

/* Reads keys 0..n-1 through c (any node may answer): each must hold its value of
 * generation gens[i]. Returns the number of keys that did not (the first 5 are logged). */
static inline int it_read_keys(zkv_client *c, int n, const int *gens)
{
    static uint8_t val[IT_VAL_MAX];
    uint8_t key[IT_KEY_MAX];
    char show[256];
    int failed = 0;
    for (int i = 0; i < n; i++) {
        size_t kl = it_key(i, key), vl = it_value(i, gens[i], val);
        zkv_value *v = NULL;
        int rc = zkv_get(c, key, kl, 0, 0, &v);
        bool ok = rc == ZKV_OK && zkv_value_len(v) == vl && memcmp(zkv_value_data(v), val, vl) == 0;
        if (!ok && failed++ < 5)
            zkt_log("get %s: %s (%s), %zu bytes (expected %zu, generation %d)",
                    it_show(key, kl, show, sizeof show), zkv_strerror(rc), zkv_last_error(),
                    v ? zkv_value_len(v) : 0, vl, gens[i]);
        zkv_value_free(v);
    }
    return failed;
}

/* Stops coordinator 0 first (so that nodes leaving changes nothing), then every server
 * with SIGTERM: each must exit 0 after a clean shutdown. Then opens each server's LevelDB
 * into db[i] (each must open: fatal). The caller closes them with zkt_ldb_close. */
static inline void it_stop_all_open_ldb(zkt_cluster *cl, zkt_ldb **db)
{
    CU_ASSERT(zkt_coord_stop(cl, 0, SIGTERM) == 0);
    for (int i = 0; i < cl->n_servers; i++)
        CU_ASSERT(zkt_server_stop(cl, i, SIGTERM) == 0);
    for (int i = 0; i < cl->n_servers; i++) {
        db[i] = zkt_ldb_open(cl->servers[i].dir);
        CU_ASSERT_FATAL(db[i] != NULL);
    }
}

/* Whether key i reads right from a server's files (it_check_copies). */
typedef bool (*it_copy_ok_fn)(void *arg, zkt_ldb *db, int i);

/* Stops everything (it_stop_all_open_ldb) and checks that ok holds for keys 0..n-1 of every
 * server's copy, read from its files; logs each server's count of keys wrong or
 * unreadable. */
static inline void it_check_copies(zkt_cluster *cl, int n, it_copy_ok_fn ok, void *arg)
{
    zkt_ldb *db[ZKT_MAX_SERVERS];
    it_stop_all_open_ldb(cl, db);
    for (int s = 0; s < cl->n_servers; s++) {
        int bad = 0;
        for (int i = 0; i < n; i++)
            bad += !ok(arg, db[s], i);
        zkt_log("%s: %d of %d keys wrong or unreadable", cl->servers[s].id, bad, n);
        CU_ASSERT_EQUAL(bad, 0);
        zkt_ldb_close(db[s]);
    }
}

/* it_check_all_copies's test: key i holds its value of generation gens[i]. */
static inline bool it__gen_ok(void *arg, zkt_ldb *db, int i)
{
    static uint8_t want[IT_VAL_MAX];
    const int *gens = arg;
    uint8_t key[IT_KEY_MAX];
    size_t kl = it_key(i, key), wl = it_value(i, gens[i], want);
    uint8_t *got = NULL;
    size_t gl = 0;
    int f = zkt_ldb_get(db, key, kl, &got, &gl, NULL, NULL);
    bool ok = f == 1 && gl == wl && memcmp(got, want, wl) == 0;
    free(got);
    return ok;
}

/* Stops everything and checks that every server's copy holds keys 0..n-1 with their values
 * of generation gens[i] (it_check_copies). */
static inline void it_check_all_copies(zkt_cluster *cl, int n, const int *gens)
{
    it_check_copies(cl, n, it__gen_ok, (void *)gens);
}

#endif
