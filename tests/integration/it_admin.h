/* it_admin.h: the operators' operations in integration tests (docs/operations.md):
 * record one through zkv_admin_submit, read its step back through zkv_admin_status, wait
 * until it is done or failed, and find the coordinator that leads (the one to kill). */
#ifndef ZKV_IT_ADMIN_H
#define ZKV_IT_ADMIN_H
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "zkt/zkt.h"
#include "zkv/zkv.h"

/* Records an operation (a1 may be NULL); its id into id. */
static inline bool it_admin_submit(zkv_client *c, const char *kind, const char *a0, const char *a1,
                                   char *id, size_t idlen)
{
    const char *args[2] = {a0, a1};
    char *op = NULL;
    int rc = zkv_admin_submit(c, kind, args, a1 ? 2 : 1, &op);
    if (rc != ZKV_OK) {
        zkt_log("admin %s: %s: %s", kind, zkv_strerror(rc), zkv_last_error());
        return false;
    }
    snprintf(id, idlen, "%s", op);
    zkv_free(op);
    zkt_log("admin %s %s%s%s: %s", kind, a0, a1 ? " " : "", a1 ? a1 : "", id);
    return true;
}

/* The operation's step ("" when it is gone, i.e. done); its error into err. */
static inline bool it_op_step(zkv_client *c, const char *id, char *step, size_t steplen, char *err,
                              size_t errlen)
{
    char *json = NULL;
    step[0] = err[0] = '\0';
    if (zkv_admin_status(c, &json) != ZKV_OK)
        return false;
    cJSON *doc = cJSON_Parse(json);
    zkv_free(json);
    const cJSON *ops = cJSON_GetObjectItemCaseSensitive(doc, "operations"), *op;
    cJSON_ArrayForEach(op, ops)
    {
        const cJSON *oid = cJSON_GetObjectItemCaseSensitive(op, "id");
        if (!cJSON_IsString(oid) || strcmp(oid->valuestring, id) != 0)
            continue;
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(op, "step");
        const cJSON *er = cJSON_GetObjectItemCaseSensitive(op, "error");
        snprintf(step, steplen, "%s", cJSON_IsString(st) ? st->valuestring : "?");
        if (cJSON_IsString(er))
            snprintf(err, errlen, "%s", er->valuestring);
    }
    bool ok = cJSON_IsArray(ops);
    cJSON_Delete(doc);
    return ok;
}

typedef struct it_op_arg {
    zkv_client *client;
    const char *id;
    const char *want; /* a step to reach, or NULL: gone or failed */
    char step[32], err[256];
} it_op_arg;

static inline bool it_op_reached(void *p)
{
    it_op_arg *a = p;
    if (!it_op_step(a->client, a->id, a->step, sizeof a->step, a->err, sizeof a->err))
        return false;
    if (a->want)
        return strcmp(a->step, a->want) == 0;
    return a->step[0] == '\0' || strcmp(a->step, "failed") == 0;
}

/* Waits until the operation is done (true) or failed/timed out (false, reason logged);
 * the step it ended at and the error into *out when given. */
static inline bool it_wait_op_at(zkv_client *c, const char *id, int timeout_ms, it_op_arg *out)
{
    it_op_arg a = {.client = c, .id = id};
    uint64_t t0 = zkt_now_ms();
    bool ok = zkt_wait_for(it_op_reached, &a, timeout_ms) && a.step[0] == '\0';
    zkt_log("operation %s: %s after %llu ms%s%s", id, ok ? "done" : a.step,
            (unsigned long long)(zkt_now_ms() - t0), a.err[0] ? ": " : "", a.err);
    if (out)
        *out = a;
    return ok;
}

static inline bool it_wait_op(zkv_client *c, const char *id, int timeout_ms)
{
    return it_wait_op_at(c, id, timeout_ms, NULL);
}

/* The index of the coordinator that leads: its log says so and it still runs; -1 if none. */
static inline int it_leading_coordinator(zkt_cluster *cl)
{
    for (int i = 0; i < cl->n_coords; i++) {
        if (!cl->coords[i].pid)
            continue;
        char *log = zkt_read_file(cl->coords[i].log, NULL);
        bool leads = log && strstr(log, "leading");
        free(log);
        if (leads)
            return i;
    }
    return -1;
}

#endif
