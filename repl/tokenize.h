/* tokenize.h: splits a REPL line into binary-safe arguments (pure, no I/O).
 *
 * Syntax, in the manner of redis-cli and the shell:
 * - Arguments are separated by blanks (space, tab, CR, LF).
 * - Outside quotes and inside double quotes a backslash starts an escape: \xHH (two hex
 *   digits, any byte, NUL included), \\, \", \', \n, \r, \t. Any other escape is an error.
 * - Inside single quotes everything is literal except \' and \\.
 * - Quoted and unquoted pieces that touch form one argument ("a"'b'c is "abc"); "" is an
 *   empty argument.
 * - A line whose first non-blank character is '#' is a comment (no arguments).
 * - An argument typed with no quote and no escape is "bare": only a bare word is read as a
 *   keyword or placeholder (scan's limit, put's "-"), so "limit" or "-" quoted is data.
 *
 * Errors: zkv_repl_tokenize returns 0, or -1 with a message in err ("unterminated double
 * quote", "bad escape '\q' at column 7", ...), or -2 when out of memory.
 * Ownership: the arguments belong to the zkv_repl_args and are released by
 * zkv_repl_args_free. */
#ifndef ZKV_REPL_TOKENIZE_H
#define ZKV_REPL_TOKENIZE_H
#include <stdbool.h>
#include <stddef.h>

typedef struct zkv_repl_arg {
    char *data; /* len bytes, then a NUL (data may contain NULs itself) */
    size_t len;
    bool bare; /* typed with no quote and no escape (command-line arguments always are) */
} zkv_repl_arg;

typedef struct zkv_repl_args {
    size_t argc;
    zkv_repl_arg *argv;
} zkv_repl_args;

/* Tokenizes line (a C string) into out (overwritten; free with zkv_repl_args_free, which
 * is also safe after a failure). */
int zkv_repl_tokenize(const char *line, zkv_repl_args *out, char *err, size_t errlen);

/* Copies argv[0..argc) as they are (one-shot mode: the shell already did the quoting),
 * each bare. Returns 0 or -2 when out of memory. */
int zkv_repl_args_from_argv(int argc, char *const *argv, zkv_repl_args *out);

/* true when a is exactly the C string s (no embedded NUL). */
int zkv_repl_arg_is(const zkv_repl_arg *a, const char *s);

void zkv_repl_args_free(zkv_repl_args *a);

/* The quoted form of bytes, the inverse of the tokenizer: a double-quoted argument with
 * printable ASCII as is, \" \\ \n \r \t, and every other byte as \xHH (lowercase), so
 * that tokenizing it gives the same bytes back ("a\x00b\xff"). Writes at most
 * ZKV_REPL_QUOTED_SIZE(len) bytes to out, NUL included; returns the length without it. */
#define ZKV_REPL_QUOTED_SIZE(len) (4 * (len) + 3)
size_t zkv_repl_quote(const void *data, size_t len, char *out);

#endif
