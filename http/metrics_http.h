/* metrics_http.h: the HTTP side of --metrics (zkv-server and zkv-coordinator): a
 * libmicrohttpd daemon on its own thread serving GET /metrics with the latest text the
 * program published (Prometheus's text format), GET /status with its latest page for
 * people (HTML) and GET /ready for readiness probes, 404 for any other path. The loop renders and
 * publishes once a second; a scrape only copies the latest text under a mutex, so the loop thread
 * never waits on HTTP. A node with TLS serves HTTPS with its own certificate and key, and with a
 * client CA answers only clients whose certificate that CA signed (others get 403): the metrics
 * name the node's ranges and peers, and TLS is there to keep such things to the cluster. On SIGHUP
 * the files are read again and the daemon restarted on the same socket. */
#ifndef ZKV_SERVER_METRICS_HTTP_H
#define ZKV_SERVER_METRICS_HTTP_H
#include <stdbool.h>
#include <stddef.h>
#include "common/buf.h"
#include "common/tls.h"

#define ZKV_METRICS_CONTENT_TYPE "text/plain; version=0.0.4"
#define ZKV_STATUS_CONTENT_TYPE "text/html; charset=utf-8"

typedef struct zkv_metrics_http zkv_metrics_http;

/* Binds host:port (a name or an IPv4/IPv6 address) and starts serving: plain HTTP when
 * tls is NULL or names no certificate; HTTPS with tls->cert and tls->key otherwise, and
 * with tls->client_ca set, GET only for clients presenting a certificate it signed
 * (tls->ca, for the node's own connections, plays no part). Returns 0 with *out set, or
 * -1 with the reason in err (the address is in use, a file that does not load). */
int zkv_metrics_http_start(const char *host, int port, const zkv_tls_files *tls,
                           zkv_metrics_http **out, char *err, size_t errlen);
/* SIGHUP: reads tls's files again (as zkv_metrics_http_start) and, once they load, starts
 * a new daemon with them on the same listening socket and stops the old one (a scrape it
 * was answering is cut: scrapes are short and retried). 0, or -1 with err and the running
 * daemon left serving as before. */
int zkv_metrics_http_reload(zkv_metrics_http *h, const zkv_tls_files *tls, char *err,
                            size_t errlen);
/* Makes text the one served: swaps the buffers, so text gets the previous one back,
 * emptied, for the next rendering. */
void zkv_metrics_http_publish(zkv_metrics_http *h, zkv_buf *text);
/* The same for the /status page (HTML for people). */
void zkv_metrics_http_publish_status(zkv_metrics_http *h, zkv_buf *html);
/* What GET /ready answers (a readiness probe, docs/metrics.md): 200 "ready" when ready,
 * else 503 "not ready: why". Starts not ready. */
void zkv_metrics_http_set_ready(zkv_metrics_http *h, bool ready, const char *why);
/* Stops the daemon (waiting for its thread), then frees everything. NULL is fine. */
void zkv_metrics_http_stop(zkv_metrics_http *h);

#endif
