/* The Connection handle: options and their security rules, lifetime
 * (reference counted), counters, and the small utilities of the net layer
 * (clocks, sleeping, randomness, URLs). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "net.h"
#include "pcref/version.h"

/* ---- library-wide set-up (called by pcref_init/pcref_shutdown) ------------ */

int pcref__net_global_init(void)
{
	CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (rc != CURLE_OK)
		return pcref__error(PCREF_ERROR, "pcref_init: libcurl failed to initialise (%s)",
		                    curl_easy_strerror(rc));
	return PCREF_OK;
}

void pcref__net_global_cleanup(void)
{
	curl_global_cleanup();
}

/* ---- clocks, sleeping, randomness, secrets ----------------------------------- */

static int64_t clock_ms(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t pcref__net_mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

int64_t pcref__net_wall_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

void pcref__net_sleep_ms(int64_t ms)
{
	struct timespec req, rem;
	if (ms <= 0)
		return;
	req.tv_sec = (time_t)(ms / 1000);
	req.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&req, &rem) != 0 && errno == EINTR)
		req = rem;
}

void pcref__net_random(void *buf, size_t len)
{
	unsigned char *p = buf;
	size_t done = 0;
	while (done < len) {
		ssize_t n = getrandom(p + done, len - done, 0);
		if (n > 0) {
			done += (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else {
			break;
		}
	}
	if (done < len) {
		/* getrandom() unavailable (old kernel, seccomp): the device, then
		 * the clock, which is enough for request ids and jitter. */
		int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			while (done < len) {
				ssize_t n = read(fd, p + done, len - done);
				if (n <= 0 && errno != EINTR)
					break;
				if (n > 0)
					done += (size_t)n;
			}
			close(fd);
		}
		for (uint64_t x = (uint64_t)pcref__net_mono_ms() ^ ((uint64_t)getpid() << 32); done < len; done++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			p[done] = (unsigned char)(x >> 56);
		}
	}
}

uint64_t pcref__net_random_upto(uint64_t bound)
{
	uint64_t r;
	if (bound == 0)
		return 0;
	pcref__net_random(&r, sizeof(r));
	if (bound == UINT64_MAX)
		return r;
	return r % (bound + 1);   /* the bias is negligible for delays */
}

void pcref__guid(char out[37])
{
	unsigned char b[16];
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	pcref__net_random(b, sizeof(b));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);   /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);   /* RFC 4122 variant */
	for (size_t i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 15];
	}
	out[o] = '\0';
}

void pcref__net_wipe(void *ptr, size_t len)
{
	volatile unsigned char *p = ptr;
	while (p && len--)
		*p++ = 0;
}

void pcref__net_free_secret(char *s)
{
	if (s) {
		pcref__net_wipe(s, strlen(s));
		pcref__dealloc(s);
	}
}

/* ---- URLs ---------------------------------------------------------------------- */

int pcref__net_host_is_loopback(const char *host)
{
	char buf[64];
	size_t len;
	unsigned char addr[16];
	if (!host)
		return 0;
	len = strlen(host);
	if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
		if (len - 2 >= sizeof(buf))
			return 0;
		memcpy(buf, host + 1, len - 2);
		buf[len - 2] = '\0';
		host = buf;
	}
	if (strcasecmp(host, "localhost") == 0 || strcasecmp(host, "localhost.") == 0)
		return 1;
	if (inet_pton(AF_INET, host, addr) == 1)
		return addr[0] == 127;
	if (inet_pton(AF_INET6, host, addr) == 1) {
		static const unsigned char v6_loop[16] = { [15] = 1 };
		static const unsigned char v4_mapped[12] = { [10] = 0xff, [11] = 0xff };
		if (memcmp(addr, v6_loop, 16) == 0)
			return 1;
		return memcmp(addr, v4_mapped, 12) == 0 && addr[12] == 127;
	}
	return 0;
}

void pcref__net_url_dispose(pcref__net_url *u)
{
	pcref__dealloc(u->scheme);
	pcref__dealloc(u->host);
	memset(u, 0, sizeof(*u));
}

static char *url_part(CURLU *h, CURLUPart part, unsigned int flags)
{
	char *value = NULL, *copy;
	if (curl_url_get(h, part, &value, flags) != CURLUE_OK || !value)
		return NULL;
	copy = pcref__strdup(value);
	curl_free(value);
	return copy;
}

static int url_has(CURLU *h, CURLUPart part)
{
	char *value = NULL;
	int has = curl_url_get(h, part, &value, 0) == CURLUE_OK && value && *value;
	curl_free(value);
	return has;
}

int pcref__net_url_parse(pcref__net_url *out, const char *url, const char *what)
{
	CURLU *h;
	char *port;
	int rc = PCREF_OK;
	memset(out, 0, sizeof(*out));
	if (!url || !*url)
		return pcref__error(PCREF_EINVALID, "%s is required", what);
	h = curl_url();
	if (!h)
		return pcref__error_nomem();
	if (curl_url_set(h, CURLUPART_URL, url, 0) != CURLUE_OK) {
		rc = pcref__error(PCREF_EINVALID,
			"%s '%s' is not an absolute URL: write it as https://host[:port][/path]", what, url);
		goto done;
	}
	out->scheme = url_part(h, CURLUPART_SCHEME, 0);
	out->host = url_part(h, CURLUPART_HOST, 0);
	port = url_part(h, CURLUPART_PORT, CURLU_DEFAULT_PORT);
	if (!out->scheme || !out->host || !port) {
		pcref__dealloc(port);
		rc = pcref__error(PCREF_EINVALID, "%s '%s' has no host: write it as https://host[:port][/path]",
		                  what, url);
		goto done;
	}
	out->port = strtol(port, NULL, 10);
	pcref__dealloc(port);
	for (char *c = out->scheme; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	if (strcmp(out->scheme, "https") != 0 && strcmp(out->scheme, "http") != 0) {
		rc = pcref__error(PCREF_EINVALID, "%s must be an https:// URL, not %s://", what, out->scheme);
		goto done;
	}
	if (url_has(h, CURLUPART_USER) || url_has(h, CURLUPART_PASSWORD)) {
		/* do not echo the URL: it carries a credential */
		rc = pcref__error(PCREF_EINVALID,
			"%s must not carry user:password@ — give credentials in the connection options", what);
		goto done;
	}
	out->loopback = pcref__net_host_is_loopback(out->host);
done:
	curl_url_cleanup(h);
	if (rc < 0)
		pcref__net_url_dispose(out);
	return rc;
}

int pcref__net_url_same_origin(const pcref__net_url *a, const pcref__net_url *b)
{
	return a->scheme && b->scheme && strcmp(a->scheme, b->scheme) == 0 &&
	       strcasecmp(a->host, b->host) == 0 && a->port == b->port;
}

int pcref__net_url_check_secure(const pcref__net_url *u, const char *url, const char *what,
                                int verify_tls)
{
	if (strcmp(u->scheme, "http") == 0 && !u->loopback)
		return pcref__error(PCREF_EINVALID,
			"%s '%s' uses plain http:// to %s, which is only allowed for loopback addresses "
			"(the local emulators): use https://", what, url, u->host);
	if (verify_tls < 0 && !u->loopback)
		return pcref__error(PCREF_EINVALID,
			"verify_tls = -1 (no certificate check) is only allowed for loopback hosts, and %s "
			"points at %s: keep verification on and give the trust anchor with ca_file or ca_path",
			what, u->host);
	return PCREF_OK;
}

/* ---- options ---------------------------------------------------------------------- */

int pcref_connection_options_init(pcref_connection_options *options, unsigned int version)
{
	if (!options)
		return pcref__error(PCREF_EINVALID, "pcref_connection_options_init: options is NULL");
	if (version == 0 || version > PCREF_CONNECTION_OPTIONS_VERSION)
		return pcref__error(PCREF_EVERSION,
			"pcref_connection_options_init: version %u is not known to libpcref %s (it knows up to %d)",
			version, pcref_version_string(), PCREF_CONNECTION_OPTIONS_VERSION);
	memset(options, 0, sizeof(*options));
	options->version = version;
	return PCREF_OK;
}

static const char *auth_name(int32_t auth)
{
	switch (auth) {
	case PCREF_AUTH_NONE: return "PCREF_AUTH_NONE";
	case PCREF_AUTH_STATIC: return "PCREF_AUTH_STATIC";
	case PCREF_AUTH_PASSWORD: return "PCREF_AUTH_PASSWORD";
	case PCREF_AUTH_REFRESH_TOKEN: return "PCREF_AUTH_REFRESH_TOKEN";
	case PCREF_AUTH_CLIENT_CREDENTIALS: return "PCREF_AUTH_CLIENT_CREDENTIALS";
	case PCREF_AUTH_CALLBACK: return "PCREF_AUTH_CALLBACK";
	default: return "?";
	}
}

static int empty(const char *s)
{
	return !s || !*s;
}

/* The options each grant needs, named in the message when missing. */
static int check_credentials(const pcref_connection_options *o)
{
	const char *missing[6];
	size_t n = 0;
	char list[160] = "";
	switch (o->auth) {
	case PCREF_AUTH_NONE:
		return PCREF_OK;
	case PCREF_AUTH_STATIC:
		if (empty(o->token))
			missing[n++] = "token";
		break;
	case PCREF_AUTH_PASSWORD:
		if (empty(o->token_url)) missing[n++] = "token_url";
		if (empty(o->client_id)) missing[n++] = "client_id";
		if (empty(o->username)) missing[n++] = "username";
		if (empty(o->password)) missing[n++] = "password";
		break;
	case PCREF_AUTH_REFRESH_TOKEN:
		if (empty(o->token_url)) missing[n++] = "token_url";
		if (empty(o->client_id)) missing[n++] = "client_id";
		if (empty(o->refresh_token)) missing[n++] = "refresh_token";
		break;
	case PCREF_AUTH_CLIENT_CREDENTIALS:
		if (empty(o->token_url)) missing[n++] = "token_url";
		if (empty(o->client_id)) missing[n++] = "client_id";
		if (empty(o->client_secret)) missing[n++] = "client_secret";
		break;
	case PCREF_AUTH_CALLBACK:
		if (!o->token_cb)
			missing[n++] = "token_cb";
		break;
	default:
		return pcref__error(PCREF_EINVALID,
			"pcref_connection_new: auth %d is not one of the PCREF_AUTH_* kinds (0..%d)",
			(int)o->auth, PCREF_AUTH_CALLBACK);
	}
	if (n == 0)
		return PCREF_OK;
	for (size_t i = 0; i < n; i++) {
		strcat(list, i == 0 ? "" : (i + 1 == n ? " and " : ", "));
		strcat(list, missing[i]);
	}
	return pcref__error(PCREF_EINVALID, "pcref_connection_new: %s needs %s (not set)",
	                    auth_name(o->auth), list);
}

static int check_number(int64_t value, const char *name)
{
	if (value < 0)
		return pcref__error(PCREF_EINVALID,
			"pcref_connection_new: %s is %lld; give a positive number, or 0 for the default",
			name, (long long)value);
	return PCREF_OK;
}

static int64_t or_default(int64_t value, int64_t def)
{
	return value > 0 ? value : def;
}

static int dup_opt(char **dst, const char *src)
{
	*dst = NULL;
	if (!src)
		return PCREF_OK;
	if (!(*dst = pcref__strdup(src)))
		return pcref__error_nomem();
	return PCREF_OK;
}

static void connection_destroy(pcref_connection *c)
{
	if (c->easy)
		curl_easy_cleanup(c->easy);
	pcref__dealloc(c->base_url);
	pcref__dealloc(c->service);
	pcref__net_url_dispose(&c->base);
	pcref__net_url_dispose(&c->token_origin);
	pcref__net_url_dispose(&c->instance_origin);
	pcref__net_free_secret(c->static_token);
	pcref__dealloc(c->token_url);
	pcref__dealloc(c->client_id);
	pcref__net_free_secret(c->client_secret);
	pcref__dealloc(c->username);
	pcref__net_free_secret(c->password);
	pcref__net_free_secret(c->refresh_token);
	pcref__net_free_secret(c->access_token);
	pcref__dealloc(c->instance_url);
	pcref__dealloc(c->resource);
	pcref__dealloc(c->scope);
	pcref__dealloc(c->ca_file);
	pcref__dealloc(c->ca_path);
	pcref__dealloc(c->proxy);
	pcref__dealloc(c);
}

int pcref_connection_new(pcref_connection **out, const pcref_connection_options *o)
{
	pcref_connection *c;
	int rc;
	size_t len;

	if (!out)
		return pcref__error(PCREF_EINVALID, "pcref_connection_new: out is NULL");
	*out = NULL;
	if (!o)
		return pcref__error(PCREF_EINVALID, "pcref_connection_new: options is NULL");
	if (o->version == 0 || o->version > PCREF_CONNECTION_OPTIONS_VERSION)
		return pcref__error(PCREF_EVERSION,
			"pcref_connection_new: options version %u is not known to libpcref %s (it knows up to %d); "
			"initialise them with PCREF_CONNECTION_OPTIONS_INIT or pcref_connection_options_init()",
			o->version, pcref_version_string(), PCREF_CONNECTION_OPTIONS_VERSION);
	if (!pcref__initialised())
		return pcref__error(PCREF_ESTATE, "pcref_connection_new: call pcref_init() first");
	if (empty(o->base_url))
		return pcref__error(PCREF_EINVALID,
			"pcref_connection_new: base_url is required (e.g. https://api.partner.microsoft.com)");
	if (o->verify_tls < -1 || o->verify_tls > 1)
		return pcref__error(PCREF_EINVALID,
			"pcref_connection_new: verify_tls is %d; use 1 (verify, the default), or -1 for a loopback emulator",
			(int)o->verify_tls);
	if ((rc = check_credentials(o)) < 0)
		return rc;
	if ((rc = check_number(o->connect_timeout_ms, "connect_timeout_ms")) < 0 ||
	    (rc = check_number(o->timeout_ms, "timeout_ms")) < 0 ||
	    (rc = check_number(o->retry_max, "retry_max")) < 0 ||
	    (rc = check_number(o->retry_deadline_ms, "retry_deadline_ms")) < 0 ||
	    (rc = check_number(o->retry_base_ms, "retry_base_ms")) < 0 ||
	    (rc = check_number(o->retry_after_max_ms, "retry_after_max_ms")) < 0 ||
	    (rc = check_number(o->max_response_bytes, "max_response_bytes")) < 0)
		return rc;

	if (!(c = pcref__calloc(1, sizeof(*c))))
		return pcref__error_nomem();
	atomic_init(&c->refs, 1u);
	c->auth = o->auth;
	c->verify_tls = o->verify_tls < 0 ? 0 : 1;

	if ((rc = pcref__net_url_parse(&c->base, o->base_url, "base_url")) < 0 ||
	    (rc = pcref__net_url_check_secure(&c->base, o->base_url, "base_url", o->verify_tls)) < 0)
		goto fail;
	if (strchr(o->base_url, '?') || strchr(o->base_url, '#')) {
		rc = pcref__error(PCREF_EINVALID,
			"pcref_connection_new: base_url '%s' must not carry a query or fragment; paths are appended to it",
			o->base_url);
		goto fail;
	}
	if (o->auth == PCREF_AUTH_PASSWORD || o->auth == PCREF_AUTH_REFRESH_TOKEN ||
	    o->auth == PCREF_AUTH_CLIENT_CREDENTIALS) {
		if ((rc = pcref__net_url_parse(&c->token_origin, o->token_url, "token_url")) < 0 ||
		    (rc = pcref__net_url_check_secure(&c->token_origin, o->token_url, "token_url",
		                                      o->verify_tls)) < 0)
			goto fail;
	}

	if ((rc = dup_opt(&c->base_url, o->base_url)) < 0 ||
	    (rc = dup_opt(&c->service, empty(o->service_name) ? c->base.host : o->service_name)) < 0 ||
	    (rc = dup_opt(&c->static_token, o->auth == PCREF_AUTH_STATIC ? o->token : NULL)) < 0 ||
	    (rc = dup_opt(&c->token_url, o->token_url)) < 0 ||
	    (rc = dup_opt(&c->client_id, o->client_id)) < 0 ||
	    (rc = dup_opt(&c->client_secret, o->client_secret)) < 0 ||
	    (rc = dup_opt(&c->username, o->username)) < 0 ||
	    (rc = dup_opt(&c->password, o->password)) < 0 ||
	    (rc = dup_opt(&c->refresh_token, o->refresh_token)) < 0 ||
	    (rc = dup_opt(&c->resource, empty(o->resource) ? NULL : o->resource)) < 0 ||
	    (rc = dup_opt(&c->scope, empty(o->scope) ? NULL : o->scope)) < 0 ||
	    (rc = dup_opt(&c->ca_file, empty(o->ca_file) ? NULL : o->ca_file)) < 0 ||
	    (rc = dup_opt(&c->ca_path, empty(o->ca_path) ? NULL : o->ca_path)) < 0 ||
	    (rc = dup_opt(&c->proxy, o->proxy)) < 0)
		goto fail;
	len = strlen(c->base_url);
	while (len > 0 && c->base_url[len - 1] == '/')
		c->base_url[--len] = '\0';

	c->token_cb = o->token_cb;
	c->token_payload = o->token_payload;
	c->connect_timeout_ms = or_default(o->connect_timeout_ms, 10000);
	c->timeout_ms = or_default(o->timeout_ms, 60000);
	c->retry_max = (int)or_default(o->retry_max, 5);
	c->retry_deadline_ms = or_default(o->retry_deadline_ms, 120000);
	c->retry_base_ms = or_default(o->retry_base_ms, 500);
	c->retry_after_max_ms = or_default(o->retry_after_max_ms, 60000);
	c->max_response_bytes = or_default(o->max_response_bytes, (int64_t)64 << 20);
	snprintf(c->user_agent, sizeof(c->user_agent), "libpcref/%s", pcref_version_string());
	c->stats.version = PCREF_CONNECTION_STATS_VERSION;

	if (!(c->easy = curl_easy_init())) {
		rc = pcref__error(PCREF_ENOMEM, "pcref_connection_new: libcurl could not create a handle");
		goto fail;
	}
	*out = c;
	return PCREF_OK;
fail:
	connection_destroy(c);
	return rc;
}

pcref_connection *pcref__connection_ref(pcref_connection *conn)
{
	if (conn)
		atomic_fetch_add(&conn->refs, 1u);
	return conn;
}

void pcref_connection_free(pcref_connection *conn)
{
	if (conn && atomic_fetch_sub(&conn->refs, 1u) == 1u)
		connection_destroy(conn);
}

const char *pcref_connection_base_url(const pcref_connection *conn)
{
	return conn ? conn->base_url : NULL;
}

const char *pcref__connection_service(const pcref_connection *conn)
{
	return conn->service;
}

const char *pcref__connection_instance_url(const pcref_connection *conn)
{
	return conn->instance_url;
}

int pcref_connection_stats_get(const pcref_connection *conn, pcref_connection_stats *stats)
{
	unsigned int version;
	if (!conn || !stats)
		return pcref__error(PCREF_EINVALID, "pcref_connection_stats_get: %s is NULL",
		                    conn ? "stats" : "conn");
	version = stats->version;
	if (version == 0 || version > PCREF_CONNECTION_STATS_VERSION)
		return pcref__error(PCREF_EVERSION,
			"pcref_connection_stats_get: stats version %u is not known to libpcref %s (it knows up to %d); "
			"set it to PCREF_CONNECTION_STATS_VERSION",
			version, pcref_version_string(), PCREF_CONNECTION_STATS_VERSION);
	/* version 1 is the whole struct; later versions copy their prefix */
	*stats = conn->stats;
	stats->version = version;
	return PCREF_OK;
}

void pcref_connection_stats_reset(pcref_connection *conn)
{
	if (!conn)
		return;
	memset(&conn->stats, 0, sizeof(conn->stats));
	conn->stats.version = PCREF_CONNECTION_STATS_VERSION;
}

void pcref_connection_token_invalidate(pcref_connection *conn)
{
	if (conn)
		pcref__net_token_forget(conn);
}

int pcref__http_url_check(const char *url, const char *what)
{
	pcref__net_url u;
	int rc = pcref__net_url_parse(&u, url, what);
	if (rc == PCREF_OK)
		rc = pcref__net_url_check_secure(&u, url, what, 1);
	pcref__net_url_dispose(&u);
	return rc;
}

int pcref__http_follow_link(pcref_connection *conn, const char *link, char **out)
{
	pcref__net_url u;
	pcref__buf url = PCREF__BUF_INIT;
	const char *rest;
	int rc;
	if ((rc = pcref__net_url_parse(&u, link, "the next-page link")) < 0)
		return pcref__error_prefix(PCREF_EPROTOCOL, "%s sent an unusable link", conn->service);
	if (strcasecmp(u.host, conn->base.host) != 0) {
		rc = pcref__error(PCREF_EPROTOCOL,
			"%s sent a next-page link to another host (%s, not %s); libpcref does not send the "
			"token there", conn->service, u.host, conn->base.host);
		pcref__net_url_dispose(&u);
		return rc;
	}
	pcref__net_url_dispose(&u);
	rest = strstr(link, "://") + 3;
	rest += strcspn(rest, "/?#");
	pcref__buf_printf(&url, "%s://%s:%ld", conn->base.scheme, conn->base.host, conn->base.port);
	pcref__buf_puts(&url, *rest == '/' ? "" : "/");
	pcref__buf_puts(&url, rest);
	return pcref__buf_detach(&url, out, NULL);
}
