/* test_cli.c: the `zkv` command line's habits of redis-cli users (issue 12, item 7),
 * through the real binary against a live cluster of two zkv-servers and a coordinator:
 * - `zkv put KEY -` and `zkv -x put KEY` read the value from stdin, binary-safe (NUL and
 *   0xFF bytes), and `get --raw` prints exactly those bytes back; `--quoted` prints the
 *   form the REPL reads back; a value of exactly 1 MiB works, one byte more is refused
 *   with a message naming the limit and nothing is written; a bare `-` in a script is
 *   refused, a quoted "-" is the one-byte value;
 * - `--json`: a binary value as {"base64":...}, text as a string, versions as "E:S" that
 *   match what `--json put` returned and what libzkv reads, `null` for a missing key;
 * - `scan limit N` with and without START/END, `scan limit` refused, a key named limit
 *   quoted in a script, `--json scan`, the stale note and "stale":true of a scan a
 *   replica answered (--replica);
 * - the NUL-byte examples `zkv help` prints ("  $ ..." lines) run as printed by /bin/sh
 *   and write what the help says;
 * - the operators' commands (issue 13, item 7): `ping` (a PONG line per node, --json, one
 *   node, an unknown one refused), `info` (version, serving, the ranges owned adding up to
 *   the map's, keys counted exactly, GETs per second and their p50 over the window, the
 *   table), `latency --samples N` and `--json latency`, `--latency` refusing another
 *   command, and after a node is killed: `ping` and `info` of it fail (exit 2) while the
 *   other still answers. */
#include <CUnit/CUnit.h>
#include <signal.h>
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "it_common.h"
#include "it_repl.h"
#include "zkt/zkt.h"
#include "zkv/zkv.h"

#define N_SERVERS 2
#define MAX_VALUE (1024 * 1024) /* libzkv's default max value, zkv's stdin limit */

static zkt_cluster g_cl;
static zkv_client *g_client;

static int suite_init(void)
{
    if (zkt_cluster_init(&g_cl, "cli") != 0)
        return -1;
    return it_cluster_up(&g_cl, N_SERVERS, 10000, 0, &g_client);
}

static int suite_cleanup(void)
{
    return it_cluster_down(&g_cl, &g_client);
}

/* Runs `zkv --zk ... --cluster ... ARGS` (NULL-terminated, up to 16) with in[0..inlen) on
 * stdin; returns its exit code (-1: not run). */
static int cli_in(zkt_run_result *r, const void *in, size_t inlen, const char *const args[])
{
    memset(r, 0, sizeof *r);
    const char *bin = zkt_bin("ZKV_CLI_BIN");
    if (!bin)
        return -1;
    const char *argv[24] = {bin, "--zk", g_cl.zk.connect, "--cluster", g_cl.name};
    int n = 5;
    char shown[512] = "";
    size_t off = 0;
    for (int i = 0; args[i] && n < 23; i++) {
        argv[n++] = args[i];
        off += (size_t)snprintf(shown + off, sizeof shown - off, " %s", args[i]);
        if (off >= sizeof shown)
            off = sizeof shown - 1;
    }
    argv[n] = NULL;
    if (zkt_run(argv, in, inlen, 60000, r) != 0)
        return -1;
    zkt_log("zkv%s (%zu bytes on stdin) -> exit %d in %d ms; stdout %zu bytes: %.200s; "
            "stderr: %.300s",
            shown, inlen, r->code, r->elapsed_ms, r->out_len, r->out, r->err);
    return r->code;
}
#define cli_stdin(r, in, inlen, ...)                                                               \
    cli_in((r), (in), (inlen), (const char *const[]){__VA_ARGS__, NULL})
#define cli(r, ...) cli_stdin((r), NULL, 0, __VA_ARGS__)

/* The value of key through libzkv equals want[0..wlen). */
static bool lib_value_is(const void *key, size_t klen, const void *want, size_t wlen)
{
    zkv_value *v = NULL;
    int rc = zkv_get(g_client, key, klen, 0, 0, &v);
    bool ok = rc == ZKV_OK && zkv_value_len(v) == wlen &&
              (wlen == 0 || memcmp(zkv_value_data(v), want, wlen) == 0);
    if (!ok)
        zkt_log("libzkv get: %s, %zu bytes (want %zu)", zkv_strerror(rc),
                rc == ZKV_OK ? zkv_value_len(v) : 0, wlen);
    zkv_value_free(v);
    return ok;
}

/* libzkv's version of key as "E:S" into out ("" when it cannot be read). */
static void lib_version(const char *key, char *out, size_t n)
{
    zkv_value *v = NULL;
    out[0] = '\0';
    if (zkv_get(g_client, key, strlen(key), 0, 0, &v) == ZKV_OK)
        snprintf(out, n, "%llu:%llu", (unsigned long long)zkv_value_version(v).epoch,
                 (unsigned long long)zkv_value_version(v).seq);
    zkv_value_free(v);
}

/* Decodes standard base64 (padded) into out; returns the length, or -1 when malformed. */
static long b64_decode(const char *in, uint8_t *out)
{
    size_t n = strlen(in), o = 0;
    if (n % 4)
        return -1;
    for (size_t i = 0; i < n; i += 4) {
        uint32_t b = 0;
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            char c = in[i + k];
            const char *abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            const char *p = c ? strchr(abc, c) : NULL;
            if (c == '=' && i + 4 == n && k >= 2) {
                pad++;
                b <<= 6;
            } else if (p && !pad) {
                b = (b << 6) | (uint32_t)(p - abc);
            } else {
                return -1;
            }
        }
        out[o++] = (uint8_t)(b >> 16);
        if (pad < 2)
            out[o++] = (uint8_t)(b >> 8);
        if (pad < 1)
            out[o++] = (uint8_t)b;
    }
    return (long)o;
}

/* The member name of a JSON object as a string, or "(none)". */
static const char *jstr(const cJSON *o, const char *name)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, name));
    return s ? s : "(none)";
}

/* A binary value with NUL and 0xFF bytes (and a newline at the end). */
static const uint8_t k_bin[] = {'b',  'i',  'n',  0x00, 'a', 'r', 'y', 0xff,
                                0x00, 0xfe, 0x01, ' ',  'e', 'n', 'd', '\n'};

static void test_put_from_stdin(void)
{
    zkt_run_result r;
    /* put KEY - */
    CU_ASSERT(cli_stdin(&r, k_bin, sizeof k_bin, "put", "cli-bin", "-") == 0);
    CU_ASSERT_STRING_EQUAL(r.out, "OK\n");
    zkt_run_result_free(&r);
    CU_ASSERT(lib_value_is("cli-bin", 7, k_bin, sizeof k_bin));
    /* get --raw: exactly the bytes, no newline added */
    CU_ASSERT(cli(&r, "--raw", "get", "cli-bin") == 0);
    CU_ASSERT(r.out_len == sizeof k_bin && memcmp(r.out, k_bin, sizeof k_bin) == 0);
    zkt_run_result_free(&r);
    /* get: the bytes and a newline */
    CU_ASSERT(cli(&r, "get", "cli-bin") == 0);
    CU_ASSERT(r.out_len == sizeof k_bin + 1 && memcmp(r.out, k_bin, sizeof k_bin) == 0 &&
              r.out[sizeof k_bin] == '\n');
    zkt_run_result_free(&r);
    /* get --quoted: the REPL's form */
    CU_ASSERT(cli(&r, "--quoted", "get", "cli-bin") == 0);
    CU_ASSERT_STRING_EQUAL(r.out, "\"bin\\x00ary\\xff\\x00\\xfe\\x01 end\\n\"\n");
    zkt_run_result_free(&r);
    /* ... which a script reads back as the same bytes */
    const char quoted[] = "put cli-bin-q \"bin\\x00ary\\xff\\x00\\xfe\\x01 end\\n\"\n";
    CU_ASSERT(cli_stdin(&r, quoted, sizeof quoted - 1, "--timeout", "10000") == 0);
    zkt_run_result_free(&r);
    CU_ASSERT(lib_value_is("cli-bin-q", 9, k_bin, sizeof k_bin));

    /* -x: the last argument from stdin (redis-cli's -x) */
    const uint8_t other[] = {0xff, 0xff, 0x00, 0x00, 'x', 0x00};
    CU_ASSERT(cli_stdin(&r, other, sizeof other, "-x", "put", "cli-bin-x") == 0);
    CU_ASSERT_STRING_EQUAL(r.out, "OK\n");
    zkt_run_result_free(&r);
    CU_ASSERT(cli(&r, "--raw", "get", "cli-bin-x") == 0);
    CU_ASSERT(r.out_len == sizeof other && memcmp(r.out, other, sizeof other) == 0);
    zkt_run_result_free(&r);
    /* -x for a key: get with the key from stdin */
    CU_ASSERT(cli_stdin(&r, "cli-bin-x", 9, "--raw", "-x", "get") == 0);
    CU_ASSERT(r.out_len == sizeof other && memcmp(r.out, other, sizeof other) == 0);
    zkt_run_result_free(&r);

    /* empty stdin: the empty value */
    CU_ASSERT(cli_stdin(&r, NULL, 0, "put", "cli-empty", "-") == 0);
    zkt_run_result_free(&r);
    CU_ASSERT(lib_value_is("cli-empty", 9, "", 0));
    CU_ASSERT(cli(&r, "--raw", "get", "cli-empty") == 0);
    CU_ASSERT(r.out_len == 0);
    zkt_run_result_free(&r);

    /* -x without a command, and with too many arguments */
    CU_ASSERT(cli_stdin(&r, "v", 1, "-x") == 2);
    CU_ASSERT(strstr(r.err, "-x") != NULL);
    zkt_run_result_free(&r);
    CU_ASSERT(cli_stdin(&r, "v", 1, "-x", "put", "cli-x2", "-") == 2);
    CU_ASSERT(strstr(r.err, "stdin") != NULL); /* the value was given twice */
    zkt_run_result_free(&r);

    /* in a script stdin carries the commands: a bare - is refused, "-" is the value */
    const char script[] = "put cli-dash -\nput cli-dash2 \"-\"\n";
    CU_ASSERT(cli_stdin(&r, script, sizeof script - 1, "--timeout", "10000") == 2);
    CU_ASSERT(strstr(r.err, "line 1: put: a bare - reads the value from stdin only on the "
                            "command line") != NULL);
    CU_ASSERT(strstr(r.err, "line 2") == NULL);
    CU_ASSERT_STRING_EQUAL(r.out, "OK\n");
    zkt_run_result_free(&r);
    CU_ASSERT(lib_value_is("cli-dash2", 9, "-", 1));
    zkv_value *v = NULL;
    CU_ASSERT(zkv_get(g_client, "cli-dash", 8, 0, 0, &v) == ZKV_ENOTFOUND);
    zkv_value_free(v);
}

static void test_max_value(void)
{
    uint8_t *big = malloc(MAX_VALUE + 1);
    CU_ASSERT_FATAL(big != NULL);
    for (size_t i = 0; i < MAX_VALUE + 1; i++)
        big[i] = (uint8_t)(i % 7 == 0 ? 0x00 : i % 7 == 1 ? 0xff : 'a' + i % 26);
    zkt_run_result r;
    /* exactly the limit: written, read back whole */
    CU_ASSERT(cli_stdin(&r, big, MAX_VALUE, "put", "cli-max", "-") == 0);
    CU_ASSERT_STRING_EQUAL(r.out, "OK\n");
    zkt_run_result_free(&r);
    CU_ASSERT(lib_value_is("cli-max", 7, big, MAX_VALUE));
    CU_ASSERT(cli(&r, "--raw", "get", "cli-max") == 0);
    CU_ASSERT(r.out_len == MAX_VALUE && memcmp(r.out, big, MAX_VALUE) == 0);
    zkt_run_result_free(&r);
    CU_ASSERT(cli_stdin(&r, big, MAX_VALUE, "-x", "put", "cli-max-x") == 0);
    zkt_run_result_free(&r);
    CU_ASSERT(lib_value_is("cli-max-x", 9, big, MAX_VALUE));

    /* one byte more, with - and with -x: a clear error naming the limit, nothing written
     * (cli-max keeps its value, cli-max-new stays absent) */
    const char *const keys[] = {"cli-max", "cli-max-new"};
    for (int k = 0; k < 2; k++) {
        for (int x = 0; x < 2; x++) {
            big[0] ^= 1; /* not the value cli-max holds */
            if (x)
                cli_stdin(&r, big, MAX_VALUE + 1, "-x", "put", keys[k]);
            else
                cli_stdin(&r, big, MAX_VALUE + 1, "put", keys[k], "-");
            big[0] ^= 1;
            CU_ASSERT(r.code == 2);
            CU_ASSERT(r.out_len == 0);
            CU_ASSERT(strstr(r.err, "zkv: put: TOO_LARGE: ") == r.err);
            CU_ASSERT(strstr(r.err, "1048576 bytes") != NULL);
            CU_ASSERT(strstr(r.err, "nothing written") != NULL);
            zkt_run_result_free(&r);
        }
    }
    CU_ASSERT(lib_value_is("cli-max", 7, big, MAX_VALUE));
    zkv_value *v = NULL;
    CU_ASSERT(zkv_get(g_client, "cli-max-new", 11, 0, 0, &v) == ZKV_ENOTFOUND);
    zkv_value_free(v);
    free(big);
}

static void test_json(void)
{
    zkt_run_result r;
    /* --json put: {"ok":true,"version":"E:S"} */
    CU_ASSERT(cli_stdin(&r, k_bin, sizeof k_bin, "--json", "put", "cli-json-bin", "-") == 0);
    cJSON *o = cJSON_Parse(r.out);
    CU_ASSERT_FATAL(o != NULL);
    CU_ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "ok")));
    char put_version[64] = "";
    snprintf(put_version, sizeof put_version, "%s", jstr(o, "version"));
    CU_ASSERT(cJSON_GetArraySize(o) == 2);
    cJSON_Delete(o);
    zkt_run_result_free(&r);
    unsigned long long e = 0, s = 0;
    char tail = 0;
    CU_ASSERT(sscanf(put_version, "%llu:%llu%c", &e, &s, &tail) == 2);
    CU_ASSERT(e >= 1 && s >= 1);
    char lib[64];
    lib_version("cli-json-bin", lib, sizeof lib);
    CU_ASSERT_STRING_EQUAL(lib, put_version);

    /* --json get of a binary value: base64, the version put returned, not stale */
    CU_ASSERT(cli(&r, "--json", "get", "cli-json-bin") == 0);
    o = cJSON_Parse(r.out);
    CU_ASSERT_FATAL(o != NULL);
    CU_ASSERT(r.out_len > 0 && r.out[r.out_len - 1] == '\n');
    CU_ASSERT_STRING_EQUAL(jstr(o, "key"), "cli-json-bin");
    const cJSON *val = cJSON_GetObjectItemCaseSensitive(o, "value");
    const char *b64 = jstr(val, "base64");
    CU_ASSERT(cJSON_IsObject(val));
    CU_ASSERT(cJSON_GetArraySize(val) == 1);
    uint8_t back[64];
    CU_ASSERT(strlen(b64) < 80 && b64_decode(b64, back) == (long)sizeof k_bin &&
              memcmp(back, k_bin, sizeof k_bin) == 0);
    CU_ASSERT_STRING_EQUAL(jstr(o, "version"), put_version);
    CU_ASSERT(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(o, "stale")));
    CU_ASSERT(strncmp(jstr(o, "node"), "node-", 5) == 0);
    CU_ASSERT(cJSON_GetObjectItemCaseSensitive(o, "position") == NULL); /* stale values only */
    cJSON_Delete(o);
    zkt_run_result_free(&r);

    /* a UTF-8 value and a binary key: a string, and a key in base64 */
    const char utf8[] = "caf\xc3\xa9 \xe2\x82\xac\ttab";
    const uint8_t bkey[] = {'c', 'l', 'i', 0xff, 'k'};
    CU_ASSERT(zkv_put(g_client, bkey, sizeof bkey, utf8, sizeof utf8 - 1, 0, 0, NULL) == ZKV_OK);
    CU_ASSERT(cli_stdin(&r, bkey, sizeof bkey, "--json", "-x", "get") == 0);
    o = cJSON_Parse(r.out);
    CU_ASSERT_FATAL(o != NULL);
    CU_ASSERT_STRING_EQUAL(jstr(o, "value"), utf8);
    const char *kb64 = jstr(cJSON_GetObjectItemCaseSensitive(o, "key"), "base64");
    CU_ASSERT(b64_decode(kb64, back) == (long)sizeof bkey && memcmp(back, bkey, sizeof bkey) == 0);
    cJSON_Delete(o);
    zkt_run_result_free(&r);

    /* a missing key: null, exit 1 */
    CU_ASSERT(cli(&r, "--json", "get", "cli-json-missing") == 1);
    CU_ASSERT_STRING_EQUAL(r.out, "null\n");
    zkt_run_result_free(&r);

    /* --json del: ok and the delete's version, a later one */
    CU_ASSERT(cli(&r, "--json", "del", "cli-json-bin") == 0);
    o = cJSON_Parse(r.out);
    CU_ASSERT_FATAL(o != NULL);
    CU_ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "ok")));
    unsigned long long de = 0, ds = 0;
    CU_ASSERT(sscanf(jstr(o, "version"), "%llu:%llu", &de, &ds) == 2 && de == e && ds > s);
    cJSON_Delete(o);
    zkt_run_result_free(&r);

    /* flags that exclude each other */
    CU_ASSERT(cli(&r, "--json", "--raw", "get", "k") == 2);
    CU_ASSERT(strstr(r.err, "exclude each other") != NULL);
    zkt_run_result_free(&r);
}

/* zkv's default form of bytes: printable ASCII but the backslash as is, else \xHH. */
static void escape(const uint8_t *p, size_t len, char *out)
{
    for (size_t i = 0; i < len; i++)
        out += p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\' ? sprintf(out, "%c", p[i])
                                                           : sprintf(out, "\\x%02x", p[i]);
    *out = '\0';
}

/* Counts the lines of text. */
static int lines(const char *text)
{
    int n = 0;
    for (; *text; text++)
        n += *text == '\n';
    return n;
}

static void test_scan(void)
{
    zkt_run_result r;
    for (int i = 0; i < 5; i++) {
        char k[16];
        snprintf(k, sizeof k, "cli-s-%d", i);
        CU_ASSERT(zkv_put(g_client, k, strlen(k), "x\0y", 3, 0, 0, NULL) == ZKV_OK);
    }
    CU_ASSERT(zkv_put(g_client, "limit", 5, "L", 1, 0, 0, NULL) == ZKV_OK);

    /* scan limit N: no start key, the first N keys of the cluster */
    zkv_scan *sc = NULL;
    CU_ASSERT_FATAL(zkv_scan_range(g_client, "", 0, "", 0, 2, 0, 0, &sc) == ZKV_OK);
    size_t cap = 16;
    for (size_t i = 0; i < zkv_scan_count(sc); i++) {
        size_t kl = 0, vl = 0;
        zkv_scan_key(sc, i, &kl);
        zkv_scan_value(sc, i, &vl);
        cap += 4 * (kl + vl) + 2;
    }
    char *want = calloc(1, cap);
    for (size_t i = 0; want && i < zkv_scan_count(sc); i++) {
        size_t kl = 0, vl = 0, o = strlen(want);
        const uint8_t *k = zkv_scan_key(sc, i, &kl);
        const uint8_t *v = zkv_scan_value(sc, i, &vl);
        escape(k, kl, want + o);
        o += strlen(want + o);
        want[o++] = '\t';
        escape(v, vl, want + o);
        strcat(want + o, "\n");
    }
    CU_ASSERT(zkv_scan_count(sc) == 2);
    zkv_scan_free(sc);
    CU_ASSERT(cli(&r, "scan", "limit", "2") == 0);
    CU_ASSERT(want && strcmp(r.out, want) == 0);
    free(want);
    CU_ASSERT(strstr(r.err, "(stopped at the limit of 2 keys; more follow: --token ") != NULL);
    zkt_run_result_free(&r);

    /* scan START limit N, scan START END limit N */
    CU_ASSERT(cli(&r, "scan", "cli-s-", "limit", "3") == 0);
    CU_ASSERT_STRING_EQUAL(r.out, "cli-s-0\tx\\x00y\ncli-s-1\tx\\x00y\ncli-s-2\tx\\x00y\n");
    zkt_run_result_free(&r);
    CU_ASSERT(cli(&r, "scan", "cli-s-", "cli-s.", "limit", "5") == 0);
    CU_ASSERT(lines(r.out) == 5);
    CU_ASSERT(strstr(r.err, "more follow") == NULL);
    zkt_run_result_free(&r);
    CU_ASSERT(cli(&r, "scan", "cli-s-", "cli-s.", "limit", "4") == 0);
    CU_ASSERT(lines(r.out) == 4);
    CU_ASSERT(strstr(r.err, "(stopped at the limit of 4 keys; more follow: --token ") != NULL);
    zkt_run_result_free(&r);
    /* --quoted and --raw */
    CU_ASSERT(cli(&r, "--quoted", "scan", "cli-s-3", "cli-s-5") == 0);
    CU_ASSERT_STRING_EQUAL(r.out, "\"cli-s-3\"\t\"x\\x00y\"\n\"cli-s-4\"\t\"x\\x00y\"\n");
    zkt_run_result_free(&r);
    CU_ASSERT(cli(&r, "--raw", "scan", "cli-s-4", "cli-s-5") == 0);
    CU_ASSERT(r.out_len == 12 && memcmp(r.out, "cli-s-4\tx\0y\n", 12) == 0);
    zkt_run_result_free(&r);

    /* limit without its N, or a bad N: an error, nothing scanned */
    CU_ASSERT(cli(&r, "scan", "limit") == 2);
    CU_ASSERT(strstr(r.err, "limit needs a number") != NULL);
    CU_ASSERT(r.out_len == 0);
    zkt_run_result_free(&r);
    CU_ASSERT(cli(&r, "scan", "limit", "0") == 2);
    CU_ASSERT(strstr(r.err, "limit must be a number from 1 to 1000000") != NULL);
    zkt_run_result_free(&r);
    CU_ASSERT(cli(&r, "scan", "cli-s-", "limit") == 2);
    zkt_run_result_free(&r);
    /* a key named limit: quoted, in a script */
    const char script[] = "scan \"limit\" limiu\nscan 'limit' limiu limit 1\n";
    CU_ASSERT(cli_stdin(&r, script, sizeof script - 1, "--timeout", "10000") == 0);
    CU_ASSERT_STRING_EQUAL(r.out, "limit\tL\nlimit\tL\n");
    zkt_run_result_free(&r);

    /* --json scan */
    CU_ASSERT(cli(&r, "--json", "scan", "cli-s-", "cli-s.", "limit", "2") == 0);
    cJSON *o = cJSON_Parse(r.out);
    CU_ASSERT_FATAL(o != NULL);
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(o, "items");
    CU_ASSERT(cJSON_GetArraySize(items) == 2);
    const cJSON *first = cJSON_GetArrayItem(items, 0);
    CU_ASSERT_STRING_EQUAL(jstr(first, "key"), "cli-s-0");
    CU_ASSERT_STRING_EQUAL(jstr(cJSON_GetObjectItemCaseSensitive(first, "value"), "base64"),
                           "eAB5"); /* "x\0y" */
    CU_ASSERT(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(o, "stale")));
    CU_ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "more")));
    cJSON_Delete(o);
    zkt_run_result_free(&r);

    /* owner reads are not stale: no note */
    CU_ASSERT(cli(&r, "scan", "cli-s-", "cli-s.") == 0);
    CU_ASSERT(strstr(r.err, "stale") == NULL);
    zkt_run_result_free(&r);
    /* replicas answer (--replica): the note, and "stale":true */
    CU_ASSERT_FATAL(it_wait_all_in_sync(&g_cl, 30000));
    CU_ASSERT(cli(&r, "--replica", "scan", "cli-s-", "cli-s.") == 0);
    CU_ASSERT(strstr(r.err, "(stale: a replica answered part of this scan; it may lag the "
                            "owner)") != NULL);
    zkt_run_result_free(&r);
    CU_ASSERT(cli(&r, "--replica", "--json", "scan", "cli-s-", "cli-s.") == 0);
    o = cJSON_Parse(r.out);
    CU_ASSERT_FATAL(o != NULL);
    CU_ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "stale")));
    CU_ASSERT(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(o, "more")));
    cJSON_Delete(o);
    CU_ASSERT(strstr(r.err, "stale") == NULL); /* JSON carries it */
    zkt_run_result_free(&r);

    /* a stale get in JSON: "stale":true and the replica's "position" E:S */
    char ver[64];
    lib_version("cli-s-0", ver, sizeof ver);
    unsigned long long e = 0, s = 0, pe = 0, ps = 0;
    CU_ASSERT(sscanf(ver, "%llu:%llu", &e, &s) == 2);
    CU_ASSERT(cli(&r, "--replica", "--json", "get", "cli-s-0") == 0);
    o = cJSON_Parse(r.out);
    CU_ASSERT_FATAL(o != NULL);
    CU_ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "stale")));
    CU_ASSERT_STRING_EQUAL(jstr(o, "version"), ver);
    char tail = 0;
    CU_ASSERT(sscanf(jstr(o, "position"), "%llu:%llu%c", &pe, &ps, &tail) == 2 && pe == e &&
              ps >= s);
    cJSON_Delete(o);
    zkt_run_result_free(&r);
}

static void test_help_nul_examples(void)
{
    const char *bin = zkt_bin("ZKV_CLI_BIN");
    CU_ASSERT_FATAL(bin != NULL);
    zkt_run_result r;
    CU_ASSERT_FATAL(cli(&r, "help") == 0);
    /* the REPL's own escapes, as the help writes them */
    CU_ASSERT(strstr(r.out, "put \"k\\x00\" \"v\\x00\\xff\" writes a key and a value") != NULL);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", bin);
    char *slash = strrchr(dir, '/');
    CU_ASSERT_FATAL(slash != NULL);
    *slash = '\0';
    int examples = 0;
    for (char *line = r.out; line && *line;) {
        char *end = strchr(line, '\n');
        if (end)
            *end = '\0';
        if (strncmp(line, "  $ ", 4) == 0) {
            /* the example as printed, with zkv on the PATH and the test's cluster */
            char cmd[2048];
            snprintf(cmd, sizeof cmd,
                     "PATH='%s':\"$PATH\" ZKV_ZK='%s' ZKV_CLUSTER='%s'; "
                     "export PATH ZKV_ZK ZKV_CLUSTER; %s",
                     dir, g_cl.zk.connect, g_cl.name, line + 4);
            const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
            zkt_run_result e;
            CU_ASSERT_FATAL(zkt_run(argv, NULL, 0, 30000, &e) == 0);
            zkt_log("help example: %s -> exit %d; stdout: %s; stderr: %s", line + 4, e.code, e.out,
                    e.err);
            CU_ASSERT(e.code == 0);
            CU_ASSERT_STRING_EQUAL(e.out, "OK\n");
            zkt_run_result_free(&e);
            examples++;
        }
        line = end ? end + 1 : NULL;
    }
    zkt_run_result_free(&r);
    CU_ASSERT(examples == 2);
    /* what the help says they write */
    CU_ASSERT(lib_value_is("bin", 3, "v\0\xff", 3));
    CU_ASSERT(lib_value_is("k\0", 2, "v\0\xff", 3));
    CU_ASSERT(cli(&r, "--quoted", "get", "bin") == 0);
    CU_ASSERT_STRING_EQUAL(r.out, "\"v\\x00\\xff\"\n");
    zkt_run_result_free(&r);
}

/* put --if-absent / --if-version, del --if-version (exit 3 and the version now when the
 * condition fails), mset (one range, atomic), mget with a missing key. */
static void test_conditions_and_multi(void)
{
    zkt_run_result r;
    CU_ASSERT(cli(&r, "--json", "put", "cli-cas", "one", "--if-absent") == 0);
    cJSON *o = cJSON_Parse(r.out);
    CU_ASSERT_FATAL(o != NULL);
    char v1[64];
    snprintf(v1, sizeof v1, "%s", jstr(o, "version"));
    cJSON_Delete(o);
    zkt_run_result_free(&r);
    /* a second put-if-absent fails: exit 3, the version now */
    CU_ASSERT(cli(&r, "--json", "put", "cli-cas", "two", "--if-absent") == 3);
    o = cJSON_Parse(r.out);
    CU_ASSERT_FATAL(o != NULL);
    CU_ASSERT(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(o, "ok")));
    CU_ASSERT_STRING_EQUAL(jstr(o, "version"), v1);
    cJSON_Delete(o);
    zkt_run_result_free(&r);
    CU_ASSERT(cli(&r, "put", "cli-cas", "two", "--if-absent") == 3);
    CU_ASSERT(strstr(r.err, "CONDITION_FAILED") != NULL);
    zkt_run_result_free(&r);
    /* compare-and-set with the version put printed */
    CU_ASSERT(cli(&r, "put", "cli-cas", "two", "--if-version", v1) == 0);
    zkt_run_result_free(&r);
    CU_ASSERT(cli(&r, "del", "cli-cas", "--if-version", v1) == 3); /* old by now */
    zkt_run_result_free(&r);
    CU_ASSERT(cli(&r, "get", "cli-cas") == 0);
    CU_ASSERT(strcmp(r.out, "two\n") == 0);
    zkt_run_result_free(&r);
    CU_ASSERT(cli(&r, "put", "cli-cas", "x", "--if-version", "three") == 2);
    CU_ASSERT(strstr(r.err, "EPOCH:SEQ") != NULL);
    zkt_run_result_free(&r);
    /* mset of one range (the ranges split on the first byte: these keys share it), mget */
    CU_ASSERT(cli(&r, "mset", "cli-m1", "a", "cli-m2", "b") == 0);
    CU_ASSERT(strcmp(r.out, "OK\n") == 0);
    zkt_run_result_free(&r);
    CU_ASSERT(cli(&r, "mget", "cli-m1", "cli-none", "cli-m2") == 0);
    CU_ASSERT(strcmp(r.out, "a\n(nil)\nb\n") == 0);
    zkt_run_result_free(&r);
    CU_ASSERT(cli(&r, "--json", "mget", "cli-m1", "cli-none") == 0);
    o = cJSON_Parse(r.out);
    CU_ASSERT(o && cJSON_IsArray(o) && cJSON_GetArraySize(o) == 2 &&
              cJSON_IsNull(cJSON_GetArrayItem(o, 1)));
    cJSON_Delete(o);
    zkt_run_result_free(&r);
    CU_ASSERT(cli(&r, "mset", "cli-m1") == 2); /* pairs only */
    zkt_run_result_free(&r);
}

/* put --ttl, ttl, expire, persist. */
static void test_expiry(void)
{
    zkt_run_result r;
    CU_ASSERT(cli(&r, "put", "cli-ttl", "v", "--ttl", "100") == 0);
    zkt_run_result_free(&r);
    CU_ASSERT(cli(&r, "ttl", "cli-ttl") == 0);
    long left = strtol(r.out, NULL, 10);
    CU_ASSERT(left > 90 && left <= 100);
    zkt_run_result_free(&r);
    CU_ASSERT(cli(&r, "persist", "cli-ttl") == 0);
    zkt_run_result_free(&r);
    CU_ASSERT(cli(&r, "ttl", "cli-ttl") == 0);
    CU_ASSERT(strcmp(r.out, "-1\n") == 0);
    zkt_run_result_free(&r);
    CU_ASSERT(cli(&r, "expire", "cli-ttl", "1") == 0);
    zkt_run_result_free(&r);
    CU_ASSERT(cli(&r, "ttl", "cli-none") == 1);
    CU_ASSERT(strcmp(r.out, "-2\n") == 0);
    zkt_run_result_free(&r);
    CU_ASSERT(cli(&r, "expire", "cli-none", "5") == 1);
    zkt_run_result_free(&r);
    CU_ASSERT(cli(&r, "put", "cli-ttl2", "v", "--ttl", "0") == 2); /* at least a second */
    zkt_run_result_free(&r);
    /* a lock that is taken once and lasts a while */
    CU_ASSERT(cli(&r, "put", "cli-lock", "me", "--if-absent", "--ttl", "60") == 0);
    zkt_run_result_free(&r);
    CU_ASSERT(cli(&r, "put", "cli-lock", "you", "--ttl", "60", "--if-absent") == 3);
    zkt_run_result_free(&r);
}

/* Lines of text holding needle. */
static int count_lines(const char *text, const char *needle)
{
    int n = 0;
    for (const char *line = text; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char buf[1024];
        snprintf(buf, sizeof buf, "%.*s", (int)(len < sizeof buf ? len : sizeof buf - 1), line);
        n += strstr(buf, needle) != NULL;
        line = end ? end + 1 : NULL;
    }
    return n;
}

/* The "nodes" array of `zkv --json info` (parsed, the caller frees), NULL on failure. */
static cJSON *info_nodes(void)
{
    zkt_run_result r;
    int code = cli(&r, "--json", "info");
    cJSON *doc = code == 0 ? cJSON_Parse(r.out) : NULL;
    zkt_run_result_free(&r);
    CU_ASSERT_PTR_NOT_NULL(doc);
    return doc;
}

static double jnum(const cJSON *o, const char *a, const char *b)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
    if (b)
        x = cJSON_GetObjectItemCaseSensitive(x, b);
    return cJSON_IsNumber(x) ? x->valuedouble : -1;
}

/* Every node of `--json info` has had at least want GETs a second over its window. */
static bool gets_seen(void *arg)
{
    double want = *(const double *)arg, sum = 0;
    cJSON *doc = info_nodes();
    const cJSON *n;
    cJSON_ArrayForEach(n, cJSON_GetObjectItemCaseSensitive(doc, "nodes")) sum +=
        jnum(n, "requests_per_s", "get");
    cJSON_Delete(doc);
    return sum >= want;
}

static void test_ping_info_latency(void)
{
    zkt_run_result r;
    /* ping: a PONG per node */
    CU_ASSERT_EQUAL(cli(&r, "ping"), 0);
    for (int i = 0; i < N_SERVERS; i++) {
        char want[64];
        snprintf(want, sizeof want, "%s  127.0.0.1:", g_cl.servers[i].id);
        CU_ASSERT_PTR_NOT_NULL(strstr(r.out, want));
    }
    CU_ASSERT_EQUAL(count_lines(r.out, "PONG"), N_SERVERS);
    zkt_run_result_free(&r);
    CU_ASSERT_EQUAL(cli(&r, "--json", "ping", g_cl.servers[1].id), 0);
    cJSON *doc = cJSON_Parse(r.out);
    CU_ASSERT_EQUAL(cJSON_GetArraySize(doc), 1);
    const cJSON *p = cJSON_GetArrayItem(doc, 0);
    CU_ASSERT_STRING_EQUAL(jstr(p, "node"), g_cl.servers[1].id);
    CU_ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "ok")));
    CU_ASSERT_TRUE(jnum(p, "rtt_ms", NULL) > 0);
    cJSON_Delete(doc);
    zkt_run_result_free(&r);
    CU_ASSERT_EQUAL(cli(&r, "ping", "node-none"), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "no live node node-none"));
    zkt_run_result_free(&r);

    /* info: 300 keys written here, counted exactly; the map's ranges add up */
    for (int i = 0; i < 300; i++) {
        char k[32];
        int kl = snprintf(k, sizeof k, "info-%03d", i);
        CU_ASSERT_EQUAL_FATAL(zkv_put(g_client, k, (size_t)kl, "v", 1, 0, 0, NULL), ZKV_OK);
    }
    doc = info_nodes();
    double keys = 0, owned = 0;
    const cJSON *n;
    cJSON_ArrayForEach(n, cJSON_GetObjectItemCaseSensitive(doc, "nodes"))
    {
        CU_ASSERT_STRING_EQUAL(jstr(n, "version"), ZKV_VERSION);
        CU_ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(n, "serving")));
        CU_ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(n, "keys_exact")));
        CU_ASSERT_TRUE(jnum(n, "uptime_s", NULL) >= 0);
        CU_ASSERT_TRUE(jnum(n, "rss_bytes", NULL) > 0);
        keys += jnum(n, "keys", NULL);
        owned += jnum(n, "ranges_owned", NULL);
    }
    cJSON_Delete(doc);
    zkt_map *m = zkt_cluster_map(&g_cl);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(owned, (double)m->n_ranges);
    zkt_map_free(m);
    /* every key of this suite's earlier tests and these: at least the 300 */
    CU_ASSERT_TRUE(keys >= 300);
    zkt_log("info: %.0f keys in %.0f ranges", keys, owned);

    /* 2,000 GETs: the nodes' windows show them */
    for (int i = 0; i < 2000; i++) {
        zkv_value *v = NULL;
        char k[32];
        int kl = snprintf(k, sizeof k, "info-%03d", i % 300);
        CU_ASSERT_EQUAL(zkv_get(g_client, k, (size_t)kl, 0, 0, &v), ZKV_OK);
        zkv_value_free(v);
    }
    double want = 2000.0 / 12; /* spread over the window at most (11 s) */
    CU_ASSERT_TRUE(zkt_wait_for(gets_seen, &want, 15000));
    doc = info_nodes();
    cJSON_ArrayForEach(n, cJSON_GetObjectItemCaseSensitive(doc, "nodes"))
    {
        const cJSON *get = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(n, "latency_ms"), "get");
        if (jnum(n, "requests_per_s", "get") > 0)
            CU_ASSERT_TRUE(jnum(get, "p50", NULL) > 0);
    }
    cJSON_Delete(doc);
    CU_ASSERT_EQUAL(cli(&r, "info"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "NODE"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "GET_MS(P50/P99)"));
    CU_ASSERT_EQUAL(count_lines(r.out, " yes "), N_SERVERS);
    zkt_run_result_free(&r);

    /* latency */
    CU_ASSERT_EQUAL(cli(&r, "latency", "--samples", "40"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "(40 samples)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "min: "));
    zkt_run_result_free(&r);
    CU_ASSERT_EQUAL(cli(&r, "--json", "latency", g_cl.servers[0].id, "--samples", "10"), 0);
    doc = cJSON_Parse(r.out);
    CU_ASSERT_EQUAL(jnum(cJSON_GetObjectItemCaseSensitive(doc, "all"), "samples", NULL), 10);
    CU_ASSERT_EQUAL(jnum(cJSON_GetObjectItemCaseSensitive(doc, "all"), "failed", NULL), 0);
    CU_ASSERT_TRUE(jnum(cJSON_GetObjectItemCaseSensitive(doc, "all"), "avg_ms", NULL) > 0);
    cJSON_Delete(doc);
    zkt_run_result_free(&r);
    CU_ASSERT_EQUAL(cli(&r, "--latency", "get", "k"), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "--latency takes at most a NODE"));
    zkt_run_result_free(&r);
    CU_ASSERT_EQUAL(cli(&r, "--latency", "node-none"), 2);
    zkt_run_result_free(&r);
}

/* The last test: it kills a node. */
static void test_node_down(void)
{
    int victim = 1;
    char id[32];
    snprintf(id, sizeof id, "%.31s", g_cl.servers[victim].id);
    zkt_server_stop(&g_cl, victim, SIGKILL);
    zkt_run_result r;
    /* whether the map still lists it (its session not yet expired) or not, asking it fails */
    CU_ASSERT_EQUAL(cli(&r, "ping", id), 2);
    zkt_run_result_free(&r);
    CU_ASSERT_EQUAL(cli(&r, "info", id), 2);
    zkt_run_result_free(&r);
    CU_ASSERT_EQUAL(cli(&r, "ping", g_cl.servers[0].id), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "PONG"));
    zkt_run_result_free(&r);
    CU_ASSERT_EQUAL(cli(&r, "--json", "info", g_cl.servers[0].id), 0);
    zkt_run_result_free(&r);
}

int main(void)
{
    zkt_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("cli: 2 servers, 1 coordinator", suite_init, suite_cleanup);
    CU_add_test(s, "put KEY - and -x: binary values from stdin, get --raw and --quoted",
                test_put_from_stdin);
    CU_add_test(s, "stdin: exactly 1 MiB works, one byte more is refused, nothing written",
                test_max_value);
    CU_add_test(s, "--json: base64 and strings, versions E:S, null for a missing key", test_json);
    CU_add_test(s, "scan limit N, a key named limit, --json, the stale note", test_scan);
    CU_add_test(s, "the NUL-byte examples of 'zkv help' run as printed", test_help_nul_examples);
    CU_add_test(s, "put --if-absent / --if-version, del --if-version, mset, mget",
                test_conditions_and_multi);
    CU_add_test(s, "put --ttl, ttl, expire, persist", test_expiry);
    CU_add_test(s, "ping, info, latency", test_ping_info_latency);
    CU_add_test(s, "ping and info of a node that was killed", test_node_down);
    return zkt_run_all();
}
