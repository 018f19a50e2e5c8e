/* cmetrics.c: zkv-coordinator's /metrics and /status (cmetrics.h). */
#include "cmetrics.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "html.h"

void zkv_cmetrics_summarize(const zkv_rangemap *m, int replication_factor, const zkv_op *const *ops,
                            size_t n, zkv_cluster_summary *out)
{
    memset(out, 0, sizeof(*out));
    out->valid = true;
    out->map_version = m->version;
    out->replication_factor = replication_factor;
    out->ranges = (uint64_t)m->n_ranges;
    for (size_t i = 0; i < m->n_nodes; i++)
        out->nodes_live += m->nodes[i].addr[0] != '\0';
    for (size_t i = 0; i < m->n_ranges; i++) {
        const zkv_range *r = &m->ranges[i];
        const zkv_node_info *owner = r->owner[0] ? zkv_rangemap_node(m, r->owner) : NULL;
        if (!owner || !owner->addr[0])
            out->ranges_no_owner++;
        int in_sync = 0;
        for (int j = 0; j < r->n_replicas; j++) {
            if (zkv_range_is_in_sync(r, r->replicas[j]))
                in_sync++;
            else
                out->replicas_out_of_sync++;
        }
        if (!r->owner[0] || in_sync + 1 < replication_factor)
            out->ranges_under_replicated++;
    }
    for (size_t k = 0; k < n; k++) {
        if (strcmp(ops[k]->step, "failed") == 0)
            out->ops_failed++;
        else if ((unsigned)ops[k]->kind < ZKV_CMETRICS_OP_KINDS)
            out->ops[ops[k]->kind]++;
    }
}

/* ---- /metrics ---- */

typedef struct writer {
    zkv_buf *b;
    int err;
} writer;

static void text(writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text(writer *w, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line || zkv_buf_append(w->b, line, (size_t)n) != 0)
        w->err = -1;
}

static void family(writer *w, const char *name, const char *type, const char *help)
{
    text(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void gauge(writer *w, const char *name, const char *help, uint64_t v)
{
    family(w, name, "gauge", help);
    text(w, "%s %" PRIu64 "\n", name, v);
}

/* A label value escaped as the format wants (backslash, double quote, newline). */
static void escaped(const char *v, char *out, size_t n)
{
    size_t o = 0;
    for (const char *p = v ? v : ""; *p && o + 3 < n; p++) {
        if (*p == '\\' || *p == '"' || *p == '\n') {
            out[o++] = '\\';
            out[o++] = *p == '\n' ? 'n' : *p;
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
}

int zkv_cmetrics_render(const zkv_cmetrics *m, zkv_buf *out)
{
    writer w = {out, 0};
    char id[256], version[64], cluster[256];
    escaped(m->id, id, sizeof id);
    escaped(m->version, version, sizeof version);
    escaped(m->cluster, cluster, sizeof cluster);
    family(&w, "zkv_coordinator_info", "gauge",
           "Always 1; the coordinator's id, the zkv version and the cluster as labels.");
    text(&w, "zkv_coordinator_info{id=\"%s\",version=\"%s\",cluster=\"%s\"} 1\n", id, version,
         cluster);
    gauge(&w, "zkv_coordinator_zookeeper_connected",
          "1 while the coordinator's ZooKeeper session is connected.", m->zk_connected);
    gauge(&w, "zkv_coordinator_leader",
          "1 while this coordinator leads (places ranges, fails them over); 0 standing by.",
          m->leader);
    const zkv_cluster_summary *c = &m->cluster_now;
    if (m->leader && c->valid) {
        gauge(&w, "zkv_cluster_map_version", "The range map's version the leader last read.",
              (uint64_t)(c->map_version > 0 ? c->map_version : 0));
        gauge(&w, "zkv_cluster_replication_factor",
              "Copies of each range the cluster keeps (owner included).",
              (uint64_t)(c->replication_factor > 0 ? c->replication_factor : 0));
        gauge(&w, "zkv_cluster_ranges", "Ranges in the map.", c->ranges);
        gauge(&w, "zkv_cluster_nodes_live", "Nodes registered in ZooKeeper.", c->nodes_live);
        gauge(&w, "zkv_cluster_ranges_without_owner",
              "Ranges nobody serves now: no owner, or an owner that is not registered.",
              c->ranges_no_owner);
        gauge(&w, "zkv_cluster_ranges_under_replicated",
              "Ranges with fewer copies in sync than the replication factor (owner counted).",
              c->ranges_under_replicated);
        gauge(&w, "zkv_cluster_replicas_out_of_sync",
              "Assigned replica slots whose replica is not in sync.", c->replicas_out_of_sync);
        family(&w, "zkv_cluster_operations", "gauge",
               "Operations under way (moves, drains, splits ...), by kind.");
        for (int k = ZKV_OP_NONE + 1; k < ZKV_CMETRICS_OP_KINDS; k++)
            text(&w, "zkv_cluster_operations{kind=\"%s\"} %" PRIu64 "\n",
                 zkv_op_kind_name((zkv_op_kind)k), c->ops[k]);
        gauge(&w, "zkv_cluster_operations_failed",
              "Operations stopped at step \"failed\" (zkv admin status says why).", c->ops_failed);
    }
    family(&w, "process_cpu_seconds_total", "counter",
           "User and system CPU time spent in seconds.");
    text(&w, "process_cpu_seconds_total %" PRIu64 ".%06" PRIu64 "\n", m->process.cpu_us / 1000000u,
         m->process.cpu_us % 1000000u);
    gauge(&w, "process_resident_memory_bytes", "Resident memory size in bytes.",
          m->process.rss_bytes);
    gauge(&w, "process_open_fds", "Number of open file descriptors.", m->process.open_fds);
    gauge(&w, "process_max_fds", "Maximum number of open file descriptors.", m->process.max_fds);
    family(&w, "process_start_time_seconds", "gauge",
           "Start time of the process since unix epoch in seconds.");
    text(&w, "process_start_time_seconds %" PRIu64 ".%03" PRIu64 "\n",
         m->process.start_time_ms / 1000u, m->process.start_time_ms % 1000u);
    return w.err;
}

/* ---- /status ---- */

int zkv_cmetrics_status(const zkv_cmetrics *m, zkv_buf *out)
{
    zkv_html h;
    char title[300], v[64];
    snprintf(title, sizeof title, "zkv-coordinator %s", m->id ? m->id : "?");
    zkv_html_begin(&h, out, title);
    zkv_html_raw(&h, "%s", "<table>\n");
    zkv_html_row(&h, "cluster", m->cluster ? m->cluster : "?");
    zkv_html_row(&h, "version", m->version ? m->version : "?");
    zkv_html_raw(&h, "<tr><th>ZooKeeper</th><td class=\"%s\">%s</td></tr>\n",
                 m->zk_connected ? "ok" : "bad", m->zk_connected ? "connected" : "not connected");
    zkv_html_row(&h, "role", m->leader ? "leader" : "standby (another coordinator leads)");
    const zkv_cluster_summary *c = &m->cluster_now;
    if (m->leader && c->valid) {
        snprintf(v, sizeof v, "%" PRId64, c->map_version);
        zkv_html_row(&h, "map version", v);
        snprintf(v, sizeof v, "%" PRIu64 " (replication factor %d)", c->ranges,
                 c->replication_factor);
        zkv_html_row(&h, "ranges", v);
        snprintf(v, sizeof v, "%" PRIu64, c->nodes_live);
        zkv_html_row(&h, "nodes live", v);
        zkv_html_raw(&h,
                     "<tr><th>ranges without owner</th><td class=\"%s\">%" PRIu64 "</td></tr>\n",
                     c->ranges_no_owner ? "bad" : "ok", c->ranges_no_owner);
        zkv_html_raw(&h,
                     "<tr><th>ranges under-replicated</th><td class=\"%s\">%" PRIu64 "</td></tr>\n",
                     c->ranges_under_replicated ? "bad" : "ok", c->ranges_under_replicated);
        snprintf(v, sizeof v, "%" PRIu64, c->replicas_out_of_sync);
        zkv_html_row(&h, "replicas out of sync", v);
        for (int k = ZKV_OP_NONE + 1; k < ZKV_CMETRICS_OP_KINDS; k++)
            if (c->ops[k]) {
                char name[64];
                snprintf(name, sizeof name, "operations: %s", zkv_op_kind_name((zkv_op_kind)k));
                snprintf(v, sizeof v, "%" PRIu64 " under way", c->ops[k]);
                zkv_html_row(&h, name, v);
            }
        snprintf(v, sizeof v, "%" PRIu64, c->ops_failed);
        zkv_html_row(&h, "operations failed", v);
    }
    snprintf(v, sizeof v, "%.1f MiB", (double)m->process.rss_bytes / 1048576.0);
    zkv_html_row(&h, "memory (resident)", v);
    zkv_html_raw(&h, "%s",
                 "</table>\n<p><code>zkv ranges</code> and <code>zkv admin status</code> "
                 "show the ranges and the operations in full.</p>\n");
    return zkv_html_end(&h);
}
