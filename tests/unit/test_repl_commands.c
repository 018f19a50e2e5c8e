/* test_repl_commands.c: command lookup and dispatch (unknown names, argument counts),
 * scan arguments, status names and exit codes, the stale note, help text and
 * completion. */
#include <CUnit/Basic.h>
#include <string.h>

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
    CU_ASSERT_EQUAL(n, 9);
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
    CU_ASSERT_STRING_EQUAL(err, "usage: put KEY VALUE");
    CU_ASSERT_EQUAL(dispatch("put k v w", &c), ZKV_REPL_DISPATCH_ARITY);
    CU_ASSERT_EQUAL(dispatch("get", &c), ZKV_REPL_DISPATCH_ARITY);
    CU_ASSERT_STRING_EQUAL(err, "usage: get KEY");
    CU_ASSERT_EQUAL(dispatch("ranges x", &c), ZKV_REPL_DISPATCH_ARITY);
    CU_ASSERT_EQUAL(dispatch("help get", &c), ZKV_REPL_DISPATCH_OK);
    CU_ASSERT_FALSE(c->needs_client);
    CU_ASSERT_EQUAL(dispatch("help get put", &c), ZKV_REPL_DISPATCH_ARITY);
    CU_ASSERT_EQUAL(dispatch("scan a b limit 5", &c), ZKV_REPL_DISPATCH_OK);
    CU_ASSERT_EQUAL(dispatch("scan a b limit 5 x", &c), ZKV_REPL_DISPATCH_ARITY);
}

static int scan(const char *line, zkv_repl_scan_args *sa)
{
    zkv_repl_args_free(&args);
    CU_ASSERT_EQUAL_FATAL(zkv_repl_tokenize(line, &args, err, sizeof err), 0);
    return zkv_repl_scan_args_parse(&args, sa, err, sizeof err);
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
    /* "limit" not followed by a number is a key */
    CU_ASSERT_EQUAL(scan("scan limit z", &sa), 0);
    CU_ASSERT_EQUAL(sa.slen, 5);
    CU_ASSERT_EQUAL(sa.elen, 1);
    CU_ASSERT_EQUAL(sa.limit, ZKV_REPL_SCAN_DEFAULT_LIMIT);
    CU_ASSERT_EQUAL(scan("scan a limit 0", &sa), -1);
    CU_ASSERT_EQUAL(scan("scan a b limit 0", &sa), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "limit must be a number"));
    CU_ASSERT_EQUAL(scan("scan a b limit -1", &sa), -1);
    CU_ASSERT_EQUAL(scan("scan a b limit 99999999", &sa), -1);
    CU_ASSERT_EQUAL(scan("scan a b c", &sa), -1);
    CU_ASSERT_STRING_EQUAL(err, "usage: scan [START [END]] [limit N]");
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
    CU_ASSERT_EQUAL(strncmp(text, "usage: put KEY VALUE\n", 21), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "alias: set"));
    for (char *line = text; *line; line = strchr(line, '\n') + 1) /* wrapped to 78 */
        CU_ASSERT_TRUE(strcspn(line, "\n") <= 78);
    CU_ASSERT_EQUAL(zkv_repl_help_text("nope", 4, text, sizeof text), -1);
    /* truncation never overflows */
    char small[16];
    CU_ASSERT_EQUAL(zkv_repl_help_text(NULL, 0, small, sizeof small), 0);
    CU_ASSERT_EQUAL(strlen(small), 15);
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
    CU_ASSERT_EQUAL(count, 12); /* 9 names + 3 aliases ("?" is not offered) */
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
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("repl_commands", NULL, NULL);
    CU_add_test(s, "find", test_find);
    CU_add_test(s, "dispatch", test_dispatch);
    CU_add_test(s, "scan_args", test_scan_args);
    CU_add_test(s, "status", test_status);
    CU_add_test(s, "stale_note", test_stale_note);
    CU_add_test(s, "help", test_help);
    CU_add_test(s, "completion", test_completion);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    zkv_repl_args_free(&args);
    return failed ? 1 : 0;
}
