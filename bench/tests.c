/* tests.c: names of the zkv-bench tests, the -t and --workload list parsers, and the
 * operation mix of each test. */
#include "tests.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "zkv/zkv.h"

static const char *const names[ZKV_BENCH_NTESTS] = {"LOAD",   "PUT",    "GET",   "YCSB-A",
                                                    "YCSB-B", "YCSB-C", "YCSB-F"};
static const char *const op_names[ZKV_BENCH_NOPS] = {"read", "update", "rmw"};

/* Percent of read, update, read-modify-write per test (YCSB core workloads A, B, C, F). */
static const unsigned mix[ZKV_BENCH_NTESTS][ZKV_BENCH_NOPS] = {
    [ZKV_BENCH_LOAD] = {0, 100, 0},   [ZKV_BENCH_PUT] = {0, 100, 0},
    [ZKV_BENCH_GET] = {100, 0, 0},    [ZKV_BENCH_YCSB_A] = {50, 50, 0},
    [ZKV_BENCH_YCSB_B] = {95, 5, 0},  [ZKV_BENCH_YCSB_C] = {100, 0, 0},
    [ZKV_BENCH_YCSB_F] = {50, 0, 50},
};

const char *zkv_bench_test_name(zkv_bench_test t)
{
    return (unsigned)t < ZKV_BENCH_NTESTS ? names[t] : "?";
}

const char *zkv_bench_op_name(zkv_bench_op op)
{
    return (unsigned)op < ZKV_BENCH_NOPS ? op_names[op] : "?";
}

/* Splits list on commas; each item must match one of the n choices (case-insensitive);
 * bit (first + index) is set for it. */
static int parse_list(const char *flag, const char *list, const char *const *choices, size_t n,
                      unsigned first, const char *known, unsigned *mask, char *err, size_t errlen)
{
    unsigned m = 0;
    const char *p = list;
    for (;;) {
        size_t len = strcspn(p, ",");
        size_t t = 0;
        while (t < n && !(strlen(choices[t]) == len && strncasecmp(choices[t], p, len) == 0))
            t++;
        if (t == n) {
            if (len == 0)
                snprintf(err, errlen, "%s: empty %s in '%s'", flag,
                         first ? "workload name" : "test name", list);
            else
                snprintf(err, errlen, "%s: unknown %s '%.*s' (known: %s)", flag,
                         first ? "workload" : "test", (int)len, p, known);
            return -1;
        }
        m |= 1u << (first + t);
        if (!p[len])
            break;
        p += len + 1;
    }
    *mask |= m;
    return 0;
}

int zkv_bench_parse_tests(const char *list, unsigned *mask, char *err, size_t errlen)
{
    unsigned m = 0;
    if (parse_list("-t", list, names, 3, 0, "get, put, load", &m, err, errlen) < 0)
        return -1;
    *mask = m;
    return 0;
}

int zkv_bench_parse_workloads(const char *list, unsigned *mask, char *err, size_t errlen)
{
    static const char *const letters[] = {"a", "b", "c", "f"};
    unsigned m = 0;
    if (parse_list("--workload", list, letters, 4, ZKV_BENCH_YCSB_A, "a, b, c, f", &m, err,
                   errlen) < 0)
        return -1;
    *mask |= m;
    return 0;
}

int zkv_bench_parse_read(const char *policy, unsigned *flags, char *err, size_t errlen)
{
    static const struct {
        const char *name;
        unsigned flag;
    } policies[] = {{"owner", 0},
                    {"replica", ZKV_FLAG_READ_REPLICA},
                    {"nearest", ZKV_FLAG_READ_NEAREST},
                    {"hedge", ZKV_FLAG_HEDGE}};
    for (size_t i = 0; policy && i < sizeof policies / sizeof policies[0]; i++)
        if (strcasecmp(policy, policies[i].name) == 0) {
            *flags = policies[i].flag;
            return 0;
        }
    snprintf(err, errlen, "--read: unknown policy '%s' (known: owner, replica, nearest, hedge)",
             policy ? policy : "");
    return -1;
}

unsigned zkv_bench_op_percent(zkv_bench_test t, zkv_bench_op op)
{
    if ((unsigned)t >= ZKV_BENCH_NTESTS || (unsigned)op >= ZKV_BENCH_NOPS)
        return 0;
    return mix[t][op];
}

zkv_bench_op zkv_bench_pick_op(zkv_bench_test t, double u)
{
    double x = u * 100.0, acc = 0;
    for (int op = 0; op < ZKV_BENCH_NOPS; op++) {
        acc += (double)zkv_bench_op_percent(t, (zkv_bench_op)op);
        if (x < acc)
            return (zkv_bench_op)op;
    }
    /* u rounding up to 1: the last op with a share. */
    for (int op = ZKV_BENCH_NOPS - 1; op > 0; op--)
        if (zkv_bench_op_percent(t, (zkv_bench_op)op))
            return (zkv_bench_op)op;
    return ZKV_BENCH_OP_READ;
}
