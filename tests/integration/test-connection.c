/* The Connection against the Partner Center emulator (tests/peers/
 * partnercenter.py), through pcref__http_send: tokens, retries, error
 * mapping, limits and counters, checked against the emulator's request log. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "core/json.h"
#include "net/http.h"
#include "pcref/pcref.h"
#include "peer.h"
#include "testutil.h"

#define REFERRALS "/v1.0/engagements/referrals"
#define DEMO_PASSWORD "demo-password"
#define DEMO_SECRET "pcref-demo-secret"

static peer emu;
static char token_url_v1[128];
static char token_url_v2[128];

/* ---- fixtures ------------------------------------------------------------------ */

static void emulator_up(void)
{
	if (emu.pid)
		return;   /* once per test program */
	ck_assert_msg(peer_start(&emu, "partnercenter") == 0, "the Partner Center emulator did not start");
	snprintf(token_url_v1, sizeof(token_url_v1), "%s/common/oauth2/token", emu.base);
	snprintf(token_url_v2, sizeof(token_url_v2), "%s/contoso.onmicrosoft.com/oauth2/v2.0/token", emu.base);
}

static void emulator_reset(void)
{
	ck_assert_int_eq(peer_control(emu.base, "POST", "/_control/reset", NULL, NULL), 200);
}

/* ---- emulator helpers ---------------------------------------------------------------- */

static void control(const char *path, const char *json)
{
	peer_post(emu.base, path, json);
}

static void fault(const char *json)
{
	control("/_control/faults", json);
}

static int is_token_request(const pcref__json *e)
{
	return strstr(peer_log_str(e, "/path"), "/oauth2/") != NULL;
}

/* Entries with this method, path and status (0 = no answer). The log is
 * in the order the emulator finished requests, which for requests on
 * different connections need not be the order they were sent. */
static size_t count_status(const pcref__json *log, const char *method, const char *path, int status)
{
	size_t n = 0;
	for (size_t i = 0; peer_log_nth(log, method, path, i); i++)
		n += peer_log_status(peer_log_nth(log, method, path, i)) == status;
	return n;
}

/* The first entry with this method, path and status; NULL if none. */
static const pcref__json *with_status(const pcref__json *log, const char *method, const char *path, int status)
{
	const pcref__json *e;
	for (size_t i = 0; (e = peer_log_nth(log, method, path, i)) != NULL; i++)
		if (peer_log_status(e) == status)
			return e;
	return NULL;
}

/* Entries carrying this MS-RequestId (one logical call and its retries). */
static size_t count_request_id(const pcref__json *log, const char *request_id)
{
	size_t n = 0;
	for (size_t i = 0; i < log->u.arr.len; i++) {
		const char *id = peer_log_str(log->u.arr.items[i], "/headers/ms-requestid");
		n += id && strcmp(id, request_id) == 0;
	}
	return n;
}

static size_t token_requests_in(const pcref__json *log)
{
	return peer_log_count(log, "POST", "/oauth2/");
}

/* Empty the log, once the entries of the answers already received are in. */
/* A referral stored in the emulator; returns its id (static storage). */
static const char *seed_referral(void)
{
	static char id[64];
	char *answer = NULL;
	pcref__json *doc = NULL;
	ck_assert_int_eq(peer_control(emu.base, "POST", "/_control/seed",
		"{\"referrals\":[{\"name\":\"pcref test\",\"type\":\"Independent\",\"qualification\":\"SalesQualified\","
		"\"customerProfile\":{\"name\":\"Fabrikam\",\"address\":{\"country\":\"US\"}},\"consent\":{},"
		"\"details\":{\"dealValue\":1000,\"currency\":\"USD\"}}]}", &answer), 200);
	ck_assert_int_eq(pcref__json_parse(&doc, answer, strlen(answer), "seed answer"), PCREF_OK);
	snprintf(id, sizeof(id), "%s", pcref__json_string(pcref__json_pointer(doc, "/referrals/0/id")));
	pcref__json_free(doc);
	free(answer);
	return id;
}

static const char create_body[] =
	"{\"name\":\"pcref test\",\"type\":\"Independent\",\"qualification\":\"SalesQualified\","
	"\"customerProfile\":{\"name\":\"Fabrikam\",\"address\":{\"country\":\"US\"}},"
	"\"consent\":{\"consentToContact\":true},\"details\":{\"dealValue\":1000,\"currency\":\"USD\"}}";

/* ---- connection helpers ------------------------------------------------------------------ */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The documented password grant against the emulator, fast retries. */
static pcref_connection_options pc_options(void)
{
	pcref_connection_options o = PCREF_CONNECTION_OPTIONS_INIT;
	o.base_url = emu.base;
	o.service_name = "Partner Center";
	o.auth = PCREF_AUTH_PASSWORD;
	o.token_url = token_url_v1;
	o.client_id = "pcref-demo-client";
	o.client_secret = DEMO_SECRET;
	o.username = "admin@contoso.onmicrosoft.com";
	o.password = DEMO_PASSWORD;
	o.resource = "https://api.partner.microsoft.com";
	o.retry_base_ms = 20;
	return o;
}

static pcref_connection *connect_with(const pcref_connection_options *o)
{
	pcref_connection *c = NULL;
	ck_assert_msg(pcref_connection_new(&c, o) == PCREF_OK, "%s", pcref_error_last()->message);
	return c;
}

static pcref_connection *pc_connect(void)
{
	pcref_connection_options o = pc_options();
	return connect_with(&o);
}

static int send_req(pcref_connection *c, const char *method, const char *url, const char *body,
                    const char *what, pcref__http_response *resp)
{
	pcref__http_request req;
	memset(&req, 0, sizeof(req));
	req.method = method;
	req.url = url;
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	req.what = what;
	return pcref__http_send(c, &req, resp);
}

static void get_ok(pcref_connection *c, const char *url)
{
	pcref__http_response resp = PCREF__HTTP_RESPONSE_INIT;
	int rc = send_req(c, "GET", url, NULL, "listing referrals", &resp);
	ck_assert_msg(rc == PCREF_OK, "GET %s: %s", url, pcref_error_last()->message);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_ptr_nonnull(resp.body);
	pcref__http_response_dispose(&resp);
}

static pcref_connection_stats stats_of(const pcref_connection *c)
{
	pcref_connection_stats st;
	memset(&st, 0, sizeof(st));
	st.version = PCREF_CONNECTION_STATS_VERSION;
	ck_assert_int_eq(pcref_connection_stats_get(c, &st), PCREF_OK);
	return st;
}

static void assert_message_has_no_secret(void)
{
	const char *msg = pcref_error_last()->message;
	ck_assert_msg(!strstr(msg, DEMO_PASSWORD) && !strstr(msg, DEMO_SECRET), "secret in: %s", msg);
}

/* ---- tokens ---------------------------------------------------------------------------------- */

START_TEST(password_token_is_fetched_once_for_many_calls)
{
	pcref_connection *c;
	pcref__json *log;
	pcref_connection_stats st;
	const char *ids[3];

	control("/_control/generate", "{\"count\":3}");
	peer_log_clear(emu.base);
	c = pc_connect();
	for (int i = 0; i < 3; i++)
		get_ok(c, REFERRALS "?$top=2");

	log = peer_log(emu.base);
	ck_assert_uint_eq(token_requests_in(log), 1);
	ck_assert_uint_eq(peer_log_count(log, "GET", REFERRALS), 3);
	/* the token request is separate: a form, no Authorization header */
	ck_assert_ptr_null(pcref__json_pointer(peer_log_nth(log, "POST", "/oauth2/", 0), "/headers/authorization"));
	ck_assert_str_eq(peer_log_str(peer_log_nth(log, "POST", "/oauth2/", 0), "/headers/content-type"),
	                 "application/x-www-form-urlencoded");
	for (size_t i = 0; i < 3; i++) {
		const pcref__json *e = peer_log_nth(log, "GET", REFERRALS, i);
		ck_assert_str_eq(peer_log_str(e, "/headers/authorization"), "Bearer");
		ck_assert_str_eq(peer_log_str(e, "/headers/accept"), "application/json");
		ck_assert_str_eq(peer_log_str(e, "/headers/user-agent"), "libpcref/" PCREF_VERSION_STRING);
		ck_assert_uint_eq(strlen(peer_log_str(e, "/headers/ms-correlationid")), 36);
		ids[i] = peer_log_str(e, "/headers/ms-requestid");
		ck_assert_uint_eq(strlen(ids[i]), 36);
		ck_assert_str_eq(peer_log_str(e, "/headers/client-request-id"), ids[i]);
	}
	/* a fresh request id per call */
	ck_assert_str_ne(ids[0], ids[1]);
	ck_assert_str_ne(ids[1], ids[2]);

	st = stats_of(c);
	ck_assert_uint_eq(st.calls, 3);
	ck_assert_uint_eq(st.requests, 3);
	ck_assert_uint_eq(st.token_requests, 1);
	ck_assert_uint_eq(st.retries, 0);
	ck_assert_uint_eq(st.responses_2xx, 3);
	ck_assert_uint_gt(st.bytes_received, 0);
	pcref__json_free(log);
	pcref_connection_free(c);
}
END_TEST

START_TEST(expired_token_is_renewed_once_and_the_call_succeeds)
{
	pcref_connection *c = pc_connect();
	pcref__json *log;
	pcref_connection_stats st;

	get_ok(c, REFERRALS);
	control("/_control/tokens", "{\"expire_all\":true}");
	get_ok(c, REFERRALS);

	log = peer_log(emu.base);
	ck_assert_uint_eq(token_requests_in(log), 2);
	ck_assert_uint_eq(peer_log_count(log, "GET", REFERRALS), 3);
	ck_assert_uint_eq(count_status(log, "GET", REFERRALS, 401), 1);
	ck_assert_uint_eq(count_status(log, "GET", REFERRALS, 200), 2);
	/* the retry after the new token is the same logical call */
	ck_assert_uint_eq(count_request_id(log, peer_log_str(with_status(log, "GET", REFERRALS, 401),
	                                                  "/headers/ms-requestid")), 2);
	st = stats_of(c);
	ck_assert_uint_eq(st.calls, 2);
	ck_assert_uint_eq(st.requests, 3);
	ck_assert_uint_eq(st.retries, 1);
	ck_assert_uint_eq(st.token_requests, 2);
	ck_assert_uint_eq(st.responses_4xx, 1);
	pcref__json_free(log);
	pcref_connection_free(c);
}
END_TEST

START_TEST(a_second_401_is_an_auth_error)
{
	pcref_connection *c = pc_connect();
	pcref__json *log;
	fault("{\"method\":\"GET\",\"path\":\"^/v1.0/engagements/referrals$\",\"status\":401,\"count\":-1,"
	      "\"body\":{\"error\":{\"code\":\"unauthenticated\",\"message\":\"The access token is not valid.\"}}}");
	tu_assert_error(send_req(c, "GET", REFERRALS, NULL, "listing referrals", NULL), PCREF_EAUTH,
	                "even after getting a new one");
	ck_assert_int_eq(pcref_error_last()->http_status, 401);
	ck_assert_str_eq(pcref_error_last()->service_code, "unauthenticated");
	ck_assert_ptr_nonnull(strstr(pcref_error_last()->message, "listing referrals"));
	log = peer_log(emu.base);
	ck_assert_uint_eq(peer_log_count(log, "GET", REFERRALS), 2);   /* refreshed once, retried once */
	ck_assert_uint_eq(token_requests_in(log), 2);
	pcref__json_free(log);
	pcref_connection_free(c);
}
END_TEST

START_TEST(revoked_credentials_are_reported_as_such)
{
	pcref_connection *c = pc_connect();
	pcref__json *log;

	control("/_control/tokens", "{\"revoke\":true}");
	tu_assert_error(send_req(c, "GET", REFERRALS, NULL, "listing referrals", NULL), PCREF_EAUTH, "renew");
	ck_assert_str_eq(pcref_error_last()->service_code, "invalid_grant");
	ck_assert_str_eq(pcref_error_last()->service_inner_code, "50126");
	ck_assert_int_eq(pcref_error_last()->http_status, 400);
	ck_assert_ptr_nonnull(strstr(pcref_error_last()->message,
	                             "Partner Center refused the credentials (invalid_grant, AADSTS50126)"));
	assert_message_has_no_secret();
	log = peer_log(emu.base);
	ck_assert_uint_eq(token_requests_in(log), 1);           /* a 4xx is not repeated */
	ck_assert_uint_eq(peer_log_count(log, "GET", REFERRALS), 0);     /* nothing sent without a token */
	pcref__json_free(log);

	/* with a cached token and refresh token: the 401 leads to the refresh
	 * grant, then to the password grant, both refused */
	control("/_control/tokens", "{\"revoke\":false}");
	get_ok(c, REFERRALS);
	control("/_control/tokens", "{\"revoke\":true,\"expire_all\":true}");
	peer_log_clear(emu.base);
	tu_assert_error(send_req(c, "GET", REFERRALS, NULL, "listing referrals", NULL), PCREF_EAUTH, "renew");
	ck_assert_str_eq(pcref_error_last()->service_inner_code, "50126");
	assert_message_has_no_secret();
	log = peer_log(emu.base);
	ck_assert_uint_eq(token_requests_in(log), 2);
	ck_assert_uint_eq(peer_log_count(log, "GET", REFERRALS), 1);
	pcref__json_free(log);
	pcref_connection_free(c);
}
END_TEST

START_TEST(wrong_client_secret_names_the_application)
{
	pcref_connection_options o = pc_options();
	pcref_connection *c;
	o.client_secret = "not-the-secret";
	c = connect_with(&o);
	tu_assert_error(send_req(c, "GET", REFERRALS, NULL, "listing referrals", NULL), PCREF_EAUTH,
	                "client_secret");
	ck_assert_str_eq(pcref_error_last()->service_code, "invalid_client");
	ck_assert_ptr_null(strstr(pcref_error_last()->message, "not-the-secret"));
	pcref_connection_free(c);
}
END_TEST

START_TEST(token_is_renewed_before_it_expires)
{
	pcref_connection *c;
	pcref__json *log;
	control("/_control/tokens", "{\"lifetime\":2}");
	c = pc_connect();
	get_ok(c, REFERRALS);
	get_ok(c, REFERRALS);          /* still fresh: cached */
	usleep(1900 * 1000);           /* past 90 % of the 2 s lifetime */
	get_ok(c, REFERRALS);
	log = peer_log(emu.base);
	ck_assert_uint_eq(token_requests_in(log), 2);
	for (size_t i = 0; i < 3; i++)   /* renewed ahead of time: never refused */
		ck_assert_int_eq(peer_log_status(peer_log_nth(log, "GET", REFERRALS, i)), 200);
	pcref__json_free(log);
	pcref_connection_free(c);
}
END_TEST

START_TEST(client_credentials_on_the_v2_endpoint)
{
	pcref_connection_options o = pc_options();
	pcref_connection *c;
	o.auth = PCREF_AUTH_CLIENT_CREDENTIALS;
	o.token_url = token_url_v2;            /* numbers as numbers */
	o.resource = NULL;
	o.scope = "https://api.partnercenter.microsoft.com/.default";
	c = connect_with(&o);
	get_ok(c, "/webhooks/v1/registration/events");
	pcref_connection_free(c);

	/* an application token on the App+User-only Referrals API: 403, not retried */
	o.scope = "https://api.partner.microsoft.com/.default";
	c = connect_with(&o);
	tu_assert_error(send_req(c, "GET", REFERRALS, NULL, "listing referrals", NULL), PCREF_EAUTH,
	                "lacks permission");
	ck_assert_int_eq(pcref_error_last()->http_status, 403);
	ck_assert_str_eq(pcref_error_last()->service_code, "accessDenied");
	ck_assert_uint_eq(stats_of(c).requests, 1);
	pcref_connection_free(c);
}
END_TEST

/* A refresh token, obtained the way a host would (an earlier sign-in). */
static char *sign_in_for_refresh_token(void)
{
	char *answer = NULL, *rt;
	pcref__json *doc = NULL;
	ck_assert_int_eq(peer_control(emu.base, "POST", "/common/oauth2/token",
		"grant_type=password&client_id=pcref-demo-client&client_secret=" DEMO_SECRET
		"&username=admin%40contoso.onmicrosoft.com&password=" DEMO_PASSWORD
		"&resource=https%3A%2F%2Fapi.partner.microsoft.com", &answer), 200);
	ck_assert_int_eq(pcref__json_parse(&doc, answer, strlen(answer), "token"), PCREF_OK);
	rt = strdup(pcref__json_string(pcref__json_get(doc, "refresh_token")));
	pcref__json_free(doc);
	free(answer);
	return rt;
}

START_TEST(refresh_token_grant)
{
	pcref_connection_options o = pc_options();
	pcref_connection *c;
	char *rt = sign_in_for_refresh_token();
	o.auth = PCREF_AUTH_REFRESH_TOKEN;
	o.username = o.password = NULL;
	o.refresh_token = rt;
	c = connect_with(&o);
	free(rt);                       /* copied by the connection */
	get_ok(c, REFERRALS);
	ck_assert_uint_eq(stats_of(c).token_requests, 1);

	control("/_control/tokens", "{\"revoke\":true,\"expire_all\":true}");
	tu_assert_error(send_req(c, "GET", REFERRALS, NULL, "listing referrals", NULL), PCREF_EAUTH,
	                "sign in again");
	ck_assert_str_eq(pcref_error_last()->service_code, "invalid_grant");
	ck_assert_str_eq(pcref_error_last()->service_inner_code, "700082");
	pcref_connection_free(c);
}
END_TEST

typedef struct cb_state {
	int calls;
	uint32_t last_flags;
	int fail;
} cb_state;

static int token_from_emulator(char *buf, size_t size, int64_t *expires_at, uint32_t flags, void *payload)
{
	cb_state *s = payload;
	char *answer = NULL;
	pcref__json *doc = NULL;
	s->calls++;
	s->last_flags = flags;
	if (s->fail)
		return 42;
	if (peer_control(emu.base, "POST", "/common/oauth2/token",
		"grant_type=password&client_id=pcref-demo-client&client_secret=" DEMO_SECRET
		"&username=admin%40contoso.onmicrosoft.com&password=" DEMO_PASSWORD
		"&resource=https%3A%2F%2Fapi.partner.microsoft.com", &answer) != 200)
		return 1;
	if (pcref__json_parse(&doc, answer, strlen(answer), "token") == PCREF_OK)
		snprintf(buf, size, "%s", pcref__json_string(pcref__json_get(doc, "access_token")));
	*expires_at = (int64_t)time(NULL) * 1000 + 3600 * 1000;
	pcref__json_free(doc);
	free(answer);
	return 0;
}

START_TEST(host_callback_supplies_tokens)
{
	pcref_connection_options o = pc_options();
	pcref_connection *c;
	cb_state s = { 0, 0, 0 };
	o.auth = PCREF_AUTH_CALLBACK;
	o.token_cb = token_from_emulator;
	o.token_payload = &s;
	c = connect_with(&o);
	get_ok(c, REFERRALS);
	get_ok(c, REFERRALS);
	ck_assert_int_eq(s.calls, 1);             /* cached until its expiry */
	ck_assert_uint_eq(s.last_flags, 0);
	control("/_control/tokens", "{\"expire_all\":true}");
	get_ok(c, REFERRALS);
	ck_assert_int_eq(s.calls, 2);
	ck_assert_uint_eq(s.last_flags, PCREF_TOKEN_REFRESH);
	/* the host forgets its credentials */
	pcref_connection_token_invalidate(c);
	s.fail = 1;
	tu_assert_error(send_req(c, "GET", REFERRALS, NULL, "listing referrals", NULL), PCREF_EAUTH,
	                "token_cb");
	ck_assert_ptr_nonnull(strstr(pcref_error_last()->message, "returned 42"));
	ck_assert_uint_eq(stats_of(c).token_requests, 0);   /* no endpoint involved */
	pcref_connection_free(c);
}
END_TEST

START_TEST(static_token_refused_is_not_renewed)
{
	pcref_connection_options o = pc_options();
	pcref_connection *c;
	pcref__json *log;
	o.auth = PCREF_AUTH_STATIC;
	o.token = "some-stale-token";
	c = connect_with(&o);
	tu_assert_error(send_req(c, "GET", REFERRALS, NULL, "listing referrals", NULL), PCREF_EAUTH,
	                "supply a new one");
	ck_assert_ptr_null(strstr(pcref_error_last()->message, "some-stale-token"));
	log = peer_log(emu.base);
	ck_assert_uint_eq(peer_log_count(log, "GET", REFERRALS), 1);
	ck_assert_uint_eq(token_requests_in(log), 0);
	pcref__json_free(log);
	pcref_connection_free(c);
}
END_TEST

START_TEST(token_goes_only_to_its_service)
{
	pcref_connection *c = pc_connect();
	pcref__http_request req;
	pcref__json *log;
	char other[128];
	const char *port = strrchr(emu.base, ':');

	/* same emulator, other origin ("localhost" is not "127.0.0.1") */
	snprintf(other, sizeof(other), "http://localhost%s" REFERRALS, port);
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = other;
	req.what = "fetching a certificate";
	tu_assert_error(pcref__http_send(c, &req, NULL), PCREF_EINVALID, "refusing to send");
	req.allow_any_host = 1;
	tu_assert_error(pcref__http_send(c, &req, NULL), PCREF_EAUTH, "without any");
	log = peer_log(emu.base);
	ck_assert_uint_eq(peer_log_count(log, "GET", REFERRALS), 1);
	ck_assert_ptr_null(pcref__json_pointer(peer_log_nth(log, "GET", REFERRALS, 0), "/headers/authorization"));
	ck_assert_uint_eq(token_requests_in(log), 0);
	pcref__json_free(log);
	pcref_connection_free(c);
}
END_TEST

/* ---- retries ------------------------------------------------------------------------------ */

START_TEST(throttled_call_waits_for_retry_after)
{
	pcref_connection *c = pc_connect();
	pcref__json *log;
	pcref_connection_stats st;
	int64_t t0, elapsed;
	const pcref__json *a, *b;

	get_ok(c, REFERRALS "?$top=1");   /* token fetched and cached */
	peer_log_clear(emu.base);
	pcref_connection_stats_reset(c);
	fault("{\"method\":\"GET\",\"path\":\"^/v1.0/engagements/referrals$\",\"status\":429,"
	      "\"headers\":{\"Retry-After\":\"1\"}}");
	t0 = now_ms();
	get_ok(c, REFERRALS);
	elapsed = now_ms() - t0;
	ck_assert_int_ge(elapsed, 1000);
	ck_assert_int_lt(elapsed, 5000);

	st = stats_of(c);
	ck_assert_uint_eq(st.calls, 1);
	ck_assert_uint_eq(st.requests, 2);
	ck_assert_uint_eq(st.retries, 1);
	ck_assert_uint_eq(st.throttled, 1);
	log = peer_log(emu.base);
	ck_assert_uint_eq(peer_log_count(log, "GET", REFERRALS), 2);
	a = with_status(log, "GET", REFERRALS, 429);
	b = with_status(log, "GET", REFERRALS, 200);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_str_eq(peer_log_str(a, "/headers/ms-requestid"), peer_log_str(b, "/headers/ms-requestid"));
	ck_assert_str_eq(peer_log_str(a, "/headers/ms-correlationid"), peer_log_str(b, "/headers/ms-correlationid"));
	ck_assert_str_eq(peer_log_str(a, "/headers/client-request-id"), peer_log_str(b, "/headers/client-request-id"));
	pcref__json_free(log);
	pcref_connection_free(c);
}
END_TEST

START_TEST(retry_after_as_an_http_date)
{
	pcref_connection *c = pc_connect();
	char spec[256], date[64];
	time_t when = time(NULL) + 2;
	struct tm tm;
	int64_t t0, elapsed;
	get_ok(c, REFERRALS "?$top=1");
	gmtime_r(&when, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	snprintf(spec, sizeof(spec), "{\"method\":\"GET\",\"path\":\"^/v1.0/engagements/referrals$\","
	         "\"status\":503,\"headers\":{\"Retry-After\":\"%s\"}}", date);
	fault(spec);
	t0 = now_ms();
	get_ok(c, REFERRALS);
	elapsed = now_ms() - t0;
	ck_assert_int_ge(elapsed, 900);    /* the date has whole seconds */
	ck_assert_int_lt(elapsed, 5000);
	ck_assert_uint_eq(stats_of(c).throttled, 1);
	pcref_connection_free(c);
}
END_TEST

START_TEST(long_retry_after_fails_at_once)
{
	pcref_connection *c = pc_connect();
	pcref__json *log;
	int64_t t0;
	get_ok(c, REFERRALS "?$top=1");
	peer_log_clear(emu.base);
	fault("{\"method\":\"GET\",\"path\":\"^/v1.0/engagements/referrals$\",\"status\":429,"
	      "\"headers\":{\"Retry-After\":\"120\"}}");
	t0 = now_ms();
	tu_assert_error(send_req(c, "GET", REFERRALS, NULL, "listing referrals", NULL), PCREF_ETHROTTLED,
	                "asks to wait 120 s");
	ck_assert_int_lt(now_ms() - t0, 1000);
	ck_assert_ptr_nonnull(strstr(pcref_error_last()->message, "retry_after_max_ms"));
	ck_assert_int_eq(pcref_error_last()->http_status, 429);
	log = peer_log(emu.base);
	ck_assert_uint_eq(peer_log_count(log, "GET", REFERRALS), 1);
	pcref__json_free(log);
	pcref_connection_free(c);
}
END_TEST

START_TEST(throttling_beyond_the_retries_is_ethrottled)
{
	pcref_connection_options o = pc_options();
	pcref_connection *c;
	o.retry_max = 2;
	c = connect_with(&o);
	fault("{\"method\":\"GET\",\"path\":\"^/v1.0/engagements/referrals$\",\"status\":429,\"count\":-1,"
	      "\"headers\":{\"Retry-After\":\"0\"}}");
	tu_assert_error(send_req(c, "GET", REFERRALS, NULL, "listing referrals", NULL), PCREF_ETHROTTLED,
	                "kept throttling listing referrals (429) after 2 attempts");
	ck_assert_ptr_nonnull(strstr(pcref_error_last()->message, "Rate limit is exceeded"));
	ck_assert_uint_eq(stats_of(c).requests, 2);
	pcref_connection_free(c);
}
END_TEST

START_TEST(burst_of_500s_is_retried_to_success)
{
	pcref_connection *c = pc_connect();
	pcref__json *log;
	pcref_connection_stats st;
	fault("{\"method\":\"GET\",\"path\":\"^/v1.0/engagements/referrals$\",\"status\":500,\"count\":3}");
	get_ok(c, REFERRALS);
	log = peer_log(emu.base);
	ck_assert_uint_eq(peer_log_count(log, "GET", REFERRALS), 4);
	ck_assert_uint_eq(count_status(log, "GET", REFERRALS, 500), 3);
	ck_assert_uint_eq(count_status(log, "GET", REFERRALS, 200), 1);
	st = stats_of(c);
	ck_assert_uint_eq(st.retries, 3);
	ck_assert_uint_eq(st.responses_5xx, 3);
	pcref__json_free(log);
	pcref_connection_free(c);
}
END_TEST

START_TEST(persistent_500s_give_a_service_error)
{
	pcref_connection_options o = pc_options();
	pcref_connection *c;
	pcref__json *log;
	o.retry_max = 3;
	c = connect_with(&o);
	fault("{\"method\":\"GET\",\"path\":\"^/v1.0/engagements/referrals$\",\"status\":500,\"count\":-1}");
	tu_assert_error(send_req(c, "GET", REFERRALS, NULL, "listing referrals", NULL), PCREF_ESERVICE,
	                "after 3 attempts");
	ck_assert_int_eq(pcref_error_last()->http_status, 500);
	ck_assert_str_eq(pcref_error_last()->service_code, "generalException");
	ck_assert_ptr_nonnull(strstr(pcref_error_last()->message, "Partner Center failed listing referrals (500"));
	log = peer_log(emu.base);
	ck_assert_uint_eq(peer_log_count(log, "GET", REFERRALS), 3);
	pcref__json_free(log);
	pcref_connection_free(c);
}
END_TEST

START_TEST(post_is_repeated_after_429_but_not_after_500)
{
	pcref_connection *c = pc_connect();
	pcref__http_request req;
	pcref__http_response resp = PCREF__HTTP_RESPONSE_INIT;
	pcref__json *log;

	fault("{\"method\":\"POST\",\"path\":\"^/v1.0/engagements/referrals$\",\"status\":500}");
	tu_assert_error(send_req(c, "POST", REFERRALS, create_body, "creating a referral", NULL),
	                PCREF_ESERVICE, "creating a referral");
	log = peer_log(emu.base);
	ck_assert_uint_eq(peer_log_count(log, "POST", REFERRALS), 1);   /* it may have been created */
	pcref__json_free(log);

	peer_log_clear(emu.base);
	fault("{\"method\":\"POST\",\"path\":\"^/v1.0/engagements/referrals$\",\"status\":429,"
	      "\"headers\":{\"Retry-After\":\"0\"}}");
	ck_assert_int_eq(send_req(c, "POST", REFERRALS, create_body, "creating a referral", &resp), PCREF_OK);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_ptr_nonnull(strstr(resp.body, "\"Fabrikam\""));
	pcref__http_response_dispose(&resp);
	log = peer_log(emu.base);
	ck_assert_uint_eq(peer_log_count(log, "POST", REFERRALS), 2);   /* a 429 was not processed */
	ck_assert_uint_eq(count_status(log, "POST", REFERRALS, 429), 1);
	ck_assert_uint_eq(count_status(log, "POST", REFERRALS, 200), 1);
	pcref__json_free(log);

	/* the caller proves the POST idempotent */
	peer_log_clear(emu.base);
	fault("{\"method\":\"POST\",\"path\":\"^/v1.0/engagements/referrals$\",\"status\":502}");
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = REFERRALS;
	req.body = create_body;
	req.body_len = strlen(create_body);
	req.retry_unsafe = 1;
	ck_assert_int_eq(pcref__http_send(c, &req, NULL), PCREF_OK);
	log = peer_log(emu.base);
	ck_assert_uint_eq(peer_log_count(log, "POST", REFERRALS), 2);
	ck_assert_str_eq(peer_log_str(peer_log_nth(log, "POST", REFERRALS, 0), "/headers/content-type"), "application/json");
	pcref__json_free(log);
	pcref_connection_free(c);
}
END_TEST

START_TEST(dropped_get_is_retried)
{
	pcref_connection *c = pc_connect();
	pcref__json *log;
	pcref_connection_stats st;
	get_ok(c, REFERRALS "?$top=1");
	peer_log_clear(emu.base);
	pcref_connection_stats_reset(c);
	/* two drops: libcurl itself re-sends once on a reused connection that
	 * died, so the second is certainly ours to retry */
	fault("{\"method\":\"GET\",\"path\":\"^/v1.0/engagements/referrals$\",\"action\":\"drop\",\"count\":2}");
	get_ok(c, REFERRALS);
	log = peer_log(emu.base);
	ck_assert_uint_eq(peer_log_count(log, "GET", REFERRALS), 3);
	ck_assert_uint_eq(count_status(log, "GET", REFERRALS, 0), 2);
	ck_assert_uint_eq(count_status(log, "GET", REFERRALS, 200), 1);
	st = stats_of(c);
	ck_assert_uint_ge(st.transport_errors, 1);
	ck_assert_uint_eq(st.requests, st.calls + st.retries);
	pcref__json_free(log);
	pcref_connection_free(c);
}
END_TEST

START_TEST(dropped_post_is_not_repeated)
{
	pcref_connection *c = pc_connect();
	pcref__json *log;
	get_ok(c, REFERRALS "?$top=1");   /* leaves a keep-alive connection libcurl would reuse */
	peer_log_clear(emu.base);
	fault("{\"method\":\"POST\",\"path\":\"^/v1.0/engagements/referrals$\",\"action\":\"drop\"}");
	tu_assert_error(send_req(c, "POST", REFERRALS, create_body, "creating a referral", NULL),
	                PCREF_ENETWORK, "not repeated");
	log = peer_log(emu.base);
	ck_assert_uint_eq(peer_log_count(log, "POST", REFERRALS), 1);
	pcref__json_free(log);
	ck_assert_uint_eq(stats_of(c).transport_errors, 1);
	pcref_connection_free(c);
}
END_TEST

static int closed_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);   /* bound, never listened: connections are refused */
	return port;
}

START_TEST(unreachable_service_is_a_network_error)
{
	pcref_connection_options o = PCREF_CONNECTION_OPTIONS_INIT;
	pcref_connection *c;
	pcref_connection_stats st;
	char base[64];
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", closed_port());
	o.base_url = base;
	o.service_name = "Partner Center";
	o.retry_max = 3;
	o.retry_base_ms = 10;
	c = connect_with(&o);
	/* never sent: repeated whatever the method */
	tu_assert_error(send_req(c, "POST", REFERRALS, create_body, "creating a referral", NULL),
	                PCREF_ENETWORK, "could not reach Partner Center for creating a referral (3 attempts");
	st = stats_of(c);
	ck_assert_uint_eq(st.requests, 3);
	ck_assert_uint_eq(st.transport_errors, 3);
	ck_assert_uint_eq(st.connections_opened, 0);
	pcref_connection_free(c);
}
END_TEST

/* ---- error mapping and limits ------------------------------------------------------------------ */

START_TEST(stale_if_match_is_a_conflict)
{
	pcref_connection *c = pc_connect();
	const char *id = seed_referral();
	static const char *const headers[] = { "If-Match: \"00000000-0000-0100-0000-000000000000\"",
	                                       "Content-Type: application/json-patch+json", NULL };
	char url[160], what[160];
	pcref__http_request req;
	pcref__http_response resp = PCREF__HTTP_RESPONSE_INIT;
	const char *patch = "[{\"op\":\"replace\",\"path\":\"/details/notes\",\"value\":\"changed\"}]";
	pcref__json *log;

	snprintf(url, sizeof(url), REFERRALS "/%s", id);
	snprintf(what, sizeof(what), "updating referral %.8s", id);
	memset(&req, 0, sizeof(req));
	req.method = "PATCH";
	req.url = url;
	req.headers = headers;
	req.body = patch;
	req.body_len = strlen(patch);
	req.what = what;
	tu_assert_error(pcref__http_send(c, &req, &resp), PCREF_ECONFLICT, "re-read it and apply the change again");
	ck_assert_int_eq(pcref_error_last()->http_status, 412);
	ck_assert_str_eq(pcref_error_last()->service_code, "preconditionFailed");
	ck_assert_str_eq(pcref_error_last()->service_inner_code, "99918");
	ck_assert_ptr_nonnull(strstr(pcref_error_last()->message,
	                             "Partner Center rejected updating referral"));
	ck_assert_ptr_nonnull(strstr(pcref_error_last()->message, "(412 preconditionFailed/99918)"));
	/* the caller can still look at the answer */
	ck_assert_int_eq(resp.status, 412);
	ck_assert_ptr_nonnull(strstr(resp.body, "preconditionFailed"));
	ck_assert_ptr_nonnull(pcref__http_header_get(&resp, "ms-requestid"));
	pcref__http_response_dispose(&resp);
	log = peer_log(emu.base);
	ck_assert_uint_eq(peer_log_count(log, "PATCH", REFERRALS), 1);
	ck_assert_str_eq(peer_log_str(peer_log_nth(log, "PATCH", REFERRALS, 0), "/headers/content-type"),
	                 "application/json-patch+json");
	pcref__json_free(log);
	pcref_connection_free(c);
}
END_TEST

START_TEST(missing_referral_is_not_found)
{
	pcref_connection *c = pc_connect();
	tu_assert_error(send_req(c, "GET", REFERRALS "/6b4c1a4e-0000-4000-8000-000000000000", NULL,
	                         "reading referral 6b4c1a4e", NULL),
	                PCREF_ENOTFOUND, "Partner Center found nothing for reading referral 6b4c1a4e (404 itemNotFound)");
	ck_assert_int_eq(pcref_error_last()->http_status, 404);
	ck_assert_str_eq(pcref_error_last()->service_code, "itemNotFound");
	ck_assert_uint_eq(stats_of(c).requests, 1);
	pcref_connection_free(c);
}
END_TEST

START_TEST(invalid_request_carries_the_services_words)
{
	pcref_connection *c = pc_connect();
	tu_assert_error(send_req(c, "POST", REFERRALS, "{\"type\":\"Independent\"}", "creating a referral", NULL),
	                PCREF_EINVALID, "The customerProfile field is required");
	ck_assert_str_eq(pcref_error_last()->service_code, "invalidRequest");
	ck_assert_int_eq(pcref_error_last()->http_status, 400);
	pcref_connection_free(c);
}
END_TEST

START_TEST(error_bodies_of_other_services)
{
	pcref_connection *c = pc_connect();
	/* Salesforce: an array, the fields named */
	fault("{\"method\":\"GET\",\"path\":\"^/v1.0/engagements/referrals$\",\"status\":400,"
	      "\"body\":[{\"fields\":[\"CloseDate\",\"StageName\"],\"message\":\"Required fields are missing\","
	      "\"errorCode\":\"REQUIRED_FIELD_MISSING\"}]}");
	tu_assert_error(send_req(c, "GET", REFERRALS, NULL, "creating an opportunity", NULL), PCREF_EINVALID,
	                "Required fields are missing (fields: CloseDate, StageName)");
	ck_assert_str_eq(pcref_error_last()->service_code, "REQUIRED_FIELD_MISSING");
	/* Dataverse service protection: 429 with its hex code, retried, then reported */
	fault("{\"method\":\"GET\",\"path\":\"^/v1.0/engagements/referrals$\",\"status\":429,\"count\":-1,"
	      "\"headers\":{\"Retry-After\":\"0\"},\"body\":{\"error\":{\"code\":\"0x80072322\",\"message\":"
	      "\"Number of requests exceeded the limit of 6000 over time window of 300 seconds.\"}}}");
	tu_assert_error(send_req(c, "GET", REFERRALS, NULL, "listing opportunities", NULL), PCREF_ETHROTTLED,
	                "6000");
	ck_assert_str_eq(pcref_error_last()->service_code, "0x80072322");
	pcref_connection_free(c);
}
END_TEST

START_TEST(redirects_are_not_followed)
{
	pcref_connection *c = pc_connect();
	pcref__http_response resp = PCREF__HTTP_RESPONSE_INIT;
	pcref__json *log;
	fault("{\"method\":\"GET\",\"path\":\"^/v1.0/engagements/referrals$\",\"status\":302,"
	      "\"headers\":{\"Location\":\"https://elsewhere.example.com/steal\"}}");
	tu_assert_error(send_req(c, "GET", REFERRALS, NULL, "listing referrals", &resp), PCREF_EPROTOCOL,
	                "redirects are not followed");
	ck_assert_ptr_nonnull(strstr(pcref_error_last()->message, "https://elsewhere.example.com/steal"));
	ck_assert_int_eq(resp.status, 302);
	pcref__http_response_dispose(&resp);
	log = peer_log(emu.base);
	ck_assert_uint_eq(peer_log_count(log, "GET", REFERRALS), 1);
	pcref__json_free(log);
	ck_assert_uint_eq(stats_of(c).responses_3xx, 1);
	pcref_connection_free(c);
}
END_TEST

START_TEST(oversize_response_is_a_protocol_error)
{
	pcref_connection_options o = pc_options();
	pcref_connection *c;
	pcref__json *log;
	control("/_control/generate", "{\"count\":20}");
	o.max_response_bytes = 4096;
	c = connect_with(&o);
	get_ok(c, REFERRALS "?$top=1");    /* small answers pass */
	peer_log_clear(emu.base);
	tu_assert_error(send_req(c, "GET", REFERRALS, NULL, "listing referrals", NULL), PCREF_EPROTOCOL,
	                "max_response_bytes (4096 bytes)");
	ck_assert_int_eq(pcref_error_last()->http_status, 200);
	log = peer_log(emu.base);
	ck_assert_uint_eq(peer_log_count(log, "GET", REFERRALS), 1);   /* not repeated */
	pcref__json_free(log);
	pcref_connection_free(c);
}
END_TEST

typedef struct sink_state {
	pcref__buf got;
	int chunks;
	int fail;
} sink_state;

static int collect(const char *data, size_t len, void *payload)
{
	sink_state *s = payload;
	s->chunks++;
	if (s->fail)
		return pcref__error(PCREF_EUSER, "the sink gave up");
	return pcref__buf_add(&s->got, data, len);
}

START_TEST(sink_receives_a_streamed_body)
{
	pcref_connection *c = pc_connect();
	pcref__http_request req;
	pcref__http_response resp = PCREF__HTTP_RESPONSE_INIT;
	sink_state s = { PCREF__BUF_INIT, 0, 0 };
	pcref__json *doc = NULL;

	control("/_control/generate", "{\"count\":5}");
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = REFERRALS;
	req.sink = collect;
	req.sink_payload = &s;
	ck_assert_int_eq(pcref__http_send(c, &req, &resp), PCREF_OK);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_ptr_null(resp.body);
	ck_assert_int_eq(pcref__json_parse(&doc, s.got.data, s.got.len, "page"), PCREF_OK);
	ck_assert_uint_eq(pcref__json_get(doc, "value")->u.arr.len, 5);
	pcref__json_free(doc);
	pcref__http_response_dispose(&resp);
	pcref__buf_dispose(&s.got);

	/* an error answer is buffered for the message, not streamed */
	s.chunks = 0;
	req.url = REFERRALS "/6b4c1a4e-0000-4000-8000-000000000000";
	tu_assert_error(pcref__http_send(c, &req, NULL), PCREF_ENOTFOUND, "GET /v1.0/engagements/referrals/");
	ck_assert_int_eq(s.chunks, 0);

	/* a sink that stops the transfer: its error, not repeated */
	s.fail = 1;
	req.url = REFERRALS;
	peer_log_clear(emu.base);
	tu_assert_error(pcref__http_send(c, &req, NULL), PCREF_EUSER, "the sink gave up");
	ck_assert_uint_eq(stats_of(c).requests, 3);
	pcref_connection_free(c);
}
END_TEST

START_TEST(links_with_raw_spaces_are_followed)
{
	pcref_connection *c = pc_connect();
	pcref__http_response resp = PCREF__HTTP_RESPONSE_INIT;
	pcref__json *doc = NULL;
	const char *id = seed_referral();
	char url[160], *related;

	snprintf(url, sizeof(url), REFERRALS "/%s", id);
	ck_assert_int_eq(send_req(c, "GET", url, NULL, "reading a referral", &resp), PCREF_OK);
	ck_assert_int_eq(pcref__json_parse(&doc, resp.body, resp.body_len, "referral"), PCREF_OK);
	pcref__http_response_dispose(&resp);
	/* absolute, on the base URL's origin, "$filter=engagementId eq <id>" unencoded */
	related = strdup(pcref__json_string(pcref__json_pointer(doc, "/links/relatedReferrals/uri")));
	pcref__json_free(doc);
	ck_assert_ptr_nonnull(strchr(related, ' '));
	ck_assert_int_eq(send_req(c, "GET", related, NULL, "listing related referrals", &resp), PCREF_OK);
	ck_assert_ptr_nonnull(strstr(resp.body, id));
	pcref__http_response_dispose(&resp);
	free(related);
	/* relative, with spaces and a "://" inside the query */
	ck_assert_int_eq(send_req(c, "GET", REFERRALS "?$filter=name eq 'http://pcref test'", NULL,
	                          "listing referrals by name", &resp), PCREF_OK);
	ck_assert_ptr_nonnull(strstr(resp.body, "\"value\":[]"));
	pcref__http_response_dispose(&resp);
	ck_assert_int_eq(send_req(c, "GET", REFERRALS "?$filter=name eq 'pcref test'", NULL,
	                          "listing referrals by name", &resp), PCREF_OK);
	ck_assert_ptr_nonnull(strstr(resp.body, id));
	pcref__http_response_dispose(&resp);
	pcref_connection_free(c);
}
END_TEST

START_TEST(keep_alive_reuses_the_connection)
{
	pcref_connection *c = pc_connect();
	pcref_connection_stats st;
	for (int i = 0; i < 20; i++)
		get_ok(c, REFERRALS "?$top=1");
	st = stats_of(c);
	ck_assert_uint_eq(st.calls, 20);
	ck_assert_uint_ge(st.connections_opened, 1);
	ck_assert_uint_le(st.connections_opened, 2);
	pcref_connection_free(c);
}
END_TEST

START_TEST(counters_match_the_request_log)
{
	pcref_connection *c = pc_connect();
	pcref_connection_stats st;
	pcref__json *log;
	uint64_t api = 0, tokens = 0, c2 = 0, c4 = 0, c5 = 0, thr = 0;

	fault("{\"method\":\"GET\",\"path\":\"^/v1.0/engagements/referrals$\",\"status\":429,"
	      "\"headers\":{\"Retry-After\":\"0\"}}");
	fault("{\"method\":\"GET\",\"path\":\"^/v1.0/engagements/referrals$\",\"status\":503,"
	      "\"headers\":{\"Retry-After\":\"0\"},\"skip\":1}");
	fault("{\"method\":\"POST\",\"path\":\"^/v1.0/engagements/referrals$\",\"status\":500}");
	get_ok(c, REFERRALS);                                              /* 429, 200 */
	get_ok(c, REFERRALS);                                              /* 503, 200 */
	ck_assert_int_eq(send_req(c, "GET", REFERRALS "/nope", NULL, NULL, NULL), PCREF_ENOTFOUND);
	ck_assert_int_eq(send_req(c, "POST", REFERRALS, create_body, NULL, NULL), PCREF_ESERVICE);
	control("/_control/tokens", "{\"expire_all\":true}");
	get_ok(c, REFERRALS "?$top=1");                                    /* 401, token, 200 */

	st = stats_of(c);
	log = peer_log(emu.base);
	for (size_t i = 0; i < log->u.arr.len; i++) {
		const pcref__json *e = log->u.arr.items[i];
		int status = peer_log_status(e);
		if (is_token_request(e)) {
			tokens++;
			continue;
		}
		api++;
		c2 += status >= 200 && status < 300;
		c4 += status >= 400 && status < 500;
		c5 += status >= 500;
		thr += status == 429 || status == 503;
	}
	ck_assert_uint_eq(st.calls, 5);
	ck_assert_uint_eq(st.requests, api);
	ck_assert_uint_eq(api, 8);
	ck_assert_uint_eq(st.token_requests, tokens);
	ck_assert_uint_eq(tokens, 2);
	ck_assert_uint_eq(st.retries, st.requests - st.calls);
	ck_assert_uint_eq(st.responses_2xx, c2);
	ck_assert_uint_eq(st.responses_4xx, c4);
	ck_assert_uint_eq(st.responses_5xx, c5);
	ck_assert_uint_eq(st.throttled, thr);
	ck_assert_uint_eq(st.throttled, 2);
	ck_assert_uint_eq(st.transport_errors, 0);
	ck_assert_uint_eq(st.bytes_sent, strlen(create_body));
	pcref__json_free(log);

	pcref_connection_stats_reset(c);
	st = stats_of(c);
	ck_assert_uint_eq(st.calls, 0);
	ck_assert_uint_eq(st.requests, 0);
	pcref_connection_free(c);
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
	s = suite_create("connection-integration");

	tc = tu_tcase(s, "tokens");
	tcase_add_unchecked_fixture(tc, emulator_up, NULL);
	tcase_add_checked_fixture(tc, emulator_reset, NULL);
	tcase_add_test(tc, password_token_is_fetched_once_for_many_calls);
	tcase_add_test(tc, expired_token_is_renewed_once_and_the_call_succeeds);
	tcase_add_test(tc, a_second_401_is_an_auth_error);
	tcase_add_test(tc, revoked_credentials_are_reported_as_such);
	tcase_add_test(tc, wrong_client_secret_names_the_application);
	tcase_add_test(tc, token_is_renewed_before_it_expires);
	tcase_add_test(tc, client_credentials_on_the_v2_endpoint);
	tcase_add_test(tc, refresh_token_grant);
	tcase_add_test(tc, host_callback_supplies_tokens);
	tcase_add_test(tc, static_token_refused_is_not_renewed);
	tcase_add_test(tc, token_goes_only_to_its_service);

	tc = tu_tcase(s, "retries");
	tcase_add_unchecked_fixture(tc, emulator_up, NULL);
	tcase_add_checked_fixture(tc, emulator_reset, NULL);
	tcase_add_test(tc, throttled_call_waits_for_retry_after);
	tcase_add_test(tc, retry_after_as_an_http_date);
	tcase_add_test(tc, long_retry_after_fails_at_once);
	tcase_add_test(tc, throttling_beyond_the_retries_is_ethrottled);
	tcase_add_test(tc, burst_of_500s_is_retried_to_success);
	tcase_add_test(tc, persistent_500s_give_a_service_error);
	tcase_add_test(tc, post_is_repeated_after_429_but_not_after_500);
	tcase_add_test(tc, dropped_get_is_retried);
	tcase_add_test(tc, dropped_post_is_not_repeated);
	tcase_add_test(tc, unreachable_service_is_a_network_error);

	tc = tu_tcase(s, "errors-and-limits");
	tcase_add_unchecked_fixture(tc, emulator_up, NULL);
	tcase_add_checked_fixture(tc, emulator_reset, NULL);
	tcase_add_test(tc, stale_if_match_is_a_conflict);
	tcase_add_test(tc, missing_referral_is_not_found);
	tcase_add_test(tc, invalid_request_carries_the_services_words);
	tcase_add_test(tc, error_bodies_of_other_services);
	tcase_add_test(tc, redirects_are_not_followed);
	tcase_add_test(tc, oversize_response_is_a_protocol_error);
	tcase_add_test(tc, sink_receives_a_streamed_body);
	tcase_add_test(tc, links_with_raw_spaces_are_followed);
	tcase_add_test(tc, keep_alive_reuses_the_connection);
	tcase_add_test(tc, counters_match_the_request_log);

	rc = tu_run(s);
	peer_stop(&emu);   /* started by the first unchecked fixture */
	pcref_shutdown();
	return rc;
}
