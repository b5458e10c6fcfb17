/*
 * The webhook verifier's default certificate fetch: one plain GET, without
 * credentials, through the network layer (lib/net/http.h), on a short-lived
 * connection to the certificate URL's origin. The verifier has already
 * checked the URL (https, or http to loopback; an allow-listed host) and
 * caches what it fetches, so this runs about once a day.
 */
#include <string.h>

#include "../net/http.h"
#include "webhook_internal.h"

int pcref__webhook_fetch_http(const char *url, pcref__buf *out, void *ctx)
{
	pcref_connection_options options = PCREF_CONNECTION_OPTIONS_INIT;
	pcref__http_request req;
	pcref__http_response resp = PCREF__HTTP_RESPONSE_INIT;
	pcref_connection *conn = NULL;
	const char *authority = strstr(url, "://");
	char *origin;
	int rc;
	(void)ctx;

	if (!authority)
		return pcref__error(PCREF_EINVALID, "'%.200s' is not an absolute URL", url);
	authority += 3;
	if (!(origin = pcref__strndup(url, (size_t)(authority - url) + strcspn(authority, "/?#"))))
		return pcref__error_nomem();
	options.base_url = origin;
	/* no service_name: messages then name the certificate host itself */
	options.auth = PCREF_AUTH_NONE;
	options.connect_timeout_ms = 5000;
	options.timeout_ms = 10000;
	options.retry_max = 2;
	options.retry_deadline_ms = 20000;
	options.max_response_bytes = PCREF__WEBHOOK_CERT_MAX_BYTES;
	rc = pcref_connection_new(&conn, &options);
	pcref__dealloc(origin);
	if (rc < 0)
		return rc;

	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = url;
	req.no_auth = 1;
	req.allow_any_host = 1;
	req.what = "the webhook signing certificate";
	rc = pcref__http_send(conn, &req, &resp);
	if (rc == PCREF_OK)
		rc = pcref__buf_add(out, resp.body ? resp.body : "", resp.body_len);
	pcref__http_response_dispose(&resp);
	pcref_connection_free(conn);
	return rc;
}
