/* wait.h: bounded polling. Tests never sleep a fixed time hoping something happened:
 * they poll a condition with a deadline. */
#ifndef ZKT_WAIT_H
#define ZKT_WAIT_H
#include <stdbool.h>

#define ZKT_POLL_MS 20

/* Calls cond(arg) every ~20 ms until it returns true (returns true) or timeout_ms has
 * passed (returns false, after one last try). */
bool zkt_wait_for(bool (*cond)(void *), void *arg, int timeout_ms);
/* Sleeps ms milliseconds; only for poll intervals and pacing, never to wait for an event. */
void zkt_pause_ms(int ms);

#endif
