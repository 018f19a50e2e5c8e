/* bgnice.h: run a function on a short-lived thread of lower CPU priority, so that the
 * threads it starts inherit that priority. zkv uses it to start LevelDB's background
 * thread (memtable flushes and compactions) below the loop thread: see bgnice.c. */
#ifndef ZKV_SERVER_BGNICE_H
#define ZKV_SERVER_BGNICE_H

/* Runs fn(arg) on a new thread whose nice value is raised by nice_inc (0..19; 0 runs fn
 * on the calling thread) and waits for it. A refused priority change is not an error
 * (fn still runs, at the caller's priority). Returns 0, or -1 when no thread could be
 * started (fn did not run). */
int zkv_run_niced(int nice_inc, void (*fn)(void *arg), void *arg);

#endif
