/* status_page.c: zkv-server's /status page (status_page.h). */
#include "status_page.h"

#include <inttypes.h>
#include <stdio.h>

#include "html.h"

/* A latency bound as people read it: "250 µs", "2.5 ms", "over 5 s", "-" without data. */
static void latency_text(uint64_t us, char *out, size_t n)
{
    if (us == 0)
        snprintf(out, n, "-");
    else if (us == UINT64_MAX)
        snprintf(out, n, "over %" PRIu64 " s", zkv_lat_bounds_us[ZKV_LAT_NB - 1] / 1000000u);
    else if (us < 1000)
        snprintf(out, n, "%" PRIu64 " µs", us);
    else if (us < 1000000)
        snprintf(out, n, "%g ms", (double)us / 1000.0);
    else
        snprintf(out, n, "%g s", (double)us / 1000000.0);
}

static void mib(uint64_t bytes, char *out, size_t n)
{
    snprintf(out, n, "%.1f MiB", (double)bytes / 1048576.0);
}

int zkv_status_page_render(const zkv_metrics_snapshot *s, zkv_buf *out)
{
    zkv_html h;
    char title[128], v[64];
    snprintf(title, sizeof title, "zkv-server %s", s->node_id ? s->node_id : "?");
    zkv_html_begin(&h, out, title);
    zkv_html_raw(&h, "%s", "<table>\n");
    zkv_html_row(&h, "version", s->version ? s->version : "?");
    zkv_html_raw(&h, "<tr><th>serving</th><td class=\"%s\">%s</td></tr>\n",
                 s->zk_session_ok ? "ok" : "bad",
                 s->zk_session_ok ? "yes: ZooKeeper session confirmed"
                                  : "no: fenced (ZooKeeper session not confirmed); owned "
                                    "ranges answer UNAVAILABLE");
    snprintf(v, sizeof v, "%zu", s->n_ranges);
    zkv_html_row(&h, "ranges owned", v);
    snprintf(v, sizeof v, "%" PRIu64, s->moves_out);
    zkv_html_row(&h, "ranges being passed on", v);
    snprintf(v, sizeof v, "%" PRIu64 " of %" PRIu64 " (%" PRIu64 " paused)", s->conns_open,
             s->conns_max, s->conns_paused);
    zkv_html_row(&h, "connections", v);
    mib(s->db.size_bytes, v, sizeof v);
    zkv_html_row(&h, "LevelDB", v);
    mib(s->process.rss_bytes, v, sizeof v);
    zkv_html_row(&h, "memory (resident)", v);
    zkv_html_raw(&h, "%s",
                 "</table>\n<h2>Requests</h2>\n<table>\n"
                 "<tr><th>op</th><th>answered</th><th>p50</th><th>p99</th></tr>\n");
    for (int op = 0; op < ZKV_MOP_COUNT; op++) {
        uint64_t n = 0;
        for (int st = 0; st < ZKV_MST_COUNT; st++)
            n += s->c.requests[op][st];
        char p50[32], p99[32];
        latency_text(zkv_metrics_quantile_us(&s->c.latency, (zkv_metrics_op)op, 0.5), p50,
                     sizeof p50);
        latency_text(zkv_metrics_quantile_us(&s->c.latency, (zkv_metrics_op)op, 0.99), p99,
                     sizeof p99);
        zkv_html_raw(&h, "<tr><td>%s</td><td>%" PRIu64 "</td><td>%s</td><td>%s</td></tr>\n",
                     zkv_metrics_op_name((zkv_metrics_op)op), n, p50, p99);
    }
    zkv_html_raw(&h, "%s",
                 "</table>\n<h2>Owned ranges</h2>\n<table>\n"
                 "<tr><th>range</th><th>epoch</th><th>committed seq</th>"
                 "<th>commit point</th><th>replicas (lag in entries)</th></tr>\n");
    for (size_t i = 0; i < s->n_ranges; i++) {
        const zkv_metrics_range *r = &s->ranges[i];
        zkv_html_raw(&h, "%s", "<tr><td>");
        zkv_html_text(&h, r->id);
        zkv_html_raw(&h, "</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td><td>",
                     r->epoch, r->committed_seq, r->commit_point);
        for (int j = 0; j < r->n_replicas; j++) {
            const zkv_metrics_replica *rep = &r->replicas[j];
            zkv_html_raw(&h, "<span class=\"%s\">", rep->in_sync ? "ok" : "bad");
            zkv_html_text(&h, rep->node_id);
            zkv_html_raw(&h, " %s (%" PRIu64 ")</span>%s", rep->in_sync ? "in sync" : "out of sync",
                         rep->lag_entries, j + 1 < r->n_replicas ? ", " : "");
        }
        zkv_html_raw(&h, "%s", r->n_replicas ? "</td></tr>\n" : "none</td></tr>\n");
    }
    zkv_html_raw(&h, "%s", "</table>\n");
    return zkv_html_end(&h);
}
