/* zkclient.c: the harness's ZooKeeper session and its reading of a cluster's layout
 * (consistent map snapshots, live nodes, coordinator children), plus the one write a test
 * makes as a coordinator would: a conditional owner change bumping the map. Written
 * against the ZooKeeper C client and cJSON directly, not against zkv_common. */
#include "zkt/zkclient.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "zkt/util.h"
#include "zkt/wait.h"

#define ZKT_ZNODE_MAX (1024 * 1024)

struct zkt_zkc {
    zhandle_t *zh;
};

static void session_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)type;
    (void)state;
    (void)path;
    (void)ctx;
}

static bool connected(void *p)
{
    return zoo_state((zhandle_t *)p) == ZOO_CONNECTED_STATE;
}

zkt_zkc *zkt_zkc_connect(const char *connect, int timeout_ms)
{
    static bool quiet;
    if (!quiet) {
        zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
        quiet = true;
    }
    zkt_zkc *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->zh = zookeeper_init(connect, session_watcher, 30000, NULL, NULL, 0);
    if (!c->zh || !zkt_wait_for(connected, c->zh, timeout_ms)) {
        zkt_log("harness: no ZooKeeper session with %s within %d ms", connect, timeout_ms);
        zkt_zkc_close(c);
        return NULL;
    }
    return c;
}

void zkt_zkc_close(zkt_zkc *c)
{
    if (!c)
        return;
    if (c->zh)
        zookeeper_close(c->zh);
    free(c);
}

zhandle_t *zkt_zkc_handle(zkt_zkc *c)
{
    return c->zh;
}

char *zkt_zkc_get(zkt_zkc *c, const char *path, int *version, int *rc)
{
    struct Stat st;
    char *buf = zkt_zkc_get_stat(c, path, &st, rc);
    if (buf && version)
        *version = st.version;
    return buf;
}

char *zkt_zkc_get_stat(zkt_zkc *c, const char *path, struct Stat *st, int *rc)
{
    char *buf = malloc(ZKT_ZNODE_MAX + 1);
    if (!buf)
        return NULL;
    int len = ZKT_ZNODE_MAX;
    int r = zoo_get(c->zh, path, 0, buf, &len, st);
    if (rc)
        *rc = r;
    if (r != ZOK) {
        free(buf);
        return NULL;
    }
    if (len < 0)
        len = 0;
    buf[len] = '\0';
    return buf;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int zkt_zkc_children(zkt_zkc *c, const char *path, char ***names, int *n)
{
    struct String_vector sv = {0, NULL};
    *names = NULL;
    *n = 0;
    int rc = zoo_get_children(c->zh, path, 0, &sv);
    if (rc != ZOK)
        return rc;
    char **v = calloc((size_t)sv.count + 1, sizeof *v);
    if (!v) {
        deallocate_String_vector(&sv);
        return ZSYSTEMERROR;
    }
    for (int i = 0; i < sv.count; i++)
        v[i] = strdup(sv.data[i]);
    qsort(v, (size_t)sv.count, sizeof *v, cmp_str);
    *names = v;
    *n = sv.count;
    deallocate_String_vector(&sv);
    return ZOK;
}

void zkt_strv_free(char **v, int n)
{
    if (!v)
        return;
    for (int i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* --- keys ------------------------------------------------------------------------------ */

int zkt_key_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

long zkt_key_unescape(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    while (*s) {
        if (n >= cap)
            return -1;
        if (*s != '\\') {
            out[n++] = (uint8_t)*s++;
            continue;
        }
        if (s[1] == '\\') {
            out[n++] = '\\';
            s += 2;
        } else if (s[1] == 'x' && hexval(s[2]) >= 0 && hexval(s[3]) >= 0) {
            out[n++] = (uint8_t)(hexval(s[2]) * 16 + hexval(s[3]));
            s += 4;
        } else {
            return -1;
        }
    }
    return (long)n;
}

/* --- map snapshot ----------------------------------------------------------------------- */

static const char *jstr(const cJSON *o, const char *name)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(it) ? it->valuestring : NULL;
}

static int id_list(const cJSON *o, const char *name, char out[][ZKT_ID_MAX], int *n)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, name);
    *n = 0;
    if (!cJSON_IsArray(arr))
        return -1;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        if (!cJSON_IsString(it) || *n >= ZKT_MAX_REPL)
            return -1;
        snprintf(out[(*n)++], ZKT_ID_MAX, "%s", it->valuestring);
    }
    return 0;
}

static int parse_range(const char *json, zkt_map_range *r)
{
    cJSON *o = cJSON_Parse(json);
    if (!o)
        return -1;
    int rc = -1;
    const char *id = jstr(o, "id"), *start = jstr(o, "start"), *end = jstr(o, "end"),
               *owner = jstr(o, "owner");
    const cJSON *epoch = cJSON_GetObjectItemCaseSensitive(o, "epoch");
    if (!id || !start || !end || !owner || !cJSON_IsNumber(epoch))
        goto out;
    snprintf(r->id, sizeof r->id, "%s", id);
    snprintf(r->owner, sizeof r->owner, "%s", owner);
    long sl = zkt_key_unescape(start, r->start, sizeof r->start);
    long el = zkt_key_unescape(end, r->end, sizeof r->end);
    if (sl < 0 || el < 0)
        goto out;
    r->start_len = (size_t)sl;
    r->end_len = (size_t)el;
    r->epoch = (uint64_t)epoch->valuedouble;
    const char *handoff = jstr(o, "handoff");
    snprintf(r->handoff, sizeof r->handoff, "%s", handoff ? handoff : "");
    if (id_list(o, "replicas", r->replicas, &r->n_replicas) != 0 ||
        id_list(o, "in_sync", r->in_sync, &r->n_in_sync) != 0)
        goto out;
    rc = 0;
out:
    cJSON_Delete(o);
    return rc;
}

static int parse_node(const char *json, zkt_map_node *n)
{
    cJSON *o = cJSON_Parse(json);
    if (!o)
        return -1;
    const char *id = jstr(o, "id"), *addr = jstr(o, "addr");
    const cJSON *inc = cJSON_GetObjectItemCaseSensitive(o, "incarnation");
    int rc = -1;
    if (id && addr && cJSON_IsNumber(inc)) {
        snprintf(n->id, sizeof n->id, "%s", id);
        snprintf(n->addr, sizeof n->addr, "%s", addr);
        n->incarnation = (uint64_t)inc->valuedouble;
        rc = 0;
    }
    cJSON_Delete(o);
    return rc;
}

static int read_mapver(zkt_zkc *c, const char *cluster, int64_t *ver, int *zver)
{
    char path[512];
    snprintf(path, sizeof path, "/zkv/%s/map", cluster);
    char *data = zkt_zkc_get(c, path, zver, NULL);
    if (!data)
        return -1;
    cJSON *o = cJSON_Parse(data);
    const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, "version") : NULL;
    int rc = -1;
    if (cJSON_IsNumber(v)) {
        *ver = (int64_t)v->valuedouble;
        rc = 0;
    }
    cJSON_Delete(o);
    free(data);
    return rc;
}

static int cmp_range(const void *a, const void *b)
{
    const zkt_map_range *x = a, *y = b;
    return zkt_key_cmp(x->start, x->start_len, y->start, y->start_len);
}

static void free_jsons(zkt_map *m)
{
    for (int i = 0; i < m->n_ranges; i++) {
        free(m->ranges[i].json);
        m->ranges[i].json = NULL;
    }
}

static int read_once(zkt_zkc *c, const char *cluster, zkt_map *m)
{
    char path[512];
    int64_t v2;
    int zv2;
    if (read_mapver(c, cluster, &m->version, &m->map_zversion) != 0)
        return -1;
    snprintf(path, sizeof path, "/zkv/%s/cluster", cluster);
    char *cj = zkt_zkc_get(c, path, NULL, NULL);
    if (cj) {
        cJSON *o = cJSON_Parse(cj);
        const char *id = o ? jstr(o, "cluster_id") : NULL;
        snprintf(m->cluster_id, sizeof m->cluster_id, "%s", id ? id : "");
        cJSON_Delete(o);
        free(cj);
    }
    char **names;
    int n;
    snprintf(path, sizeof path, "/zkv/%s/ranges", cluster);
    if (zkt_zkc_children(c, path, &names, &n) != ZOK)
        return -1;
    int rc = 0;
    for (int i = 0; i < n && i < ZKT_MAX_RANGES && rc == 0; i++) {
        zkt_map_range *r = &m->ranges[m->n_ranges];
        memset(r, 0, sizeof *r);
        snprintf(path, sizeof path, "/zkv/%s/ranges/%s", cluster, names[i]);
        r->json = zkt_zkc_get(c, path, &r->zversion, NULL);
        m->n_ranges++;
        if (!r->json || parse_range(r->json, r) != 0) {
            zkt_log("harness: cannot read range %s: %s", path, r->json ? r->json : "(missing)");
            rc = -1;
        }
    }
    zkt_strv_free(names, n);
    if (rc != 0)
        return -1;
    qsort(m->ranges, (size_t)m->n_ranges, sizeof m->ranges[0], cmp_range);
    snprintf(path, sizeof path, "/zkv/%s/nodes", cluster);
    if (zkt_zkc_children(c, path, &names, &n) != ZOK)
        return -1;
    for (int i = 0; i < n && m->n_nodes < ZKT_MAX_NODES; i++) {
        int grc;
        snprintf(path, sizeof path, "/zkv/%s/nodes/%s", cluster, names[i]);
        char *nj = zkt_zkc_get(c, path, NULL, &grc);
        if (!nj)
            continue; /* gone between listing and reading: not live */
        if (parse_node(nj, &m->nodes[m->n_nodes]) == 0)
            m->n_nodes++;
        else
            zkt_log("harness: bad node znode %s: %s", path, nj);
        free(nj);
    }
    zkt_strv_free(names, n);
    if (read_mapver(c, cluster, &v2, &zv2) != 0)
        return -1;
    return zv2 == m->map_zversion ? 0 : 1;
}

int zkt_map_read(zkt_zkc *c, const char *cluster, zkt_map **out)
{
    *out = NULL;
    zkt_map *m = malloc(sizeof *m);
    if (!m)
        return -1;
    for (int attempt = 0; attempt < 50; attempt++) {
        memset(m, 0, sizeof *m);
        int rc = read_once(c, cluster, m);
        if (rc == 0) {
            *out = m;
            return 0;
        }
        free_jsons(m);
        if (rc < 0)
            break;
    }
    free(m);
    return -1;
}

void zkt_map_free(zkt_map *m)
{
    if (!m)
        return;
    free_jsons(m);
    free(m);
}

const zkt_map_range *zkt_map_find(const zkt_map *m, const void *key, size_t klen)
{
    for (int i = 0; i < m->n_ranges; i++) {
        const zkt_map_range *r = &m->ranges[i];
        if (r->start_len && zkt_key_cmp(key, klen, r->start, r->start_len) < 0)
            continue;
        if (r->end_len && zkt_key_cmp(key, klen, r->end, r->end_len) >= 0)
            continue;
        return r;
    }
    return NULL;
}

const zkt_map_range *zkt_map_range_by_id(const zkt_map *m, const char *id)
{
    for (int i = 0; i < m->n_ranges; i++)
        if (strcmp(m->ranges[i].id, id) == 0)
            return &m->ranges[i];
    return NULL;
}

const zkt_map_node *zkt_map_node_by_id(const zkt_map *m, const char *id)
{
    for (int i = 0; i < m->n_nodes; i++)
        if (strcmp(m->nodes[i].id, id) == 0)
            return &m->nodes[i];
    return NULL;
}

bool zkt_range_has_replica(const zkt_map_range *r, const char *id)
{
    if (strcmp(r->owner, id) == 0)
        return true;
    for (int i = 0; i < r->n_replicas; i++)
        if (strcmp(r->replicas[i], id) == 0)
            return true;
    return false;
}

bool zkt_range_in_sync(const zkt_map_range *r, const char *id)
{
    for (int i = 0; i < r->n_in_sync; i++)
        if (strcmp(r->in_sync[i], id) == 0)
            return true;
    return false;
}

static bool listed(const char ids[][ZKT_ID_MAX], int n, const char *id)
{
    for (int i = 0; i < n; i++)
        if (strcmp(ids[i], id) == 0)
            return true;
    return false;
}

bool zkt_range_sane(const zkt_map_range *r, int max_replicas, char *why, size_t whylen)
{
    why[0] = '\0';
    if (listed(r->replicas, r->n_replicas, r->owner) && r->owner[0])
        snprintf(why, whylen, "%s: owner %s is listed in replicas", r->id, r->owner);
    else if (listed(r->in_sync, r->n_in_sync, r->owner) && r->owner[0])
        snprintf(why, whylen, "%s: owner %s is listed in in_sync", r->id, r->owner);
    else if (max_replicas > 0 && r->n_replicas > max_replicas)
        snprintf(why, whylen, "%s: %d replicas (at most %d)", r->id, r->n_replicas, max_replicas);
    for (int i = 0; !why[0] && i < r->n_replicas; i++)
        if (listed(r->replicas, i, r->replicas[i]))
            snprintf(why, whylen, "%s: %s twice in replicas", r->id, r->replicas[i]);
    for (int i = 0; !why[0] && i < r->n_in_sync; i++) {
        if (listed(r->in_sync, i, r->in_sync[i]))
            snprintf(why, whylen, "%s: %s twice in in_sync", r->id, r->in_sync[i]);
        else if (!listed(r->replicas, r->n_replicas, r->in_sync[i]))
            snprintf(why, whylen, "%s: in_sync %s is not in replicas", r->id, r->in_sync[i]);
    }
    return why[0] == '\0';
}

int zkt_map_owned_by(const zkt_map *m, const char *id)
{
    int n = 0;
    for (int i = 0; i < m->n_ranges; i++)
        n += strcmp(m->ranges[i].owner, id) == 0;
    return n;
}

bool zkt_map_all_owned(const zkt_map *m, int n_ranges)
{
    if (m->n_ranges != n_ranges)
        return false;
    for (int i = 0; i < m->n_ranges; i++)
        if (!m->ranges[i].owner[0] || !zkt_map_node_by_id(m, m->ranges[i].owner))
            return false;
    return true;
}

/* --- the coordinator's owner change ------------------------------------------------------- */

static cJSON *id_array_without(const char ids[][ZKT_ID_MAX], int n, const char *drop,
                               const char *replace_with, bool append_if_absent)
{
    cJSON *arr = cJSON_CreateArray();
    bool replaced = false;
    for (int i = 0; i < n; i++) {
        if (strcmp(ids[i], drop) == 0) {
            if (replace_with && replace_with[0]) {
                cJSON_AddItemToArray(arr, cJSON_CreateString(replace_with));
                replaced = true;
            }
            continue;
        }
        if (replace_with && strcmp(ids[i], replace_with) == 0)
            replaced = true; /* already listed */
        cJSON_AddItemToArray(arr, cJSON_CreateString(ids[i]));
    }
    if (append_if_absent && !replaced && replace_with && replace_with[0])
        cJSON_AddItemToArray(arr, cJSON_CreateString(replace_with));
    return arr;
}

/* Writes range r of m as o says (o is consumed), with map version + 1, in one conditional
 * multi; what names the change for the log. */
static int write_range(zkt_zkc *c, const char *cluster, const zkt_map *m, const zkt_map_range *r,
                       cJSON *o, const char *what, int64_t *new_version)
{
    char *range_json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!range_json)
        return ZMARSHALLINGERROR;
    char map_json[64];
    snprintf(map_json, sizeof map_json, "{\"version\":%lld}", (long long)(m->version + 1));
    char range_path[512], map_path[512];
    snprintf(range_path, sizeof range_path, "/zkv/%s/ranges/%s", cluster, r->id);
    snprintf(map_path, sizeof map_path, "/zkv/%s/map", cluster);
    zoo_op_t ops[2];
    zoo_op_result_t results[2];
    struct Stat st[2];
    zoo_set_op_init(&ops[0], range_path, range_json, (int)strlen(range_json), r->zversion, &st[0]);
    zoo_set_op_init(&ops[1], map_path, map_json, (int)strlen(map_json), m->map_zversion, &st[1]);
    int rc = zoo_multi(c->zh, 2, ops, results);
    zkt_log("harness: %s %s, map %lld -> %lld: %s (%s)", what, r->id, (long long)m->version,
            (long long)(m->version + 1), zerror(rc), range_json);
    free(range_json);
    if (rc == ZOK && new_version)
        *new_version = m->version + 1;
    return rc;
}

int zkt_map_move_owner(zkt_zkc *c, const char *cluster, const zkt_map *m, const char *range_id,
                       const char *new_owner, int64_t *new_version)
{
    const zkt_map_range *r = zkt_map_range_by_id(m, range_id);
    if (!r || !r->json)
        return ZNONODE;
    cJSON *o = cJSON_Parse(r->json);
    if (!o)
        return ZMARSHALLINGERROR;
    cJSON_ReplaceItemInObjectCaseSensitive(o, "owner", cJSON_CreateString(new_owner));
    cJSON_ReplaceItemInObjectCaseSensitive(o, "epoch", cJSON_CreateNumber((double)(r->epoch + 1)));
    cJSON_ReplaceItemInObjectCaseSensitive(
        o, "replicas", id_array_without(r->replicas, r->n_replicas, new_owner, r->owner, true));
    cJSON_ReplaceItemInObjectCaseSensitive(
        o, "in_sync", id_array_without(r->in_sync, r->n_in_sync, new_owner, NULL, false));
    char what[160];
    snprintf(what, sizeof what, "move owner %s -> %s of", r->owner, new_owner);
    return write_range(c, cluster, m, r, o, what, new_version);
}

int zkt_map_ask_handoff(zkt_zkc *c, const char *cluster, const zkt_map *m, const char *range_id,
                        const char *target, int64_t *new_version)
{
    const zkt_map_range *r = zkt_map_range_by_id(m, range_id);
    if (!r || !r->json)
        return ZNONODE;
    cJSON *o = cJSON_Parse(r->json);
    if (!o)
        return ZMARSHALLINGERROR;
    cJSON_DeleteItemFromObjectCaseSensitive(o, "handoff");
    if (target && target[0])
        cJSON_AddStringToObject(o, "handoff", target);
    char what[160];
    snprintf(what, sizeof what, "ask %s to hand to %s", r->owner,
             target && target[0] ? target : "-");
    return write_range(c, cluster, m, r, o, what, new_version);
}
