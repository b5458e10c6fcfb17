/* One logical HTTP call (pcref__http_send): the exchange on the connection's
 * libcurl handle, the retry policy, and the mapping of failures to error
 * codes and messages a partner can act on. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/json.h"
#include "net.h"

/* ---- small helpers -------------------------------------------------------------- */

static char *trim(char *s, size_t *len)
{
	while (*len && (s[0] == ' ' || s[0] == '\t')) {
		s++;
		(*len)--;
	}
	while (*len && (s[*len - 1] == ' ' || s[*len - 1] == '\t' || s[*len - 1] == '\r' ||
	                s[*len - 1] == '\n'))
		(*len)--;
	return s;
}

static int is_unsafe_method(const char *method)
{
	return strcmp(method, "POST") == 0 || strcmp(method, "PATCH") == 0;
}

static int has_header(const char *const *headers, const char *name)
{
	size_t n = strlen(name);
	for (; headers && *headers; headers++)
		if (strncasecmp(*headers, name, n) == 0 && (*headers)[n] == ':')
			return 1;
	return 0;
}

int pcref__http_url_escape(pcref__buf *buf, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
			if (pcref__buf_putc(buf, (char)c) < 0)
				return PCREF_ENOMEM;
		} else {
			char esc[3] = { '%', hex[c >> 4], hex[c & 15] };
			if (pcref__buf_add(buf, esc, 3) < 0)
				return PCREF_ENOMEM;
		}
	}
	/* an empty value still leaves a buffer to read */
	return pcref__buf_add(buf, "", 0);
}

/* ---- one exchange ----------------------------------------------------------------- */

static void free_headers(pcref__http_header *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		pcref__dealloc(h[i].name);
		pcref__dealloc(h[i].value);
	}
	pcref__dealloc(h);
}

void pcref__net_exchange_reset(pcref__net_exchange *x)
{
	pcref__buf_dispose(&x->body_buf);
	free_headers(x->resp_headers, x->header_count);
	x->resp_headers = NULL;
	x->header_count = 0;
	x->result = CURLE_OK;
	x->errbuf[0] = '\0';
	x->status = 0;
	x->received = x->sink_bytes = 0;
	x->oversize = x->nomem = x->sink_rc = 0;
}

const char *pcref__net_exchange_header(const pcref__net_exchange *x, const char *name)
{
	for (size_t i = x->header_count; i-- > 0;)
		if (strcasecmp(x->resp_headers[i].name, name) == 0)
			return x->resp_headers[i].value;
	return NULL;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
	pcref__net_exchange *x = ud;
	size_t len = size * nmemb, nlen, vlen;
	char *colon, *name, *value;
	pcref__http_header *grown;

	if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		/* a new response (after 100 Continue or a 1xx): start over */
		free_headers(x->resp_headers, x->header_count);
		x->resp_headers = NULL;
		x->header_count = 0;
		return len;
	}
	colon = memchr(data, ':', len);
	if (!colon || x->header_count >= PCREF__NET_MAX_HEADERS)
		return len;
	nlen = (size_t)(colon - data);
	vlen = len - nlen - 1;
	name = trim(data, &nlen);
	value = trim(colon + 1, &vlen);
	if (!nlen)
		return len;
	grown = pcref__realloc(x->resp_headers, (x->header_count + 1) * sizeof(*grown));
	if (!grown) {
		x->nomem = 1;
		return 0;
	}
	x->resp_headers = grown;
	grown[x->header_count].name = pcref__strndup(name, nlen);
	grown[x->header_count].value = pcref__strndup(value, vlen);
	if (!grown[x->header_count].name || !grown[x->header_count].value) {
		pcref__dealloc(grown[x->header_count].name);
		pcref__dealloc(grown[x->header_count].value);
		x->nomem = 1;
		return 0;
	}
	x->header_count++;
	return len;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
	pcref__net_exchange *x = ud;
	size_t len = size * nmemb;
	long status = 0;

	x->received += len;
	if (!x->token_request)
		x->conn->stats.bytes_received += len;
	if ((int64_t)x->received > x->conn->max_response_bytes) {
		x->oversize = 1;
		return 0;   /* != len: libcurl stops with CURLE_WRITE_ERROR */
	}
	curl_easy_getinfo(x->conn->easy, CURLINFO_RESPONSE_CODE, &status);
	if (x->sink && status >= 200 && status < 300) {
		int rc = x->sink(data, len, x->sink_payload);
		x->sink_bytes += len;
		if (rc != 0) {
			x->sink_rc = rc;
			return 0;
		}
		return len;
	}
	if (pcref__buf_add(&x->body_buf, data, len) < 0) {
		x->nomem = 1;
		return 0;
	}
	return len;
}

static void set_common_options(pcref_connection *c, pcref__net_exchange *x)
{
	CURL *e = c->easy;
	int64_t total = x->timeout_ms > 0 ? x->timeout_ms : 1;
	int64_t connect = c->connect_timeout_ms < total ? c->connect_timeout_ms : total;

	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_URL, x->url);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)connect);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)total);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, c->verify_tls ? 1L : 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, c->verify_tls ? 2L : 0L);
	if (c->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
	if (c->ca_path)
		curl_easy_setopt(e, CURLOPT_CAPATH, c->ca_path);
	if (c->proxy)
		curl_easy_setopt(e, CURLOPT_PROXY, c->proxy);
	else if (x->loopback)
		curl_easy_setopt(e, CURLOPT_PROXY, "");   /* a proxy cannot reach our loopback */
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_response_bytes);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	if (x->fresh_connect) {
#if LIBCURL_VERSION_NUM >= 0x081000
		curl_easy_setopt(e, CURLOPT_FORBID_RETRY_ON_REUSE, 1L);
#else
		/* libcurl before 8.16 resends a request whose reused connection
		 * closed before any answer, whatever the method: a POST must not be
		 * repeated behind our back, so it gets a connection of its own. */
		curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
#endif
	}
}

int pcref__net_exchange_run(pcref_connection *c, pcref__net_exchange *x)
{
	CURL *e = c->easy;
	long status = 0, connects = 0;
	curl_off_t uploaded = 0;

	pcref__net_exchange_reset(x);
	x->conn = c;
	curl_easy_reset(e);   /* options only: live connections stay cached */
	set_common_options(c, x);

	if (strcmp(x->method, "GET") == 0 && !x->body) {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(x->method, "HEAD") == 0) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else {
		if (strcmp(x->method, "POST") != 0)
			curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, x->method);
		if (x->body || strcmp(x->method, "DELETE") != 0) {
			/* a body, or Content-Length: 0 for POST/PUT/PATCH without one */
			curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(x->body ? x->body_len : 0));
			curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body ? x->body : "");
		}
	}
	if (x->bearer) {
		curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
		curl_easy_setopt(e, CURLOPT_XOAUTH2_BEARER, x->bearer);
	}
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);

	x->result = curl_easy_perform(e);

	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &connects);
	curl_easy_getinfo(e, CURLINFO_SIZE_UPLOAD_T, &uploaded);
	if (connects > 0)
		c->stats.connections_opened += (uint64_t)connects;
	if (uploaded > 0 && !x->token_request)
		c->stats.bytes_sent += (uint64_t)uploaded;
	/* do not keep the token, the form or pointers into our stack in the handle */
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(e, CURLOPT_XOAUTH2_BEARER, NULL);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, NULL);
	x->status = (int)status;
	if (x->result == CURLE_OK)
		return 0;
	/* a response whose body we stopped on purpose still has its status */
	x->status = (x->oversize || x->sink_rc || x->nomem || x->result == CURLE_FILESIZE_EXCEEDED)
	            ? (int)status : 0;
	return -1;
}

/* ---- Retry-After ---------------------------------------------------------------- */

int64_t pcref__net_retry_after_ms(const char *value, int64_t now_wall_ms)
{
	size_t len;
	char buf[64];
	const char *s;
	time_t when;

	if (!value)
		return -1;
	len = strlen(value);
	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, value, len + 1);
	s = trim(buf, &len);
	buf[(size_t)(s - buf) + len] = '\0';
	if (!len)
		return -1;
	if (strspn(s, "0123456789") == len) {
		/* delta-seconds; anything above a day is as good as a day */
		int64_t secs = len > 6 ? 86400 : strtoll(s, NULL, 10);
		return (secs > 86400 ? 86400 : secs) * 1000;
	}
	when = curl_getdate(s, NULL);
	if (when == (time_t)-1)
		return -1;
	if ((int64_t)when * 1000 <= now_wall_ms)
		return 0;
	return (int64_t)when * 1000 - now_wall_ms;
}

/* ---- the retry policy --------------------------------------------------------------- */

static int transport_not_sent(CURLcode rc)
{
	return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
	       rc == CURLE_COULDNT_RESOLVE_PROXY;
}

static int transport_transient(CURLcode rc)
{
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_AGAIN:
		return 1;
	default:
		return 0;
	}
}

static int64_t backoff_ms(const pcref_connection *c, int attempt)
{
	int64_t step = c->retry_base_ms;
	for (int i = 1; i < attempt && step < PCREF__NET_BACKOFF_CAP_MS; i++)
		step *= 2;
	if (step > PCREF__NET_BACKOFF_CAP_MS)
		step = PCREF__NET_BACKOFF_CAP_MS;
	return (int64_t)pcref__net_random_upto((uint64_t)step);   /* full jitter */
}

void pcref__net_decide(const pcref_connection *c, const pcref__net_exchange *x, int unsafe,
                       int attempt, pcref__net_verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->retry_after_ms = -1;
	if (x->result != CURLE_OK || x->status == 0) {
		if (x->oversize || x->nomem || x->sink_rc || x->sink_bytes)
			return;
		if (transport_not_sent(x->result) || (transport_transient(x->result) && !unsafe)) {
			v->retryable = 1;
			v->wait_ms = backoff_ms(c, attempt);
		}
		return;
	}
	switch (x->status) {
	case 429:
	case 503:
		/* not processed: any method may be repeated */
		v->retryable = 1;
		v->retry_after_ms = pcref__net_retry_after_ms(pcref__net_exchange_header(x, "Retry-After"),
		                                              pcref__net_wall_ms());
		if (v->retry_after_ms > c->retry_after_max_ms) {
			v->retryable = 0;
			v->too_long = 1;
		}
		v->wait_ms = v->retry_after_ms >= 0 ? v->retry_after_ms : backoff_ms(c, attempt);
		return;
	case 500:
	case 502:
	case 504:
		if (!unsafe) {
			v->retryable = 1;
			v->wait_ms = backoff_ms(c, attempt);
		}
		return;
	default:
		return;
	}
}

/* ---- the service's error bodies ---------------------------------------------------------- */

/* Copy one line of text: control characters become spaces, AAD's
 * "\r\nTrace ID: ..." tail is cut, long text ends with "...". */
static void copy_text(char *dst, size_t cap, const char *src, int first_line)
{
	size_t o = 0;
	if (!src) {
		dst[0] = '\0';
		return;
	}
	for (; *src && o + 1 < cap; src++) {
		unsigned char ch = (unsigned char)*src;
		if ((ch == '\r' || ch == '\n') && first_line)
			break;
		dst[o++] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
	}
	if (*src && !(first_line && (*src == '\r' || *src == '\n')) && cap > 4) {
		/* truncated: do not leave half a UTF-8 sequence */
		while (o > 0 && ((unsigned char)dst[o - 1] & 0xc0) == 0x80)
			o--;
		if (o > 0 && ((unsigned char)dst[o - 1] & 0x80))
			o--;
		if (o > cap - 4)
			o = cap - 4;
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	while (o > 0 && dst[o - 1] == ' ')
		o--;
	dst[o] = '\0';
}

/* A string or a number member, as text. */
static void member_text(char *dst, size_t cap, const pcref__json *obj, const char *key)
{
	const pcref__json *v = obj && obj->type == PCREF__JSON_OBJECT ? pcref__json_get(obj, key) : NULL;
	if (v && (v->type == PCREF__JSON_STRING || v->type == PCREF__JSON_NUMBER))
		copy_text(dst, cap, v->u.str.text, 1);
	else
		dst[0] = '\0';
}

void pcref__net_service_error_parse(pcref__net_service_error *out, const char *body, size_t len)
{
	pcref__json *doc = NULL, *err;
	int saved_code, saved_status;
	char saved_msg[1024], saved_sc[128], saved_inner[128];
	size_t i = 0;

	memset(out, 0, sizeof(*out));
	while (i < len && isspace((unsigned char)body[i]))
		i++;
	if (!body || i == len || (body[i] != '{' && body[i] != '['))
		return;
	/* a malformed body must not replace the error being reported */
	saved_code = pcref_error_last()->code;
	saved_status = pcref_error_last()->http_status;
	snprintf(saved_msg, sizeof(saved_msg), "%s", pcref_error_last()->message);
	snprintf(saved_sc, sizeof(saved_sc), "%s", pcref_error_last()->service_code);
	snprintf(saved_inner, sizeof(saved_inner), "%s", pcref_error_last()->service_inner_code);
	if (pcref__json_parse(&doc, body, len, "error body") < 0) {
		pcref__error_http(saved_code, saved_status, saved_sc, saved_inner, "%s", saved_msg);
		return;
	}
	if (doc->type == PCREF__JSON_ARRAY) {
		/* Salesforce: [{"message","errorCode","fields":[...]}, ...] */
		pcref__json *first = doc->u.arr.len ? doc->u.arr.items[0] : NULL;
		if (first && first->type == PCREF__JSON_OBJECT) {
			pcref__json *fields = pcref__json_get(first, "fields");
			member_text(out->code, sizeof(out->code), first, "errorCode");
			if (!out->code[0])
				member_text(out->code, sizeof(out->code), first, "statusCode");
			member_text(out->message, sizeof(out->message), first, "message");
			if (fields && fields->type == PCREF__JSON_ARRAY) {
				pcref__buf names = PCREF__BUF_INIT;
				for (size_t k = 0; k < fields->u.arr.len; k++) {
					const char *f = pcref__json_string(fields->u.arr.items[k]);
					if (f)
						pcref__buf_printf(&names, "%s%s", names.len ? ", " : "", f);
				}
				if (names.data)
					copy_text(out->fields, sizeof(out->fields), names.data, 1);
				pcref__buf_dispose(&names);
			}
		}
	} else if (doc->type == PCREF__JSON_OBJECT) {
		err = pcref__json_get(doc, "error");
		if (err && err->type == PCREF__JSON_OBJECT) {
			/* Partner API / Dataverse / OData: {"error":{"code","message","innerError"}} */
			pcref__json *inner = pcref__json_get(err, "innerError");
			if (!inner)
				inner = pcref__json_get(err, "innererror");
			member_text(out->code, sizeof(out->code), err, "code");
			member_text(out->message, sizeof(out->message), err, "message");
			member_text(out->inner, sizeof(out->inner), inner, "code");
		} else if (err && err->type == PCREF__JSON_STRING) {
			/* OAuth2 (Azure AD, Salesforce): {"error","error_description","error_codes"} */
			pcref__json *codes = pcref__json_get(doc, "error_codes");
			const char *desc = pcref__json_string(pcref__json_get(doc, "error_description"));
			const char *aadsts = desc ? strstr(desc, "AADSTS") : NULL;
			member_text(out->code, sizeof(out->code), doc, "error");
			copy_text(out->message, sizeof(out->message), desc, 1);
			if (aadsts && isdigit((unsigned char)aadsts[6])) {
				size_t n = strspn(aadsts + 6, "0123456789");
				snprintf(out->inner, sizeof(out->inner), "%.*s", (int)n, aadsts + 6);
			} else if (codes && codes->type == PCREF__JSON_ARRAY && codes->u.arr.len) {
				const pcref__json *c0 = codes->u.arr.items[0];
				if (c0->type == PCREF__JSON_NUMBER || c0->type == PCREF__JSON_STRING)
					copy_text(out->inner, sizeof(out->inner), c0->u.str.text, 1);
			}
		} else if (pcref__json_get(doc, "description")) {
			/* Partner Center general: {"code","description","data","source"} */
			member_text(out->code, sizeof(out->code), doc, "code");
			member_text(out->message, sizeof(out->message), doc, "description");
		} else {
			/* throttling {"statusCode":429,"message"}, and anything with a message */
			member_text(out->message, sizeof(out->message), doc, "message");
			if (!out->message[0])
				member_text(out->message, sizeof(out->message), doc, "Message");
			member_text(out->code, sizeof(out->code), doc, "errorCode");
		}
	}
	pcref__json_free(doc);
}

static void redact_one(char *s, size_t cap, const char *secret)
{
	static const char mark[] = "[redacted]";
	size_t slen, mlen = sizeof(mark) - 1;
	char *p = s;
	if (!secret || (slen = strlen(secret)) < 4)
		return;
	while ((p = strstr(p, secret)) != NULL) {
		size_t at = (size_t)(p - s), tail = strlen(p + slen);
		if (at + mlen + 1 > cap) {
			*p = '\0';   /* no room even for the mark */
			return;
		}
		if (at + mlen + tail + 1 > cap)
			tail = 0;    /* cut after the mark: never leave a piece of the secret */
		memmove(p + mlen, p + slen, tail);
		memcpy(p, mark, mlen);
		p[mlen + tail] = '\0';
		p += mlen;       /* the mark itself may contain the secret's text */
	}
}

void pcref__net_redact(const pcref_connection *c, char *s, size_t cap)
{
	redact_one(s, cap, c->client_secret);
	redact_one(s, cap, c->password);
	redact_one(s, cap, c->refresh_token);
	redact_one(s, cap, c->static_token);
	redact_one(s, cap, c->access_token);
}

/* ---- the logical call ------------------------------------------------------------------------- */

void pcref__http_response_dispose(pcref__http_response *resp)
{
	if (!resp)
		return;
	pcref__dealloc(resp->body);
	free_headers(resp->headers, resp->header_count);
	memset(resp, 0, sizeof(*resp));
}

const char *pcref__http_header_get(const pcref__http_response *resp, const char *name)
{
	for (size_t i = resp->header_count; i-- > 0;)
		if (strcasecmp(resp->headers[i].name, name) == 0)
			return resp->headers[i].value;
	return NULL;
}

/* "scheme://..." (a relative URL may still carry "://" in its query). */
static int is_absolute(const char *u)
{
	size_t n = strspn(u, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");
	return n > 0 && isalpha((unsigned char)u[0]) && strncmp(u + n, "://", 3) == 0;
}

/* Append a URL, percent-encoding what may never appear raw in one (spaces,
 * controls, non-ASCII, "<>\\^`{|}): links the services send, such as
 * relatedReferrals' "$filter=engagementId eq <id>", carry raw spaces.
 * Existing %XX escapes are kept. */
static int append_url(pcref__buf *buf, const char *u)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *u; u++) {
		unsigned char ch = (unsigned char)*u;
		if (ch <= 0x20 || ch >= 0x7f || strchr("\"<>\\^`{|}", ch)) {
			char esc[3] = { '%', hex[ch >> 4], hex[ch & 15] };
			pcref__buf_add(buf, esc, 3);
		} else {
			pcref__buf_putc(buf, (char)ch);
		}
	}
	return buf->failed ? PCREF_ENOMEM : PCREF_OK;
}

/* Build the absolute URL; decide whether it may carry the token. */
static int resolve_url(pcref_connection *c, const pcref__http_request *req, pcref__buf *url,
                       int *same_service, int *loopback)
{
	const char *u = req->url ? req->url : "";
	if (is_absolute(u)) {
		pcref__net_url parsed;
		int rc;
		if ((rc = append_url(url, u)) < 0)
			return rc;
		if ((rc = pcref__net_url_parse(&parsed, url->data, "the request URL")) < 0)
			return rc;
		*same_service = pcref__net_url_same_origin(&parsed, &c->base) ||
		                (c->instance_origin.scheme && pcref__net_url_same_origin(&parsed, &c->instance_origin));
		*loopback = parsed.loopback;
		if (!*same_service && !req->allow_any_host) {
			rc = pcref__error(PCREF_EINVALID,
				"%s: the URL points at %s, not at %s's %s — refusing to send the request there",
				req->what ? req->what : "request", parsed.host, c->service, c->base.host);
		} else {
			rc = pcref__net_url_check_secure(&parsed, url->data, "the request URL", c->verify_tls ? 1 : -1);
		}
		pcref__net_url_dispose(&parsed);
		return rc;
	}
	*same_service = 1;
	*loopback = c->base.loopback;
	pcref__buf_puts(url, c->base_url);
	if (*u != '/')
		pcref__buf_putc(url, '/');
	return append_url(url, u);
}

static int build_headers(const pcref__http_request *req, const pcref__net_call *call,
                         struct curl_slist **out)
{
	struct curl_slist *list = NULL, *tmp;
	char line[96];
	int ok = 1;
#define ADD(s) do { if (ok && (tmp = curl_slist_append(list, (s))) != NULL) list = tmp; else ok = 0; } while (0)
	if (!has_header(req->headers, "Accept"))
		ADD("Accept: application/json");
	if (req->body && !has_header(req->headers, "Content-Type")) {
		pcref__buf ct = PCREF__BUF_INIT;
		pcref__buf_printf(&ct, "Content-Type: %s", req->content_type ? req->content_type : "application/json");
		ADD(ct.data ? ct.data : "Content-Type: application/json");
		pcref__buf_dispose(&ct);
	}
	snprintf(line, sizeof(line), "MS-CorrelationId: %s", call->correlation_id);
	ADD(line);
	snprintf(line, sizeof(line), "MS-RequestId: %s", call->request_id);
	ADD(line);
	snprintf(line, sizeof(line), "client-request-id: %s", call->request_id);
	ADD(line);
	ADD("Expect:");   /* no 100-continue round trip */
	for (const char *const *h = req->headers; h && *h; h++)
		ADD(*h);
#undef ADD
	if (!ok) {
		curl_slist_free_all(list);
		return pcref__error_nomem();
	}
	*out = list;
	return PCREF_OK;
}

static void count_response(pcref_connection *c, int status)
{
	if (status >= 200 && status < 300)
		c->stats.responses_2xx++;
	else if (status >= 300 && status < 400)
		c->stats.responses_3xx++;
	else if (status >= 400 && status < 500)
		c->stats.responses_4xx++;
	else if (status >= 500)
		c->stats.responses_5xx++;
	if (status == 429 || status == 503)
		c->stats.throttled++;
}

static void fmt_seconds(char *buf, size_t cap, int64_t ms)
{
	if (ms % 1000 == 0)
		snprintf(buf, cap, "%lld s", (long long)(ms / 1000));
	else
		snprintf(buf, cap, "%.1f s", (double)ms / 1000.0);
}

/* "(412 preconditionFailed/99918)" */
static void fmt_status(char *buf, size_t cap, int status, const pcref__net_service_error *se)
{
	if (se->code[0] && se->inner[0])
		snprintf(buf, cap, "(%d %s/%s)", status, se->code, se->inner);
	else if (se->code[0])
		snprintf(buf, cap, "(%d %s)", status, se->code);
	else
		snprintf(buf, cap, "(%d)", status);
}

int pcref__net_fail_http(pcref_connection *c, const char *svc, const char *what,
                         const pcref__net_exchange *x, const pcref__net_failure *f)
{
	pcref__net_service_error se;
	char st[300], said[700] = "", tries[120] = "", secs[32];
	int status = x->status, code;
	char msg[1024];

	pcref__net_service_error_parse(&se, x->body_buf.data, x->body_buf.len);
	fmt_status(st, sizeof(st), status, &se);
	if (se.message[0] && se.fields[0])
		snprintf(said, sizeof(said), ". %s said: %s (fields: %s)", svc, se.message, se.fields);
	else if (se.message[0])
		snprintf(said, sizeof(said), ". %s said: %s", svc, se.message);
	else if (se.fields[0])
		snprintf(said, sizeof(said), " (fields: %s)", se.fields);
	if (f->attempts > 1) {
		fmt_seconds(secs, sizeof(secs), f->elapsed_ms);
		snprintf(tries, sizeof(tries), " after %d attempts in %s", f->attempts, secs);
	}

	switch (status) {
	case 400:
	case 422:
		code = PCREF_EINVALID;
		snprintf(msg, sizeof(msg), "%s rejected %s %s: the request is not valid — correct the data it "
		         "names and send it again%s", svc, what, st, said);
		break;
	case 401:
		code = PCREF_EAUTH;
		if (!f->authed)
			snprintf(msg, sizeof(msg), "%s requires credentials for %s %s: the request was sent without "
			         "any — configure the connection's auth%s", svc, what, st, said);
		else if (pcref__net_token_renewable(c))
			snprintf(msg, sizeof(msg), "%s refused the credentials for %s %s: the token was refused "
			         "even after getting a new one — check that the account still has access to %s, "
			         "renew the credentials and update the connection%s", svc, what, st, svc, said);
		else
			snprintf(msg, sizeof(msg), "%s refused the credentials for %s %s: the token has expired or "
			         "is not valid — supply a new one and update the connection%s", svc, what, st, said);
		break;
	case 403:
		code = PCREF_EAUTH;
		snprintf(msg, sizeof(msg), "%s denied %s %s: the account lacks permission — grant it the "
		         "required role or use an account that has it%s", svc, what, st, said);
		break;
	case 404:
	case 410:
		code = PCREF_ENOTFOUND;
		snprintf(msg, sizeof(msg), "%s found nothing for %s %s: it does not exist (or was deleted) — "
		         "check the id and the base URL%s", svc, what, st, said);
		break;
	case 409:
		code = PCREF_EEXISTS;
		snprintf(msg, sizeof(msg), "%s refused %s %s: it conflicts with what exists already — look the "
		         "object up instead of creating it again%s", svc, what, st, said);
		break;
	case 412:
		code = PCREF_ECONFLICT;
		snprintf(msg, sizeof(msg), "%s rejected %s %s: it changed since it was read — re-read it and "
		         "apply the change again%s", svc, what, st, said);
		break;
	case 429:
	case 503: {
		const pcref__net_verdict *v = f->verdict;
		code = PCREF_ETHROTTLED;
		if (v && v->too_long) {
			char wait[32], max[32];
			fmt_seconds(wait, sizeof(wait), v->retry_after_ms);
			fmt_seconds(max, sizeof(max), c->retry_after_max_ms);
			snprintf(msg, sizeof(msg), "%s is throttling %s %s: it asks to wait %s (Retry-After), more "
			         "than retry_after_max_ms allows (%s) — try again after %s, or raise "
			         "retry_after_max_ms%s", svc, what, st, wait, max, wait, said);
		} else {
			snprintf(msg, sizeof(msg), "%s kept %s %s %s%s: %s — slow down or try again later%s",
			         svc, status == 429 ? "throttling" : "refusing (unavailable)", what, st, tries,
			         f->gave_up_deadline ? "the retry deadline (retry_deadline_ms) ran out"
			                             : "the retries (retry_max) ran out", said);
		}
		break;
	}
	default:
		if (status >= 500) {
			code = PCREF_ESERVICE;
			snprintf(msg, sizeof(msg), "%s failed %s %s%s: the service had an internal error — try "
			         "again later; if it persists, the service is down%s", svc, what, st, tries, said);
		} else if (status >= 400) {
			code = PCREF_EINVALID;
			snprintf(msg, sizeof(msg), "%s refused %s %s: the request is not acceptable to the service "
			         "— check the method, headers and body%s", svc, what, st, said);
		} else {
			const char *loc = pcref__net_exchange_header(x, "Location");
			code = PCREF_EPROTOCOL;
			snprintf(msg, sizeof(msg), "%s answered %s with %d%s%s: redirects are not followed — check "
			         "the base URL", svc, what, status, loc ? " to " : "", loc ? loc : "");
		}
		break;
	}
	pcref__net_redact(c, msg, sizeof(msg));
	return pcref__error_http(code, status, se.code, se.inner, "%s", msg);
}

int pcref__net_fail_transport(pcref_connection *c, const char *svc, const char *what,
                              const pcref__net_exchange *x, const pcref__net_failure *f)
{
	char detail[CURL_ERROR_SIZE + 64], tries[120] = "", secs[32], msg[1024];
	int code = PCREF_ENETWORK;

	if (x->nomem)
		return pcref__error_nomem();
	if (x->sink_rc)
		return x->sink_rc;   /* the sink recorded its own error */
	if (x->oversize || x->result == CURLE_FILESIZE_EXCEEDED) {
		return pcref__error_http(PCREF_EPROTOCOL, x->status, NULL, NULL,
			"%s sent a response larger than max_response_bytes (%lld bytes) for %s — raise "
			"max_response_bytes if such answers are expected", svc,
			(long long)c->max_response_bytes, what);
	}
	snprintf(detail, sizeof(detail), "%s", x->errbuf[0] ? x->errbuf : curl_easy_strerror(x->result));
	if (f->attempts > 1) {
		fmt_seconds(secs, sizeof(secs), f->elapsed_ms);
		snprintf(tries, sizeof(tries), " (%d attempts in %s)", f->attempts, secs);
	}
	switch (x->result) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_ISSUER_ERROR:
		snprintf(msg, sizeof(msg), "could not verify the TLS certificate of %s for %s: %s — check the "
		         "system trust store, or give the right trust anchor with ca_file or ca_path",
		         svc, what, detail);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(msg, sizeof(msg), "%s did not answer %s in time%s: %s — check the network, or raise "
		         "timeout_ms / retry_deadline_ms", svc, what, tries, detail);
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		snprintf(msg, sizeof(msg), "could not reach %s for %s%s: %s — check the base URL, the network "
		         "and the proxy settings", svc, what, tries, detail);
		break;
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_BAD_CONTENT_ENCODING:
		code = PCREF_EPROTOCOL;
		snprintf(msg, sizeof(msg), "%s sent something that is not valid HTTP for %s: %s — check the "
		         "base URL", svc, what, detail);
		break;
	default:
		if (x->sink_bytes)
			snprintf(msg, sizeof(msg), "the connection to %s broke while receiving %s: %s — the "
			         "response was partly delivered, so it is not repeated; run the call again",
			         svc, what, detail);
		else
			snprintf(msg, sizeof(msg), "the connection to %s failed during %s%s: %s — check the "
			         "network; the request %s", svc, what, tries, detail,
			         f->attempts > 1 ? "was retried" : "was not repeated because it may have taken effect");
		break;
	}
	pcref__net_redact(c, msg, sizeof(msg));
	return pcref__error(code, "%s", msg);
}

static int move_to_response(pcref__net_exchange *x, pcref__http_response *resp)
{
	char *body = NULL;
	size_t len = 0;
	resp->status = x->status;
	if (!x->sink || x->status < 200 || x->status >= 300) {
		if (pcref__buf_detach(&x->body_buf, &body, &len) < 0)
			return PCREF_ENOMEM;
		resp->body = body;
		resp->body_len = len;
	}
	resp->headers = x->resp_headers;
	resp->header_count = x->header_count;
	x->resp_headers = NULL;
	x->header_count = 0;
	return PCREF_OK;
}

int pcref__http_send(pcref_connection *c, const pcref__http_request *req, pcref__http_response *resp)
{
	pcref__http_response local = PCREF__HTTP_RESPONSE_INIT;
	pcref__net_exchange x;
	pcref__net_verdict verdict;
	pcref__net_call call;
	pcref__buf url = PCREF__BUF_INIT, what_buf = PCREF__BUF_INIT;
	struct curl_slist *headers = NULL;
	const char *method, *what;
	int rc, same_service = 0, loopback = 0, use_auth, unsafe, attempt = 0, refreshed = 0;
	uint32_t token_flags = 0;
	int64_t start = pcref__net_mono_ms();
	pcref__net_failure f;

	if (!resp)
		resp = &local;
	memset(resp, 0, sizeof(*resp));
	if (!c || !req)
		return pcref__error(PCREF_EINVALID, "pcref__http_send: %s is NULL", c ? "req" : "conn");
	method = req->method ? req->method : "GET";
	if (req->what) {
		what = req->what;
	} else {
		const char *u = req->url ? req->url : "/";
		pcref__buf_printf(&what_buf, "%s %.*s", method, (int)strcspn(u, "?"), u);
		what = what_buf.data ? what_buf.data : method;
	}
	c->stats.calls++;
	memset(&x, 0, sizeof(x));
	memset(&call, 0, sizeof(call));
	call.what = what;
	call.deadline = start + c->retry_deadline_ms;
	pcref__guid(call.correlation_id);
	pcref__guid(call.request_id);

	if ((rc = resolve_url(c, req, &url, &same_service, &loopback)) < 0 ||
	    (rc = build_headers(req, &call, &headers)) < 0)
		goto out;
	if (url.failed || !url.data) {
		rc = pcref__error_nomem();
		goto out;
	}
	/* the token only ever goes to the service it was issued for */
	use_auth = c->auth != PCREF_AUTH_NONE && !req->no_auth && same_service;
	unsafe = is_unsafe_method(method) && !req->retry_unsafe;

	x.method = method;
	x.url = url.data;
	x.loopback = loopback;
	x.headers = headers;
	x.body = req->body;
	x.body_len = req->body ? req->body_len : 0;
	x.fresh_connect = unsafe;
	x.sink = req->sink;
	x.sink_payload = req->sink_payload;

	for (;;) {
		int64_t now = pcref__net_mono_ms(), wait;
		const char *token = NULL;

		if (use_auth && (rc = pcref__net_token_get(c, &call, token_flags, &token)) < 0)
			goto out;
		token_flags = 0;
		now = pcref__net_mono_ms();
		x.bearer = token;
		x.timeout_ms = c->timeout_ms;
		if (call.deadline - now < x.timeout_ms)
			x.timeout_ms = call.deadline - now > 0 ? call.deadline - now : 1;
		attempt++;
		c->stats.requests++;
		if (attempt > 1)
			c->stats.retries++;

		if (pcref__net_exchange_run(c, &x) < 0 && !x.status)
			c->stats.transport_errors++;
		x.bearer = NULL;
		if (x.status)
			count_response(c, x.status);

		if (x.result == CURLE_OK && x.status >= 200 && x.status < 300) {
			rc = move_to_response(&x, resp);
			goto out;
		}
		memset(&f, 0, sizeof(f));
		f.attempts = attempt;
		f.elapsed_ms = pcref__net_mono_ms() - start;
		f.authed = use_auth;

		if (x.result == CURLE_OK && x.status == 401 && use_auth && !refreshed &&
		    pcref__net_token_renewable(c) && pcref__net_mono_ms() < call.deadline) {
			/* the token expired or was revoked early: one new token, one retry */
			pcref__net_token_forget(c);
			refreshed = 1;
			token_flags = PCREF_TOKEN_REFRESH;
			continue;
		}
		pcref__net_decide(c, &x, unsafe, attempt, &verdict);
		f.verdict = &verdict;
		wait = verdict.wait_ms;
		if (verdict.retryable && attempt < c->retry_max &&
		    pcref__net_mono_ms() + wait < call.deadline) {
			pcref__net_sleep_ms(wait);
			continue;
		}
		if (verdict.retryable && attempt < c->retry_max)
			f.gave_up_deadline = 1;
		if (x.result == CURLE_OK || x.status) {
			int mrc = move_to_response(&x, resp);
			pcref__net_exchange reported = x;
			/* the body moved to resp; parse the error from there */
			reported.body_buf.data = resp->body;
			reported.body_buf.len = resp->body_len;
			reported.resp_headers = resp->headers;
			reported.header_count = resp->header_count;
			if (mrc < 0) {
				rc = mrc;
				goto out;
			}
			if (x.result == CURLE_OK)
				rc = pcref__net_fail_http(c, c->service, what, &reported, &f);
			else
				rc = pcref__net_fail_transport(c, c->service, what, &reported, &f);
		} else {
			rc = pcref__net_fail_transport(c, c->service, what, &x, &f);
		}
		goto out;
	}
out:
	pcref__net_exchange_reset(&x);
	curl_slist_free_all(headers);
	pcref__buf_dispose(&url);
	pcref__buf_dispose(&what_buf);
	if (resp == &local)
		pcref__http_response_dispose(&local);
	return rc;
}

/* Make sure a token is cached (fetching one if needed), e.g. to learn the
 * instance URL before the first request. */
int pcref__connection_authenticate(pcref_connection *c, const char *what)
{
	pcref__net_call call;
	const char *token;
	if (c->auth == PCREF_AUTH_NONE)
		return PCREF_OK;
	memset(&call, 0, sizeof(call));
	call.what = what ? what : "signing in";
	call.deadline = pcref__net_mono_ms() + c->retry_deadline_ms;
	pcref__guid(call.correlation_id);
	pcref__guid(call.request_id);
	return pcref__net_token_get(c, &call, 0, &token);
}
