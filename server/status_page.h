/* status_page.h: zkv-server's /status page for people (--metrics): what the node is, whether
 * it serves, its traffic and latency, its ranges with their replicas, its disk and memory,
 * from the same snapshot as /metrics (metrics.h). Pure: snapshot in, HTML out. */
#ifndef ZKV_SERVER_STATUS_PAGE_H
#define ZKV_SERVER_STATUS_PAGE_H
#include "common/buf.h"
#include "metrics.h"

/* Appends the page for s to out. 0, or -1 out of memory. */
int zkv_status_page_render(const zkv_metrics_snapshot *s, zkv_buf *out);

#endif
