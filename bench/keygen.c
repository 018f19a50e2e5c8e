/* keygen.c: key numbers (uniform, zipfian) and key text (see keygen.h). */
#include "keygen.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

double zkv_bench_zeta(uint64_t n, double theta)
{
    double sum = 0;
    for (uint64_t i = 1; i <= n; i++)
        sum += 1.0 / pow((double)i, theta);
    return sum;
}

void zkv_bench_zipf_init(zkv_bench_zipf *z, uint64_t n, double theta)
{
    if (n < 1)
        n = 1;
    z->n = n;
    z->theta = theta;
    z->alpha = 1.0 / (1.0 - theta);
    z->zetan = zkv_bench_zeta(n, theta);
    double zeta2 = zkv_bench_zeta(2, theta);
    z->half_pow_theta = pow(0.5, theta);
    /* With n <= 2 the formula divides by zero; ranks 0 and 1 are then exact anyway. */
    z->eta = n > 2 ? (1.0 - pow(2.0 / (double)n, 1.0 - theta)) / (1.0 - zeta2 / z->zetan) : 0;
}

uint64_t zkv_bench_zipf_rank(const zkv_bench_zipf *z, double u)
{
    double uz = u * z->zetan;
    if (uz < 1.0)
        return 0;
    if (z->n < 2)
        return 0;
    if (uz < 1.0 + z->half_pow_theta)
        return 1;
    if (z->n < 3)
        return 1;
    double r = (double)z->n * pow(z->eta * u - z->eta + 1.0, z->alpha);
    if (r < 0)
        return 0;
    uint64_t rank = (uint64_t)r;
    return rank >= z->n ? z->n - 1 : rank;
}

uint64_t zkv_bench_hash(uint64_t x)
{
    x += UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

uint64_t zkv_bench_scramble(uint64_t rank, uint64_t n)
{
    return n ? zkv_bench_hash(rank) % n : 0;
}

uint64_t zkv_bench_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * UINT64_C(2685821657736338717);
}

double zkv_bench_rand_unit(uint64_t *s)
{
    return (double)(zkv_bench_rand(s) >> 11) * (1.0 / 9007199254740992.0);
}

size_t zkv_bench_make_key(uint64_t k, bool prefix_hash, char *out)
{
    size_t off = 0;
    if (prefix_hash) {
        uint64_t h = zkv_bench_hash(k ^ UINT64_C(0x5bd1e9955bd1e995));
        out[0] = (char)(h >> 56);
        out[1] = (char)(h >> 48);
        off = 2;
    }
    /* "key:%012llu" by hand: snprintf costs as much as the rest of a request's set-up. */
    char digits[20];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + k % 10);
        k /= 10;
    } while (k);
    memcpy(out + off, "key:", 4);
    off += 4;
    for (size_t i = n; i < 12; i++)
        out[off++] = '0';
    while (n)
        out[off++] = digits[--n];
    out[off] = '\0';
    return off;
}
