/* options.h: the contents of zkv_options, shared by options.c (setters, validation) and
 * client.c (which keeps its own copy). Plain data, no resources besides the strings. */
#ifndef ZKV_CLIENT_OPTIONS_H
#define ZKV_CLIENT_OPTIONS_H
#include <stddef.h>
#include <stdint.h>

#define ZKV__DEFAULT_ZK "127.0.0.1:2181"
#define ZKV__DEFAULT_CLUSTER "default"
#define ZKV__DEFAULT_TIMEOUT_MS 5000
#define ZKV__DEFAULT_SESSION_MS 10000
#define ZKV__DEFAULT_FAILFAST_MS 1000
#define ZKV__DEFAULT_HEDGE_MS 10               /* HBase's timeline reads hedge after 10 ms too */
#define ZKV__MAX_TIMEOUT_MS (24 * 3600 * 1000) /* a day: larger is a bug, not a choice */
#define ZKV__MAX_CLIENT_NAME 128
#define ZKV__MAX_AUTH 256 /* ZKV_AUTH_MAX_SECRET */
#define ZKV__MAX_ZONE 64  /* ZKV_ID_MAX: zones are compared with nodes/ zone fields */

struct zkv_options {
    char *zk;          /* ZooKeeper connect string */
    char *cluster;     /* cluster name: /zkv/NAME */
    char *client_name; /* sent in HELLO */
    char *zone;        /* the client's zone ("" when none) */
    char *auth;        /* the credential presented at HELLO ("" when none) */
    char *zk_auth;     /* ZooKeeper digest USER:PASSWORD ("" when none) */
    char *tls_ca;      /* TLS: CA file that signs the nodes ("" with no cert: plain) */
    char *tls_cert;    /* TLS: client certificate for nodes that require one ("") */
    char *tls_key;     /* its key ("") */
    int connect_timeout_ms;
    int timeout_ms;
    int session_timeout_ms;
    size_t max_key;
    size_t max_value;
    unsigned default_flags;
    int failfast_ms;          /* how long a call waits for a new owner when none can serve */
    uint64_t max_lag_ms;      /* replica reads: staleness bound in ms (0: none) */
    uint64_t max_lag_entries; /* ...and in log entries (0: none) */
    int hedge_ms;             /* ZKV_FLAG_HEDGE: ask a replica too after this long */
};

/* Deep copy of src into dst (uninitialised). Returns ZKV_OK or ZKV_ENOMEM. */
int zkv__options_copy(struct zkv_options *dst, const struct zkv_options *src);
/* Frees the strings of an options value that is not heap-allocated itself. */
void zkv__options_clear(struct zkv_options *o);
typedef struct zkv_tls_ctx zkv_tls_ctx;
/* The TLS client context the options ask for: ZKV_OK with *ctx (NULL: plain), or
 * ZKV_EINVAL with err naming the file that does not load. */
int zkv__options_tls(const struct zkv_options *o, zkv_tls_ctx **ctx, char *err, size_t errlen);
/* Largest max_value accepted: a get answer must fit in one response frame. */
size_t zkv__options_max_value_limit(void);

#endif
