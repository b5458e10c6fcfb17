/* Webhook events and delivery verification (partner-center-api.md §5.2-5.4).
 *
 * The PKI is made with the openssl command-line tool once per run (an
 * unchecked fixture) in a temporary directory: a root "O=Microsoft
 * Corporation" and a leaf it issued, a self-signed rogue "O=Not Microsoft",
 * and a leaf issued by a root whose organisation is "Microsoft Corporation
 * Evil" (trusted, so that only the exact issuer check can refuse it). Bodies
 * are signed with `openssl dgst -sha256 -sign`. Certificates reach the
 * verifier through an injected fetcher that serves those files and counts
 * its calls, so no network is needed. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "partnercenter/webhook_internal.h"
#include "pcref/pcref.h"
#include "testutil.h"

#define CERT_BASE "https://" PCREF_WEBHOOK_CERTIFICATE_HOST "/cert/"
#define GOOD_URL CERT_BASE "leaf.der"
#define GOOD_PEM_URL CERT_BASE "leaf.pem"
#define ROGUE_URL CERT_BASE "rogue.der"
#define TRAP_URL CERT_BASE "trap.der"
#define REFERRAL_URI "https://api.partnercenter.microsoft.com/engagements/v1/referrals/"

static char pki[PATH_MAX];

/* ---- helpers ---------------------------------------------------------------- */

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_FAILURE);
}

/* Run a shell command in the PKI directory; a failure ends the run. */
static void sh(const char *fmt, ...)
{
	char cmd[4096];
	int n;
	va_list ap;
	n = snprintf(cmd, sizeof(cmd), "cd '%s' && ( ", pki);
	va_start(ap, fmt);
	vsnprintf(cmd + n, sizeof(cmd) - (size_t)n, fmt, ap);
	va_end(ap);
	strncat(cmd, " ) >>openssl.log 2>&1", sizeof(cmd) - strlen(cmd) - 1);
	if (system(cmd) != 0)
		die("test PKI: command failed (see %s/openssl.log): %s", pki, cmd);
}

static void make_root(const char *name, const char *subject)
{
	sh("openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 30 -keyout %s.key -out %s.pem "
	   "-subj '%s' -addext basicConstraints=critical,CA:TRUE "
	   "-addext keyUsage=critical,keyCertSign,cRLSign", name, name, subject);
}

static void make_leaf(const char *name, const char *issuer, const char *subject)
{
	static int serial = 0x1001;
	sh("openssl req -newkey rsa:2048 -nodes -keyout %s.key -out %s.csr -subj '%s'",
	   name, name, subject);
	sh("openssl x509 -req -in %s.csr -CA %s.pem -CAkey %s.key -set_serial %d -days 30 "
	   "-sha256 -extfile leaf.ext -out %s.pem", name, issuer, issuer, serial++, name);
	sh("openssl x509 -in %s.pem -outform DER -out %s.der", name, name);
}

/* Unchecked fixture: runs in the runner process, once. */
static void pki_setup(void)
{
	if (pki[0])
		return;
	snprintf(pki, sizeof(pki), "%s/pcref-webhook-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(pki))
		die("mkdtemp %s: %s", pki, strerror(errno));
	make_root("ca", "/O=Microsoft Corporation/CN=pcref Test Root CA");
	sh("printf 'basicConstraints=critical,CA:FALSE\\nkeyUsage=critical,digitalSignature\\n"
	   "subjectAltName=DNS:pcnotifications-dispatch.microsoft.com\\n' > leaf.ext");
	make_leaf("leaf", "ca", "/O=Microsoft Corporation/CN=pcnotifications-dispatch.microsoft.com");
	sh("openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 30 -keyout rogue.key -out rogue.pem "
	   "-subj '/O=Not Microsoft/CN=pcnotifications-dispatch.microsoft.com'");
	sh("openssl x509 -in rogue.pem -outform DER -out rogue.der");
	make_root("evilca", "/O=Microsoft Corporation Evil/CN=Evil Root");
	make_leaf("trap", "evilca", "/O=Microsoft Corporation/CN=pcnotifications-dispatch.microsoft.com");
	sh("cat ca.pem evilca.pem > anchors.pem");
	sh("printf 'not a certificate' > garbage.der");
	sh("printf 'no certificates in here\\n' > empty.pem");
}

static void pki_remove(void)
{
	char cmd[PATH_MAX + 16];
	if (!pki[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", pki);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", pki);
}

static const char *pki_file(const char *name)
{
	static char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/%s", pki, name);
	return path;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Partner Center's date-time form: 7 fractional digits and +00:00. */
static void iso7(int64_t ms, char *out, size_t size)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03d4567+00:00", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

/* An event body about referral `id`, dated `when` (ms), in PascalCase
 * (camel = 0) or camelCase (camel = 1). */
static char *event_body(int camel, const char *id, int64_t when)
{
	static char bodies[16][512];
	static int next;
	char *b = bodies[next++ % 16], date[64];
	iso7(when, date, sizeof(date));
	if (camel)
		snprintf(b, 512,
		         "{\"eventName\":\"referral-created\",\"resourceUri\":\"" REFERRAL_URI "%s\","
		         "\"resourceName\":\"referral\",\"auditUri\":null,\"resourceChangeUtcDate\":\"%s\"}",
		         id, date);
	else
		snprintf(b, 512,
		         "{\"EventName\":\"referral-updated\",\"ResourceUri\":\"" REFERRAL_URI "%s\","
		         "\"ResourceName\":\"referral\",\"AuditUri\":null,\"ResourceChangeUtcDate\":\"%s\"}",
		         id, date);
	return b;
}

/* Base64 RSA-SHA256 signature of body with <key>.key, by the openssl tool. */
static char *sign(const char *key, const char *body, size_t len)
{
	static char sig[64][1024];
	static int next, files;
	char path[PATH_MAX + 64], cmd[3 * PATH_MAX], *out = sig[next++ % 64];
	FILE *f, *p;
	size_t n;
	snprintf(path, sizeof(path), "%s/body-%ld-%d", pki, (long)getpid(), files++);
	ck_assert_ptr_nonnull(f = fopen(path, "wb"));
	ck_assert_uint_eq(fwrite(body, 1, len, f), len);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "openssl dgst -sha256 -sign '%s/%s.key' '%s' | openssl base64 -A",
	         pki, key, path);
	ck_assert_ptr_nonnull(p = popen(cmd, "r"));
	n = fread(out, 1, 1023, p);
	ck_assert_int_eq(pclose(p), 0);
	unlink(path);
	while (n && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		n--;
	out[n] = '\0';
	ck_assert_uint_gt(n, 300); /* 256 bytes of RSA-2048 signature */
	return out;
}

static char *auth_header(const char *b64)
{
	static char h[64][1100];
	static int next;
	char *out = h[next++ % 64];
	snprintf(out, 1100, "Signature %s", b64);
	return out;
}

/* The injected certificate fetch: serves <pki>/<last path segment>. */
typedef struct fake_fetch {
	int calls;
	char last_url[512];
} fake_fetch;

static fake_fetch fetched;

static int serve_file(const char *url, pcref__buf *out, void *ctx)
{
	fake_fetch *f = ctx;
	const char *name = strrchr(url, '/') + 1;
	char *data;
	long size;
	FILE *fp;
	f->calls++;
	snprintf(f->last_url, sizeof(f->last_url), "%s", url);
	if (strcmp(name, "down.der") == 0)
		return pcref__error(PCREF_ENETWORK, "cannot connect to the certificate host: connection refused");
	if (!(fp = fopen(pki_file(name), "rb")))
		return pcref__error_http(PCREF_ENOTFOUND, 404, NULL, NULL,
		                         "the certificate host has no %s (404)", name);
	fseek(fp, 0, SEEK_END);
	size = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	data = malloc((size_t)size + 1);
	ck_assert_uint_eq(fread(data, 1, (size_t)size, fp), (size_t)size);
	fclose(fp);
	pcref__buf_add(out, data, (size_t)size);
	free(data);
	return PCREF_OK;
}

/* A settable clock for the cache tests. */
static int64_t fake_now;
static int64_t fake_clock(void *ctx)
{
	(void)ctx;
	return fake_now;
}

static pcref_webhook_verifier *verifier_with(pcref_webhook_options *o)
{
	pcref_webhook_verifier *v = NULL;
	if (!o->trust_anchors_file)
		o->trust_anchors_file = pki_file("anchors.pem");
	ck_assert_msg(pcref_webhook_verifier_new(&v, o) == PCREF_OK, "%s", pcref_error_last()->message);
	memset(&fetched, 0, sizeof(fetched));
	pcref__webhook_verifier_set_fetch(v, serve_file, &fetched);
	return v;
}

static pcref_webhook_verifier *verifier(void)
{
	pcref_webhook_options o = PCREF_WEBHOOK_OPTIONS_INIT;
	return verifier_with(&o);
}

static pcref_webhook_delivery delivery(const char *body, const char *authorization, const char *url)
{
	pcref_webhook_delivery d = PCREF_WEBHOOK_DELIVERY_INIT;
	d.body = body;
	d.body_len = body ? strlen(body) : 0;
	d.authorization = authorization;
	d.certificate_url = url;
	d.signature_algorithm = "rsa-sha256";
	return d;
}

/* A delivery of `body` signed with <key>.key pointing at `url`. */
static pcref_webhook_delivery signed_delivery(const char *body, const char *key, const char *url)
{
	return delivery(body, auth_header(sign(key, body, strlen(body))), url);
}

static void assert_verified(pcref_webhook_verifier *v, const pcref_webhook_delivery *d)
{
	pcref_webhook_event *ev = NULL;
	int rc = pcref_webhook_verify(&ev, v, d);
	ck_assert_msg(rc == PCREF_OK, "verify: %d %s", rc, pcref_error_last()->message);
	ck_assert_ptr_nonnull(ev);
	pcref_webhook_event_free(ev);
}

/* Assert failure with code, message fragment and the status to answer. */
#define assert_refused(v, d, code, needle, status) do { \
	pcref_webhook_event *ev_ = (pcref_webhook_event *)1; \
	tu_assert_error(pcref_webhook_verify(&ev_, (v), (d)), (code), (needle)); \
	ck_assert_ptr_null(ev_); \
	ck_assert_int_eq(pcref_error_last()->http_status, (status)); \
} while (0)

/* ---- event parsing ------------------------------------------------------------ */

static pcref_webhook_event *parse(const char *json)
{
	pcref_webhook_event *ev = NULL;
	ck_assert_msg(pcref_webhook_event_parse(&ev, json, strlen(json)) == PCREF_OK, "%s",
	              pcref_error_last()->message);
	return ev;
}

START_TEST(event_pascal_case_sample)
{
	/* the §5.3 sample */
	pcref_webhook_event *ev = parse(
		"{\"EventName\":\"referral-updated\",\"ResourceUri\":\"" REFERRAL_URI
		"61c65491-2f2c-461a-84b4-3654499bc1d9\",\"ResourceName\":\"referral\",\"AuditUri\":null,"
		"\"ResourceChangeUtcDate\":\"2018-02-17T00:05:39.5485487+00:00\"}");
	ck_assert_str_eq(pcref_webhook_event_name(ev), "referral-updated");
	ck_assert_str_eq(pcref_webhook_event_resource_uri(ev), REFERRAL_URI "61c65491-2f2c-461a-84b4-3654499bc1d9");
	ck_assert_str_eq(pcref_webhook_event_resource_name(ev), "referral");
	ck_assert_ptr_null(pcref_webhook_event_audit_uri(ev));
	ck_assert_int_eq(pcref_webhook_event_change_time(ev), 1518825939548LL);
	ck_assert_str_eq(pcref_webhook_event_referral_id(ev), "61c65491-2f2c-461a-84b4-3654499bc1d9");
	pcref_webhook_event_free(ev);
}
END_TEST

START_TEST(event_camel_case_swagger)
{
	pcref_webhook_event *ev = parse(
		"{\"eventName\":\"related-referral-created\",\"resourceUri\":\"" REFERRAL_URI "abc-123\","
		"\"resourceName\":\"referral\",\"auditUri\":\"https://api.partnercenter.microsoft.com/"
		"auditactivity/v1/auditrecords/a1\",\"resourceChangeUtcDate\":\"2024-11-14T10:00:00.1234567+00:00\","
		"\"somethingNew\":[1,2]}");
	ck_assert_str_eq(pcref_webhook_event_name(ev), "related-referral-created");
	ck_assert_str_eq(pcref_webhook_event_referral_id(ev), "abc-123");
	ck_assert_str_eq(pcref_webhook_event_audit_uri(ev),
	                 "https://api.partnercenter.microsoft.com/auditactivity/v1/auditrecords/a1");
	ck_assert_int_eq(pcref_webhook_event_change_time(ev), 1731578400123LL);
	pcref_webhook_event_free(ev);
}
END_TEST

START_TEST(event_audit_url_spelling)
{
	pcref_webhook_event *ev = parse(
		"{\"EventName\":\"referral-created\",\"AuditUrl\":\"https://api.partnercenter.microsoft.com/"
		"auditactivity/v1/auditrecords/77\"}");
	ck_assert_str_eq(pcref_webhook_event_audit_uri(ev),
	                 "https://api.partnercenter.microsoft.com/auditactivity/v1/auditrecords/77");
	ck_assert_ptr_null(pcref_webhook_event_resource_uri(ev));
	ck_assert_ptr_null(pcref_webhook_event_referral_id(ev));
	ck_assert_int_eq(pcref_webhook_event_change_time(ev), PCREF_TIME_NONE);
	pcref_webhook_event_free(ev);
}
END_TEST

START_TEST(event_referral_id_extraction)
{
	static const struct { const char *uri, *name, *id; } cases[] = {
		{ REFERRAL_URI "8ae4c5e9-0a1b-4c2d-9e3f-405162738495", "referral", "8ae4c5e9-0a1b-4c2d-9e3f-405162738495" },
		{ "https://api.partner.microsoft.com/v1.0/engagements/referrals/r-1", "referral", "r-1" },
		{ REFERRAL_URI "r-2?api-version=1", NULL, "r-2" },
		{ "HTTPS://API.PARTNERCENTER.MICROSOFT.COM/ENGAGEMENTS/V1/REFERRALS/R-3", "Referral", "R-3" },
		{ REFERRAL_URI, "referral", NULL },                   /* no id */
		{ REFERRAL_URI "a%2Fb", "referral", NULL },            /* not URL-safe */
		{ REFERRAL_URI "r-4/notes", "referral", NULL },        /* not the referral itself */
		{ "https://api.partnercenter.microsoft.com/engagements/v1/leads/l-1", "referral", NULL },
		{ REFERRAL_URI "r-5", "lead", NULL },                  /* says it is not a referral */
	};
	char json[512];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pcref_webhook_event *ev;
		if (cases[i].name)
			snprintf(json, sizeof(json), "{\"EventName\":\"referral-updated\",\"ResourceUri\":\"%s\","
			         "\"ResourceName\":\"%s\"}", cases[i].uri, cases[i].name);
		else
			snprintf(json, sizeof(json), "{\"EventName\":\"referral-updated\",\"ResourceUri\":\"%s\"}",
			         cases[i].uri);
		ev = parse(json);
		if (cases[i].id)
			ck_assert_msg(pcref_webhook_event_referral_id(ev) &&
			              strcmp(pcref_webhook_event_referral_id(ev), cases[i].id) == 0,
			              "%s: got %s", cases[i].uri, pcref_webhook_event_referral_id(ev));
		else
			ck_assert_msg(pcref_webhook_event_referral_id(ev) == NULL, "%s: got %s", cases[i].uri,
			              pcref_webhook_event_referral_id(ev));
		pcref_webhook_event_free(ev);
	}
}
END_TEST

START_TEST(event_test_created_is_not_a_referral)
{
	pcref_webhook_event *ev = parse(
		"{\"EventName\":\"test-created\",\"ResourceUri\":\"https://api.partnercenter.microsoft.com/"
		"webhooks/v1/registration/validationEvents/04af2aea-d413-42db-824e-f328001484d1\","
		"\"ResourceName\":\"test\",\"AuditUri\":null,"
		"\"ResourceChangeUtcDate\":\"2017-11-16T16:19:06.3520276+00:00\"}");
	ck_assert_str_eq(pcref_webhook_event_name(ev), "test-created");
	ck_assert_str_eq(pcref_webhook_event_resource_name(ev), "test");
	ck_assert_ptr_null(pcref_webhook_event_referral_id(ev));
	pcref_webhook_event_free(ev);
}
END_TEST

static int parse_text(pcref_webhook_event **ev, const char *json)
{
	return pcref_webhook_event_parse(ev, json, strlen(json));
}

START_TEST(event_malformed)
{
	pcref_webhook_event *ev = (pcref_webhook_event *)1;
	const char *big;
	tu_assert_error(parse_text(&ev, "{\"EventName\":"), PCREF_EPROTOCOL, "webhook event");
	ck_assert_ptr_null(ev);
	tu_assert_error(parse_text(&ev, "[1,2]"), PCREF_EPROTOCOL, "JSON object");
	tu_assert_error(parse_text(&ev, "{\"ResourceName\":\"referral\"}"),
	                PCREF_EPROTOCOL, "no EventName");
	tu_assert_error(parse_text(&ev, "{\"EventName\":\"x\",\"ResourceUri\":5}"),
	                PCREF_EPROTOCOL, "ResourceUri should be a string");
	tu_assert_error(parse_text(&ev,
	                "{\"EventName\":\"x\",\"ResourceChangeUtcDate\":\"yesterday\"}"),
	                PCREF_EPROTOCOL, "ResourceChangeUtcDate");
	tu_assert_error(parse_text(&ev, "{\"EventName\":\"a\\u0000b\"}"),
	                PCREF_EPROTOCOL, "NUL");
	tu_assert_error(pcref_webhook_event_parse(NULL, "{}", 2), PCREF_EINVALID, "NULL");
	big = calloc(1, 2 * 1024 * 1024);
	tu_assert_error(pcref_webhook_event_parse(&ev, big, 2 * 1024 * 1024), PCREF_EINVALID, "larger");
	free((void *)big);
	/* getters accept NULL */
	ck_assert_ptr_null(pcref_webhook_event_name(NULL));
	ck_assert_ptr_null(pcref_webhook_event_referral_id(NULL));
	ck_assert_int_eq(pcref_webhook_event_change_time(NULL), PCREF_TIME_NONE);
	pcref_webhook_event_free(NULL);
}
END_TEST

/* ---- verification: accepted ------------------------------------------------------ */

START_TEST(verifies_pascal_case_with_authorization)
{
	pcref_webhook_verifier *v = verifier();
	int64_t when = now_ms() - 1000;
	char *body = event_body(0, "8ae4c5e9-0a1b-4c2d-9e3f-405162738495", when);
	pcref_webhook_delivery d = signed_delivery(body, "leaf", GOOD_URL);
	pcref_webhook_event *ev = NULL;
	ck_assert_msg(pcref_webhook_verify(&ev, v, &d) == PCREF_OK, "%s", pcref_error_last()->message);
	ck_assert_str_eq(pcref_webhook_event_name(ev), "referral-updated");
	ck_assert_str_eq(pcref_webhook_event_referral_id(ev), "8ae4c5e9-0a1b-4c2d-9e3f-405162738495");
	ck_assert_int_eq(pcref_webhook_event_change_time(ev), when);
	ck_assert_int_eq(fetched.calls, 1);
	ck_assert_str_eq(fetched.last_url, GOOD_URL);
	pcref_webhook_event_free(ev);
	pcref_webhook_verifier_free(v);
}
END_TEST

START_TEST(verifies_camel_case_with_x_ms_signature)
{
	pcref_webhook_verifier *v = verifier();
	char *body = event_body(1, "r-camel", now_ms());
	pcref_webhook_delivery d = delivery(body, NULL, GOOD_URL);
	pcref_webhook_event *ev = NULL;
	/* SignatureTokenToMsSignatureHeader: the token moves to x-ms-signature,
	 * and Authorization may carry a gateway's own credentials */
	d.x_ms_signature = auth_header(sign("leaf", body, strlen(body)));
	d.authorization = "Bearer gateway-token";
	ck_assert_msg(pcref_webhook_verify(&ev, v, &d) == PCREF_OK, "%s", pcref_error_last()->message);
	ck_assert_str_eq(pcref_webhook_event_name(ev), "referral-created");
	ck_assert_str_eq(pcref_webhook_event_referral_id(ev), "r-camel");
	pcref_webhook_event_free(ev);
	/* the bare base64 form, header values with surrounding white space, and
	 * a case-insensitive algorithm name */
	body = event_body(1, "r-bare", now_ms());
	d = delivery(body, NULL, "  " GOOD_URL " ");
	d.x_ms_signature = sign("leaf", body, strlen(body));
	d.signature_algorithm = " RSA-SHA256 ";
	assert_verified(v, &d);
	/* out may be NULL: verification only */
	body = event_body(0, "r-no-out", now_ms());
	d = signed_delivery(body, "leaf", GOOD_URL);
	ck_assert_int_eq(pcref_webhook_verify(NULL, v, &d), PCREF_OK);
	pcref_webhook_verifier_free(v);
}
END_TEST

START_TEST(verifies_pem_certificate)
{
	pcref_webhook_verifier *v = verifier();
	char *body = event_body(0, "r-pem", now_ms());
	pcref_webhook_delivery d = signed_delivery(body, "leaf", GOOD_PEM_URL);
	assert_verified(v, &d);
	pcref_webhook_verifier_free(v);
}
END_TEST

START_TEST(certificate_fetched_once_for_two_deliveries)
{
	pcref_webhook_verifier *v = verifier();
	pcref_webhook_delivery d1 = signed_delivery(event_body(0, "r-one", now_ms()), "leaf", GOOD_URL);
	pcref_webhook_delivery d2 = signed_delivery(event_body(1, "r-two", now_ms()), "leaf", GOOD_URL);
	assert_verified(v, &d1);
	assert_verified(v, &d2);
	ck_assert_int_eq(fetched.calls, 1);
	pcref_webhook_verifier_free(v);
}
END_TEST

START_TEST(certificate_cache_expires)
{
	pcref_webhook_options o = PCREF_WEBHOOK_OPTIONS_INIT;
	pcref_webhook_verifier *v;
	pcref_webhook_delivery d;
	o.certificate_cache_seconds = 60;
	v = verifier_with(&o);
	fake_now = now_ms();
	pcref__webhook_verifier_set_clock(v, fake_clock, NULL);
	d = signed_delivery(event_body(0, "r-t0", fake_now), "leaf", GOOD_URL);
	assert_verified(v, &d);
	fake_now += 59 * 1000;
	d = signed_delivery(event_body(0, "r-t59", fake_now), "leaf", GOOD_URL);
	assert_verified(v, &d);
	ck_assert_int_eq(fetched.calls, 1);
	fake_now += 2 * 1000;
	d = signed_delivery(event_body(0, "r-t61", fake_now), "leaf", GOOD_URL);
	assert_verified(v, &d);
	ck_assert_int_eq(fetched.calls, 2);
	pcref_webhook_verifier_free(v);
}
END_TEST

START_TEST(loopback_http_allowed_when_listed)
{
	static const char *const hosts[] = { "127.0.0.1:8443", "[::1]:8443", NULL };
	pcref_webhook_options o = PCREF_WEBHOOK_OPTIONS_INIT;
	pcref_webhook_verifier *v;
	pcref_webhook_delivery d;
	o.certificate_hosts = hosts;
	v = verifier_with(&o);
	d = signed_delivery(event_body(0, "r-local", now_ms()), "leaf", "http://127.0.0.1:8443/cert/leaf.der");
	assert_verified(v, &d);
	d = signed_delivery(event_body(0, "r-local6", now_ms()), "leaf", "http://[::1]:8443/cert/leaf.der");
	assert_verified(v, &d);
	ck_assert_int_eq(fetched.calls, 2);
	/* another port of the same host is not listed */
	d = signed_delivery(event_body(0, "r-local2", now_ms()), "leaf", "http://127.0.0.1:9999/cert/leaf.der");
	assert_refused(v, &d, PCREF_ESIGNATURE, "allow-list", 401);
	ck_assert_int_eq(fetched.calls, 2);
	pcref_webhook_verifier_free(v);
}
END_TEST

/* ---- verification: refused ---------------------------------------------------------- */

START_TEST(tampered_body)
{
	pcref_webhook_verifier *v = verifier();
	char body[512];
	pcref_webhook_delivery d;
	snprintf(body, sizeof(body), "%s", event_body(0, "r-tamper-1", now_ms()));
	d = signed_delivery(body, "leaf", GOOD_URL);
	*strstr(body, "tamper-1") = 'T'; /* one byte changed after signing */
	assert_refused(v, &d, PCREF_ESIGNATURE, "does not match the body", 401);
	ck_assert_int_eq(fetched.calls, 1);
	/* a refused delivery is not remembered: the genuine one still passes */
	*strstr(body, "Tamper-1") = 't';
	assert_verified(v, &d);
	pcref_webhook_verifier_free(v);
}
END_TEST

START_TEST(rogue_key_with_good_certificate)
{
	pcref_webhook_verifier *v = verifier();
	pcref_webhook_delivery d = signed_delivery(event_body(0, "r-rogue", now_ms()), "rogue", GOOD_URL);
	assert_refused(v, &d, PCREF_ESIGNATURE, "does not match the body", 401);
	pcref_webhook_verifier_free(v);
}
END_TEST

START_TEST(rogue_certificate_untrusted)
{
	pcref_webhook_verifier *v = verifier();
	pcref_webhook_delivery d = signed_delivery(event_body(0, "r-rogue", now_ms()), "rogue", ROGUE_URL);
	assert_refused(v, &d, PCREF_ESIGNATURE, "is not trusted", 401);
	ck_assert_ptr_nonnull(strstr(pcref_error_last()->message, "trust_anchors_file"));
	pcref_webhook_verifier_free(v);
}
END_TEST

START_TEST(issuer_organization_substring_trap)
{
	pcref_webhook_verifier *v = verifier();
	pcref_webhook_delivery d = signed_delivery(event_body(0, "r-trap", now_ms()), "trap", TRAP_URL);
	assert_refused(v, &d, PCREF_ESIGNATURE, "issuer organisation (O=) is 'Microsoft Corporation Evil'", 401);
	pcref_webhook_verifier_free(v);
}
END_TEST

START_TEST(issuer_organization_is_configurable)
{
	pcref_webhook_options o = PCREF_WEBHOOK_OPTIONS_INIT;
	pcref_webhook_verifier *v;
	pcref_webhook_delivery d;
	o.issuer_organization = "Microsoft Corporation Evil";
	v = verifier_with(&o);
	d = signed_delivery(event_body(0, "r-evil", now_ms()), "trap", TRAP_URL);
	assert_verified(v, &d);
	d = signed_delivery(event_body(0, "r-good", now_ms()), "leaf", GOOD_URL);
	assert_refused(v, &d, PCREF_ESIGNATURE, "is 'Microsoft Corporation', not", 401);
	pcref_webhook_verifier_free(v);
}
END_TEST

START_TEST(host_not_allow_listed_is_never_fetched)
{
	pcref_webhook_verifier *v = verifier();
	char *body = event_body(0, "r-host", now_ms());
	pcref_webhook_delivery d = signed_delivery(body, "leaf", "https://evil.example/cert/leaf.der");
	assert_refused(v, &d, PCREF_ESIGNATURE, "'evil.example'", 401);
	ck_assert_ptr_nonnull(strstr(pcref_error_last()->message, "allow-list"));
	ck_assert_ptr_nonnull(strstr(pcref_error_last()->message, "certificate_hosts"));
	/* a look-alike: user information before the real host */
	d.certificate_url = "https://" PCREF_WEBHOOK_CERTIFICATE_HOST "@evil.example/cert/leaf.der";
	assert_refused(v, &d, PCREF_ESIGNATURE, "user information", 401);
	/* the right host on a port the allow-list does not name */
	d.certificate_url = "https://" PCREF_WEBHOOK_CERTIFICATE_HOST ":8443/cert/leaf.der";
	assert_refused(v, &d, PCREF_ESIGNATURE, "allow-list", 401);
	/* a suffix is not the host */
	d.certificate_url = "https://x" PCREF_WEBHOOK_CERTIFICATE_HOST "/cert/leaf.der";
	assert_refused(v, &d, PCREF_ESIGNATURE, "allow-list", 401);
	d.certificate_url = "ftp://" PCREF_WEBHOOK_CERTIFICATE_HOST "/cert/leaf.der";
	assert_refused(v, &d, PCREF_ESIGNATURE, "not an https URL", 401);
	d.certificate_url = "https://" PCREF_WEBHOOK_CERTIFICATE_HOST "\\@evil.example/leaf.der";
	assert_refused(v, &d, PCREF_ESIGNATURE, "backslash", 401);
	ck_assert_int_eq(fetched.calls, 0);
	/* upper case and the explicit default port are the same host */
	d.certificate_url = "HTTPS://3PSOSTORAGEACCT.blob.core.windows.net:443/cert/leaf.der";
	assert_verified(v, &d);
	ck_assert_int_eq(fetched.calls, 1);
	pcref_webhook_verifier_free(v);
}
END_TEST

START_TEST(http_to_non_loopback_refused)
{
	pcref_webhook_verifier *v = verifier();
	pcref_webhook_delivery d = signed_delivery(event_body(0, "r-http", now_ms()), "leaf",
	                                           "http://" PCREF_WEBHOOK_CERTIFICATE_HOST "/cert/leaf.der");
	assert_refused(v, &d, PCREF_ESIGNATURE, "plain http", 401);
	ck_assert_int_eq(fetched.calls, 0);
	pcref_webhook_verifier_free(v);
}
END_TEST

START_TEST(missing_or_malformed_signature)
{
	pcref_webhook_verifier *v = verifier();
	pcref_webhook_delivery d = delivery(event_body(0, "r-nosig", now_ms()), NULL, GOOD_URL);
	assert_refused(v, &d, PCREF_ESIGNATURE, "neither an Authorization nor an x-ms-signature", 401);
	d.authorization = "   ";
	assert_refused(v, &d, PCREF_ESIGNATURE, "neither an Authorization nor an x-ms-signature", 401);
	d.authorization = "Bearer eyJ0eXAi";
	assert_refused(v, &d, PCREF_ESIGNATURE, "not of the 'Signature <base64>' scheme (it starts 'Bearer')", 401);
	d.authorization = "Signature not*base64!";
	assert_refused(v, &d, PCREF_ESIGNATURE, "not valid base64", 401);
	d.authorization = NULL;
	d.x_ms_signature = "Token abc";
	assert_refused(v, &d, PCREF_ESIGNATURE, "x-ms-signature header is not", 401);
	ck_assert_int_eq(fetched.calls, 0);
	pcref_webhook_verifier_free(v);
}
END_TEST

START_TEST(missing_certificate_url)
{
	pcref_webhook_verifier *v = verifier();
	pcref_webhook_delivery d = signed_delivery(event_body(0, "r-nourl", now_ms()), "leaf", NULL);
	assert_refused(v, &d, PCREF_ESIGNATURE, "no X-MS-Certificate-Url header", 400);
	d.certificate_url = "";
	assert_refused(v, &d, PCREF_ESIGNATURE, "no X-MS-Certificate-Url header", 400);
	ck_assert_int_eq(fetched.calls, 0);
	pcref_webhook_verifier_free(v);
}
END_TEST

START_TEST(missing_or_wrong_algorithm)
{
	pcref_webhook_verifier *v = verifier();
	pcref_webhook_delivery d = signed_delivery(event_body(0, "r-alg", now_ms()), "leaf", GOOD_URL);
	d.signature_algorithm = NULL;
	assert_refused(v, &d, PCREF_ESIGNATURE, "no X-MS-Signature-Algorithm header", 400);
	d.signature_algorithm = "hmac-sha256";
	assert_refused(v, &d, PCREF_ESIGNATURE, "'hmac-sha256' is not supported", 400);
	d.signature_algorithm = "rsa-sha1";
	assert_refused(v, &d, PCREF_ESIGNATURE, "'rsa-sha1' is not supported", 400);
	ck_assert_int_eq(fetched.calls, 0);
	pcref_webhook_verifier_free(v);
}
END_TEST

START_TEST(oversize_body)
{
	pcref_webhook_options o = PCREF_WEBHOOK_OPTIONS_INIT;
	pcref_webhook_verifier *v = verifier();
	pcref_webhook_delivery d;
	char *big = malloc(64 * 1024 + 2);
	memset(big, ' ', 64 * 1024 + 1);
	big[0] = '{';
	big[64 * 1024 + 1] = '\0';
	d = delivery(big, "Signature AAAA", GOOD_URL);
	assert_refused(v, &d, PCREF_EINVALID, "65537 bytes is larger than the 65536 bytes", 413);
	ck_assert_int_eq(fetched.calls, 0);
	pcref_webhook_verifier_free(v);
	free(big);
	/* a configured limit */
	o.max_body_bytes = 100;
	v = verifier_with(&o);
	d = signed_delivery(event_body(0, "r-limit", now_ms()), "leaf", GOOD_URL);
	assert_refused(v, &d, PCREF_EINVALID, "larger than the 100 bytes", 413);
	pcref_webhook_verifier_free(v);
	o.max_body_bytes = 1000;
	v = verifier_with(&o);
	assert_verified(v, &d);
	pcref_webhook_verifier_free(v);
}
END_TEST

START_TEST(replayed_delivery)
{
	pcref_webhook_verifier *v = verifier();
	pcref_webhook_delivery d = signed_delivery(event_body(0, "r-replay", now_ms()), "leaf", GOOD_URL);
	pcref_webhook_delivery other = signed_delivery(event_body(0, "r-other", now_ms()), "leaf", GOOD_URL);
	assert_verified(v, &d);
	assert_refused(v, &d, PCREF_EREPLAY, "was seen before", 200);
	/* the same body under the other header form is the same delivery */
	d.x_ms_signature = d.authorization + strlen("Signature ");
	d.authorization = NULL;
	assert_refused(v, &d, PCREF_EREPLAY, "was seen before", 200);
	assert_verified(v, &other);
	pcref_webhook_verifier_free(v);
}
END_TEST

START_TEST(replay_memory_forgets_oldest_first)
{
	enum { N = 12 };
	pcref_webhook_options o = PCREF_WEBHOOK_OPTIONS_INIT;
	pcref_webhook_verifier *v;
	pcref_webhook_delivery d[N];
	char bodies[N][512], id[32];
	int64_t now = now_ms();
	o.dedup_capacity = 3;
	v = verifier_with(&o);
	for (int i = 0; i < N; i++) {
		snprintf(id, sizeof(id), "r-fifo-%d", i);
		snprintf(bodies[i], sizeof(bodies[i]), "%s", event_body(i & 1, id, now));
		d[i] = signed_delivery(bodies[i], "leaf", GOOD_URL);
		assert_verified(v, &d[i]);
	}
	/* the last three are remembered (refusals change nothing) ... */
	for (int i = N - 3; i < N; i++)
		assert_refused(v, &d[i], PCREF_EREPLAY, "seen before", 200);
	for (int i = N - 3; i < N; i++)
		assert_refused(v, &d[i], PCREF_EREPLAY, "seen before", 200);
	/* ... the older ones were forgotten, oldest first */
	assert_verified(v, &d[0]);                    /* forgets N-3 */
	assert_verified(v, &d[N - 3]);                /* forgets N-2 */
	assert_refused(v, &d[N - 1], PCREF_EREPLAY, "seen before", 200);
	assert_refused(v, &d[0], PCREF_EREPLAY, "seen before", 200);
	assert_verified(v, &d[N - 2]);
	pcref_webhook_verifier_free(v);
}
END_TEST

/* The replay memory's table under collisions: runs of equal homes at the
 * start of the table, at its end (probes wrap around), and spread ones, with
 * the ring forgetting one entry per insert. */
static void replay_digest(unsigned char d[32], uint32_t n)
{
	uint32_t h = n % 3 == 0 ? 0xFFFFFFFFu - n % 5 : n % 3 == 1 ? n % 7 : n * 2654435761u;
	memset(d, 0xA5, 32);
	memcpy(d, &h, sizeof(h));
	memcpy(d + 8, &n, sizeof(n));
}

START_TEST(replay_memory_table)
{
	enum { CAP = 64, N = 1500 };
	pcref__replay r;
	unsigned char d[32];
	ck_assert_int_eq(pcref__replay_init(&r, CAP), PCREF_OK);
	for (uint32_t n = 0; n < N; n++) {
		uint32_t lo = n + 1 > CAP ? n + 1 - CAP : 0;
		replay_digest(d, n);
		ck_assert(!pcref__replay_seen(&r, d));
		pcref__replay_remember(&r, d);
		for (uint32_t m = lo > 8 ? lo - 8 : 0; m <= n; m++) {
			replay_digest(d, m);
			ck_assert_msg(pcref__replay_seen(&r, d) == (m >= lo), "after %u inserts: %u %s", n + 1,
			              m, m >= lo ? "forgotten too early" : "still remembered");
		}
	}
	pcref__replay_dispose(&r);
	/* a capacity of one remembers the last delivery only */
	ck_assert_int_eq(pcref__replay_init(&r, 1), PCREF_OK);
	replay_digest(d, 1);
	pcref__replay_remember(&r, d);
	ck_assert(pcref__replay_seen(&r, d));
	replay_digest(d, 2);
	pcref__replay_remember(&r, d);
	ck_assert(pcref__replay_seen(&r, d));
	replay_digest(d, 1);
	ck_assert(!pcref__replay_seen(&r, d));
	pcref__replay_dispose(&r);
	tu_assert_error(pcref__replay_init(&r, 0), PCREF_EINVALID, "capacity 0");
}
END_TEST

START_TEST(stale_date)
{
	pcref_webhook_verifier *v = verifier();
	pcref_webhook_delivery d = signed_delivery(event_body(0, "r-stale", now_ms() - 2 * 3600 * 1000),
	                                           "leaf", GOOD_URL);
	assert_refused(v, &d, PCREF_EREPLAY, "is older than the 1 h limit", 200);
	/* within the window */
	d = signed_delivery(event_body(0, "r-fresh", now_ms() - 50 * 60 * 1000), "leaf", GOOD_URL);
	assert_verified(v, &d);
	pcref_webhook_verifier_free(v);
}
END_TEST

START_TEST(future_date)
{
	pcref_webhook_verifier *v = verifier();
	pcref_webhook_delivery d = signed_delivery(event_body(0, "r-future", now_ms() + 10 * 60 * 1000),
	                                           "leaf", GOOD_URL);
	assert_refused(v, &d, PCREF_EREPLAY, "more than 5 min in the future", 200);
	d = signed_delivery(event_body(0, "r-skew", now_ms() + 60 * 1000), "leaf", GOOD_URL);
	assert_verified(v, &d);
	pcref_webhook_verifier_free(v);
}
END_TEST

START_TEST(signed_body_that_is_not_an_event)
{
	pcref_webhook_verifier *v = verifier();
	pcref_webhook_delivery d = signed_delivery("[\"not\",\"an\",\"event\"]", "leaf", GOOD_URL);
	assert_refused(v, &d, PCREF_EPROTOCOL, "must be a JSON object", 400);
	d = signed_delivery("{\"EventName\":\"referral-updated\",\"ResourceUri\":\"" REFERRAL_URI "r-x\"}",
	                    "leaf", GOOD_URL);
	assert_refused(v, &d, PCREF_EPROTOCOL, "has no ResourceChangeUtcDate", 400);
	pcref_webhook_verifier_free(v);
}
END_TEST

START_TEST(certificate_fetch_failures)
{
	pcref_webhook_verifier *v = verifier();
	pcref_webhook_delivery d = signed_delivery(event_body(0, "r-fetch", now_ms()), "leaf", CERT_BASE "missing.der");
	assert_refused(v, &d, PCREF_ENOTFOUND, "fetching the webhook signing certificate", 503);
	ck_assert_ptr_nonnull(strstr(pcref_error_last()->message, "(HTTP 404)"));
	ck_assert_ptr_nonnull(strstr(pcref_error_last()->message, "has no missing.der"));
	d.certificate_url = CERT_BASE "down.der";
	assert_refused(v, &d, PCREF_ENETWORK, "connection refused", 503);
	/* failures are not cached: each delivery tries again */
	assert_refused(v, &d, PCREF_ENETWORK, "fetching the webhook signing certificate", 503);
	ck_assert_int_eq(fetched.calls, 3);
	d.certificate_url = CERT_BASE "garbage.der";
	assert_refused(v, &d, PCREF_ESIGNATURE, "did not serve an X.509 certificate", 401);
	pcref_webhook_verifier_free(v);
}
END_TEST

START_TEST(default_trust_store_does_not_trust_the_test_root)
{
	pcref_webhook_options o = PCREF_WEBHOOK_OPTIONS_INIT;
	pcref_webhook_verifier *v = NULL;
	pcref_webhook_delivery d;
	ck_assert_int_eq(pcref_webhook_verifier_new(&v, &o), PCREF_OK); /* system store */
	pcref__webhook_verifier_set_fetch(v, serve_file, &fetched);
	d = signed_delivery(event_body(0, "r-sys", now_ms()), "leaf", GOOD_URL);
	assert_refused(v, &d, PCREF_ESIGNATURE, "is not trusted", 401);
	pcref_webhook_verifier_free(v);
}
END_TEST

START_TEST(openssl_error_queue_is_left_as_found)
{
	pcref_webhook_verifier *v = verifier();
	pcref_webhook_delivery d;
	pcref_webhook_delivery bad = delivery(event_body(0, "r-queue2", now_ms()), "Signature ****", GOOD_URL);
	unsigned long e;
	ERR_clear_error();
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
	ERR_raise(ERR_LIB_USER, 42); /* the host's own pending error */
#else
	ERR_put_error(ERR_LIB_USER, 0, 42, __FILE__, __LINE__);
#endif
	/* paths on which OpenSSL queues errors of its own: the end of a PEM
	 * file, DER garbage, an untrusted chain, bad base64 */
	d = signed_delivery(event_body(0, "r-queue-pem", now_ms()), "leaf", GOOD_PEM_URL);
	assert_verified(v, &d);
	d.certificate_url = CERT_BASE "garbage.der";
	assert_refused(v, &d, PCREF_ESIGNATURE, "did not serve an X.509 certificate", 401);
	d = signed_delivery(event_body(0, "r-queue", now_ms()), "rogue", ROGUE_URL);
	assert_refused(v, &d, PCREF_ESIGNATURE, "is not trusted", 401);
	assert_refused(v, &bad, PCREF_ESIGNATURE, "not valid base64", 401);
	e = ERR_get_error();
	ck_assert_int_eq(ERR_GET_LIB(e), ERR_LIB_USER);
	ck_assert_int_eq(ERR_GET_REASON(e), 42);
	ck_assert_uint_eq(ERR_get_error(), 0);
	pcref_webhook_verifier_free(v);
}
END_TEST

/* ---- options and arguments ------------------------------------------------------------ */

START_TEST(options_and_arguments)
{
	static const char *const none[] = { NULL };
	static const char *const bad[] = { "https://x.example/", NULL };
	static const char *const wild[] = { "*.blob.core.windows.net", NULL };
	pcref_webhook_options o;
	pcref_webhook_delivery d;
	pcref_webhook_verifier *v = NULL;

	ck_assert_int_eq(pcref_webhook_options_init(&o, PCREF_WEBHOOK_OPTIONS_VERSION), PCREF_OK);
	ck_assert_uint_eq(o.version, PCREF_WEBHOOK_OPTIONS_VERSION);
	ck_assert_ptr_null(o.certificate_hosts);
	tu_assert_error(pcref_webhook_options_init(&o, 99), PCREF_EVERSION, "version 99");
	tu_assert_error(pcref_webhook_options_init(NULL, 1), PCREF_EINVALID, "NULL");
	ck_assert_int_eq(pcref_webhook_delivery_init(&d, PCREF_WEBHOOK_DELIVERY_VERSION), PCREF_OK);
	ck_assert_ptr_null(d.body);
	tu_assert_error(pcref_webhook_delivery_init(&d, 0), PCREF_EVERSION, "version 0");

	pcref_webhook_options_init(&o, 1);
	o.version = 7;
	tu_assert_error(pcref_webhook_verifier_new(&v, &o), PCREF_EVERSION, "version 7");
	ck_assert_ptr_null(v);
	pcref_webhook_options_init(&o, 1);
	o.trust_anchors_file = "/nonexistent/anchors.pem";
	tu_assert_error(pcref_webhook_verifier_new(&v, &o), PCREF_EINVALID, "cannot open the trust anchors file");
	o.trust_anchors_file = pki_file("empty.pem");
	tu_assert_error(pcref_webhook_verifier_new(&v, &o), PCREF_EINVALID, "holds no PEM certificate");
	pcref_webhook_options_init(&o, 1);
	o.certificate_hosts = none;
	tu_assert_error(pcref_webhook_verifier_new(&v, &o), PCREF_EINVALID, "certificate_hosts is empty");
	o.certificate_hosts = bad;
	tu_assert_error(pcref_webhook_verifier_new(&v, &o), PCREF_EINVALID, "'https://x.example/'");
	o.certificate_hosts = wild;
	tu_assert_error(pcref_webhook_verifier_new(&v, &o), PCREF_EINVALID, "no scheme, path or wildcard");
	pcref_webhook_options_init(&o, 1);
	o.max_age_ms = -1;
	tu_assert_error(pcref_webhook_verifier_new(&v, &o), PCREF_EINVALID, "max_age_ms must not be negative");
	pcref_webhook_options_init(&o, 1);
	o.max_body_bytes = 2 * 1024 * 1024;
	tu_assert_error(pcref_webhook_verifier_new(&v, &o), PCREF_EINVALID, "max_body_bytes may be at most");
	pcref_webhook_options_init(&o, 1);
	o.dedup_capacity = (1 << 24) + 1;
	tu_assert_error(pcref_webhook_verifier_new(&v, &o), PCREF_EINVALID, "dedup_capacity");
	pcref_webhook_options_init(&o, 1);
	o.issuer_organization = "";
	tu_assert_error(pcref_webhook_verifier_new(&v, &o), PCREF_EINVALID, "issuer_organization is empty");
	tu_assert_error(pcref_webhook_verifier_new(NULL, NULL), PCREF_EINVALID, "out is NULL");

	/* NULL options: every default */
	ck_assert_int_eq(pcref_webhook_verifier_new(&v, NULL), PCREF_OK);
	d = delivery("{}", "Signature AAAA", GOOD_URL);
	d.version = 2;
	tu_assert_error(pcref_webhook_verify(NULL, v, &d), PCREF_EVERSION, "delivery version 2");
	tu_assert_error(pcref_webhook_verify(NULL, v, NULL), PCREF_EINVALID, "must not be NULL");
	d = delivery(NULL, "Signature AAAA", GOOD_URL);
	d.body_len = 3;
	tu_assert_error(pcref_webhook_verify(NULL, v, &d), PCREF_EINVALID, "body is NULL");
	pcref_webhook_verifier_free(v);
	pcref_webhook_verifier_free(NULL);

	/* a verifier needs pcref_init() */
	ck_assert_int_eq(pcref_shutdown(), 0);
	tu_assert_error(pcref_webhook_verifier_new(&v, NULL), PCREF_ESTATE, "pcref_init");
	ck_assert_int_eq(pcref_init(), 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("webhook");
	TCase *tc;
	int rc;

	if (system("openssl version >/dev/null 2>&1") != 0) {
		fprintf(stderr, "the openssl command-line tool is missing: skipping\n");
		return 77;
	}
	pcref_init();
	tc = tu_tcase(s, "event");
	tcase_add_test(tc, event_pascal_case_sample);
	tcase_add_test(tc, event_camel_case_swagger);
	tcase_add_test(tc, event_audit_url_spelling);
	tcase_add_test(tc, event_referral_id_extraction);
	tcase_add_test(tc, event_test_created_is_not_a_referral);
	tcase_add_test(tc, event_malformed);

	tc = tu_tcase(s, "accepted");
	tcase_add_unchecked_fixture(tc, pki_setup, NULL);
	tcase_add_test(tc, verifies_pascal_case_with_authorization);
	tcase_add_test(tc, verifies_camel_case_with_x_ms_signature);
	tcase_add_test(tc, verifies_pem_certificate);
	tcase_add_test(tc, certificate_fetched_once_for_two_deliveries);
	tcase_add_test(tc, certificate_cache_expires);
	tcase_add_test(tc, loopback_http_allowed_when_listed);

	tc = tu_tcase(s, "refused");
	tcase_add_unchecked_fixture(tc, pki_setup, NULL);
	tcase_add_test(tc, tampered_body);
	tcase_add_test(tc, rogue_key_with_good_certificate);
	tcase_add_test(tc, rogue_certificate_untrusted);
	tcase_add_test(tc, issuer_organization_substring_trap);
	tcase_add_test(tc, issuer_organization_is_configurable);
	tcase_add_test(tc, host_not_allow_listed_is_never_fetched);
	tcase_add_test(tc, http_to_non_loopback_refused);
	tcase_add_test(tc, missing_or_malformed_signature);
	tcase_add_test(tc, missing_certificate_url);
	tcase_add_test(tc, missing_or_wrong_algorithm);
	tcase_add_test(tc, oversize_body);
	tcase_add_test(tc, signed_body_that_is_not_an_event);
	tcase_add_test(tc, certificate_fetch_failures);
	tcase_add_test(tc, default_trust_store_does_not_trust_the_test_root);
	tcase_add_test(tc, openssl_error_queue_is_left_as_found);

	tc = tu_tcase(s, "replay");
	tcase_add_unchecked_fixture(tc, pki_setup, NULL);
	tcase_add_test(tc, replayed_delivery);
	tcase_add_test(tc, replay_memory_forgets_oldest_first);
	tcase_add_test(tc, replay_memory_table);
	tcase_add_test(tc, stale_date);
	tcase_add_test(tc, future_date);

	tc = tu_tcase(s, "options");
	tcase_add_unchecked_fixture(tc, pki_setup, NULL);
	tcase_add_test(tc, options_and_arguments);

	rc = tu_run(s);
	pki_remove();
	pcref_shutdown();
	return rc;
}
