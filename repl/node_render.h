/* node_render.h: what `zkv info` and `zkv latency` print, from plain data (pure).
 *
 * info: NODE ADDRESS VERSION UP SERVING OWNED REPLICA KEYS SIZE OPS/S GET_P50/P99
 *       PUT_P50/P99 RTT, one row per node that answered (zkv_info's JSON, sorted by node);
 *       nodes that did not answer follow the table, "node-3 (127.0.0.1:7003): reason".
 * latency: running min, max and average of round trips in milliseconds, and the line
 *       "min: 0.08, max: 0.41, avg: 0.12 (1532 samples)" redis-cli --latency prints. */
#ifndef ZKV_REPL_NODE_RENDER_H
#define ZKV_REPL_NODE_RENDER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The table for zkv_info's JSON (as_json: the JSON itself, indented). malloc'd string
 * ending in '\n', or NULL with the reason in err. *failed: how many nodes did not answer. */
char *zkv_repl_info_render(const char *json, bool as_json, size_t *failed, char *err,
                           size_t errlen);

/* "45s", "12m03s", "5h07m", "3d04h": an uptime in seconds as people read it. */
void zkv_repl_uptime_cell(double seconds, char *out, size_t outlen);

typedef struct zkv_repl_latency {
    uint64_t samples, failed;
    double min_ms, max_ms, sum_ms;
} zkv_repl_latency;

void zkv_repl_latency_add(zkv_repl_latency *l, double ms);
/* "min: 0.08, max: 0.41, avg: 0.12 (1532 samples)", then ", 3 failed" when some failed;
 * "(no samples)" before the first. */
void zkv_repl_latency_line(const zkv_repl_latency *l, char *out, size_t outlen);

/* latency's arguments: [NODE] [--samples N] [--history SECONDS] after the command name
 * (argv[0]). node: NULL for every live node. 0, or -1 with the reason in err. */
typedef struct zkv_repl_latency_args {
    const char *node;
    unsigned long samples;   /* 0: until Ctrl-C */
    unsigned long history_s; /* 0: one running line */
} zkv_repl_latency_args;
struct zkv_repl_args;
int zkv_repl_latency_args_parse(const struct zkv_repl_args *a, zkv_repl_latency_args *out,
                                char *err, size_t errlen);

#endif
