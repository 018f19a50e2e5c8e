/* error.c: status code names, the thread-local last error and small library-wide
 * functions (zkv_free, zkv_version_string). The last error is per thread so a client
 * shared by many threads still reports each thread's own failure. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "zkv/zkv.h"
#include "error.h"

#ifndef ZKV_VERSION
#define ZKV_VERSION "0.0.0"
#endif

static _Thread_local char last_error[ZKV__ERR_MAX];

const char *zkv_strerror(int code)
{
    switch (code) {
    case ZKV_OK:
        return "ZKV_OK: success";
    case ZKV_ENOTFOUND:
        return "ZKV_ENOTFOUND: key not found";
    case ZKV_ENOTOWNER:
        return "ZKV_ENOTOWNER: routing did not settle (no node accepted the key)";
    case ZKV_EUNAVAILABLE:
        return "ZKV_EUNAVAILABLE: range has no serving owner";
    case ZKV_ETOOLARGE:
        return "ZKV_ETOOLARGE: key or value too large";
    case ZKV_EBADREQUEST:
        return "ZKV_EBADREQUEST: request refused as malformed";
    case ZKV_ETIMEOUT:
        return "ZKV_ETIMEOUT: timed out";
    case ZKV_EINTERNAL:
        return "ZKV_EINTERNAL: node internal error";
    case ZKV_ECONNECT:
        return "ZKV_ECONNECT: node unreachable";
    case ZKV_EZOOKEEPER:
        return "ZKV_EZOOKEEPER: ZooKeeper unreachable or unreadable";
    case ZKV_ENOCLUSTER:
        return "ZKV_ENOCLUSTER: no such cluster";
    case ZKV_ENOMEM:
        return "ZKV_ENOMEM: out of memory";
    case ZKV_EINVAL:
        return "ZKV_EINVAL: invalid argument";
    case ZKV_EPROTOCOL:
        return "ZKV_EPROTOCOL: protocol error";
    case ZKV_EAUTH:
        return "ZKV_EAUTH: authentication failed";
    case ZKV_ECONDITION:
        return "ZKV_ECONDITION: condition failed";
    default:
        return "ZKV_E?: unknown status code";
    }
}

const char *zkv_last_error(void)
{
    return last_error;
}

void zkv_free(void *p)
{
    free(p);
}

const char *zkv_version_string(void)
{
    return ZKV_VERSION;
}

int zkv__fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return code;
}

void zkv__clear_error(void)
{
    last_error[0] = '\0';
}

int zkv__err(int code, char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}
