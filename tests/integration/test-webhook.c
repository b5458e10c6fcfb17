/* Webhook verification against the Partner Center emulator (tests/peers/
 * partnercenter.py): deliveries signed by the emulator's test PKI, the
 * certificate fetched over HTTP by the default fetcher (the network layer),
 * the emulator's root CA as the trust anchor and 127.0.0.1:<port> as the
 * allow-listed certificate host (partner-center-api.md §5.3, §5.4). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/json.h"
#include "pcref/pcref.h"
#include "peer.h"
#include "testutil.h"

#define CERT_PATH "/cert/pcnotifications-dispatch.microsoft.com.cer"

static peer emu;
static char ca_file[128];
static char cert_host[sizeof(((peer *)0)->base)]; /* "127.0.0.1:<port>" */

/* ---- fixtures --------------------------------------------------------------------- */

static void emulator_up(void)
{
	char *pem = NULL;
	FILE *f;
	int fd;
	if (emu.pid)
		return; /* once per test program */
	ck_assert_msg(peer_start(&emu, "partnercenter") == 0, "the Partner Center emulator did not start");
	snprintf(cert_host, sizeof(cert_host), "%.*s", (int)sizeof(cert_host) - 1, emu.base + strlen("http://"));
	/* its test root CA is the trust anchor */
	ck_assert_int_eq(peer_control(emu.base, "GET", "/_control/webhook/ca.pem", NULL, &pem), 200);
	snprintf(ca_file, sizeof(ca_file), "/tmp/pcref-webhook-ca-XXXXXX");
	ck_assert_int_ge(fd = mkstemp(ca_file), 0);
	ck_assert_ptr_nonnull(f = fdopen(fd, "w"));
	ck_assert_int_eq(fputs(pem, f) >= 0, 1);
	fclose(f);
	free(pem);
}

static void emulator_reset(void)
{
	ck_assert_int_eq(peer_control(emu.base, "POST", "/_control/reset", NULL, NULL), 200);
}

/* ---- helpers ------------------------------------------------------------------------ */

/* A delivery signed by the emulator; its strings live in `doc`. */
typedef struct signed_delivery {
	pcref__json *doc;
	pcref_webhook_delivery d;
} signed_delivery;

static const char *header(const pcref__json *doc, const char *name)
{
	return pcref__json_string(pcref__json_get(pcref__json_get(doc, "headers"), name));
}

/* POST /_control/webhook/sign {"referral_id", "key", "header"[, "cert"]}. */
static signed_delivery sign(const char *referral_id, const char *key, const char *cert,
                            const char *header_name)
{
	signed_delivery s;
	char req[256], *answer = NULL;
	const pcref__json *body;
	long status;
	if (cert)
		snprintf(req, sizeof(req), "{\"referral_id\":\"%s\",\"key\":\"%s\",\"cert\":\"%s\",\"header\":\"%s\"}",
		         referral_id, key, cert, header_name);
	else
		snprintf(req, sizeof(req), "{\"referral_id\":\"%s\",\"key\":\"%s\",\"header\":\"%s\"}",
		         referral_id, key, header_name);
	status = peer_control(emu.base, "POST", "/_control/webhook/sign", req, &answer);
	ck_assert_msg(status == 200, "sign %s -> %ld %s", req, status, answer ? answer : "");
	ck_assert_int_eq(pcref__json_parse(&s.doc, answer, strlen(answer), "sign answer"), PCREF_OK);
	free(answer);
	body = pcref__json_get(s.doc, "body");
	ck_assert_ptr_nonnull(pcref__json_string(body));
	ck_assert_int_eq(pcref_webhook_delivery_init(&s.d, PCREF_WEBHOOK_DELIVERY_VERSION), PCREF_OK);
	s.d.body = body->u.str.text;
	s.d.body_len = body->u.str.len;
	s.d.authorization = header(s.doc, "Authorization");
	s.d.x_ms_signature = header(s.doc, "x-ms-signature");
	s.d.certificate_url = header(s.doc, "X-MS-Certificate-Url");
	s.d.signature_algorithm = header(s.doc, "X-MS-Signature-Algorithm");
	ck_assert_ptr_nonnull(s.d.certificate_url);
	return s;
}

static pcref_webhook_verifier *verifier_for_emulator(void)
{
	const char *hosts[] = { cert_host, NULL };
	pcref_webhook_options o = PCREF_WEBHOOK_OPTIONS_INIT;
	pcref_webhook_verifier *v = NULL;
	o.certificate_hosts = hosts;
	o.trust_anchors_file = ca_file;
	ck_assert_msg(pcref_webhook_verifier_new(&v, &o) == PCREF_OK, "%s", pcref_error_last()->message);
	return v;
}

/* How many certificate downloads the emulator served. */
static size_t certificate_requests(void)
{
	pcref__json *log = peer_log(emu.base);
	size_t n = peer_log_count(log, "GET", "/cert/");
	pcref__json_free(log);
	return n;
}

#define assert_refused(v, s, code, needle, status) do { \
	pcref_webhook_event *ev_ = NULL; \
	tu_assert_error(pcref_webhook_verify(&ev_, (v), &(s).d), (code), (needle)); \
	ck_assert_ptr_null(ev_); \
	ck_assert_int_eq(pcref_error_last()->http_status, (status)); \
} while (0)

/* ---- tests --------------------------------------------------------------------------- */

START_TEST(good_signature_verifies_over_http)
{
	pcref_webhook_verifier *v = verifier_for_emulator();
	signed_delivery s = sign("4e6b9d0c-6f2f-4bb4-9a0e-1b2c3d4e5f60", "good", NULL, "authorization");
	pcref_webhook_event *ev = NULL;
	ck_assert_ptr_nonnull(s.d.authorization);
	ck_assert_msg(pcref_webhook_verify(&ev, v, &s.d) == PCREF_OK, "%s", pcref_error_last()->message);
	ck_assert_str_eq(pcref_webhook_event_name(ev), "referral-updated");
	ck_assert_str_eq(pcref_webhook_event_referral_id(ev), "4e6b9d0c-6f2f-4bb4-9a0e-1b2c3d4e5f60");
	ck_assert_str_eq(pcref_webhook_event_resource_name(ev), "referral");
	ck_assert_int_ne(pcref_webhook_event_change_time(ev), PCREF_TIME_NONE);
	pcref_webhook_event_free(ev);
	ck_assert_uint_eq(certificate_requests(), 1);
	/* the emulator's retry of the same delivery is a replay */
	assert_refused(v, s, PCREF_EREPLAY, "seen before", 200);
	pcref__json_free(s.doc);
	pcref_webhook_verifier_free(v);
}
END_TEST

START_TEST(x_ms_signature_form_verifies)
{
	pcref_webhook_verifier *v = verifier_for_emulator();
	signed_delivery s = sign("r-xms", "good", NULL, "x-ms-signature");
	ck_assert_ptr_null(s.d.authorization);
	ck_assert_ptr_nonnull(s.d.x_ms_signature);
	ck_assert_msg(pcref_webhook_verify(NULL, v, &s.d) == PCREF_OK, "%s", pcref_error_last()->message);
	pcref__json_free(s.doc);
	pcref_webhook_verifier_free(v);
}
END_TEST

START_TEST(certificate_is_downloaded_once)
{
	pcref_webhook_verifier *v = verifier_for_emulator();
	signed_delivery a = sign("r-a", "good", NULL, "authorization");
	signed_delivery b = sign("r-b", "good", NULL, "x-ms-signature");
	ck_assert_int_eq(pcref_webhook_verify(NULL, v, &a.d), PCREF_OK);
	ck_assert_int_eq(pcref_webhook_verify(NULL, v, &b.d), PCREF_OK);
	ck_assert_uint_eq(certificate_requests(), 1);
	pcref__json_free(a.doc);
	pcref__json_free(b.doc);
	pcref_webhook_verifier_free(v);
}
END_TEST

START_TEST(rogue_key_with_the_good_certificate_fails)
{
	pcref_webhook_verifier *v = verifier_for_emulator();
	signed_delivery s = sign("r-rogue", "rogue", "good", "authorization");
	assert_refused(v, s, PCREF_ESIGNATURE, "does not match the body", 401);
	pcref__json_free(s.doc);
	pcref_webhook_verifier_free(v);
}
END_TEST

START_TEST(rogue_certificate_fails)
{
	pcref_webhook_verifier *v = verifier_for_emulator();
	signed_delivery s = sign("r-rogue", "rogue", NULL, "authorization");
	ck_assert_ptr_nonnull(strstr(s.d.certificate_url, "/cert/rogue.cer"));
	assert_refused(v, s, PCREF_ESIGNATURE, "is not trusted", 401);
	pcref__json_free(s.doc);
	pcref_webhook_verifier_free(v);
}
END_TEST

START_TEST(default_allow_list_never_contacts_the_emulator)
{
	pcref_webhook_options o = PCREF_WEBHOOK_OPTIONS_INIT;
	pcref_webhook_verifier *v = NULL;
	signed_delivery s = sign("r-host", "good", NULL, "authorization");
	o.trust_anchors_file = ca_file;
	ck_assert_int_eq(pcref_webhook_verifier_new(&v, &o), PCREF_OK);
	assert_refused(v, s, PCREF_ESIGNATURE, "allow-list", 401);
	ck_assert_ptr_nonnull(strstr(pcref_error_last()->message, cert_host));
	ck_assert_uint_eq(certificate_requests(), 0);
	pcref__json_free(s.doc);
	pcref_webhook_verifier_free(v);
}
END_TEST

START_TEST(certificate_host_failures_are_transient)
{
	pcref_webhook_verifier *v = verifier_for_emulator();
	signed_delivery s = sign("r-fail", "good", NULL, "authorization");
	char missing[sizeof(emu.base) + 32];
	const char *url = s.d.certificate_url;
	/* a certificate the host does not have */
	snprintf(missing, sizeof(missing), "%s/cert/missing.cer", emu.base);
	s.d.certificate_url = missing;
	assert_refused(v, s, PCREF_ENOTFOUND, "fetching the webhook signing certificate", 503);
	ck_assert_ptr_nonnull(strstr(pcref_error_last()->message, "HTTP 404"));
	/* the host resets every connection */
	s.d.certificate_url = url;
	ck_assert_int_eq(peer_control(emu.base, "POST", "/_control/faults",
	                              "{\"method\":\"GET\",\"path\":\"^/cert/\",\"action\":\"reset\",\"count\":-1}",
	                              NULL), 200);
	assert_refused(v, s, PCREF_ENETWORK, "fetching the webhook signing certificate", 503);
	/* once it is back, the same delivery verifies (failures are not remembered) */
	ck_assert_int_eq(peer_control(emu.base, "DELETE", "/_control/faults", NULL, NULL), 200);
	ck_assert_msg(pcref_webhook_verify(NULL, v, &s.d) == PCREF_OK, "%s", pcref_error_last()->message);
	pcref__json_free(s.doc);
	pcref_webhook_verifier_free(v);
}
END_TEST

int main(void)
{
	Suite *s;
	TCase *tc;
	int rc;

	peer_require_python();
	if (pcref_init() < 1)
		return EXIT_FAILURE;
	s = suite_create("webhook-integration");
	tc = tu_tcase(s, "verify");
	tcase_add_unchecked_fixture(tc, emulator_up, NULL);
	tcase_add_checked_fixture(tc, emulator_reset, NULL);
	tcase_add_test(tc, good_signature_verifies_over_http);
	tcase_add_test(tc, x_ms_signature_form_verifies);
	tcase_add_test(tc, certificate_is_downloaded_once);
	tcase_add_test(tc, rogue_key_with_the_good_certificate_fails);
	tcase_add_test(tc, rogue_certificate_fails);
	tcase_add_test(tc, default_allow_list_never_contacts_the_emulator);
	tcase_add_test(tc, certificate_host_failures_are_transient);

	rc = tu_run(s);
	peer_stop(&emu);
	if (ca_file[0])
		unlink(ca_file);
	pcref_shutdown();
	return rc;
}
