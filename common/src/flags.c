/* flags.c: command-line parsing from one table per program, on top of getopt_long.
 * The option array is built from the table plus the flags every program shares
 * (--help/-h, --version, --zk, --cluster). Parsing stops at the first non-flag ("+"),
 * so "zkv --json get k" leaves "get k" to the program. Values are parsed into scratch
 * slots and written to the targets only when the whole command line is good, so a
 * rejected command line changes nothing and usage shows the true defaults. getopt's own
 * messages are silenced (opterr = 0) in favour of ours; optind is reset to 0 before each
 * parse, so the parser can run several times in one process (unit tests).
 * --config FILE (config_file.h) sets what the command line does not: flags win, then the
 * file, then the environment (ZKV_ZK, ZKV_CLUSTER), then the defaults. --print-config
 * prints every setting as a settings file would hold it. */
#include "common/flags.h"

#include "common/config_file.h"

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
    print_flag_line(out, 0, "config", "FILE",
                    "settings file: one 'name = value' a line, names as the flags' without "
                    "'--'; flags win over it, it over the environment",
                    NULL);
    print_flag_line(out, 0, "print-config", NULL,
                    "print every setting (flags, file, environment, defaults applied) as a "
                    "settings file, defaults commented out, and exit",
                    NULL);
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

/* Copies of the settings file's strings, which the targets point to for the life of the
 * program (reachable, so not a leak). */
static char **g_kept;
static size_t g_n_kept;

static const char *keep(const char *s)
{
    char **k = realloc(g_kept, (g_n_kept + 1) * sizeof *k);
    char *copy = strdup(s);
    if (!k || !copy) {
        free(copy);
        if (k)
            g_kept = k;
        return NULL;
    }
    g_kept = k;
    g_kept[g_n_kept++] = copy;
    return copy;
}

static bool same_value(const zkv_flag *f, const flag_value *a, const flag_value *b)
{
    switch (f->kind) {
    case ZKV_FLAG_STRING:
        return a->s == b->s || (a->s && b->s && strcmp(a->s, b->s) == 0);
    case ZKV_FLAG_INT:
        return a->i == b->i;
    default:
        return a->b == b->b;
    }
}

static void print_config(FILE *out, const char *prog, const zkv_flag *flags, size_t n,
                         const flag_value *vals, const flag_value *dflt, const char *zk,
                         const char *cluster)
{
    fprintf(out,
            "# Settings of %s %s (--config FILE): one 'name = value' a line, the names those "
            "of\n# its flags (%s --help); flags on the command line win over this file, and "
            "this file\n# over the environment. Lines starting with '#' are comments: the "
            "defaults.\n",
            prog, ZKV_VERSION, prog);
    fprintf(out, "\n# ZooKeeper connect string\n%szk = %s\n",
            strcmp(zk, ZKV_DEFAULT_ZK) == 0 ? "#" : "", zk);
    fprintf(out, "\n# cluster name (root znode /zkv/NAME)\n%scluster = %s\n",
            strcmp(cluster, ZKV_DEFAULT_CLUSTER) == 0 ? "#" : "", cluster);
    for (size_t i = 0; i < n; i++) {
        const zkv_flag *f = &flags[i];
        if (!f->target)
            continue;
        char value[64];
        const char *v = value;
        switch (f->kind) {
        case ZKV_FLAG_STRING:
            v = vals[i].s ? vals[i].s : "";
            break;
        case ZKV_FLAG_INT:
            snprintf(value, sizeof value, "%ld", vals[i].i);
            break;
        case ZKV_FLAG_BOOL:
            v = vals[i].b ? "true" : "false";
            break;
        }
        fprintf(out, "\n# %s\n%s%s = %s\n", f->help ? f->help : "",
                same_value(f, &vals[i], &dflt[i]) ? "#" : "", f->name, v);
    }
}

/* Applies the settings file at path to what the command line left unset (set[i] false,
 * *zk_set, *cluster_set). 0, or -1 with the reason in msg. */
static int apply_config(const char *path, const zkv_flag *flags, size_t n, const bool *set,
                        const flag_value *dflt, flag_value *vals, const char **zk, bool zk_set,
                        const char **cluster, bool cluster_set, char *msg, size_t msglen)
{
    zkv_config cf;
    char err[300];
    if (zkv_config_load(path, &cf, err, sizeof err) != 0) {
        snprintf(msg, msglen, "--config %s", err);
        return -1;
    }
    int rc = 0;
    for (size_t k = 0; k < cf.n && rc == 0; k++) {
        const zkv_config_entry *e = &cf.e[k];
        const char *s = NULL;
        if (strcmp(e->name, "zk") == 0 || strcmp(e->name, "cluster") == 0) {
            bool is_zk = e->name[0] == 'z';
            if (!(is_zk ? zk_set : cluster_set) && !(s = keep(e->value)))
                rc = -1;
            else if (s)
                *(is_zk ? zk : cluster) = s;
            if (rc)
                snprintf(msg, msglen, "--config %s: out of memory", path);
            continue;
        }
        size_t i = 0;
        while (i < n && strcmp(flags[i].name, e->name) != 0)
            i++;
        if (i == n || !flags[i].target) {
            snprintf(msg, msglen, "--config %s: line %d: unknown setting '%s' (--help lists them)",
                     path, e->line, e->name);
            rc = -1;
            break;
        }
        if (set[i])
            continue; /* the command line wins */
        const zkv_flag *f = &flags[i];
        int b;
        switch (f->kind) {
        case ZKV_FLAG_STRING:
            if (!e->value[0]) { /* "name =": the program's default (none) */
                vals[i].s = dflt[i].s;
                break;
            }
            if (!(vals[i].s = keep(e->value))) {
                snprintf(msg, msglen, "--config %s: out of memory", path);
                rc = -1;
            }
            break;
        case ZKV_FLAG_INT:
            if (parse_long(e->value, f->min, f->max, &vals[i].i) != 0) {
                snprintf(msg, msglen,
                         "--config %s: line %d: %s: expected an integer between %ld and %ld, "
                         "got '%s'",
                         path, e->line, f->name, f->min, f->max, e->value);
                rc = -1;
            }
            break;
        case ZKV_FLAG_BOOL:
            if ((b = zkv_config_bool(e->value)) < 0) {
                snprintf(msg, msglen, "--config %s: line %d: %s: expected true or false, got '%s'",
                         path, e->line, f->name, e->value);
                rc = -1;
            } else {
                vals[i].b = b != 0;
            }
            break;
        }
    }
    zkv_config_free(&cf);
    return rc;
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
              opt_cluster = opt_help + 3, opt_config = opt_help + 4, opt_print = opt_help + 5;
    char msg[512];
    const char *config_path = NULL;
    bool zk_set = false, cluster_set = false, print = false;

    struct option *opts = calloc(n + 7, sizeof *opts);
    /* one block: vals[0..n) the values, then the defaults (dflt), then which flags the
     * command line gave (set) */
    flag_value *vals = calloc(3 * n + 2, sizeof *vals);
    /* "+:" plus up to two characters per short flag, plus "h" and the NUL. */
    char *optstring = calloc(2 * n + 5, 1);
    if (!opts || !vals || !optstring) {
        free(optstring);
        fprintf(stderr, "%s: out of memory\n", prog);
        free(opts);
        free(vals);
        return ZKV_FLAGS_ERROR;
    }
    flag_value *dflt = vals + n + 1;
    bool *set = (bool *)(vals + 2 * n + 2); /* n bools in n flag_values */
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
    opts[n + 4] = (struct option){"config", required_argument, NULL, opt_config};
    opts[n + 5] = (struct option){"print-config", no_argument, NULL, opt_print};
    /* opts[n + 6] stays zeroed: the terminator. */
    memcpy(dflt, vals, n * sizeof *vals);

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
            zk_set = true;
            continue;
        }
        if (c == opt_cluster) {
            cluster = optarg;
            cluster_set = true;
            continue;
        }
        if (c == opt_config) {
            config_path = optarg;
            continue;
        }
        if (c == opt_print) {
            print = true;
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
        set[idx] = true;
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

    if (config_path && apply_config(config_path, flags, n, set, dflt, vals, &zk, zk_set, &cluster,
                                    cluster_set, msg, sizeof msg) != 0) {
        free(optstring);
        return bad(prog, synopsis, flags, n, opts, vals, msg);
    }
    if (print) {
        print_config(stdout, prog, flags, n, vals, dflt, zk, cluster);
        fflush(stdout);
        free(optstring);
        free(opts);
        free(vals);
        return ZKV_FLAGS_EXIT;
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
