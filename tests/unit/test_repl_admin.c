/* test_repl_admin.c: what "zkv admin status" prints (repl/admin_render.c): the operations
 * table with each kind's arguments, the drained list, the JSON as it came; and the state
 * of one operation for "zkv admin wait" (running with its step, done when gone, failed
 * with its error). */
#include <CUnit/Basic.h>
#include <stdlib.h>
#include <string.h>

#include "admin_render.h"

static const char *DOC =
    "{\"operations\":[{\"id\":\"op-0000000001\",\"kind\":\"move\",\"args\":{\"range\":\"r0003\","
    "\"node\":\"node-2\"},\"step\":\"catch_up\",\"created\":\"2026-12-07T01:00:00.000Z\","
    "\"updated\":\"2026-12-07T01:00:01.000Z\",\"attempts\":0},{\"id\":\"op-0000000002\","
    "\"kind\":\"set-replicas\",\"args\":{\"replicas\":2},\"step\":\"failed\",\"updated\":"
    "\"2026-12-07T01:00:02.000Z\",\"error\":\"the replication factor was changed\"}],"
    "\"drained\":[\"node-3\",\"node-4\"]}";

static void test_table(void)
{
    char err[128];
    char *out = zkv_repl_admin_render(DOC, false, err, sizeof err);
    CU_ASSERT_FATAL(out != NULL);
    if (!out)
        return; /* (CU_ASSERT_FATAL has returned already; for the analysers) */
    CU_ASSERT(strstr(out, "ID") == out);
    CU_ASSERT(strstr(out, "op-0000000001  move") != NULL);
    CU_ASSERT(strstr(out, "r0003 node-2") != NULL);
    CU_ASSERT(strstr(out, "R=2") != NULL);
    CU_ASSERT(strstr(out, "the replication factor was changed") != NULL);
    CU_ASSERT(strstr(out, "drained: node-3 node-4\n") != NULL);
    free(out);
    out = zkv_repl_admin_render("{\"operations\":[],\"drained\":[]}", false, err, sizeof err);
    CU_ASSERT_FATAL(out != NULL);
    if (!out)
        return; /* (CU_ASSERT_FATAL has returned already; for the analysers) */
    CU_ASSERT(strstr(out, "(no operations)") != NULL && strstr(out, "drained: -\n") != NULL);
    free(out);
    out = zkv_repl_admin_render(DOC, true, err, sizeof err);
    CU_ASSERT_FATAL(out != NULL);
    if (!out)
        return; /* (CU_ASSERT_FATAL has returned already; for the analysers) */
    CU_ASSERT(strncmp(out, DOC, strlen(DOC)) == 0 && out[strlen(DOC)] == '\n');
    free(out);
    CU_ASSERT(zkv_repl_admin_render("[]", false, err, sizeof err) == NULL);
    CU_ASSERT(zkv_repl_admin_render("not json", false, err, sizeof err) == NULL);
}

static void test_op_state(void)
{
    char d[256];
    CU_ASSERT_EQUAL(zkv_repl_admin_op_state(DOC, "op-0000000001", d, sizeof d),
                    ZKV_REPL_OP_RUNNING);
    CU_ASSERT_STRING_EQUAL(d, "catch_up");
    CU_ASSERT_EQUAL(zkv_repl_admin_op_state(DOC, "op-0000000002", d, sizeof d), ZKV_REPL_OP_FAILED);
    CU_ASSERT_STRING_EQUAL(d, "the replication factor was changed");
    CU_ASSERT_EQUAL(zkv_repl_admin_op_state(DOC, "op-0000000009", d, sizeof d), ZKV_REPL_OP_DONE);
    CU_ASSERT_EQUAL(zkv_repl_admin_op_state("{", "op-1", d, sizeof d), ZKV_REPL_OP_BAD);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    CU_pSuite s = CU_add_suite("repl_admin", NULL, NULL);
    CU_add_test(s, "status table", test_table);
    CU_add_test(s, "one operation's state", test_op_state);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
