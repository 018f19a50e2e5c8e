/* metrics.c: the Prometheus text renderer of metrics.h. Pure: a snapshot of plain values
 * in, exposition text (format 0.0.4) out, so the exact text is unit tested and the loop
 * thread pays for it once a second, never per request. Families are written in a fixed
 * order, each with its # HELP and # TYPE lines; request counters are written for every
 * (op, status) pair so a series never appears out of nowhere. */
#include "metrics.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const OP_NAMES[ZKV_MOP_COUNT] = {"get", "put", "delete", "scan", "other"};
static const char *const STATUS_NAMES[ZKV_MST_COUNT] = {"ok",          "not_found", "not_owner",
                                                        "unavailable", "too_large", "bad_request",
                                                        "timeout",     "internal",  "other"};

void zkv_metrics_observe(zkv_latency *l, zkv_metrics_op op, uint64_t us)
{
    if ((unsigned)op >= ZKV_MOP_COUNT)
        op = ZKV_MOP_OTHER;
    l->n[op][zkv_lat_bucket(us)]++;
    l->sum_us[op] += us;
}

uint64_t zkv_metrics_quantile_us(const zkv_latency *l, zkv_metrics_op op, double q)
{
    uint64_t total = 0;
    for (int b = 0; b <= ZKV_LAT_NB; b++)
        total += l->n[op][b];
    if (!total)
        return 0;
    uint64_t want = (uint64_t)(q * (double)total + 0.999999), cum = 0;
    for (int b = 0; b < ZKV_LAT_NB; b++) {
        cum += l->n[op][b];
        if (cum >= want)
            return zkv_lat_bounds_us[b];
    }
    return UINT64_MAX;
}

const char *zkv_metrics_op_name(zkv_metrics_op op)
{
    return (unsigned)op < ZKV_MOP_COUNT ? OP_NAMES[op] : "?";
}

zkv_metrics_op zkv_metrics_op_of(Zkv__Op op)
{
    switch (op) {
    case ZKV__OP__GET:
        return ZKV_MOP_GET;
    case ZKV__OP__PUT:
        return ZKV_MOP_PUT;
    case ZKV__OP__DELETE:
        return ZKV_MOP_DELETE;
    case ZKV__OP__SCAN:
        return ZKV_MOP_SCAN;
    default:
        return ZKV_MOP_OTHER;
    }
}

zkv_metrics_status zkv_metrics_status_of(Zkv__Status st)
{
    switch (st) {
    case ZKV__STATUS__OK:
        return ZKV_MST_OK;
    case ZKV__STATUS__NOT_FOUND:
        return ZKV_MST_NOT_FOUND;
    case ZKV__STATUS__NOT_OWNER:
        return ZKV_MST_NOT_OWNER;
    case ZKV__STATUS__UNAVAILABLE:
        return ZKV_MST_UNAVAILABLE;
    case ZKV__STATUS__TOO_LARGE:
        return ZKV_MST_TOO_LARGE;
    case ZKV__STATUS__BAD_REQUEST:
        return ZKV_MST_BAD_REQUEST;
    case ZKV__STATUS__TIMEOUT:
        return ZKV_MST_TIMEOUT;
    case ZKV__STATUS__INTERNAL:
        return ZKV_MST_INTERNAL;
    default:
        return ZKV_MST_OTHER;
    }
}

zkv_metrics_range *zkv_metrics_add_range(zkv_metrics_snapshot *s)
{
    if (s->n_ranges == s->cap_ranges) {
        size_t cap = s->cap_ranges ? s->cap_ranges * 2 : 16;
        zkv_metrics_range *r = realloc(s->ranges, cap * sizeof(*r));
        if (!r)
            return NULL;
        s->ranges = r;
        s->cap_ranges = cap;
    }
    zkv_metrics_range *r = &s->ranges[s->n_ranges++];
    memset(r, 0, sizeof(*r));
    return r;
}

void zkv_metrics_snapshot_free(zkv_metrics_snapshot *s)
{
    free(s->ranges);
    s->ranges = NULL;
    s->n_ranges = s->cap_ranges = 0;
}

/* ---- writing ---- */

/* The output and whether an append failed (checked once at the end). */
typedef struct writer {
    zkv_buf *b;
    int err;
} writer;

static void put(writer *w, const char *s, size_t n)
{
    if (!w->err && zkv_buf_append(w->b, s, n) != 0)
        w->err = -1;
}

static void puts_(writer *w, const char *s)
{
    put(w, s, strlen(s));
}

static void put_u64(writer *w, uint64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof(num), "%" PRIu64, v);
    put(w, num, (size_t)n);
}

/* A label value, escaped as the format wants: backslash, double quote, newline. */
static void put_escaped(writer *w, const char *v)
{
    for (const char *p = v; *p; p++) {
        if (*p == '\\')
            puts_(w, "\\\\");
        else if (*p == '"')
            puts_(w, "\\\"");
        else if (*p == '\n')
            puts_(w, "\\n");
        else
            put(w, p, 1);
    }
}

static void family(writer *w, const char *name, const char *type, const char *help)
{
    puts_(w, "# HELP ");
    puts_(w, name);
    put(w, " ", 1);
    puts_(w, help);
    puts_(w, "\n# TYPE ");
    puts_(w, name);
    put(w, " ", 1);
    puts_(w, type);
    put(w, "\n", 1);
}

/* A sample's name{k0="v0",k1="v1"} and the space before its value, with the labels whose
 * key is not NULL. */
static void sample_head(writer *w, const char *name, const char *const labels[4])
{
    puts_(w, name);
    for (int i = 0; i < 4 && labels && labels[i]; i += 2) {
        put(w, i == 0 ? "{" : ",", 1);
        puts_(w, labels[i]);
        puts_(w, "=\"");
        put_escaped(w, labels[i + 1]);
        put(w, "\"", 1);
    }
    if (labels && labels[0])
        put(w, "}", 1);
    put(w, " ", 1);
}

/* One sample: name{labels} value. */
static void sample(writer *w, const char *name, const char *const labels[4], uint64_t v)
{
    sample_head(w, name, labels);
    put_u64(w, v);
    put(w, "\n", 1);
}

/* One sample with a value in decimal text (seconds with a fraction). */
static void sample_text(writer *w, const char *name, const char *const labels[4], const char *value)
{
    sample_head(w, name, labels);
    puts_(w, value);
    put(w, "\n", 1);
}

/* us microseconds as seconds, exactly ("0.000125"). */
static void seconds(uint64_t us, char *out, size_t n)
{
    snprintf(out, n, "%" PRIu64 ".%06" PRIu64, us / 1000000u, us % 1000000u);
}

/* A family of a single unlabelled sample. */
static void scalar(writer *w, const char *name, const char *type, const char *help, uint64_t v)
{
    family(w, name, type, help);
    sample(w, name, NULL, v);
}

/* Per-range families: one sample per owned range, value at offset in zkv_metrics_range. */
typedef struct range_family {
    const char *name, *help;
    size_t off;
} range_family;

static const range_family RANGE_FAMILIES[] = {
    {"zkv_range_epoch", "Epoch of the owned range in the current map.",
     offsetof(zkv_metrics_range, epoch)},
    {"zkv_range_committed_seq", "Last log sequence number of the range durable on this node.",
     offsetof(zkv_metrics_range, committed_seq)},
    {"zkv_range_commit_point",
     "Highest sequence number whose write answers may be released (acked by the in_sync "
     "replicas).",
     offsetof(zkv_metrics_range, commit_point)},
    {"zkv_range_in_sync_replicas", "Replicas of the range confirmed in_sync (owner not counted).",
     offsetof(zkv_metrics_range, n_in_sync)},
    {"zkv_range_log_first_seq",
     "First sequence number of the range's log kept on this node (0: none): a replica behind "
     "it catches up by a snapshot.",
     offsetof(zkv_metrics_range, log_first_seq)},
};

static void render_ranges(writer *w, const zkv_metrics_snapshot *s)
{
    for (size_t f = 0; f < sizeof(RANGE_FAMILIES) / sizeof(RANGE_FAMILIES[0]); f++) {
        const range_family *rf = &RANGE_FAMILIES[f];
        family(w, rf->name, "gauge", rf->help);
        for (size_t i = 0; i < s->n_ranges; i++) {
            const zkv_metrics_range *r = &s->ranges[i];
            const char *const labels[4] = {"range", r->id, NULL, NULL};
            uint64_t v;
            memcpy(&v, (const char *)r + rf->off, sizeof(v));
            sample(w, rf->name, labels, v);
        }
    }
    for (int f = 0; f < 2; f++) {
        const char *name = f == 0 ? "zkv_replica_in_sync" : "zkv_replica_lag_entries";
        family(w, name, "gauge",
               f == 0 ? "1 when the replica is confirmed in_sync for the range, else 0."
                      : "Log entries the replica's acknowledged position is behind this "
                        "node's committed seq.");
        for (size_t i = 0; i < s->n_ranges; i++) {
            const zkv_metrics_range *r = &s->ranges[i];
            for (int j = 0; j < r->n_replicas; j++) {
                const zkv_metrics_replica *rep = &r->replicas[j];
                const char *const labels[4] = {"range", r->id, "replica", rep->node_id};
                sample(w, name, labels, f == 0 ? (uint64_t)rep->in_sync : rep->lag_entries);
            }
        }
    }
}

/* One histogram's samples: cumulative buckets of n (zkv_lat_bounds_us, then +Inf), the sum
 * and the count, each with the label key=value before le (key NULL: none). */
static void histogram(writer *w, const char *name, const char *key, const char *value,
                      const uint64_t n[ZKV_LAT_NB + 1], uint64_t sum_us)
{
    char bucket[96], sum[96], count[96], v[32];
    snprintf(bucket, sizeof bucket, "%s_bucket", name);
    snprintf(sum, sizeof sum, "%s_sum", name);
    snprintf(count, sizeof count, "%s_count", name);
    uint64_t cum = 0;
    for (int b = 0; b <= ZKV_LAT_NB; b++) {
        cum += n[b];
        const char *le = b < ZKV_LAT_NB ? zkv_lat_le[b] : "+Inf";
        const char *const labels[4] = {key ? key : "le", key ? value : le, key ? "le" : NULL,
                                       key ? le : NULL};
        sample(w, bucket, labels, cum);
    }
    const char *const labels[4] = {key, value, NULL, NULL};
    seconds(sum_us, v, sizeof v);
    sample_text(w, sum, key ? labels : NULL, v);
    sample(w, count, key ? labels : NULL, cum);
}

static void render_latency(writer *w, const zkv_latency *l)
{
    static const char *const name = "zkv_request_duration_seconds";
    family(w, name, "histogram",
           "Time from a request decoded to its answer queued for the socket (an answer held "
           "for replica acks or the commit point: released), by operation.");
    for (int op = 0; op < ZKV_MOP_COUNT; op++)
        histogram(w, name, "op", OP_NAMES[op], l->n[op], l->sum_us[op]);
}

/* The process figures every exporter gives, named as Prometheus's client libraries do. */
static void render_process(writer *w, const zkv_procstat *p)
{
    char v[32];
    family(w, "process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds.");
    seconds(p->cpu_us, v, sizeof v);
    sample_text(w, "process_cpu_seconds_total", NULL, v);
    scalar(w, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
           p->rss_bytes);
    scalar(w, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
           p->vsize_bytes);
    scalar(w, "process_open_fds", "gauge", "Number of open file descriptors.", p->open_fds);
    scalar(w, "process_max_fds", "gauge", "Maximum number of open file descriptors.", p->max_fds);
    family(w, "process_start_time_seconds", "gauge",
           "Start time of the process since unix epoch in seconds.");
    seconds(p->start_time_ms * 1000u, v, sizeof v);
    sample_text(w, "process_start_time_seconds", NULL, v);
}

static void render_leveldb(writer *w, const zkv_metrics_snapshot *s)
{
    const zkv_dbstats *d = &s->db;
    scalar(w, "zkv_leveldb_size_bytes", "gauge",
           "Bytes LevelDB's table files take (its approximate size of every key).", d->size_bytes);
    family(w, "zkv_leveldb_files", "gauge", "LevelDB table files, by level.");
    for (int l = 0; l < ZKV_DB_LEVELS; l++) {
        char level[4];
        snprintf(level, sizeof level, "%d", l);
        const char *const labels[4] = {"level", level, NULL, NULL};
        sample(w, "zkv_leveldb_files", labels, d->files[l]);
    }
    char v[32];
    family(w, "zkv_leveldb_compaction_seconds_total", "counter",
           "Time LevelDB spent in compactions (memtable flushes included).");
    seconds(d->compaction_ms * 1000u, v, sizeof v);
    sample_text(w, "zkv_leveldb_compaction_seconds_total", NULL, v);
    scalar(w, "zkv_leveldb_compaction_read_bytes_total", "counter",
           "Bytes LevelDB's compactions read (MiB steps).", d->compaction_read_bytes);
    scalar(w, "zkv_leveldb_compaction_written_bytes_total", "counter",
           "Bytes LevelDB's compactions and flushes wrote (MiB steps).", d->compaction_write_bytes);
}

/* The commits' LevelDB writes: how long each took, and those that waited, by cause. */
static void render_db_writes(writer *w, const zkv_metrics_snapshot *s)
{
    const zkv_dbwrite_stats *d = &s->db_writes;
    family(w, "zkv_leveldb_write_duration_seconds", "histogram",
           "Time each group commit's LevelDB write took (its fsync included with --sync).");
    histogram(w, "zkv_leveldb_write_duration_seconds", NULL, NULL, d->n, d->sum_us);
    char v[32];
    family(w, "zkv_leveldb_write_waits_total", "counter",
           "LevelDB writes that took 1 ms or more, by the likely cause: level 0 at LevelDB's "
           "slowdown (8 files) or stop (12) trigger, a full memtable waiting for its flush, "
           "or the fsync of --sync.");
    for (int c = ZKV_DBW_NONE + 1; c < ZKV_DBW_NCAUSE; c++) {
        const char *const labels[4] = {"cause", zkv_dbwrite_cause_name((zkv_dbwrite_cause)c), NULL,
                                       NULL};
        sample(w, "zkv_leveldb_write_waits_total", labels, d->waits[c]);
    }
    family(w, "zkv_leveldb_write_wait_seconds_total", "counter",
           "Time of the LevelDB writes that took 1 ms or more, by the same causes.");
    for (int c = ZKV_DBW_NONE + 1; c < ZKV_DBW_NCAUSE; c++) {
        const char *const labels[4] = {"cause", zkv_dbwrite_cause_name((zkv_dbwrite_cause)c), NULL,
                                       NULL};
        seconds(d->wait_us[c], v, sizeof v);
        sample_text(w, "zkv_leveldb_write_wait_seconds_total", labels, v);
    }
    family(w, "zkv_leveldb_write_max_seconds", "gauge", "The longest LevelDB write since start.");
    seconds(d->max_us, v, sizeof v);
    sample_text(w, "zkv_leveldb_write_max_seconds", NULL, v);
    scalar(w, "zkv_leveldb_sync", "gauge",
           "1 when every group commit fsyncs LevelDB's log before answering (--sync), else 0.",
           s->db_sync ? 1 : 0);
}

/* The value log (vlog.h) and its garbage collection. */
static void render_vlog(writer *w, const zkv_metrics_snapshot *s)
{
    const zkv_vlog_stats *v = &s->vlog;
    scalar(w, "zkv_value_log_bytes", "gauge",
           "Bytes of the value log's files: the values above --inline-max-bytes, live or not "
           "yet collected.",
           v->bytes);
    scalar(w, "zkv_value_log_files", "gauge", "Files of the value log.", v->files);
    scalar(w, "zkv_value_log_live_bytes", "gauge",
           "Live bytes of the value log as last measured (files not yet measured count whole): "
           "zkv_value_log_bytes over this is its space amplification.",
           v->live_estimate);
    scalar(w, "zkv_value_log_appended_bytes_total", "counter",
           "Bytes writes appended to the value log since start.", v->appended);
    scalar(w, "zkv_value_log_gc_read_bytes_total", "counter",
           "Bytes the value log's garbage collection read (measures and moves).", v->gc_read);
    scalar(w, "zkv_value_log_gc_moved_bytes_total", "counter",
           "Bytes of live values the garbage collection moved out of mostly dead files.",
           v->gc_moved);
    scalar(w, "zkv_value_log_gc_files_removed_total", "counter",
           "Value-log files the garbage collection deleted.", v->gc_files_removed);
    scalar(w, "zkv_value_log_gc_pinned_total", "counter",
           "Measures that found a file a range's log still points into (kept for replicas that "
           "catch up; --log-retain-mb bounds how long).",
           v->gc_pinned_skips);
    scalar(w, "zkv_value_log_gc_files_waiting", "gauge",
           "Files whose live values were moved, not yet deleted: until the moves are on disk "
           "(a background fdatasync) and no snapshot being sent may still read them.",
           v->gc_files_waiting);
    scalar(w, "zkv_value_log_writer_bytes_total", "counter",
           "Bytes of the value log written by its writer thread while the loop staged more "
           "(batches past 512 KiB).",
           v->writer_bytes);
    char secs[32];
    family(w, "zkv_value_log_writer_wait_seconds_total", "counter",
           "Time group commits waited for the writer thread to finish their batch.");
    seconds(v->writer_wait_us, secs, sizeof secs);
    sample_text(w, "zkv_value_log_writer_wait_seconds_total", NULL, secs);
}

int zkv_metrics_render(const zkv_metrics_snapshot *s, zkv_buf *out)
{
    writer w = {out, 0};
    const char *const node[4] = {"node", s->node_id ? s->node_id : "", NULL, NULL};
    family(&w, "zkv_node_info", "gauge", "Always 1; the node id as a label.");
    sample(&w, "zkv_node_info", node, 1);
    const char *const build[4] = {"version", s->version ? s->version : "", NULL, NULL};
    family(&w, "zkv_build_info", "gauge", "Always 1; the zkv version as a label.");
    sample(&w, "zkv_build_info", build, 1);
    scalar(&w, "zkv_zookeeper_session_ok", "gauge",
           "1 while the node's ZooKeeper session is confirmed; 0: fenced, its owned ranges "
           "answer UNAVAILABLE.",
           s->zk_session_ok);

    family(&w, "zkv_requests_total", "counter",
           "Requests answered on the listen port, by operation and answer status.");
    for (int op = 0; op < ZKV_MOP_COUNT; op++)
        for (int st = 0; st < ZKV_MST_COUNT; st++) {
            const char *const labels[4] = {"op", OP_NAMES[op], "status", STATUS_NAMES[st]};
            sample(&w, "zkv_requests_total", labels, s->c.requests[op][st]);
        }
    scalar(&w, "zkv_connections_accepted_total", "counter",
           "Connections accepted on the listen port.", s->c.conns_accepted);
    scalar(&w, "zkv_connections_open", "gauge", "Connections open on the listen port.",
           s->conns_open);
    scalar(&w, "zkv_connections_max", "gauge",
           "Client connections allowed (--max-conns, as the open-file limit allows).",
           s->conns_max);
    scalar(&w, "zkv_connections_refused_total", "counter",
           "Connections refused: too many connections, or accept failed.", s->c.conns_refused);
    family(&w, "zkv_connections_timed_out_total", "counter",
           "Connections closed by a timeout, by which one.");
    const char *const idle[4] = {"timeout", "idle", NULL, NULL};
    const char *const request[4] = {"timeout", "request", NULL, NULL};
    sample(&w, "zkv_connections_timed_out_total", idle, s->c.conns_idle_closed);
    sample(&w, "zkv_connections_timed_out_total", request, s->c.conns_request_timeouts);
    scalar(&w, "zkv_connections_paused", "gauge",
           "Connections not read now because their answers queue up.", s->conns_paused);
    scalar(&w, "zkv_connection_pauses_total", "counter",
           "Times a connection stopped being read because its answers queued up.",
           s->c.conn_pauses);
    scalar(&w, "zkv_output_queued_bytes", "gauge",
           "Answer bytes queued for connections of the listen port.", s->output_queued);
    scalar(&w, "zkv_connection_read_bytes_total", "counter",
           "Bytes read from connections of the listen port.", s->c.bytes_read);
    scalar(&w, "zkv_connection_written_bytes_total", "counter",
           "Bytes handed to the sockets of connections of the listen port.", s->c.bytes_written);
    scalar(&w, "zkv_reads_held_total", "counter",
           "Owner reads whose answer waited for the write it reflects to be committed.",
           s->c.reads_held);
    scalar(&w, "zkv_store_commits_total", "counter",
           "Group commits (LevelDB write batches) that wrote something.", s->store_commits);
    scalar(&w, "zkv_store_early_writes_total", "counter",
           "LevelDB writes of a batch's records made ahead of its commit, behind the values "
           "the value log's writer thread took.",
           s->store_early_writes);

    family(&w, "zkv_store_log_reads_total", "counter",
           "Range log reads, by where they were answered from.");
    const char *const mem[4] = {"source", "memory", NULL, NULL};
    const char *const db[4] = {"source", "leveldb", NULL, NULL};
    sample(&w, "zkv_store_log_reads_total", mem, s->log_reads_memory);
    sample(&w, "zkv_store_log_reads_total", db, s->log_reads_db);

    const zkv_rowcache_stats *rc = &s->rowcache;
    scalar(&w, "zkv_rowcache_enabled", "gauge", "1 when the GET row cache is on (--cache-mb).",
           s->rowcache_enabled);
    scalar(&w, "zkv_rowcache_hits_total", "counter", "GETs answered by the row cache.", rc->hits);
    scalar(&w, "zkv_rowcache_misses_total", "counter", "GETs the row cache did not answer.",
           rc->misses);
    scalar(&w, "zkv_rowcache_inserts_total", "counter", "Entries added to the row cache.",
           rc->inserts);
    scalar(&w, "zkv_rowcache_evictions_total", "counter", "Row cache entries evicted to make room.",
           rc->evictions);
    scalar(&w, "zkv_rowcache_invalidations_total", "counter", "Row cache entries invalidated.",
           rc->invalidations);
    scalar(&w, "zkv_rowcache_entries", "gauge", "Entries in the row cache.", rc->entries);
    scalar(&w, "zkv_rowcache_bytes", "gauge", "Bytes charged to the row cache.", rc->bytes);
    scalar(&w, "zkv_rowcache_budget_bytes", "gauge", "Row cache budget in bytes.", rc->budget);

    scalar(&w, "zkv_replication_appends_sent_total", "counter",
           "APPEND frames sent to replicas (heartbeats included).", s->appends_sent);
    scalar(&w, "zkv_replication_appends_acked_total", "counter",
           "APPEND frames replicas answered OK.", s->appends_acked);
    scalar(&w, "zkv_reclaim_deleted_keys_total", "counter",
           "Data keys deleted because this node no longer holds their range.", s->reclaim_keys);
    scalar(&w, "zkv_reclaim_forgotten_ranges_total", "counter",
           "Range logs and positions deleted because this node no longer holds the range.",
           s->reclaim_ranges);
    scalar(&w, "zkv_reclaim_compactions_total", "counter",
           "Key ranges compacted after their data was deleted.", s->reclaim_compactions);
    scalar(&w, "zkv_reclaim_pending_parts", "gauge",
           "Key ranges this node no longer holds whose data may still be on disk.",
           s->reclaim_pending_parts);
    scalar(&w, "zkv_reclaim_pending_ranges", "gauge",
           "Ranges this node no longer holds whose log or position is still on disk.",
           s->reclaim_pending_ranges);
    scalar(&w, "zkv_owned_ranges", "gauge", "Ranges this node owns in its current map.",
           s->n_ranges);
    scalar(&w, "zkv_moves_out", "gauge",
           "Owned ranges being passed to another owner now (a move, a drain, a shutdown).",
           s->moves_out);
    render_latency(&w, &s->c.latency);
    render_leveldb(&w, s);
    render_db_writes(&w, s);
    render_vlog(&w, s);
    render_process(&w, &s->process);
    render_ranges(&w, s);
    return w.err;
}
