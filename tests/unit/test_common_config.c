/* Unit tests of common/config_file.h: the settings files' syntax (comments, blanks, spaces
 * around '=', quotes, CRLF lines, an empty value) and every mistake with its line, and the
 * boolean words. */
#include <CUnit/Basic.h>
#include <string.h>

#include "common/config_file.h"

static void test_parse(void)
{
    const char *text = "# comment\n\n  listen   =  0.0.0.0:7400  \r\n"
                       "zone=a\n"
                       "\tmotd = \"  two spaces  \"\n"
                       "advertise =\n"
                       "  # indented comment\n"
                       "last = x"; /* no final newline */
    zkv_config c;
    char err[128];
    CU_ASSERT_EQUAL_FATAL(zkv_config_parse(text, strlen(text), &c, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(c.n, 5);
    CU_ASSERT_STRING_EQUAL(c.e[0].name, "listen");
    CU_ASSERT_STRING_EQUAL(c.e[0].value, "0.0.0.0:7400");
    CU_ASSERT_EQUAL(c.e[0].line, 3);
    CU_ASSERT_STRING_EQUAL(c.e[1].value, "a");
    CU_ASSERT_STRING_EQUAL(c.e[2].value, "  two spaces  ");
    CU_ASSERT_STRING_EQUAL(c.e[3].name, "advertise");
    CU_ASSERT_STRING_EQUAL(c.e[3].value, "");
    CU_ASSERT_STRING_EQUAL(c.e[4].value, "x");
    CU_ASSERT_EQUAL(c.e[4].line, 8);
    zkv_config_free(&c);
    CU_ASSERT_EQUAL(zkv_config_parse("", 0, &c, err, sizeof err), 0);
    CU_ASSERT_EQUAL(c.n, 0);
}

static void test_mistakes(void)
{
    const struct {
        const char *text;
        size_t len;
        const char *want;
    } bad[] = {
        {"a = 1\nb\n", 0, "line 2: expected 'name = value'"},
        {"= 1\n", 0, "line 1: a name is"},
        {"Upper = 1\n", 0, "line 1: a name is"},
        {"a b = 1\n", 0, "line 1: a name is"},
        {"a = \"x\n", 0, "line 1: unterminated quote"},
        {"a = 1\n\na = 2\n", 0, "line 3: 'a' was set on line 1 already"},
        {"a = 1\0b", 7, "NUL byte"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        zkv_config c;
        char err[128] = "";
        size_t len = bad[i].len ? bad[i].len : strlen(bad[i].text);
        CU_ASSERT_EQUAL(zkv_config_parse(bad[i].text, len, &c, err, sizeof err), -1);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i].want));
        CU_ASSERT_EQUAL(c.n, 0);
    }
    zkv_config c;
    char err[256];
    CU_ASSERT_EQUAL(zkv_config_load("/nonexistent/x.conf", &c, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/x.conf"));
}

static void test_bool(void)
{
    const char *yes[] = {"true", "YES", "on", "1"}, *no[] = {"false", "No", "off", "0"};
    for (int i = 0; i < 4; i++) {
        CU_ASSERT_EQUAL(zkv_config_bool(yes[i]), 1);
        CU_ASSERT_EQUAL(zkv_config_bool(no[i]), 0);
    }
    CU_ASSERT_EQUAL(zkv_config_bool("maybe"), -1);
    CU_ASSERT_EQUAL(zkv_config_bool(""), -1);
    CU_ASSERT_EQUAL(zkv_config_bool(NULL), -1);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("common_config", NULL, NULL);
    CU_add_test(s, "settings lines", test_parse);
    CU_add_test(s, "mistakes", test_mistakes);
    CU_add_test(s, "booleans", test_bool);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
