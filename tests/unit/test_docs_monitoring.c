/* test_docs_monitoring.c: the monitoring files of docs/ use only metrics that exist:
 * every metric named in docs/alerts.yml and in docs/grafana-dashboard.json's queries (a
 * histogram's _bucket, _sum and _count by its family) is a row of docs/metrics.md's table
 * (which test_metrics checks against a live node's text), and the dashboard is JSON with a
 * query in every panel. promtool checks and unit tests the rules themselves (ctest
 * docs_alerts). */
#include <CUnit/Basic.h>
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(const char *rel)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", ZKV_TEST_SOURCE_DIR, rel);
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    static const size_t cap = 1 << 20;
    char *buf = malloc(cap);
    size_t n = buf ? fread(buf, 1, cap - 1, f) : 0;
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

static char *g_metrics_md;

/* Checks every zkv_* and process_* name in text is documented; returns how many it saw. */
static int check_names(const char *what, const char *text)
{
    int seen = 0;
    for (const char *p = text; (p = strpbrk(p, "zp")) != NULL; p++) {
        bool zkv = strncmp(p, "zkv_", 4) == 0, proc = strncmp(p, "process_", 8) == 0;
        bool word_start = p == text || !(p[-1] == '_' || (p[-1] >= 'a' && p[-1] <= 'z') ||
                                         (p[-1] >= '0' && p[-1] <= '9'));
        if (!(zkv || proc) || !word_start)
            continue;
        char name[128];
        size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_");
        if (n >= sizeof name)
            continue;
        memcpy(name, p, n);
        name[n] = '\0';
        static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
        char row[160];
        snprintf(row, sizeof row, "| `%s` |", name);
        bool found = strstr(g_metrics_md, row) != NULL;
        for (size_t i = 0; !found && i < 3; i++) {
            size_t sl = strlen(suffixes[i]);
            if (n > sl && strcmp(name + n - sl, suffixes[i]) == 0) {
                snprintf(row, sizeof row, "| `%.*s` |", (int)(n - sl), name);
                found = strstr(g_metrics_md, row) != NULL;
            }
        }
        if (!found)
            fprintf(stderr, "%s names %s, which docs/metrics.md does not list\n", what, name);
        CU_ASSERT_TRUE(found);
        seen++;
        p += n - 1;
    }
    return seen;
}

static void test_alerts(void)
{
    char *yml = slurp("docs/alerts.yml");
    CU_ASSERT_PTR_NOT_NULL_FATAL(yml);
    CU_ASSERT(check_names("docs/alerts.yml", yml) >= 10);
    free(yml);
}

static void test_dashboard(void)
{
    char *text = slurp("docs/grafana-dashboard.json");
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    cJSON *d = cJSON_Parse(text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    const cJSON *panels = cJSON_GetObjectItemCaseSensitive(d, "panels");
    CU_ASSERT_FATAL(cJSON_IsArray(panels) && cJSON_GetArraySize(panels) >= 10);
    int names = 0;
    const cJSON *panel;
    cJSON_ArrayForEach(panel, panels)
    {
        const cJSON *targets = cJSON_GetObjectItemCaseSensitive(panel, "targets");
        CU_ASSERT(cJSON_IsArray(targets) && cJSON_GetArraySize(targets) >= 1);
        const cJSON *t;
        cJSON_ArrayForEach(t, targets)
        {
            const cJSON *expr = cJSON_GetObjectItemCaseSensitive(t, "expr");
            CU_ASSERT(cJSON_IsString(expr));
            if (cJSON_IsString(expr))
                names += check_names("docs/grafana-dashboard.json", expr->valuestring);
        }
    }
    CU_ASSERT(names >= 14);
    cJSON_Delete(d);
    free(text);
}

int main(void)
{
    g_metrics_md = slurp("docs/metrics.md");
    if (!g_metrics_md || CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("docs_monitoring", NULL, NULL);
    CU_add_test(s, "alert rules use documented metrics", test_alerts);
    CU_add_test(s, "the dashboard's queries use documented metrics", test_dashboard);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    free(g_metrics_md);
    return failed ? 1 : 0;
}
