/* options.c: zkv_options, one struct of settings instead of many connect variants
 * (hiredis' redisOptions). Defaults come from the environment (ZKV_ZK, ZKV_CLUSTER) like
 * every zkv program's flags; setters validate so a bad value fails where it was set. */
#include <stdlib.h>
#include <string.h>

#include "zkv/zkv.h"
#include "common/frame.h"
#include "common/tls.h"
#include "common/zkacl.h"
#include "common/znode.h"
#include "error.h"
#include "options.h"
#include "route.h"

static int set_string(char **slot, const char *s)
{
    char *copy = strdup(s);
    if (!copy)
        return zkv__fail(ZKV_ENOMEM, "out of memory");
    free(*slot);
    *slot = copy;
    return ZKV_OK;
}

zkv_options *zkv_options_create(void)
{
    zkv_options *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    const char *zk = getenv("ZKV_ZK");
    const char *cluster = getenv("ZKV_CLUSTER");
    if (!zk || !*zk)
        zk = ZKV__DEFAULT_ZK;
    if (!cluster || !zkv_id_valid(cluster))
        cluster = ZKV__DEFAULT_CLUSTER;
    o->zk = strdup(zk);
    o->cluster = strdup(cluster);
    o->client_name = strdup("libzkv");
    const char *zone = getenv("ZKV_ZONE");
    o->zone = strdup(zone && strlen(zone) < ZKV__MAX_ZONE ? zone : "");
    const char *token = getenv("ZKV_AUTH_TOKEN");
    o->auth = strdup(token ? token : "");
    o->zk_auth = strdup("");
    const char *tls[3] = {getenv("ZKV_TLS_CA"), getenv("ZKV_TLS_CERT"), getenv("ZKV_TLS_KEY")};
    o->tls_ca = strdup(tls[0] ? tls[0] : "");
    o->tls_cert = strdup(tls[1] ? tls[1] : "");
    o->tls_key = strdup(tls[2] ? tls[2] : "");
    o->failfast_ms = ZKV__DEFAULT_FAILFAST_MS;
    o->hedge_ms = ZKV__DEFAULT_HEDGE_MS;
    o->connect_timeout_ms = ZKV__DEFAULT_TIMEOUT_MS;
    o->timeout_ms = ZKV__DEFAULT_TIMEOUT_MS;
    o->session_timeout_ms = ZKV__DEFAULT_SESSION_MS;
    o->max_key = ZKV_MAX_KEY_DEFAULT;
    o->max_value = ZKV_MAX_VALUE_DEFAULT;
    o->default_flags = ZKV_FLAG_NONE;
    if (!o->zk || !o->cluster || !o->client_name || !o->zone || !o->auth || !o->zk_auth ||
        !o->tls_ca || !o->tls_cert || !o->tls_key) {
        zkv_options_free(o);
        return NULL;
    }
    return o;
}

void zkv__options_clear(struct zkv_options *o)
{
    free(o->zk);
    free(o->cluster);
    free(o->client_name);
    free(o->zone);
    if (o->auth) /* the credential does not linger in freed memory */
        memset(o->auth, 0, strlen(o->auth));
    free(o->auth);
    if (o->zk_auth)
        memset(o->zk_auth, 0, strlen(o->zk_auth));
    free(o->zk_auth);
    free(o->tls_ca);
    free(o->tls_cert);
    free(o->tls_key);
    o->zk = o->cluster = o->client_name = o->zone = o->auth = o->zk_auth = NULL;
    o->tls_ca = o->tls_cert = o->tls_key = NULL;
}

void zkv_options_free(zkv_options *o)
{
    if (!o)
        return;
    zkv__options_clear(o);
    free(o);
}

int zkv__options_copy(struct zkv_options *dst, const struct zkv_options *src)
{
    *dst = *src;
    dst->zk = strdup(src->zk);
    dst->cluster = strdup(src->cluster);
    dst->client_name = strdup(src->client_name);
    dst->zone = strdup(src->zone ? src->zone : "");
    dst->auth = strdup(src->auth ? src->auth : "");
    dst->zk_auth = strdup(src->zk_auth ? src->zk_auth : "");
    dst->tls_ca = strdup(src->tls_ca ? src->tls_ca : "");
    dst->tls_cert = strdup(src->tls_cert ? src->tls_cert : "");
    dst->tls_key = strdup(src->tls_key ? src->tls_key : "");
    if (!dst->zk || !dst->cluster || !dst->client_name || !dst->zone || !dst->auth ||
        !dst->zk_auth || !dst->tls_ca || !dst->tls_cert || !dst->tls_key) {
        zkv__options_clear(dst);
        return ZKV_ENOMEM;
    }
    return ZKV_OK;
}

int zkv__options_tls(const struct zkv_options *o, zkv_tls_ctx **ctx, char *err, size_t errlen)
{
    zkv_tls_files f = {.ca = o->tls_ca, .cert = o->tls_cert, .key = o->tls_key};
    *ctx = NULL;
    if (!zkv_tls_wanted(&f))
        return ZKV_OK;
    if (zkv_tls_ctx_new(ctx, false, &f, err, errlen) != 0)
        return ZKV_EINVAL;
    return ZKV_OK;
}

size_t zkv__options_max_value_limit(void)
{
    return ZKV_MAX_RESPONSE_FRAME - ZKV_MAX_KEY_DEFAULT - ZKV_FRAME_SLACK;
}

int zkv_options_set_zk(zkv_options *o, const char *connect)
{
    if (!o || !connect || !*connect)
        return zkv__fail(ZKV_EINVAL, "ZooKeeper connect string must not be empty");
    if (strchr(connect, ' '))
        return zkv__fail(ZKV_EINVAL, "bad ZooKeeper connect string \"%s\"", connect);
    return set_string(&o->zk, connect);
}

int zkv_options_set_cluster(zkv_options *o, const char *name)
{
    if (!o || !name || !zkv_id_valid(name))
        return zkv__fail(ZKV_EINVAL, "bad cluster name \"%s\": 1..63 of [A-Za-z0-9._-]",
                         name ? name : "(null)");
    return set_string(&o->cluster, name);
}

static int check_ms(const zkv_options *o, int ms, const char *what)
{
    if (!o || ms <= 0 || ms > ZKV__MAX_TIMEOUT_MS)
        return zkv__fail(ZKV_EINVAL, "%s must be 1..%d ms, not %d", what, ZKV__MAX_TIMEOUT_MS, ms);
    return ZKV_OK;
}

int zkv_options_set_connect_timeout(zkv_options *o, int ms)
{
    int rc = check_ms(o, ms, "connect timeout");
    if (rc == ZKV_OK)
        o->connect_timeout_ms = ms;
    return rc;
}

int zkv_options_set_timeout(zkv_options *o, int ms)
{
    int rc = check_ms(o, ms, "timeout");
    if (rc == ZKV_OK)
        o->timeout_ms = ms;
    return rc;
}

int zkv_options_set_session_timeout(zkv_options *o, int ms)
{
    int rc = check_ms(o, ms, "session timeout");
    if (rc == ZKV_OK)
        o->session_timeout_ms = ms;
    return rc;
}

int zkv_options_set_max_value(zkv_options *o, size_t bytes)
{
    if (!o || bytes == 0 || bytes > zkv__options_max_value_limit())
        return zkv__fail(ZKV_EINVAL, "max value must be 1..%zu bytes, not %zu",
                         zkv__options_max_value_limit(), bytes);
    o->max_value = bytes;
    return ZKV_OK;
}

int zkv_options_set_default_flags(zkv_options *o, unsigned flags)
{
    char err[128];
    if (!o)
        return zkv__fail(ZKV_EINVAL, "options are NULL");
    if (zkv__flags_check(flags, err, sizeof err) != 0)
        return zkv__fail(ZKV_EINVAL, "%s", err);
    o->default_flags = flags;
    return ZKV_OK;
}

int zkv_options_set_client_name(zkv_options *o, const char *name)
{
    if (!o || !name || strlen(name) >= ZKV__MAX_CLIENT_NAME)
        return zkv__fail(ZKV_EINVAL, "client name must be shorter than %d bytes",
                         ZKV__MAX_CLIENT_NAME);
    return set_string(&o->client_name, name);
}

int zkv_options_set_auth(zkv_options *o, const char *token)
{
    if (!o)
        return zkv__fail(ZKV_EINVAL, "options are NULL");
    if (token && strlen(token) > ZKV__MAX_AUTH)
        return zkv__fail(ZKV_EINVAL, "a credential is at most %d bytes", ZKV__MAX_AUTH);
    if (o->auth)
        memset(o->auth, 0, strlen(o->auth));
    return set_string(&o->auth, token ? token : "");
}

int zkv_options_set_zk_auth(zkv_options *o, const char *user_password)
{
    if (!o)
        return zkv__fail(ZKV_EINVAL, "options are NULL");
    char err[200];
    zkv_zk_cred cred;
    if (user_password && user_password[0] &&
        zkv_zk_cred_parse(user_password, &cred, err, sizeof err) != 0)
        return zkv__fail(ZKV_EINVAL, "%s", err);
    if (o->zk_auth)
        memset(o->zk_auth, 0, strlen(o->zk_auth));
    return set_string(&o->zk_auth, user_password ? user_password : "");
}

int zkv_options_set_tls(zkv_options *o, const char *ca, const char *cert, const char *key)
{
    if (!o)
        return zkv__fail(ZKV_EINVAL, "options are NULL");
    if ((cert && *cert) != (key && *key))
        return zkv__fail(ZKV_EINVAL, "a TLS certificate and its key go together");
    int rc = set_string(&o->tls_ca, ca ? ca : "");
    if (rc == ZKV_OK)
        rc = set_string(&o->tls_cert, cert ? cert : "");
    if (rc == ZKV_OK)
        rc = set_string(&o->tls_key, key ? key : "");
    return rc;
}

int zkv_options_set_failfast(zkv_options *o, int ms)
{
    if (!o || ms < 0 || ms > ZKV__MAX_TIMEOUT_MS)
        return zkv__fail(ZKV_EINVAL, "failfast must be 0..%d ms, not %d", ZKV__MAX_TIMEOUT_MS, ms);
    o->failfast_ms = ms;
    return ZKV_OK;
}

int zkv_options_set_zone(zkv_options *o, const char *zone)
{
    if (!o || !zone || strlen(zone) >= ZKV__MAX_ZONE)
        return zkv__fail(ZKV_EINVAL, "zone must be shorter than %d bytes", ZKV__MAX_ZONE);
    return set_string(&o->zone, zone);
}

int zkv_options_set_max_staleness(zkv_options *o, uint64_t max_lag_ms, uint64_t max_lag_entries)
{
    if (!o)
        return zkv__fail(ZKV_EINVAL, "options are NULL");
    o->max_lag_ms = max_lag_ms;
    o->max_lag_entries = max_lag_entries;
    return ZKV_OK;
}

int zkv_options_set_hedge_delay(zkv_options *o, int ms)
{
    if (!o || ms < 0 || ms > ZKV__MAX_TIMEOUT_MS)
        return zkv__fail(ZKV_EINVAL, "hedge delay must be 0..%d ms, not %d", ZKV__MAX_TIMEOUT_MS,
                         ms);
    o->hedge_ms = ms;
    return ZKV_OK;
}
