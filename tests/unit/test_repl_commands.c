/* test_repl_commands.c: command lookup and dispatch (unknown names, argument counts),
 * scan arguments, the stdin argument, status names and exit codes, the stale note,
 * versions as EPOCH:SEQ, the JSON form of bytes, help text and completion. */
#include <CUnit/Basic.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include <zkv/zkv.h>

#include "commands.h"

static zkv_repl_args args;
static char err[256];

static zkv_repl_dispatch_result dispatch(const char *line, const zkv_repl_command **cmd)
{
    zkv_repl_args_free(&args);
    CU_ASSERT_EQUAL_FATAL(zkv_repl_tokenize(line, &args, err, sizeof err), 0);
    return zkv_repl_dispatch(&args, cmd, err, sizeof err);
}

static void test_find(void)
{
    CU_ASSERT_EQUAL(zkv_repl_command_find("get", 3)->id, ZKV_REPL_CMD_GET);
    CU_ASSERT_EQUAL(zkv_repl_command_find("GET", 3)->id, ZKV_REPL_CMD_GET);
    CU_ASSERT_EQUAL(zkv_repl_command_find("exit", 4)->id, ZKV_REPL_CMD_QUIT);
    CU_ASSERT_EQUAL(zkv_repl_command_find("quit", 4)->id, ZKV_REPL_CMD_QUIT);
    CU_ASSERT_EQUAL(zkv_repl_command_find("getx", 3)->id, ZKV_REPL_CMD_GET); /* length counts */
    CU_ASSERT_PTR_NULL(zkv_repl_command_find("ge", 2));
    CU_ASSERT_PTR_NULL(zkv_repl_command_find("gets", 4));
    CU_ASSERT_PTR_NULL(zkv_repl_command_find("get\0", 4));
    size_t n;
    const zkv_repl_command *all = zkv_repl_commands(&n);
    CU_ASSERT_EQUAL(n, 17);
    CU_ASSERT_EQUAL(zkv_repl_command_find("latency", 7)->id, ZKV_REPL_CMD_LATENCY);
    CU_ASSERT_EQUAL(zkv_repl_command_find("PING", 4)->id, ZKV_REPL_CMD_PING);
    CU_ASSERT_EQUAL(zkv_repl_command_find("info", 4)->id, ZKV_REPL_CMD_INFO);
    for (size_t i = 0; i < n; i++) {
        CU_ASSERT_PTR_EQUAL(zkv_repl_command_find(all[i].name, strlen(all[i].name)), &all[i]);
        CU_ASSERT_TRUE(all[i].min_args <= all[i].max_args);
    }
}

static void test_dispatch(void)
{
    const zkv_repl_command *c;
    CU_ASSERT_EQUAL(dispatch("put k v", &c), ZKV_REPL_DISPATCH_OK);
    CU_ASSERT_EQUAL(c->id, ZKV_REPL_CMD_PUT);
    CU_ASSERT_TRUE(c->needs_client);
    CU_ASSERT_EQUAL(dispatch("", &c), ZKV_REPL_DISPATCH_EMPTY);
    CU_ASSERT_PTR_NULL(c);
    CU_ASSERT_EQUAL(dispatch("foo bar", &c), ZKV_REPL_DISPATCH_UNKNOWN);
    CU_ASSERT_STRING_EQUAL(err, "unknown command 'foo' (try 'help')");
    CU_ASSERT_EQUAL(dispatch("\\x01\\\\", &c), ZKV_REPL_DISPATCH_UNKNOWN);
    CU_ASSERT_STRING_EQUAL(err, "unknown command '\\x01\\x5c' (try 'help')");
    CU_ASSERT_EQUAL(dispatch("put k", &c), ZKV_REPL_DISPATCH_ARITY);
    CU_ASSERT_STRING_EQUAL(
        err, "usage: put KEY VALUE [--if-absent | --if-version EPOCH:SEQ] [--ttl SECONDS]");
    CU_ASSERT_EQUAL(dispatch("put k v w x y z q", &c), ZKV_REPL_DISPATCH_ARITY);
    CU_ASSERT_EQUAL(dispatch("mset k", &c), ZKV_REPL_DISPATCH_ARITY);
    CU_ASSERT_EQUAL(dispatch("mget a b c", &c), ZKV_REPL_DISPATCH_OK);
    CU_ASSERT_EQUAL(dispatch("get", &c), ZKV_REPL_DISPATCH_ARITY);
    CU_ASSERT_STRING_EQUAL(err, "usage: get KEY");
    CU_ASSERT_EQUAL(dispatch("ranges x", &c), ZKV_REPL_DISPATCH_ARITY);
    CU_ASSERT_EQUAL(dispatch("help get", &c), ZKV_REPL_DISPATCH_OK);
    CU_ASSERT_FALSE(c->needs_client);
    CU_ASSERT_EQUAL(dispatch("help get put", &c), ZKV_REPL_DISPATCH_ARITY);
    CU_ASSERT_EQUAL(dispatch("scan a b limit 5", &c), ZKV_REPL_DISPATCH_OK);
    CU_ASSERT_EQUAL(dispatch("scan a b limit 5 --reverse --keys-only --prefix p --token 00 x", &c),
                    ZKV_REPL_DISPATCH_ARITY);
}

static int scan(const char *line, zkv_repl_scan_args *sa)
{
    zkv_repl_args_free(&args);
    CU_ASSERT_EQUAL_FATAL(zkv_repl_tokenize(line, &args, err, sizeof err), 0);
    return zkv_repl_scan_args_parse(&args, sa, err, sizeof err);
}

static void test_scan_options(void)
{
    static zkv_repl_scan_args sa;
    CU_ASSERT_EQUAL(scan("scan a limit 5 --reverse --prefix us --keys-only", &sa), 0);
    CU_ASSERT(sa.reverse && sa.keys_only && sa.plen == 2 && memcmp(sa.prefix, "us", 2) == 0);
    CU_ASSERT(sa.slen == 1 && sa.limit == 5);
    CU_ASSERT_EQUAL(scan("scan --token 7a730100ff", &sa), 0);
    CU_ASSERT(sa.tlen == 5 && sa.token[0] == 'z' && sa.token[4] == 0xff);
    CU_ASSERT_EQUAL(scan("scan --token 7a7", &sa), -1); /* odd */
    CU_ASSERT_EQUAL(scan("scan --token zz", &sa), -1);
    CU_ASSERT_EQUAL(scan("scan \"--reverse\"", &sa), 0); /* quoted: a start key */
    CU_ASSERT(!sa.reverse && sa.slen == 9);
    char hex[11];
    zkv_repl_hex("\x00\xff"
                 "ab",
                 4, hex);
    CU_ASSERT_STRING_EQUAL(hex, "00ff6162");
}

static void test_scan_args(void)
{
    zkv_repl_scan_args sa;
    CU_ASSERT_EQUAL(scan("scan", &sa), 0);
    CU_ASSERT_EQUAL(sa.slen, 0);
    CU_ASSERT_EQUAL(sa.elen, 0);
    CU_ASSERT_EQUAL(sa.limit, ZKV_REPL_SCAN_DEFAULT_LIMIT);
    CU_ASSERT_EQUAL(scan("scan a", &sa), 0);
    CU_ASSERT_EQUAL(sa.slen, 1);
    CU_ASSERT_EQUAL(sa.start[0], 'a');
    CU_ASSERT_EQUAL(sa.elen, 0);
    CU_ASSERT_EQUAL(scan("scan a z limit 10", &sa), 0);
    CU_ASSERT_EQUAL(sa.start[0], 'a');
    CU_ASSERT_EQUAL(sa.end[0], 'z');
    CU_ASSERT_EQUAL(sa.limit, 10);
    CU_ASSERT_EQUAL(scan("scan limit 7", &sa), 0);
    CU_ASSERT_EQUAL(sa.slen, 0);
    CU_ASSERT_EQUAL(sa.limit, 7);
    CU_ASSERT_EQUAL(scan("scan \"\" m limit 3", &sa), 0);
    CU_ASSERT_EQUAL(sa.slen, 0);
    CU_ASSERT_EQUAL(sa.elen, 1);
    CU_ASSERT_EQUAL(sa.limit, 3);
    CU_ASSERT_EQUAL(scan("scan a limit 5", &sa), 0);
    CU_ASSERT_EQUAL(sa.slen, 1);
    CU_ASSERT_EQUAL(sa.start[0], 'a');
    CU_ASSERT_EQUAL(sa.elen, 0);
    CU_ASSERT_EQUAL(sa.limit, 5);
    CU_ASSERT_EQUAL(scan("scan a b limit 5", &sa), 0);
    CU_ASSERT_EQUAL(sa.slen, 1);
    CU_ASSERT_EQUAL(sa.elen, 1);
    CU_ASSERT_EQUAL(sa.end[0], 'b');
    CU_ASSERT_EQUAL(sa.limit, 5);
    CU_ASSERT_EQUAL(scan("scan limit 1000000", &sa), 0);
    CU_ASSERT_EQUAL(sa.limit, ZKV_REPL_SCAN_MAX_LIMIT);
    /* the bare word limit, last or second to last, is always the keyword */
    CU_ASSERT_EQUAL(scan("scan limit", &sa), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "limit needs a number"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "\"limit\""));
    CU_ASSERT_EQUAL(scan("scan a limit", &sa), -1);
    CU_ASSERT_EQUAL(scan("scan a b limit", &sa), -1);
    CU_ASSERT_EQUAL(scan("scan limit z", &sa), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "limit must be a number"));
    CU_ASSERT_EQUAL(scan("scan limit 0", &sa), -1);
    CU_ASSERT_EQUAL(scan("scan limit 1000001", &sa), -1);
    CU_ASSERT_EQUAL(scan("scan limit limit", &sa), -1);
    /* quoted or escaped, limit is a key */
    CU_ASSERT_EQUAL(scan("scan \"limit\"", &sa), 0);
    CU_ASSERT_EQUAL(sa.slen, 5);
    CU_ASSERT_EQUAL(memcmp(sa.start, "limit", 5), 0);
    CU_ASSERT_EQUAL(sa.elen, 0);
    CU_ASSERT_EQUAL(sa.limit, ZKV_REPL_SCAN_DEFAULT_LIMIT);
    CU_ASSERT_EQUAL(scan("scan 'limit' z", &sa), 0);
    CU_ASSERT_EQUAL(sa.slen, 5);
    CU_ASSERT_EQUAL(sa.elen, 1);
    CU_ASSERT_EQUAL(scan("scan a \\x6cimit", &sa), 0);
    CU_ASSERT_EQUAL(sa.elen, 5);
    CU_ASSERT_EQUAL(scan("scan \"limit\" limit 2", &sa), 0);
    CU_ASSERT_EQUAL(sa.slen, 5);
    CU_ASSERT_EQUAL(sa.limit, 2);
    CU_ASSERT_EQUAL(scan("scan limit limit 2", &sa), 0); /* START limit: only the pair is read */
    CU_ASSERT_EQUAL(sa.slen, 5);
    CU_ASSERT_EQUAL(sa.limit, 2);
    CU_ASSERT_EQUAL(scan("scan \"limit\" 5", &sa), 0); /* quoted: START limit, END 5 */
    CU_ASSERT_EQUAL(sa.slen, 5);
    CU_ASSERT_EQUAL(sa.elen, 1);
    CU_ASSERT_EQUAL(sa.limit, ZKV_REPL_SCAN_DEFAULT_LIMIT);
    CU_ASSERT_EQUAL(scan("scan a \"limit\" 5", &sa), -1); /* three keys: too many */
    CU_ASSERT_STRING_EQUAL(
        err,
        "usage: scan [START [END]] [limit N] [--reverse] [--keys-only] [--prefix P] [--token HEX]");
    CU_ASSERT_EQUAL(scan("scan LIMIT 5", &sa), 0); /* the keyword is lower case */
    CU_ASSERT_EQUAL(sa.slen, 5);
    CU_ASSERT_EQUAL(sa.limit, ZKV_REPL_SCAN_DEFAULT_LIMIT);
    /* command-line arguments are bare: "zkv scan limit 5" */
    char *argv[] = {"scan", "limit", "5"};
    zkv_repl_args_free(&args);
    CU_ASSERT_EQUAL_FATAL(zkv_repl_args_from_argv(3, argv, &args), 0);
    CU_ASSERT_EQUAL(zkv_repl_scan_args_parse(&args, &sa, err, sizeof err), 0);
    CU_ASSERT_EQUAL(sa.slen, 0);
    CU_ASSERT_EQUAL(sa.limit, 5);
    CU_ASSERT_EQUAL(scan("scan a limit 0", &sa), -1);
    CU_ASSERT_EQUAL(scan("scan a b limit 0", &sa), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "limit must be a number"));
    CU_ASSERT_EQUAL(scan("scan a b limit -1", &sa), -1);
    CU_ASSERT_EQUAL(scan("scan a b limit 99999999", &sa), -1);
    CU_ASSERT_EQUAL(scan("scan a b c", &sa), -1);
    CU_ASSERT_STRING_EQUAL(
        err,
        "usage: scan [START [END]] [limit N] [--reverse] [--keys-only] [--prefix P] [--token HEX]");
}

static size_t stdin_arg(const char *line)
{
    zkv_repl_args_free(&args);
    CU_ASSERT_EQUAL_FATAL(zkv_repl_tokenize(line, &args, err, sizeof err), 0);
    return zkv_repl_stdin_arg(&args);
}

static void test_stdin_arg(void)
{
    CU_ASSERT_EQUAL(stdin_arg("put k -"), 2);
    CU_ASSERT_EQUAL(stdin_arg("SET k -"), 2);
    CU_ASSERT_EQUAL(stdin_arg("put k \"-\""), 0); /* quoted: the one-byte value */
    CU_ASSERT_EQUAL(stdin_arg("put k '-'"), 0);
    CU_ASSERT_EQUAL(stdin_arg("put k \\x2d"), 0);
    CU_ASSERT_EQUAL(stdin_arg("put - v"), 0); /* only VALUE */
    CU_ASSERT_EQUAL(stdin_arg("put k --"), 0);
    CU_ASSERT_EQUAL(stdin_arg("put k"), 0);
    CU_ASSERT_EQUAL(stdin_arg("put k - --if-absent"), 2); /* the options follow VALUE */
    CU_ASSERT_EQUAL(stdin_arg("get -"), 0);
    CU_ASSERT_EQUAL(stdin_arg("del k -"), 0);
    CU_ASSERT_EQUAL(stdin_arg(""), 0);
    char *argv[] = {"put", "k", "-"};
    zkv_repl_args_free(&args);
    CU_ASSERT_EQUAL_FATAL(zkv_repl_args_from_argv(3, argv, &args), 0);
    CU_ASSERT_EQUAL(zkv_repl_stdin_arg(&args), 2);
    CU_ASSERT_EQUAL(ZKV_REPL_STDIN_MAX, 1048576); /* libzkv's default max value */
}

static void test_version(void)
{
    char out[ZKV_REPL_VERSION_SIZE];
    zkv_version v = {3, 17};
    CU_ASSERT_EQUAL(zkv_repl_version_format(v, out, sizeof out), 4);
    CU_ASSERT_STRING_EQUAL(out, "3:17");
    v = (zkv_version){UINT64_MAX, UINT64_MAX};
    CU_ASSERT_EQUAL(zkv_repl_version_format(v, out, sizeof out), 41);
    CU_ASSERT_STRING_EQUAL(out, "18446744073709551615:18446744073709551615");
    char small[4];
    CU_ASSERT_EQUAL(zkv_repl_version_format((zkv_version){3, 17}, small, sizeof small), 4);
    CU_ASSERT_STRING_EQUAL(small, "3:1");

    zkv_version p = {9, 9};
    CU_ASSERT_EQUAL(zkv_repl_version_parse("3:17", &p), 0);
    CU_ASSERT_EQUAL(p.epoch, 3);
    CU_ASSERT_EQUAL(p.seq, 17);
    CU_ASSERT_EQUAL(zkv_repl_version_parse("0:0", &p), 0);
    CU_ASSERT_EQUAL(p.epoch, 0);
    CU_ASSERT_EQUAL(p.seq, 0);
    CU_ASSERT_EQUAL(zkv_repl_version_parse("18446744073709551615:18446744073709551615", &p), 0);
    CU_ASSERT_EQUAL(p.epoch, UINT64_MAX);
    CU_ASSERT_EQUAL(p.seq, UINT64_MAX);
    CU_ASSERT_EQUAL(zkv_repl_version_parse("007:010", &p), 0); /* leading zeros: decimal */
    CU_ASSERT_EQUAL(p.epoch, 7);
    CU_ASSERT_EQUAL(p.seq, 10);
    const char *bad[] = {"",
                         ":",
                         "3",
                         "3:",
                         ":17",
                         "3:17:1",
                         "3::17",
                         " 3:17",
                         "3:17 ",
                         "3 :17",
                         "+3:17",
                         "-3:17",
                         "3:-17",
                         "0x3:17",
                         "3.0:17",
                         "a:b",
                         "3;17",
                         "18446744073709551616:0",
                         "0:18446744073709551616",
                         "99999999999999999999:0",
                         "000000000000000000001:0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p = (zkv_version){5, 6};
        CU_ASSERT_EQUAL(zkv_repl_version_parse(bad[i], &p), -1);
        CU_ASSERT_TRUE(p.epoch == 5 && p.seq == 6); /* unchanged */
    }
    CU_ASSERT_EQUAL(zkv_repl_version_parse(NULL, &p), -1);
    /* round trip */
    const zkv_version some[] = {{0, 0}, {1, 1}, {3, 1042}, {UINT64_MAX, 0}, {0, UINT64_MAX}};
    for (size_t i = 0; i < sizeof some / sizeof some[0]; i++) {
        zkv_repl_version_format(some[i], out, sizeof out);
        CU_ASSERT_EQUAL(zkv_repl_version_parse(out, &p), 0);
        CU_ASSERT_TRUE(p.epoch == some[i].epoch && p.seq == some[i].seq);
    }
}

/* The JSON text zkv_repl_json_bytes makes of bytes (malloc'd). */
static char *json_of(const void *data, size_t len)
{
    cJSON *j = zkv_repl_json_bytes(data, len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return text;
}

static void check_json(const void *data, size_t len, const char *want)
{
    char *text = json_of(data, len);
    CU_ASSERT_STRING_EQUAL(text, want);
    cJSON_free(text);
}

static void test_json_bytes(void)
{
    check_json("", 0, "\"\"");
    check_json("hello", 5, "\"hello\"");
    check_json("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
    check_json("line\n\x01", 6, "\"line\\n\\u0001\""); /* controls but NUL: a string */
    check_json("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14,
               "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    /* NUL bytes or not UTF-8: base64 */
    check_json("a\0b\xff", 4, "{\"base64\":\"YQBi/w==\"}");
    check_json("\0", 1, "{\"base64\":\"AA==\"}");
    check_json("\xff\xfe\xfd", 3, "{\"base64\":\"//79\"}");
    check_json("caf\xe9", 4, "{\"base64\":\"Y2Fm6Q==\"}"); /* Latin-1 */

    CU_ASSERT_TRUE(zkv_repl_json_is_text("", 0));
    CU_ASSERT_TRUE(zkv_repl_json_is_text("\x7f\t", 2));
    CU_ASSERT_TRUE(zkv_repl_json_is_text("\xc2\x80", 2));         /* U+0080 */
    CU_ASSERT_TRUE(zkv_repl_json_is_text("\xed\x9f\xbf", 3));     /* U+D7FF */
    CU_ASSERT_TRUE(zkv_repl_json_is_text("\xee\x80\x80", 3));     /* U+E000 */
    CU_ASSERT_TRUE(zkv_repl_json_is_text("\xf4\x8f\xbf\xbf", 4)); /* U+10FFFF */
    CU_ASSERT_FALSE(zkv_repl_json_is_text("a\0", 2));
    CU_ASSERT_FALSE(zkv_repl_json_is_text("\x80", 1)); /* lone continuation */
    CU_ASSERT_FALSE(zkv_repl_json_is_text("\xc3", 1)); /* cut short */
    CU_ASSERT_FALSE(zkv_repl_json_is_text("\xe2\x82", 2));
    CU_ASSERT_FALSE(zkv_repl_json_is_text("\xc0\xaf", 2)); /* overlong '/' */
    CU_ASSERT_FALSE(zkv_repl_json_is_text("\xc1\xbf", 2));
    CU_ASSERT_FALSE(zkv_repl_json_is_text("\xe0\x9f\xbf", 3));     /* overlong */
    CU_ASSERT_FALSE(zkv_repl_json_is_text("\xed\xa0\x80", 3));     /* surrogate U+D800 */
    CU_ASSERT_FALSE(zkv_repl_json_is_text("\xf0\x8f\xbf\xbf", 4)); /* overlong */
    CU_ASSERT_FALSE(zkv_repl_json_is_text("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
    CU_ASSERT_FALSE(zkv_repl_json_is_text("\xf5\x80\x80\x80", 4));
    CU_ASSERT_FALSE(zkv_repl_json_is_text("\xc3\x28", 2)); /* bad continuation */
    CU_ASSERT_FALSE(zkv_repl_json_is_text("ok\xff", 3));
    /* a string of text parses back to the same bytes */
    const char text[] = "tab\there \"q\" \\ \xe2\x82\xac\x1f";
    char *j = json_of(text, sizeof text - 1);
    cJSON *back = cJSON_Parse(j);
    CU_ASSERT_TRUE(cJSON_IsString(back));
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(back), text);
    cJSON_Delete(back);
    cJSON_free(j);

    /* base64 (RFC 4648 test vectors) */
    const char *vec[][2] = {{"", ""},
                            {"f", "Zg=="},
                            {"fo", "Zm8="},
                            {"foo", "Zm9v"},
                            {"foob", "Zm9vYg=="},
                            {"fooba", "Zm9vYmE="},
                            {"foobar", "Zm9vYmFy"}};
    for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
        char out[32];
        size_t n = strlen(vec[i][0]);
        CU_ASSERT_EQUAL(zkv_repl_base64(vec[i][0], n, out), strlen(vec[i][1]));
        CU_ASSERT_STRING_EQUAL(out, vec[i][1]);
        CU_ASSERT_TRUE(strlen(out) + 1 <= ZKV_REPL_BASE64_SIZE(n));
    }
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    char out[ZKV_REPL_BASE64_SIZE(256)];
    CU_ASSERT_EQUAL(zkv_repl_base64(all, 256, out), sizeof out - 1);
    CU_ASSERT_EQUAL(strncmp(out, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g", 44), 0);
    CU_ASSERT_STRING_EQUAL(out + sizeof out - 1 - 8, "/P3+/w==");
}

static void test_status(void)
{
    CU_ASSERT_STRING_EQUAL(zkv_repl_status_name(ZKV_EUNAVAILABLE), "UNAVAILABLE");
    CU_ASSERT_STRING_EQUAL(zkv_repl_status_name(ZKV_ENOTFOUND), "NOT_FOUND");
    CU_ASSERT_STRING_EQUAL(zkv_repl_status_name(ZKV_ETIMEOUT), "TIMEOUT");
    CU_ASSERT_STRING_EQUAL(zkv_repl_status_name(-1000), "ERROR");
    CU_ASSERT_EQUAL(zkv_repl_exit_status(ZKV_OK), 0);
    CU_ASSERT_EQUAL(zkv_repl_exit_status(ZKV_ENOTFOUND), 1);
    CU_ASSERT_EQUAL(zkv_repl_exit_status(ZKV_EZOOKEEPER), 2);
    CU_ASSERT_EQUAL(zkv_repl_exit_status(ZKV_EUNAVAILABLE), 2);
}

/* Help text as one line: the wrapping's newline and indent back to one blank. */
static void flatten(char *text)
{
    char *o = text;
    for (const char *p = text; *p; p++) {
        if (*p == '\n') {
            *o++ = ' ';
            p += strspn(p + 1, " ");
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
}

static void test_help(void)
{
    char text[8192];
    CU_ASSERT_EQUAL(zkv_repl_help_text(NULL, 0, text, sizeof text), 0);
    size_t n;
    const zkv_repl_command *all = zkv_repl_commands(&n);
    for (size_t i = 0; i < n; i++)
        CU_ASSERT_PTR_NOT_NULL(strstr(text, all[i].usage));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\\xHH"));
    CU_ASSERT_EQUAL(zkv_repl_help_text("put", 3, text, sizeof text), 0);
    CU_ASSERT_EQUAL(strncmp(text, "usage: put KEY VALUE [--if-absent", 33), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "alias: set"));
    for (char *line = text; *line; line = strchr(line, '\n') + 1) /* wrapped to 78 */
        CU_ASSERT_TRUE(strcspn(line, "\n") <= 78);
    CU_ASSERT_EQUAL(zkv_repl_help_text("nope", 4, text, sizeof text), -1);
    /* the NUL-byte examples (tests/integration/test_cli.c runs them) */
    CU_ASSERT_EQUAL(zkv_repl_help_text(NULL, 0, text, sizeof text), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\n  $ printf 'v\\000\\377' | zkv put bin -\n"));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(text, "\n  $ printf '%s\\n' 'put \"k\\x00\" \"v\\x00\\xff\"' | zkv\n"));
    CU_ASSERT_PTR_NULL(strstr(text, "use $'")); /* bash's $'\x00' cannot carry a NUL */
    CU_ASSERT_EQUAL(zkv_repl_help_text("put", 3, text, sizeof text), 0);
    flatten(text);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "a VALUE of - reads the value from stdin"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "zkv -x put KEY"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "{\"ok\":true,\"version\":\"EPOCH:SEQ\"}"));
    CU_ASSERT_EQUAL(zkv_repl_help_text("scan", 4, text, sizeof text), 0);
    flatten(text);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, ZKV_REPL_SCAN_STALE_NOTE));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "scan limit 5, scan a limit 5, scan a b limit 5"));
    CU_ASSERT_EQUAL(zkv_repl_help_text("get", 3, text, sizeof text), 0);
    flatten(text);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "with --raw the bytes alone"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "{\"base64\":\"...\"}; a missing key prints null"));
    /* truncation never overflows */
    char small[16];
    CU_ASSERT_EQUAL(zkv_repl_help_text(NULL, 0, small, sizeof small), 0);
    CU_ASSERT_EQUAL(strlen(small), 15);
}

/* The options of a conditional put or del. */
static void test_write_cond(void)
{
    zkv_repl_args a;
    int cond;
    zkv_version v;
    uint64_t ttl;
    char e[256];
    CU_ASSERT_EQUAL_FATAL(zkv_repl_tokenize("put k v", &a, e, sizeof e), 0);
    CU_ASSERT_EQUAL(zkv_repl_write_cond(&a, 3, true, &cond, &v, &ttl, e, sizeof e), 0);
    CU_ASSERT_EQUAL(cond, 0);
    zkv_repl_args_free(&a);
    CU_ASSERT_EQUAL_FATAL(zkv_repl_tokenize("put k v --if-absent", &a, e, sizeof e), 0);
    CU_ASSERT_EQUAL(zkv_repl_write_cond(&a, 3, true, &cond, &v, &ttl, e, sizeof e), 0);
    CU_ASSERT_EQUAL(cond, ZKV_IF_ABSENT);
    zkv_repl_args_free(&a);
    CU_ASSERT_EQUAL_FATAL(zkv_repl_tokenize("put k v --if-version 3:17", &a, e, sizeof e), 0);
    CU_ASSERT_EQUAL(zkv_repl_write_cond(&a, 3, true, &cond, &v, &ttl, e, sizeof e), 0);
    CU_ASSERT(cond == ZKV_IF_VERSION && v.epoch == 3 && v.seq == 17);
    zkv_repl_args_free(&a);
    CU_ASSERT_EQUAL_FATAL(zkv_repl_tokenize("del k --if-version 0:0", &a, e, sizeof e), 0);
    CU_ASSERT_EQUAL(zkv_repl_write_cond(&a, 2, false, &cond, &v, &ttl, e, sizeof e), 0);
    CU_ASSERT(cond == ZKV_IF_VERSION && v.epoch == 0 && v.seq == 0);
    zkv_repl_args_free(&a);
    static const char *bad[] = {"put k v --if-version 3", "put k v --if-version x:1",
                                "put k v --if-version", "put k v --if-present",
                                "put k v --if-absent x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CU_ASSERT_EQUAL_FATAL(zkv_repl_tokenize(bad[i], &a, e, sizeof e), 0);
        CU_ASSERT_EQUAL(zkv_repl_write_cond(&a, 3, true, &cond, &v, &ttl, e, sizeof e), -1);
        zkv_repl_args_free(&a);
    }
    CU_ASSERT_EQUAL_FATAL(zkv_repl_tokenize("del k --if-absent", &a, e, sizeof e), 0);
    CU_ASSERT_EQUAL(zkv_repl_write_cond(&a, 2, false, &cond, &v, &ttl, e, sizeof e), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(e, "--if-version"));
    zkv_repl_args_free(&a);
    CU_ASSERT_EQUAL(zkv_repl_exit_status(ZKV_ECONDITION), 3);
    /* --ttl, alone or with a condition, in either order */
    CU_ASSERT_EQUAL_FATAL(zkv_repl_tokenize("put k v --ttl 30 --if-absent", &a, e, sizeof e), 0);
    CU_ASSERT_EQUAL(zkv_repl_write_cond(&a, 3, true, &cond, &v, &ttl, e, sizeof e), 0);
    CU_ASSERT(cond == ZKV_IF_ABSENT && ttl == 30000);
    zkv_repl_args_free(&a);
    CU_ASSERT_EQUAL_FATAL(zkv_repl_tokenize("put k v --ttl 0", &a, e, sizeof e), 0);
    CU_ASSERT_EQUAL(zkv_repl_write_cond(&a, 3, true, &cond, &v, &ttl, e, sizeof e), -1);
    zkv_repl_args_free(&a);
    CU_ASSERT_EQUAL_FATAL(zkv_repl_tokenize("del k --ttl 5", &a, e, sizeof e), 0);
    CU_ASSERT_EQUAL(zkv_repl_write_cond(&a, 2, false, &cond, &v, &ttl, e, sizeof e), -1);
    zkv_repl_args_free(&a);
}

static void test_completion(void)
{
    CU_ASSERT_STRING_EQUAL(zkv_repl_complete("g", 0), "get");
    CU_ASSERT_PTR_NULL(zkv_repl_complete("g", 1));
    CU_ASSERT_STRING_EQUAL(zkv_repl_complete("d", 0), "del");
    CU_ASSERT_STRING_EQUAL(zkv_repl_complete("d", 1), "delete");
    CU_ASSERT_PTR_NULL(zkv_repl_complete("x", 0));
    size_t count = 0;
    while (zkv_repl_complete("", count))
        count++;
    CU_ASSERT_EQUAL(count, 20); /* 17 names + 3 aliases ("?" is not offered) */
    CU_ASSERT_TRUE(zkv_repl_completion_wants_command("", 0));
    CU_ASSERT_TRUE(zkv_repl_completion_wants_command("ge", 0));
    CU_ASSERT_TRUE(zkv_repl_completion_wants_command("  ge", 2));
    CU_ASSERT_FALSE(zkv_repl_completion_wants_command("get ke", 4));
    CU_ASSERT_TRUE(zkv_repl_completion_wants_command("help ge", 5));
    CU_ASSERT_TRUE(zkv_repl_completion_wants_command("HELP ", 5));
    CU_ASSERT_FALSE(zkv_repl_completion_wants_command("help get x", 9));
    CU_ASSERT_FALSE(zkv_repl_completion_wants_command("put a b", 6));
}

static void test_stale_note(void)
{
    char out[128];
    zkv_repl_stale_note("node-2", 3, 1042, out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "(stale: replica node-2 at 3:1042)");
    zkv_repl_stale_note("node-7", 0, 0, out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "(stale: replica node-7 at 0:0)");
    zkv_repl_stale_note("", 18446744073709551615ull, 1, out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "(stale: replica ? at 18446744073709551615:1)");
    zkv_repl_stale_note(NULL, 1, 2, out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "(stale: replica ? at 1:2)");
    char small[10];
    zkv_repl_stale_note("node-2", 3, 1042, small, sizeof small);
    CU_ASSERT_STRING_EQUAL(small, "(stale: r");
    /* the help of get explains the note, put the fast failure */
    static char help[4096];
    CU_ASSERT_EQUAL(zkv_repl_help_text("get", 3, help, sizeof help), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(help, "(stale: replica"));
    CU_ASSERT_EQUAL(zkv_repl_help_text("put", 3, help, sizeof help), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(help, "UNAVAILABLE"));
    CU_ASSERT_EQUAL(zkv_repl_help_text("ranges", 6, help, sizeof help), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(help, "LAG"));
    zkv_repl_lag_note(120, 3, out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "(lag: 120 ms, 3 entries)");
    zkv_repl_lag_note(UINT64_MAX, 0, out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "(lag: not caught up since it started, 0 entries)");
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("repl_commands", NULL, NULL);
    CU_add_test(s, "find", test_find);
    CU_add_test(s, "dispatch", test_dispatch);
    CU_add_test(s, "scan_args", test_scan_args);
    CU_add_test(s, "stdin_arg", test_stdin_arg);
    CU_add_test(s, "version", test_version);
    CU_add_test(s, "json_bytes", test_json_bytes);
    CU_add_test(s, "status", test_status);
    CU_add_test(s, "stale_note", test_stale_note);
    CU_add_test(s, "help", test_help);
    CU_add_test(s, "write_cond", test_write_cond);
    CU_add_test(s, "scan_options", test_scan_options);
    CU_add_test(s, "completion", test_completion);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    zkv_repl_args_free(&args);
    return failed ? 1 : 0;
}
