/* test_common_auth.c: the credentials file (common/auth.c): what parses, every refusal
 * with its line, the roles a credential gets, and the load that refuses a file group or
 * others may read. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/auth.h"

static char err[256];

static int parse(const char *text, zkv_auth **a)
{
    return zkv_auth_parse(text, strlen(text), a, err, sizeof err);
}

static void test_parse_and_check(void)
{
    zkv_auth *a = NULL;
    const char *text = "# the cluster's credentials\n"
                       "\n"
                       "cluster 0123456789abcdef-cluster   # nodes and coordinators\n"
                       "client web  web-token-0123456789\r\n"
                       "client batch batch-token-0123456789\n";
    CU_ASSERT_EQUAL_FATAL(parse(text, &a), 0);
    CU_ASSERT_STRING_EQUAL(zkv_auth_cluster_secret(a), "0123456789abcdef-cluster");
    const char *name = "x";
    CU_ASSERT_EQUAL(zkv_auth_check(a, "0123456789abcdef-cluster", &name), ZKV_AUTH_NODE);
    CU_ASSERT_PTR_NULL(name);
    CU_ASSERT_EQUAL(zkv_auth_check(a, "batch-token-0123456789", &name), ZKV_AUTH_CLIENT);
    CU_ASSERT_STRING_EQUAL(name, "batch");
    CU_ASSERT_EQUAL(zkv_auth_check(a, "web-token-0123456789", &name), ZKV_AUTH_CLIENT);
    CU_ASSERT_STRING_EQUAL(name, "web");
    /* near misses */
    CU_ASSERT_EQUAL(zkv_auth_check(a, "web-token-012345678", NULL), ZKV_AUTH_REFUSED);
    CU_ASSERT_EQUAL(zkv_auth_check(a, "web-token-01234567890", NULL), ZKV_AUTH_REFUSED);
    CU_ASSERT_EQUAL(zkv_auth_check(a, "", NULL), ZKV_AUTH_REFUSED);
    CU_ASSERT_EQUAL(zkv_auth_check(a, NULL, NULL), ZKV_AUTH_REFUSED);
    CU_ASSERT_EQUAL(zkv_auth_check(NULL, "web-token-0123456789", NULL), ZKV_AUTH_REFUSED);
    zkv_auth_free(a);
    /* clients only: no cluster secret */
    CU_ASSERT_EQUAL_FATAL(parse("client web web-token-0123456789\n", &a), 0);
    CU_ASSERT_PTR_NULL(zkv_auth_cluster_secret(a));
    zkv_auth_free(a);
}

static void test_refusals(void)
{
    static const struct {
        const char *text, *says;
    } bad[] = {
        {"", "no credentials"},
        {"# only a comment\n", "no credentials"},
        {"cluster short\n", "line 1: the cluster secret must be"},
        {"cluster 0123456789abcdef\ncluster 0123456789abcdeg\n", "line 2: a second cluster"},
        {"cluster\n", "line 1: 'cluster SECRET' expected"},
        {"client web\n", "line 1: 'client NAME TOKEN' expected"},
        {"client web short\n", "line 1: client web: a token must be"},
        {"client web web-token-0123456789 extra\n", "line 1: too many words"},
        {"user web web-token-0123456789\n", "line 1: unknown entry 'user'"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        zkv_auth *a = (zkv_auth *)1;
        CU_ASSERT_EQUAL(parse(bad[i].text, &a), -1);
        CU_ASSERT_PTR_NULL(a);
        if (!strstr(err, bad[i].says))
            fprintf(stderr, "case %zu: %s\n", i, err);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i].says));
    }
}

static void test_load(void)
{
    char path[] = "/tmp/zkv-test-auth-XXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    const char *text = "cluster 0123456789abcdef-cluster\n";
    CU_ASSERT_EQUAL((size_t)write(fd, text, strlen(text)), strlen(text));
    close(fd);
    zkv_auth *a = NULL;
    CU_ASSERT_EQUAL(chmod(path, 0600), 0);
    CU_ASSERT_EQUAL(zkv_auth_load(path, &a, err, sizeof err), 0);
    CU_ASSERT_EQUAL(zkv_auth_check(a, "0123456789abcdef-cluster", NULL), ZKV_AUTH_NODE);
    zkv_auth_free(a);
    CU_ASSERT_EQUAL(chmod(path, 0644), 0); /* readable by others: refused */
    CU_ASSERT_EQUAL(zkv_auth_load(path, &a, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "chmod 600"));
    unlink(path);
    CU_ASSERT_EQUAL(zkv_auth_load(path, &a, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "No such file"));
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    CU_pSuite s = CU_add_suite("common_auth", NULL, NULL);
    CU_add_test(s, "parse and check", test_parse_and_check);
    CU_add_test(s, "every refusal names its line", test_refusals);
    CU_add_test(s, "load refuses a file others may read", test_load);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
