/* Unit tests of server/dbstats.c: LevelDB's "leveldb.stats" text as LevelDB writes it,
 * an empty database's, and text that is not it. */
#include <CUnit/Basic.h>

#include "dbstats.h"

static void test_parse(void)
{
    const char *text = "                               Compactions\n"
                       "Level  Files Size(MB) Time(sec) Read(MB) Write(MB)\n"
                       "--------------------------------------------------\n"
                       "  0        3        6         1        0         6\n"
                       "  1        5       10         2       16        10\n"
                       "  3        1        0         0        0         0\n";
    zkv_dbstats s;
    CU_ASSERT_EQUAL_FATAL(zkv_dbstats_parse(text, &s), 0);
    CU_ASSERT_EQUAL(s.files[0], 3);
    CU_ASSERT_EQUAL(s.files[1], 5);
    CU_ASSERT_EQUAL(s.files[2], 0);
    CU_ASSERT_EQUAL(s.files[3], 1);
    CU_ASSERT_EQUAL(s.level_bytes[1], 10ull << 20);
    CU_ASSERT_EQUAL(s.size_bytes, 16ull << 20);
    CU_ASSERT_EQUAL(s.compaction_ms, 3000);
    CU_ASSERT_EQUAL(s.compaction_read_bytes, 16ull << 20);
    CU_ASSERT_EQUAL(s.compaction_write_bytes, 16ull << 20);
    /* an empty database: the header, no rows */
    const char *empty = "                               Compactions\n"
                        "Level  Files Size(MB) Time(sec) Read(MB) Write(MB)\n"
                        "--------------------------------------------------\n";
    CU_ASSERT_EQUAL(zkv_dbstats_parse(empty, &s), 0);
    CU_ASSERT_EQUAL(s.size_bytes, 0);
    CU_ASSERT_EQUAL(zkv_dbstats_parse("something else", &s), -1);
    CU_ASSERT_EQUAL(zkv_dbstats_parse(NULL, &s), -1);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("server_dbstats", NULL, NULL);
    CU_add_test(s, "leveldb.stats", test_parse);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
