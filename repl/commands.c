/* commands.c: the command table of zkv, dispatch (name -> command, argument count), scan
 * argument parsing, status names and help text. Pure functions over data. */
#include "commands.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
     .help = "Prints the value's raw bytes followed by a newline. A missing key prints "
             "\"(not found)\" on stderr (exit status 1). When the owner of the key's range is "
             "unreachable or absent, a replica answers: the value is printed as usual and a note "
             "such as \"(stale: replica node-2 at 3:1042)\" on stderr names the replica and the "
             "EPOCH:SEQ of the range's log it had applied (exit status 0). --strict turns the "
             "fallback off; --replica reads the nearest replica on purpose. With --json: "
             "{\"key\",\"value\",\"epoch\",\"seq\",\"stale\",\"node\",\"range_epoch\","
             "\"range_seq\"}, bytes escaped as \\xHH."},
    {.id = ZKV_REPL_CMD_PUT,
     .name = "put",
     .alias = "set",
     .min_args = 2,
     .max_args = 2,
     .needs_client = true,
     .usage = "put KEY VALUE",
     .summary = "set KEY to VALUE",
     .help = "Writes KEY = VALUE and prints OK once the write is acknowledged (by the owner "
             "and its in-sync replicas; with --ack-owner by the owner alone). When the range "
             "has no serving owner the write fails within about a second with UNAVAILABLE "
             "(exit status 2). With --json: {\"ok\":true,\"epoch\":E,\"seq\":S}, the version "
             "of the write."},
    {.id = ZKV_REPL_CMD_DEL,
     .name = "del",
     .alias = "delete",
     .min_args = 1,
     .max_args = 1,
     .needs_client = true,
     .usage = "del KEY",
     .summary = "delete KEY",
     .help = "Deletes KEY and prints OK. Deleting a missing key is not an error. Fails like "
             "put when the range has no serving owner."},
    {.id = ZKV_REPL_CMD_SCAN,
     .name = "scan",
     .alias = NULL,
     .min_args = 0,
     .max_args = 4,
     .needs_client = true,
     .usage = "scan [START [END]] [limit N]",
     .summary = "list keys in [START, END) in key order",
     .help = "Prints one KEY<TAB>VALUE line per key with START <= KEY < END, in key order, across "
             "ranges. Bytes outside printable ASCII (and the backslash) are shown as \\xHH. A "
             "missing or empty START or END is unbounded (scan \"\" b). At most N keys are shown "
             "(default 1000); when more follow, a note says so on stderr. Ranges whose owner is "
             "unreachable are read from a replica, like get. With --json: an array of "
             "{\"key\",\"value\"}."},
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

int zkv_repl_scan_args_parse(const zkv_repl_args *args, zkv_repl_scan_args *out, char *err,
                             size_t errlen)
{
    size_t n = args->argc; /* argv[0] is "scan" */
    memset(out, 0, sizeof(*out));
    out->start = out->end = "";
    out->limit = ZKV_REPL_SCAN_DEFAULT_LIMIT;
    if (n >= 3 && zkv_repl_arg_is(&args->argv[n - 2], "limit")) {
        if (parse_count(&args->argv[n - 1], ZKV_REPL_SCAN_MAX_LIMIT, &out->limit) == 0) {
            n -= 2;
        } else if (n == 5) {
            /* "scan A B limit X": the only reading left is a bad limit */
            snprintf(err, errlen, "scan: limit must be a number from 1 to %d",
                     ZKV_REPL_SCAN_MAX_LIMIT);
            return -1;
        }
    }
    if (n > 3) {
        snprintf(err, errlen, "usage: scan [START [END]] [limit N]");
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
    default:
        return "ERROR";
    }
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
    return code == ZKV_ENOTFOUND ? 1 : 2;
}

static const char help_footer[] =
    "\n"
    "Arguments are separated by blanks. In the REPL and in scripts read from stdin, quote\n"
    "them with \"...\" or '...', and type any byte as \\xHH (also \\\\ \\\" \\' \\n \\r \\t;\n"
    "inside '...' only \\' and \\\\). On the command line (zkv put KEY VALUE) each argument\n"
    "is taken as the raw bytes the shell passes, with no escapes: use $'\\x00' in bash.\n"
    "Keys and values are printed with bytes outside printable ASCII as \\xHH, except by get,\n"
    "which prints the raw value.\n";

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
