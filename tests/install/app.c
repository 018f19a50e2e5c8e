/* app.c: a program an application writer builds against an installed libzkv (the install
 * test, tests/integration/test_install.c, builds it with pkg-config and with CMake's
 * find_package): puts a key, reads it back, prints "ok VALUE". Arguments: ZooKeeper
 * connect string, cluster name, key, value. Exit 0, or 1 with the reason on stderr. */
#include <stdio.h>
#include <string.h>
#include <zkv/zkv.h>

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: app ZK CLUSTER KEY VALUE\n");
        return 2;
    }
    zkv_options *o = zkv_options_create();
    zkv_client *c = NULL;
    int rc = o ? zkv_options_set_zk(o, argv[1]) : ZKV_ENOMEM;
    if (rc == ZKV_OK)
        rc = zkv_options_set_cluster(o, argv[2]);
    if (rc == ZKV_OK)
        rc = zkv_client_create(o, &c);
    zkv_options_free(o);
    zkv_value *v = NULL;
    if (rc == ZKV_OK)
        rc = zkv_put(c, argv[3], strlen(argv[3]), argv[4], strlen(argv[4]), 0, 0, NULL);
    if (rc == ZKV_OK)
        rc = zkv_get(c, argv[3], strlen(argv[3]), 0, 0, &v);
    if (rc == ZKV_OK)
        printf("ok %.*s (libzkv %s)\n", (int)zkv_value_len(v), (const char *)zkv_value_data(v),
               zkv_version_string());
    else
        fprintf(stderr, "app: %s: %s\n", zkv_strerror(rc), zkv_last_error());
    zkv_value_free(v);
    zkv_client_free(c);
    return rc == ZKV_OK ? 0 : 1;
}
