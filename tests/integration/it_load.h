/* it_load.h: the load the cluster-shape tests run under (test_elastic, test_split_merge,
 * test_autoshape): a writer (keys of its own and overwrites over the given ranges) and a
 * reader of its acknowledged writes (owner reads only), each on its own fail-fast client
 * (also test_moves and test_liveness);
 * the check that neither saw an error so far; the read-back of every acknowledged write
 * at the end. */
#ifndef ZKV_IT_LOAD_H
#define ZKV_IT_LOAD_H
#include <CUnit/CUnit.h>
#include "it_common.h"
#include "it_repl.h"
#include "zkt/zkt.h"
#include "zkv/zkv.h"

typedef struct it_load {
    zkv_client *wc, *rc;
    it_writer w;
    it_reader r;
} it_load;

/* Starts the writer over the first n_ranges ranges of the current map (< 0: all),
 * pausing pace_ms after each write, and the reader; waits until min_acks writes are
 * acknowledged. Returns 0 or -1 (a suite init's answer). */
static inline int it_load_start(it_load *l, zkt_cluster *cl, int n_ranges, int pace_ms,
                                int min_acks, int timeout_ms)
{
    if (it_client_ff(cl, 8000, 4000, &l->wc) != ZKV_OK ||
        it_client_ff(cl, 8000, 4000, &l->rc) != ZKV_OK)
        return -1;
    zkt_map *m = zkt_cluster_map(cl);
    if (!m)
        return -1;
    int ranges[ZKT_MAX_RANGES];
    int n = n_ranges < 0 || n_ranges > m->n_ranges ? m->n_ranges : n_ranges;
    for (int i = 0; i < n; i++)
        ranges[i] = i;
    int rc = it_writer_start_paced(&l->w, l->wc, 1, m, ranges, n, true, pace_ms);
    zkt_map_free(m);
    if (rc != 0 || it_reader_start(&l->r, l->rc, &l->w, ZKV_FLAG_OWNER_ONLY, false) != 0)
        return -1;
    return it_writer_wait_acks(&l->w, min_acks, timeout_ms) ? 0 : -1;
}

/* Stops both and frees them with their clients (a suite cleanup). */
static inline void it_load_free(it_load *l)
{
    it_reader_stop(&l->r);
    it_writer_free(&l->w);
    zkv_client_free(l->wc);
    zkv_client_free(l->rc);
    l->wc = l->rc = NULL;
}

/* Whether the writer and the reader have seen no error so far (else logged, with when). */
static inline bool it_load_clean(it_load *l, const char *when)
{
    int wf = atomic_load(&l->w.failed), re = atomic_load(&l->r.errors);
    int rw = atomic_load(&l->r.wrong);
    if (wf || re || rw)
        zkt_log("%s: writer failures %d (%s), reader errors %d, wrong %d (%s)", when, wf,
                l->w.first_error, re, rw, l->r.first_error);
    return wf == 0 && re == 0 && rw == 0;
}

/* Stops the writer and the reader (again: a no-op). */
static inline void it_load_stop(it_load *l)
{
    it_reader_stop(&l->r);
    it_writer_stop(&l->w);
}

/* Stops both, then asserts that every acknowledged write reads back at its owner
 * (through c) and that the cluster's ranges are sane. */
static inline void it_load_read_back(it_load *l, zkv_client *c, zkt_cluster *cl)
{
    it_load_stop(l);
    int checked = 0;
    CU_ASSERT(it_writer_verify(&l->w, c, ZKV_FLAG_OWNER_ONLY, false, &checked) == 0);
    CU_ASSERT(checked > 0);
    CU_ASSERT(it_check_sane(cl) == 0);
}

#endif
