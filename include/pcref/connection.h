/**
 * @file pcref/connection.h
 * @brief The Connection handle: an authenticated HTTPS endpoint (Partner
 *        Center, a CRM) with token management, retries, limits and counters.
 * @defgroup pcref_connection Connection
 * @{
 *
 * Partner Center and every CRM backend talk through a #pcref_connection. It
 * owns the token (fetched from an OAuth2 endpoint, given, or supplied by the
 * host), retries what is safe to retry, honours `Retry-After`, reuses
 * connections (keep-alive), and counts what it did.
 *
 * **Security defaults.** TLS certificates are verified. Plain `http://` is
 * accepted only for loopback addresses (127.0.0.0/8, `::1`, `localhost`) —
 * the local emulators — and so is turning verification off. Secrets (client
 * secret, password, tokens) are never written to error messages.
 *
 * A connection is reference-counted internally: objects built on it (a
 * Partner Center client, a CRM backend) keep it alive, so it may be freed
 * before them.
 */
#ifndef PCREF_CONNECTION_H
#define PCREF_CONNECTION_H

#include "common.h"

PCREF_BEGIN_DECLS

/** @brief An authenticated HTTP endpoint (opaque). @since 0.1 */
typedef struct pcref_connection pcref_connection;

/** @name Authentication kinds (pcref_connection_options::auth)
 * @{ */
/** @brief No Authorization header (emulators' control API, public URLs). @since 0.1 */
#define PCREF_AUTH_NONE 0
/** @brief A fixed bearer token (pcref_connection_options::token). @since 0.1 */
#define PCREF_AUTH_STATIC 1
/**
 * @brief OAuth2 resource-owner password grant, as the Referrals API documents
 *        (`grant_type=password`, `resource=https://api.partner.microsoft.com`).
 * @since 0.1
 */
#define PCREF_AUTH_PASSWORD 2
/** @brief OAuth2 refresh-token grant (pcref_connection_options::refresh_token). @since 0.1 */
#define PCREF_AUTH_REFRESH_TOKEN 3
/**
 * @brief OAuth2 client-credentials grant (Dataverse, Salesforce, the Partner
 *        Center webhook API).
 * @since 0.1
 */
#define PCREF_AUTH_CLIENT_CREDENTIALS 4
/** @brief The host supplies tokens through pcref_connection_options::token_cb. @since 0.1 */
#define PCREF_AUTH_CALLBACK 5
/** @} */

/** @brief Flag for #pcref_token_cb: the last token was refused (401); fetch a new one. @since 0.1 */
#define PCREF_TOKEN_REFRESH 1u

/**
 * @brief A host-supplied token provider (#PCREF_AUTH_CALLBACK).
 * @param buf where to write the bearer token (NUL-terminated, without "Bearer ").
 * @param size the size of `buf` (16 KiB).
 * @param[out] expires_at epoch milliseconds when the token expires, or 0 when unknown.
 * @param flags #PCREF_TOKEN_REFRESH when the previous token was refused.
 * @param payload pcref_connection_options::token_payload.
 * @return 0, or non-zero when no token can be had (reported as #PCREF_EAUTH).
 * @since 0.1
 */
typedef int (*pcref_token_cb)(char *buf, size_t size, int64_t *expires_at, uint32_t flags, void *payload);

/** @brief Version of #pcref_connection_options this header describes. @since 0.1 */
#define PCREF_CONNECTION_OPTIONS_VERSION 1

/**
 * @brief How to reach and authenticate to a service. Copied by
 *        pcref_connection_new(); strings may be freed afterwards.
 *
 * Zero means "the default" for every numeric member.
 * @since 0.1
 */
typedef struct pcref_connection_options {
	unsigned int version;        /**< #PCREF_CONNECTION_OPTIONS_VERSION. */
	const char *base_url;        /**< e.g. `https://api.partner.microsoft.com`; paths are appended to it. Required. */
	const char *service_name;    /**< Used in messages ("Partner Center", "Dynamics 365"); default: the URL's host. */
	int32_t auth;                /**< One of the `PCREF_AUTH_*` kinds. */
	const char *token;           /**< #PCREF_AUTH_STATIC: the bearer token. */
	const char *token_url;       /**< OAuth2 token endpoint, e.g. `https://login.microsoftonline.com/common/oauth2/token`. */
	const char *client_id;       /**< OAuth2 client (application) id. */
	const char *client_secret;   /**< OAuth2 client secret (never logged). */
	const char *username;        /**< #PCREF_AUTH_PASSWORD: the Referrals admin user. */
	const char *password;        /**< #PCREF_AUTH_PASSWORD: its password (never logged). */
	const char *refresh_token;   /**< #PCREF_AUTH_REFRESH_TOKEN. */
	const char *resource;        /**< v1 endpoints: `resource`, e.g. `https://api.partner.microsoft.com`. */
	const char *scope;           /**< v2 endpoints: `scope`, e.g. `https://ORG.crm.dynamics.com/.default`. */
	pcref_token_cb token_cb;     /**< #PCREF_AUTH_CALLBACK. */
	void *token_payload;         /**< Passed to token_cb. */
	int32_t connect_timeout_ms;  /**< Per attempt; default 10000. */
	int32_t timeout_ms;          /**< Per attempt, whole transfer; default 60000. */
	int32_t retry_max;           /**< Attempts per call including the first; default 5. */
	int32_t retry_deadline_ms;   /**< Total time one call may take with its retries; default 120000. */
	int32_t retry_base_ms;       /**< First backoff delay (doubled per attempt, jittered); default 500. */
	int32_t retry_after_max_ms;  /**< Longest Retry-After honoured; longer → #PCREF_ETHROTTLED at once; default 60000. */
	int32_t verify_tls;          /**< 0 or 1: verify TLS certificates (default); -1: do not — refused unless the host is loopback. */
	const char *ca_file;         /**< PEM bundle of trust anchors instead of the system's. */
	const char *ca_path;         /**< Directory of trust anchors instead of the system's. */
	const char *proxy;           /**< Proxy URL (libcurl syntax); default: the environment's. */
	int64_t max_response_bytes;  /**< Larger responses fail with #PCREF_EPROTOCOL; default 64 MiB. */
} pcref_connection_options;

/** @brief Initialiser for #pcref_connection_options (all defaults). @since 0.1 */
#define PCREF_CONNECTION_OPTIONS_INIT { PCREF_CONNECTION_OPTIONS_VERSION, NULL, NULL, 0, NULL, NULL, \
	NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, 0, 0, 0, 0, 0, NULL, NULL, NULL, 0 }

/**
 * @brief Initialise options at run time (for bindings such as ctypes).
 * @param options the struct to zero and stamp with `version`.
 * @param version #PCREF_CONNECTION_OPTIONS_VERSION of the caller's headers.
 * @return #PCREF_OK, #PCREF_EINVALID, #PCREF_EVERSION.
 * @since 0.1
 */
PCREF_API int pcref_connection_options_init(pcref_connection_options *options, unsigned int version);

/**
 * @brief Create a connection. No network traffic happens until the first request.
 * @param[out] out the connection; free with pcref_connection_free().
 * @param options how to connect (copied).
 * @return #PCREF_OK; #PCREF_EINVALID naming the bad or missing option
 *         (e.g. `http://` to a non-loopback host, a grant without its
 *         credentials); #PCREF_EVERSION; #PCREF_ESTATE before pcref_init().
 * @since 0.1
 */
PCREF_API int pcref_connection_new(pcref_connection **out, const pcref_connection_options *options);

/**
 * @brief Release the caller's reference. Objects built on the connection
 *        keep it alive until they are freed. NULL is ignored.
 * @since 0.1
 */
PCREF_API void pcref_connection_free(pcref_connection *conn);

/** @brief The base URL the connection was created with (borrowed). @since 0.1 */
PCREF_API const char *pcref_connection_base_url(const pcref_connection *conn);

/** @brief Version of #pcref_connection_stats this header describes. @since 0.1 */
#define PCREF_CONNECTION_STATS_VERSION 1

/**
 * @brief What a connection did since it was created (or last reset).
 *
 * Requests to the token endpoint are counted in `token_requests` only (and
 * in `connections_opened` when they needed a new connection); every other
 * counter is about the service's own requests.
 * @since 0.1
 */
typedef struct pcref_connection_stats {
	unsigned int version;        /**< Set by the caller to #PCREF_CONNECTION_STATS_VERSION. */
	uint64_t calls;              /**< Logical calls (a call and its retries count once). */
	uint64_t requests;           /**< HTTP requests sent, retries included (token requests excluded). */
	uint64_t retries;            /**< Requests that were retries. */
	uint64_t token_requests;     /**< Requests to the token endpoint. */
	uint64_t bytes_sent;         /**< Request body bytes. */
	uint64_t bytes_received;     /**< Response body bytes. */
	uint64_t responses_2xx;      /**< Responses by class... */
	uint64_t responses_3xx;      /**< ... */
	uint64_t responses_4xx;      /**< ... (429 included) */
	uint64_t responses_5xx;      /**< ... */
	uint64_t throttled;          /**< 429 and 503 responses. */
	uint64_t transport_errors;   /**< Attempts that failed below HTTP (connect, TLS, reset, timeout). */
	uint64_t connections_opened; /**< New TCP/TLS connections (the rest reused keep-alive ones). */
} pcref_connection_stats;

/**
 * @brief Read the counters.
 * @param conn the connection.
 * @param[in,out] stats `version` set by the caller; the fields that version
 *        has are filled.
 * @return #PCREF_OK, #PCREF_EINVALID, #PCREF_EVERSION.
 * @since 0.1
 */
PCREF_API int pcref_connection_stats_get(const pcref_connection *conn, pcref_connection_stats *stats);

/** @brief Set every counter back to zero. @since 0.1 */
PCREF_API void pcref_connection_stats_reset(pcref_connection *conn);

/**
 * @brief Forget the cached token, so the next request fetches a new one
 *        (after the host rotated credentials, for instance).
 * @since 0.1
 */
PCREF_API void pcref_connection_token_invalidate(pcref_connection *conn);

PCREF_END_DECLS

/** @} */
#endif /* PCREF_CONNECTION_H */
