/* flags.c: command-line parsing from one table per program, on top of getopt_long.
 * The option array is built from the table plus the flags every program shares
 * (--help/-h, --version, --zk, --cluster). Parsing stops at the first non-flag ("+"),
 * so "zkv --json get k" leaves "get k" to the program. Values are parsed into scratch
 * slots and written to the targets only when the whole command line is good, so a
 * rejected command line changes nothing and usage shows the true defaults. getopt's own
 * messages are silenced (opterr = 0) in favour of ours; optind is reset to 0 before each
 * parse, so the parser can run several times in one process (unit tests). */
#include "common/flags.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#ifndef ZKV_VERSION
#define ZKV_VERSION "unknown"
#endif

#define ZKV_DEFAULT_ZK "127.0.0.1:2181"
#define ZKV_DEFAULT_CLUSTER "default"

enum { OPT_BASE = 256 }; /* long-only options get OPT_BASE + table index */

typedef union {
    const char *s;
    long i;
    bool b;
} flag_value;

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

static void print_flag_line(FILE *out, char short_name, const char *name, const char *metavar,
                            const char *help, const char *dflt)
{
    char left[96];
    int n;
    if (short_name)
        n = snprintf(left, sizeof left, "  -%c, --%s%s%s", short_name, name, metavar ? " " : "",
                     metavar ? metavar : "");
    else
        n = snprintf(left, sizeof left, "      --%s%s%s", name, metavar ? " " : "",
                     metavar ? metavar : "");
    if (n < 0)
        return;
    if ((size_t)n < 30)
        fprintf(out, "%-30s", left);
    else
        fprintf(out, "%s\n%-30s", left, "");
    fprintf(out, "%s", help ? help : "");
    if (dflt && *dflt)
        fprintf(out, " (default: %s)", dflt);
    fputc('\n', out);
}

static void usage_body(FILE *out, const char *prog, const char *synopsis, const char *description,
                       const zkv_flag *flags, size_t n)
{
    /* "Usage:" and "Options:" as GNU programs print them: help2man makes the man pages'
     * SYNOPSIS and OPTIONS of them (packaging/CMakeLists.txt) */
    fprintf(out, "Usage: %s %s\n", prog, synopsis ? synopsis : "[FLAGS]");
    if (description && *description)
        fprintf(out, "\n%s\n", description);
    fprintf(out, "\nOptions:\n");
    bool table_has_h = false;
    for (size_t i = 0; i < n; i++)
        if (flags[i].short_name == 'h')
            table_has_h = true;
    print_flag_line(out, table_has_h ? 0 : 'h', "help", NULL, "show this help and exit", NULL);
    print_flag_line(out, 0, "version", NULL, "print the version and exit", NULL);
    char zk_default[160], cluster_default[160];
    snprintf(zk_default, sizeof zk_default, "%s, env ZKV_ZK", env_or("ZKV_ZK", ZKV_DEFAULT_ZK));
    snprintf(cluster_default, sizeof cluster_default, "%s, env ZKV_CLUSTER",
             env_or("ZKV_CLUSTER", ZKV_DEFAULT_CLUSTER));
    print_flag_line(out, 0, "zk", "CONNECT", "ZooKeeper connect string", zk_default);
    print_flag_line(out, 0, "cluster", "NAME", "cluster name (root znode /zkv/NAME)",
                    cluster_default);
    for (size_t i = 0; i < n; i++) {
        const zkv_flag *f = &flags[i];
        char dflt[64] = "";
        const char *metavar = f->metavar;
        switch (f->kind) {
        case ZKV_FLAG_STRING:
            if (f->target && *(const char **)f->target)
                snprintf(dflt, sizeof dflt, "%s", *(const char **)f->target);
            if (!metavar)
                metavar = "VALUE";
            break;
        case ZKV_FLAG_INT:
            if (f->target)
                snprintf(dflt, sizeof dflt, "%ld", *(const long *)f->target);
            if (!metavar)
                metavar = "N";
            break;
        case ZKV_FLAG_BOOL:
            metavar = NULL;
            break;
        }
        print_flag_line(out, f->short_name, f->name, metavar, f->help, dflt);
    }
}

void zkv_flags_usage(FILE *out, const char *prog, const char *synopsis, const zkv_flag *flags,
                     size_t n)
{
    usage_body(out, prog, synopsis, NULL, flags, n);
}

static int parse_long(const char *s, long min, long max, long *out)
{
    /* Digits with an optional minus sign only: no blanks, no '+', no trailing junk. */
    if (!s || !*s || !(*s == '-' || (*s >= '0' && *s <= '9')))
        return -1;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || end == s)
        return -1;
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* The reason getopt_long refused the last element ('?': unknown or an argument to a
 * flag that takes none; ':': missing argument). */
static void flag_error(char *msg, size_t msglen, int c, const struct option *opts, int argc,
                       char **argv)
{
    const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "";
    if (strncmp(arg, "--", 2) == 0) {
        const char *name = arg + 2;
        size_t len = strcspn(name, "=");
        bool known = false;
        for (const struct option *o = opts; o->name; o++)
            if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
                known = true;
        if (c == ':')
            snprintf(msg, msglen, "flag '--%.*s' needs an argument", (int)len, name);
        else if (known && name[len] == '=')
            snprintf(msg, msglen, "flag '--%.*s' takes no argument", (int)len, name);
        else
            snprintf(msg, msglen, "unknown flag '--%.*s'", (int)len, name);
        return;
    }
    if (optopt > 0 && optopt < OPT_BASE) {
        if (c == ':')
            snprintf(msg, msglen, "flag '-%c' needs an argument", optopt);
        else
            snprintf(msg, msglen, "unknown flag '-%c'", optopt);
        return;
    }
    snprintf(msg, msglen, "bad flag '%s'", arg);
}

static zkv_flags_result bad(const char *prog, const char *synopsis, const zkv_flag *flags, size_t n,
                            struct option *opts, flag_value *vals, const char *msg)
{
    fprintf(stderr, "%s: %s\n", prog, msg);
    zkv_flags_usage(stderr, prog, synopsis, flags, n);
    free(opts);
    free(vals);
    return ZKV_FLAGS_ERROR;
}

zkv_flags_result zkv_flags_parse(const char *prog, const char *synopsis, const char *description,
                                 const zkv_flag *flags, size_t n, zkv_common_opts *common, int argc,
                                 char **argv, int *first_arg)
{
    const char *zk = env_or("ZKV_ZK", ZKV_DEFAULT_ZK);
    const char *cluster = env_or("ZKV_CLUSTER", ZKV_DEFAULT_CLUSTER);
    const int opt_help = OPT_BASE + (int)n, opt_version = opt_help + 1, opt_zk = opt_help + 2,
              opt_cluster = opt_help + 3;
    char msg[512];

    struct option *opts = calloc(n + 5, sizeof *opts);
    flag_value *vals = calloc(n + 1, sizeof *vals);
    /* "+:" plus up to two characters per short flag, plus "h" and the NUL. */
    char *optstring = calloc(2 * n + 5, 1);
    if (!opts || !vals || !optstring) {
        free(optstring);
        fprintf(stderr, "%s: out of memory\n", prog);
        free(opts);
        free(vals);
        return ZKV_FLAGS_ERROR;
    }
    size_t os = 0;
    optstring[os++] = '+';
    optstring[os++] = ':';
    bool table_has_h = false;
    for (size_t i = 0; i < n; i++) {
        const zkv_flag *f = &flags[i];
        opts[i].name = f->name;
        opts[i].has_arg = f->kind == ZKV_FLAG_BOOL ? no_argument : required_argument;
        opts[i].flag = NULL;
        opts[i].val = f->short_name ? (unsigned char)f->short_name : OPT_BASE + (int)i;
        if (f->short_name) {
            if (f->short_name == 'h')
                table_has_h = true;
            optstring[os++] = f->short_name;
            if (f->kind != ZKV_FLAG_BOOL)
                optstring[os++] = ':';
        }
        if (f->target) {
            switch (f->kind) {
            case ZKV_FLAG_STRING:
                vals[i].s = *(const char **)f->target;
                break;
            case ZKV_FLAG_INT:
                vals[i].i = *(const long *)f->target;
                break;
            case ZKV_FLAG_BOOL:
                vals[i].b = *(const bool *)f->target;
                break;
            }
        }
    }
    if (!table_has_h)
        optstring[os++] = 'h';
    optstring[os] = '\0';
    opts[n] = (struct option){"help", no_argument, NULL, opt_help};
    opts[n + 1] = (struct option){"version", no_argument, NULL, opt_version};
    opts[n + 2] = (struct option){"zk", required_argument, NULL, opt_zk};
    opts[n + 3] = (struct option){"cluster", required_argument, NULL, opt_cluster};
    /* opts[n + 4] stays zeroed: the terminator. */

    optind = 0; /* full re-initialisation of getopt's state (glibc) */
    opterr = 0;
    int c;
    int longidx;
    for (;;) {
        longidx = -1;
        c = getopt_long(argc, argv, optstring, opts, &longidx);
        if (c == -1)
            break;
        if (c == '?' || c == ':') {
            flag_error(msg, sizeof msg, c, opts, argc, argv);
            free(optstring);
            return bad(prog, synopsis, flags, n, opts, vals, msg);
        }
        if (c == opt_help || (c == 'h' && !table_has_h)) {
            usage_body(stdout, prog, synopsis, description, flags, n);
            fflush(stdout);
            free(optstring);
            free(opts);
            free(vals);
            return ZKV_FLAGS_EXIT;
        }
        if (c == opt_version) {
            printf("%s %s\n", prog, ZKV_VERSION);
            fflush(stdout);
            free(optstring);
            free(opts);
            free(vals);
            return ZKV_FLAGS_EXIT;
        }
        if (c == opt_zk) {
            zk = optarg;
            continue;
        }
        if (c == opt_cluster) {
            cluster = optarg;
            continue;
        }
        /* A table flag: by long-only value or by short name. */
        size_t idx = n;
        if (c >= OPT_BASE && c < OPT_BASE + (int)n) {
            idx = (size_t)(c - OPT_BASE);
        } else {
            for (size_t i = 0; i < n; i++)
                if (flags[i].short_name && (unsigned char)flags[i].short_name == c) {
                    idx = i;
                    break;
                }
        }
        if (idx >= n) {
            snprintf(msg, sizeof msg, "unknown flag '%s'", argv[optind - 1]);
            free(optstring);
            return bad(prog, synopsis, flags, n, opts, vals, msg);
        }
        const zkv_flag *f = &flags[idx];
        switch (f->kind) {
        case ZKV_FLAG_STRING:
            vals[idx].s = optarg;
            break;
        case ZKV_FLAG_BOOL:
            vals[idx].b = true;
            break;
        case ZKV_FLAG_INT:
            if (parse_long(optarg, f->min, f->max, &vals[idx].i) != 0) {
                snprintf(msg, sizeof msg, "--%s: expected an integer between %ld and %ld, got '%s'",
                         f->name, f->min, f->max, optarg);
                free(optstring);
                return bad(prog, synopsis, flags, n, opts, vals, msg);
            }
            break;
        }
    }

    /* Everything parsed: commit. */
    for (size_t i = 0; i < n; i++) {
        const zkv_flag *f = &flags[i];
        if (!f->target)
            continue;
        switch (f->kind) {
        case ZKV_FLAG_STRING:
            *(const char **)f->target = vals[i].s;
            break;
        case ZKV_FLAG_INT:
            *(long *)f->target = vals[i].i;
            break;
        case ZKV_FLAG_BOOL:
            *(bool *)f->target = vals[i].b;
            break;
        }
    }
    if (common) {
        common->zk = zk;
        common->cluster = cluster;
    }
    if (first_arg)
        *first_arg = optind;
    free(optstring);
    free(opts);
    free(vals);
    return ZKV_FLAGS_OK;
}
