/* runner.h: the end of a CUnit test program: runs the registered suites verbosely, kills
 * whatever is still running, prints the process logs and keeps the temp dir when
 * something failed, and gives the exit status ctest reads. */
#ifndef ZKT_RUNNER_H
#define ZKT_RUNNER_H

/* Call first in main: installs the process safety net. */
void zkt_init(void);
/* Runs every registered suite; returns the program's exit status (0 all passed, 1 not). */
int zkt_run_all(void);

#endif
