/* election.c: leader election over coordinator/ (see election.h).
 *
 * Joining: a create that got no answer (connection loss) may still have happened, and
 * an orphan znode of our own session would stay ahead of us until the session ends. So
 * before creating, we look for a child whose ephemeralOwner is our session and adopt it.
 * Deciding: list the children; the lowest sequence leads; otherwise set a watch on the
 * next lower one with zoo_wexists. If it vanished between the listing and the exists
 * call (ZNONODE), list again. The leader also watches its own znode, so an operator
 * deleting it makes this coordinator step down and join again at the back. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "election.h"
#include "common/log.h"
#include "common/util.h"
#include "common/zk.h"

#define SEQ_PREFIX "c-"

long long zkv_election_seq(const char *name)
{
    size_t plen = strlen(SEQ_PREFIX);
    if (strncmp(name, SEQ_PREFIX, plen) != 0 || name[plen] == '\0')
        return -1;
    long long v = 0;
    for (const char *p = name + plen; *p; p++) {
        if (*p < '0' || *p > '9' || v > (1LL << 40))
            return -1;
        v = v * 10 + (*p - '0');
    }
    return v;
}

int zkv_election_predecessor(const char *const *children, int n, const char *mine)
{
    long long my_seq = -1;
    for (int i = 0; i < n; i++)
        if (strcmp(children[i], mine) == 0)
            my_seq = zkv_election_seq(mine);
    if (my_seq < 0)
        return -2;
    int best = -1;
    long long best_seq = -1;
    for (int i = 0; i < n; i++) {
        long long s = zkv_election_seq(children[i]);
        if (s >= 0 && s < my_seq && s > best_seq) {
            best = i;
            best_seq = s;
        }
    }
    return best;
}

static void child_path(const zkv_coord *c, const char *child, char *out)
{
    zkv_path(out, ZKV_PATH_MAX, c->cfg.cluster, ZKV_PATH_COORDINATOR, child);
}

static char *my_data(const zkv_coord *c)
{
    char host[256] = "";
    if (gethostname(host, sizeof(host) - 1) != 0)
        snprintf(host, sizeof(host), "unknown");
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    char *json = NULL;
    if (cJSON_AddStringToObject(o, "id", c->cfg.id) &&
        cJSON_AddNumberToObject(o, "pid", (double)getpid()) &&
        cJSON_AddStringToObject(o, "host", host))
        json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return json;
}

/* Finds a child of coordinator/ owned by our session (a create whose answer was lost). */
static int find_own(zkv_coord *c, char *name, size_t namelen)
{
    char dir[ZKV_PATH_MAX], path[ZKV_PATH_MAX];
    struct String_vector sv = {0};
    child_path(c, NULL, dir);
    int rc = zoo_get_children(c->zh, dir, 0, &sv);
    if (rc != ZOK)
        return rc;
    const clientid_t *me = zoo_client_id(c->zh);
    name[0] = '\0';
    for (int i = 0; i < sv.count && me; i++) {
        struct Stat st;
        child_path(c, sv.data[i], path);
        if (zoo_exists(c->zh, path, 0, &st) == ZOK && st.ephemeralOwner == me->client_id &&
            zkv_election_seq(sv.data[i]) >= 0) {
            snprintf(name, namelen, "%s", sv.data[i]);
            break;
        }
    }
    deallocate_String_vector(&sv);
    return ZOK;
}

static int join(zkv_coord *c)
{
    char name[sizeof(c->my_znode)];
    int rc = find_own(c, name, sizeof(name));
    if (rc != ZOK)
        return rc;
    if (name[0] != '\0') {
        snprintf(c->my_znode, sizeof(c->my_znode), "%s", name);
        ZKV_INFO("joined election as %s (found our own znode)", c->my_znode);
        return ZOK;
    }
    char prefix[ZKV_PATH_MAX], created[ZKV_PATH_MAX] = "";
    child_path(c, SEQ_PREFIX, prefix);
    char *data = my_data(c);
    if (!data)
        return ZSYSTEMERROR;
    rc = zoo_create(c->zh, prefix, data, (int)strlen(data), zkv_zk_acl(c->zh),
                    ZOO_EPHEMERAL_SEQUENTIAL, created, (int)sizeof(created));
    free(data);
    if (rc != ZOK)
        return rc;
    const char *slash = strrchr(created, '/');
    /* A sequential name is "c-" and 10 digits; the precision only bounds the copy. */
    _Static_assert(sizeof(c->my_znode) == 64, "my_znode size matches the %.63s below");
    snprintf(c->my_znode, sizeof(c->my_znode), "%.63s", slash ? slash + 1 : created);
    ZKV_INFO("joined election as %s (id %s)", c->my_znode, c->cfg.id);
    return ZOK;
}

void zkv_election_reset(zkv_coord *c, const char *reason)
{
    if (c->elect == ZKV_ELECT_LEADING)
        ZKV_INFO("stepping down: %s", reason);
    c->elect = ZKV_ELECT_NONE;
    c->my_znode[0] = '\0';
    c->predecessor[0] = '\0';
    c->summary.valid = false; /* a standby shows no cluster figures */
}

static void become_leader(zkv_coord *c)
{
    if (c->elect == ZKV_ELECT_LEADING)
        return;
    ZKV_INFO("leading (%s, id %s)", c->my_znode, c->cfg.id);
    c->elect = ZKV_ELECT_LEADING;
    c->predecessor[0] = '\0';
    c->next_reconcile_ms = 0; /* reconcile at once */
    c->retry_at_ms = 0;
    c->conflicts = 0;
    c->waiting_logged = (size_t)-1;
    free(c->read_only_logged); /* a new leader states the read-only ranges afresh */
    c->read_only_logged = NULL;
}

static void become_standby(zkv_coord *c, const char *pred)
{
    if (c->elect == ZKV_ELECT_LEADING)
        ZKV_INFO("stepping down: %s precedes %s", pred, c->my_znode);
    if (c->elect != ZKV_ELECT_STANDBY || strcmp(c->predecessor, pred) != 0)
        ZKV_INFO("standing by behind %s (we are %s)", pred, c->my_znode);
    c->elect = ZKV_ELECT_STANDBY;
    snprintf(c->predecessor, sizeof(c->predecessor), "%s", pred);
}

int zkv_election_step(zkv_coord *c)
{
    char dir[ZKV_PATH_MAX], path[ZKV_PATH_MAX];
    child_path(c, NULL, dir);
    /* Each round either decides or saw a znode vanish; bound the churn anyway. */
    for (int round = 0; round < 32; round++) {
        if (c->my_znode[0] == '\0') {
            int rc = join(c);
            if (rc != ZOK)
                return rc;
        }
        struct String_vector sv = {0};
        int rc = zoo_get_children(c->zh, dir, 0, &sv);
        if (rc != ZOK)
            return rc;
        int idx = zkv_election_predecessor((const char *const *)sv.data, sv.count, c->my_znode);
        char pred[sizeof(c->predecessor)] = "";
        if (idx >= 0)
            snprintf(pred, sizeof(pred), "%s", sv.data[idx]);
        deallocate_String_vector(&sv);

        if (idx == -2) {
            ZKV_WARN("election znode %s is gone; joining again", c->my_znode);
            zkv_election_reset(c, "our election znode was deleted");
            continue;
        }
        struct Stat st;
        child_path(c, idx == -1 ? c->my_znode : pred, path);
        rc = zoo_wexists(c->zh, path, zkv_coord_election_watcher, c, &st);
        if (rc == ZNONODE)
            continue; /* vanished since the listing: decide again */
        if (rc != ZOK)
            return rc;
        if (idx == -1)
            become_leader(c);
        else
            become_standby(c, pred);
        return ZOK;
    }
    return ZOPERATIONTIMEOUT;
}
