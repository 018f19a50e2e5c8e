/* hist.c: log-linear latency histogram (see hist.h). Bucket index of v >= 256:
 * 256 + (msb(v) - 8) * 128 + (top 8 bits of v - 128); below 256, v itself. */
#include "hist.h"

#include <math.h>
#include <string.h>

#define SUB ((size_t)1 << ZKV_BENCH_HIST_SUB_BITS) /* 128 */
#define LINEAR (2 * SUB)                           /* 256: values below have their own bucket */

void zkv_bench_hist_init(zkv_bench_hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

size_t zkv_bench_hist_bucket(uint64_t v)
{
    if (v > ZKV_BENCH_HIST_MAX)
        v = ZKV_BENCH_HIST_MAX;
    if (v < LINEAR)
        return (size_t)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - ZKV_BENCH_HIST_SUB_BITS;
    uint64_t mant = v >> shift; /* in [128, 256) */
    return LINEAR + (size_t)(msb - 8) * SUB + (size_t)(mant - SUB);
}

uint64_t zkv_bench_hist_bucket_low(size_t b)
{
    if (b < LINEAR)
        return b;
    size_t group = (b - LINEAR) / SUB; /* msb - 8 */
    uint64_t mant = (b - LINEAR) % SUB + SUB;
    return mant << (group + 1);
}

uint64_t zkv_bench_hist_bucket_width(size_t b)
{
    if (b < LINEAR)
        return 1;
    return UINT64_C(1) << ((b - LINEAR) / SUB + 1);
}

void zkv_bench_hist_record(zkv_bench_hist *h, uint64_t v)
{
    h->counts[zkv_bench_hist_bucket(v)]++;
    h->count++;
    h->sum += (double)v;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
}

void zkv_bench_hist_merge(zkv_bench_hist *dst, const zkv_bench_hist *src)
{
    for (size_t i = 0; i < ZKV_BENCH_HIST_BUCKETS; i++)
        dst->counts[i] += src->counts[i];
    dst->count += src->count;
    dst->sum += src->sum;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

double zkv_bench_hist_percentile(const zkv_bench_hist *h, double p)
{
    if (h->count == 0)
        return 0;
    if (p <= 0)
        return (double)h->min;
    if (p >= 100)
        return (double)h->max;
    uint64_t rank = (uint64_t)ceil(p / 100.0 * (double)h->count);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < ZKV_BENCH_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            double mid = (double)zkv_bench_hist_bucket_low(i) +
                         (double)(zkv_bench_hist_bucket_width(i) - 1) / 2.0;
            if (mid < (double)h->min)
                mid = (double)h->min;
            if (mid > (double)h->max)
                mid = (double)h->max;
            return mid;
        }
    }
    return (double)h->max;
}

double zkv_bench_hist_mean(const zkv_bench_hist *h)
{
    return h->count ? h->sum / (double)h->count : 0;
}
