/* tests.h: the tests zkv-bench knows, the parsing of its -t and --workload lists, and the
 * operation mix of each test (pure). */
#ifndef ZKV_BENCH_TESTS_H
#define ZKV_BENCH_TESTS_H
#include <stddef.h>

typedef enum {
    ZKV_BENCH_LOAD = 0, /* puts every key of the key space once, in key order (YCSB's load) */
    ZKV_BENCH_PUT = 1,
    ZKV_BENCH_GET = 2,
    ZKV_BENCH_YCSB_A = 3, /* 50% read, 50% update */
    ZKV_BENCH_YCSB_B = 4, /* 95% read, 5% update */
    ZKV_BENCH_YCSB_C = 5, /* 100% read */
    ZKV_BENCH_YCSB_F = 6, /* 50% read, 50% read-modify-write */
    ZKV_BENCH_NTESTS
} zkv_bench_test;

/* What one request of a test does. */
typedef enum {
    ZKV_BENCH_OP_READ = 0,   /* get */
    ZKV_BENCH_OP_UPDATE = 1, /* put */
    ZKV_BENCH_OP_RMW = 2,    /* get, then put of the same key (one latency for both) */
    ZKV_BENCH_NOPS
} zkv_bench_op;

/* "LOAD", "PUT", "GET", "YCSB-A", "YCSB-B", "YCSB-C", "YCSB-F". */
const char *zkv_bench_test_name(zkv_bench_test t);
/* "read", "update", "rmw". */
const char *zkv_bench_op_name(zkv_bench_op op);

/* Parses a comma-separated, case-insensitive list ("get,put", "load") into a bit mask of
 * (1 << zkv_bench_test). Tests always run in the fixed order LOAD, PUT, GET (writes
 * first, so that reads find data), whatever the order of the list. Returns 0, or -1 with a message
 * in err for an unknown or empty name. */
int zkv_bench_parse_tests(const char *list, unsigned *mask, char *err, size_t errlen);

/* Parses --workload: a comma-separated, case-insensitive list of YCSB core workload
 * letters ("a,b,c,f") into bits (1 << ZKV_BENCH_YCSB_*) ORed into *mask. Workloads run
 * after PUT and GET, in the order A, B, C, F. Returns 0, or -1 with a message in err. */
int zkv_bench_parse_workloads(const char *list, unsigned *mask, char *err, size_t errlen);

/* Parses --read (case-insensitive): "owner" (0), "replica", "nearest" or "hedge" into the
 * libzkv read flag. Returns 0, or -1 with a message in err. */
int zkv_bench_parse_read(const char *policy, unsigned *flags, char *err, size_t errlen);

/* The share, in percent, of op among the requests of test t (sums to 100 over ops). */
unsigned zkv_bench_op_percent(zkv_bench_test t, zkv_bench_op op);
/* The operation of one request of test t for a uniform draw u in [0, 1). */
zkv_bench_op zkv_bench_pick_op(zkv_bench_test t, double u);

#endif
