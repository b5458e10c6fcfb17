/*
 * Partner Center webhook deliveries (partner-center-api.md §5.3, §5.4):
 * event parsing, signature verification, replay protection.
 *
 * All cryptography is OpenSSL's: base64 through EVP_Decode*, the chain through
 * X509_STORE/X509_STORE_CTX, RSA PKCS#1 v1.5 SHA-256 through
 * EVP_DigestVerify*, the replay key through EVP_Digest (SHA-256).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "../core/json.h"
#include "webhook_internal.h"

#define EVENT_MAX_BYTES (1024u * 1024u)

#define DEFAULT_ISSUER_ORG "Microsoft Corporation"
#define DEFAULT_MAX_AGE_MS (60 * 60 * 1000LL)
#define DEFAULT_MAX_SKEW_MS (5 * 60 * 1000LL)
#define DEFAULT_MAX_BODY (64 * 1024LL)
#define DEFAULT_DEDUP 4096
#define DEFAULT_CACHE_S (24 * 60 * 60)

#define CERT_CACHE_MAX 16      /* distinct certificate URLs kept */
#define SIGNATURE_B64_MAX 4096 /* a 16384-bit RSA signature is 2732 characters */
#define URL_MAX 2048
#define HOST_MAX 255

/* Statuses a receiver answers (see the table in pcref/webhook.h). */
#define ANSWER_OK 200
#define ANSWER_BAD_REQUEST 400
#define ANSWER_UNAUTHORIZED 401
#define ANSWER_TOO_LARGE 413
#define ANSWER_INTERNAL 500
#define ANSWER_UNAVAILABLE 503

/* ---- the event ----------------------------------------------------------- */

struct pcref_webhook_event {
	char *name;
	char *resource_uri;
	char *resource_name;
	char *audit_uri;
	char *referral_id;
	int64_t change_time;
};

void pcref_webhook_event_free(pcref_webhook_event *ev)
{
	if (!ev)
		return;
	pcref__dealloc(ev->name);
	pcref__dealloc(ev->resource_uri);
	pcref__dealloc(ev->resource_name);
	pcref__dealloc(ev->audit_uri);
	pcref__dealloc(ev->referral_id);
	pcref__dealloc(ev);
}

const char *pcref_webhook_event_name(const pcref_webhook_event *ev)
{
	return ev ? ev->name : NULL;
}

const char *pcref_webhook_event_resource_uri(const pcref_webhook_event *ev)
{
	return ev ? ev->resource_uri : NULL;
}

const char *pcref_webhook_event_resource_name(const pcref_webhook_event *ev)
{
	return ev ? ev->resource_name : NULL;
}

const char *pcref_webhook_event_audit_uri(const pcref_webhook_event *ev)
{
	return ev ? ev->audit_uri : NULL;
}

int64_t pcref_webhook_event_change_time(const pcref_webhook_event *ev)
{
	return ev ? ev->change_time : PCREF_TIME_NONE;
}

const char *pcref_webhook_event_referral_id(const pcref_webhook_event *ev)
{
	return ev ? ev->referral_id : NULL;
}

/* The member `name` matched case-insensitively (PascalCase in Partner
 * Center's samples, camelCase in its swagger); the first one wins. */
static const pcref__json *member(const pcref__json *obj, const char *name)
{
	for (size_t i = 0; i < obj->u.obj.len; i++)
		if (strcasecmp(obj->u.obj.keys[i], name) == 0)
			return obj->u.obj.values[i];
	return NULL;
}

/* A string member (NULL when absent or null) copied to *out. */
static int string_member(const pcref__json *obj, const char *name, const char *alias,
                         const char **shown, char **out)
{
	const pcref__json *v = member(obj, name);
	*shown = name;
	if (!v && alias) {
		v = member(obj, alias);
		*shown = alias;
	}
	*out = NULL;
	if (!v || v->type == PCREF__JSON_NULL)
		return PCREF_OK;
	if (v->type != PCREF__JSON_STRING)
		return pcref__error(PCREF_EPROTOCOL,
			"webhook event member %s should be a string or null, but is %s",
			*shown, pcref__json_type_name(v->type));
	if (memchr(v->u.str.text, '\0', v->u.str.len))
		return pcref__error(PCREF_EPROTOCOL,
			"webhook event member %s contains a NUL character", *shown);
	if (!(*out = pcref__strndup(v->u.str.text, v->u.str.len)))
		return pcref__error_nomem();
	return PCREF_OK;
}

static int url_safe(const char *s, size_t len)
{
	if (!len)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.' || c == '_' || c == '~'))
			return 0;
	}
	return 1;
}

/* The referral id of a ResourceUri ending in /referrals/{id} (§1.1, §5.2). */
static int referral_id_of(const pcref_webhook_event *ev, char **out)
{
	const char *uri = ev->resource_uri, *path, *end, *last, *prev;
	*out = NULL;
	if (!uri || (ev->resource_name && strcasecmp(ev->resource_name, "referral") != 0))
		return PCREF_OK;
	path = strstr(uri, "://");
	if (path) {
		path += 3;
		path += strcspn(path, "/?#");
	} else {
		path = uri;
	}
	end = path + strcspn(path, "?#");
	for (last = end; last > path && last[-1] != '/'; last--)
		;
	if (last == path)
		return PCREF_OK; /* no '/' in the path */
	for (prev = last - 1; prev > path && prev[-1] != '/'; prev--)
		;
	if ((size_t)(last - 1 - prev) != strlen("referrals") ||
	    strncasecmp(prev, "referrals", strlen("referrals")) != 0 ||
	    !url_safe(last, (size_t)(end - last)))
		return PCREF_OK;
	if (!(*out = pcref__strndup(last, (size_t)(end - last))))
		return pcref__error_nomem();
	return PCREF_OK;
}

static int event_from_json(pcref_webhook_event **out, const pcref__json *doc)
{
	pcref_webhook_event *ev;
	const pcref__json *date;
	const char *shown;
	int rc;

	if (doc->type != PCREF__JSON_OBJECT)
		return pcref__error(PCREF_EPROTOCOL,
			"a Partner Center webhook event must be a JSON object, not %s",
			pcref__json_type_name(doc->type));
	if (!(ev = pcref__calloc(1, sizeof(*ev))))
		return pcref__error_nomem();
	ev->change_time = PCREF_TIME_NONE;
	if ((rc = string_member(doc, "EventName", NULL, &shown, &ev->name)) < 0 ||
	    (rc = string_member(doc, "ResourceUri", NULL, &shown, &ev->resource_uri)) < 0 ||
	    (rc = string_member(doc, "ResourceName", NULL, &shown, &ev->resource_name)) < 0 ||
	    (rc = string_member(doc, "AuditUri", "AuditUrl", &shown, &ev->audit_uri)) < 0)
		goto fail;
	if (!ev->name || !ev->name[0]) {
		rc = pcref__error(PCREF_EPROTOCOL,
			"the JSON has no EventName: it is not a Partner Center webhook event");
		goto fail;
	}
	date = member(doc, "ResourceChangeUtcDate");
	if (date && date->type != PCREF__JSON_NULL) {
		if (date->type != PCREF__JSON_STRING) {
			rc = pcref__error(PCREF_EPROTOCOL,
				"webhook event member ResourceChangeUtcDate should be a date-time string, but is %s",
				pcref__json_type_name(date->type));
			goto fail;
		}
		if ((rc = pcref__time_parse(date->u.str.text, &ev->change_time)) < 0) {
			rc = pcref__error_prefix(PCREF_EPROTOCOL, "webhook event member ResourceChangeUtcDate");
			goto fail;
		}
	}
	if ((rc = referral_id_of(ev, &ev->referral_id)) < 0)
		goto fail;
	*out = ev;
	return PCREF_OK;
fail:
	pcref_webhook_event_free(ev);
	return rc;
}

int pcref_webhook_event_parse(pcref_webhook_event **out, const char *body, size_t len)
{
	pcref__json *doc;
	int rc;
	if (!out || (!body && len))
		return pcref__error(PCREF_EINVALID, "pcref_webhook_event_parse: out and body must not be NULL");
	*out = NULL;
	if (len > EVENT_MAX_BYTES)
		return pcref__error(PCREF_EINVALID,
			"a webhook body of %zu bytes is larger than the %u bytes of any Partner Center event; "
			"it is not one", len, EVENT_MAX_BYTES);
	if ((rc = pcref__json_parse(&doc, body ? body : "", len, "the webhook event")) < 0)
		return rc;
	rc = event_from_json(out, doc);
	pcref__json_free(doc);
	return rc;
}

/* ---- the verifier --------------------------------------------------------- */

typedef struct allowed_host {
	char *host;   /* lower case; IPv6 literals keep their brackets */
	int port;     /* 0: the scheme's default port */
	char *shown;  /* as configured, for messages */
} allowed_host;

typedef struct cert_entry {
	char *url;
	X509 *cert;           /* verified; its key is RSA */
	int64_t fetched_ms;
} cert_entry;

struct pcref_webhook_verifier {
	allowed_host *hosts;
	size_t host_count;
	char *issuer_org;
	int64_t max_age_ms, max_skew_ms, max_body, cache_ms;
	X509_STORE *store;
	cert_entry cache[CERT_CACHE_MAX];
	size_t cache_len;
	pcref__replay replay;
	pcref__webhook_fetch_fn fetch;
	void *fetch_ctx;
	pcref__webhook_clock_fn clock;
	void *clock_ctx;
};

static int64_t system_clock(void *ctx)
{
	(void)ctx;
	return pcref__now_ms();
}

/* Record a failure with the status the receiver should answer. */
static int answer(int code, int status, const char *fmt, ...) PCREF__PRINTF(3, 4);
static int answer(int code, int status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return pcref__error_http(code, status, NULL, NULL, "%s", msg);
}

/* Attach the status to answer to the failure recorded already. */
static int restatus(int code, int status)
{
	char msg[1024];
	snprintf(msg, sizeof(msg), "%s", pcref_error_last()->message);
	return pcref__error_http(code, status, NULL, NULL, "%s", msg);
}

/* The reason of OpenSSL's last error. (The public entry points set a mark
 * on OpenSSL's per-thread error queue and pop back to it on return, so
 * nothing of ours is left there and nothing of the host's is lost.) */
static const char *ssl_reason(char *buf, size_t size)
{
	unsigned long e = ERR_peek_last_error();
	if (e)
		ERR_error_string_n(e, buf, size);
	else
		snprintf(buf, size, "no details from OpenSSL");
	return buf;
}

int pcref_webhook_options_init(pcref_webhook_options *options, unsigned int version)
{
	if (!options)
		return pcref__error(PCREF_EINVALID, "pcref_webhook_options_init: options is NULL");
	if (version == 0 || version > PCREF_WEBHOOK_OPTIONS_VERSION)
		return pcref__error(PCREF_EVERSION,
			"pcref_webhook_options_init: version %u is not known to libpcref %s (it knows up to %d)",
			version, pcref_version_string(), PCREF_WEBHOOK_OPTIONS_VERSION);
	memset(options, 0, sizeof(*options));
	options->version = version;
	return PCREF_OK;
}

int pcref_webhook_delivery_init(pcref_webhook_delivery *delivery, unsigned int version)
{
	if (!delivery)
		return pcref__error(PCREF_EINVALID, "pcref_webhook_delivery_init: delivery is NULL");
	if (version == 0 || version > PCREF_WEBHOOK_DELIVERY_VERSION)
		return pcref__error(PCREF_EVERSION,
			"pcref_webhook_delivery_init: version %u is not known to libpcref %s (it knows up to %d)",
			version, pcref_version_string(), PCREF_WEBHOOK_DELIVERY_VERSION);
	memset(delivery, 0, sizeof(*delivery));
	delivery->version = version;
	return PCREF_OK;
}

/* ---- host and URL syntax -------------------------------------------------- */

static int is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.';
}

static int is_v6_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
	       c == ':' || c == '.';
}

/* Split "host[:port]" / "[v6][:port]" (the whole of s..end). The host is
 * copied lower-cased into host[HOST_MAX + 1]; *port is 0 when absent.
 * Returns 0, or -1 when malformed. */
static int split_host_port(const char *s, const char *end, char *host, int *port)
{
	const char *h = s, *p;
	size_t len;
	*port = 0;
	if (s < end && *s == '[') {
		for (p = s + 1; p < end && is_v6_char(*p); p++)
			;
		if (p >= end || *p != ']' || p == s + 1)
			return -1;
		p++;
	} else {
		for (p = s; p < end && is_name_char(*p); p++)
			;
		if (p == s)
			return -1;
	}
	len = (size_t)(p - h);
	if (len > HOST_MAX)
		return -1;
	for (size_t i = 0; i < len; i++)
		host[i] = (h[i] >= 'A' && h[i] <= 'Z') ? (char)(h[i] - 'A' + 'a') : h[i];
	host[len] = '\0';
	if (host[0] == '[') {
		char addr[HOST_MAX + 1];
		unsigned char bin[16];
		snprintf(addr, sizeof(addr), "%.*s", (int)(len - 2), host + 1);
		if (inet_pton(AF_INET6, addr, bin) != 1)
			return -1;
	}
	if (p == end)
		return 0;
	if (*p != ':' || p + 1 == end || end - (p + 1) > 5)
		return -1;
	for (const char *d = p + 1; d < end; d++) {
		if (*d < '0' || *d > '9')
			return -1;
		*port = *port * 10 + (*d - '0');
	}
	return *port >= 1 && *port <= 65535 ? 0 : -1;
}

static int is_loopback(const char *host)
{
	unsigned char bin[16];
	char addr[HOST_MAX + 1];
	if (strcmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, bin) == 1)
		return bin[0] == 127;
	if (host[0] == '[') {
		snprintf(addr, sizeof(addr), "%.*s", (int)(strlen(host) - 2), host + 1);
		if (inet_pton(AF_INET6, addr, bin) == 1) {
			static const unsigned char one[16] = { [15] = 1 };
			return memcmp(bin, one, sizeof(one)) == 0;
		}
	}
	return 0;
}

typedef struct cert_url {
	int https;
	char host[HOST_MAX + 1];
	int port;              /* explicit port, 0 when absent */
	char shown[HOST_MAX + 8]; /* host[:port] as written (lower case) */
} cert_url;

/* Check X-MS-Certificate-Url's syntax and split it. Strict on purpose: the
 * host decided here must be the host the fetch connects to, so anything a
 * URL parser might read differently (user info, backslashes, percent
 * escapes or spaces in the authority) is refused. */
static int parse_cert_url(const char *url, cert_url *u)
{
	const char *rest, *auth_end;
	size_t len = strlen(url);
	if (len > URL_MAX)
		return answer(PCREF_ESIGNATURE, ANSWER_UNAUTHORIZED,
			"X-MS-Certificate-Url is %zu characters long; Partner Center's certificate URL is short, "
			"so the delivery is refused", len);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)url[i];
		if (c <= 0x20 || c >= 0x7f || c == '\\')
			return answer(PCREF_ESIGNATURE, ANSWER_UNAUTHORIZED,
				"X-MS-Certificate-Url '%.200s' contains a space, backslash, control or non-ASCII "
				"character; the delivery is refused", url);
	}
	if (strncasecmp(url, "https://", 8) == 0) {
		u->https = 1;
		rest = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		u->https = 0;
		rest = url + 7;
	} else {
		return answer(PCREF_ESIGNATURE, ANSWER_UNAUTHORIZED,
			"X-MS-Certificate-Url '%.200s' is not an https URL; the signing certificate is only "
			"fetched over https", url);
	}
	auth_end = rest + strcspn(rest, "/?#");
	if (memchr(rest, '@', (size_t)(auth_end - rest)))
		return answer(PCREF_ESIGNATURE, ANSWER_UNAUTHORIZED,
			"X-MS-Certificate-Url '%.200s' carries user information ('@' before the path), a "
			"classic way to disguise a host; the delivery is refused", url);
	if (split_host_port(rest, auth_end, u->host, &u->port) < 0)
		return answer(PCREF_ESIGNATURE, ANSWER_UNAUTHORIZED,
			"X-MS-Certificate-Url '%.200s' has a malformed host or port; the delivery is refused",
			url);
	if (u->port)
		snprintf(u->shown, sizeof(u->shown), "%s:%d", u->host, u->port);
	else
		snprintf(u->shown, sizeof(u->shown), "%s", u->host);
	return PCREF_OK;
}

static int host_allowed(const pcref_webhook_verifier *v, const cert_url *u)
{
	int def = u->https ? 443 : 80;
	int port = u->port ? u->port : def;
	for (size_t i = 0; i < v->host_count; i++)
		if (strcmp(v->hosts[i].host, u->host) == 0 &&
		    (v->hosts[i].port ? v->hosts[i].port : def) == port)
			return 1;
	return 0;
}

static int check_cert_url(const pcref_webhook_verifier *v, const char *url)
{
	cert_url u;
	pcref__buf list = PCREF__BUF_INIT;
	int rc;
	if ((rc = parse_cert_url(url, &u)) < 0)
		return rc;
	if (!u.https && !is_loopback(u.host))
		return answer(PCREF_ESIGNATURE, ANSWER_UNAUTHORIZED,
			"X-MS-Certificate-Url '%.200s' uses plain http to '%s'; the signing certificate is only "
			"fetched over https (http is allowed for loopback hosts, i.e. a local emulator)",
			url, u.host);
	if (host_allowed(v, &u))
		return PCREF_OK;
	for (size_t i = 0; i < v->host_count; i++)
		pcref__buf_printf(&list, "%s%s", i ? ", " : "", v->hosts[i].shown);
	rc = answer(PCREF_ESIGNATURE, ANSWER_UNAUTHORIZED,
		"the signing certificate's host '%s' (X-MS-Certificate-Url '%.200s') is not in the "
		"allow-list (%s): the delivery is refused and nothing was fetched. If Microsoft really "
		"serves its webhook certificate from there now, add '%s' to "
		"pcref_webhook_options.certificate_hosts",
		u.shown, url, list.data ? list.data : "", u.shown);
	pcref__buf_dispose(&list);
	return rc;
}

/* ---- options ---------------------------------------------------------------- */

static int add_host(pcref_webhook_verifier *v, const char *entry)
{
	char host[HOST_MAX + 1];
	int port;
	allowed_host *h = &v->hosts[v->host_count];
	if (!entry[0] || split_host_port(entry, entry + strlen(entry), host, &port) < 0)
		return pcref__error(PCREF_EINVALID,
			"pcref_webhook_options.certificate_hosts entry '%.200s' is not a host name or IP "
			"address with an optional port (e.g. '" PCREF_WEBHOOK_CERTIFICATE_HOST "', "
			"'127.0.0.1:8443', '[::1]:8443'); no scheme, path or wildcard", entry);
	if (!(h->host = pcref__strdup(host)) || !(h->shown = pcref__strdup(entry)))
		return pcref__error_nomem();
	h->port = port;
	v->host_count++;
	return PCREF_OK;
}

static int negative(const char *name)
{
	return pcref__error(PCREF_EINVALID,
		"pcref_webhook_options.%s must not be negative (0 means the default)", name);
}

static int load_trust_anchors(pcref_webhook_verifier *v, const char *file)
{
	char reason[256];
	FILE *f;
	if (!(v->store = X509_STORE_new()))
		return pcref__error_nomem();
	if (!file) {
		if (X509_STORE_set_default_paths(v->store) != 1)
			return pcref__error(PCREF_EINVALID,
				"cannot load OpenSSL's default trust anchors (%s); name a PEM file in "
				"pcref_webhook_options.trust_anchors_file", ssl_reason(reason, sizeof(reason)));
		return PCREF_OK;
	}
	if (!(f = fopen(file, "r")))
		return pcref__error(PCREF_EINVALID,
			"cannot open the trust anchors file '%.300s' (pcref_webhook_options.trust_anchors_file): %s",
			file, strerror(errno));
	fclose(f);
	if (X509_STORE_load_locations(v->store, file, NULL) != 1)
		return pcref__error(PCREF_EINVALID,
			"the trust anchors file '%.300s' (pcref_webhook_options.trust_anchors_file) holds no "
			"PEM certificate OpenSSL can load (%s)", file, ssl_reason(reason, sizeof(reason)));
	return PCREF_OK;
}

static int configure(pcref_webhook_verifier *v, const pcref_webhook_options *o)
{
	static const char *const default_hosts[] = { PCREF_WEBHOOK_CERTIFICATE_HOST, NULL };
	const char *const *hosts = o->certificate_hosts ? o->certificate_hosts : default_hosts;
	size_t n = 0;
	int rc;

	if (o->max_age_ms < 0)
		return negative("max_age_ms");
	if (o->max_skew_ms < 0)
		return negative("max_skew_ms");
	if (o->max_body_bytes < 0)
		return negative("max_body_bytes");
	if (o->dedup_capacity < 0)
		return negative("dedup_capacity");
	if (o->certificate_cache_seconds < 0)
		return negative("certificate_cache_seconds");
	if (o->max_body_bytes > (int64_t)EVENT_MAX_BYTES)
		return pcref__error(PCREF_EINVALID,
			"pcref_webhook_options.max_body_bytes may be at most %u (1 MiB); Partner Center events "
			"are a few hundred bytes", EVENT_MAX_BYTES);
	if ((uint32_t)o->dedup_capacity > PCREF__REPLAY_MAX)
		return pcref__error(PCREF_EINVALID,
			"pcref_webhook_options.dedup_capacity may be at most %u", PCREF__REPLAY_MAX);
	if (o->issuer_organization && !o->issuer_organization[0])
		return pcref__error(PCREF_EINVALID,
			"pcref_webhook_options.issuer_organization is empty; leave it NULL for '"
			DEFAULT_ISSUER_ORG "'");
	while (hosts[n])
		n++;
	if (n == 0)
		return pcref__error(PCREF_EINVALID,
			"pcref_webhook_options.certificate_hosts is empty, so every delivery would be refused; "
			"leave it NULL for '" PCREF_WEBHOOK_CERTIFICATE_HOST "'");
	if (!(v->hosts = pcref__calloc(n, sizeof(*v->hosts))))
		return pcref__error_nomem();
	for (size_t i = 0; i < n; i++)
		if ((rc = add_host(v, hosts[i])) < 0)
			return rc;
	if (!(v->issuer_org = pcref__strdup(o->issuer_organization ? o->issuer_organization
	                                                          : DEFAULT_ISSUER_ORG)))
		return pcref__error_nomem();
	v->max_age_ms = o->max_age_ms ? o->max_age_ms : DEFAULT_MAX_AGE_MS;
	v->max_skew_ms = o->max_skew_ms ? o->max_skew_ms : DEFAULT_MAX_SKEW_MS;
	v->max_body = o->max_body_bytes ? o->max_body_bytes : DEFAULT_MAX_BODY;
	v->cache_ms = (int64_t)(o->certificate_cache_seconds ? o->certificate_cache_seconds
	                                                     : DEFAULT_CACHE_S) * 1000;
	if ((rc = pcref__replay_init(&v->replay, (uint32_t)(o->dedup_capacity ? o->dedup_capacity
	                                                                     : DEFAULT_DEDUP))) < 0)
		return rc;
	return load_trust_anchors(v, o->trust_anchors_file);
}

static int verifier_new(pcref_webhook_verifier **out, const pcref_webhook_options *options)
{
	pcref_webhook_options defaults = PCREF_WEBHOOK_OPTIONS_INIT;
	pcref_webhook_verifier *v;
	int rc;
	if (!out)
		return pcref__error(PCREF_EINVALID, "pcref_webhook_verifier_new: out is NULL");
	*out = NULL;
	if (!options)
		options = &defaults;
	if (options->version == 0 || options->version > PCREF_WEBHOOK_OPTIONS_VERSION)
		return pcref__error(PCREF_EVERSION,
			"pcref_webhook_verifier_new: options version %u is not known to libpcref %s "
			"(it knows up to %d)", options->version, pcref_version_string(),
			PCREF_WEBHOOK_OPTIONS_VERSION);
	if (!pcref__initialised())
		return pcref__error(PCREF_ESTATE, "pcref_webhook_verifier_new: call pcref_init() first");
	if (!(v = pcref__calloc(1, sizeof(*v))))
		return pcref__error_nomem();
	v->fetch = pcref__webhook_fetch_http;
	v->clock = system_clock;
	if ((rc = configure(v, options)) < 0) {
		pcref_webhook_verifier_free(v);
		return rc;
	}
	*out = v;
	return PCREF_OK;
}

int pcref_webhook_verifier_new(pcref_webhook_verifier **out, const pcref_webhook_options *options)
{
	int rc;
	ERR_set_mark();
	rc = verifier_new(out, options);
	ERR_pop_to_mark();
	return rc;
}

static void cache_drop(pcref_webhook_verifier *v, size_t i)
{
	pcref__dealloc(v->cache[i].url);
	X509_free(v->cache[i].cert);
	memmove(&v->cache[i], &v->cache[i + 1], (v->cache_len - i - 1) * sizeof(v->cache[0]));
	v->cache_len--;
}

void pcref_webhook_verifier_free(pcref_webhook_verifier *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->host_count; i++) {
		pcref__dealloc(v->hosts[i].host);
		pcref__dealloc(v->hosts[i].shown);
	}
	pcref__dealloc(v->hosts);
	pcref__dealloc(v->issuer_org);
	while (v->cache_len)
		cache_drop(v, v->cache_len - 1);
	X509_STORE_free(v->store);
	pcref__replay_dispose(&v->replay);
	pcref__dealloc(v);
}

void pcref__webhook_verifier_set_fetch(pcref_webhook_verifier *v, pcref__webhook_fetch_fn fetch,
                                       void *ctx)
{
	v->fetch = fetch ? fetch : pcref__webhook_fetch_http;
	v->fetch_ctx = fetch ? ctx : NULL;
}

void pcref__webhook_verifier_set_clock(pcref_webhook_verifier *v, pcref__webhook_clock_fn clock,
                                       void *ctx)
{
	v->clock = clock ? clock : system_clock;
	v->clock_ctx = clock ? ctx : NULL;
}

/* ---- the signature header ------------------------------------------------------- */

/* The value without surrounding white space; NULL when absent or blank. */
static const char *trimmed(const char *s, size_t *len)
{
	const char *e;
	if (!s)
		return NULL;
	while (*s == ' ' || *s == '\t')
		s++;
	for (e = s + strlen(s); e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
	                                  e[-1] == '\n'); e--)
		;
	*len = (size_t)(e - s);
	return *len ? s : NULL;
}

/* If s is "Signature <token>", point *token at the token. */
static int signature_scheme(const char *s, size_t len, const char **token, size_t *tlen)
{
	const size_t n = strlen("Signature");
	if (len <= n || strncasecmp(s, "Signature", n) != 0 || (s[n] != ' ' && s[n] != '\t'))
		return 0;
	*token = s + n;
	*tlen = len - n;
	while (*tlen && (**token == ' ' || **token == '\t'))
		(*token)++, (*tlen)--;
	return *tlen > 0;
}

static int decode_signature(const char *b64, size_t len, const char *header,
                            unsigned char **sig, size_t *siglen)
{
	EVP_ENCODE_CTX *ctx;
	unsigned char *buf;
	int n = 0, fin = 0, ok;
	*sig = NULL;
	if (len > SIGNATURE_B64_MAX)
		return answer(PCREF_ESIGNATURE, ANSWER_UNAUTHORIZED,
			"the %s signature is %zu characters long, far more than any RSA signature; "
			"the delivery is refused", header, len);
	if (!(buf = pcref__malloc(len + 4)) || !(ctx = EVP_ENCODE_CTX_new())) {
		pcref__dealloc(buf);
		return pcref__error_nomem();
	}
	EVP_DecodeInit(ctx);
	ok = EVP_DecodeUpdate(ctx, buf, &n, (const unsigned char *)b64, (int)len) >= 0 &&
	     EVP_DecodeFinal(ctx, buf + n, &fin) == 1 && n + fin > 0;
	EVP_ENCODE_CTX_free(ctx);
	if (!ok) {
		pcref__dealloc(buf);
		return answer(PCREF_ESIGNATURE, ANSWER_UNAUTHORIZED,
			"the %s signature is not valid base64 ('Signature <base64>' expected); "
			"the delivery is refused", header);
	}
	*sig = buf;
	*siglen = (size_t)(n + fin);
	return PCREF_OK;
}

/* §5.4 step 1: Authorization: Signature <b64>, or x-ms-signature when the
 * registration asked for it (or Authorization carries someone else's
 * credentials). */
static int get_signature(const pcref_webhook_delivery *d, unsigned char **sig, size_t *siglen)
{
	size_t alen = 0, xlen = 0, tlen;
	const char *auth = trimmed(d->authorization, &alen);
	const char *xms = trimmed(d->x_ms_signature, &xlen);
	const char *token;
	if (auth && signature_scheme(auth, alen, &token, &tlen))
		return decode_signature(token, tlen, "Authorization", sig, siglen);
	if (xms) {
		if (signature_scheme(xms, xlen, &token, &tlen))
			return decode_signature(token, tlen, "x-ms-signature", sig, siglen);
		if (!memchr(xms, ' ', xlen) && !memchr(xms, '\t', xlen))
			return decode_signature(xms, xlen, "x-ms-signature", sig, siglen);
		return answer(PCREF_ESIGNATURE, ANSWER_UNAUTHORIZED,
			"the x-ms-signature header is not 'Signature <base64>'; the delivery is refused");
	}
	if (auth) {
		size_t scheme = strcspn(auth, " \t");
		return answer(PCREF_ESIGNATURE, ANSWER_UNAUTHORIZED,
			"the Authorization header is not of the 'Signature <base64>' scheme (it starts "
			"'%.*s') and there is no x-ms-signature header: the delivery did not come from "
			"Partner Center (if a gateway in front of you uses Authorization itself, register the "
			"webhook with SignatureTokenToMsSignatureHeader and pass x-ms-signature)",
			(int)(scheme > 20 ? 20 : scheme), auth);
	}
	return answer(PCREF_ESIGNATURE, ANSWER_UNAUTHORIZED,
		"the delivery carries no signature: neither an Authorization nor an x-ms-signature "
		"header. Refuse it — or, if Partner Center sent it, make your HTTP server pass those "
		"headers on");
}

/* ---- the certificate ------------------------------------------------------------ */

static int parse_certificate(const char *data, size_t len, X509 **leaf, STACK_OF(X509) **chain)
{
	const char *p = data;
	*leaf = NULL;
	*chain = NULL;
	while (p < data + len && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	if ((size_t)(data + len - p) >= 11 && memcmp(p, "-----BEGIN ", 11) == 0) {
		/* PEM: the first certificate is the signer, any others intermediates */
		BIO *bio = BIO_new_mem_buf(data, (int)len);
		X509 *x;
		if (!bio)
			return -1;
		while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
			if (!*leaf) {
				*leaf = x;
			} else if ((!*chain && !(*chain = sk_X509_new_null())) || !sk_X509_push(*chain, x)) {
				X509_free(x);
				break;
			}
		}
		BIO_free(bio);
		return *leaf ? 0 : -1;
	} else {
		const unsigned char *q = (const unsigned char *)data;
		*leaf = d2i_X509(NULL, &q, (long)len);
		if (*leaf && q != (const unsigned char *)data + len) {
			X509_free(*leaf);
			*leaf = NULL;
		}
		return *leaf ? 0 : -1;
	}
}

static void name_text(X509_NAME *name, char *buf, size_t size)
{
	if (!X509_NAME_oneline(name, buf, (int)size))
		snprintf(buf, size, "?");
}

/* The issuer's O= must equal the configured organisation — every O
 * attribute, byte for byte; "Microsoft Corporation Evil" is not
 * "Microsoft Corporation" (the 2019 sample's Contains() would accept it). */
static int check_issuer(const pcref_webhook_verifier *v, X509 *leaf, const char *url)
{
	X509_NAME *issuer = X509_get_issuer_name(leaf);
	char text[512];
	int idx = -1, found = 0;
	size_t want = strlen(v->issuer_org);
	while ((idx = X509_NAME_get_index_by_NID(issuer, NID_organizationName, idx)) >= 0) {
		const ASN1_STRING *data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(issuer, idx));
		unsigned char *utf8 = NULL;
		int n = ASN1_STRING_to_UTF8(&utf8, data);
		int match = n >= 0 && (size_t)n == want && memcmp(utf8, v->issuer_org, want) == 0;
		if (!match) {
			int rc = answer(PCREF_ESIGNATURE, ANSWER_UNAUTHORIZED,
				"the webhook signing certificate from '%.200s' chains to a trust anchor, but its "
				"issuer organisation (O=) is '%.100s', not '%.100s': it was not issued to Partner "
				"Center by Microsoft, and the delivery is refused", url,
				n >= 0 ? (const char *)utf8 : "(unreadable)", v->issuer_org);
			OPENSSL_free(utf8);
			return rc;
		}
		OPENSSL_free(utf8);
		found = 1;
	}
	if (found)
		return PCREF_OK;
	name_text(issuer, text, sizeof(text));
	return answer(PCREF_ESIGNATURE, ANSWER_UNAUTHORIZED,
		"the webhook signing certificate from '%.200s' has no issuer organisation (O=) at all "
		"(issuer %s), so it cannot be '%.100s''s; the delivery is refused", url, text, v->issuer_org);
}

static int check_chain(const pcref_webhook_verifier *v, X509 *leaf, STACK_OF(X509) *chain,
                       const char *url, int64_t now)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	char subject[512], issuer[512];
	int ok, err;
	if (!ctx || X509_STORE_CTX_init(ctx, v->store, leaf, chain) != 1) {
		X509_STORE_CTX_free(ctx);
		return pcref__error_nomem();
	}
	X509_STORE_CTX_set_time(ctx, 0, (time_t)(now / 1000));
	ok = X509_verify_cert(ctx) == 1;
	err = X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	if (ok)
		return PCREF_OK;
	name_text(X509_get_subject_name(leaf), subject, sizeof(subject));
	name_text(X509_get_issuer_name(leaf), issuer, sizeof(issuer));
	return answer(PCREF_ESIGNATURE, ANSWER_UNAUTHORIZED,
		"the webhook signing certificate from '%.200s' is not trusted: %s (subject %s, issuer %s). "
		"The delivery is refused. If this is Microsoft's genuine certificate, its chain does not "
		"reach your trust anchors: put its issuing CA and root in the PEM file named by "
		"pcref_webhook_options.trust_anchors_file",
		url, X509_verify_cert_error_string(err), subject, issuer);
}

/* The verified certificate for `url`: from the cache, or fetched, checked
 * and cached. Borrowed from the cache. */
static int get_certificate(pcref_webhook_verifier *v, const char *url, int64_t now, X509 **out)
{
	pcref__buf buf = PCREF__BUF_INIT;
	X509 *leaf = NULL;
	STACK_OF(X509) *chain = NULL;
	EVP_PKEY *key;
	cert_entry *e;
	int rc;

	for (size_t i = 0; i < v->cache_len; i++) {
		if (strcmp(v->cache[i].url, url) != 0)
			continue;
		time_t t = (time_t)(now / 1000);
		if (now - v->cache[i].fetched_ms < v->cache_ms && now >= v->cache[i].fetched_ms &&
		    X509_cmp_time(X509_get0_notAfter(v->cache[i].cert), &t) > 0) {
			*out = v->cache[i].cert;
			return PCREF_OK;
		}
		cache_drop(v, i);
		break;
	}

	rc = v->fetch(url, &buf, v->fetch_ctx);
	if (rc != PCREF_OK) {
		const pcref_error *e0 = pcref_error_last();
		char msg[1024];
		int code = rc < 0 ? rc : PCREF_ERROR, status = e0->http_status;
		snprintf(msg, sizeof(msg), "%s", e0->message);
		pcref__buf_dispose(&buf);
		if (code == PCREF_ENOMEM)
			return restatus(code, ANSWER_INTERNAL);
		return status
			? answer(code, ANSWER_UNAVAILABLE,
			         "fetching the webhook signing certificate '%.200s' failed (HTTP %d), so the "
			         "delivery cannot be verified now (answer 503: Partner Center retries): %s",
			         url, status, msg)
			: answer(code, ANSWER_UNAVAILABLE,
			         "fetching the webhook signing certificate '%.200s' failed, so the delivery "
			         "cannot be verified now (answer 503: Partner Center retries): %s", url, msg);
	}
	if (buf.failed) {
		pcref__buf_dispose(&buf);
		return restatus(pcref__error_nomem(), ANSWER_INTERNAL);
	}
	if (buf.len == 0 || buf.len > PCREF__WEBHOOK_CERT_MAX_BYTES ||
	    parse_certificate(buf.data, buf.len, &leaf, &chain) < 0) {
		rc = answer(PCREF_ESIGNATURE, ANSWER_UNAUTHORIZED,
			"'%.200s' (X-MS-Certificate-Url) did not serve an X.509 certificate in DER or PEM "
			"(%zu bytes); the delivery is refused", url, buf.len);
		pcref__buf_dispose(&buf);
		return rc;
	}
	pcref__buf_dispose(&buf);
	if ((rc = check_chain(v, leaf, chain, url, now)) < 0 || (rc = check_issuer(v, leaf, url)) < 0)
		goto fail;
	key = X509_get0_pubkey(leaf);
	if (!key || EVP_PKEY_base_id(key) != EVP_PKEY_RSA) {
		rc = answer(PCREF_ESIGNATURE, ANSWER_UNAUTHORIZED,
			"the webhook signing certificate from '%.200s' does not hold an RSA key, but the "
			"delivery claims rsa-sha256; the delivery is refused", url);
		goto fail;
	}
	if (v->cache_len == CERT_CACHE_MAX) {
		size_t oldest = 0;
		for (size_t i = 1; i < v->cache_len; i++)
			if (v->cache[i].fetched_ms < v->cache[oldest].fetched_ms)
				oldest = i;
		cache_drop(v, oldest);
	}
	e = &v->cache[v->cache_len];
	if (!(e->url = pcref__strdup(url))) {
		rc = restatus(pcref__error_nomem(), ANSWER_INTERNAL);
		goto fail;
	}
	e->cert = leaf;
	e->fetched_ms = now;
	v->cache_len++;
	sk_X509_pop_free(chain, X509_free);
	*out = leaf;
	return PCREF_OK;
fail:
	X509_free(leaf);
	sk_X509_pop_free(chain, X509_free);
	return rc;
}

static int check_signature(X509 *cert, const unsigned char *sig, size_t siglen,
                           const char *body, size_t len, const char *url)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	int ok;
	if (!md)
		return restatus(pcref__error_nomem(), ANSWER_INTERNAL);
	ok = EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, X509_get0_pubkey(cert)) == 1 &&
	     EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1 &&
	     EVP_DigestVerify(md, sig, siglen, (const unsigned char *)body, len) == 1;
	EVP_MD_CTX_free(md);
	if (ok)
		return PCREF_OK;
	return answer(PCREF_ESIGNATURE, ANSWER_UNAUTHORIZED,
		"the signature does not match the body and the certificate '%.200s': the body was "
		"altered on the way (pass the exact bytes received, before any decoding or "
		"re-serialisation) or it was not signed by Partner Center; the delivery is refused", url);
}

/* ---- time ------------------------------------------------------------------------ */

static void duration_text(int64_t ms, char *buf, size_t size)
{
	if (ms % 3600000 == 0)
		snprintf(buf, size, "%lld h", (long long)(ms / 3600000));
	else if (ms % 60000 == 0)
		snprintf(buf, size, "%lld min", (long long)(ms / 60000));
	else if (ms % 1000 == 0)
		snprintf(buf, size, "%lld s", (long long)(ms / 1000));
	else
		snprintf(buf, size, "%lld ms", (long long)ms);
}

static int check_age(const pcref_webhook_verifier *v, const pcref_webhook_event *ev, int64_t now)
{
	char when[PCREF__TIME_BUFSZ], limit[32];
	int64_t t = ev->change_time;
	if (t == PCREF_TIME_NONE)
		return answer(PCREF_EPROTOCOL, ANSWER_BAD_REQUEST,
			"the webhook event '%.100s' has no ResourceChangeUtcDate, so its age cannot be checked "
			"and a replay could not be told from a new delivery; it is refused", ev->name);
	if (pcref__time_format(t, when) < 0)
		snprintf(when, sizeof(when), "?");
	if (t < now && now - t > v->max_age_ms) {
		duration_text(v->max_age_ms, limit, sizeof(limit));
		return answer(PCREF_EREPLAY, ANSWER_OK,
			"the webhook event '%.100s' of %s is older than the %s limit "
			"(pcref_webhook_options.max_age_ms): a replay, or a retry so late that the "
			"reconciliation pass repairs what it announced; answer 200 and drop it",
			ev->name, when, limit);
	}
	if (t > now && t - now > v->max_skew_ms) {
		duration_text(v->max_skew_ms, limit, sizeof(limit));
		return answer(PCREF_EREPLAY, ANSWER_OK,
			"the webhook event '%.100s' is dated %s, more than %s in the future "
			"(pcref_webhook_options.max_skew_ms); check this machine's clock. Answer 200 and drop "
			"it", ev->name, when, limit);
	}
	return PCREF_OK;
}

/* ---- verify ----------------------------------------------------------------------- */

/* §5.4 step 1, the other two headers: X-MS-Certificate-Url and
 * X-MS-Signature-Algorithm (rsa-sha256, §5.4 step 6). */
static int check_headers(const pcref_webhook_delivery *d, const char **url, size_t *ulen)
{
	size_t alen = 0;
	const char *alg = trimmed(d->signature_algorithm, &alen);
	*url = trimmed(d->certificate_url, ulen);
	if (!*url)
		return answer(PCREF_ESIGNATURE, ANSWER_BAD_REQUEST,
			"the delivery has no X-MS-Certificate-Url header, so its signature cannot be checked; "
			"refuse it — or, if Partner Center sent it, make your HTTP server pass that header on");
	if (!alg)
		return answer(PCREF_ESIGNATURE, ANSWER_BAD_REQUEST,
			"the delivery has no X-MS-Signature-Algorithm header, so its signature cannot be "
			"checked; refuse it — or, if Partner Center sent it, make your HTTP server pass that "
			"header on");
	if (alen != strlen("rsa-sha256") || strncasecmp(alg, "rsa-sha256", alen) != 0)
		return answer(PCREF_ESIGNATURE, ANSWER_BAD_REQUEST,
			"X-MS-Signature-Algorithm '%.*s' is not supported: Partner Center signs with "
			"rsa-sha256, the only algorithm accepted", (int)(alen > 40 ? 40 : alen), alg);
	return PCREF_OK;
}

static int verify(pcref_webhook_event **out, pcref_webhook_verifier *v,
                  const pcref_webhook_delivery *d)
{
	unsigned char *sig = NULL, digest[32];
	size_t siglen = 0, ulen = 0;
	unsigned int dlen = 0;
	const char *body, *url_text;
	char *url = NULL;
	pcref_webhook_event *ev = NULL;
	X509 *cert;
	int64_t now;
	int rc;

	if (out)
		*out = NULL;
	if (!v || !d)
		return answer(PCREF_EINVALID, ANSWER_INTERNAL,
			"pcref_webhook_verify: verifier and delivery must not be NULL");
	if (d->version == 0 || d->version > PCREF_WEBHOOK_DELIVERY_VERSION)
		return answer(PCREF_EVERSION, ANSWER_INTERNAL,
			"pcref_webhook_verify: delivery version %u is not known to libpcref %s (it knows up "
			"to %d)", d->version, pcref_version_string(), PCREF_WEBHOOK_DELIVERY_VERSION);
	if (!d->body && d->body_len)
		return answer(PCREF_EINVALID, ANSWER_INTERNAL,
			"pcref_webhook_verify: the delivery's body is NULL but its length is %zu", d->body_len);
	body = d->body ? d->body : "";
	if ((uint64_t)d->body_len > (uint64_t)v->max_body)
		return answer(PCREF_EINVALID, ANSWER_TOO_LARGE,
			"the webhook body of %zu bytes is larger than the %lld bytes accepted "
			"(pcref_webhook_options.max_body_bytes; Partner Center events are a few hundred "
			"bytes); answer 413", d->body_len, (long long)v->max_body);

	if ((rc = get_signature(d, &sig, &siglen)) < 0)
		return rc == PCREF_ENOMEM ? restatus(rc, ANSWER_INTERNAL) : rc;
	if ((rc = check_headers(d, &url_text, &ulen)) < 0)
		goto done;
	if (!(url = pcref__strndup(url_text, ulen))) {
		rc = restatus(pcref__error_nomem(), ANSWER_INTERNAL);
		goto done;
	}
	if ((rc = check_cert_url(v, url)) < 0)
		goto done;
	now = v->clock(v->clock_ctx);
	if ((rc = get_certificate(v, url, now, &cert)) < 0 ||
	    (rc = check_signature(cert, sig, siglen, body, d->body_len, url)) < 0)
		goto done;

	if ((rc = pcref_webhook_event_parse(&ev, body, d->body_len)) < 0) {
		rc = restatus(rc, rc == PCREF_ENOMEM ? ANSWER_INTERNAL : ANSWER_BAD_REQUEST);
		goto done;
	}
	if ((rc = check_age(v, ev, now)) < 0)
		goto done;
	if (EVP_Digest(body, d->body_len, digest, &dlen, EVP_sha256(), NULL) != 1 || dlen != 32) {
		rc = restatus(pcref__error_nomem(), ANSWER_INTERNAL);
		goto done;
	}
	if (pcref__replay_seen(&v->replay, digest)) {
		rc = answer(PCREF_EREPLAY, ANSWER_OK,
			"this delivery of '%.100s' was seen before (the same body was verified already): a "
			"Partner Center retry of a delivery you accepted, or a replay. Answer 200 so it is not "
			"sent again", ev->name);
		goto done;
	}
	pcref__replay_remember(&v->replay, digest);
	if (out) {
		*out = ev;
		ev = NULL;
	}
	rc = PCREF_OK;
done:
	pcref_webhook_event_free(ev);
	pcref__dealloc(url);
	pcref__dealloc(sig);
	return rc;
}

int pcref_webhook_verify(pcref_webhook_event **out, pcref_webhook_verifier *v,
                         const pcref_webhook_delivery *d)
{
	int rc;
	ERR_set_mark();
	rc = verify(out, v, d);
	ERR_pop_to_mark();
	return rc;
}
