/* session.c: executes zkv commands with libzkv and prints the results (see session.h).
 * Everything here is output formatting around one library call per command. */
#include "session.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "commands.h"
#include "common/keyrange.h"
#include "admin_render.h"
#include "describe_render.h"

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

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A note on stderr that is not an error ("(not found)", "(empty)"). */
static void note(const char *msg)
{
    fflush(stdout);
    fprintf(stderr, "%s\n", msg);
}

/* Escaped copy of bytes (zkv_key_escape), malloc'd; NULL when out of memory. */
static char *escaped(const void *data, size_t len)
{
    char *out = malloc(4 * len + 1);
    if (out)
        zkv_key_escape(data, len, out);
    return out;
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

static int cmd_get(zkv_repl_session *s, const zkv_repl_args *a)
{
    zkv_value *v = NULL;
    int rc = zkv_get(s->client, a->argv[1].data, a->argv[1].len, 0, s->read_flags, &v);
    if (rc == ZKV_ENOTFOUND) {
        note("(not found)");
        return 1;
    }
    if (rc != ZKV_OK)
        return report_status(s, "get", rc);
    zkv_version ver = zkv_value_version(v);
    zkv_version pos = zkv_value_position(v);
    const char *node = zkv_value_node(v) ? zkv_value_node(v) : "";
    int status = 0;
    if (s->json) {
        cJSON *o = cJSON_CreateObject();
        char *k = escaped(a->argv[1].data, a->argv[1].len);
        char *val = escaped(zkv_value_data(v), zkv_value_len(v));
        if (o && k && val) {
            cJSON_AddStringToObject(o, "key", k);
            cJSON_AddStringToObject(o, "value", val);
            cJSON_AddNumberToObject(o, "epoch", (double)ver.epoch);
            cJSON_AddNumberToObject(o, "seq", (double)ver.seq);
            cJSON_AddBoolToObject(o, "stale", zkv_value_stale(v) != 0);
            cJSON_AddStringToObject(o, "node", node);
            cJSON_AddNumberToObject(o, "range_epoch", (double)pos.epoch);
            cJSON_AddNumberToObject(o, "range_seq", (double)pos.seq);
        } else {
            cJSON_Delete(o);
            o = NULL;
        }
        status = print_json(s, o);
        free(k);
        free(val);
    } else {
        fwrite(zkv_value_data(v), 1, zkv_value_len(v), stdout);
        fputc('\n', stdout);
        if (zkv_value_stale(v)) {
            char msg[256];
            zkv_repl_stale_note(node, pos.epoch, pos.seq, msg, sizeof msg);
            note(msg);
        }
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
    if (o) {
        cJSON_AddBoolToObject(o, "ok", 1);
        cJSON_AddNumberToObject(o, "epoch", (double)ver.epoch);
        cJSON_AddNumberToObject(o, "seq", (double)ver.seq);
    }
    return print_json(s, o);
}

static int cmd_put(zkv_repl_session *s, const zkv_repl_args *a)
{
    zkv_version ver = {0, 0};
    int rc = zkv_put(s->client, a->argv[1].data, a->argv[1].len, a->argv[2].data, a->argv[2].len, 0,
                     s->write_flags, &ver);
    if (rc != ZKV_OK)
        return report_status(s, "put", rc);
    return print_write_result(s, ver);
}

static int cmd_del(zkv_repl_session *s, const zkv_repl_args *a)
{
    zkv_version ver = {0, 0};
    int rc = zkv_del(s->client, a->argv[1].data, a->argv[1].len, 0, s->write_flags, &ver);
    if (rc != ZKV_OK)
        return report_status(s, "del", rc);
    return print_write_result(s, ver);
}

static int cmd_scan(zkv_repl_session *s, const zkv_repl_args *a)
{
    zkv_repl_scan_args sa;
    char err[256];
    if (zkv_repl_scan_args_parse(a, &sa, err, sizeof err) < 0) {
        report(s, err);
        return 2;
    }
    zkv_scan *sc = NULL;
    int rc = zkv_scan_range(s->client, sa.start, sa.slen, sa.end, sa.elen, sa.limit, 0,
                            s->read_flags, &sc);
    if (rc != ZKV_OK)
        return report_status(s, "scan", rc);
    size_t n = zkv_scan_count(sc);
    cJSON *arr = s->json ? cJSON_CreateArray() : NULL;
    int status = 0;
    for (size_t i = 0; i < n && status == 0; i++) {
        size_t klen = 0, vlen = 0;
        const void *k = zkv_scan_key(sc, i, &klen);
        const void *v = zkv_scan_value(sc, i, &vlen);
        char *ke = escaped(k, klen), *ve = escaped(v, vlen);
        if (!ke || !ve || (s->json && !arr)) {
            report(s, "scan: out of memory");
            status = 2;
        } else if (s->json) {
            cJSON *o = cJSON_CreateObject();
            if (!o || !cJSON_AddStringToObject(o, "key", ke) ||
                !cJSON_AddStringToObject(o, "value", ve) || !cJSON_AddItemToArray(arr, o)) {
                cJSON_Delete(o);
                report(s, "scan: out of memory");
                status = 2;
            }
        } else {
            printf("%s\t%s\n", ke, ve);
        }
        free(ke);
        free(ve);
    }
    if (s->json && status == 0) {
        status = print_json(s, arr);
        arr = NULL;
    }
    cJSON_Delete(arr);
    if (status == 0 && zkv_scan_more(sc)) {
        char msg[128];
        snprintf(msg, sizeof msg, "(stopped at the limit of %zu keys; more follow)", sa.limit);
        note(msg);
    } else if (status == 0 && n == 0 && s->mode == ZKV_REPL_MODE_INTERACTIVE && !s->json)
        note("(empty)");
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
    uint64_t deadline = mono_ms() + (uint64_t)seconds * 1000u;
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
        if (mono_ms() >= deadline) {
            snprintf(msg, sizeof msg, "%s still at step %s after %ld s", id, detail, seconds);
            report2(s, "admin wait", msg);
            return 2;
        }
        sleep_ms(200);
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
