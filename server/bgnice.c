/* bgnice.c: see bgnice.h.
 *
 * Why: LevelDB writes a full memtable to level 0 and compacts levels on one background
 * thread. On a machine whose CPUs are all busy (the loop thread, clients, other nodes)
 * that thread competes with the loop thread for a CPU, and the writes queued behind it
 * make the slowest percent of answers (docs/performance.md, "PUT p99"). Below the loop
 * thread's priority it yields to it, and takes the idle time, which a serving node has.
 * If compaction falls far behind, LevelDB itself slows writers down (1 ms per write past
 * 8 level-0 files), which gives the CPU back to it, so writes cannot outrun it for long.
 *
 * How: LevelDB's POSIX Env starts its background thread the first time work is
 * scheduled, and a Linux thread starts with its creator's nice value. The public C API
 * cannot reach the Env, so the store opens its database on a thread made here and has
 * LevelDB schedule work from it (store.c). setpriority(PRIO_PROCESS, tid) changes one
 * thread on Linux. RocksDB offers the same as Env::LowerThreadPoolCPUPriority. */
#include "bgnice.h"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef struct {
    int nice_inc;
    void (*fn)(void *);
    void *arg;
} niced_call;

static void *niced_main(void *p)
{
    const niced_call *call = p;
    pid_t tid = (pid_t)syscall(SYS_gettid);
    int now = getpriority(PRIO_PROCESS, (id_t)tid);
    /* Best effort: a refusal (a seccomp filter, say) leaves the caller's priority. */
    (void)setpriority(PRIO_PROCESS, (id_t)tid, now + call->nice_inc);
    call->fn(call->arg);
    return NULL;
}

int zkv_run_niced(int nice_inc, void (*fn)(void *arg), void *arg)
{
    if (nice_inc <= 0) {
        fn(arg);
        return 0;
    }
    niced_call call = {.nice_inc = nice_inc > 19 ? 19 : nice_inc, .fn = fn, .arg = arg};
    pthread_t t;
    if (pthread_create(&t, NULL, niced_main, &call) != 0)
        return -1;
    pthread_join(t, NULL);
    return 0;
}
