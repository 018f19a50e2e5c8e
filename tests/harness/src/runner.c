/* runner.c: CUnit main helpers: install the safety net first; at the end run the suites,
 * kill what is left, and on failure print the process logs and keep the temp dir. */
#include "zkt/runner.h"

#include <CUnit/Basic.h>
#include <stdbool.h>
#include <stdio.h>
#include "zkt/proc.h"
#include "zkt/tmpdir.h"
#include "zkt/util.h"

void zkt_init(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    zkt_proc_init();
}

int zkt_run_all(void)
{
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_ErrorCode rc = CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    unsigned suite_failures = CU_get_number_of_suites_failed();
    bool failed = rc != CUE_SUCCESS || failures > 0 || suite_failures > 0;
    zkt_proc_kill_all();
    if (failed) {
        zkt_log("%u assertion(s) failed, %u suite(s) failed to set up or clean up", failures,
                suite_failures);
        zkt_proc_dump_logs(40);
    }
    zkt_tmpdir_finish(failed);
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
