/* test_common_zkacl.c: ZooKeeper digest credentials and the ACL of what zkv creates
 * (common/zkacl.c): the digest identity ZooKeeper computes (base64 of SHA-1 of
 * USER:PASSWORD, checked against a value computed independently), the refusals, the file
 * load that refuses a file others may read, and the ACL a bound handle gets (every
 * permission for the identity, READ for anyone) against the open ACL of any other. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/zkacl.h"

static char err[256];

static void test_parse(void)
{
    zkv_zk_cred c;
    CU_ASSERT_EQUAL_FATAL(zkv_zk_cred_parse("zkv:secret-password", &c, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(c.user_password, "zkv:secret-password");
    /* python3: base64.b64encode(hashlib.sha1(b"zkv:secret-password").digest()) */
    CU_ASSERT_STRING_EQUAL(c.id, "zkv:w9+DqMysvUnXQ7Vr4peQX3y7/Oc=");
    const char *bad[] = {"no-colon-here", ":no-user-password", "zkv:short", "zkv:with space!",
                         NULL};
    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(zkv_zk_cred_parse(bad[i], &c, err, sizeof err), -1);
    CU_ASSERT_EQUAL(zkv_zk_cred_parse(bad[4], &c, err, sizeof err), -1);
}

static void test_load(void)
{
    char path[] = "/tmp/zkv-test-zkacl-XXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    const char *text = "zkv:secret-password\n";
    CU_ASSERT_EQUAL((size_t)write(fd, text, strlen(text)), strlen(text));
    close(fd);
    zkv_zk_cred c;
    CU_ASSERT_EQUAL(chmod(path, 0600), 0);
    CU_ASSERT_EQUAL(zkv_zk_cred_load(path, &c, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(c.id, "zkv:w9+DqMysvUnXQ7Vr4peQX3y7/Oc=");
    CU_ASSERT_EQUAL(chmod(path, 0640), 0);
    CU_ASSERT_EQUAL(zkv_zk_cred_load(path, &c, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "chmod 600"));
    unlink(path);
}

static void test_acl_of_handles(void)
{
    /* handles are only looked up by address here: no session is made */
    zhandle_t *with = (zhandle_t *)(void *)&err[0], *without = (zhandle_t *)(void *)&err[8];
    zkv_zk_cred c;
    CU_ASSERT_EQUAL_FATAL(zkv_zk_cred_parse("zkv:secret-password", &c, err + 16, 100), 0);
    /* bind without credentials first: no zoo_add_auth on the fake handle */
    zkv_zk_cred_bind(without, NULL);
    CU_ASSERT_PTR_EQUAL(zkv_zk_acl(without), &ZOO_OPEN_ACL_UNSAFE);
    CU_ASSERT_PTR_EQUAL(zkv_zk_acl(NULL), &ZOO_OPEN_ACL_UNSAFE);
    /* a credential's ACL (zkv_zk_cred_bind would also authenticate a real session) */
    zkv_zk_cred idonly = c;
    idonly.user_password[0] = '\0'; /* keeps the fake handle away from zoo_add_auth */
    zkv_zk_cred_bind(with, &idonly);
    struct ACL_vector *v = zkv_zk_acl(with);
    CU_ASSERT_EQUAL_FATAL(v->count, 2);
    CU_ASSERT_STRING_EQUAL(v->data[0].id.scheme, "digest");
    CU_ASSERT_STRING_EQUAL(v->data[0].id.id, "zkv:w9+DqMysvUnXQ7Vr4peQX3y7/Oc=");
    CU_ASSERT_EQUAL(v->data[0].perms, ZOO_PERM_ALL);
    CU_ASSERT_STRING_EQUAL(v->data[1].id.scheme, "world");
    CU_ASSERT_STRING_EQUAL(v->data[1].id.id, "anyone");
    CU_ASSERT_EQUAL(v->data[1].perms, ZOO_PERM_READ);
    CU_ASSERT_PTR_EQUAL(zkv_zk_acl(without), &ZOO_OPEN_ACL_UNSAFE);
    /* rebinding the same handle without credentials opens it again */
    zkv_zk_cred_bind(with, NULL);
    CU_ASSERT_PTR_EQUAL(zkv_zk_acl(with), &ZOO_OPEN_ACL_UNSAFE);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    CU_pSuite s = CU_add_suite("common_zkacl", NULL, NULL);
    CU_add_test(s, "USER:PASSWORD and the digest identity", test_parse);
    CU_add_test(s, "load refuses a file others may read", test_load);
    CU_add_test(s, "the ACL of a bound handle", test_acl_of_handles);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
