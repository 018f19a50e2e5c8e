/* session.c: executes zkv commands with libzkv and prints the results (see session.h).
 * Everything here is output formatting around one library call per command. */
#include "session.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "commands.h"
#include "common/keyrange.h"
#include "common/util.h"
#include "admin_render.h"
#include "describe_render.h"
#include "node_cmds.h"

/* Prints a message about the current command to stderr in the mode's form: a prefix
 * ("zkv: ", "zkv: line 3: ", "(error) "), then what (if not NULL) and ": ", then msg. */
static void report2(const zkv_repl_session *s, const char *what, const char *msg)
{
    char prefix[64];
    switch (s->mode) {
    case ZKV_REPL_MODE_SCRIPT:
        snprintf(prefix, sizeof prefix, "zkv: line %lu: ", s->line);
        break;
    case ZKV_REPL_MODE_INTERACTIVE:
        snprintf(prefix, sizeof prefix, "(error) ");
        break;
    default:
        snprintf(prefix, sizeof prefix, "zkv: ");
        break;
    }
    fflush(stdout); /* keep stdout and stderr in order on a terminal */
    fprintf(stderr, "%s%s%s%s\n", prefix, what ? what : "", what ? ": " : "", msg);
}

static void report(const zkv_repl_session *s, const char *msg)
{
    report2(s, NULL, msg);
}

void zkv_repl_session_report(const zkv_repl_session *s, const char *what, const char *msg)
{
    report2(s, what, msg);
}

/* Reports a failed library call: "put: UNAVAILABLE: range r0003 has no owner". Must run
 * right after the call, before zkv_last_error() is overwritten. */
static int report_status(const zkv_repl_session *s, const char *what, int code)
{
    const char *reason = zkv_last_error();
    char msg[1024];
    if (!reason || !reason[0])
        reason = zkv_strerror(code);
    snprintf(msg, sizeof msg, "%s: %s", zkv_repl_status_name(code), reason);
    report2(s, what, msg);
    return zkv_repl_exit_status(code);
}

int zkv_repl_session_report_status(const zkv_repl_session *s, const char *what, int code)
{
    return report_status(s, what, code);
}

/* A note on stderr that is not an error ("(not found)", "(empty)"). */
static void note(const char *msg)
{
    fflush(stdout);
    fprintf(stderr, "%s\n", msg);
}

/* Prints bytes in the form --raw (as they are), --quoted ("...", zkv_repl_quote) or the
 * default (zkv_key_escape: \xHH) asks for. Returns 0, or -1 when out of memory. */
static int print_bytes(const zkv_repl_session *s, const void *data, size_t len)
{
    if (s->raw) {
        fwrite(data, 1, len, stdout);
        return 0;
    }
    char *text = malloc(s->quoted ? ZKV_REPL_QUOTED_SIZE(len) : 4 * len + 1);
    if (!text)
        return -1;
    if (s->quoted)
        zkv_repl_quote(data, len, text);
    else
        zkv_key_escape(data, len, text);
    fputs(text, stdout);
    free(text);
    return 0;
}

/* Adds bytes to a JSON object under name, as zkv_repl_json_bytes encodes them. */
static bool json_add_bytes(cJSON *o, const char *name, const void *data, size_t len)
{
    cJSON *item = zkv_repl_json_bytes(data, len);
    if (!item)
        return false;
    if (!cJSON_AddItemToObject(o, name, item)) {
        cJSON_Delete(item);
        return false;
    }
    return true;
}

/* Adds a version to a JSON object under name as "EPOCH:SEQ". */
static bool json_add_version(cJSON *o, const char *name, zkv_version v)
{
    char text[ZKV_REPL_VERSION_SIZE];
    zkv_repl_version_format(v, text, sizeof text);
    return cJSON_AddStringToObject(o, name, text) != NULL;
}

/* Prints a cJSON document compactly on one line and frees it. */
static int print_json(const zkv_repl_session *s, cJSON *doc)
{
    char *text = doc ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    if (!text) {
        report(s, "out of memory");
        return 2;
    }
    puts(text);
    cJSON_free(text);
    return 0;
}

int zkv_repl_session_connect(zkv_repl_session *s)
{
    if (s->client)
        return ZKV_OK;
    zkv_options *o = zkv_options_create();
    if (!o) {
        report(s, "connect: out of memory");
        return ZKV_ENOMEM;
    }
    int rc = zkv_options_set_zk(o, s->zk);
    if (rc == ZKV_OK)
        rc = zkv_options_set_cluster(o, s->cluster);
    if (rc == ZKV_OK)
        rc = zkv_options_set_timeout(o, s->timeout_ms);
    if (rc == ZKV_OK)
        rc = zkv_options_set_connect_timeout(o, s->timeout_ms);
    if (rc == ZKV_OK)
        rc = zkv_options_set_client_name(o, "zkv-cli");
    if (rc == ZKV_OK && s->zone && s->zone[0])
        rc = zkv_options_set_zone(o, s->zone);
    if (rc == ZKV_OK)
        rc = zkv_options_set_max_staleness(o, s->max_lag_ms, s->max_lag_entries);
    if (rc == ZKV_OK && s->hedge_ms >= 0)
        rc = zkv_options_set_hedge_delay(o, s->hedge_ms);
    if (rc == ZKV_OK && s->zk_auth)
        rc = zkv_options_set_zk_auth(o, s->zk_auth);
    if (rc == ZKV_OK && zkv_tls_wanted(&s->tls))
        rc = zkv_options_set_tls(o, s->tls.ca, s->tls.cert, s->tls.key);
    if (rc == ZKV_OK)
        rc = zkv_client_create(o, &s->client);
    if (rc != ZKV_OK) {
        report_status(s, "connect", rc);
        s->client = NULL;
    }
    zkv_options_free(o);
    return rc;
}

void zkv_repl_session_close(zkv_repl_session *s)
{
    zkv_client_free(s->client);
    s->client = NULL;
}

/* The --json object of a value read: {"key","value","version","stale","node"}, and for a
 * stale value "position", how far the replica that answered had applied the range's log. */
static cJSON *json_value(const zkv_repl_arg *key, const zkv_value *v)
{
    cJSON *o = cJSON_CreateObject();
    const char *node = zkv_value_node(v) ? zkv_value_node(v) : "";
    if (!o || !json_add_bytes(o, "key", key->data, key->len) ||
        !json_add_bytes(o, "value", zkv_value_data(v), zkv_value_len(v)) ||
        !json_add_version(o, "version", zkv_value_version(v)) ||
        !cJSON_AddBoolToObject(o, "stale", zkv_value_stale(v) != 0) ||
        !cJSON_AddStringToObject(o, "node", node) ||
        (zkv_value_stale(v) && !json_add_version(o, "position", zkv_value_position(v)))) {
        cJSON_Delete(o);
        return NULL;
    }
    uint64_t lag_ms, lag_entries; /* a replica's lag (ms: -1 when not caught up since start) */
    if (zkv_value_lag(v, &lag_ms, &lag_entries) &&
        (!cJSON_AddNumberToObject(o, "lag_ms", lag_ms == UINT64_MAX ? -1.0 : (double)lag_ms) ||
         !cJSON_AddNumberToObject(o, "lag_entries", (double)lag_entries))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static int cmd_get(zkv_repl_session *s, const zkv_repl_args *a)
{
    zkv_value *v = NULL;
    int rc = zkv_get(s->client, a->argv[1].data, a->argv[1].len, 0, s->read_flags, &v);
    if (rc == ZKV_ENOTFOUND) {
        if (s->json)
            puts("null");
        else
            note("(not found)");
        return 1;
    }
    if (rc != ZKV_OK)
        return report_status(s, "get", rc);
    if (s->json) {
        int status = print_json(s, json_value(&a->argv[1], v));
        zkv_value_free(v);
        return status;
    }
    int status = 0;
    if (!s->quoted) { /* the value's bytes, then a newline but with --raw */
        fwrite(zkv_value_data(v), 1, zkv_value_len(v), stdout);
    } else if (print_bytes(s, zkv_value_data(v), zkv_value_len(v)) < 0) {
        report(s, "get: out of memory");
        status = 2;
    }
    if (!s->raw && status == 0)
        fputc('\n', stdout);
    if (status == 0 && zkv_value_stale(v)) {
        char msg[256];
        zkv_version pos = zkv_value_position(v);
        zkv_repl_stale_note(zkv_value_node(v), pos.epoch, pos.seq, msg, sizeof msg);
        note(msg);
        uint64_t lag_ms, lag_entries;
        zkv_value_lag(v, &lag_ms, &lag_entries);
        zkv_repl_lag_note(lag_ms, lag_entries, msg, sizeof msg);
        note(msg);
    }
    zkv_value_free(v);
    return status;
}

static int print_write_result(zkv_repl_session *s, zkv_version ver)
{
    if (!s->json) {
        puts("OK");
        return 0;
    }
    cJSON *o = cJSON_CreateObject();
    if (o && (!cJSON_AddBoolToObject(o, "ok", 1) || !json_add_version(o, "version", ver))) {
        cJSON_Delete(o);
        o = NULL;
    }
    return print_json(s, o);
}

/* A conditional write's failure: the key's version now, on stderr or as JSON (exit 3). */
static int condition_failed(zkv_repl_session *s, const char *what, zkv_version now)
{
    if (!s->json)
        return report_status(s, what, ZKV_ECONDITION);
    cJSON *o = cJSON_CreateObject();
    if (o && (!cJSON_AddBoolToObject(o, "ok", 0) || !json_add_version(o, "version", now))) {
        cJSON_Delete(o);
        o = NULL;
    }
    print_json(s, o);
    return zkv_repl_exit_status(ZKV_ECONDITION);
}

/* A put or del with the options after its arguments (first: their index). */
static int write_cmd(zkv_repl_session *s, const zkv_repl_args *a, bool put, size_t first)
{
    int cond;
    zkv_version expected, ver = {0, 0};
    uint64_t ttl_ms;
    char err[256];
    const char *what = put ? "put" : "del";
    if (zkv_repl_write_cond(a, first, put, &cond, &expected, &ttl_ms, err, sizeof err) != 0) {
        report2(s, what, err);
        return 2;
    }
    const zkv_repl_arg *k = &a->argv[1];
    int rc;
    if (put && (cond || ttl_ms))
        rc = zkv_put_ex(s->client, k->data, k->len, a->argv[2].data, a->argv[2].len, cond, expected,
                        ttl_ms, 0, s->write_flags, &ver);
    else if (put)
        rc = zkv_put(s->client, k->data, k->len, a->argv[2].data, a->argv[2].len, 0, s->write_flags,
                     &ver);
    else if (cond)
        rc = zkv_del_if(s->client, k->data, k->len, expected, 0, s->write_flags, &ver);
    else
        rc = zkv_del(s->client, k->data, k->len, 0, s->write_flags, &ver);
    if (rc == ZKV_ECONDITION)
        return condition_failed(s, what, ver);
    if (rc != ZKV_OK)
        return report_status(s, what, rc);
    return print_write_result(s, ver);
}

static int cmd_put(zkv_repl_session *s, const zkv_repl_args *a)
{
    return write_cmd(s, a, true, 3);
}

static int cmd_del(zkv_repl_session *s, const zkv_repl_args *a)
{
    return write_cmd(s, a, false, 2);
}

/* ttl: the seconds left (rounded up), -1 without expiry, -2 for a missing key (exit 1). */
static int cmd_ttl(zkv_repl_session *s, const zkv_repl_args *a)
{
    zkv_value *v = NULL;
    int rc = zkv_get(s->client, a->argv[1].data, a->argv[1].len, 0, s->read_flags, &v);
    if (rc == ZKV_ENOTFOUND) {
        puts(s->json ? "null" : "-2");
        return 1;
    }
    if (rc != ZKV_OK)
        return report_status(s, "ttl", rc);
    int64_t ms = zkv_value_ttl(v);
    zkv_value_free(v);
    if (s->json)
        printf("{\"ttl_ms\":%lld}\n", (long long)ms);
    else
        printf("%lld\n", ms < 0 ? -1LL : (long long)((ms + 999) / 1000));
    return 0;
}

/* expire KEY SECONDS, persist KEY. */
static int cmd_expire(zkv_repl_session *s, const zkv_repl_args *a, bool persist)
{
    uint64_t ms = 0;
    if (!persist) {
        char text[32];
        const zkv_repl_arg *n = &a->argv[2];
        char *end = NULL;
        unsigned long long secs = 0;
        if (n->len > 0 && n->len < sizeof text) {
            memcpy(text, n->data, n->len);
            text[n->len] = '\0';
            secs = strtoull(text, &end, 10);
        }
        if (!end || *end || secs == 0 || secs > 100ull * 365 * 24 * 3600) {
            report2(s, "expire", "SECONDS is a whole number of seconds, at least 1");
            return 2;
        }
        ms = secs * 1000u;
    }
    const char *what = persist ? "persist" : "expire";
    zkv_version ver = {0, 0};
    int rc = zkv_expire(s->client, a->argv[1].data, a->argv[1].len, ms, 0, s->write_flags, &ver);
    if (rc == ZKV_ENOTFOUND) {
        note("(not found)");
        return 1;
    }
    if (rc != ZKV_OK)
        return report_status(s, what, rc);
    return print_write_result(s, ver);
}

/* mget: one batch of gets (pipelined to every owner at once), printed in order. */
static int cmd_mget(zkv_repl_session *s, const zkv_repl_args *a)
{
    zkv_batch *b = zkv_batch_create();
    int rc = b ? ZKV_OK : ZKV_ENOMEM;
    for (size_t i = 1; i < a->argc && rc == ZKV_OK; i++)
        rc = zkv_batch_get(b, a->argv[i].data, a->argv[i].len);
    if (rc == ZKV_OK)
        rc = zkv_batch_run(s->client, b, 0, s->read_flags);
    if (rc != ZKV_OK) {
        zkv_batch_free(b);
        return report_status(s, "mget", rc);
    }
    int status = 0;
    cJSON *arr = s->json ? cJSON_CreateArray() : NULL;
    for (size_t i = 0; i < zkv_batch_count(b); i++) {
        int st = zkv_batch_status(b, i);
        size_t len = 0;
        const void *val = zkv_batch_value(b, i, &len);
        if (st != ZKV_OK && st != ZKV_ENOTFOUND) {
            report_status(s, "mget", st);
            status = 2;
            continue;
        }
        if (arr) {
            cJSON *item = cJSON_CreateNull();
            if (st == ZKV_OK) {
                cJSON_Delete(item);
                item = cJSON_CreateObject();
                cJSON *k = zkv_repl_json_bytes(a->argv[i + 1].data, a->argv[i + 1].len);
                cJSON *v = zkv_repl_json_bytes(val, len);
                if (item && k && v) {
                    cJSON_AddItemToObject(item, "key", k);
                    cJSON_AddItemToObject(item, "value", v);
                } else {
                    cJSON_Delete(k);
                    cJSON_Delete(v);
                }
            }
            cJSON_AddItemToArray(arr, item);
        } else if (st == ZKV_ENOTFOUND) {
            puts("(nil)");
        } else {
            if (!s->quoted)
                fwrite(val, 1, len, stdout);
            else if (print_bytes(s, val, len) < 0)
                status = 2;
            if (!s->raw)
                fputc('\n', stdout);
        }
    }
    if (arr && print_json(s, arr) != 0)
        status = 2;
    zkv_batch_free(b);
    return status;
}

/* mset: the pairs as one atomic batch. */
static int cmd_mset(zkv_repl_session *s, const zkv_repl_args *a)
{
    if ((a->argc - 1) % 2 != 0) {
        report2(s, "mset", "takes KEY VALUE pairs");
        return 2;
    }
    zkv_batch *b = zkv_batch_create();
    int rc = b ? ZKV_OK : ZKV_ENOMEM;
    for (size_t i = 1; i + 1 < a->argc && rc == ZKV_OK; i += 2)
        rc = zkv_batch_put(b, a->argv[i].data, a->argv[i].len, a->argv[i + 1].data,
                           a->argv[i + 1].len);
    if (rc == ZKV_OK)
        rc = zkv_batch_atomic(s->client, b, 0, s->write_flags);
    if (rc != ZKV_OK) {
        zkv_batch_free(b);
        return report_status(s, "mset", rc);
    }
    int status = 0;
    if (!s->json) {
        puts("OK");
    } else {
        cJSON *o = cJSON_CreateObject();
        cJSON *vs = cJSON_CreateArray();
        for (size_t i = 0; o && vs && i < zkv_batch_count(b); i++) {
            char text[ZKV_REPL_VERSION_SIZE];
            zkv_repl_version_format(zkv_batch_version(b, i), text, sizeof text);
            cJSON_AddItemToArray(vs, cJSON_CreateString(text));
        }
        if (o && vs) {
            cJSON_AddBoolToObject(o, "ok", 1);
            cJSON_AddItemToObject(o, "versions", vs);
        } else {
            cJSON_Delete(vs);
        }
        status = print_json(s, o);
    }
    zkv_batch_free(b);
    return status;
}

/* The --json object of a scan: {"items":[{"key","value"}...],"stale","more"}. */
static cJSON *json_scan(const zkv_scan *sc)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *items = o ? cJSON_AddArrayToObject(o, "items") : NULL;
    bool ok = items != NULL;
    for (size_t i = 0; ok && i < zkv_scan_count(sc); i++) {
        size_t klen = 0, vlen = 0;
        const void *k = zkv_scan_key(sc, i, &klen);
        const void *v = zkv_scan_value(sc, i, &vlen);
        cJSON *item = cJSON_CreateObject();
        if (!item || !cJSON_AddItemToArray(items, item)) {
            cJSON_Delete(item);
            ok = false;
            break;
        }
        ok = json_add_bytes(item, "key", k, klen) && json_add_bytes(item, "value", v, vlen);
    }
    ok = ok && cJSON_AddBoolToObject(o, "stale", zkv_scan_stale(sc) != 0) &&
         cJSON_AddBoolToObject(o, "more", zkv_scan_more(sc) != 0);
    size_t tlen = 0;
    const void *token = zkv_scan_token(sc, &tlen);
    char *hex = token ? malloc(2 * tlen + 1) : NULL;
    if (hex)
        zkv_repl_hex(token, tlen, hex);
    if (ok && token)
        ok = hex && cJSON_AddStringToObject(o, "token", hex);
    free(hex);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static int cmd_scan(zkv_repl_session *s, const zkv_repl_args *a)
{
    static zkv_repl_scan_args sa; /* (a token buffer of 12 KiB: not on the stack) */
    char err[256];
    if (zkv_repl_scan_args_parse(a, &sa, err, sizeof err) < 0) {
        report(s, err);
        return 2;
    }
    zkv_scan *sc = NULL;
    zkv_scan_args args = {.start = sa.start,
                          .slen = sa.slen,
                          .end = sa.end,
                          .elen = sa.elen,
                          .prefix = sa.prefix,
                          .plen = sa.plen,
                          .limit = sa.limit,
                          .reverse = sa.reverse,
                          .keys_only = sa.keys_only,
                          .token = sa.tlen ? sa.token : NULL,
                          .tlen = sa.tlen};
    int rc = zkv_scan_run(s->client, &args, 0, s->read_flags, &sc);
    if (rc != ZKV_OK)
        return report_status(s, "scan", rc);
    size_t n = zkv_scan_count(sc);
    int status = 0;
    if (s->json) {
        status = print_json(s, json_scan(sc));
    } else {
        for (size_t i = 0; i < n && status == 0; i++) {
            size_t klen = 0, vlen = 0;
            const void *k = zkv_scan_key(sc, i, &klen);
            const void *v = zkv_scan_value(sc, i, &vlen);
            bool ok = print_bytes(s, k, klen) == 0;
            if (ok) {
                fputc('\t', stdout);
                ok = print_bytes(s, v, vlen) == 0;
            }
            if (ok) {
                fputc('\n', stdout);
            } else {
                report(s, "scan: out of memory");
                status = 2;
            }
        }
    }
    if (status == 0 && zkv_scan_more(sc) && !s->json) {
        size_t tlen = 0;
        const void *token = zkv_scan_token(sc, &tlen);
        char *msg = malloc(2 * tlen + 160);
        if (msg) {
            int len = snprintf(msg, 160, "(stopped at the limit of %zu keys; more follow%s",
                               sa.limit, token ? ": --token " : "");
            size_t at = len > 0 && len < 160 ? (size_t)len : 0;
            if (token) {
                zkv_repl_hex(token, tlen, msg + at);
                at += 2 * tlen;
            }
            memcpy(msg + at, ")", 2);
            note(msg);
        }
        free(msg);
    } else if (status == 0 && n == 0 && s->mode == ZKV_REPL_MODE_INTERACTIVE && !s->json)
        note("(empty)");
    if (status == 0 && zkv_scan_stale(sc) && !s->json)
        note(ZKV_REPL_SCAN_STALE_NOTE);
    zkv_scan_free(sc);
    return status;
}

static int cmd_describe(zkv_repl_session *s, const char *what, zkv_repl_describe_view view)
{
    char *json = NULL, err[256];
    int rc = zkv_describe(s->client, &json);
    if (rc != ZKV_OK)
        return report_status(s, what, rc);
    char *out = zkv_repl_describe_render(json, view, s->json, err, sizeof err);
    zkv_free(json);
    if (!out) {
        report2(s, what, err);
        return 2;
    }
    fputs(out, stdout);
    free(out);
    return 0;
}

static int admin_status(zkv_repl_session *s)
{
    char *json = NULL, err[256];
    int rc = zkv_admin_status(s->client, &json);
    if (rc != ZKV_OK)
        return report_status(s, "admin status", rc);
    char *out = zkv_repl_admin_render(json, s->json, err, sizeof err);
    zkv_free(json);
    if (!out) {
        report2(s, "admin status", err);
        return 2;
    }
    fputs(out, stdout);
    free(out);
    return 0;
}

/* Polls the status every 200 ms until the operation is gone (done) or failed, at most
 * seconds. */
static int admin_wait(zkv_repl_session *s, const char *id, long seconds)
{
    uint64_t deadline = zkv_now_ms() + (uint64_t)seconds * 1000u;
    char detail[300], msg[400];
    for (;;) {
        char *json = NULL;
        int rc = zkv_admin_status(s->client, &json);
        if (rc != ZKV_OK)
            return report_status(s, "admin wait", rc);
        zkv_repl_op_state st = zkv_repl_admin_op_state(json, id, detail, sizeof detail);
        zkv_free(json);
        if (st == ZKV_REPL_OP_DONE) {
            if (s->json)
                printf("{\"id\":\"%s\",\"state\":\"done\"}\n", id);
            else
                printf("%s done\n", id);
            return 0;
        }
        if (st == ZKV_REPL_OP_FAILED || st == ZKV_REPL_OP_BAD) {
            snprintf(msg, sizeof msg, "%s %s", id,
                     st == ZKV_REPL_OP_BAD ? "status unreadable" : "failed: ");
            strncat(msg, detail, sizeof msg - strlen(msg) - 1);
            report2(s, "admin wait", msg);
            return 2;
        }
        if (zkv_now_ms() >= deadline) {
            snprintf(msg, sizeof msg, "%s still at step %s after %ld s", id, detail, seconds);
            report2(s, "admin wait", msg);
            return 2;
        }
        zkv_sleep_ms(200);
    }
}

static int cmd_admin(zkv_repl_session *s, const zkv_repl_args *a)
{
    const zkv_repl_arg *sub = &a->argv[1];
    if (zkv_repl_arg_is(sub, "status") && a->argc == 2)
        return admin_status(s);
    if (zkv_repl_arg_is(sub, "wait")) {
        char *end = NULL;
        long secs = a->argc > 3 ? strtol(a->argv[3].data, &end, 10) : 600;
        if (a->argc < 3 || (end && (*end || secs <= 0))) {
            report2(s, "admin", "usage: admin wait OP [SECONDS]");
            return 2;
        }
        return admin_wait(s, a->argv[2].data, secs);
    }
    const char *args[2] = {NULL, NULL};
    size_t n = a->argc - 2;
    for (size_t i = 0; i < n && i < 2; i++)
        args[i] = a->argv[2 + i].data;
    /* a split key comes as typed (the tokenizer undid its escapes): escape it again */
    char *key = NULL;
    if (zkv_repl_arg_is(sub, "split") && n == 2) {
        const zkv_repl_arg *k = &a->argv[3];
        if (!(key = malloc(4 * k->len + 1))) {
            report2(s, "admin", "out of memory");
            return 1;
        }
        zkv_key_escape((const uint8_t *)k->data, k->len, key);
        args[1] = key;
    }
    char *id = NULL;
    int rc = zkv_admin_submit(s->client, sub->data, args, n, &id);
    free(key);
    if (rc != ZKV_OK)
        return report_status(s, "admin", rc);
    if (s->json)
        printf("{\"id\":\"%s\"}\n", id);
    else
        printf("%s\n", id);
    char msg[200];
    snprintf(msg, sizeof msg,
             "(recorded; \"zkv admin status\" shows its step, \"zkv admin wait %s\" "
             "waits for it)",
             id);
    if (s->mode != ZKV_REPL_MODE_ONESHOT || !s->json)
        note(msg);
    zkv_free(id);
    return 0;
}

static int cmd_help(zkv_repl_session *s, const zkv_repl_args *a)
{
    static char text[8192];
    const char *name = a->argc > 1 ? a->argv[1].data : NULL;
    size_t len = a->argc > 1 ? a->argv[1].len : 0;
    if (zkv_repl_help_text(name, len, text, sizeof text) < 0) {
        zkv_repl_args one = {1, a->argv + 1};
        const zkv_repl_command *c;
        char err[256];
        zkv_repl_dispatch(&one, &c, err, sizeof err); /* builds the "unknown command" message */
        report2(s, "help", err);
        return 2;
    }
    fputs(text, stdout);
    return 0;
}

int zkv_repl_session_stdin_arg(zkv_repl_session *s, zkv_repl_args *args, size_t i)
{
    const zkv_repl_command *c =
        args->argc ? zkv_repl_command_find(args->argv[0].data, args->argv[0].len) : NULL;
    const char *what = c ? c->name : NULL;
    size_t cap = (size_t)64 * 1024, len = 0;
    char *data = malloc(cap + 1), msg[256];
    for (;;) {
        if (!data) {
            report2(s, what, "out of memory");
            return 2;
        }
        if (len == cap) {
            if (cap > ZKV_REPL_STDIN_MAX)
                break;
            cap *= 2; /* up to one byte past the limit: enough to tell it is over */
            if (cap > ZKV_REPL_STDIN_MAX)
                cap = ZKV_REPL_STDIN_MAX + 1;
            char *more = realloc(data, cap + 1);
            if (!more)
                free(data);
            data = more;
            continue;
        }
        ssize_t n = read(STDIN_FILENO, data + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(msg, sizeof msg, "reading stdin: %s", strerror(errno));
            report2(s, what, msg);
            free(data);
            return 2;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    if (len > ZKV_REPL_STDIN_MAX) {
        snprintf(msg, sizeof msg,
                 "%s: stdin holds more than the limit of %zu bytes (1 MiB); nothing written",
                 zkv_repl_status_name(ZKV_ETOOLARGE), ZKV_REPL_STDIN_MAX);
        report2(s, what, msg);
        free(data);
        return 2;
    }
    data[len] = '\0'; /* arguments end with a NUL after their bytes */
    if (i >= args->argc) {
        zkv_repl_arg *argv = realloc(args->argv, (args->argc + 1) * sizeof *argv);
        if (!argv) {
            free(data);
            report2(s, what, "out of memory");
            return 2;
        }
        args->argv = argv;
        i = args->argc++;
    } else {
        free(args->argv[i].data);
    }
    args->argv[i] = (zkv_repl_arg){.data = data, .len = len, .bare = false};
    return 0;
}

int zkv_repl_session_run(zkv_repl_session *s, const zkv_repl_args *args)
{
    const zkv_repl_command *c;
    char err[256];
    int status;
    switch (zkv_repl_dispatch(args, &c, err, sizeof err)) {
    case ZKV_REPL_DISPATCH_EMPTY:
        return 0;
    case ZKV_REPL_DISPATCH_UNKNOWN:
    case ZKV_REPL_DISPATCH_ARITY:
        report(s, err);
        return 2;
    case ZKV_REPL_DISPATCH_OK:
        break;
    }
    if (zkv_repl_stdin_arg(args)) { /* one-shot mode replaced it with stdin before */
        report2(s, c->name,
                "a bare - reads the value from stdin only on the command line (zkv put KEY - "
                "< FILE); here stdin carries the commands: write \"-\" for the value -");
        return 2;
    }
    if (c->needs_client && !s->client) {
        int rc = zkv_repl_session_connect(s);
        if (rc != ZKV_OK)
            return 2;
    }
    switch (c->id) {
    case ZKV_REPL_CMD_GET:
        status = cmd_get(s, args);
        break;
    case ZKV_REPL_CMD_PUT:
        status = cmd_put(s, args);
        break;
    case ZKV_REPL_CMD_DEL:
        status = cmd_del(s, args);
        break;
    case ZKV_REPL_CMD_MGET:
        status = cmd_mget(s, args);
        break;
    case ZKV_REPL_CMD_TTL:
        status = cmd_ttl(s, args);
        break;
    case ZKV_REPL_CMD_EXPIRE:
        status = cmd_expire(s, args, false);
        break;
    case ZKV_REPL_CMD_PERSIST:
        status = cmd_expire(s, args, true);
        break;
    case ZKV_REPL_CMD_MSET:
        status = cmd_mset(s, args);
        break;
    case ZKV_REPL_CMD_SCAN:
        status = cmd_scan(s, args);
        break;
    case ZKV_REPL_CMD_RANGES:
        status = cmd_describe(s, "ranges", ZKV_REPL_VIEW_RANGES);
        break;
    case ZKV_REPL_CMD_NODES:
        status = cmd_describe(s, "nodes", ZKV_REPL_VIEW_NODES);
        break;
    case ZKV_REPL_CMD_ADMIN:
        status = cmd_admin(s, args);
        break;
    case ZKV_REPL_CMD_PING:
        status = zkv_repl_cmd_ping(s, args);
        break;
    case ZKV_REPL_CMD_INFO:
        status = zkv_repl_cmd_info(s, args);
        break;
    case ZKV_REPL_CMD_LATENCY:
        status = zkv_repl_cmd_latency(s, args);
        break;
    case ZKV_REPL_CMD_HELP:
        status = cmd_help(s, args);
        break;
    case ZKV_REPL_CMD_QUIT:
        s->quit = true;
        status = 0;
        break;
    default:
        status = 2;
        break;
    }
    fflush(stdout);
    return status;
}

int zkv_repl_session_run_line(zkv_repl_session *s, const char *line)
{
    zkv_repl_args args;
    char err[256];
    int rc = zkv_repl_tokenize(line, &args, err, sizeof err);
    if (rc < 0) {
        report(s, err);
        return 2;
    }
    int status = zkv_repl_session_run(s, &args);
    zkv_repl_args_free(&args);
    return status;
}
