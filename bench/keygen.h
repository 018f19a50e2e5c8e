/* keygen.h: which key a request touches (pure; no allocation, no I/O).
 *
 * Key numbers are drawn from [0, n) uniformly or from YCSB's zipfian distribution
 * (theta 0.99 in YCSB's core workloads: rank 0 is the most popular, with probability
 * 1/zeta(n, theta)). zkv-bench scrambles ranks into key numbers with a hash, as YCSB's
 * ScrambledZipfianGenerator does, so the popular keys are not neighbours.
 *
 * Key text: "key:%012lu", optionally prefixed by 2 bytes derived from a hash of the key
 * number. zkv splits its key space evenly on the first two key bytes, so keys that all
 * begin with "ke" land in one range; the prefix spreads them over every range. */
#ifndef ZKV_BENCH_KEYGEN_H
#define ZKV_BENCH_KEYGEN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZKV_BENCH_ZIPF_THETA 0.99 /* YCSB's default zipfian constant */

typedef struct zkv_bench_zipf {
    uint64_t n;
    double theta, alpha, zetan, eta, half_pow_theta;
} zkv_bench_zipf;

/* zeta(n, theta) = sum over i in [1, n] of 1 / i^theta. O(n). */
double zkv_bench_zeta(uint64_t n, double theta);
/* Prepares a generator of ranks in [0, n) (n >= 1, 0 < theta < 1). O(n) for zeta. */
void zkv_bench_zipf_init(zkv_bench_zipf *z, uint64_t n, double theta);
/* The rank for a uniform draw u in [0, 1) (Gray et al., "Quickly generating
 * billion-record synthetic databases", as in YCSB's ZipfianGenerator). */
uint64_t zkv_bench_zipf_rank(const zkv_bench_zipf *z, double u);

/* A 64-bit mixing hash (splitmix64 finaliser) of a number. */
uint64_t zkv_bench_hash(uint64_t x);
/* A rank scrambled into [0, n): zkv_bench_hash(rank) % n. */
uint64_t zkv_bench_scramble(uint64_t rank, uint64_t n);

/* xorshift64* state update; returns 64 random bits. *s must be nonzero. */
uint64_t zkv_bench_rand(uint64_t *s);
/* A uniform double in [0, 1) from 53 random bits. */
double zkv_bench_rand_unit(uint64_t *s);

/* Writes the key of key number k into out (at least ZKV_BENCH_KEY_MAX bytes): with
 * prefix_hash, 2 bytes of zkv_bench_hash(k) then "key:%012llu", else the text alone.
 * Returns the key's length (not NUL-terminated when prefixed: the bytes may be 0). */
#define ZKV_BENCH_KEY_MAX 40
size_t zkv_bench_make_key(uint64_t k, bool prefix_hash, char *out);

#endif
