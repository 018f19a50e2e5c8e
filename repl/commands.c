/* commands.c: the command table of zkv, dispatch (name -> command, argument count), scan
 * argument parsing, the stdin argument, status names, versions as "EPOCH:SEQ", the JSON
 * form of bytes and help text. Pure functions over data. */
#include "commands.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <zkv/zkv.h>

static const zkv_repl_command commands[] = {
    {.id = ZKV_REPL_CMD_GET,
     .name = "get",
     .alias = NULL,
     .min_args = 1,
     .max_args = 1,
     .needs_client = true,
     .usage = "get KEY",
     .summary = "print the value of KEY",
     .help = "Prints the value's raw bytes followed by a newline; with --raw the bytes alone, "
             "with --quoted the \"...\" form the REPL reads back (\\xHH for other bytes than "
             "printable ASCII). A missing key prints \"(not found)\" on stderr (exit status 1). "
             "When the owner of the key's range is unreachable or absent, a replica answers: the "
             "value is printed as usual, and on stderr a note such as \"(stale: replica node-2 at "
             "3:1042)\" names the replica and the EPOCH:SEQ of the range's log it had applied, "
             "and \"(lag: 120 ms, 0 entries)\" how far behind its owner it was (exit status 0). "
             "Options of zkv: --strict turns the fallback off; --replica reads a replica on "
             "purpose, --nearest the nearest copy by --zone, --hedge MS asks a replica too when "
             "the owner has not answered within MS (first answer wins); --max-lag-ms MS and "
             "--max-lag-entries N make a replica further behind refuse, and the owner is asked. "
             "With --json: {\"key\",\"value\",\"version\":\"EPOCH:SEQ\",\"stale\",\"node\","
             "\"position\":\"EPOCH:SEQ\",\"lag_ms\",\"lag_entries\"} (version: the value's "
             "last write; position, lag: for a stale value, how far the answering replica had "
             "applied the range's log and how far behind its owner it was, lag_ms -1 when not "
             "caught up since it started), key and value as JSON strings when they are UTF-8 "
             "without NUL, else {\"base64\":\"...\"}; a missing key prints null (exit status "
             "1)."},
    {.id = ZKV_REPL_CMD_PUT,
     .name = "put",
     .alias = "set",
     .min_args = 2,
     .max_args = 6,
     .needs_client = true,
     .usage = "put KEY VALUE [--if-absent | --if-version EPOCH:SEQ] [--ttl SECONDS]",
     .summary = "set KEY to VALUE",
     .help = "Writes KEY = VALUE and prints OK once the write is acknowledged (by the owner "
             "and its in-sync replicas; with --ack-owner by the owner alone). On the command "
             "line a VALUE of - reads the value from stdin: all of it, binary-safe, at most 1 MiB "
             "(1048576 bytes; more is TOO_LARGE and nothing is written); zkv -x put KEY does "
             "the same (-x: the last argument from stdin, as redis-cli's). In the REPL and in "
             "scripts stdin carries the commands: a bare - is refused there, and \"-\" quoted "
             "is the one-byte value. When the range has no serving owner the write fails within "
             "about a second with UNAVAILABLE (exit status 2). --if-absent writes only if KEY "
             "does not exist, --if-version EPOCH:SEQ only if its version is that (compare-and-"
             "set; 0:0 for a missing key): otherwise nothing is written, CONDITION_FAILED says "
             "the key's version now, and the exit status is 3 (zkv -x put appends stdin after "
             "the options: write put KEY - --if-absent instead). --ttl SECONDS makes the key "
             "expire that long after the write (see ttl, expire, persist). With --json: "
             "{\"ok\":true,\"version\":\"EPOCH:SEQ\"}, the version of the write, or "
             "{\"ok\":false,\"version\":\"EPOCH:SEQ\"} when the condition failed."},
    {.id = ZKV_REPL_CMD_DEL,
     .name = "del",
     .alias = "delete",
     .min_args = 1,
     .max_args = 3,
     .needs_client = true,
     .usage = "del KEY [--if-version EPOCH:SEQ]",
     .summary = "delete KEY",
     .help = "Deletes KEY and prints OK. Deleting a missing key is not an error. Fails like "
             "put when the range has no serving owner. --if-version EPOCH:SEQ deletes only at "
             "that version, as put's. With --json: {\"ok\":true,\"version\":\"EPOCH:SEQ\"}."},
    {.id = ZKV_REPL_CMD_TTL,
     .name = "ttl",
     .alias = NULL,
     .min_args = 1,
     .max_args = 1,
     .needs_client = true,
     .usage = "ttl KEY",
     .summary = "print the seconds KEY has left",
     .help = "Prints the seconds before KEY expires (rounded up), -1 when it does not expire, "
             "and -2 when it does not exist (exit status 1), as redis-cli does. With --json: "
             "{\"ttl_ms\":N} (-1 for none), null for a missing key."},
    {.id = ZKV_REPL_CMD_EXPIRE,
     .name = "expire",
     .alias = NULL,
     .min_args = 2,
     .max_args = 2,
     .needs_client = true,
     .usage = "expire KEY SECONDS",
     .summary = "make KEY expire SECONDS from now",
     .help = "Sets KEY's expiry anew, SECONDS from now, keeping its value, and prints OK; a "
             "missing key prints (not found) (exit status 1). An expired key reads as missing at "
             "once, on every copy."},
    {.id = ZKV_REPL_CMD_PERSIST,
     .name = "persist",
     .alias = NULL,
     .min_args = 1,
     .max_args = 1,
     .needs_client = true,
     .usage = "persist KEY",
     .summary = "make KEY not expire",
     .help = "Takes KEY's expiry away, keeping its value, and prints OK; a missing key prints "
             "(not found) (exit status 1)."},
    {.id = ZKV_REPL_CMD_MGET,
     .name = "mget",
     .alias = NULL,
     .min_args = 1,
     .max_args = 1000,
     .needs_client = true,
     .usage = "mget KEY [KEY ...]",
     .summary = "print the values of several keys",
     .help = "Reads every KEY, the owners of their ranges asked in parallel (pipelined, one "
             "write per node), and prints one line per key in order: the value as get prints "
             "it, or (nil) for a missing key. With --json: an array of get's objects, null for "
             "a missing key."},
    {.id = ZKV_REPL_CMD_MSET,
     .name = "mset",
     .alias = NULL,
     .min_args = 2,
     .max_args = 2000,
     .needs_client = true,
     .usage = "mset KEY VALUE [KEY VALUE ...]",
     .summary = "set several keys of one range atomically",
     .help = "Writes every KEY = VALUE as one atomic batch and prints OK: all are written or "
             "none. The keys must lie in one range (the error names two ranges otherwise: "
             "see ranges). With --json: {\"ok\":true,\"versions\":[\"EPOCH:SEQ\"...]}."},
    {.id = ZKV_REPL_CMD_SCAN,
     .name = "scan",
     .alias = NULL,
     .min_args = 0,
     .max_args = 10,
     .needs_client = true,
     .usage = "scan [START [END]] [limit N] [--reverse] [--keys-only] [--prefix P] [--token HEX]",
     .summary = "list keys in [START, END) in key order",
     .help = "Prints one KEY<TAB>VALUE line per key with START <= KEY < END, in key order, across "
             "ranges. Bytes outside printable ASCII (and the backslash) are shown as \\xHH; with "
             "--quoted each key and value is in the \"...\" form the REPL reads back, with --raw "
             "as its bytes. A missing or empty START or END is unbounded (scan \"\" b). At most N "
             "keys are shown (default 1000, at most 1000000): scan limit 5, scan a limit 5, "
             "scan a b limit 5; when more follow, a note says so on stderr. The word limit, last "
             "or second to last, is always the keyword (scan limit alone lacks its N: an error); "
             "a key named limit is written \"limit\" in the REPL or a script. Ranges whose owner "
             "is unreachable are read from a replica, like get, and the note \"(stale: a replica "
             "answered part of this scan; it may lag the owner)\" follows on stderr. With --json: "
             "{\"items\":[{\"key\",\"value\"}],\"stale\",\"more\",\"token\"}, keys and "
             "values as get encodes them. --reverse lists in descending key order, --keys-only "
             "without values, --prefix P only the keys that begin with P. When the limit stops "
             "it, the note gives the token that goes on: scan limit 10 --token HEX continues "
             "after the last key printed, in the same order and bounds (the token carries "
             "them), across splits and moves of ranges."},
    {.id = ZKV_REPL_CMD_RANGES,
     .name = "ranges",
     .alias = NULL,
     .min_args = 0,
     .max_args = 0,
     .needs_client = true,
     .usage = "ranges",
     .summary = "show the key ranges and owners",
     .help = "Prints a table of the cluster's ranges, read fresh from ZooKeeper: id, key range "
             "(-inf/+inf when unbounded), owner node, recovery replicas, the in-sync replicas, "
             "epoch, the owner's last SEQ in the range's log, the range's SIZE on disk as its "
             "owner last reported it (? before the first report), the LAG of each replica in log "
             "entries behind the owner (node-2:0,node-3:12; ? when the owner did not answer), "
             "and the address of the owner ((down) when the owner is not registered). With "
             "--json: the JSON array of ranges, with \"seq\" and \"lag\" "
             "({\"node-2\":{\"seq_behind\",\"lag_ms\",\"connected\"}}) when the owner "
             "answered, \"bytes\" and \"writes_per_s\" when it reported them."},
    {.id = ZKV_REPL_CMD_NODES,
     .name = "nodes",
     .alias = NULL,
     .min_args = 0,
     .max_args = 0,
     .needs_client = true,
     .usage = "nodes",
     .summary = "show the live nodes",
     .help =
         "Prints a table of the registered nodes: id, address, incarnation, the number of "
         "ranges owned and the number of ranges it is a replica of. With --json: the JSON array "
         "of nodes."},
    {.id = ZKV_REPL_CMD_ADMIN,
     .name = "admin",
     .alias = NULL,
     .min_args = 1,
     .max_args = 3,
     .needs_client = true,
     .usage = "admin move RANGE NODE | drain NODE | undrain NODE | set-replicas R | split RANGE "
              "[KEY] | merge RANGE | status | wait OP [SECONDS]",
     .summary = "change the cluster's shape (recorded, carried out by the coordinator)",
     .help =
         "Records an operation in ZooKeeper (ops/) that the leading coordinator carries out "
         "step by step while the cluster serves, and prints its id (op-0000000007): "
         "\"move RANGE NODE\" makes NODE the owner of RANGE (a live move: clients see no "
         "error), \"drain NODE\" moves every range and copy off NODE and gives it nothing "
         "new, \"undrain NODE\" lets it take load again, \"set-replicas R\" changes the "
         "replication factor, \"split RANGE [KEY]\" splits RANGE in two at KEY or at its "
         "middle (writes to it pause for a moment), \"merge RANGE\" merges RANGE with its right "
         "neighbour. \"status\" lists the operations in progress with their step "
         "(failed ones, with the reason, for ten minutes) and the drained nodes. \"wait OP "
         "[SECONDS]\" waits until OP finished (exit 0) or failed (exit 2; default 600 s). "
         "See docs/operations.md. With --json: {\"id\"} for a new operation, the status "
         "document for status."},
    {.id = ZKV_REPL_CMD_PING,
     .name = "ping",
     .alias = NULL,
     .min_args = 0,
     .max_args = 1,
     .needs_client = true,
     .usage = "ping [NODE]",
     .summary = "ask every live node (or NODE) whether it answers, with the round trip",
     .help = "Sends a PING to each live node of the cluster's map (or to NODE alone) and prints "
             "a line per node: \"node-1  127.0.0.1:7001  PONG  0.21 ms\", or the reason it "
             "did not answer. Exit status 0 when every node answered, else 2. With --json: "
             "[{\"node\",\"address\",\"ok\",\"rtt_ms\" or \"error\"}...]."},
    {.id = ZKV_REPL_CMD_INFO,
     .name = "info",
     .alias = NULL,
     .min_args = 0,
     .max_args = 1,
     .needs_client = true,
     .usage = "info [NODE]",
     .summary = "each node's version, uptime, ranges, keys, bytes, requests/s and latency",
     .help = "Asks every live node (or NODE) for its figures, all at once, and prints a table: "
             "version, uptime, whether it serves, ranges owned and held as a replica, keys and "
             "bytes on disk of the ranges it owns (keys counted; \"~N\" estimated from a count "
             "of the first 2,000 keys of a larger range; \">=N\" a lower bound while the data "
             "is in LevelDB's memory table), requests per second and the p50/p99 latency of "
             "GET and PUT on the node over its last 10 seconds, and the round trip. A node "
             "that does not answer is listed below the table with the reason (exit status 2). "
             "With --json: the document zkv_info returns (docs/operations.md)."},
    {.id = ZKV_REPL_CMD_LATENCY,
     .name = "latency",
     .alias = NULL,
     .min_args = 0,
     .max_args = 5,
     .needs_client = true,
     .usage = "latency [NODE] [--samples N] [--history SECONDS]",
     .summary = "measure round trips to the nodes until Ctrl-C (redis-cli --latency)",
     .help = "PINGs NODE (or every live node in turn) every 10 ms over a kept connection and "
             "shows \"min: 0.08, max: 0.41, avg: 0.12 (1532 samples)\" in milliseconds, "
             "refreshed in place on a terminal, until Ctrl-C or N samples (--samples). "
             "Failed PINGs are counted apart (\"3 failed\"), so it can watch a failover. "
             "--history SECONDS prints a line per SECONDS and starts again (redis-cli "
             "--latency-history). At the end, with several nodes, a line per node. zkv "
             "--latency [NODE] and zkv --latency-history [-i SECONDS] [NODE] run it from the "
             "command line. With --json: the final figures as {\"all\":{...},\"nodes\":"
             "{\"node-1\":{\"min_ms\",\"max_ms\",\"avg_ms\",\"samples\",\"failed\"}}}."},
    {.id = ZKV_REPL_CMD_HELP,
     .name = "help",
     .alias = "?",
     .min_args = 0,
     .max_args = 1,
     .needs_client = false,
     .usage = "help [COMMAND]",
     .summary = "list commands, or explain one",
     .help = "Without an argument lists the commands; with one prints that command's usage and "
             "description."},
    {.id = ZKV_REPL_CMD_QUIT,
     .name = "quit",
     .alias = "exit",
     .min_args = 0,
     .max_args = 0,
     .needs_client = false,
     .usage = "quit",
     .summary = "leave the REPL (also exit, Ctrl-D)",
     .help = "Leaves the REPL. In a script read from stdin, stops reading."},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

const zkv_repl_command *zkv_repl_commands(size_t *n)
{
    *n = NCOMMANDS;
    return commands;
}

static int name_eq(const char *name, const char *s, size_t len)
{
    return name && strlen(name) == len && strncasecmp(name, s, len) == 0;
}

const zkv_repl_command *zkv_repl_command_find(const char *name, size_t len)
{
    if (memchr(name, '\0', len))
        return NULL;
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (name_eq(commands[i].name, name, len) || name_eq(commands[i].alias, name, len))
            return &commands[i];
    return NULL;
}

/* Printable copy of a possibly binary command name for messages, shortened. */
static void printable(const char *s, size_t len, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 5 < outlen; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            out[o++] = (char)c;
        } else {
            snprintf(out + o, outlen - o, "\\x%02x", c);
            o += 4;
        }
    }
    if (o < outlen)
        out[o] = '\0';
}

zkv_repl_dispatch_result zkv_repl_dispatch(const zkv_repl_args *args, const zkv_repl_command **cmd,
                                           char *err, size_t errlen)
{
    *cmd = NULL;
    if (errlen)
        err[0] = '\0';
    if (args->argc == 0)
        return ZKV_REPL_DISPATCH_EMPTY;
    const zkv_repl_command *c = zkv_repl_command_find(args->argv[0].data, args->argv[0].len);
    if (!c) {
        char name[64];
        printable(args->argv[0].data, args->argv[0].len, name, sizeof name);
        snprintf(err, errlen, "unknown command '%s' (try 'help')", name);
        return ZKV_REPL_DISPATCH_UNKNOWN;
    }
    size_t n = args->argc - 1;
    if (n < (size_t)c->min_args || n > (size_t)c->max_args) {
        snprintf(err, errlen, "usage: %s", c->usage);
        return ZKV_REPL_DISPATCH_ARITY;
    }
    *cmd = c;
    return ZKV_REPL_DISPATCH_OK;
}

/* Positive decimal without sign or junk, at most max. Returns 0 or -1. */
static int parse_count(const zkv_repl_arg *a, size_t max, size_t *out)
{
    size_t v = 0;
    if (a->len == 0 || a->len > 12)
        return -1;
    for (size_t i = 0; i < a->len; i++) {
        if (a->data[i] < '0' || a->data[i] > '9')
            return -1;
        v = v * 10 + (size_t)(a->data[i] - '0');
    }
    if (v == 0 || v > max)
        return -1;
    *out = v;
    return 0;
}

/* The bare word limit: the keyword of scan (a quoted "limit" is a key). */
static bool is_limit_keyword(const zkv_repl_arg *a)
{
    return a->bare && zkv_repl_arg_is(a, "limit");
}

void zkv_repl_hex(const void *data, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * len] = '\0';
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The options scan takes after its arguments, from the end of args: how many arguments
 * are left before them, or -1 with err. */
static long scan_options(const zkv_repl_args *args, zkv_repl_scan_args *out, char *err,
                         size_t errlen)
{
    size_t n = args->argc;
    for (bool more = true; more && n > 1;) {
        const zkv_repl_arg *last = &args->argv[n - 1];
        const zkv_repl_arg *opt = n > 2 ? &args->argv[n - 2] : NULL;
        more = false;
        if (last->bare && zkv_repl_arg_is(last, "--reverse")) {
            out->reverse = more = true;
            n--;
        } else if (last->bare && zkv_repl_arg_is(last, "--keys-only")) {
            out->keys_only = more = true;
            n--;
        } else if (opt && opt->bare && zkv_repl_arg_is(opt, "--prefix")) {
            out->prefix = last->data;
            out->plen = last->len;
            more = true;
            n -= 2;
        } else if (opt && opt->bare && zkv_repl_arg_is(opt, "--token")) {
            if (last->len % 2 || last->len / 2 > sizeof out->token) {
                snprintf(err, errlen, "scan: --token takes the hex token a scan printed");
                return -1;
            }
            for (size_t i = 0; i < last->len / 2; i++) {
                int hi = hex_digit(last->data[2 * i]), lo = hex_digit(last->data[2 * i + 1]);
                if (hi < 0 || lo < 0) {
                    snprintf(err, errlen, "scan: --token takes the hex token a scan printed");
                    return -1;
                }
                out->token[i] = (uint8_t)(hi << 4 | lo);
            }
            out->tlen = last->len / 2;
            more = true;
            n -= 2;
        }
    }
    return (long)n;
}

int zkv_repl_scan_args_parse(const zkv_repl_args *args, zkv_repl_scan_args *out, char *err,
                             size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->start = out->end = "";
    out->limit = ZKV_REPL_SCAN_DEFAULT_LIMIT;
    long left = scan_options(args, out, err, errlen);
    if (left < 0)
        return -1;
    size_t n = (size_t)left; /* argv[0] is "scan" */
    if (n >= 3 && is_limit_keyword(&args->argv[n - 2])) {
        if (parse_count(&args->argv[n - 1], ZKV_REPL_SCAN_MAX_LIMIT, &out->limit) < 0) {
            snprintf(err, errlen, "scan: limit must be a number from 1 to %d",
                     ZKV_REPL_SCAN_MAX_LIMIT);
            return -1;
        }
        n -= 2;
    } else if (n >= 2 && is_limit_keyword(&args->argv[n - 1])) {
        snprintf(err, errlen,
                 "scan: limit needs a number N (a key named limit is written \"limit\" in the "
                 "REPL or a script)");
        return -1;
    }
    if (n > 3) {
        snprintf(err, errlen,
                 "usage: scan [START [END]] [limit N] [--reverse] [--keys-only] "
                 "[--prefix P] [--token HEX]");
        return -1;
    }
    if (n >= 2) {
        out->start = args->argv[1].data;
        out->slen = args->argv[1].len;
    }
    if (n >= 3) {
        out->end = args->argv[2].data;
        out->elen = args->argv[2].len;
    }
    return 0;
}

size_t zkv_repl_stdin_arg(const zkv_repl_args *args)
{
    if (args->argc < 3)
        return 0;
    const zkv_repl_command *c = zkv_repl_command_find(args->argv[0].data, args->argv[0].len);
    if (!c || c->id != ZKV_REPL_CMD_PUT)
        return 0;
    return args->argv[2].bare && zkv_repl_arg_is(&args->argv[2], "-") ? 2 : 0;
}

int zkv_repl_version_format(zkv_version v, char *out, size_t outlen)
{
    return snprintf(out, outlen, "%llu:%llu", (unsigned long long)v.epoch,
                    (unsigned long long)v.seq);
}

/* 1 to 20 decimal digits at *p, at most UINT64_MAX; advances *p past them. */
static int parse_u64(const char **p, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    size_t n = 0;
    for (; s[n] >= '0' && s[n] <= '9'; n++) {
        unsigned d = (unsigned)(s[n] - '0');
        if (n >= 20 || v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (n == 0)
        return -1;
    *p = s + n;
    *out = v;
    return 0;
}

int zkv_repl_version_parse(const char *text, zkv_version *out)
{
    zkv_version v;
    const char *p = text;
    if (!p || parse_u64(&p, &v.epoch) < 0 || *p++ != ':' || parse_u64(&p, &v.seq) < 0 || *p)
        return -1;
    *out = v;
    return 0;
}

/* The version argument of --if-version: 0, or -1 with err. */
static int version_arg(const zkv_repl_arg *v, zkv_version *out, char *err, size_t errlen)
{
    char text[ZKV_REPL_VERSION_SIZE];
    if (v->len < sizeof text && memchr(v->data, '\0', v->len) == NULL) {
        memcpy(text, v->data, v->len);
        text[v->len] = '\0';
        if (zkv_repl_version_parse(text, out) == 0)
            return 0;
    }
    snprintf(err, errlen,
             "--if-version takes a version EPOCH:SEQ (as get --json prints it: "
             "\"3:17\"; 0:0 for a missing key)");
    return -1;
}

int zkv_repl_write_cond(const zkv_repl_args *args, size_t first, bool put, int *cond,
                        zkv_version *expected, uint64_t *ttl_ms, char *err, size_t errlen)
{
    *cond = 0;
    *ttl_ms = 0;
    expected->epoch = expected->seq = 0;
    for (size_t i = first; i < args->argc; i++) {
        const zkv_repl_arg *o = &args->argv[i];
        const zkv_repl_arg *next = i + 1 < args->argc ? &args->argv[i + 1] : NULL;
        if (put && !*cond && zkv_repl_arg_is(o, "--if-absent")) {
            *cond = ZKV_IF_ABSENT;
        } else if (!*cond && next && zkv_repl_arg_is(o, "--if-version")) {
            if (version_arg(next, expected, err, errlen) != 0)
                return -1;
            *cond = ZKV_IF_VERSION;
            i++;
        } else if (put && !*ttl_ms && next && zkv_repl_arg_is(o, "--ttl")) {
            size_t secs;
            if (parse_count(next, 100L * 365 * 24 * 3600, &secs) != 0) {
                snprintf(err, errlen, "--ttl takes a number of seconds, at least 1");
                return -1;
            }
            *ttl_ms = (uint64_t)secs * 1000u;
            i++;
        } else {
            snprintf(err, errlen, "%s",
                     put ? "after KEY VALUE: --if-absent or --if-version EPOCH:SEQ, and --ttl "
                           "SECONDS"
                         : "after KEY: --if-version EPOCH:SEQ");
            return -1;
        }
    }
    return 0;
}

/* Length of the UTF-8 sequence at s[0..len) (RFC 3629), or 0 when it is not one. */
static size_t utf8_char(const unsigned char *s, size_t len)
{
    unsigned char c = s[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf; /* the range of the second byte */
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0; /* no overlong form */
        else if (c == 0xed)
            hi = 0x9f; /* no surrogate */
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90; /* no overlong form */
        else if (c == 0xf4)
            hi = 0x8f; /* nothing above U+10FFFF */
    } else {
        return 0;
    }
    if (len < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return n;
}

bool zkv_repl_json_is_text(const void *data, size_t len)
{
    const unsigned char *s = data;
    for (size_t i = 0; i < len;) {
        size_t n = s[i] ? utf8_char(s + i, len - i) : 0;
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

size_t zkv_repl_base64(const void *data, size_t len, char *out)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *s = data;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t b = (uint32_t)s[i] << 16;
        if (i + 1 < len)
            b |= (uint32_t)s[i + 1] << 8;
        if (i + 2 < len)
            b |= s[i + 2];
        out[o++] = alphabet[b >> 18];
        out[o++] = alphabet[(b >> 12) & 63];
        out[o++] = i + 1 < len ? alphabet[(b >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? alphabet[b & 63] : '=';
    }
    out[o] = '\0';
    return o;
}

cJSON *zkv_repl_json_bytes(const void *data, size_t len)
{
    if (zkv_repl_json_is_text(data, len)) {
        char *text = malloc(len + 1);
        if (!text)
            return NULL;
        if (len)
            memcpy(text, data, len);
        text[len] = '\0';
        cJSON *str = cJSON_CreateString(text);
        free(text);
        return str;
    }
    char *b64 = malloc(ZKV_REPL_BASE64_SIZE(len));
    cJSON *o = b64 ? cJSON_CreateObject() : NULL;
    if (o) {
        zkv_repl_base64(data, len, b64);
        if (!cJSON_AddStringToObject(o, "base64", b64)) {
            cJSON_Delete(o);
            o = NULL;
        }
    }
    free(b64);
    return o;
}

const char *zkv_repl_status_name(int code)
{
    switch (code) {
    case ZKV_OK:
        return "OK";
    case ZKV_ENOTFOUND:
        return "NOT_FOUND";
    case ZKV_ENOTOWNER:
        return "NOT_OWNER";
    case ZKV_EUNAVAILABLE:
        return "UNAVAILABLE";
    case ZKV_ETOOLARGE:
        return "TOO_LARGE";
    case ZKV_EBADREQUEST:
        return "BAD_REQUEST";
    case ZKV_ETIMEOUT:
        return "TIMEOUT";
    case ZKV_EINTERNAL:
        return "INTERNAL";
    case ZKV_ECONNECT:
        return "CONNECT";
    case ZKV_EZOOKEEPER:
        return "ZOOKEEPER";
    case ZKV_ENOCLUSTER:
        return "NO_CLUSTER";
    case ZKV_ENOMEM:
        return "NO_MEMORY";
    case ZKV_EINVAL:
        return "INVALID";
    case ZKV_EPROTOCOL:
        return "PROTOCOL";
    case ZKV_EAUTH:
        return "AUTH";
    case ZKV_ECONDITION:
        return "CONDITION_FAILED";
    default:
        return "ERROR";
    }
}

void zkv_repl_lag_note(uint64_t lag_ms, uint64_t lag_entries, char *out, size_t outlen)
{
    if (lag_ms == UINT64_MAX)
        snprintf(out, outlen, "(lag: not caught up since it started, %llu entries)",
                 (unsigned long long)lag_entries);
    else
        snprintf(out, outlen, "(lag: %llu ms, %llu entries)", (unsigned long long)lag_ms,
                 (unsigned long long)lag_entries);
}

void zkv_repl_stale_note(const char *node, uint64_t epoch, uint64_t seq, char *out, size_t outlen)
{
    snprintf(out, outlen, "(stale: replica %s at %llu:%llu)", node && node[0] ? node : "?",
             (unsigned long long)epoch, (unsigned long long)seq);
}

int zkv_repl_exit_status(int code)
{
    if (code == ZKV_OK)
        return 0;
    return code == ZKV_ENOTFOUND ? 1 : code == ZKV_ECONDITION ? 3 : 2;
}

/* The two lines that start with "  $ " are shell commands; tests/integration/test_cli.c
 * runs them as they are printed here. */
static const char help_footer[] =
    "\n"
    "Arguments are separated by blanks. In the REPL and in scripts read from stdin, quote\n"
    "them with \"...\" or '...', and type any byte as \\xHH (also \\\\ \\\" \\' \\n \\r \\t;\n"
    "inside '...' only \\' and \\\\): put \"k\\x00\" \"v\\x00\\xff\" writes a key and a value\n"
    "that hold NUL bytes. On the command line (zkv put KEY VALUE) each argument is the\n"
    "bytes the shell passes, with no escapes, and cannot hold a NUL (bash's $'\\x00' is\n"
    "empty): give a binary value on stdin with - (or -x: the last argument), or the\n"
    "commands as a script:\n"
    "  $ printf 'v\\000\\377' | zkv put bin -\n"
    "  $ printf '%s\\n' 'put \"k\\x00\" \"v\\x00\\xff\"' | zkv\n"
    "get prints the raw value and a newline (--raw: the bytes alone; --quoted: the \"...\"\n"
    "form above); scan shows bytes outside printable ASCII as \\xHH; --json writes a key or\n"
    "value as a string when it is UTF-8 without NUL, else as {\"base64\":\"...\"}.\n";

/* Appends to a bounded string; stops quietly when full. */
typedef struct outbuf {
    char *p;
    size_t len, cap;
} outbuf;

static void put(outbuf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(outbuf *o, const char *fmt, ...)
{
    if (o->len + 1 >= o->cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->len = o->len + (size_t)n < o->cap ? o->len + (size_t)n : o->cap - 1;
}

/* Appends text word-wrapped to width columns, each line indented by indent spaces. */
static void put_wrapped(outbuf *o, const char *text, int indent, size_t width)
{
    size_t col = 0;
    const char *s = text;
    while (*s) {
        while (*s == ' ')
            s++;
        size_t wlen = strcspn(s, " ");
        if (!wlen)
            break;
        if (col && col + 1 + wlen > width) {
            put(o, "\n");
            col = 0;
        }
        if (col == 0) {
            put(o, "%*s%.*s", indent, "", (int)wlen, s);
            col = (size_t)indent + wlen;
        } else {
            put(o, " %.*s", (int)wlen, s);
            col += 1 + wlen;
        }
        s += wlen;
    }
    put(o, "\n");
}

int zkv_repl_help_text(const char *name, size_t len, char *out, size_t outlen)
{
    outbuf o = {out, 0, outlen};
    if (!outlen)
        return 0;
    out[0] = '\0';
    if (name) {
        const zkv_repl_command *c = zkv_repl_command_find(name, len);
        if (!c)
            return -1;
        put(&o, "usage: %s\n", c->usage);
        if (c->alias)
            put(&o, "alias: %s\n", c->alias);
        put_wrapped(&o, c->help, 2, 78);
        return 0;
    }
    int width = 0;
    for (size_t i = 0; i < NCOMMANDS; i++)
        if ((int)strlen(commands[i].usage) > width)
            width = (int)strlen(commands[i].usage);
    put(&o, "Commands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        put(&o, "  %-*s  %s\n", width, commands[i].usage, commands[i].summary);
    put(&o, "%s", help_footer);
    return 0;
}

const char *zkv_repl_complete(const char *prefix, size_t i)
{
    size_t plen = strlen(prefix);
    for (size_t k = 0; k < NCOMMANDS; k++) {
        const char *names[2] = {commands[k].name, commands[k].alias};
        for (int j = 0; j < 2; j++) {
            if (!names[j] || strncasecmp(names[j], prefix, plen) != 0 || names[j][0] == '?')
                continue;
            if (i == 0)
                return names[j];
            i--;
        }
    }
    return NULL;
}

bool zkv_repl_completion_wants_command(const char *line, size_t start)
{
    size_t words = 0, i = 0, first_start = 0, first_len = 0;
    size_t n = strlen(line);
    if (start > n)
        start = n;
    while (i < start) {
        while (i < start && (line[i] == ' ' || line[i] == '\t'))
            i++;
        if (i >= start)
            break;
        size_t w = i;
        while (i < n && line[i] != ' ' && line[i] != '\t')
            i++;
        if (i > start) /* the word under the cursor starts before start: not a word start */
            return false;
        if (words == 0) {
            first_start = w;
            first_len = i - w;
        }
        words++;
    }
    if (words == 0)
        return true;
    if (words == 1) {
        const zkv_repl_command *c = zkv_repl_command_find(line + first_start, first_len);
        return c && c->id == ZKV_REPL_CMD_HELP;
    }
    return false;
}
