/*
 * Internal helpers shared by every layer of libpcref: allocation through the
 * host's allocator, the thread-local error record, a growable byte buffer.
 * Nothing here is exported (names are pcref__*, visibility hidden).
 */
#ifndef PCREF_CORE_INTERNAL_H
#define PCREF_CORE_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "pcref/errors.h"
#include "pcref/global.h"

#if defined(__GNUC__)
#  define PCREF__PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#  define PCREF__WARN_UNUSED __attribute__((warn_unused_result))
#else
#  define PCREF__PRINTF(fmt, args)
#  define PCREF__WARN_UNUSED
#endif

#define PCREF__ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- allocation (lib/core/alloc.c) ------------------------------------ */
void *pcref__malloc(size_t size);
void *pcref__calloc(size_t n, size_t size);
void *pcref__realloc(void *ptr, size_t size);
/* Grow an array of n elements of `size` bytes to hold at least `need`. */
int pcref__grow(void **array, size_t *cap, size_t need, size_t size) PCREF__WARN_UNUSED;
void pcref__dealloc(void *ptr);
char *pcref__strdup(const char *s);
char *pcref__strndup(const char *s, size_t len);
/* Whether pcref_init() has been called and not undone. */
int pcref__initialised(void);

/* ---- library-wide set-up of the network layer (lib/net/connection.c) -- */
/* libcurl's global state: called by pcref_init() on the first initialisation
 * and by pcref_shutdown() on the last, under the init lock (libcurl counts
 * its own initialisations, so a host using libcurl too is not disturbed).
 * Kept behind these two so lib/core includes nothing of libcurl. */
int pcref__net_global_init(void);
void pcref__net_global_cleanup(void);

/* ---- errors (lib/core/error.c) ---------------------------------------- */
/* Record a failure on this thread and return `code`, so callers can write
 * `return pcref__error(PCREF_EINVALID, "...")`. */
int pcref__error(int code, const char *fmt, ...) PCREF__PRINTF(2, 3);
int pcref__error_v(int code, const char *fmt, va_list ap) PCREF__PRINTF(2, 0);
/* The same with a remote service's answer attached. */
int pcref__error_http(int code, int http_status, const char *service_code,
                      const char *service_inner_code, const char *fmt, ...)
	PCREF__PRINTF(5, 6);
/* Prefix the current message with "<context>: " (for nested failures). */
int pcref__error_prefix(int code, const char *fmt, ...) PCREF__PRINTF(2, 3);
/* Out-of-memory, with a fixed message (allocates nothing). */
int pcref__error_nomem(void);

/* ---- growable buffer (lib/core/buf.c) ---------------------------------- */
typedef struct pcref__buf {
	char *data;   /* always NUL-terminated once anything was added */
	size_t len;
	size_t cap;
	int failed;   /* an allocation failed: further appends are ignored */
} pcref__buf;

#define PCREF__BUF_INIT { NULL, 0, 0, 0 }

int pcref__buf_add(pcref__buf *buf, const char *data, size_t len);
int pcref__buf_puts(pcref__buf *buf, const char *s);
int pcref__buf_putc(pcref__buf *buf, char c);
int pcref__buf_printf(pcref__buf *buf, const char *fmt, ...) PCREF__PRINTF(2, 3);
/* Hand the bytes to the caller (NUL-terminated; "" when empty) and reset.
 * Returns PCREF_ENOMEM (error recorded) if any append failed. */
int pcref__buf_detach(pcref__buf *buf, char **out, size_t *len);
void pcref__buf_dispose(pcref__buf *buf);

/* ---- time (lib/core/time.c) -------------------------------------------- */
/* "No time": returned for absent or null date-times. */
#define PCREF__TIME_NONE INT64_MIN
/* Parse ISO 8601 "YYYY-MM-DD[THH:MM[:SS[.fffffff]]][Z|±HH:MM|±HHMM]" (a
 * missing offset is UTC) into epoch milliseconds. PCREF_EINVALID on error. */
int pcref__time_parse(const char *text, int64_t *ms);
/* Format as "YYYY-MM-DDTHH:MM:SSZ", or with ".mmm" when ms % 1000 != 0.
 * `out` must hold PCREF__TIME_BUFSZ bytes. */
#define PCREF__TIME_BUFSZ 32
int pcref__time_format(int64_t ms, char *out);
/* Format as an HTTP-date (RFC 9110 IMF-fixdate, "Tue, 10 Aug 2015 00:00:00
 * GMT"; the milliseconds are dropped) into PCREF__TIME_BUFSZ bytes. */
int pcref__time_format_http(int64_t ms, char *out);
/* The wall clock in epoch milliseconds. */
int64_t pcref__now_ms(void);

#endif /* PCREF_CORE_INTERNAL_H */
