/* fuzz_tokenize.c: libFuzzer target for the REPL's argument splitter (repl/tokenize.c).
 * Why: it reads every line a user or a script types, with quotes, escapes and binary
 * bytes, in a hand-written state machine. The input is the line (up to its first NUL, as
 * readline hands it over). Checked, beyond ASan and UBSan:
 * - it returns 0 with arguments, or -1 with a message (never -2: memory does not run out
 *   here), and leaves no arguments after a failure;
 * - each argument's bytes end with a NUL at data[len];
 * - a comment line, or one of blanks only, has no arguments;
 * - quoting every argument again (double quotes, every byte as \xHH, or single quotes for
 *   bytes that need no escape) and splitting the result gives the same arguments back. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "repl/tokenize.h"

/* The arguments written back as one line: "\xHH..." for each, or '...' when choose_single
 * and the argument has no NUL, quote or backslash. Caller frees. */
static char *requote(const zkv_repl_args *a, bool choose_single)
{
    size_t cap = 1;
    for (size_t i = 0; i < a->argc; i++)
        cap += 4 * a->argv[i].len + 3;
    char *line = malloc(cap), *p = line;
    FUZZ_CHECK(line != NULL, "out of memory");
    for (size_t i = 0; i < a->argc; i++) {
        const zkv_repl_arg *arg = &a->argv[i];
        bool plain = choose_single && memchr(arg->data, '\0', arg->len) == NULL &&
                     memchr(arg->data, '\'', arg->len) == NULL &&
                     memchr(arg->data, '\\', arg->len) == NULL;
        if (i)
            *p++ = ' ';
        *p++ = plain ? '\'' : '"';
        for (size_t j = 0; j < arg->len; j++) {
            if (plain) {
                *p++ = arg->data[j];
            } else {
                snprintf(p, 5, "\\x%02x", (unsigned char)arg->data[j]);
                p += 4;
            }
        }
        *p++ = plain ? '\'' : '"';
    }
    *p = '\0';
    return line;
}

static void check_args(const zkv_repl_args *a)
{
    for (size_t i = 0; i < a->argc; i++)
        FUZZ_CHECK(a->argv[i].data && a->argv[i].data[a->argv[i].len] == '\0',
                   "argument %zu not terminated", i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n = 0;
    while (n < size && data[n])
        n++;
    char *line = malloc(n + 1); /* exactly the line and its NUL */
    FUZZ_CHECK(line != NULL, "out of memory");
    memcpy(line, data, n);
    line[n] = '\0';
    zkv_repl_args args;
    char err[128];
    int rc = zkv_repl_tokenize(line, &args, err, sizeof err);
    FUZZ_CHECK(rc == 0 || (rc == -1 && err[0] && args.argc == 0 && args.argv == NULL),
               "rc %d, err '%s'", rc, err);
    size_t lead = strspn(line, " \t\r\n");
    if (rc == 0 && (line[lead] == '#' || line[lead] == '\0'))
        FUZZ_CHECK(args.argc == 0, "%zu arguments in a comment or blank line", args.argc);
    if (rc == 0) {
        check_args(&args);
        for (int single = 0; single < 2; single++) {
            char *again = requote(&args, single);
            zkv_repl_args back;
            FUZZ_CHECK(zkv_repl_tokenize(again, &back, err, sizeof err) == 0,
                       "requoted line refused: %s", err);
            FUZZ_CHECK(back.argc == args.argc, "%zu arguments back, %zu before", back.argc,
                       args.argc);
            for (size_t i = 0; i < args.argc; i++)
                FUZZ_CHECK(fuzz_same((const uint8_t *)back.argv[i].data, back.argv[i].len,
                                     (const uint8_t *)args.argv[i].data, args.argv[i].len),
                           "argument %zu changed", i);
            zkv_repl_args_free(&back);
            free(again);
        }
    }
    zkv_repl_args_free(&args);
    free(line);
    return 0;
}
