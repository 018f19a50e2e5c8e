/* main.c: the zkv command line. Parses the flags, then runs one command given on the
 * command line, or the interactive REPL (GNU readline: editing, a history file, tab
 * completion of command names) when stdin is a terminal, or the commands read line by
 * line from stdin otherwise (scripts: no prompt, exit status of the last failing command).
 * Command execution lives in session.c; this file is the three input loops. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "common/zkacl.h"
#include "commands.h"
#include "common/flags.h"
#include "common/tls.h"
#include "session.h"

#define HISTORY_MAX 1000

static const char synopsis[] =
    "[--json | --raw | --quoted] [-x] [--timeout MS] [--strict | --replica | --nearest] "
    "[--hedge MS] [--max-lag-ms MS] [--max-lag-entries N] [--zone Z] [--ack-owner] "
    "[--latency | --latency-history [-i SECONDS]] [COMMAND ARGS...]";
static const char description[] =
    "The zkv command line. With a COMMAND, runs it once and exits 0 (ok), 1 (key not\n"
    "found) or 2 (error, reason on stderr). Without one, reads commands from stdin: the\n"
    "interactive REPL on a terminal, else one command per line (a script). Commands:\n"
    "get KEY, put KEY VALUE, del KEY, scan [START [END]] [limit N], ranges, nodes,\n"
    "ping [NODE], info [NODE], latency [NODE], admin ..., help [COMMAND], quit.\n"
    "'zkv help' explains quoting and escapes.\n"
    "Command-line arguments cannot hold a NUL byte: 'zkv put KEY -' reads the value from\n"
    "stdin (binary-safe, at most 1 MiB), as 'zkv -x put KEY' does (-x: the last argument\n"
    "from stdin). get prints the value and a newline; --raw the bytes alone; --quoted the\n"
    "\"...\" form with \\xHH escapes. --json: keys and values as strings when UTF-8 without\n"
    "NUL, else {\"base64\":\"...\"}; versions as \"EPOCH:SEQ\"; a missing key is null.\n"
    "Reads go to the key's owner; when it is unreachable or absent a replica answers and\n"
    "get notes \"(stale: replica node-2 at 3:1042)\" and the replica's lag on stderr.\n"
    "--replica, --nearest and --hedge read from replicas on purpose; --max-lag-ms and\n"
    "--max-lag-entries bound how stale a replica's answer may be (docs/api.md). Writes to\n"
    "a range without a serving owner fail within about a second: UNAVAILABLE, exit 2.";

/* --- script mode ----------------------------------------------------------------------- */

static int run_script(zkv_repl_session *s, FILE *in)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int last_failure = 0;
    while (!s->quit && (len = getline(&line, &cap, in)) >= 0) {
        s->line++;
        if ((size_t)len != strlen(line)) {
            fprintf(stderr, "zkv: line %lu: NUL byte in line (use \\x00)\n", s->line);
            last_failure = 2;
            continue;
        }
        int status = zkv_repl_session_run_line(s, line);
        if (status != 0)
            last_failure = status;
    }
    free(line);
    return last_failure;
}

/* --- interactive mode ------------------------------------------------------------------- */

static zkv_repl_session *g_session;
static volatile sig_atomic_t g_sigint, g_sigwinch, g_sigtstp;
static char g_history_path[4096];
static bool g_history_ok;

static void on_signal(int sig)
{
    if (sig == SIGINT)
        g_sigint = 1;
    else if (sig == SIGTSTP)
        g_sigtstp = 1;
    else
        g_sigwinch = 1;
}

static char *command_generator(const char *text, int state)
{
    static size_t next;
    if (state == 0)
        next = 0;
    const char *name = zkv_repl_complete(text, next++);
    return name ? strdup(name) : NULL;
}

static char **complete(const char *text, int start, int end)
{
    (void)end;
    rl_attempted_completion_over = 1; /* never fall back to file names */
    if (zkv_repl_completion_wants_command(rl_line_buffer, (size_t)start))
        return rl_completion_matches(text, command_generator);
    return NULL;
}

static void history_setup(void)
{
    const char *env = getenv("ZKV_HISTORY");
    const char *home = getenv("HOME");
    g_history_ok = false;
    if (env) {
        if (!*env) /* ZKV_HISTORY= turns the history file off */
            return;
        snprintf(g_history_path, sizeof g_history_path, "%s", env);
    } else if (home && *home) {
        snprintf(g_history_path, sizeof g_history_path, "%s/.zkv_history", home);
    } else {
        return;
    }
    stifle_history(HISTORY_MAX);
    int rc = read_history(g_history_path);
    if (rc == ENOENT)
        rc = write_history(g_history_path); /* create it, so that appends work */
    g_history_ok = rc == 0;                 /* unreadable or unwritable: history in memory */
}

static void history_add(const char *line)
{
    HIST_ENTRY *last = history_length > 0 ? history_get(history_base + history_length - 1) : NULL;
    if (!line[strspn(line, " \t")] || (last && strcmp(last->line, line) == 0))
        return;
    add_history(line);
    if (g_history_ok && append_history(1, g_history_path) != 0)
        g_history_ok = false; /* stop trying; keep the REPL working */
}

static void on_line(char *line)
{
    if (!line) { /* Ctrl-D */
        fputc('\n', stdout);
        g_session->quit = true;
    } else {
        history_add(line);
        zkv_repl_session_run_line(g_session, line);
        free(line);
        g_sigint = 0; /* a Ctrl-C during the command is spent */
    }
    if (g_session->quit)
        rl_callback_handler_remove();
}

static int run_interactive(zkv_repl_session *s)
{
    char prompt[256];
    if (strcmp(s->cluster, "default") == 0)
        snprintf(prompt, sizeof prompt, "zkv> ");
    else
        snprintf(prompt, sizeof prompt, "zkv:%s> ", s->cluster);

    g_session = s;
    rl_readline_name = "zkv";
    rl_attempted_completion_function = complete;
    rl_catch_signals = 0; /* our handlers below; readline is told in the loop */
    rl_catch_sigwinch = 0;
    history_setup();

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL); /* no SA_RESTART: select returns EINTR */
    sigaction(SIGWINCH, &sa, NULL);
    sigaction(SIGTSTP, &sa, NULL);

    printf("zkv %s, cluster '%s' at %s. Type 'help' for commands, Ctrl-D to leave.\n", ZKV_VERSION,
           s->cluster, s->zk);
    fflush(stdout);
    zkv_repl_session_connect(s); /* an early word on a bad --zk; commands retry */

    rl_callback_handler_install(prompt, on_line);
    while (!s->quit) {
        fd_set fds;
        FD_ZERO(&fds);
        FD_SET(fileno(rl_instream), &fds);
        int n = select(fileno(rl_instream) + 1, &fds, NULL, NULL, NULL);
        if (g_sigtstp) { /* Ctrl-Z: give the shell a sane terminal, redraw on return */
            g_sigtstp = 0;
            rl_cleanup_after_signal();
            signal(SIGTSTP, SIG_DFL);
            raise(SIGTSTP); /* stopped here until SIGCONT */
            sigaction(SIGTSTP, &sa, NULL);
            rl_reset_after_signal();
            rl_forced_update_display();
            continue;
        }
        if (g_sigwinch) {
            g_sigwinch = 0;
            rl_resize_terminal();
        }
        if (g_sigint) { /* Ctrl-C: drop the line being edited, new prompt */
            g_sigint = 0;
            rl_free_line_state();
            rl_callback_sigcleanup();
            rl_replace_line("", 0);
            rl_crlf();
            rl_on_new_line();
            rl_redisplay();
            continue;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("zkv: select");
            rl_callback_handler_remove();
            break;
        }
        if (n > 0)
            rl_callback_read_char();
    }
    if (g_history_ok)
        history_truncate_file(g_history_path, HISTORY_MAX);
    return 0;
}

/* --- main -------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    bool json = false, raw = false, quoted = false, from_stdin = false, strict = false,
         replica = false, nearest = false, ack_owner = false, latency = false,
         latency_history = false;
    long timeout = 5000, hedge = -1, max_lag_ms = 0, max_lag_entries = 0, interval = 15;
    const char *zone = "", *zk_auth = NULL;
    zkv_tls_files tls = {0};
    const zkv_flag flags[] = {
        {"json", 0, ZKV_FLAG_BOOL, &json, NULL,
         "print results as JSON (bytes as UTF-8 strings, else {\"base64\":...}; versions "
         "\"EPOCH:SEQ\")",
         0, 0},
        {"raw", 0, ZKV_FLAG_BOOL, &raw, NULL,
         "get prints exactly the value's bytes (no newline); scan the bytes unescaped", 0, 0},
        {"quoted", 0, ZKV_FLAG_BOOL, &quoted, NULL,
         "get and scan print keys and values as \"...\" with \\xHH escapes, as the REPL reads "
         "them",
         0, 0},
        {"stdin", 'x', ZKV_FLAG_BOOL, &from_stdin, NULL,
         "read the command's last argument from stdin, binary-safe, at most 1 MiB (redis-cli's "
         "-x): zkv -x put KEY < FILE",
         0, 0},
        {"timeout", 0, ZKV_FLAG_INT, &timeout, "MS",
         "time budget of each call (and of connecting), in milliseconds", 1, 3600000},
        {"strict", 0, ZKV_FLAG_BOOL, &strict, NULL,
         "reads fail rather than fall back to a replica when the owner is down", 0, 0},
        {"replica", 0, ZKV_FLAG_BOOL, &replica, NULL,
         "read from the nearest replica on purpose (values flagged stale)", 0, 0},
        {"nearest", 0, ZKV_FLAG_BOOL, &nearest, NULL,
         "read from the nearest copy: one in --zone (the owner first), else the owner", 0, 0},
        {"hedge", 0, ZKV_FLAG_INT, &hedge, "MS",
         "hedged reads: ask a replica too when the owner has not answered within MS; the "
         "first answer wins",
         0, 3600000},
        {"max-lag-ms", 0, ZKV_FLAG_INT, &max_lag_ms, "MS",
         "a replica more than MS behind its owner refuses reads (the owner is asked)", 0, 86400000},
        {"max-lag-entries", 0, ZKV_FLAG_INT, &max_lag_entries, "N",
         "a replica missing more than N log entries refuses reads (the owner is asked)", 0,
         1000000000},
        {"zone", 0, ZKV_FLAG_STRING, &zone, "Z",
         "this client's zone ($ZKV_ZONE): replica reads and --nearest prefer copies in it", 0, 0},
        {"ack-owner", 0, ZKV_FLAG_BOOL, &ack_owner, NULL,
         "writes are acknowledged once the owner alone has them", 0, 0},
        {"zk-auth", 0, ZKV_FLAG_STRING, &zk_auth, "FILE",
         "ZooKeeper digest credentials (USER:PASSWORD, mode 600) of a cluster started with "
         "--zk-auth: needed by 'admin' commands there",
         0, 0},
        {"latency", 0, ZKV_FLAG_BOOL, &latency, NULL,
         "measure round trips to the nodes until Ctrl-C, as redis-cli --latency: zkv --latency "
         "[NODE] runs the command latency [NODE]",
         0, 0},
        {"latency-history", 0, ZKV_FLAG_BOOL, &latency_history, NULL,
         "as --latency, a line every -i SECONDS (15), starting again each time", 0, 0},
        {"interval", 'i', ZKV_FLAG_INT, &interval, "SECONDS", "the period of --latency-history", 1,
         86400},
        ZKV_FLAGS_TLS(&tls),
    };
    zkv_common_opts common;
    int first = 0;
    switch (zkv_flags_parse("zkv", synopsis, description, flags, sizeof flags / sizeof flags[0],
                            &common, argc, argv, &first)) {
    case ZKV_FLAGS_OK:
        break;
    case ZKV_FLAGS_EXIT:
        return 0;
    case ZKV_FLAGS_ERROR:
        return 2;
    }

    bool hedged = hedge >= 0;
    const char *conflict = (strict + replica + nearest) > 1 ? "--strict, --replica and --nearest"
                           : (strict || replica) && hedged  ? "--hedge and --strict or --replica"
                           : (json + raw + quoted) > 1      ? "--json, --raw and --quoted"
                                                            : NULL;
    if (conflict) {
        fprintf(stderr, "zkv: %s exclude each other\n", conflict);
        zkv_flags_usage(stderr, "zkv", synopsis, flags, sizeof flags / sizeof flags[0]);
        return 2;
    }
    char history_arg[24];
    snprintf(history_arg, sizeof history_arg, "%ld", interval);
    char *latency_argv[5] = {"latency"};
    if (latency || latency_history) { /* the command latency [NODE] [--history S] */
        if (first + 1 < argc || from_stdin) {
            fprintf(stderr, "zkv: --latency takes at most a NODE, and no other command\n");
            return 2;
        }
        int n = 1;
        if (first < argc)
            latency_argv[n++] = argv[first];
        if (latency_history) {
            latency_argv[n++] = "--history";
            latency_argv[n++] = history_arg;
        }
        latency_argv[n] = NULL;
        argv = latency_argv;
        argc = n;
        first = 0;
    }
    if (from_stdin && first >= argc) {
        fprintf(stderr, "zkv: -x reads the last argument of a command from stdin: give the "
                        "command (zkv -x put KEY < FILE)\n");
        return 2;
    }
    zkv_zk_cred zk_cred;
    memset(&zk_cred, 0, sizeof zk_cred);
    char zerr[300];
    if (zk_auth && zkv_zk_cred_load(zk_auth, &zk_cred, zerr, sizeof zerr) != 0) {
        fprintf(stderr, "zkv: --zk-auth %s\n", zerr);
        return 2;
    }
    zkv_repl_session s = {
        .zk = common.zk,
        .cluster = common.cluster,
        .timeout_ms = (int)timeout,
        .json = json,
        .raw = raw,
        .quoted = quoted,
        .read_flags = (strict    ? ZKV_FLAG_OWNER_ONLY
                       : replica ? ZKV_FLAG_READ_REPLICA
                       : nearest ? ZKV_FLAG_READ_NEAREST
                                 : ZKV_FLAG_NONE) |
                      (hedged ? ZKV_FLAG_HEDGE : 0),
        .write_flags = ack_owner ? ZKV_FLAG_ACK_OWNER : ZKV_FLAG_NONE,
        .zone = zone,
        .max_lag_ms = (uint64_t)max_lag_ms,
        .max_lag_entries = (uint64_t)max_lag_entries,
        .hedge_ms = (int)hedge,
        .zk_auth = zk_auth ? zk_cred.user_password : NULL,
        .tls = tls,
    };
    int status;
    if (first < argc) {
        zkv_repl_args args;
        s.mode = ZKV_REPL_MODE_ONESHOT;
        if (zkv_repl_args_from_argv(argc - first, argv + first, &args) < 0) {
            fprintf(stderr, "zkv: out of memory\n");
            return 2;
        }
        /* -x: stdin is one more, last argument; else "put KEY -" reads it as VALUE */
        size_t in = from_stdin ? args.argc : zkv_repl_stdin_arg(&args);
        if (in > 0)
            status = zkv_repl_session_stdin_arg(&s, &args, in);
        else
            status = 0;
        if (status == 0)
            status = zkv_repl_session_run(&s, &args);
        zkv_repl_args_free(&args);
    } else if (isatty(STDIN_FILENO)) {
        s.mode = ZKV_REPL_MODE_INTERACTIVE;
        status = run_interactive(&s);
    } else {
        s.mode = ZKV_REPL_MODE_SCRIPT;
        status = run_script(&s, stdin);
    }
    zkv_repl_session_close(&s);
    if (fflush(stdout) != 0 && status == 0)
        status = 2;
    return status;
}
