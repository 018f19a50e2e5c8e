/* procstat.h: the process figures every Prometheus exporter gives (process_cpu_seconds_total,
 * process_resident_memory_bytes, process_open_fds, process_max_fds,
 * process_start_time_seconds), read from Linux's /proc/self. The parsing of /proc's text
 * is pure and unit tested; zkv_procstat_read does the reading. */
#ifndef ZKV_COMMON_PROCSTAT_H
#define ZKV_COMMON_PROCSTAT_H
#include <stddef.h>
#include <stdint.h>

typedef struct zkv_procstat {
    uint64_t cpu_us;        /* user + system CPU time */
    uint64_t rss_bytes;     /* resident set */
    uint64_t vsize_bytes;   /* virtual memory */
    uint64_t open_fds;      /* descriptors open now */
    uint64_t max_fds;       /* the soft RLIMIT_NOFILE */
    uint64_t start_time_ms; /* when the process started, Unix time */
} zkv_procstat;

/* Parses /proc/self/stat's text: utime, stime (fields 14, 15), starttime (22), vsize (23)
 * and rss (24, pages). ticks: clock ticks a second, page: page size in bytes,
 * boot_time_s: /proc/stat's btime. 0, or -1 for text that is not a stat line. */
int zkv_procstat_parse(const char *stat, long ticks, long page, uint64_t boot_time_s,
                       zkv_procstat *out);
/* /proc/stat's btime (seconds since the epoch at boot) from its text; 0 when absent. */
uint64_t zkv_procstat_boot_time(const char *proc_stat);
/* Fills *out for this process. 0, or -1 when /proc cannot be read (the figures are 0). */
int zkv_procstat_read(zkv_procstat *out);

#endif
