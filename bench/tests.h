/* tests.h: the tests zkv-bench knows and the parsing of its -t list (pure). */
#ifndef ZKV_BENCH_TESTS_H
#define ZKV_BENCH_TESTS_H
#include <stddef.h>

typedef enum { ZKV_BENCH_PUT = 0, ZKV_BENCH_GET = 1, ZKV_BENCH_NTESTS } zkv_bench_test;

/* "PUT", "GET". */
const char *zkv_bench_test_name(zkv_bench_test t);

/* Parses a comma-separated, case-insensitive list ("get,put") into a bit mask of
 * (1 << zkv_bench_test). Tests always run in the fixed order PUT, GET (writes first, so
 * that reads find data), whatever the order of the list. Returns 0, or -1 with a message
 * in err for an unknown or empty name. */
int zkv_bench_parse_tests(const char *list, unsigned *mask, char *err, size_t errlen);

#endif
