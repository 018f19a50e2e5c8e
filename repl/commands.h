/* commands.h: the zkv command table and the pure decisions around it: which command a
 * line names, whether its argument count fits, how scan's arguments read, which argument
 * stands for stdin, the short names of client status codes used in error messages,
 * versions as "EPOCH:SEQ" and the binary-safe JSON form of keys and values. No I/O. */
#ifndef ZKV_REPL_COMMANDS_H
#define ZKV_REPL_COMMANDS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zkv/zkv.h>

#include "tokenize.h"

struct cJSON;

typedef enum {
    ZKV_REPL_CMD_GET,
    ZKV_REPL_CMD_PUT,
    ZKV_REPL_CMD_DEL,
    ZKV_REPL_CMD_TTL,
    ZKV_REPL_CMD_EXPIRE,
    ZKV_REPL_CMD_PERSIST,
    ZKV_REPL_CMD_MGET,
    ZKV_REPL_CMD_MSET,
    ZKV_REPL_CMD_SCAN,
    ZKV_REPL_CMD_RANGES,
    ZKV_REPL_CMD_NODES,
    ZKV_REPL_CMD_ADMIN,
    ZKV_REPL_CMD_PING,
    ZKV_REPL_CMD_INFO,
    ZKV_REPL_CMD_LATENCY,
    ZKV_REPL_CMD_HELP,
    ZKV_REPL_CMD_QUIT,
} zkv_repl_cmd_id;

typedef struct zkv_repl_command {
    zkv_repl_cmd_id id;
    int min_args; /* arguments after the command name */
    int max_args;
    bool needs_client; /* talks to the cluster */
    const char *name;
    const char *alias;   /* another accepted name, or NULL */
    const char *usage;   /* "put KEY VALUE" */
    const char *summary; /* one line for the command list */
    const char *help;    /* a paragraph for "help NAME" */
} zkv_repl_command;

/* The table, in the order "help" lists it. */
const zkv_repl_command *zkv_repl_commands(size_t *n);

/* Command by name or alias, ASCII case-insensitive; NULL when unknown. */
const zkv_repl_command *zkv_repl_command_find(const char *name, size_t len);

typedef enum {
    ZKV_REPL_DISPATCH_OK = 0,
    ZKV_REPL_DISPATCH_EMPTY,   /* no arguments: nothing to do */
    ZKV_REPL_DISPATCH_UNKNOWN, /* err: "unknown command 'foo' (try 'help')" */
    ZKV_REPL_DISPATCH_ARITY,   /* err: "usage: put KEY VALUE" */
} zkv_repl_dispatch_result;

/* Decides what args (argv[0] the command name) asks for. On ZKV_REPL_DISPATCH_OK *cmd is the
 * command; otherwise err holds the message to print. */
zkv_repl_dispatch_result zkv_repl_dispatch(const zkv_repl_args *args, const zkv_repl_command **cmd,
                                           char *err, size_t errlen);

/* Arguments of "scan [START [END]] [limit N]". The bare word limit (tokenize.h) as the
 * second-to-last argument is the keyword: the last one, N, must be a decimal from 1 to
 * ZKV_REPL_SCAN_MAX_LIMIT, and the arguments before it are START and END. A bare limit as
 * the last argument is an error (it lacks its N). A key named limit is written quoted,
 * "limit", in the REPL and in scripts. Pointers are into args. */
#define ZKV_REPL_SCAN_DEFAULT_LIMIT 1000
/* Scan tokens carry three keys: with 4 KiB keys, 12 KiB and a few bytes. */
#define ZKV_REPL_TOKEN_MAX (3 * 4096 + 16)
/* Writes data as lowercase hex with a NUL (out: 2 * len + 1 bytes). */
void zkv_repl_hex(const void *data, size_t len, char *out);

typedef struct zkv_repl_scan_args {
    const char *start;
    size_t slen;
    const char *end;
    size_t elen;
    size_t limit; /* ZKV_REPL_SCAN_DEFAULT_LIMIT when not given */
    /* the options after them: --reverse, --keys-only, --prefix P, --token HEX */
    bool reverse, keys_only;
    const char *prefix;
    size_t plen;
    uint8_t token[ZKV_REPL_TOKEN_MAX]; /* decoded from hex */
    size_t tlen;
} zkv_repl_scan_args;

#define ZKV_REPL_SCAN_MAX_LIMIT 1000000

/* Parses args (argv[0] == "scan"): [START [END]] [limit N] then options, each bare:
 * --reverse, --keys-only, --prefix P, --token HEX (a token scan printed, in hex).
 * Returns 0, or -1 with the message in err. */
int zkv_repl_scan_args_parse(const zkv_repl_args *args, zkv_repl_scan_args *out, char *err,
                             size_t errlen);

/* The note scan prints on stderr when a replica answered some of its keys
 * (zkv_scan_stale). */
#define ZKV_REPL_SCAN_STALE_NOTE                                                                   \
    "(stale: a replica answered part of this scan; it may lag the owner)"

/* The largest input zkv reads from stdin for an argument (put KEY -, -x): libzkv's
 * default largest value, 1 MiB (ZKV_MAX_VALUE_DEFAULT in common/frame.h), which the
 * client it makes keeps. */
#define ZKV_REPL_STDIN_MAX ((size_t)1024 * 1024)

/* Index in args (argv[0] the command) of the argument that stands for standard input:
 * VALUE of "put KEY -" (or "set KEY -") when it is a bare "-"; 0 when none does. One-shot
 * mode reads stdin there; the REPL and scripts, whose stdin carries the commands, refuse
 * it (a quoted "-" is the one-byte value). */
size_t zkv_repl_stdin_arg(const zkv_repl_args *args);

/* Versions on the command line are "EPOCH:SEQ" (the range epoch and the sequence number
 * of the write, zkv_version), both unsigned 64-bit decimals: "3:17". */
#define ZKV_REPL_VERSION_SIZE 42 /* 20 digits, ':', 20 digits, NUL */

/* Writes "EPOCH:SEQ" to out (truncated to outlen, NUL terminated). Returns the length of
 * the whole text, as snprintf. */
int zkv_repl_version_format(zkv_version v, char *out, size_t outlen);

/* Parses "EPOCH:SEQ": 1 to 20 decimal digits, ':', 1 to 20 decimal digits, each at most
 * 2^64-1; no sign, blank or other byte. Returns 0, or -1 with *out unchanged. */
int zkv_repl_version_parse(const char *text, zkv_version *out);

/* The options of a write after its arguments, from args->argv[first], in any order: a
 * condition, "--if-absent" (put only) or "--if-version EPOCH:SEQ", and "--ttl SECONDS" (put
 * only). Returns 0 with *cond (0 for none, else ZKV_IF_ABSENT or ZKV_IF_VERSION),
 * *expected and *ttl_ms (0: none), or -1 with err. */
int zkv_repl_write_cond(const zkv_repl_args *args, size_t first, bool put, int *cond,
                        zkv_version *expected, uint64_t *ttl_ms, char *err, size_t errlen);

/* The JSON of a key or value under --json (binary-safe): a JSON string when the bytes
 * are valid UTF-8 (RFC 3629: no overlong form, surrogate or code point above U+10FFFF)
 * without a NUL byte, else the object {"base64":"..."} (RFC 4648, padded). A new cJSON
 * item, or NULL when out of memory. */
struct cJSON *zkv_repl_json_bytes(const void *data, size_t len);

/* Whether zkv_repl_json_bytes writes data as a JSON string. */
bool zkv_repl_json_is_text(const void *data, size_t len);

/* Standard base64 of data with padding, NUL terminated, into out, which holds
 * ZKV_REPL_BASE64_SIZE(len) bytes. Returns the length without the NUL. */
#define ZKV_REPL_BASE64_SIZE(len) (4 * (((len) + 2) / 3) + 1)
size_t zkv_repl_base64(const void *data, size_t len, char *out);

/* Short protocol-style name of a libzkv status: "NOT_FOUND", "UNAVAILABLE", ...;
 * "ERROR" for a code this table does not know. */
const char *zkv_repl_status_name(int code);

/* The note one-shot get, scripts and the REPL print on stderr for a value a replica
 * answered: "(stale: replica node-2 at 3:1042)", the replica's (epoch, seq) position in
 * the range's log. */
void zkv_repl_stale_note(const char *node, uint64_t epoch, uint64_t seq, char *out, size_t outlen);
/* The second note of a stale value: how far behind its owner the replica was
 * ("(lag: 120 ms, 3 entries)"; UINT64_MAX ms: "(lag: not caught up since it started)"). */
void zkv_repl_lag_note(uint64_t lag_ms, uint64_t lag_entries, char *out, size_t outlen);

/* Process exit status for a libzkv status: 0 ok, 1 not found, 2 any other error. */
int zkv_repl_exit_status(int code);

/* Writes the list of commands ("help") or the help of one command into out (NUL
 * terminated, truncated to outlen). Returns -1 when name is not a command. */
int zkv_repl_help_text(const char *name, size_t len, char *out, size_t outlen);

/* Command-name completion: the i-th (0-based) command name or alias that starts with
 * prefix, or NULL when there are no more. */
const char *zkv_repl_complete(const char *prefix, size_t i);

/* Whether tab completion at byte offset start of line (the start of the word being
 * completed) should offer command names: for the first word, and for the word after
 * "help". */
bool zkv_repl_completion_wants_command(const char *line, size_t start);

#endif
