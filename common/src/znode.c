/* znode.c: the ZooKeeper path layout of a cluster and the JSON codecs of its znodes.
 * JSON goes through cJSON (compact output) so an operator can read every znode with
 * zkCli.sh; binary keys are written with zkv_key_escape. Decoders parse with an explicit
 * length (znode data is not NUL-terminated), check every field's presence, type and size,
 * and say which field is wrong; unknown fields are ignored so newer writers can add some.
 * 64-bit integers are written as exact decimals and accepted up to 2^53 (cJSON parses
 * numbers as doubles). */
#include "common/znode.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/keyrange.h"
#include "common/util.h"

#define MAX_SAFE_INT 9007199254740992.0 /* 2^53 */

int zkv_id_valid(const char *id)
{
    if (!id)
        return 0;
    size_t n = 0;
    for (const char *p = id; *p; p++, n++) {
        char c = *p;
        if (n >= ZKV_ID_MAX - 1)
            return 0;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return n > 0;
}

int zkv_path(char *out, size_t outlen, const char *cluster, zkv_path_kind kind, const char *child)
{
    if (!out || outlen == 0 || !cluster)
        return -1;
    size_t clen = strlen(cluster);
    if (clen == 0 || clen > 100 || strchr(cluster, '/'))
        return -1;
    const char *suffix;
    switch (kind) {
    case ZKV_PATH_ROOT:
        suffix = "";
        break;
    case ZKV_PATH_CLUSTER:
        suffix = "/cluster";
        break;
    case ZKV_PATH_NODES:
        suffix = "/nodes";
        break;
    case ZKV_PATH_RANGES:
        suffix = "/ranges";
        break;
    case ZKV_PATH_MAP:
        suffix = "/map";
        break;
    case ZKV_PATH_COORDINATOR:
        suffix = "/coordinator";
        break;
    case ZKV_PATH_OPS:
        suffix = "/ops";
        break;
    case ZKV_PATH_DRAINED:
        suffix = "/drained";
        break;
    case ZKV_PATH_STATS:
        suffix = "/stats";
        break;
    default:
        return -1;
    }
    int n;
    if (child)
        n = snprintf(out, outlen, "%s/%s%s/%s", ZKV_ROOT, cluster, suffix, child);
    else
        n = snprintf(out, outlen, "%s/%s%s", ZKV_ROOT, cluster, suffix);
    if (n < 0 || (size_t)n >= outlen)
        return -1;
    return 0;
}

/* ---- encoding helpers ---------------------------------------------------------------- */

static int add_u64(cJSON *obj, const char *name, uint64_t v)
{
    char num[32];
    snprintf(num, sizeof num, "%" PRIu64, v);
    return cJSON_AddItemToObject(obj, name, cJSON_CreateRaw(num)) ? 0 : -1;
}

static int add_str(cJSON *obj, const char *name, const char *v)
{
    return cJSON_AddStringToObject(obj, name, v) ? 0 : -1;
}

static int add_key(cJSON *obj, const char *name, const uint8_t *key, size_t len)
{
    char *esc = malloc(4 * len + 1);
    if (!esc)
        return -1;
    zkv_key_escape(key, len, esc);
    int rc = add_str(obj, name, esc);
    free(esc);
    return rc;
}

static int add_ids(cJSON *obj, const char *name, const char (*ids)[ZKV_ID_MAX], int n)
{
    cJSON *arr = cJSON_AddArrayToObject(obj, name);
    if (!arr)
        return -1;
    for (int i = 0; i < n && i < ZKV_MAX_REPLICAS; i++) {
        cJSON *s = cJSON_CreateString(ids[i]);
        if (!s || !cJSON_AddItemToArray(arr, s)) {
            cJSON_Delete(s);
            return -1;
        }
    }
    return 0;
}

static char *finish_json(cJSON *obj, int failed)
{
    char *out = failed ? NULL : cJSON_PrintUnformatted(obj);
    cJSON_Delete(obj);
    return out;
}

/* ---- decoding helpers ---------------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt,
                                                      ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static cJSON *parse_object(const char *what, const char *json, size_t len, char *err, size_t errlen)
{
    if (!json) {
        fail(err, errlen, "%s: no data", what);
        return NULL;
    }
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root) {
        fail(err, errlen, "%s: not valid JSON", what);
        return NULL;
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        fail(err, errlen, "%s: not a JSON object", what);
        return NULL;
    }
    return root;
}

/* Copies string field name into out (outlen bytes, NUL included). */
static int get_str(const char *what, const cJSON *obj, const char *name, char *out, size_t outlen,
                   char *err, size_t errlen)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!f)
        return fail(err, errlen, "%s: missing field '%s'", what, name);
    if (!cJSON_IsString(f) || !f->valuestring)
        return fail(err, errlen, "%s: field '%s' is not a string", what, name);
    size_t n = strlen(f->valuestring);
    if (n >= outlen)
        return fail(err, errlen, "%s: field '%s' is too long (%zu bytes, at most %zu)", what, name,
                    n, outlen - 1);
    memcpy(out, f->valuestring, n + 1);
    return 0;
}

static int get_id(const char *what, const cJSON *obj, const char *name, char *out, bool allow_empty,
                  char *err, size_t errlen)
{
    if (get_str(what, obj, name, out, ZKV_ID_MAX, err, errlen) != 0)
        return -1;
    if (allow_empty && out[0] == '\0')
        return 0;
    if (!zkv_id_valid(out))
        return fail(err, errlen, "%s: field '%s' is not a valid id: '%s'", what, name, out);
    return 0;
}

/* An integer number field within [min, max] (max <= 2^53). */
static int get_num(const char *what, const cJSON *obj, const char *name, double min, double max,
                   double *out, char *err, size_t errlen)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!f)
        return fail(err, errlen, "%s: missing field '%s'", what, name);
    if (!cJSON_IsNumber(f))
        return fail(err, errlen, "%s: field '%s' is not a number", what, name);
    double d = f->valuedouble;
    if (!(d >= min && d <= max))
        return fail(err, errlen, "%s: field '%s' is out of range", what, name);
    if ((double)(int64_t)d != d)
        return fail(err, errlen, "%s: field '%s' is not an integer", what, name);
    *out = d;
    return 0;
}

static int get_u64(const char *what, const cJSON *obj, const char *name, uint64_t *out, char *err,
                   size_t errlen)
{
    double d;
    if (get_num(what, obj, name, 0, MAX_SAFE_INT, &d, err, errlen) != 0)
        return -1;
    *out = (uint64_t)d;
    return 0;
}

static int get_key(const char *what, const cJSON *obj, const char *name, uint8_t **key,
                   size_t *klen, char *err, size_t errlen)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!f)
        return fail(err, errlen, "%s: missing field '%s'", what, name);
    if (!cJSON_IsString(f) || !f->valuestring)
        return fail(err, errlen, "%s: field '%s' is not a string", what, name);
    size_t n = strlen(f->valuestring);
    *key = NULL;
    *klen = 0;
    if (n == 0)
        return 0;
    uint8_t *buf = malloc(n);
    if (!buf)
        return fail(err, errlen, "%s: out of memory", what);
    long k = zkv_key_unescape(f->valuestring, buf);
    if (k < 0) {
        free(buf);
        return fail(err, errlen, "%s: field '%s' has a bad escape: '%s'", what, name,
                    f->valuestring);
    }
    *key = buf;
    *klen = (size_t)k;
    return 0;
}

/* An array of at most max ids into ids[0..max). */
static int get_ids_max(const char *what, const cJSON *obj, const char *name,
                       char (*ids)[ZKV_ID_MAX], int max, int *n, char *err, size_t errlen)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!f)
        return fail(err, errlen, "%s: missing field '%s'", what, name);
    if (!cJSON_IsArray(f))
        return fail(err, errlen, "%s: field '%s' is not an array", what, name);
    int count = cJSON_GetArraySize(f);
    if (count > max)
        return fail(err, errlen, "%s: field '%s' has %d entries, at most %d", what, name, count,
                    max);
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, f)
    {
        if (!cJSON_IsString(e) || !e->valuestring)
            return fail(err, errlen, "%s: entry %d of '%s' is not a string", what, i, name);
        if (!zkv_id_valid(e->valuestring))
            return fail(err, errlen, "%s: entry %d of '%s' is not a valid id: '%.80s'", what, i,
                        name, e->valuestring);
        snprintf(ids[i], ZKV_ID_MAX, "%s", e->valuestring);
        i++;
    }
    *n = i;
    return 0;
}

static int get_ids(const char *what, const cJSON *obj, const char *name, char (*ids)[ZKV_ID_MAX],
                   int *n, char *err, size_t errlen)
{
    return get_ids_max(what, obj, name, ids, ZKV_MAX_REPLICAS, n, err, errlen);
}

/* ---- cluster ------------------------------------------------------------------------- */

char *zkv_cluster_to_json(const zkv_cluster_info *c)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    int bad = add_str(o, "cluster_id", c->cluster_id) || add_str(o, "created", c->created) ||
              !cJSON_AddNumberToObject(o, "replicas", c->replicas) ||
              !cJSON_AddNumberToObject(o, "format", c->format);
    return finish_json(o, bad);
}

int zkv_cluster_from_json(const char *json, size_t len, zkv_cluster_info *out, char *err,
                          size_t errlen)
{
    static const char what[] = "cluster znode";
    cJSON *o = parse_object(what, json, len, err, errlen);
    if (!o)
        return -1;
    zkv_cluster_info c;
    memset(&c, 0, sizeof c);
    double replicas, format;
    int rc = -1;
    if (get_id(what, o, "cluster_id", c.cluster_id, false, err, errlen) == 0 &&
        get_str(what, o, "created", c.created, sizeof c.created, err, errlen) == 0 &&
        get_num(what, o, "replicas", 1, ZKV_MAX_REPLICAS + 1, &replicas, err, errlen) == 0 &&
        get_num(what, o, "format", 1, 1000000, &format, err, errlen) == 0) {
        c.replicas = (int)replicas;
        c.format = (int)format;
        *out = c;
        rc = 0;
    }
    cJSON_Delete(o);
    return rc;
}

/* ---- node ---------------------------------------------------------------------------- */

char *zkv_node_to_json(const zkv_node_info *n)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    int bad = add_str(o, "id", n->id) || add_str(o, "addr", n->addr) ||
              add_u64(o, "incarnation", n->incarnation) || add_str(o, "zone", n->zone) ||
              add_str(o, "version", n->version) ||
              (n->leaving && !cJSON_AddTrueToObject(o, "leaving"));
    return finish_json(o, bad);
}

int zkv_node_from_json(const char *json, size_t len, zkv_node_info *out, char *err, size_t errlen)
{
    static const char what[] = "node znode";
    cJSON *o = parse_object(what, json, len, err, errlen);
    if (!o)
        return -1;
    zkv_node_info n;
    memset(&n, 0, sizeof n);
    int rc = -1;
    if (get_id(what, o, "id", n.id, false, err, errlen) == 0 &&
        get_str(what, o, "addr", n.addr, sizeof n.addr, err, errlen) == 0 &&
        get_u64(what, o, "incarnation", &n.incarnation, err, errlen) == 0 &&
        get_str(what, o, "zone", n.zone, sizeof n.zone, err, errlen) == 0 &&
        get_str(what, o, "version", n.version, sizeof n.version, err, errlen) == 0) {
        const cJSON *lv = cJSON_GetObjectItemCaseSensitive(o, "leaving");
        if (n.addr[0] == '\0') {
            fail(err, errlen, "%s: field 'addr' is empty", what);
        } else if (lv && !cJSON_IsBool(lv)) {
            fail(err, errlen, "%s: field 'leaving' is not a boolean", what);
        } else {
            n.leaving = lv && cJSON_IsTrue(lv);
            *out = n;
            rc = 0;
        }
    }
    cJSON_Delete(o);
    return rc;
}

/* ---- range --------------------------------------------------------------------------- */

/* "parents":[{"id","epoch","seq"}...] */
static int add_parents(cJSON *o, const zkv_range *r)
{
    cJSON *arr = cJSON_AddArrayToObject(o, "parents");
    if (!arr)
        return -1;
    for (int i = 0; i < r->n_parents && i < 2; i++) {
        cJSON *p = cJSON_CreateObject();
        if (!p || !cJSON_AddItemToArray(arr, p) || add_str(p, "id", r->parents[i].id) ||
            add_u64(p, "epoch", r->parents[i].epoch) || add_u64(p, "seq", r->parents[i].seq))
            return -1;
    }
    return 0;
}

/* "split":{"key","ids":[a,b]} */
static int add_split(cJSON *o, const zkv_range *r)
{
    cJSON *sp = cJSON_AddObjectToObject(o, "split");
    return !sp || add_key(sp, "key", r->split_key, r->split_key_len) ||
                   add_ids(sp, "ids", (const char(*)[ZKV_ID_MAX])r->split_ids, 2)
               ? -1
               : 0;
}

/* "merge":{"with","id"} */
static int add_merge(cJSON *o, const zkv_range *r)
{
    cJSON *m = cJSON_AddObjectToObject(o, "merge");
    return !m || add_str(m, "with", r->merge_with) || add_str(m, "id", r->merge_id) ? -1 : 0;
}

char *zkv_range_to_json(const zkv_range *r)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    int bad = add_str(o, "id", r->id) || add_key(o, "start", r->start, r->start_len) ||
              add_key(o, "end", r->end, r->end_len) || add_str(o, "owner", r->owner) ||
              add_ids(o, "replicas", r->replicas, r->n_replicas) ||
              add_ids(o, "in_sync", r->in_sync, r->n_in_sync) || add_u64(o, "epoch", r->epoch) ||
              (r->handoff[0] && add_str(o, "handoff", r->handoff)) ||
              (r->leaving[0] && add_str(o, "leaving", r->leaving)) ||
              (r->n_parents > 0 && add_parents(o, r)) || (r->split_asked && add_split(o, r)) ||
              (r->merge_with[0] && add_merge(o, r));
    return finish_json(o, bad);
}

/* The optional "parents", "split" and "merge" fields of a range znode. */
static int get_reshape(const char *what, const cJSON *o, zkv_range *out, char *err, size_t errlen)
{
    const cJSON *parents = cJSON_GetObjectItemCaseSensitive(o, "parents");
    if (parents) {
        if (!cJSON_IsArray(parents) || cJSON_GetArraySize(parents) > 2)
            return fail(err, errlen, "%s: field 'parents' is not an array of at most 2", what);
        const cJSON *p;
        cJSON_ArrayForEach(p, parents)
        {
            zkv_range_parent *d = &out->parents[out->n_parents++];
            if (get_id(what, p, "id", d->id, false, err, errlen) != 0 ||
                get_u64(what, p, "epoch", &d->epoch, err, errlen) != 0 ||
                get_u64(what, p, "seq", &d->seq, err, errlen) != 0)
                return -1;
        }
    }
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(o, "split");
    if (sp) {
        int n = 0;
        if (!cJSON_IsObject(sp))
            return fail(err, errlen, "%s: field 'split' is not an object", what);
        const cJSON *ids = cJSON_GetObjectItemCaseSensitive(sp, "ids");
        if (cJSON_IsArray(ids) && cJSON_GetArraySize(ids) != 2)
            return fail(err, errlen, "%s: field 'split' needs two ids", what);
        if (get_key(what, sp, "key", &out->split_key, &out->split_key_len, err, errlen) != 0 ||
            get_ids_max(what, sp, "ids", out->split_ids, 2, &n, err, errlen) != 0)
            return -1;
        if (n != 2 || !zkv_id_valid(out->split_ids[0]) || !zkv_id_valid(out->split_ids[1]))
            return fail(err, errlen, "%s: field 'split' needs two ids", what);
        out->split_asked = true;
    }
    const cJSON *mg = cJSON_GetObjectItemCaseSensitive(o, "merge");
    if (mg && !cJSON_IsObject(mg))
        return fail(err, errlen, "%s: field 'merge' is not an object", what);
    if (mg && (get_id(what, mg, "with", out->merge_with, false, err, errlen) != 0 ||
               get_id(what, mg, "id", out->merge_id, false, err, errlen) != 0))
        return -1;
    return 0;
}

int zkv_range_from_json(const char *json, size_t len, zkv_range *out, char *err, size_t errlen)
{
    static const char what[] = "range znode";
    memset(out, 0, sizeof *out);
    out->zversion = -1;
    cJSON *o = parse_object(what, json, len, err, errlen);
    if (!o)
        return -1;
    int rc = -1;
    if (get_id(what, o, "id", out->id, false, err, errlen) == 0 &&
        get_key(what, o, "start", &out->start, &out->start_len, err, errlen) == 0 &&
        get_key(what, o, "end", &out->end, &out->end_len, err, errlen) == 0 &&
        get_id(what, o, "owner", out->owner, true, err, errlen) == 0 &&
        get_ids(what, o, "replicas", out->replicas, &out->n_replicas, err, errlen) == 0 &&
        get_ids(what, o, "in_sync", out->in_sync, &out->n_in_sync, err, errlen) == 0 &&
        get_u64(what, o, "epoch", &out->epoch, err, errlen) == 0 &&
        (!cJSON_GetObjectItemCaseSensitive(o, "handoff") ||
         get_id(what, o, "handoff", out->handoff, true, err, errlen) == 0) &&
        (!cJSON_GetObjectItemCaseSensitive(o, "leaving") ||
         get_id(what, o, "leaving", out->leaving, true, err, errlen) == 0) &&
        get_reshape(what, o, out, err, errlen) == 0) {
        if (out->start_len && out->end_len &&
            zkv_key_cmp(out->start, out->start_len, out->end, out->end_len) >= 0)
            fail(err, errlen, "%s: range '%s' has start >= end", what, out->id);
        else
            rc = 0;
    }
    cJSON_Delete(o);
    if (rc != 0) {
        zkv_range_clear(out);
        out->zversion = -1;
    }
    return rc;
}

/* ---- operations ---------------------------------------------------------------------- */

static const char *const OP_NAMES[] = {NULL,           "move",  "drain", "undrain",
                                       "set-replicas", "split", "merge"};

void zkv_op_init(zkv_op *op, zkv_op_kind kind, uint64_t now_wall_ms)
{
    memset(op, 0, sizeof(*op));
    op->kind = kind;
    snprintf(op->step, sizeof(op->step), "start");
    zkv_iso8601(now_wall_ms, op->created, sizeof(op->created));
    memcpy(op->updated, op->created, sizeof(op->updated));
    op->updated_ms = now_wall_ms;
}

const char *zkv_op_kind_name(zkv_op_kind k)
{
    return (int)k > 0 && (size_t)k < sizeof(OP_NAMES) / sizeof(OP_NAMES[0]) ? OP_NAMES[k] : NULL;
}

zkv_op_kind zkv_op_kind_parse(const char *name)
{
    for (size_t k = 1; name && k < sizeof(OP_NAMES) / sizeof(OP_NAMES[0]); k++)
        if (strcmp(OP_NAMES[k], name) == 0)
            return (zkv_op_kind)k;
    return ZKV_OP_NONE;
}

int zkv_op_check(const zkv_op *op, char *err, size_t errlen)
{
    switch (op->kind) {
    case ZKV_OP_MOVE:
        if (!zkv_id_valid(op->range))
            return fail(err, errlen, "move: bad range id '%s'", op->range);
        if (!zkv_id_valid(op->node))
            return fail(err, errlen, "move: bad node id '%s'", op->node);
        return 0;
    case ZKV_OP_SPLIT:
        if (!zkv_id_valid(op->range))
            return fail(err, errlen, "split: bad range id '%s'", op->range);
        if (op->key_len > ZKV_OP_KEY_MAX)
            return fail(err, errlen, "split: the key is longer than %d bytes", ZKV_OP_KEY_MAX);
        return 0;
    case ZKV_OP_MERGE:
        if (!zkv_id_valid(op->range))
            return fail(err, errlen, "merge: bad range id '%s'", op->range);
        return 0;
    case ZKV_OP_DRAIN:
    case ZKV_OP_UNDRAIN:
        if (!zkv_id_valid(op->node))
            return fail(err, errlen, "%s: bad node id '%s'", zkv_op_kind_name(op->kind), op->node);
        return 0;
    case ZKV_OP_SET_REPLICAS:
        if (op->replicas < 1 || op->replicas > ZKV_MAX_REPLICAS + 1)
            return fail(err, errlen, "set-replicas: %d is not in 1..%d", op->replicas,
                        ZKV_MAX_REPLICAS + 1);
        return 0;
    case ZKV_OP_NONE:
    default:
        return fail(err, errlen, "unknown operation kind");
    }
}

char *zkv_op_to_json(const zkv_op *op)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    const char *kind = zkv_op_kind_name(op->kind);
    cJSON *args = cJSON_CreateObject();
    int bad = !kind || !args || !cJSON_AddItemToObject(o, "kind", cJSON_CreateString(kind));
    if (!bad && !cJSON_AddItemToObject(o, "args", args)) {
        cJSON_Delete(args);
        bad = 1;
    } else if (bad) {
        cJSON_Delete(args);
    }
    if (!bad) {
        bad = (op->range[0] && add_str(args, "range", op->range)) ||
              (op->node[0] && add_str(args, "node", op->node)) ||
              (op->kind == ZKV_OP_SET_REPLICAS &&
               add_u64(args, "replicas", (uint64_t)op->replicas)) ||
              (op->key_len && add_key(args, "key", op->key, op->key_len)) ||
              add_str(o, "step", op->step) || add_str(o, "created", op->created) ||
              add_str(o, "updated", op->updated) || add_u64(o, "updated_ms", op->updated_ms) ||
              add_u64(o, "attempts", (uint64_t)(op->attempts < 0 ? 0 : op->attempts)) ||
              (op->error[0] && add_str(o, "error", op->error));
    }
    return finish_json(o, bad);
}

/* An optional string field into out ("" when absent). */
static int get_opt_str(const char *what, const cJSON *obj, const char *name, char *out,
                       size_t outlen, char *err, size_t errlen)
{
    out[0] = '\0';
    if (!cJSON_GetObjectItemCaseSensitive(obj, name))
        return 0;
    return get_str(what, obj, name, out, outlen, err, errlen);
}

int zkv_op_from_json(const char *json, size_t len, zkv_op *out, char *err, size_t errlen)
{
    static const char what[] = "operation znode";
    memset(out, 0, sizeof(*out));
    cJSON *o = parse_object(what, json, len, err, errlen);
    if (!o)
        return -1;
    int rc = -1;
    char kind[32];
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(o, "args");
    double updated_ms = 0, attempts = 0, replicas = 0;
    if (get_str(what, o, "kind", kind, sizeof(kind), err, errlen) != 0)
        goto out;
    out->kind = zkv_op_kind_parse(kind);
    if (out->kind == ZKV_OP_NONE) {
        fail(err, errlen, "%s: unknown kind '%s'", what, kind);
        goto out;
    }
    if (!cJSON_IsObject(args)) {
        fail(err, errlen, "%s: field 'args' is not an object", what);
        goto out;
    }
    if (get_opt_str(what, args, "range", out->range, sizeof(out->range), err, errlen) != 0 ||
        get_opt_str(what, args, "node", out->node, sizeof(out->node), err, errlen) != 0 ||
        (cJSON_GetObjectItemCaseSensitive(args, "replicas") &&
         get_num(what, args, "replicas", 0, 1000, &replicas, err, errlen) != 0) ||
        get_str(what, o, "step", out->step, sizeof(out->step), err, errlen) != 0 ||
        get_opt_str(what, o, "created", out->created, sizeof(out->created), err, errlen) != 0 ||
        get_opt_str(what, o, "updated", out->updated, sizeof(out->updated), err, errlen) != 0 ||
        get_opt_str(what, o, "error", out->error, sizeof(out->error), err, errlen) != 0 ||
        (cJSON_GetObjectItemCaseSensitive(o, "updated_ms") &&
         get_num(what, o, "updated_ms", 0, MAX_SAFE_INT, &updated_ms, err, errlen) != 0) ||
        (cJSON_GetObjectItemCaseSensitive(o, "attempts") &&
         get_num(what, o, "attempts", 0, 1000000, &attempts, err, errlen) != 0))
        goto out;
    if (cJSON_GetObjectItemCaseSensitive(args, "key")) {
        uint8_t *key = NULL;
        size_t klen = 0;
        if (get_key(what, args, "key", &key, &klen, err, errlen) != 0)
            goto out;
        if (klen > ZKV_OP_KEY_MAX) {
            free(key);
            fail(err, errlen, "%s: the key is longer than %d bytes", what, ZKV_OP_KEY_MAX);
            goto out;
        }
        if (klen)
            memcpy(out->key, key, klen);
        out->key_len = klen;
        free(key);
    }
    out->replicas = (int)replicas;
    out->updated_ms = (uint64_t)updated_ms;
    out->attempts = (int)attempts;
    rc = zkv_op_check(out, err, errlen);
out:
    cJSON_Delete(o);
    return rc;
}

/* ---- a node's range report ---------------------------------------------------------- */

int zkv_stats_parse(const char *json, size_t len, zkv_stats_fn fn, void *ctx)
{
    cJSON *doc = cJSON_ParseWithLength(json, len);
    const cJSON *ranges = doc ? cJSON_GetObjectItemCaseSensitive(doc, "ranges") : NULL;
    if (!cJSON_IsArray(ranges)) {
        cJSON_Delete(doc);
        return -1;
    }
    int n = 0;
    const cJSON *r;
    cJSON_ArrayForEach(r, ranges)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(r, "id");
        const cJSON *bytes = cJSON_GetObjectItemCaseSensitive(r, "bytes");
        const cJSON *wps = cJSON_GetObjectItemCaseSensitive(r, "writes_per_s");
        if (!cJSON_IsString(id) || !cJSON_IsNumber(bytes) || !cJSON_IsNumber(wps))
            continue;
        fn(ctx, id->valuestring, bytes->valuedouble, wps->valuedouble);
        n++;
    }
    cJSON_Delete(doc);
    return n;
}

/* ---- map version --------------------------------------------------------------------- */

char *zkv_mapver_to_json(int64_t version)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    int bad = add_u64(o, "version", version < 0 ? 0 : (uint64_t)version);
    return finish_json(o, bad);
}

int zkv_mapver_from_json(const char *json, size_t len, int64_t *version, char *err, size_t errlen)
{
    static const char what[] = "map znode";
    cJSON *o = parse_object(what, json, len, err, errlen);
    if (!o)
        return -1;
    double v = 0;
    int rc = get_num(what, o, "version", 0, MAX_SAFE_INT, &v, err, errlen);
    if (rc == 0)
        *version = (int64_t)v;
    cJSON_Delete(o);
    return rc;
}
