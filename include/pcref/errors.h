/**
 * @file pcref/errors.h
 * @brief Error codes and the thread-local last-error record.
 * @defgroup pcref_errors Errors
 * @{
 *
 * Every libpcref function that can fail returns an `int`: #PCREF_OK (0) on
 * success, one of the negative codes below on failure. After a failure,
 * pcref_error_last() on the same thread describes what went wrong in words a
 * partner can act on, together with the HTTP status and the service's own
 * error code when a remote service refused the request.
 *
 * The codes are append-only: a code is never renumbered or removed, and new
 * codes get new, more negative numbers. Treat an unknown negative code as a
 * generic failure.
 */
#ifndef PCREF_ERRORS_H
#define PCREF_ERRORS_H

#include "common.h"

PCREF_BEGIN_DECLS

/**
 * @brief The error codes returned by libpcref functions.
 *
 * Stored and passed as `int` across the ABI; the enum only names the values.
 * @since 0.1
 */
typedef enum pcref_error_code {
	PCREF_OK = 0,             /**< Success. */
	PCREF_ERROR = -1,         /**< A failure that fits no other code. */
	PCREF_ENOMEM = -2,        /**< Out of memory. */
	PCREF_EINVALID = -3,      /**< An argument or a value is not valid (the message names it). */
	PCREF_ENOTFOUND = -4,     /**< The object asked for does not exist. */
	PCREF_EEXISTS = -5,       /**< The object to create exists already. */
	PCREF_EAUTH = -6,         /**< Credentials were refused or have expired: renew them. */
	PCREF_ECONFLICT = -7,     /**< The object changed since it was read (ETag / version mismatch). */
	PCREF_ETHROTTLED = -8,    /**< The service kept throttling until the retry budget ran out. */
	PCREF_ENETWORK = -9,      /**< The service could not be reached (DNS, connect, TLS, reset, timeout). */
	PCREF_EPROTOCOL = -10,    /**< The peer sent something malformed or unexpected. */
	PCREF_ENOTSUPPORTED = -11,/**< The operation is not supported (e.g. an optional vtable member is NULL). */
	PCREF_EVERSION = -12,     /**< A versioned struct carries a version this library does not know. */
	PCREF_EUSER = -13,        /**< A host callback failed or asked to stop. */
	PCREF_ESTATE = -14,       /**< Called at the wrong time (e.g. before pcref_init()). */
	PCREF_ESIGNATURE = -15,   /**< A webhook delivery failed signature verification. */
	PCREF_ESTORE = -16,       /**< The state store failed to read or write. */
	PCREF_ESERVICE = -17,     /**< The service failed (HTTP 5xx) and kept failing through the retries. */
	PCREF_EREPLAY = -18       /**< A webhook delivery was seen before, or is too old to trust. */
} pcref_error_code;

/** @brief Version of #pcref_error this header describes. @since 0.1 */
#define PCREF_ERROR_VERSION 1

/**
 * @brief The description of the last failure on the calling thread.
 *
 * Owned by the library and valid until the next libpcref call on the same
 * thread that fails, or until pcref_error_clear(). Copy what you need to keep.
 * Fields may be appended in later versions; `version` says which exist.
 * @since 0.1
 */
typedef struct pcref_error {
	unsigned int version;      /**< #PCREF_ERROR_VERSION of the library that filled it. */
	int code;                  /**< A #pcref_error_code, or #PCREF_OK when nothing failed. */
	int http_status;           /**< HTTP status of the failed request, 0 when none; after pcref_webhook_verify(), the status to answer the delivery with. */
	const char *message;       /**< What failed and what to do; never NULL (empty when code is #PCREF_OK). */
	const char *service_code;  /**< The service's error code (e.g. `preconditionFailed`), never NULL, may be empty. */
	const char *service_inner_code; /**< The service's inner error code (e.g. `99918`), never NULL, may be empty. */
} pcref_error;

/**
 * @brief Describe the last failure on this thread.
 * @return never NULL; see #pcref_error for the lifetime.
 * @since 0.1
 */
PCREF_API const pcref_error *pcref_error_last(void);

/**
 * @brief Forget the last failure on this thread (pcref_error_last() then reports #PCREF_OK).
 * @since 0.1
 */
PCREF_API void pcref_error_clear(void);

/**
 * @brief A short, static, English description of an error code.
 * @param code a #pcref_error_code (any int is accepted)
 * @return never NULL; static text, e.g. `"credentials refused or expired"`.
 * @since 0.1
 */
PCREF_API const char *pcref_strerror(int code);

/**
 * @brief Record a failure for the caller to find in pcref_error_last()
 *        (for backend and store implementors and other host callbacks).
 * @param code a negative #pcref_error_code.
 * @param message what failed and what to do (copied; NULL for none).
 * @return `code`, so a member can `return pcref_error_set(...)`.
 * @since 0.1
 */
PCREF_API int pcref_error_set(int code, const char *message);

PCREF_END_DECLS

/** @} */
#endif /* PCREF_ERRORS_H */
