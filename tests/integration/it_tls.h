/* it_tls.h: the TLS set-up the TLS integration tests share: the test CA of
 * scripts/test-ca.sh (its path in $ZKV_TEST_CA_SCRIPT) in the run's temp dir, its files by
 * name, a cluster's flags (every node and coordinator with the node certificate and the
 * CA, the nodes optionally requiring client certificates) and the libzkv client's
 * environment (ZKV_TLS_*: the CA and the client certificate). */
#ifndef ZKV_IT_TLS_H
#define ZKV_IT_TLS_H
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include "it_common.h"
#include "zkt/zkt.h"
#include "zkv/zkv.h"

static char it_tls_dir[PATH_MAX / 2];

/* Makes the test CA in the run's temp dir (it_tls_dir). 0 or -1. */
static inline int it_tls_make_ca(void)
{
    const char *script = getenv("ZKV_TEST_CA_SCRIPT");
    snprintf(it_tls_dir, sizeof(it_tls_dir), "%s/ca", zkt_tmpdir());
    char cmd[PATH_MAX * 2 + 32];
    snprintf(cmd, sizeof(cmd), "'%s' '%s' >/dev/null", script ? script : "scripts/test-ca.sh",
             it_tls_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* The path of the test CA's file name (one of the last 8 asked for stays valid). */
static inline const char *it_tls_file(const char *name)
{
    static char paths[8][PATH_MAX];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, PATH_MAX, "%s/%s", it_tls_dir, name);
    return p;
}

/* The test CA, cl's flags for TLS (with --tls-client-ca when client_ca) and the client
 * environment. 0 or -1. */
static inline int it_tls_setup(zkt_cluster *cl, bool client_ca)
{
    if (it_tls_make_ca() != 0)
        return -1;
    const char *flags[][2] = {{"--tls-cert", it_tls_file("node.pem")},
                              {"--tls-key", it_tls_file("node.key")},
                              {"--tls-ca", it_tls_file("ca.pem")}};
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
        if (zkt_cluster_server_flag(cl, flags[i][0], flags[i][1]) != 0 ||
            zkt_cluster_coord_flag(cl, flags[i][0], flags[i][1]) != 0)
            return -1;
    if (client_ca && zkt_cluster_server_flag(cl, "--tls-client-ca", it_tls_file("ca.pem")) != 0)
        return -1;
    setenv("ZKV_TLS_CA", it_tls_file("ca.pem"), 1);
    setenv("ZKV_TLS_CERT", it_tls_file("client.pem"), 1);
    setenv("ZKV_TLS_KEY", it_tls_file("client.key"), 1);
    return 0;
}

/* Copies file from over to (cp). 0 or -1. */
static inline int it_tls_copy(const char *from, const char *to)
{
    char cmd[PATH_MAX * 2 + 16];
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", from, to);
    return system(cmd) == 0 ? 0 : -1;
}

/* A new client of cl (3 s per call, failfast 300 ms) with these TLS files, all NULL for
 * plain TCP whatever the environment says; NULL when it could not be made. */
static inline zkv_client *it_tls_client(zkt_cluster *cl, const char *ca, const char *cert,
                                        const char *key)
{
    zkv_options *o = it_options(cl, 3000);
    zkv_client *c = NULL;
    if (o && zkv_options_set_failfast(o, 300) == ZKV_OK &&
        zkv_options_set_tls(o, ca, cert, key) == ZKV_OK && zkv_client_create(o, &c) != ZKV_OK)
        c = NULL;
    zkv_options_free(o);
    return c;
}

/* A put through a new it_tls_client: its result, logged as what with libzkv's reason,
 * which stays in zkv_last_error(). */
static inline int it_tls_put(zkt_cluster *cl, const char *what, const char *ca, const char *cert,
                             const char *key)
{
    zkv_client *c = it_tls_client(cl, ca, cert, key);
    int rc = c ? zkv_put(c, "k", 1, "v", 1, 0, 0, NULL) : ZKV_ENOMEM;
    zkt_log("client %s: %s: %s", what, zkv_strerror(rc), zkv_last_error());
    zkv_client_free(c);
    return rc;
}

/* Undoes it_tls_setup's environment. */
static inline void it_tls_env_clear(void)
{
    unsetenv("ZKV_TLS_CA");
    unsetenv("ZKV_TLS_CERT");
    unsetenv("ZKV_TLS_KEY");
}

#endif
