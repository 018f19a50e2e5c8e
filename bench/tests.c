/* tests.c: names of the zkv-bench tests and the -t list parser. */
#include "tests.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const names[ZKV_BENCH_NTESTS] = {"PUT", "GET"};

const char *zkv_bench_test_name(zkv_bench_test t)
{
    return (unsigned)t < ZKV_BENCH_NTESTS ? names[t] : "?";
}

int zkv_bench_parse_tests(const char *list, unsigned *mask, char *err, size_t errlen)
{
    unsigned m = 0;
    const char *p = list;
    for (;;) {
        size_t len = strcspn(p, ",");
        size_t t = 0;
        while (t < ZKV_BENCH_NTESTS &&
               !(strlen(names[t]) == len && strncasecmp(names[t], p, len) == 0))
            t++;
        if (t == ZKV_BENCH_NTESTS) {
            if (len == 0)
                snprintf(err, errlen, "-t: empty test name in '%s'", list);
            else
                snprintf(err, errlen, "-t: unknown test '%.*s' (known: get, put)", (int)len, p);
            return -1;
        }
        m |= 1u << t;
        if (!p[len])
            break;
        p += len + 1;
    }
    *mask = m;
    return 0;
}
