/* session.h: runs zkv commands against a cluster and prints their results: the I/O shell
 * around the pure parts (tokenize, commands, describe_render). One session per process;
 * the client is connected on the first command that needs it, and again after a failed
 * connection. Output goes to stdout, errors and notes to stderr, in the form the mode
 * asks for:
 *   one-shot     "zkv: put: UNAVAILABLE: range r0003 has no owner"
 *   script       "zkv: line 3: put: UNAVAILABLE: ..."
 *   interactive  "(error) put: UNAVAILABLE: ..." */
#ifndef ZKV_REPL_SESSION_H
#define ZKV_REPL_SESSION_H
#include <stdbool.h>

#include <zkv/zkv.h>
#include "common/tls.h"

#include "tokenize.h"

typedef enum {
    ZKV_REPL_MODE_ONESHOT,
    ZKV_REPL_MODE_SCRIPT,
    ZKV_REPL_MODE_INTERACTIVE
} zkv_repl_mode;

typedef struct zkv_repl_session {
    const char *zk;
    const char *cluster;
    int timeout_ms;
    bool json;            /* --json: results as JSON (bytes as commands.h's json_bytes) */
    bool raw;             /* --raw: get and scan print the bytes as they are, get no newline */
    bool quoted;          /* --quoted: get and scan print the "..." form (zkv_repl_quote) */
    unsigned read_flags;  /* flags of get and scan (ZKV_FLAG_OWNER_ONLY, _READ_REPLICA) */
    unsigned write_flags; /* flags of put and del (ZKV_FLAG_ACK_OWNER) */
    const char *zone;     /* the client's zone for replica reads ("" or NULL: none) */
    uint64_t max_lag_ms;  /* --max-lag-ms, --max-lag-entries: staleness bound (0: none) */
    uint64_t max_lag_entries;
    int hedge_ms;        /* --hedge MS: hedged reads after MS (-1: not hedged) */
    const char *zk_auth; /* ZooKeeper digest USER:PASSWORD (NULL: none) */
    zkv_tls_files tls;   /* --tls-*: TLS to the nodes (none given: $ZKV_TLS_*, else plain) */
    zkv_repl_mode mode;
    unsigned long line; /* current script line, for messages */
    bool quit;          /* set by quit/exit */
    zkv_client *client; /* NULL until connected */
} zkv_repl_session;

/* Connects now (interactive start-up). Returns a libzkv status; prints the failure. */
int zkv_repl_session_connect(zkv_repl_session *s);
/* One-shot mode: sets argument i of args (i == args->argc: appends one) to all of
 * standard input, binary-safe, at most ZKV_REPL_STDIN_MAX bytes. Returns 0, or 2 (the exit
 * status) after printing the reason: more input than that ("put: TOO_LARGE: ..."), a read
 * error or no memory. */
int zkv_repl_session_stdin_arg(zkv_repl_session *s, zkv_repl_args *args, size_t i);
/* Runs one command. Returns the exit status: 0 ok, 1 key not found, 2 error. */
int zkv_repl_session_run(zkv_repl_session *s, const zkv_repl_args *args);
/* Tokenizes and runs one line (empty lines and comments do nothing and return 0). */
int zkv_repl_session_run_line(zkv_repl_session *s, const char *line);
/* Prints msg about command what in the mode's form ("zkv: what: msg", ...) on stderr. */
void zkv_repl_session_report(const zkv_repl_session *s, const char *what, const char *msg);
/* Reports a failed libzkv call (code, zkv_last_error()) as above; returns the exit status. */
int zkv_repl_session_report_status(const zkv_repl_session *s, const char *what, int code);
/* Closes the client. */
void zkv_repl_session_close(zkv_repl_session *s);

#endif
