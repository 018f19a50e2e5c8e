/* metrics_http.h: the HTTP side of --metrics: a libmicrohttpd daemon on its own thread
 * serving GET /metrics with the latest text the loop published (metrics.h), 404 for any
 * other path. The loop renders and publishes once a second; a scrape only copies the
 * latest text under a mutex, so the loop thread never waits on HTTP. */
#ifndef ZKV_SERVER_METRICS_HTTP_H
#define ZKV_SERVER_METRICS_HTTP_H
#include <stddef.h>
#include "common/buf.h"

#define ZKV_METRICS_CONTENT_TYPE "text/plain; version=0.0.4"

typedef struct zkv_metrics_http zkv_metrics_http;

/* Binds host:port (a name or an IPv4/IPv6 address) and starts serving. Returns 0 with *out
 * set, or -1 with the reason in err (e.g. the address is in use). */
int zkv_metrics_http_start(const char *host, int port, zkv_metrics_http **out, char *err,
                           size_t errlen);
/* Makes text the one served: swaps the buffers, so text gets the previous one back,
 * emptied, for the next rendering. */
void zkv_metrics_http_publish(zkv_metrics_http *h, zkv_buf *text);
/* Stops the daemon (waiting for its thread), then frees everything. NULL is fine. */
void zkv_metrics_http_stop(zkv_metrics_http *h);

#endif
