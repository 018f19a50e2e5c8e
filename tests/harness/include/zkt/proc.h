/* proc.h: child processes of a test. Every process is started with fork/execvp in its own
 * process group, stdout and stderr appended to a log file, and recorded in a registry.
 * Nothing outlives the test: an atexit handler, handlers for SIGINT, SIGTERM, SIGABRT,
 * SIGSEGV, SIGBUS, SIGFPE, SIGILL, the sanitizer death callback, and PR_SET_PDEATHSIG in
 * each child, all SIGKILL every registered pid. Not for use from several threads at once
 * (spawn from the main thread: PR_SET_PDEATHSIG follows the spawning thread). */
#ifndef ZKT_PROC_H
#define ZKT_PROC_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Installs the safety net (idempotent; zkt_spawn calls it too). */
void zkt_proc_init(void);

/* Starts argv[0] (searched in PATH when it has no '/') with argv; output goes to log_path
 * (appended; NULL: <tmpdir>/<name>.log). name labels the process in logs. Returns the pid
 * or -1. */
pid_t zkt_spawn(const char *name, const char *const argv[], const char *log_path);

/* Sends sig to a registered, not yet reaped pid. Returns 0 or -1. */
int zkt_proc_signal(pid_t pid, int sig);
/* true while the registered pid has not exited (reaps it when it has). */
bool zkt_proc_alive(pid_t pid);
/* Waits up to timeout_ms for pid to exit. Returns 0 with *status (raw wait status, may be
 * NULL) or -1 on timeout. */
int zkt_proc_wait_exit(pid_t pid, int timeout_ms, int *status);
/* SIGTERM, wait up to timeout_ms, then SIGKILL. Returns the exit code (0..255), -signal
 * when killed by a signal (-9 if it had to be SIGKILLed), or -1000 when not registered. */
int zkt_proc_stop(pid_t pid, int timeout_ms);
/* SIGKILL and reap. Returns as zkt_proc_stop. */
int zkt_proc_kill(pid_t pid);
/* SIGKILLs and reaps every registered process still running. */
void zkt_proc_kill_all(void);
/* Log file of a registered pid ("" if unknown). */
const char *zkt_proc_log(pid_t pid);
/* Prints the last lines of every registered process's log to stderr. */
void zkt_proc_dump_logs(int lines);
/* Exit code of a raw wait status: 0..255, or -signal. */
int zkt_exit_code(int status);

/* zkt_run: runs a command to completion, capturing its output. */
typedef struct zkt_run_result {
    char *out; /* stdout, NUL-terminated (malloc'd) */
    size_t out_len;
    char *err; /* stderr, NUL-terminated (malloc'd) */
    size_t err_len;
    int code; /* exit code, -signal, or -1000 when it had to be killed at the deadline */
    int elapsed_ms;
} zkt_run_result;

/* Runs argv with stdin from `in` (may be NULL), killing it after timeout_ms. Returns 0 when
 * the command ran (whatever its exit code), -1 when it could not be started. */
int zkt_run(const char *const argv[], const void *in, size_t inlen, int timeout_ms,
            zkt_run_result *r);
void zkt_run_result_free(zkt_run_result *r);

#endif
