/* Unit tests of common/flags.h: good command lines, bad integers, out-of-range values,
 * unknown flags, missing arguments, environment defaults, stopping at the first
 * non-flag, and that a rejected command line leaves the targets alone. */
#include <CUnit/Basic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/flags.h"

static const char *listen_addr;
static long ranges;
static bool json;
static zkv_flag table[] = {
    {"listen", 'l', ZKV_FLAG_STRING, &listen_addr, "HOST:PORT", "address to listen on", 0, 0},
    {"ranges", 0, ZKV_FLAG_INT, &ranges, "N", "initial range count", 1, 4096},
    {"json", 'j', ZKV_FLAG_BOOL, &json, NULL, "print JSON", 0, 0},
};
#define NFLAGS (sizeof table / sizeof table[0])

static void reset(void)
{
    listen_addr = "127.0.0.1:7400";
    ranges = 8;
    json = false;
    unsetenv("ZKV_ZK");
    unsetenv("ZKV_CLUSTER");
}

/* Runs the parser with stdout and stderr captured into out (may be NULL). */
static zkv_flags_result run(int argc, char **argv, zkv_common_opts *common, int *first, char *out,
                            size_t outlen)
{
    fflush(stdout);
    fflush(stderr);
    FILE *tmp = tmpfile();
    int saved_out = dup(1), saved_err = dup(2);
    dup2(fileno(tmp), 1);
    dup2(fileno(tmp), 2);
    zkv_flags_result r = zkv_flags_parse("zkv-test", "[FLAGS] [CMD]", "A test program.", table,
                                         NFLAGS, common, argc, argv, first);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    if (out) {
        rewind(tmp);
        size_t n = fread(out, 1, outlen - 1, tmp);
        out[n] = '\0';
    }
    fclose(tmp);
    return r;
}

static void test_good(void)
{
    reset();
    char *argv[] = {"zkv-test", "--listen",       "127.0.0.1:9000", "--ranges=16", "-j",
                    "--zk",     "127.0.0.1:2999", "--cluster",      "prod",        NULL};
    zkv_common_opts c = {0};
    int first = -1;
    CU_ASSERT_EQUAL(run(9, argv, &c, &first, NULL, 0), ZKV_FLAGS_OK);
    CU_ASSERT_STRING_EQUAL(listen_addr, "127.0.0.1:9000");
    CU_ASSERT_EQUAL(ranges, 16);
    CU_ASSERT_TRUE(json);
    CU_ASSERT_STRING_EQUAL(c.zk, "127.0.0.1:2999");
    CU_ASSERT_STRING_EQUAL(c.cluster, "prod");
    CU_ASSERT_EQUAL(first, 9);
}

static void test_short_flags_and_defaults(void)
{
    reset();
    char *argv[] = {"zkv-test", "-l", "[::1]:7401", NULL};
    zkv_common_opts c = {0};
    int first = -1;
    CU_ASSERT_EQUAL(run(3, argv, &c, &first, NULL, 0), ZKV_FLAGS_OK);
    CU_ASSERT_STRING_EQUAL(listen_addr, "[::1]:7401");
    CU_ASSERT_EQUAL(ranges, 8);
    CU_ASSERT_FALSE(json);
    CU_ASSERT_STRING_EQUAL(c.zk, "127.0.0.1:2181");
    CU_ASSERT_STRING_EQUAL(c.cluster, "default");
    CU_ASSERT_EQUAL(first, 3);
}

static void test_env_defaults(void)
{
    reset();
    setenv("ZKV_ZK", "127.0.0.1:3000,127.0.0.1:3001", 1);
    setenv("ZKV_CLUSTER", "staging", 1);
    char *argv[] = {"zkv-test", NULL};
    zkv_common_opts c = {0};
    int first = -1;
    CU_ASSERT_EQUAL(run(1, argv, &c, &first, NULL, 0), ZKV_FLAGS_OK);
    CU_ASSERT_STRING_EQUAL(c.zk, "127.0.0.1:3000,127.0.0.1:3001");
    CU_ASSERT_STRING_EQUAL(c.cluster, "staging");
    CU_ASSERT_EQUAL(first, 1);
    /* a flag beats the environment */
    char *argv2[] = {"zkv-test", "--cluster", "other", NULL};
    CU_ASSERT_EQUAL(run(3, argv2, &c, &first, NULL, 0), ZKV_FLAGS_OK);
    CU_ASSERT_STRING_EQUAL(c.cluster, "other");
    CU_ASSERT_STRING_EQUAL(c.zk, "127.0.0.1:3000,127.0.0.1:3001");
    reset();
}

static void test_stop_at_first_non_flag(void)
{
    reset();
    char *argv[] = {"zkv-test", "-j", "get", "--ranges", "5", "k", NULL};
    zkv_common_opts c = {0};
    int first = -1;
    CU_ASSERT_EQUAL(run(6, argv, &c, &first, NULL, 0), ZKV_FLAGS_OK);
    CU_ASSERT_TRUE(json);
    CU_ASSERT_EQUAL(ranges, 8); /* after the command: not ours */
    CU_ASSERT_EQUAL(first, 2);
    CU_ASSERT_STRING_EQUAL(argv[first], "get");
    CU_ASSERT_STRING_EQUAL(argv[3], "--ranges"); /* not permuted */
    /* "--" ends the flags too */
    char *argv2[] = {"zkv-test", "--", "-j", NULL};
    reset();
    CU_ASSERT_EQUAL(run(3, argv2, &c, &first, NULL, 0), ZKV_FLAGS_OK);
    CU_ASSERT_FALSE(json);
    CU_ASSERT_EQUAL(first, 2);
}

static void test_bad_int(void)
{
    char out[8192];
    const char *bad[] = {"x", "", "12abc", "0", "4097", "-1", "99999999999999999999999", " 5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        reset();
        char arg[64];
        snprintf(arg, sizeof arg, "--ranges=%s", bad[i]);
        char *argv[] = {"zkv-test", "-j", arg, NULL};
        zkv_common_opts c = {0};
        int first = -1;
        CU_ASSERT_EQUAL(run(3, argv, &c, &first, out, sizeof out), ZKV_FLAGS_ERROR);
        char want[128];
        snprintf(want, sizeof want, "--ranges: expected an integer between 1 and 4096, got '%s'",
                 bad[i]);
        CU_ASSERT_PTR_NOT_NULL(strstr(out, want));
        CU_ASSERT_PTR_NOT_NULL(strstr(out, "Usage: zkv-test"));
        /* nothing was committed */
        CU_ASSERT_EQUAL(ranges, 8);
        CU_ASSERT_FALSE(json);
        CU_ASSERT_PTR_NULL(c.zk);
    }
    /* the bounds themselves are fine */
    reset();
    char *lo[] = {"zkv-test", "--ranges", "1", NULL};
    CU_ASSERT_EQUAL(run(3, lo, NULL, NULL, NULL, 0), ZKV_FLAGS_OK);
    CU_ASSERT_EQUAL(ranges, 1);
    char *hi[] = {"zkv-test", "--ranges", "4096", NULL};
    CU_ASSERT_EQUAL(run(3, hi, NULL, NULL, NULL, 0), ZKV_FLAGS_OK);
    CU_ASSERT_EQUAL(ranges, 4096);
}

static void test_unknown_and_missing(void)
{
    char out[8192];
    reset();
    char *a1[] = {"zkv-test", "--bogus", NULL};
    CU_ASSERT_EQUAL(run(2, a1, NULL, NULL, out, sizeof out), ZKV_FLAGS_ERROR);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "unknown flag '--bogus'"));
    char *a2[] = {"zkv-test", "-x", NULL};
    CU_ASSERT_EQUAL(run(2, a2, NULL, NULL, out, sizeof out), ZKV_FLAGS_ERROR);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "unknown flag '-x'"));
    char *a3[] = {"zkv-test", "--listen", NULL};
    CU_ASSERT_EQUAL(run(2, a3, NULL, NULL, out, sizeof out), ZKV_FLAGS_ERROR);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "'--listen' needs an argument"));
    char *a4[] = {"zkv-test", "-l", NULL};
    CU_ASSERT_EQUAL(run(2, a4, NULL, NULL, out, sizeof out), ZKV_FLAGS_ERROR);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "'-l' needs an argument"));
    char *a5[] = {"zkv-test", "--json=yes", NULL};
    CU_ASSERT_EQUAL(run(2, a5, NULL, NULL, out, sizeof out), ZKV_FLAGS_ERROR);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "'--json' takes no argument"));
    CU_ASSERT_STRING_EQUAL(listen_addr, "127.0.0.1:7400");
}

static void test_help_and_version(void)
{
    char out[8192];
    reset();
    char *a1[] = {"zkv-test", "--help", NULL};
    CU_ASSERT_EQUAL(run(2, a1, NULL, NULL, out, sizeof out), ZKV_FLAGS_EXIT);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "Usage: zkv-test [FLAGS] [CMD]"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "A test program."));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "--listen HOST:PORT"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "address to listen on"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "127.0.0.1:7400")); /* the default */
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "--ranges N"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "-j, --json"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "--zk CONNECT"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "--cluster NAME"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "--version"));
    char *a2[] = {"zkv-test", "-h", NULL};
    CU_ASSERT_EQUAL(run(2, a2, NULL, NULL, out, sizeof out), ZKV_FLAGS_EXIT);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "Usage: zkv-test"));
    char *a3[] = {"zkv-test", "--version", NULL};
    CU_ASSERT_EQUAL(run(2, a3, NULL, NULL, out, sizeof out), ZKV_FLAGS_EXIT);
    CU_ASSERT_STRING_EQUAL(out, "zkv-test " ZKV_VERSION "\n");
}

/* Writes text to a new temp file whose path goes to path (size 64). */
static void config_file(const char *text, char *path)
{
    strcpy(path, "/tmp/zkv-test-config-XXXXXX");
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_FATAL(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
}

static void test_config_file(void)
{
    reset();
    setenv("ZKV_ZK", "env-zk:2181", 1);
    setenv("ZKV_CLUSTER", "env-cluster", 1);
    char path[64], out[4096];
    config_file("# a comment\n\nlisten = 0.0.0.0:7500\nranges=32\njson = true\n"
                "zk = file-zk:2181\ncluster = \"file-cluster\"\n",
                path);
    /* the file over the environment and the defaults; the command line over the file */
    char *argv[] = {"zkv-test", "--config", path, "--ranges", "64", "get", NULL};
    zkv_common_opts common;
    int first = -1;
    CU_ASSERT_EQUAL(run(6, argv, &common, &first, out, sizeof out), ZKV_FLAGS_OK);
    CU_ASSERT_STRING_EQUAL(listen_addr, "0.0.0.0:7500");
    CU_ASSERT_EQUAL(ranges, 64);
    CU_ASSERT_TRUE(json);
    CU_ASSERT_STRING_EQUAL(common.zk, "file-zk:2181");
    CU_ASSERT_STRING_EQUAL(common.cluster, "file-cluster");
    CU_ASSERT_EQUAL(first, 5);
    /* --zk on the command line wins over the file */
    reset();
    char *argv2[] = {"zkv-test", "--zk", "flag-zk:1", "--config", path, NULL};
    CU_ASSERT_EQUAL(run(5, argv2, &common, &first, out, sizeof out), ZKV_FLAGS_OK);
    CU_ASSERT_STRING_EQUAL(common.zk, "flag-zk:1");
    CU_ASSERT_STRING_EQUAL(common.cluster, "file-cluster");
    unlink(path);
    /* mistakes name the file and the line, and change nothing */
    const struct {
        const char *text, *want;
    } bad[] = {
        {"listen = a\nnope = 1\n", "line 2: unknown setting 'nope'"},
        {"ranges = 0\n", "line 1: ranges: expected an integer between 1 and 4096, got '0'"},
        {"json = maybe\n", "line 1: json: expected true or false, got 'maybe'"},
        {"listen\n", "line 1: expected 'name = value'"},
        {"listen = a\nlisten = b\n", "line 2: 'listen' was set on line 1 already"},
        {"--listen = a\n", "line 1: a name is a long flag's name"},
        {"listen = \"a\n", "line 1: unterminated quote"},
        {"config = other\n", "line 1: unknown setting 'config'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        reset();
        config_file(bad[i].text, path);
        char *argv3[] = {"zkv-test", "--config", path, NULL};
        CU_ASSERT_EQUAL(run(3, argv3, &common, &first, out, sizeof out), ZKV_FLAGS_ERROR);
        if (!strstr(out, bad[i].want))
            fprintf(stderr, "config %zu: got %.200s\n", i, out);
        CU_ASSERT_PTR_NOT_NULL(strstr(out, bad[i].want));
        CU_ASSERT_PTR_NOT_NULL(strstr(out, path));
        CU_ASSERT_STRING_EQUAL(listen_addr, "127.0.0.1:7400");
        unlink(path);
    }
    /* "name =" leaves a string at its default */
    reset();
    config_file("listen =\n", path);
    char *argv5[] = {"zkv-test", "--config", path, NULL};
    CU_ASSERT_EQUAL(run(3, argv5, &common, &first, out, sizeof out), ZKV_FLAGS_OK);
    CU_ASSERT_STRING_EQUAL(listen_addr, "127.0.0.1:7400");
    unlink(path);
    reset();
    char *argv4[] = {"zkv-test", "--config", "/nonexistent/zkv.conf", NULL};
    CU_ASSERT_EQUAL(run(3, argv4, &common, &first, out, sizeof out), ZKV_FLAGS_ERROR);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "/nonexistent/zkv.conf: No such file"));
}

static void test_print_config(void)
{
    reset();
    char out[4096];
    zkv_common_opts common;
    int first;
    /* the defaults, commented out, each under its help */
    char *argv[] = {"zkv-test", "--print-config", NULL};
    CU_ASSERT_EQUAL(run(2, argv, &common, &first, out, sizeof out), ZKV_FLAGS_EXIT);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "# address to listen on\n#listen = 127.0.0.1:7400\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "#ranges = 8\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "#json = false\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "#zk = 127.0.0.1:2181\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "#cluster = default\n"));
    CU_ASSERT_STRING_EQUAL(listen_addr, "127.0.0.1:7400"); /* nothing committed */
    /* what is set shows uncommented; the output reads back as a settings file */
    char *argv2[] = {"zkv-test", "--print-config", "--ranges", "12", "-j", "--zk", "z:1", NULL};
    CU_ASSERT_EQUAL(run(7, argv2, &common, &first, out, sizeof out), ZKV_FLAGS_EXIT);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\nranges = 12\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\njson = true\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\nzk = z:1\n"));
    char path[64];
    config_file(out, path);
    reset();
    char *argv3[] = {"zkv-test", "--config", path, NULL};
    CU_ASSERT_EQUAL(run(3, argv3, &common, &first, NULL, 0), ZKV_FLAGS_OK);
    CU_ASSERT_EQUAL(ranges, 12);
    CU_ASSERT_TRUE(json);
    CU_ASSERT_STRING_EQUAL(common.zk, "z:1");
    CU_ASSERT_STRING_EQUAL(listen_addr, "127.0.0.1:7400");
    unlink(path);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("common_flags", NULL, NULL);
    CU_add_test(s, "good", test_good);
    CU_add_test(s, "short_flags_and_defaults", test_short_flags_and_defaults);
    CU_add_test(s, "env_defaults", test_env_defaults);
    CU_add_test(s, "stop_at_first_non_flag", test_stop_at_first_non_flag);
    CU_add_test(s, "bad_int", test_bad_int);
    CU_add_test(s, "unknown_and_missing", test_unknown_and_missing);
    CU_add_test(s, "help_and_version", test_help_and_version);
    CU_add_test(s, "settings file: precedence and mistakes", test_config_file);
    CU_add_test(s, "--print-config", test_print_config);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
