/* test_repl_tokenize.c: the REPL's argument splitter: blanks, quotes, escapes, binary
 * bytes, comments, bare words and the syntax errors; the quoted form (--quoted) that
 * tokenizes back to the same bytes. */
#include <CUnit/Basic.h>
#include <stdlib.h>
#include <string.h>

#include "tokenize.h"

static zkv_repl_args args;
static char err[256];

static int tok(const char *line)
{
    zkv_repl_args_free(&args);
    return zkv_repl_tokenize(line, &args, err, sizeof err);
}

static void assert_arg(size_t i, const char *bytes, size_t len)
{
    CU_ASSERT_FATAL(i < args.argc);
    CU_ASSERT_EQUAL(args.argv[i].len, len);
    CU_ASSERT_EQUAL(memcmp(args.argv[i].data, bytes, len), 0);
    CU_ASSERT_EQUAL(args.argv[i].data[len], '\0');
}

static void test_blanks(void)
{
    CU_ASSERT_EQUAL(tok("  put   key\tvalue \r\n"), 0);
    CU_ASSERT_EQUAL(args.argc, 3);
    assert_arg(0, "put", 3);
    assert_arg(1, "key", 3);
    assert_arg(2, "value", 5);
    CU_ASSERT_EQUAL(tok(""), 0);
    CU_ASSERT_EQUAL(args.argc, 0);
    CU_ASSERT_EQUAL(tok("   \t "), 0);
    CU_ASSERT_EQUAL(args.argc, 0);
}

static void test_quotes(void)
{
    CU_ASSERT_EQUAL(tok("put \"a key\" 'a value'"), 0);
    CU_ASSERT_EQUAL(args.argc, 3);
    assert_arg(1, "a key", 5);
    assert_arg(2, "a value", 7);
    /* pieces that touch form one argument; "" is an empty argument */
    CU_ASSERT_EQUAL(tok("x\"a b\"'c'd \"\" ''"), 0);
    CU_ASSERT_EQUAL(args.argc, 3);
    assert_arg(0, "xa bcd", 6);
    assert_arg(1, "", 0);
    assert_arg(2, "", 0);
    /* quotes of the other kind are literal inside */
    CU_ASSERT_EQUAL(tok("\"it's\" '\"q\"'"), 0);
    assert_arg(0, "it's", 4);
    assert_arg(1, "\"q\"", 3);
}

static void test_escapes(void)
{
    CU_ASSERT_EQUAL(tok("get \\x00\\xff\\x41"), 0);
    CU_ASSERT_EQUAL(args.argc, 2);
    assert_arg(1, "\x00\xff\x41", 3);
    CU_ASSERT_EQUAL(tok("\"a\\\"b\\\\c\\n\\t\\r\\x7F\""), 0);
    assert_arg(0, "a\"b\\c\n\t\r\x7f", 9);
    CU_ASSERT_EQUAL(tok("a\\ b"), -1); /* "\ " is not an escape */
    /* inside single quotes only \' and \\ are escapes */
    CU_ASSERT_EQUAL(tok("'\\x00\\'\\\\'"), 0);
    assert_arg(0, "\\x00'\\", 6);
}

static void test_errors(void)
{
    CU_ASSERT_EQUAL(tok("put \"abc"), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "unterminated double quote"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "column 5"));
    CU_ASSERT_EQUAL(args.argc, 0);
    CU_ASSERT_EQUAL(tok("put 'abc"), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "unterminated single quote"));
    CU_ASSERT_EQUAL(tok("get \\x4"), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "two hex digits"));
    CU_ASSERT_EQUAL(tok("get \\xg0"), -1);
    CU_ASSERT_EQUAL(tok("get a\\"), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "trailing backslash"));
    CU_ASSERT_EQUAL(tok("get \\q"), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "'\\q'"));
    CU_ASSERT_EQUAL(tok("get \"\\q\""), -1);
}

static void test_comments(void)
{
    CU_ASSERT_EQUAL(tok("  # put a b"), 0);
    CU_ASSERT_EQUAL(args.argc, 0);
    CU_ASSERT_EQUAL(tok("put a#b #c"), 0); /* only a leading # starts a comment */
    CU_ASSERT_EQUAL(args.argc, 3);
    assert_arg(1, "a#b", 3);
    assert_arg(2, "#c", 2);
}

static void test_from_argv(void)
{
    char *argv[] = {"put", "\\x00", "two words", ""};
    zkv_repl_args_free(&args);
    CU_ASSERT_EQUAL(zkv_repl_args_from_argv(4, argv, &args), 0);
    CU_ASSERT_EQUAL(args.argc, 4);
    assert_arg(1, "\\x00", 4); /* raw: no escape processing */
    assert_arg(2, "two words", 9);
    assert_arg(3, "", 0);
    CU_ASSERT_TRUE(zkv_repl_arg_is(&args.argv[0], "put"));
    CU_ASSERT_FALSE(zkv_repl_arg_is(&args.argv[0], "pu"));
    CU_ASSERT_FALSE(zkv_repl_arg_is(&args.argv[0], "puts"));
}

static void test_bare(void)
{
    CU_ASSERT_EQUAL(tok("scan limit \"limit\" 'limit' \\x6cimit li\"\"mit - \"-\" \"\""), 0);
    CU_ASSERT_EQUAL_FATAL(args.argc, 9);
    const bool bare[] = {true, true, false, false, false, false, true, false, false};
    for (size_t i = 0; i < 9; i++)
        CU_ASSERT_EQUAL(args.argv[i].bare, bare[i]);
    for (size_t i = 1; i < 6; i++)
        assert_arg(i, "limit", 5);
    assert_arg(6, "-", 1);
    assert_arg(7, "-", 1);
    /* a quote inside a word, or an escape, makes the whole argument quoted */
    CU_ASSERT_EQUAL(tok("a'b' c\\td"), 0);
    CU_ASSERT_FALSE(args.argv[0].bare);
    CU_ASSERT_FALSE(args.argv[1].bare);
    char *argv[] = {"put", "\"-\"", "-"};
    zkv_repl_args_free(&args);
    CU_ASSERT_EQUAL(zkv_repl_args_from_argv(3, argv, &args), 0);
    for (size_t i = 0; i < 3; i++)
        CU_ASSERT_TRUE(args.argv[i].bare); /* the shell's quotes are gone already */
}

/* Quotes bytes, checks the form, tokenizes it back and compares. */
static void round_trip(const void *data, size_t len)
{
    char *q = malloc(ZKV_REPL_QUOTED_SIZE(len));
    CU_ASSERT_FATAL(q != NULL);
    size_t n = zkv_repl_quote(data, len, q);
    CU_ASSERT_EQUAL(n, strlen(q));
    CU_ASSERT_TRUE(n + 1 <= ZKV_REPL_QUOTED_SIZE(len));
    CU_ASSERT_TRUE(n >= 2 && q[0] == '"' && q[n - 1] == '"');
    for (size_t i = 0; i < n; i++) /* printable ASCII only: safe on a terminal */
        CU_ASSERT_TRUE(q[i] >= 0x20 && q[i] < 0x7f);
    CU_ASSERT_EQUAL(tok(q), 0);
    CU_ASSERT_EQUAL(args.argc, 1);
    if (args.argc == 1) {
        CU_ASSERT_EQUAL(args.argv[0].len, len);
        CU_ASSERT_TRUE(len == 0 || memcmp(args.argv[0].data, data, len) == 0);
    }
    free(q);
}

static void test_quote(void)
{
    char q[64];
    CU_ASSERT_EQUAL(zkv_repl_quote("", 0, q), 2);
    CU_ASSERT_STRING_EQUAL(q, "\"\"");
    zkv_repl_quote("a\0b\xff", 4, q);
    CU_ASSERT_STRING_EQUAL(q, "\"a\\x00b\\xff\"");
    zkv_repl_quote("say \"hi\"\\ it's\n\r\t\x7f", 18, q);
    CU_ASSERT_STRING_EQUAL(q, "\"say \\\"hi\\\"\\\\ it's\\n\\r\\t\\x7f\"");
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    round_trip(all, sizeof all);
    round_trip("", 0);
    round_trip("#not a comment", 14);
    round_trip("  blanks  ", 10);
    for (int i = 0; i < 256; i++)
        round_trip(all + i, 1);
    unsigned seed = 12345;
    for (int t = 0; t < 200; t++) {
        unsigned char buf[40];
        size_t len = (size_t)(t % 40);
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            buf[i] = (unsigned char)(seed >> 16);
        }
        round_trip(buf, len);
    }
}

static void test_embedded_nul_arg_is(void)
{
    CU_ASSERT_EQUAL(tok("get\\x00"), 0);
    CU_ASSERT_FALSE(zkv_repl_arg_is(&args.argv[0], "get"));
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("repl_tokenize", NULL, NULL);
    CU_add_test(s, "blanks", test_blanks);
    CU_add_test(s, "quotes", test_quotes);
    CU_add_test(s, "escapes", test_escapes);
    CU_add_test(s, "errors", test_errors);
    CU_add_test(s, "comments", test_comments);
    CU_add_test(s, "from_argv", test_from_argv);
    CU_add_test(s, "embedded_nul", test_embedded_nul_arg_is);
    CU_add_test(s, "bare", test_bare);
    CU_add_test(s, "quote", test_quote);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    zkv_repl_args_free(&args);
    return failed ? 1 : 0;
}
