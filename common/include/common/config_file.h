/* config_file.h: the settings files of zkv's programs (--config FILE; docs/configuration.md).
 * One setting a line, "name = value", the names those of the long flags without "--"
 * ("listen = 0.0.0.0:7400", "tls-cert = /etc/zkv/node.pem", a boolean flag "true" or
 * "false"); '#' starts a comment line; blank lines are skipped; a value in double quotes
 * keeps its outer spaces. Parsing only: text in, entries out (flags.c applies them, flags
 * on the command line winning). */
#ifndef ZKV_COMMON_CONFIG_FILE_H
#define ZKV_COMMON_CONFIG_FILE_H
#include <stddef.h>

typedef struct zkv_config_entry {
    char *name;
    char *value;
    int line; /* 1-based, for messages */
} zkv_config_entry;

typedef struct zkv_config {
    zkv_config_entry *e;
    size_t n;
} zkv_config;

/* Parses len bytes of text into *out (zeroed first). 0, or -1 with "line N: reason" in
 * err (a line without '=', an empty or malformed name, a name given twice, a NUL byte,
 * an unterminated quote); *out is then empty. */
int zkv_config_parse(const char *text, size_t len, zkv_config *out, char *err, size_t errlen);
/* zkv_config_parse of the file at path (at most 1 MiB); the reason names the file. */
int zkv_config_load(const char *path, zkv_config *out, char *err, size_t errlen);
void zkv_config_free(zkv_config *c);
/* A boolean setting's value: 1 for true/yes/on/1, 0 for false/no/off/0, -1 otherwise. */
int zkv_config_bool(const char *value);

#endif
