/* proc.c: spawning, stopping and killing child processes, with a registry of every pid
 * so that nothing a test started outlives it. Safety net, installed once:
 *   - atexit: SIGKILL and reap everything still registered;
 *   - SIGINT/SIGTERM/SIGABRT/SIGSEGV/SIGBUS/SIGFPE/SIGILL: SIGKILL every registered pid
 *     (async-signal-safe: kill(2) over a fixed array), then the previous disposition runs
 *     (so AddressSanitizer still reports a SEGV);
 *   - the sanitizer death callback (ASan/UBSan abort with _exit, skipping atexit);
 *   - PR_SET_PDEATHSIG(SIGKILL) in each child, for when the test itself is SIGKILLed.
 * Children get their own process group (a terminal ^C reaches only the test, whose
 * handler kills them), stdin from /dev/null and stdout+stderr appended to a log file. */
#include "zkt/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "internal.h"
#include "zkt/tmpdir.h"
#include "zkt/util.h"
#include "zkt/wait.h"

#define ZKT_MAX_PROCS 1024
#define ZKT_NOT_REGISTERED (-1000)

typedef struct proc_entry {
    pid_t pid;
    bool reaped;
    int status; /* raw wait status once reaped */
    char name[64];
    char log[PATH_MAX];
} proc_entry;

static proc_entry g_procs[ZKT_MAX_PROCS];
static int g_n_procs;
/* What the signal handlers read: pids not yet reaped (0 = free slot). */
static volatile pid_t g_live[ZKT_MAX_PROCS];
static bool g_inited;

static const int g_fatal_signals[] = {SIGINT, SIGTERM, SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL};
#define N_FATAL ((int)(sizeof g_fatal_signals / sizeof g_fatal_signals[0]))
static struct sigaction g_old_actions[N_FATAL];

/* Suppressions for LeakSanitizer in the test process itself (tests/lsan.supp lists the
 * same): the ZooKeeper client keeps allocations for the process lifetime. */
__attribute__((used, visibility("default"))) const char *__lsan_default_suppressions(void);
__attribute__((used, visibility("default"))) const char *__lsan_default_suppressions(void)
{
    return "leak:libzookeeper_mt\nleak:libjvm\n";
}

/* Present when linked with a sanitizer runtime. */
extern void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

static void kill_all_raw(void)
{
    for (int i = 0; i < ZKT_MAX_PROCS; i++) {
        pid_t p = g_live[i];
        if (p > 0)
            kill(p, SIGKILL);
    }
}

static void write_str(const char *s)
{
    ssize_t w = write(STDERR_FILENO, s, strlen(s));
    (void)w;
}

static void on_fatal_signal(int sig, siginfo_t *info, void *uctx)
{
    (void)uctx;
    kill_all_raw();
    write_str("zkt: fatal signal; every child process was killed");
    const char *dir = zkt__tmpdir_peek();
    if (dir[0]) {
        write_str("; logs kept in ");
        write_str(dir);
    }
    write_str("\n");
    for (int i = 0; i < N_FATAL; i++)
        if (g_fatal_signals[i] == sig)
            sigaction(sig, &g_old_actions[i], NULL);
    /* A fault raised by the CPU happens again on return, now with the previous handler
     * (AddressSanitizer's report, or the default core dump). Anything else is re-raised. */
    bool hw = (sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL) && info &&
              info->si_code > 0;
    if (!hw)
        raise(sig);
}

static void on_exit_kill(void)
{
    zkt_proc_kill_all();
}

static void on_sanitizer_death(void)
{
    kill_all_raw();
    write_str("zkt: sanitizer error; every child process was killed\n");
}

void zkt_proc_init(void)
{
    if (g_inited)
        return;
    g_inited = true;
    atexit(on_exit_kill);
    for (int i = 0; i < N_FATAL; i++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_fatal_signal;
        sa.sa_flags = SA_SIGINFO;
        sigemptyset(&sa.sa_mask);
        sigaction(g_fatal_signals[i], &sa, &g_old_actions[i]);
    }
    signal(SIGPIPE, SIG_IGN); /* tests write to sockets a node may have closed */
    if (__sanitizer_set_death_callback)
        __sanitizer_set_death_callback(on_sanitizer_death);
    /* Sanitized children (zkv-server...) read LeakSanitizer suppressions from here. */
    const char *supp = getenv("ZKT_LSAN_SUPP");
    if (!getenv("LSAN_OPTIONS") && supp && *supp) {
        char opt[PATH_MAX + 64];
        snprintf(opt, sizeof opt, "suppressions=%s:print_suppressions=0", supp);
        setenv("LSAN_OPTIONS", opt, 0);
    }
}

static proc_entry *find(pid_t pid)
{
    for (int i = g_n_procs - 1; i >= 0; i--)
        if (g_procs[i].pid == pid)
            return &g_procs[i];
    return NULL;
}

static void mark_reaped(pid_t pid, int status)
{
    for (int i = g_n_procs - 1; i >= 0; i--) {
        if (g_procs[i].pid == pid && !g_procs[i].reaped) {
            g_procs[i].reaped = true;
            g_procs[i].status = status;
            g_live[i] = 0;
            return;
        }
    }
}

static int register_proc(pid_t pid, const char *name, const char *log)
{
    if (g_n_procs >= ZKT_MAX_PROCS)
        return -1;
    proc_entry *e = &g_procs[g_n_procs];
    memset(e, 0, sizeof *e);
    e->pid = pid;
    snprintf(e->name, sizeof e->name, "%s", name);
    snprintf(e->log, sizeof e->log, "%s", log ? log : "");
    g_live[g_n_procs] = pid;
    g_n_procs++;
    return 0;
}

/* Resolves a program name through PATH (before fork: the child only calls execv). */
static int resolve(const char *prog, char *out, size_t outlen)
{
    if (strchr(prog, '/')) {
        snprintf(out, outlen, "%s", prog);
        return 0;
    }
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        const char *colon = strchr(path, ':');
        size_t len = colon ? (size_t)(colon - path) : strlen(path);
        snprintf(out, outlen, "%.*s/%s", (int)len, path, prog);
        if (access(out, X_OK) == 0)
            return 0;
        path += len;
        if (*path == ':')
            path++;
    }
    return -1;
}

/* In the child, between fork and exec: async-signal-safe calls only. */
static void child_setup(pid_t parent, const sigset_t *oldmask, int in_fd, int out_fd, int err_fd)
{
    for (int i = 0; i < N_FATAL; i++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_DFL;
        sigaction(g_fatal_signals[i], &sa, NULL);
    }
    struct sigaction ign;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_DFL;
    sigaction(SIGPIPE, &ign, NULL);
    sigprocmask(SIG_SETMASK, oldmask, NULL);
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    dup2(in_fd, 0);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
}

static pid_t do_fork(const char *path, const char *const argv[], int in_fd, int out_fd, int err_fd,
                     const char *name, const char *log)
{
    sigset_t all, old;
    sigfillset(&all);
    pid_t parent = getpid();
    sigprocmask(SIG_BLOCK, &all, &old);
    pid_t pid = fork();
    if (pid == 0) {
        child_setup(parent, &old, in_fd, out_fd, err_fd);
        execv(path, (char *const *)argv);
        write_str("zkt: exec failed: ");
        write_str(path);
        write_str("\n");
        _exit(127);
    }
    if (pid > 0) {
        setpgid(pid, pid); /* also in the parent, so it holds before we signal it */
        if (register_proc(pid, name, log) != 0) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            pid = -1;
        }
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    return pid;
}

pid_t zkt_spawn(const char *name, const char *const argv[], const char *log_path)
{
    zkt_proc_init();
    char logbuf[PATH_MAX];
    if (!log_path) {
        if (zkt_path(logbuf, sizeof logbuf, "%s.log", name) != 0)
            return -1;
        log_path = logbuf;
    }
    char path[PATH_MAX];
    if (resolve(argv[0], path, sizeof path) != 0) {
        zkt_log("spawn %s: %s not found in PATH", name, argv[0]);
        return -1;
    }
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        zkt_log("spawn %s: open %s: %s", name, log_path, strerror(errno));
        return -1;
    }
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    char cmd[4096];
    size_t off = (size_t)snprintf(cmd, sizeof cmd, "%s", path);
    for (int i = 1; argv[i] && off < sizeof cmd; i++)
        off += (size_t)snprintf(cmd + off, sizeof cmd - off, " %s", argv[i]);
    dprintf(fd, "=== zkt: starting %s: %s\n", name, cmd);
    pid_t pid = do_fork(path, argv, devnull, fd, fd, name, log_path);
    close(fd);
    if (devnull >= 0)
        close(devnull);
    if (pid < 0)
        zkt_log("spawn %s: fork: %s", name, strerror(errno));
    else
        zkt_log("started %s (pid %d): %s", name, (int)pid, cmd);
    return pid;
}

int zkt_proc_signal(pid_t pid, int sig)
{
    proc_entry *e = find(pid);
    if (!e || e->reaped)
        return -1;
    return kill(pid, sig);
}

bool zkt_proc_alive(pid_t pid)
{
    proc_entry *e = find(pid);
    if (!e || e->reaped)
        return false;
    int st;
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) {
        mark_reaped(pid, st);
        return false;
    }
    return r == 0;
}

int zkt_proc_wait_exit(pid_t pid, int timeout_ms, int *status)
{
    proc_entry *e = find(pid);
    if (!e)
        return -1;
    uint64_t deadline = zkt_now_ms() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms);
    for (;;) {
        if (e->reaped) {
            if (status)
                *status = e->status;
            return 0;
        }
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            mark_reaped(pid, st);
            continue;
        }
        if (r < 0 && errno == ECHILD) { /* reaped elsewhere: nothing more to learn */
            mark_reaped(pid, 0);
            continue;
        }
        if (zkt_now_ms() >= deadline)
            return -1;
        zkt_pause_ms(5);
    }
}

int zkt_exit_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return -WTERMSIG(status);
    return -1;
}

int zkt_proc_stop(pid_t pid, int timeout_ms)
{
    proc_entry *e = find(pid);
    if (!e)
        return ZKT_NOT_REGISTERED;
    int st;
    if (!e->reaped)
        kill(pid, SIGTERM);
    if (zkt_proc_wait_exit(pid, timeout_ms, &st) == 0)
        return zkt_exit_code(st);
    zkt_log("%s (pid %d) did not exit within %d ms of SIGTERM: SIGKILL", e->name, (int)pid,
            timeout_ms);
    kill(pid, SIGKILL);
    if (zkt_proc_wait_exit(pid, 10000, &st) != 0)
        zkt_log("%s (pid %d) survived SIGKILL for 10 s", e->name, (int)pid);
    return -SIGKILL;
}

int zkt_proc_kill(pid_t pid)
{
    proc_entry *e = find(pid);
    if (!e)
        return ZKT_NOT_REGISTERED;
    int st;
    if (!e->reaped)
        kill(pid, SIGKILL);
    if (zkt_proc_wait_exit(pid, 10000, &st) != 0) {
        zkt_log("%s (pid %d) survived SIGKILL for 10 s", e->name, (int)pid);
        return -SIGKILL;
    }
    return zkt_exit_code(st);
}

void zkt_proc_kill_all(void)
{
    for (int i = 0; i < g_n_procs; i++) {
        proc_entry *e = &g_procs[i];
        if (e->reaped)
            continue;
        kill(e->pid, SIGCONT); /* harmless; lets a stopped process die promptly */
        kill(e->pid, SIGKILL);
    }
    for (int i = 0; i < g_n_procs; i++)
        if (!g_procs[i].reaped)
            zkt_proc_wait_exit(g_procs[i].pid, 10000, NULL);
}

const char *zkt_proc_log(pid_t pid)
{
    proc_entry *e = find(pid);
    return e ? e->log : "";
}

static void dump_tail(const char *name, const char *path, int lines)
{
    size_t len = 0;
    char *text = zkt_read_file(path, &len);
    if (!text)
        return;
    size_t start = len;
    int seen = 0;
    while (start > 0) {
        if (text[start - 1] == '\n' && start != len && ++seen >= lines)
            break;
        start--;
    }
    fprintf(stderr, "----- %s: last %d lines of %s -----\n%s", name, lines, path, text + start);
    if (len && text[len - 1] != '\n')
        fputc('\n', stderr);
    free(text);
}

void zkt_proc_dump_logs(int lines)
{
    for (int i = 0; i < g_n_procs; i++) {
        if (!g_procs[i].log[0])
            continue;
        bool dup = false;
        for (int j = i + 1; j < g_n_procs; j++)
            if (strcmp(g_procs[i].log, g_procs[j].log) == 0)
                dup = true; /* a later start of the same process: print once, last */
        if (!dup)
            dump_tail(g_procs[i].name, g_procs[i].log, lines);
    }
    fflush(stderr);
}

/* --- zkt_run ----------------------------------------------------------------------------- */

static int append(char **buf, size_t *len, size_t *cap, const char *p, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t nc = *cap ? *cap : 4096;
        while (nc < *len + n + 1)
            nc *= 2;
        char *nb = realloc(*buf, nc);
        if (!nb)
            return -1;
        *buf = nb;
        *cap = nc;
    }
    memcpy(*buf + *len, p, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

int zkt_run(const char *const argv[], const void *in, size_t inlen, int timeout_ms,
            zkt_run_result *r)
{
    memset(r, 0, sizeof *r);
    zkt_proc_init();
    char path[PATH_MAX];
    if (resolve(argv[0], path, sizeof path) != 0) {
        zkt_log("run: %s not found", argv[0]);
        return -1;
    }
    int pin[2], pout[2], perr[2];
    if (pipe2(pin, O_CLOEXEC) != 0)
        return -1;
    if (pipe2(pout, O_CLOEXEC) != 0) {
        close(pin[0]);
        close(pin[1]);
        return -1;
    }
    if (pipe2(perr, O_CLOEXEC) != 0) {
        close(pin[0]);
        close(pin[1]);
        close(pout[0]);
        close(pout[1]);
        return -1;
    }
    const char *base = strrchr(path, '/');
    char name[64];
    snprintf(name, sizeof name, "run:%.50s", base ? base + 1 : path);
    uint64_t t0 = zkt_now_ms();
    pid_t pid = do_fork(path, argv, pin[0], pout[1], perr[1], name, NULL);
    close(pin[0]);
    close(pout[1]);
    close(perr[1]);
    if (pid < 0) {
        close(pin[1]);
        close(pout[0]);
        close(perr[0]);
        return -1;
    }
    fcntl(pin[1], F_SETFL, O_NONBLOCK);
    int in_fd = pin[1], out_fd = pout[0], err_fd = perr[0];
    size_t in_off = 0;
    if (!in || inlen == 0) {
        close(in_fd);
        in_fd = -1;
    }
    size_t out_cap = 0, err_cap = 0;
    append(&r->out, &r->out_len, &out_cap, "", 0);
    append(&r->err, &r->err_len, &err_cap, "", 0);
    uint64_t deadline = t0 + (uint64_t)timeout_ms;
    bool timed_out = false;
    while (out_fd >= 0 || err_fd >= 0) {
        uint64_t now = zkt_now_ms();
        if (now >= deadline) {
            timed_out = true;
            break;
        }
        struct pollfd pf[3];
        int n = 0;
        int idx_in = -1, idx_out = -1, idx_err = -1;
        if (in_fd >= 0) {
            pf[n] = (struct pollfd){.fd = in_fd, .events = POLLOUT};
            idx_in = n++;
        }
        if (out_fd >= 0) {
            pf[n] = (struct pollfd){.fd = out_fd, .events = POLLIN};
            idx_out = n++;
        }
        if (err_fd >= 0) {
            pf[n] = (struct pollfd){.fd = err_fd, .events = POLLIN};
            idx_err = n++;
        }
        int pr = poll(pf, (nfds_t)n, (int)(deadline - now));
        if (pr < 0 && errno != EINTR)
            break;
        if (pr <= 0)
            continue;
        if (idx_in >= 0 && pf[idx_in].revents) {
            ssize_t w = write(in_fd, (const char *)in + in_off, inlen - in_off);
            if (w > 0)
                in_off += (size_t)w;
            if (w < 0 && errno != EAGAIN)
                in_off = inlen;
            if (in_off >= inlen) {
                close(in_fd);
                in_fd = -1;
            }
        }
        char buf[65536];
        if (idx_out >= 0 && pf[idx_out].revents) {
            ssize_t k = read(out_fd, buf, sizeof buf);
            if (k > 0)
                append(&r->out, &r->out_len, &out_cap, buf, (size_t)k);
            else if (k == 0 || errno != EINTR) {
                close(out_fd);
                out_fd = -1;
            }
        }
        if (idx_err >= 0 && pf[idx_err].revents) {
            ssize_t k = read(err_fd, buf, sizeof buf);
            if (k > 0)
                append(&r->err, &r->err_len, &err_cap, buf, (size_t)k);
            else if (k == 0 || errno != EINTR) {
                close(err_fd);
                err_fd = -1;
            }
        }
    }
    if (in_fd >= 0)
        close(in_fd);
    if (out_fd >= 0)
        close(out_fd);
    if (err_fd >= 0)
        close(err_fd);
    int st = 0;
    uint64_t now = zkt_now_ms();
    int left = (!timed_out && now < deadline) ? (int)(deadline - now) : 0;
    if (zkt_proc_wait_exit(pid, left, &st) == 0 && !timed_out) {
        r->code = zkt_exit_code(st);
    } else {
        zkt_log("%s (pid %d) still running after %d ms: SIGKILL", name, (int)pid, timeout_ms);
        zkt_proc_kill(pid);
        r->code = ZKT_NOT_REGISTERED;
    }
    r->elapsed_ms = (int)(zkt_now_ms() - t0);
    return 0;
}

void zkt_run_result_free(zkt_run_result *r)
{
    if (!r)
        return;
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof *r);
}
