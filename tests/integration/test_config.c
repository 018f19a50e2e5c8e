/* test_config.c: settings files and JSON logs (issue 13, item 2; docs/configuration.md).
 * - A cluster whose server and coordinator take most of their settings from --config
 *   files (zone, log format, log level; the harness's flags win over the file's listen
 *   address): it serves, the node publishes the file's zone, and every line both wrote
 *   is a JSON object with ts, level, component and msg.
 * - A settings file with a mistake stops the program at start-up, exit 2, naming the file
 *   and the line; --print-config prints the file's settings uncommented and reads back.
 * - docs/configuration.md names every setting of zkv-server and zkv-coordinator. */
#include <CUnit/CUnit.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "it_common.h"
#include "zkt/zkt.h"
#include "zkv/zkv.h"

static zkt_cluster g_cl;
static zkv_client *g_client;
static char g_server_conf[512], g_coord_conf[512];

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static int suite_init(void)
{
    if (zkt_cluster_init(&g_cl, "config") != 0)
        return -1;
    snprintf(g_server_conf, sizeof g_server_conf, "%s/zkv-server.conf", zkt_tmpdir());
    snprintf(g_coord_conf, sizeof g_coord_conf, "%s/zkv-coordinator.conf", zkt_tmpdir());
    /* listen: the harness's --listen (a flag) wins over it */
    if (write_file(g_server_conf, "# a node's settings\n"
                                  "zone = zone-from-file\n"
                                  "log-format = json\n"
                                  "log-level = debug\n"
                                  "listen = 127.0.0.1:1\n"
                                  "cache-mb = 16\n") != 0 ||
        write_file(g_coord_conf, "log-format = json\nrebalance-delay-ms = 5000\n") != 0 ||
        zkt_cluster_server_flag(&g_cl, "--config", g_server_conf) != 0 ||
        zkt_cluster_coord_flag(&g_cl, "--config", g_coord_conf) != 0)
        return -1;
    return it_cluster_up(&g_cl, 1, 10000, 1000, &g_client);
}

static int suite_cleanup(void)
{
    return it_cluster_down(&g_cl, &g_client);
}

/* Every line of the log at path (but the harness's marks) is a JSON object with the four
 * fields, of component; returns the number of lines (-1 when one is not). */
static int json_lines(const char *path, const char *component)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[8192];
    int n = 0, bad = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "=== zkt:", 8) == 0)
            continue; /* the harness's own marks */
        cJSON *o = cJSON_Parse(line);
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "component");
        bool ok = o && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "ts")) &&
                  cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "level")) &&
                  cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "msg")) && cJSON_IsString(c) &&
                  strcmp(c->valuestring, component) == 0;
        if (!ok && bad++ < 3)
            zkt_log("%s: not a JSON log line: %.300s", path, line);
        cJSON_Delete(o);
        n++;
    }
    fclose(f);
    return bad ? -1 : n;
}

static void test_cluster_from_files(void)
{
    /* it serves */
    CU_ASSERT_EQUAL(zkv_put(g_client, "k", 1, "v", 1, 0, 0, NULL), ZKV_OK);
    zkv_value *v = NULL;
    CU_ASSERT_EQUAL(zkv_get(g_client, "k", 1, 0, 0, &v), ZKV_OK);
    zkv_value_free(v);
    /* the node took the file's zone */
    char *json = NULL;
    CU_ASSERT_EQUAL_FATAL(zkv_describe(g_client, &json), ZKV_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"zone\":\"zone-from-file\""));
    zkv_free(json);
    /* the logs are JSON lines, the server's at debug level */
    int ns = json_lines(g_cl.servers[0].log, "server");
    int nc = json_lines(g_cl.coords[0].log, "coordinator");
    zkt_log("JSON log lines: server %d, coordinator %d", ns, nc);
    CU_ASSERT(ns > 3);
    CU_ASSERT(nc > 3);
    CU_ASSERT(it_log_count(g_cl.servers[0].log, "\"level\":\"debug\"") > 0);
}

static int run(zkt_run_result *r, const char *const *argv)
{
    memset(r, 0, sizeof *r);
    if (zkt_run(argv, NULL, 0, 30000, r) != 0)
        return -1;
    zkt_log("%s ... -> exit %d; stdout %.200s; stderr %.300s", argv[0], r->code,
            r->out ? r->out : "", r->err ? r->err : "");
    return 0;
}

static void test_mistakes_and_print(void)
{
    const char *server = zkt_bin("ZKV_SERVER_BIN");
    CU_ASSERT_FATAL(server != NULL);
    char bad[600];
    snprintf(bad, sizeof bad, "%s/bad.conf", zkt_tmpdir());
    CU_ASSERT_FATAL(write_file(bad, "listen = 127.0.0.1:7400\nmax-conns = lots\n") == 0);
    zkt_run_result r;
    const char *a1[] = {server, "--config", bad, NULL};
    CU_ASSERT_FATAL(run(&r, a1) == 0);
    CU_ASSERT_EQUAL(r.code, 2);
    CU_ASSERT(r.err && strstr(r.err, bad) && strstr(r.err, "line 2: max-conns"));
    zkt_run_result_free(&r);
    /* --print-config shows the file's settings, set; the rest commented out */
    const char *a2[] = {server, "--config", g_server_conf, "--print-config", NULL};
    CU_ASSERT_FATAL(run(&r, a2) == 0);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT(r.out && strstr(r.out, "\nzone = zone-from-file\n") &&
              strstr(r.out, "\ncache-mb = 16\n") && strstr(r.out, "\n#max-conns = 10000\n"));
    /* and reads back */
    char back[600];
    snprintf(back, sizeof back, "%s/back.conf", zkt_tmpdir());
    CU_ASSERT_FATAL(r.out && write_file(back, r.out) == 0);
    zkt_run_result_free(&r);
    const char *a3[] = {server, "--config", back, "--print-config", NULL};
    CU_ASSERT_FATAL(run(&r, a3) == 0);
    CU_ASSERT(r.code == 0 && r.out && strstr(r.out, "\nzone = zone-from-file\n"));
    zkt_run_result_free(&r);
}

/* Every setting --print-config lists for prog is named in docs/configuration.md. */
static void check_documented(const char *bin_env, const char *doc)
{
    const char *bin = zkt_bin(bin_env);
    CU_ASSERT_FATAL(bin != NULL);
    zkt_run_result r;
    const char *a[] = {bin, "--print-config", NULL};
    CU_ASSERT_FATAL(run(&r, a) == 0 && r.out);
    int settings = 0, missing = 0;
    for (char *line = strtok(r.out, "\n"); line; line = strtok(NULL, "\n")) {
        char *eq = strstr(line, " = ");
        if (line[0] == '#' && line[1] == ' ')
            continue; /* a comment */
        if (!eq)
            continue;
        *eq = '\0';
        const char *name = line[0] == '#' ? line + 1 : line;
        char want[128];
        snprintf(want, sizeof want, "| `%s` |", name);
        settings++;
        if (!strstr(doc, want)) {
            zkt_log("docs/configuration.md does not name %s's setting '%s'", bin, name);
            missing++;
        }
    }
    zkt_run_result_free(&r);
    CU_ASSERT(settings > 5);
    CU_ASSERT_EQUAL(missing, 0);
}

static void test_documented(void)
{
    static char doc[1 << 17];
    CU_ASSERT_FATAL(it_read_file(ZKV_TEST_SOURCE_DIR, "docs/configuration.md", doc, sizeof doc) >
                    0);
    check_documented("ZKV_SERVER_BIN", doc);
    check_documented("ZKV_COORDINATOR_BIN", doc);
}

int main(void)
{
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("config", suite_init, suite_cleanup);
    CU_add_test(s, "a cluster from settings files, logging JSON", test_cluster_from_files);
    CU_add_test(s, "a mistake stops the program; --print-config", test_mistakes_and_print);
    CU_add_test(s, "docs/configuration.md names every setting", test_documented);
    return zkt_run_all();
}
