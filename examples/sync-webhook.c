/*
 * sync-webhook: apply one Partner Center webhook delivery —
 * pcref_sync_handle_webhook(): verify it, drop it if it was handled before
 * (durably, through the state store), fetch the referral it names and sync
 * it to the CRM — and answer with the HTTP status libpcref asks for.
 *
 *   sync-webhook < delivery.http
 *
 * Standard input is the request as received: the request line, the
 * headers, an empty line and the body (Content-Length bytes of it, else
 * everything up to the end). The answer — an HTTP/1.1 status line and no
 * body — goes to standard output; what happened goes to standard error.
 * Configured by the environment (see sync-setup.h), plus:
 *   PCREF_WEBHOOK_TRUST_ANCHORS  PEM file of trust anchors (default: the system's)
 *   PCREF_WEBHOOK_CERT_HOST      host[:port] the signing certificate may come
 *                                from (default: Partner Center's)
 * A real receiver is a web server doing the same per request: see
 * examples/python/webhook_receiver.py, or pcref-sync's `run`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sync-setup.h"

#define MAX_REQUEST (1024 * 1024)

static void on_event(const pcref_sync_event *ev, void *payload)
{
	(void)payload;
	fprintf(stderr, "%s referral %s: %s\n", example_action_name(ev->action),
	        ev->referral_id ? ev->referral_id : "-", ev->changes ? ev->changes : ev->message ? ev->message : "");
}

/* The value of header `name` in the header block [head, end), copied; NULL if absent. */
static char *header(const char *head, const char *end, const char *name)
{
	size_t n = strlen(name);
	for (const char *line = head; line < end;) {
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		const char *stop = eol ? eol : end;
		if ((size_t)(stop - line) > n && strncasecmp(line, name, n) == 0 && line[n] == ':') {
			const char *v = line + n + 1;
			while (v < stop && (*v == ' ' || *v == '\t'))
				v++;
			while (stop > v && (stop[-1] == '\r' || stop[-1] == ' '))
				stop--;
			return strndup(v, (size_t)(stop - v));
		}
		line = stop + 1;
	}
	return NULL;
}

static int answer(int status)
{
	const char *reason = status == 200 ? "OK" : status == 400 ? "Bad Request" : status == 401 ? "Unauthorized"
	                   : status == 413 ? "Payload Too Large" : status == 503 ? "Service Unavailable"
	                                                         : "Error";
	printf("HTTP/1.1 %d %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", status, reason);
	return status == 200 ? 0 : 1;
}

int main(void)
{
	pcref_sync_options options = PCREF_SYNC_OPTIONS_INIT;
	pcref_webhook_options wo = PCREF_WEBHOOK_OPTIONS_INIT;
	pcref_webhook_delivery d = PCREF_WEBHOOK_DELIVERY_INIT;
	pcref_webhook_verifier *verifier = NULL;
	const char *hosts[2] = { getenv("PCREF_WEBHOOK_CERT_HOST"), NULL };
	static char req[MAX_REQUEST + 1];
	size_t len = fread(req, 1, MAX_REQUEST, stdin);
	char *split = strstr(req, "\r\n\r\n"), *length;
	char *auth, *sig, *cert, *alg;
	example ex;
	int rc, status;

	req[len] = '\0';
	if (!split && !(split = strstr(req, "\n\n"))) {
		fprintf(stderr, "sync-webhook: no empty line after the headers\n");
		return answer(400);
	}
	d.body = split + (split[0] == '\r' ? 4 : 2);
	d.body_len = len - (size_t)(d.body - req);
	if ((length = header(req, split, "Content-Length")) && strtoul(length, NULL, 10) < d.body_len)
		d.body_len = strtoul(length, NULL, 10);
	d.authorization = auth = header(req, split, "Authorization");
	d.x_ms_signature = sig = header(req, split, "x-ms-signature");
	d.certificate_url = cert = header(req, split, "X-MS-Certificate-Url");
	d.signature_algorithm = alg = header(req, split, "X-MS-Signature-Algorithm");

	options.on_event = on_event;
	if (example_open(&ex, &options) < 0) {
		status = 503;   /* not the sender's fault: let Partner Center retry */
	} else {
		wo.certificate_hosts = hosts[0] ? hosts : NULL;
		wo.trust_anchors_file = getenv("PCREF_WEBHOOK_TRUST_ANCHORS");
		if ((rc = pcref_webhook_verifier_new(&verifier, &wo)) < 0) {
			example_fail("webhook verifier", rc);
			status = 503;
		} else if ((rc = pcref_sync_handle_webhook(ex.sync, verifier, &d, 0, NULL)) < 0) {
			/* the status to answer: 401 forged, 400 malformed, 200 replay, 503 certificate fetch */
			status = pcref_error_last()->http_status ? pcref_error_last()->http_status : 500;
			example_fail("webhook", rc);
		} else {
			status = 200;   /* applied, already handled, or queued for retry */
		}
		pcref_webhook_verifier_free(verifier);
		example_close(&ex);
	}
	free(length);
	free(auth);
	free(sig);
	free(cert);
	free(alg);
	return answer(status);
}
