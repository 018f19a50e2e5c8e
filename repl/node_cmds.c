/* node_cmds.c: ping, info and latency (node_cmds.h). */
#include "node_cmds.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "common/util.h"
#include "node_render.h"

#define LATENCY_PAUSE_MS 10 /* between two rounds of PINGs, as redis-cli's */

/* The ids and addresses of the live nodes, or of node alone when given (NULL with the
 * failure reported). */
static cJSON *node_list(zkv_repl_session *s, const char *what, const char *node)
{
    char *json = NULL;
    int rc = zkv_nodes(s->client, &json);
    if (rc != ZKV_OK) {
        zkv_repl_session_report_status(s, what, rc);
        return NULL;
    }
    cJSON *all = cJSON_Parse(json);
    zkv_free(json);
    if (!cJSON_IsArray(all)) {
        cJSON_Delete(all);
        zkv_repl_session_report(s, what, "out of memory");
        return NULL;
    }
    if (node) {
        cJSON *it = all->child;
        while (it) {
            cJSON *next = it->next;
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
            if (!cJSON_IsString(id) || strcmp(id->valuestring, node) != 0)
                cJSON_Delete(cJSON_DetachItemViaPointer(all, it));
            it = next;
        }
    }
    if (cJSON_GetArraySize(all) == 0) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s%s%s", node ? "no live node " : "no live node in the cluster",
                 node ? node : "", node ? " in the cluster's map" : "");
        zkv_repl_session_report(s, what, msg);
        cJSON_Delete(all);
        return NULL;
    }
    return all;
}

static const char *field(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : "";
}

int zkv_repl_cmd_ping(zkv_repl_session *s, const zkv_repl_args *a)
{
    cJSON *nodes = node_list(s, "ping", a->argc > 1 ? a->argv[1].data : NULL);
    if (!nodes)
        return 2;
    cJSON *out = s->json ? cJSON_CreateArray() : NULL;
    int status = 0;
    const cJSON *n;
    cJSON_ArrayForEach(n, nodes)
    {
        const char *id = field(n, "id"), *addr = field(n, "address");
        uint64_t rtt = 0;
        int rc = zkv_ping(s->client, id, s->timeout_ms, &rtt);
        const char *reason = rc == ZKV_OK ? NULL : zkv_last_error();
        if (rc != ZKV_OK)
            status = 2;
        if (out) {
            cJSON *o = cJSON_CreateObject();
            if (o && cJSON_AddItemToArray(out, o)) {
                cJSON_AddStringToObject(o, "node", id);
                cJSON_AddStringToObject(o, "address", addr);
                cJSON_AddBoolToObject(o, "ok", rc == ZKV_OK);
                if (rc == ZKV_OK)
                    cJSON_AddNumberToObject(o, "rtt_ms", (double)rtt / 1000.0);
                else
                    cJSON_AddStringToObject(o, "error", reason);
            } else {
                cJSON_Delete(o);
            }
        } else if (rc == ZKV_OK) {
            printf("%s  %s  PONG  %.2f ms\n", id, addr, (double)rtt / 1000.0);
        } else {
            printf("%s  %s  %s: %s\n", id, addr, zkv_strerror(rc), reason);
        }
    }
    if (out) {
        char *text = cJSON_PrintUnformatted(out);
        if (text)
            printf("%s\n", text);
        free(text);
        cJSON_Delete(out);
    }
    cJSON_Delete(nodes);
    return status;
}

int zkv_repl_cmd_info(zkv_repl_session *s, const zkv_repl_args *a)
{
    char *json = NULL, err[256];
    int rc = zkv_info(s->client, a->argc > 1 ? a->argv[1].data : NULL, &json);
    if (rc != ZKV_OK)
        return zkv_repl_session_report_status(s, "info", rc);
    size_t failed = 0;
    char *out = zkv_repl_info_render(json, s->json, &failed, err, sizeof err);
    zkv_free(json);
    if (!out) {
        zkv_repl_session_report(s, "info", err);
        return 2;
    }
    fputs(out, stdout);
    free(out);
    return failed ? 2 : 0;
}

/* --- latency ------------------------------------------------------------------------ */

static volatile sig_atomic_t g_stop;

static void on_sigint(int sig)
{
    (void)sig;
    g_stop = 1;
}

static cJSON *latency_json(const zkv_repl_latency *l)
{
    cJSON *o = cJSON_CreateObject();
    if (o) {
        cJSON_AddNumberToObject(o, "min_ms", l->min_ms);
        cJSON_AddNumberToObject(o, "max_ms", l->max_ms);
        cJSON_AddNumberToObject(o, "avg_ms", l->samples ? l->sum_ms / (double)l->samples : 0);
        cJSON_AddNumberToObject(o, "samples", (double)l->samples);
        cJSON_AddNumberToObject(o, "failed", (double)l->failed);
    }
    return o;
}

/* The final figures: the line (and a line per node when there are several), or JSON. */
static void latency_report(const zkv_repl_session *s, const cJSON *nodes,
                           const zkv_repl_latency *all, const zkv_repl_latency *per)
{
    char line[256];
    if (s->json) {
        cJSON *doc = cJSON_CreateObject(), *by = cJSON_CreateObject();
        cJSON_AddItemToObject(doc, "all", latency_json(all));
        int i = 0;
        const cJSON *n;
        cJSON_ArrayForEach(n, nodes)
            cJSON_AddItemToObject(by, field(n, "id"), latency_json(&per[i++]));
        cJSON_AddItemToObject(doc, "nodes", by);
        char *text = cJSON_PrintUnformatted(doc);
        if (text)
            printf("%s\n", text);
        free(text);
        cJSON_Delete(doc);
        return;
    }
    zkv_repl_latency_line(all, line, sizeof line);
    printf("%s\n", line);
    if (cJSON_GetArraySize(nodes) < 2)
        return;
    int i = 0;
    const cJSON *n;
    cJSON_ArrayForEach(n, nodes)
    {
        zkv_repl_latency_line(&per[i++], line, sizeof line);
        printf("  %s: %s\n", field(n, "id"), line);
    }
}

int zkv_repl_cmd_latency(zkv_repl_session *s, const zkv_repl_args *a)
{
    zkv_repl_latency_args la;
    char err[256], line[256];
    if (zkv_repl_latency_args_parse(a, &la, err, sizeof err) != 0) {
        zkv_repl_session_report(s, "latency", err);
        return 2;
    }
    cJSON *nodes = node_list(s, "latency", la.node);
    if (!nodes)
        return 2;
    int nn = cJSON_GetArraySize(nodes);
    zkv_repl_latency all = {0}, *per = calloc((size_t)nn, sizeof *per);
    if (!per) {
        cJSON_Delete(nodes);
        zkv_repl_session_report(s, "latency", "out of memory");
        return 2;
    }
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    g_stop = 0;
    sigaction(SIGINT, &sa, &old);
    bool live = isatty(STDOUT_FILENO) && !la.history_s && !s->json;
    uint64_t period_start = zkv_now_ms();
    while (!g_stop && (!la.samples || all.samples + all.failed < la.samples)) {
        int i = 0;
        const cJSON *n;
        cJSON_ArrayForEach(n, nodes)
        {
            if (g_stop || (la.samples && all.samples + all.failed >= la.samples))
                break;
            uint64_t rtt = 0;
            if (zkv_ping(s->client, field(n, "id"), s->timeout_ms, &rtt) == ZKV_OK) {
                zkv_repl_latency_add(&all, (double)rtt / 1000.0);
                zkv_repl_latency_add(&per[i], (double)rtt / 1000.0);
            } else {
                all.failed++;
                per[i].failed++;
            }
            i++;
        }
        if (live) {
            zkv_repl_latency_line(&all, line, sizeof line);
            printf("\r\033[2K%s", line);
            fflush(stdout);
        }
        if (la.history_s && zkv_now_ms() - period_start >= la.history_s * 1000u) {
            zkv_repl_latency_line(&all, line, sizeof line);
            printf("%s -- %lu seconds range\n", line, la.history_s);
            fflush(stdout);
            memset(&all, 0, sizeof all);
            memset(per, 0, (size_t)nn * sizeof *per);
            period_start = zkv_now_ms();
        }
        if (!g_stop && (!la.samples || all.samples + all.failed < la.samples))
            zkv_sleep_ms(LATENCY_PAUSE_MS);
    }
    sigaction(SIGINT, &old, NULL);
    if (live)
        printf("\r\033[2K");
    if (!la.history_s || all.samples + all.failed)
        latency_report(s, nodes, &all, per);
    int status = all.samples == 0 && all.failed ? 2 : 0;
    free(per);
    cJSON_Delete(nodes);
    return status;
}
