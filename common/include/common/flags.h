/* flags.h: command-line parsing shared by every program, from one table per program.
 * Every program gets --help, --version, --zk CONNECT (env ZKV_ZK, default
 * 127.0.0.1:2181) and --cluster NAME (env ZKV_CLUSTER, default "default") for free.
 * Parsing stops at the first non-flag argument (so "zkv --json get k" works).
 * Pure apart from reading the environment and printing usage/version. */
#ifndef ZKV_COMMON_FLAGS_H
#define ZKV_COMMON_FLAGS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum {
    ZKV_FLAG_STRING, /* target: const char ** (points into argv or the environment) */
    ZKV_FLAG_INT,    /* target: long *  (decimal, range checked against min/max) */
    ZKV_FLAG_BOOL,   /* target: bool *  (no argument) */
} zkv_flag_kind;

typedef struct zkv_flag {
    const char *name; /* long name without "--" */
    char short_name;  /* 0 for none */
    zkv_flag_kind kind;
    void *target;
    const char *metavar; /* "HOST:PORT", shown in usage */
    const char *help;
    long min, max; /* ZKV_FLAG_INT bounds (inclusive) */
} zkv_flag;

/* The TLS flags of every program that connects to nodes (docs/security.md), as table
 * entries filling a zkv_tls_files (common/tls.h) f: --tls-cert, --tls-key, --tls-ca. */
#define ZKV_FLAGS_TLS(f)                                                                             \
    {"tls-cert",                                                                                     \
     0,                                                                                              \
     ZKV_FLAG_STRING,                                                                                \
     &(f)->cert,                                                                                     \
     "FILE",                                                                                         \
     "TLS certificate chain (PEM) this program presents; with --tls-key (default: none)",            \
     0,                                                                                              \
     0},                                                                                             \
        {"tls-key", 0, ZKV_FLAG_STRING, &(f)->key, "FILE", "private key (PEM) of --tls-cert", 0, 0}, \
    {                                                                                                \
        "tls-ca", 0, ZKV_FLAG_STRING, &(f)->ca, "FILE",                                              \
            "CA certificates (PEM) that sign the nodes this program connects to; TLS to nodes is "   \
            "on when this or --tls-cert is given (default: plain TCP)",                              \
            0, 0                                                                                     \
    }

typedef struct zkv_common_opts {
    const char *zk;
    const char *cluster;
} zkv_common_opts;

typedef enum {
    ZKV_FLAGS_OK = 0,    /* parsed; *first_arg is the index of the first non-flag */
    ZKV_FLAGS_EXIT = 1,  /* --help or --version was printed to stdout: exit 0 */
    ZKV_FLAGS_ERROR = 2, /* bad flag: reason and usage printed to stderr: exit 2 */
} zkv_flags_result;

/* prog: program name; synopsis: one line after "usage: prog "; description: a paragraph
 * printed by --help. common receives --zk/--cluster (defaults from the environment). */
zkv_flags_result zkv_flags_parse(const char *prog, const char *synopsis, const char *description,
                                 const zkv_flag *flags, size_t n, zkv_common_opts *common, int argc,
                                 char **argv, int *first_arg);
void zkv_flags_usage(FILE *out, const char *prog, const char *synopsis, const zkv_flag *flags,
                     size_t n);

#endif
