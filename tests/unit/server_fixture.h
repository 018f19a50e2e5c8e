/* server_fixture.h: the fixture shared by the unit tests that drive server/dispatch.c
 * without sockets (test_server_dispatch.c, test_server_replica.c): a real store in a temp
 * dir, the test file's hand-made map, a reply buffer, and the dispatch environment of
 * node-1 in cluster "test" (id "cid-1"). One fixture per test program: include it once. */
#ifndef ZKV_TEST_SERVER_FIXTURE_H
#define ZKV_TEST_SERVER_FIXTURE_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"

static char dir[64];
static char err[256];
static zkv_store *store;
static zkv_rangemap *map;
static zkv_reply reply;

/* Suite setup: opens a store under a new /tmp/zkv-test-<name>-XXXXXX and sets map to
 * make_map() (which makes no assertions: it runs in the suite setup). Returns 0 or -1. */
static inline int fixture_setup(const char *name, zkv_rangemap *(*make_map)(void))
{
    snprintf(dir, sizeof(dir), "/tmp/zkv-test-%s-XXXXXX", name);
    if (!mkdtemp(dir))
        return -1;
    char db[128];
    snprintf(db, sizeof(db), "%s/db", dir);
    if (zkv_store_open(db, &store, err, sizeof(err)) != 0)
        return -1;
    map = make_map();
    zkv_reply_init(&reply);
    return map ? 0 : -1;
}

/* Suite teardown: frees the reply and the map, closes the store, removes the temp dir. */
static inline int teardown(void)
{
    zkv_reply_free(&reply);
    zkv_rangemap_free(map);
    zkv_store_close(store);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* The dispatch environment of node-1 over store and map: keys up to 4096 bytes, values up
 * to max_value. */
static inline zkv_dispatch_env fixture_env(size_t max_value)
{
    zkv_dispatch_env e = {.store = store,
                          .map = map,
                          .node_id = "node-1",
                          .cluster_name = "test",
                          .cluster_id = "cid-1",
                          .max_key = 4096,
                          .max_value = max_value};
    return e;
}

#endif
