/* procstat.c: this process's CPU, memory and descriptors from /proc (procstat.h). */
#include "common/procstat.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

int zkv_procstat_parse(const char *stat, long ticks, long page, uint64_t boot_time_s,
                       zkv_procstat *out)
{
    /* "pid (comm) state ppid ...": comm may hold spaces and parentheses, so the fields
     * are counted from the last ')', which ends field 2 */
    const char *p = stat ? strrchr(stat, ')') : NULL;
    if (!p || ticks <= 0 || page <= 0)
        return -1;
    p++;
    unsigned long long v[25] = {0};
    int field = 2;
    while (field < 24) {
        while (*p == ' ')
            p++;
        if (!*p || *p == '\n')
            return -1;
        field++;
        if (field == 3) { /* the state letter */
            p++;
            continue;
        }
        char *end;
        v[field] = strtoull(p, &end, 10);
        if (end == p)
            return -1;
        p = end;
    }
    unsigned long long t = (unsigned long long)ticks;
    out->cpu_us = (v[14] + v[15]) * 1000000ull / t;
    out->start_time_ms = boot_time_s * 1000u + v[22] * 1000ull / t;
    out->vsize_bytes = v[23];
    out->rss_bytes = v[24] * (unsigned long long)page;
    return 0;
}

uint64_t zkv_procstat_boot_time(const char *proc_stat)
{
    const char *p = proc_stat ? strstr(proc_stat, "\nbtime ") : NULL;
    return p ? strtoull(p + 7, NULL, 10) : 0;
}

/* The whole (small) file at path, NUL-terminated, into buf. 0 or -1. */
static int slurp(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n ? 0 : -1;
}

int zkv_procstat_read(zkv_procstat *out)
{
    memset(out, 0, sizeof *out);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        out->max_fds = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        for (struct dirent *e; (e = readdir(d)) != NULL;)
            if (e->d_name[0] != '.')
                out->open_fds++;
        closedir(d);
        if (out->open_fds)
            out->open_fds--; /* the directory's own descriptor */
    }
    static char stat[4096], all[16384];
    if (slurp("/proc/self/stat", stat, sizeof stat) != 0)
        return -1;
    uint64_t boot = slurp("/proc/stat", all, sizeof all) == 0 ? zkv_procstat_boot_time(all) : 0;
    return zkv_procstat_parse(stat, sysconf(_SC_CLK_TCK), sysconf(_SC_PAGESIZE), boot, out);
}
