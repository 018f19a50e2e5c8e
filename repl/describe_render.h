/* describe_render.h: turns the cluster description of zkv_describe (JSON) into what the
 * "ranges" and "nodes" commands print: a table, or the JSON array itself (pure).
 *
 * ranges: ID RANGE OWNER REPLICAS IN_SYNC EPOCH SEQ SIZE LAG ADDRESS, sorted by start key.
 *         RANGE is "START..END" with keys as escaped in ZooKeeper (and a space as \x20, so
 *         cells hold no blanks), "-inf"/"+inf" when unbounded; an empty owner or list
 *         prints "-"; SEQ is the owner's last seq in the range's log ("?" when the owner
 *         did not answer); SIZE is zkv_repl_size_cell; LAG is zkv_repl_lag_cell; ADDRESS
 *         is the owner's registered address, "(down)" when the owner has no nodes/ entry.
 * nodes:  ID ADDRESS INCARNATION OWNED REPLICA_OF, sorted by id.
 *
 * Returns a malloc'd string ending in '\n' (the caller frees it), or NULL with a reason
 * in err (unparsable description, out of memory). */
#ifndef ZKV_REPL_DESCRIBE_RENDER_H
#define ZKV_REPL_DESCRIBE_RENDER_H
#include <stdbool.h>
#include <stddef.h>

typedef enum { ZKV_REPL_VIEW_RANGES, ZKV_REPL_VIEW_NODES } zkv_repl_describe_view;

/* The LAG cell of one range object of the description: "node-2:0,node-3:12", how many
 * log entries each replica (the range's "replicas", then any other the owner reports)
 * is behind the owner; "node-3:?" for a replica the owner did not report; "?" when the
 * range has no "lag" (the owner did not answer); "-" when it has no replicas. Returns
 * a malloc'd string or NULL (out of memory). */
struct cJSON;
char *zkv_repl_lag_cell(const struct cJSON *range);

/* The SIZE cell of one range object: its "bytes" as 512B, 4.0K, 12M, 1.5G (one decimal
 * below 10), "?" when the owner did not report it. */
void zkv_repl_size_cell(const struct cJSON *range, char *out, size_t outlen);

char *zkv_repl_describe_render(const char *json, zkv_repl_describe_view view, bool as_json,
                               char *err, size_t errlen);

#endif
