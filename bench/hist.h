/* hist.h: a latency histogram with log-linear buckets (pure; no allocation, no I/O).
 *
 * Values are unsigned integers in any unit (zkv-bench records nanoseconds). Values below
 * 256 have a bucket each; above, every power of two is cut into 128 equal buckets, so a
 * bucket's width is at most 1/128 of its lower bound and a percentile, reported as the
 * bucket's midpoint, is within 0.4% of a recorded value (the 1% bound asked for from 1 us
 * to 60 s, in nanoseconds). Values above ZKV_BENCH_HIST_MAX are counted in the top bucket; min,
 * max, sum and count are kept exactly.
 * Threads: a zkv_bench_hist is plain data; give each thread its own and merge them after. */
#ifndef ZKV_BENCH_HIST_H
#define ZKV_BENCH_HIST_H
#include <stddef.h>
#include <stdint.h>

#define ZKV_BENCH_HIST_SUB_BITS 7                         /* 128 buckets per power of two */
#define ZKV_BENCH_HIST_MAX UINT64_C(60000000000)          /* 60 s in ns */
#define ZKV_BENCH_HIST_BUCKETS (256 + (35 - 8 + 1) * 128) /* values up to 2^36 - 1 > MAX */

typedef struct zkv_bench_hist {
    uint64_t counts[ZKV_BENCH_HIST_BUCKETS];
    uint64_t count;
    uint64_t min, max; /* exact; min is UINT64_MAX while empty */
    double sum;        /* for the mean */
} zkv_bench_hist;

void zkv_bench_hist_init(zkv_bench_hist *h);
void zkv_bench_hist_record(zkv_bench_hist *h, uint64_t value);
/* Adds every sample of src to dst. */
void zkv_bench_hist_merge(zkv_bench_hist *dst, const zkv_bench_hist *src);
/* The value below or at which p percent of the samples lie (p in [0, 100]): the midpoint
 * of the bucket holding that rank, clamped to [min, max]. 0 for an empty histogram. */
double zkv_bench_hist_percentile(const zkv_bench_hist *h, double p);
double zkv_bench_hist_mean(const zkv_bench_hist *h);

/* Bucket math, exposed for tests: the bucket of a value, and the lowest value and width
 * of a bucket. */
size_t zkv_bench_hist_bucket(uint64_t value);
uint64_t zkv_bench_hist_bucket_low(size_t bucket);
uint64_t zkv_bench_hist_bucket_width(size_t bucket);

#endif
