/* admin_render.c: the operations table and the state of one operation (admin_render.h). */
#include "admin_render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "table.h"

static const char *str(const cJSON *o, const char *name)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(f) && f->valuestring[0] ? f->valuestring : NULL;
}

/* "r0003 node-2", "node-3", "R=2", "r0003 at user:5" from an operation's args. */
static void args_cell(const cJSON *op, char *out, size_t outlen)
{
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(op, "args");
    const char *range = str(args, "range"), *node = str(args, "node"), *key = str(args, "key");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(args, "replicas");
    if (cJSON_IsNumber(r))
        snprintf(out, outlen, "R=%d", (int)r->valuedouble);
    else if (key)
        snprintf(out, outlen, "%s at %.40s%s", range ? range : "", key,
                 strlen(key) > 40 ? "..." : "");
    else
        snprintf(out, outlen, "%s%s%s", range ? range : "", range && node ? " " : "",
                 node ? node : "");
    if (!out[0])
        snprintf(out, outlen, "-");
}

char *zkv_repl_admin_render(const char *json, bool as_json, char *err, size_t errlen)
{
    cJSON *doc = cJSON_Parse(json);
    const cJSON *ops = doc ? cJSON_GetObjectItemCaseSensitive(doc, "operations") : NULL;
    const cJSON *drained = doc ? cJSON_GetObjectItemCaseSensitive(doc, "drained") : NULL;
    if (!cJSON_IsArray(ops) || !cJSON_IsArray(drained)) {
        snprintf(err, errlen, "unexpected status document");
        cJSON_Delete(doc);
        return NULL;
    }
    if (as_json) {
        size_t n = strlen(json) + 2;
        char *out = malloc(n);
        if (out)
            snprintf(out, n, "%s\n", json);
        cJSON_Delete(doc);
        return out;
    }
    static const char *const headers[] = {"ID", "KIND", "ARGS", "STEP", "UPDATED", "ERROR"};
    zkv_repl_table *t = zkv_repl_table_create(6, headers);
    char *table = NULL;
    const cJSON *op;
    cJSON_ArrayForEach(op, ops)
    {
        char args[160];
        args_cell(op, args, sizeof args);
        const char *cells[6] = {str(op, "id"),   str(op, "kind"),    args,
                                str(op, "step"), str(op, "updated"), str(op, "error")};
        for (int i = 0; i < 6; i++)
            if (!cells[i])
                cells[i] = "-";
        if (!t || zkv_repl_table_add_row(t, cells) != 0)
            break;
    }
    if (t)
        table = zkv_repl_table_render(t);
    zkv_repl_table_free(t);
    size_t cap = (table ? strlen(table) : 0) + 64;
    const cJSON *d;
    cJSON_ArrayForEach(d, drained) cap += (cJSON_IsString(d) ? strlen(d->valuestring) : 0) + 1;
    char *out = table ? malloc(cap) : NULL;
    if (out) {
        size_t o = (size_t)snprintf(
            out, cap, "%sdrained:", cJSON_GetArraySize(ops) ? table : "(no operations)\n");
        int nd = 0;
        cJSON_ArrayForEach(d, drained) if (cJSON_IsString(d))
        {
            o += (size_t)snprintf(out + o, cap - o, " %s", d->valuestring);
            nd++;
        }
        snprintf(out + o, cap - o, "%s\n", nd ? "" : " -");
    } else {
        snprintf(err, errlen, "out of memory");
    }
    free(table);
    cJSON_Delete(doc);
    return out;
}

zkv_repl_op_state zkv_repl_admin_op_state(const char *json, const char *id, char *detail,
                                          size_t detail_len)
{
    detail[0] = '\0';
    cJSON *doc = cJSON_Parse(json);
    const cJSON *ops = doc ? cJSON_GetObjectItemCaseSensitive(doc, "operations") : NULL;
    if (!cJSON_IsArray(ops)) {
        cJSON_Delete(doc);
        return ZKV_REPL_OP_BAD;
    }
    zkv_repl_op_state st = ZKV_REPL_OP_DONE;
    const cJSON *op;
    cJSON_ArrayForEach(op, ops)
    {
        const char *oid = str(op, "id"), *step = str(op, "step");
        if (!oid || strcmp(oid, id) != 0)
            continue;
        bool failed = step && strcmp(step, "failed") == 0;
        st = failed ? ZKV_REPL_OP_FAILED : ZKV_REPL_OP_RUNNING;
        const char *what = failed ? str(op, "error") : step;
        snprintf(detail, detail_len, "%s", what ? what : "?");
        break;
    }
    cJSON_Delete(doc);
    return st;
}
