/* nodes.c: looking at nodes one by one, for operators (`zkv ping`, `zkv info`,
 * `zkv --latency`): the live nodes of the cached map, a PING's round trip to one node over
 * the client's pooled connection to it (so a latency loop measures requests, not
 * connects), and each node's INFO (server/nodeinfo.h), every node asked at once. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/util.h"
#include "client.h"
#include "error.h"
#include "route.h"

/* The cached map (reloaded when its watch fired), waiting for it until the deadline. */
static zkv__mapsnap *map_now(zkv_client *c, uint64_t deadline_ms)
{
    return zkv__mapcache_get(&c->mc, deadline_ms);
}

static const zkv_node_info *find_node(const zkv_rangemap *m, const char *id)
{
    return m ? zkv_rangemap_node(m, id) : NULL;
}

int zkv_nodes(zkv_client *c, char **json)
{
    zkv__clear_error();
    if (!c || !json)
        return zkv__fail(ZKV_EINVAL, "NULL client or json");
    *json = NULL;
    zkv__mapsnap *snap = map_now(c, zkv_now_ms() + (uint64_t)c->opts.timeout_ms);
    const zkv_rangemap *m = snap->map;
    cJSON *arr = cJSON_CreateArray();
    bool ok = arr != NULL;
    for (size_t i = 0; ok && m && i < m->n_nodes; i++) {
        const zkv_node_info *n = &m->nodes[i];
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            ok = false;
            break;
        }
        ok = cJSON_AddStringToObject(o, "id", n->id) &&
             cJSON_AddStringToObject(o, "address", n->addr) &&
             cJSON_AddStringToObject(o, "zone", n->zone) &&
             cJSON_AddStringToObject(o, "version", n->version) &&
             cJSON_AddBoolToObject(o, "leaving", n->leaving);
    }
    zkv__mapsnap_release(snap);
    *json = ok ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    return *json ? ZKV_OK : zkv__fail(ZKV_ENOMEM, "out of memory");
}

/* One request of op to node over the pooled connection: the answer in *resp (OK) and the
 * round trip in *rtt_us, or an error code with the reason in err. */
static int ask(zkv_client *c, const zkv_node_info *node, Zkv__Op op, uint64_t deadline_ms,
               Zkv__Response **resp, uint64_t *rtt_us, char *err, size_t errlen)
{
    Zkv__Request req = ZKV__REQUEST__INIT;
    req.op = op;
    *resp = NULL;
    uint64_t t0 = zkv_now_us();
    int rc = zkv__exchange(c, node, &req, false, deadline_ms, deadline_ms, resp, err, errlen);
    *rtt_us = zkv_now_us() - t0;
    if (rc != ZKV_OK)
        return rc;
    if ((*resp)->status != ZKV__STATUS__OK) {
        rc = zkv__err(zkv__status_to_code((*resp)->status), err, errlen, "node %s: %s", node->id,
                      (*resp)->message[0] ? (*resp)->message : zkv_status_name((*resp)->status));
        zkv__response_free(*resp);
        *resp = NULL;
    }
    return rc;
}

int zkv_ping(zkv_client *c, const char *node_id, int timeout_ms, uint64_t *rtt_us)
{
    uint64_t deadline;
    int rc = zkv__call_begin(c, timeout_ms, &deadline);
    if (rc != ZKV_OK)
        return rc;
    if (!node_id || !rtt_us)
        return zkv__fail(ZKV_EINVAL, "NULL node id or rtt");
    zkv__mapsnap *snap = map_now(c, deadline);
    const zkv_node_info *node = find_node(snap->map, node_id);
    char err[ZKV__ERR_MAX] = "";
    Zkv__Response *resp = NULL;
    if (!node)
        rc = zkv__err(ZKV_EINVAL, err, sizeof err, "no live node %s in the cluster's map", node_id);
    else
        rc = ask(c, node, ZKV__OP__PING, deadline, &resp, rtt_us, err, sizeof err);
    zkv__mapsnap_release(snap);
    if (resp)
        zkv__response_free(resp);
    return rc == ZKV_OK ? ZKV_OK : zkv__fail(rc, "%s", err);
}

/* One node's INFO, asked on a thread of its own. */
typedef struct info_job {
    zkv_client *c;
    const zkv_node_info *node;
    uint64_t deadline_ms;
    cJSON *out; /* the node's object, or one with "error" */
    pthread_t thread;
    bool started;
} info_job;

static void *ask_info(void *arg)
{
    info_job *j = arg;
    char err[ZKV__ERR_MAX] = "";
    Zkv__Response *resp = NULL;
    uint64_t rtt = 0;
    int rc = ask(j->c, j->node, ZKV__OP__INFO, j->deadline_ms, &resp, &rtt, err, sizeof err);
    if (rc == ZKV_OK) {
        j->out = cJSON_Parse(resp->info);
        if (!cJSON_IsObject(j->out)) {
            cJSON_Delete(j->out);
            j->out = NULL;
            snprintf(err, sizeof err, "node %s answered INFO with something that is not JSON",
                     j->node->id);
        }
    }
    if (j->out) {
        cJSON_AddNumberToObject(j->out, "rtt_ms", (double)rtt / 1000.0);
    } else if ((j->out = cJSON_CreateObject())) {
        cJSON_AddStringToObject(j->out, "node", j->node->id);
        cJSON_AddStringToObject(j->out, "address", j->node->addr);
        cJSON_AddStringToObject(j->out, "error", err[0] ? err : zkv_strerror(rc));
    }
    if (resp)
        zkv__response_free(resp);
    return NULL;
}

int zkv_info(zkv_client *c, const char *node_id, char **json)
{
    uint64_t deadline;
    int rc = zkv__call_begin(c, 0, &deadline);
    if (rc != ZKV_OK)
        return rc;
    if (!json)
        return zkv__fail(ZKV_EINVAL, "NULL json");
    *json = NULL;
    zkv__mapsnap *snap = map_now(c, deadline);
    const zkv_rangemap *m = snap->map;
    if (node_id && !find_node(m, node_id)) {
        zkv__mapsnap_release(snap);
        return zkv__fail(ZKV_EINVAL, "no live node %s in the cluster's map", node_id);
    }
    size_t n_nodes = m ? m->n_nodes : 0;
    info_job *jobs = calloc(n_nodes ? n_nodes : 1, sizeof *jobs);
    size_t n = 0;
    for (size_t i = 0; jobs && i < n_nodes; i++)
        if (!node_id || strcmp(m->nodes[i].id, node_id) == 0)
            jobs[n++] = (info_job){.c = c, .node = &m->nodes[i], .deadline_ms = deadline};
    for (size_t k = 0; k < n; k++)
        jobs[k].started = pthread_create(&jobs[k].thread, NULL, ask_info, &jobs[k]) == 0;
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = root ? cJSON_AddArrayToObject(root, "nodes") : NULL;
    for (size_t k = 0; k < n; k++) {
        if (jobs[k].started)
            pthread_join(jobs[k].thread, NULL);
        else
            ask_info(&jobs[k]); /* no thread to spare: ask it from here */
        if (!arr || !jobs[k].out || !cJSON_AddItemToArray(arr, jobs[k].out))
            cJSON_Delete(jobs[k].out);
    }
    zkv__mapsnap_release(snap);
    *json = arr && jobs ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    free(jobs);
    return *json ? ZKV_OK : zkv__fail(ZKV_ENOMEM, "out of memory");
}
