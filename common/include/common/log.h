/* log.h: one line per event on stderr, "2026-11-22T12:00:00.123Z INFO  server: message",
 * or with --log-format json one JSON object a line for log collectors:
 * {"ts":"2026-11-22T12:00:00.123Z","level":"info","component":"server","msg":"..."}.
 * Used by the long-running programs only; libzkv never logs (errors are returned).
 * Thread-safe: each line is formatted into one buffer and written with one write(2). */
#ifndef ZKV_COMMON_LOG_H
#define ZKV_COMMON_LOG_H
#include <stdbool.h>

typedef enum {
    ZKV_LOG_DEBUG = 0,
    ZKV_LOG_INFO = 1,
    ZKV_LOG_WARN = 2,
    ZKV_LOG_ERROR = 3
} zkv_log_level;

/* Sets the component name printed after the level ("server") and the minimum level.
 * Call once at start-up, before threads start. */
void zkv_log_init(const char *component, zkv_log_level min_level);
/* JSON lines (true) or text (false, the default). Call at start-up, before threads. */
void zkv_log_set_json(bool json);
/* Parses --log-format: "text" 0, "json" 1, -1 for anything else. */
int zkv_log_format_parse(const char *name);
/* Parses "debug", "info", "warn", "error"; returns -1 for anything else. */
int zkv_log_level_parse(const char *name);
void zkv_log(zkv_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A log_callback_fn for zookeeper_init2: forwards ZooKeeper client lines at DEBUG (the
 * programs log session state changes themselves, once each). */
void zkv_log_zookeeper(const char *message);

#define ZKV_DEBUG(...) zkv_log(ZKV_LOG_DEBUG, __VA_ARGS__)
#define ZKV_INFO(...) zkv_log(ZKV_LOG_INFO, __VA_ARGS__)
#define ZKV_WARN(...) zkv_log(ZKV_LOG_WARN, __VA_ARGS__)
#define ZKV_ERROR(...) zkv_log(ZKV_LOG_ERROR, __VA_ARGS__)

#endif
