/*
 * The HTTP layer under every service client (Partner Center, Dataverse,
 * Salesforce, certificate fetches): one call = one logical request, with
 * authentication, retries, limits and counters handled here. Nothing above
 * this layer knows about libcurl.
 */
#ifndef PCREF_NET_HTTP_H
#define PCREF_NET_HTTP_H

#include "pcref/connection.h"
#include "../core/internal.h"

/* Body sink for streamed responses: called with each chunk of a 2xx body;
 * non-zero stops the transfer and is returned by pcref__http_send. */
typedef int (*pcref__http_sink)(const char *data, size_t len, void *payload);

typedef struct pcref__http_request {
	const char *method;             /* "GET", "POST", "PATCH", "PUT", "DELETE" */
	const char *url;                /* "/path?query" (appended to the base URL) or absolute
	                                   (must then share the base URL's scheme+host+port, or
	                                   allow_any_host must be set) */
	const char *const *headers;     /* NULL-terminated "Name: value" lines, or NULL */
	const char *body;               /* request body or NULL */
	size_t body_len;
	const char *content_type;       /* default "application/json" when a body is given */
	int retry_unsafe;               /* the caller proves a repeated POST/PATCH cannot duplicate
	                                   (e.g. idempotency key); GET/HEAD/PUT/DELETE are retried
	                                   anyway. Requests never sent (connect failure, 429, 503)
	                                   are retried whatever the method. */
	int no_auth;                    /* send no Authorization header */
	int allow_any_host;             /* absolute URL may point elsewhere (certificate fetches) */
	pcref__http_sink sink;          /* stream a 2xx body here instead of buffering it */
	void *sink_payload;
	const char *what;               /* names the call in messages: "listing referrals" */
} pcref__http_request;

typedef struct pcref__http_header {
	char *name;                     /* as received */
	char *value;                    /* trimmed */
} pcref__http_header;

typedef struct pcref__http_response {
	int status;                     /* final HTTP status, 0 when none */
	char *body;                     /* NUL-terminated; NULL when streamed to a sink */
	size_t body_len;
	pcref__http_header *headers;    /* of the final response */
	size_t header_count;
} pcref__http_response;

#define PCREF__HTTP_RESPONSE_INIT { 0, NULL, 0, NULL, 0 }

/*
 * Send one logical request. Returns PCREF_OK for a 2xx. Otherwise returns the
 * mapped code with pcref_error_last() filled (HTTP status, the service's
 * error code/message parsed from any of the known error bodies), and `resp`
 * still holds the final status and body so callers can look closer:
 *   400, 422 → EINVALID   401 → EAUTH (after one token refresh)   403 → EAUTH
 *   404, 410 → ENOTFOUND  409 → EEXISTS   412 → ECONFLICT
 *   429, 503 → ETHROTTLED (after the retries)   other 5xx → ESERVICE
 *   transport failures → ENETWORK   oversize or malformed → EPROTOCOL
 *   3xx → EPROTOCOL (redirects are not followed; a caller expecting 304
 *   to a conditional GET checks resp->status)   other 4xx → EINVALID
 * The caller disposes of resp in every case (resp may be NULL when the
 * answer is not needed).
 *
 * Every call sends Accept: application/json (unless req->headers has an
 * Accept), MS-CorrelationId and MS-RequestId (fresh per call, the same on
 * its retries) and client-request-id = MS-RequestId. The bearer token is
 * sent only to the base URL's origin (or the token endpoint's
 * instance_url), never to another host even with allow_any_host. Raw
 * spaces and other bytes not allowed in URLs are percent-encoded. A sink
 * only ever sees the body of a 2xx answer; error bodies are buffered into
 * resp for the message. Without req->what, messages name the call
 * "<METHOD> <path>".
 */
int pcref__http_send(pcref_connection *conn, const pcref__http_request *req,
                     pcref__http_response *resp);
void pcref__http_response_dispose(pcref__http_response *resp);
/* Case-insensitive lookup in the final response's headers; NULL if absent. */
const char *pcref__http_header_get(const pcref__http_response *resp, const char *name);

/* Percent-encode for a query string value (RFC 3986 unreserved kept). */
int pcref__http_url_escape(pcref__buf *buf, const char *s);

/* Reference counting for objects built on a connection: take a reference
 * with pcref__connection_ref() and drop it with pcref_connection_free()
 * (the last reference, whoever holds it, frees the connection). */
pcref_connection *pcref__connection_ref(pcref_connection *conn);
/* The connection's service name for messages ("Partner Center"). */
const char *pcref__connection_service(const pcref_connection *conn);
/* The `instance_url` the token endpoint returned with the last token
 * (Salesforce names the instance API calls go to), or NULL. Absolute URLs on
 * that origin are treated like the base URL's (the token is sent there).
 * Borrowed; valid until the next token is fetched. */
const char *pcref__connection_instance_url(const pcref_connection *conn);
/* Make sure a token is cached, fetching one if needed (e.g. to learn the
 * instance URL before the first request). `what` names the operation in
 * messages. PCREF_OK for PCREF_AUTH_NONE. */
int pcref__connection_authenticate(pcref_connection *conn, const char *what);

/* Check a URL another party will be given (a webhook URL): https://, or
 * http:// to a loopback host. EINVALID naming `what` otherwise. */
int pcref__http_url_check(const char *url, const char *what);

/* A link a service handed back (an OData next-page link), made safe to
 * follow on this connection: it must name the connection's host; its path
 * and query are kept and the connection's own scheme and port are used (a
 * documented next link says http://). EPROTOCOL otherwise; *out to free. */
int pcref__http_follow_link(pcref_connection *conn, const char *link, char **out);

/* Milliseconds of a monotonic clock (for pauses and deadlines). */
int64_t pcref__net_mono_ms(void);

/* A random RFC 4122 version-4 GUID, lower case, in out[37]. */
void pcref__guid(char out[37]);

#endif /* PCREF_NET_HTTP_H */
