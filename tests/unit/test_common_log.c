/* Unit tests of common/log.h: level parsing, the line format, level filtering and the
 * forwarding of ZooKeeper client lines. stderr is captured into a temp file. */
#include <CUnit/Basic.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

#include <cjson/cJSON.h>

static FILE *cap;
static int saved_err = -1;

static void capture_start(void)
{
    fflush(stderr);
    cap = tmpfile();
    saved_err = dup(2);
    dup2(fileno(cap), 2);
}

static void capture_end(char *out, size_t outlen)
{
    fflush(stderr);
    dup2(saved_err, 2);
    close(saved_err);
    rewind(cap);
    size_t n = fread(out, 1, outlen - 1, cap);
    out[n] = '\0';
    fclose(cap);
}

static int matches(const char *re, const char *s)
{
    regex_t r;
    if (regcomp(&r, re, REG_EXTENDED | REG_NOSUB) != 0)
        return 0;
    int ok = regexec(&r, s, 0, NULL, 0) == 0;
    regfree(&r);
    return ok;
}

static void test_level_parse(void)
{
    CU_ASSERT_EQUAL(zkv_log_level_parse("debug"), ZKV_LOG_DEBUG);
    CU_ASSERT_EQUAL(zkv_log_level_parse("info"), ZKV_LOG_INFO);
    CU_ASSERT_EQUAL(zkv_log_level_parse("warn"), ZKV_LOG_WARN);
    CU_ASSERT_EQUAL(zkv_log_level_parse("error"), ZKV_LOG_ERROR);
    CU_ASSERT_EQUAL(zkv_log_level_parse("verbose"), -1);
    CU_ASSERT_EQUAL(zkv_log_level_parse(""), -1);
    CU_ASSERT_EQUAL(zkv_log_level_parse(NULL), -1);
}

static void test_format_and_filter(void)
{
    char out[4096];
    zkv_log_init("server", ZKV_LOG_INFO);
    capture_start();
    ZKV_DEBUG("hidden %d", 1);
    ZKV_INFO("listening on %s", "127.0.0.1:7400");
    ZKV_WARN("slow");
    ZKV_ERROR("bad thing\n"); /* a trailing newline is not doubled */
    capture_end(out, sizeof out);
    CU_ASSERT_PTR_NULL(strstr(out, "hidden"));
    const char *ts = "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z";
    char re[512];
    snprintf(re, sizeof re,
             "^%s INFO  server: listening on 127\\.0\\.0\\.1:7400\n"
             "%s WARN  server: slow\n"
             "%s ERROR server: bad thing\n$",
             ts, ts, ts);
    if (!matches(re, out))
        fprintf(stderr, "\ngot:\n%s", out);
    CU_ASSERT_TRUE(matches(re, out));

    zkv_log_init("coordinator", ZKV_LOG_DEBUG);
    capture_start();
    ZKV_DEBUG("now visible");
    zkv_log_zookeeper("2026-11-22 12:00:00,000:1(0x1):ZOO_ERROR@handle_error@1: boom");
    zkv_log_zookeeper("2026-11-22 12:00:00,000:1(0x1):ZOO_INFO@log_env@1: hello");
    capture_end(out, sizeof out);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, " DEBUG coordinator: now visible\n"));
    CU_ASSERT_PTR_NULL(strstr(out, " WARN  coordinator: zookeeper: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "ZOO_ERROR@handle_error@1: boom\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, " DEBUG coordinator: zookeeper: "));

    /* an over-long message is truncated to one line, not split */
    static char big[10000];
    memset(big, 'x', sizeof big - 1);
    capture_start();
    ZKV_ERROR("%s", big);
    capture_end(out, sizeof out);
    size_t n = strlen(out);
    CU_ASSERT(n > 4000 && n <= 4096);
    const char *nl = strchr(out, '\n');
    CU_ASSERT(nl != NULL && (size_t)(nl - out) == n - 1); /* exactly one newline, at the end */
    zkv_log_init("zkv", ZKV_LOG_INFO);
}

static void test_json(void)
{
    char out[8192];
    CU_ASSERT_EQUAL(zkv_log_format_parse("json"), 1);
    CU_ASSERT_EQUAL(zkv_log_format_parse("TEXT"), 0);
    CU_ASSERT_EQUAL(zkv_log_format_parse("xml"), -1);
    zkv_log_init("server", ZKV_LOG_INFO);
    zkv_log_set_json(true);
    capture_start();
    ZKV_DEBUG("hidden");
    ZKV_WARN("range %s: \"quoted\" and a \\ backslash\n", "r0001");
    ZKV_INFO("key k\x01\xff\tend");
    capture_end(out, sizeof out);
    const char *ts = "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z";
    char re[1024];
    snprintf(re, sizeof re,
             "^\\{\"ts\":\"%s\",\"level\":\"warn\",\"component\":\"server\","
             "\"msg\":\"range r0001: \\\\\"quoted\\\\\" and a \\\\\\\\ backslash\"\\}\n"
             "\\{\"ts\":\"%s\",\"level\":\"info\",\"component\":\"server\","
             "\"msg\":\"key k\\\\u0001\\\\u00ff\\\\u0009end\"\\}\n$",
             ts, ts);
    if (!matches(re, out))
        fprintf(stderr, "\ngot:\n%s", out);
    CU_ASSERT_TRUE(matches(re, out));
    /* an over-long message still makes one whole JSON object on one line */
    static char big[10000];
    memset(big, '"', sizeof big - 1);
    capture_start();
    ZKV_ERROR("%s", big);
    capture_end(out, sizeof out);
    size_t n = strlen(out);
    CU_ASSERT(n > 1000 && n <= 4096);
    CU_ASSERT(n >= 3 && strcmp(out + n - 3, "\"}\n") == 0);
    CU_ASSERT(strchr(out, '\n') == out + n - 1);
    cJSON *o = cJSON_Parse(out); /* valid JSON, its message a run of quotes */
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(o, "msg");
    CU_ASSERT(cJSON_IsString(msg) && strlen(msg->valuestring) > 500 &&
              strspn(msg->valuestring, "\"") == strlen(msg->valuestring));
    cJSON_Delete(o);
    zkv_log_set_json(false);
    zkv_log_init("zkv", ZKV_LOG_INFO);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("common_log", NULL, NULL);
    CU_add_test(s, "level_parse", test_level_parse);
    CU_add_test(s, "format_and_filter", test_format_and_filter);
    CU_add_test(s, "json lines", test_json);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
