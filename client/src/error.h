/* error.h: the error convention inside libzkv. Internal functions return a ZKV_* code and
 * write their reason into a caller's buffer (char *err, size_t errlen); only the public
 * entry points publish a reason as the thread's last error (zkv__fail), so retries inside
 * a call never leak a message of an attempt that was later repaired. */
#ifndef ZKV_CLIENT_ERROR_H
#define ZKV_CLIENT_ERROR_H
#include <stddef.h>

#define ZKV__ERR_MAX 512

/* Sets the calling thread's last error to the formatted reason; returns code. */
int zkv__fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Empties the calling thread's last error (at the start of each public call). */
void zkv__clear_error(void);
/* snprintf into err (when err is non-NULL); returns code. */
int zkv__err(int code, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
