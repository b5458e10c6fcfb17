/* pcref-sync: small helpers shared by its files. */
#ifndef PCREF_SYNC_UTIL_H
#define PCREF_SYNC_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* A copy of the first `n` bytes of `s` (NUL-terminated), or NULL. */
char *util_strndup(const char *s, size_t n);

/* Now in epoch milliseconds (whole seconds: for messages), and a monotonic
 * clock in milliseconds (for intervals). */
int64_t util_now_ms(void);
int64_t util_monotonic_ms(void);

/* "2025-01-31T12:00:00Z" (or "never" for PCREF_TIME_NONE) into buf. */
const char *util_format_time(int64_t ms, char *buf, size_t size);

#endif
