/* The Connection: option validation and the security rules of
 * pcref_connection_new, counters, and the net layer's pure helpers
 * (Retry-After, error bodies, token answers, the retry policy). Everything
 * that needs a peer is in tests/integration/test-connection.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"
#include "pcref/pcref.h"
#include "testutil.h"

static void setup(void)
{
	ck_assert_int_ge(pcref_init(), 1);
}

static void teardown(void)
{
	pcref_shutdown();
}

static pcref_connection_options opts(const char *base)
{
	pcref_connection_options o = PCREF_CONNECTION_OPTIONS_INIT;
	o.base_url = base;
	return o;
}

static void assert_new_ok(const pcref_connection_options *o)
{
	pcref_connection *c = NULL;
	int rc = pcref_connection_new(&c, o);
	ck_assert_msg(rc == PCREF_OK, "%s: %s", o->base_url, pcref_error_last()->message);
	ck_assert_ptr_nonnull(c);
	pcref_connection_free(c);
}

static void assert_new_fails(const pcref_connection_options *o, int code, const char *needle)
{
	pcref_connection *c = (pcref_connection *)&c;   /* must be reset to NULL */
	tu_assert_error(pcref_connection_new(&c, o), code, needle);
	ck_assert_ptr_null(c);
}

/* ---- options ------------------------------------------------------------------ */

START_TEST(options_init_checks_version)
{
	pcref_connection_options o;
	memset(&o, 0x5a, sizeof(o));
	ck_assert_int_eq(pcref_connection_options_init(&o, PCREF_CONNECTION_OPTIONS_VERSION), PCREF_OK);
	ck_assert_uint_eq(o.version, PCREF_CONNECTION_OPTIONS_VERSION);
	ck_assert_ptr_null(o.base_url);
	ck_assert_int_eq(o.max_response_bytes, 0);
	tu_assert_error(pcref_connection_options_init(&o, 0), PCREF_EVERSION, "version 0");
	tu_assert_error(pcref_connection_options_init(&o, PCREF_CONNECTION_OPTIONS_VERSION + 1),
	                PCREF_EVERSION, "not known");
	tu_assert_error(pcref_connection_options_init(NULL, 1), PCREF_EINVALID, "NULL");
}
END_TEST

START_TEST(unknown_options_version_is_refused)
{
	pcref_connection_options o = opts("https://api.partner.microsoft.com");
	o.version = PCREF_CONNECTION_OPTIONS_VERSION + 1;
	assert_new_fails(&o, PCREF_EVERSION, "options version 2");
	o.version = 0;
	assert_new_fails(&o, PCREF_EVERSION, "options version 0");
}
END_TEST

START_TEST(base_url_is_required)
{
	pcref_connection_options o = opts(NULL);
	pcref_connection *c;
	assert_new_fails(&o, PCREF_EINVALID, "base_url is required");
	o.base_url = "";
	assert_new_fails(&o, PCREF_EINVALID, "base_url is required");
	o.base_url = "api.partner.microsoft.com";
	assert_new_fails(&o, PCREF_EINVALID, "not an absolute URL");
	o.base_url = "ftp://api.partner.microsoft.com";
	assert_new_fails(&o, PCREF_EINVALID, "https://");
	o.base_url = "https://api.partner.microsoft.com/?x=1";
	assert_new_fails(&o, PCREF_EINVALID, "query");
	tu_assert_error(pcref_connection_new(NULL, &o), PCREF_EINVALID, "out is NULL");
	tu_assert_error(pcref_connection_new(&c, NULL), PCREF_EINVALID, "options is NULL");
}
END_TEST

START_TEST(plain_http_only_for_loopback)
{
	pcref_connection_options o = opts("http://api.partner.microsoft.com");
	assert_new_fails(&o, PCREF_EINVALID, "only allowed for loopback");
	ck_assert_ptr_nonnull(strstr(pcref_error_last()->message, "use https://"));
	/* names that merely look local are not loopback */
	o.base_url = "http://127.0.0.1.example.com/";
	assert_new_fails(&o, PCREF_EINVALID, "only allowed for loopback");
	o.base_url = "http://localhost.example.com";
	assert_new_fails(&o, PCREF_EINVALID, "only allowed for loopback");
	o.base_url = "http://10.0.0.1:8080";
	assert_new_fails(&o, PCREF_EINVALID, "10.0.0.1");

	o.base_url = "http://127.0.0.1:8080";
	assert_new_ok(&o);
	o.base_url = "http://127.3.2.1/api";
	assert_new_ok(&o);
	o.base_url = "http://localhost:9";
	assert_new_ok(&o);
	o.base_url = "http://[::1]:8080/";
	assert_new_ok(&o);
	o.base_url = "https://api.partner.microsoft.com";
	assert_new_ok(&o);
}
END_TEST

START_TEST(verify_tls_off_only_for_loopback)
{
	pcref_connection_options o = opts("https://api.partner.microsoft.com");
	o.verify_tls = -1;
	assert_new_fails(&o, PCREF_EINVALID, "verify_tls = -1");
	ck_assert_ptr_nonnull(strstr(pcref_error_last()->message, "ca_file"));
	o.base_url = "https://127.0.0.1:8443";
	assert_new_ok(&o);
	/* the token endpoint gets the same rule */
	o.auth = PCREF_AUTH_CLIENT_CREDENTIALS;
	o.client_id = "app";
	o.client_secret = "secret-value";
	o.token_url = "https://login.microsoftonline.com/contoso/oauth2/v2.0/token";
	assert_new_fails(&o, PCREF_EINVALID, "token_url points at login.microsoftonline.com");
	o.verify_tls = 2;
	assert_new_fails(&o, PCREF_EINVALID, "verify_tls is 2");
}
END_TEST

START_TEST(token_url_must_be_https_too)
{
	pcref_connection_options o = opts("http://127.0.0.1:8080");
	o.auth = PCREF_AUTH_PASSWORD;
	o.client_id = "app";
	o.username = "admin@contoso.onmicrosoft.com";
	o.password = "pw-value";
	o.token_url = "http://login.microsoftonline.com/common/oauth2/token";
	assert_new_fails(&o, PCREF_EINVALID, "token_url");
	ck_assert_ptr_nonnull(strstr(pcref_error_last()->message, "http://"));
	o.token_url = "http://127.0.0.1:8080/common/oauth2/token";
	assert_new_ok(&o);
}
END_TEST

START_TEST(credentials_in_the_url_are_refused_without_echo)
{
	pcref_connection_options o = opts("https://admin:Sup3rSecret@api.partner.microsoft.com");
	assert_new_fails(&o, PCREF_EINVALID, "user:password@");
	ck_assert_ptr_null(strstr(pcref_error_last()->message, "Sup3rSecret"));
}
END_TEST

typedef struct grant_case {
	int32_t auth;
	const char *drop;      /* the option left out */
} grant_case;

static int dummy_cb(char *buf, size_t size, int64_t *expires_at, uint32_t flags, void *payload)
{
	snprintf(buf, size, "token");
	return 0;
}

static pcref_connection_options full(int32_t auth)
{
	pcref_connection_options o = opts("https://api.partner.microsoft.com");
	o.auth = auth;
	o.token = "static-token-value";
	o.token_url = "https://login.microsoftonline.com/common/oauth2/token";
	o.client_id = "app-id";
	o.client_secret = "client-secret-value";
	o.username = "admin@contoso.onmicrosoft.com";
	o.password = "password-value";
	o.refresh_token = "refresh-token-value";
	o.token_cb = dummy_cb;
	return o;
}

START_TEST(each_grant_names_its_missing_credentials)
{
	static const grant_case cases[] = {
		{ PCREF_AUTH_STATIC, "token" },
		{ PCREF_AUTH_PASSWORD, "token_url" },
		{ PCREF_AUTH_PASSWORD, "client_id" },
		{ PCREF_AUTH_PASSWORD, "username" },
		{ PCREF_AUTH_PASSWORD, "password" },
		{ PCREF_AUTH_REFRESH_TOKEN, "refresh_token" },
		{ PCREF_AUTH_REFRESH_TOKEN, "client_id" },
		{ PCREF_AUTH_CLIENT_CREDENTIALS, "client_secret" },
		{ PCREF_AUTH_CLIENT_CREDENTIALS, "token_url" },
		{ PCREF_AUTH_CALLBACK, "token_cb" },
	};
	for (size_t i = 0; i < PCREF__ARRAY_LEN(cases); i++) {
		pcref_connection_options o = full(cases[i].auth);
		char needle[64];
		const char *msg;
		assert_new_ok(&o);
		if (strcmp(cases[i].drop, "token") == 0) o.token = NULL;
		if (strcmp(cases[i].drop, "token_url") == 0) o.token_url = NULL;
		if (strcmp(cases[i].drop, "client_id") == 0) o.client_id = "";
		if (strcmp(cases[i].drop, "client_secret") == 0) o.client_secret = NULL;
		if (strcmp(cases[i].drop, "username") == 0) o.username = NULL;
		if (strcmp(cases[i].drop, "password") == 0) o.password = NULL;
		if (strcmp(cases[i].drop, "refresh_token") == 0) o.refresh_token = NULL;
		if (strcmp(cases[i].drop, "token_cb") == 0) o.token_cb = NULL;
		snprintf(needle, sizeof(needle), "needs %s", cases[i].drop);
		assert_new_fails(&o, PCREF_EINVALID, needle);
		msg = pcref_error_last()->message;
		/* the secrets that were given are never echoed */
		ck_assert_ptr_null(strstr(msg, "secret-value"));
		ck_assert_ptr_null(strstr(msg, "password-value"));
		ck_assert_ptr_null(strstr(msg, "token-value"));
	}
	/* several missing at once are all named */
	{
		pcref_connection_options o = opts("https://api.partner.microsoft.com");
		o.auth = PCREF_AUTH_PASSWORD;
		assert_new_fails(&o, PCREF_EINVALID, "PCREF_AUTH_PASSWORD needs token_url, client_id, username and password");
	}
	{
		pcref_connection_options o = full(9);
		assert_new_fails(&o, PCREF_EINVALID, "auth 9");
	}
}
END_TEST

START_TEST(negative_numbers_are_refused)
{
	pcref_connection_options o = opts("https://api.partner.microsoft.com");
	o.retry_max = -1;
	assert_new_fails(&o, PCREF_EINVALID, "retry_max is -1");
	o.retry_max = 0;
	o.max_response_bytes = -5;
	assert_new_fails(&o, PCREF_EINVALID, "max_response_bytes");
	o.max_response_bytes = 0;
	o.timeout_ms = -1;
	assert_new_fails(&o, PCREF_EINVALID, "timeout_ms");
}
END_TEST

START_TEST(getters_stats_and_references)
{
	pcref_connection_options o = opts("https://contoso.crm.dynamics.com/api/data/v9.2/");
	pcref_connection *c, *held;
	pcref_connection_stats st;
	ck_assert_int_eq(pcref_connection_new(&c, &o), PCREF_OK);
	ck_assert_str_eq(pcref_connection_base_url(c), "https://contoso.crm.dynamics.com/api/data/v9.2");
	ck_assert_str_eq(pcref__connection_service(c), "contoso.crm.dynamics.com");
	ck_assert_ptr_null(pcref__connection_instance_url(c));

	memset(&st, 0xff, sizeof(st));
	st.version = PCREF_CONNECTION_STATS_VERSION;
	ck_assert_int_eq(pcref_connection_stats_get(c, &st), PCREF_OK);
	ck_assert_uint_eq(st.calls, 0);
	ck_assert_uint_eq(st.connections_opened, 0);
	st.version = 0;
	tu_assert_error(pcref_connection_stats_get(c, &st), PCREF_EVERSION, "stats version 0");
	st.version = 2;
	tu_assert_error(pcref_connection_stats_get(c, &st), PCREF_EVERSION, "stats version 2");
	tu_assert_error(pcref_connection_stats_get(c, NULL), PCREF_EINVALID, "stats is NULL");
	tu_assert_error(pcref_connection_stats_get(NULL, &st), PCREF_EINVALID, "conn is NULL");
	pcref_connection_stats_reset(c);
	pcref_connection_token_invalidate(c);

	/* an object built on the connection keeps it alive */
	held = pcref__connection_ref(c);
	pcref_connection_free(c);
	ck_assert_str_eq(pcref_connection_base_url(held), "https://contoso.crm.dynamics.com/api/data/v9.2");
	pcref_connection_free(held);
	pcref_connection_free(NULL);
	pcref_connection_stats_reset(NULL);
	pcref_connection_token_invalidate(NULL);

	o.service_name = "Dynamics 365";
	ck_assert_int_eq(pcref_connection_new(&c, &o), PCREF_OK);
	ck_assert_str_eq(pcref__connection_service(c), "Dynamics 365");
	pcref_connection_free(c);
}
END_TEST

START_TEST(new_before_init_is_a_state_error)
{
	pcref_connection_options o = opts("https://api.partner.microsoft.com");
	pcref_connection *c;
	tu_assert_error(pcref_connection_new(&c, &o), PCREF_ESTATE, "pcref_init");
}
END_TEST

/* ---- helpers ------------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

START_TEST(guids_are_random_version_4)
{
	static char ids[500][37];
	for (size_t i = 0; i < PCREF__ARRAY_LEN(ids); i++) {
		const char *g = ids[i];
		pcref__guid(ids[i]);
		ck_assert_uint_eq(strlen(g), 36);
		for (int k = 0; k < 36; k++) {
			if (k == 8 || k == 13 || k == 18 || k == 23)
				ck_assert_int_eq(g[k], '-');
			else
				ck_assert_msg(strchr("0123456789abcdef", g[k]) != NULL, "%s", g);
		}
		ck_assert_int_eq(g[14], '4');
		ck_assert_msg(strchr("89ab", g[19]) != NULL, "variant of %s", g);
	}
	qsort(ids, PCREF__ARRAY_LEN(ids), sizeof(ids[0]), cmp_str);
	for (size_t i = 1; i < PCREF__ARRAY_LEN(ids); i++)
		ck_assert_str_ne(ids[i - 1], ids[i]);
}
END_TEST

START_TEST(url_escape_keeps_only_unreserved)
{
	pcref__buf b = PCREF__BUF_INIT;
	char *out;
	ck_assert_int_eq(pcref__http_url_escape(&b, "a b&c=d/é~x-_.+%"), PCREF_OK);
	ck_assert_int_eq(pcref__buf_detach(&b, &out, NULL), PCREF_OK);
	ck_assert_str_eq(out, "a%20b%26c%3Dd%2F%C3%A9~x-_.%2B%25");
	pcref__dealloc(out);
	ck_assert_int_eq(pcref__http_url_escape(&b, ""), PCREF_OK);
	ck_assert_int_eq(pcref__buf_detach(&b, &out, NULL), PCREF_OK);
	ck_assert_str_eq(out, "");
	pcref__dealloc(out);
}
END_TEST

START_TEST(retry_after_seconds_and_dates)
{
	/* Wed, 21 Oct 2015 07:28:00 GMT = 1445412480 */
	int64_t now = 1445412480000LL - 3000;
	ck_assert_int_eq(pcref__net_retry_after_ms("1", now), 1000);
	ck_assert_int_eq(pcref__net_retry_after_ms(" 120 ", now), 120000);
	ck_assert_int_eq(pcref__net_retry_after_ms("0", now), 0);
	ck_assert_int_eq(pcref__net_retry_after_ms("99999999999", now), 86400000);
	ck_assert_int_eq(pcref__net_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", now), 3000);
	ck_assert_int_eq(pcref__net_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", now + 10000), 0);
	ck_assert_int_eq(pcref__net_retry_after_ms("soon", now), -1);
	ck_assert_int_eq(pcref__net_retry_after_ms("-5", now), -1);
	ck_assert_int_eq(pcref__net_retry_after_ms("1.5", now), -1);
	ck_assert_int_eq(pcref__net_retry_after_ms("", now), -1);
	ck_assert_int_eq(pcref__net_retry_after_ms(NULL, now), -1);
}
END_TEST

static pcref__net_service_error parse_error(const char *body)
{
	pcref__net_service_error se;
	pcref__net_service_error_parse(&se, body, strlen(body));
	return se;
}

START_TEST(error_bodies_of_every_service)
{
	pcref__net_service_error se;
	/* Partner API (partner-center-api.md §2.7) */
	se = parse_error("{\"error\":{\"code\":\"preconditionFailed\",\"message\":\"A precondition provided "
	                 "in the request does not match.\",\"target\":\"ETag\",\"innerError\":{\"code\":\"99918\","
	                 "\"message\":\"Etag value did not Match\",\"details\":null}}}");
	ck_assert_str_eq(se.code, "preconditionFailed");
	ck_assert_str_eq(se.inner, "99918");
	ck_assert_str_eq(se.message, "A precondition provided in the request does not match.");
	/* Dataverse (crm-apis.md A.3): empty code, hex code with annotations */
	se = parse_error("{\"error\":{\"code\":\"0x80072322\",\"message\":\"Number of requests exceeded the limit "
	                 "of 6000 over time window of 300 seconds.\"}}");
	ck_assert_str_eq(se.code, "0x80072322");
	ck_assert_str_eq(se.inner, "");
	ck_assert_ptr_nonnull(strstr(se.message, "6000"));
	/* Azure AD token endpoint: the AADSTS number, the first line only */
	se = parse_error("{\"error\":\"invalid_grant\",\"error_description\":\"AADSTS50126: Error validating "
	                 "credentials.\\r\\nTrace ID: 1\\r\\nCorrelation ID: 2\",\"error_codes\":[50126]}");
	ck_assert_str_eq(se.code, "invalid_grant");
	ck_assert_str_eq(se.inner, "50126");
	ck_assert_str_eq(se.message, "AADSTS50126: Error validating credentials.");
	/* Salesforce OAuth error, no AADSTS */
	se = parse_error("{\"error\":\"invalid_client_id\",\"error_description\":\"client identifier invalid\"}");
	ck_assert_str_eq(se.code, "invalid_client_id");
	ck_assert_str_eq(se.inner, "");
	/* Partner Center general (§6): numeric code */
	se = parse_error("{\"code\":2001,\"description\":\"The webhook is not registered.\",\"data\":[],"
	                 "\"source\":\"PartnerFD\"}");
	ck_assert_str_eq(se.code, "2001");
	ck_assert_str_eq(se.message, "The webhook is not registered.");
	/* Salesforce REST (crm-apis.md B.5): an array, fields named */
	se = parse_error("[{\"fields\":[\"Id\",\"Name\"],\"message\":\"Account ID: id value of incorrect type\","
	                 "\"errorCode\":\"MALFORMED_ID\"}]");
	ck_assert_str_eq(se.code, "MALFORMED_ID");
	ck_assert_str_eq(se.fields, "Id, Name");
	ck_assert_str_eq(se.message, "Account ID: id value of incorrect type");
	se = parse_error("[{\"statusCode\":\"DUPLICATES_DETECTED\",\"message\":\"Use one of these records?\","
	                 "\"fields\":[]}]");
	ck_assert_str_eq(se.code, "DUPLICATES_DETECTED");
	ck_assert_str_eq(se.fields, "");
	/* throttling (§6) */
	se = parse_error("{ \"statusCode\": 429, \"message\": \"Rate limit is exceeded. Try again in 57 seconds.\" }");
	ck_assert_str_eq(se.code, "");
	ck_assert_str_eq(se.message, "Rate limit is exceeded. Try again in 57 seconds.");
	/* not JSON, or broken JSON: nothing, and the error record is untouched */
	pcref__error_http(PCREF_ECONFLICT, 412, "keep", "me", "original message");
	se = parse_error("<html><body>Bad Gateway</body></html>");
	ck_assert_str_eq(se.code, "");
	ck_assert_str_eq(se.message, "");
	se = parse_error("{\"error\":{\"code\":");
	ck_assert_str_eq(se.code, "");
	ck_assert_int_eq(pcref_error_last()->code, PCREF_ECONFLICT);
	ck_assert_str_eq(pcref_error_last()->message, "original message");
	ck_assert_str_eq(pcref_error_last()->service_code, "keep");
	ck_assert_int_eq(pcref_error_last()->http_status, 412);
}
END_TEST

START_TEST(long_service_messages_are_cut_cleanly)
{
	char body[2000];
	pcref__net_service_error se;
	size_t n = (size_t)snprintf(body, sizeof(body), "{\"error\":{\"code\":\"x\",\"message\":\"");
	for (int i = 0; i < 300; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n, "é");   /* 2 bytes each */
	snprintf(body + n, sizeof(body) - n, "\"}}");
	pcref__net_service_error_parse(&se, body, strlen(body));
	ck_assert_uint_lt(strlen(se.message), sizeof(se.message));
	ck_assert_ptr_nonnull(strstr(se.message, "..."));
	/* whole two-byte characters before the ellipsis */
	ck_assert_uint_eq((size_t)(strstr(se.message, "...") - se.message) % 2, 0);
}
END_TEST

START_TEST(token_answers_v1_strings_v2_numbers)
{
	pcref__net_token t;
	int64_t now = 1700000000000LL;
	const char *v1 = "{\"token_type\":\"Bearer\",\"expires_in\":\"3600\",\"ext_expires_in\":\"3600\","
	                 "\"expires_on\":\"1546469802\",\"not_before\":\"1546465902\",\"resource\":"
	                 "\"https://api.partner.microsoft.com\",\"access_token\":\"at-1\",\"refresh_token\":\"rt-1\"}";
	const char *v2 = "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"access_token\":\"at-2\"}";
	const char *on = "{\"access_token\":\"at-3\",\"expires_on\":1700000600}";
	const char *sf = "{\"access_token\":\"00DS!AR8\",\"instance_url\":\"https://acme.my.salesforce.com\","
	                 "\"token_type\":\"Bearer\",\"issued_at\":\"1\"}";

	ck_assert_int_eq(pcref__net_token_parse(&t, v1, strlen(v1), now), PCREF_OK);
	ck_assert_str_eq(t.access_token, "at-1");
	ck_assert_str_eq(t.refresh_token, "rt-1");
	ck_assert_int_eq(t.lifetime_ms, 3600000);   /* expires_in wins over a stale expires_on */
	pcref__net_token_dispose(&t);

	ck_assert_int_eq(pcref__net_token_parse(&t, v2, strlen(v2), now), PCREF_OK);
	ck_assert_int_eq(t.lifetime_ms, 3599000);
	ck_assert_ptr_null(t.refresh_token);
	pcref__net_token_dispose(&t);

	ck_assert_int_eq(pcref__net_token_parse(&t, on, strlen(on), now), PCREF_OK);
	ck_assert_int_eq(t.lifetime_ms, 600000);
	pcref__net_token_dispose(&t);

	ck_assert_int_eq(pcref__net_token_parse(&t, sf, strlen(sf), now), PCREF_OK);
	ck_assert_int_eq(t.lifetime_ms, -1);
	ck_assert_str_eq(t.instance_url, "https://acme.my.salesforce.com");
	pcref__net_token_dispose(&t);

	{
		const char *none = "{\"token_type\":\"Bearer\"}";
		const char *mac = "{\"token_type\":\"mac\",\"access_token\":\"x\"}";
		tu_assert_error(pcref__net_token_parse(&t, none, strlen(none), now), PCREF_EPROTOCOL,
		                "no access_token");
		tu_assert_error(pcref__net_token_parse(&t, mac, strlen(mac), now), PCREF_EPROTOCOL, "only Bearer");
	}
	tu_assert_error(pcref__net_token_parse(&t, "[1]", 3, now), PCREF_EPROTOCOL, "not an object");
	ck_assert_int_eq(pcref__net_token_parse(&t, "<html>", 6, now), PCREF_EPROTOCOL);
}
END_TEST

START_TEST(tokens_are_renewed_before_they_expire)
{
	int64_t now = 1700000000000LL;
	/* five minutes early for an hour's token */
	ck_assert_int_eq(pcref__net_token_refresh_at(now, 3600000), now + 3300000);
	/* 10 % early when that is shorter */
	ck_assert_int_eq(pcref__net_token_refresh_at(now, 60000), now + 54000);
	ck_assert_int_eq(pcref__net_token_refresh_at(now, 0), now);
	/* unknown lifetime: kept until refused */
	ck_assert_int_eq(pcref__net_token_refresh_at(now, -1), 0);
}
END_TEST

START_TEST(secrets_are_redacted_from_text)
{
	pcref_connection_options o = full(PCREF_AUTH_PASSWORD);
	pcref_connection *c;
	char text[200];
	ck_assert_int_eq(pcref_connection_new(&c, &o), PCREF_OK);
	snprintf(text, sizeof(text), "echo: password=password-value&client_secret=client-secret-value!");
	pcref__net_redact(c, text, sizeof(text));
	ck_assert_str_eq(text, "echo: password=[redacted]&client_secret=[redacted]!");
	pcref_connection_free(c);

	/* a short secret grows into the mark: a tight buffer is cut, never
	 * overrun, and keeps no piece of the secret; a mark is not re-scanned */
	o.client_secret = "dact";
	ck_assert_int_eq(pcref_connection_new(&c, &o), PCREF_OK);
	snprintf(text, 20, "dact dact dact dact");
	pcref__net_redact(c, text, 20);
	ck_assert_uint_lt(strlen(text), 20);
	ck_assert_str_eq(text, "[redacted]");
	pcref_connection_free(c);
}
END_TEST

/* ---- the retry policy ------------------------------------------------------------------- */

static pcref__http_header retry_after_header[] = { { (char *)"Retry-After", (char *)"2" } };

static pcref__net_verdict decide(pcref_connection *c, CURLcode result, int status, int unsafe,
                                 int attempt, const char *retry_after)
{
	pcref__net_exchange x;
	pcref__net_verdict v;
	memset(&x, 0, sizeof(x));
	x.result = result;
	x.status = status;
	if (retry_after) {
		retry_after_header[0].value = (char *)retry_after;
		x.resp_headers = retry_after_header;
		x.header_count = 1;
	}
	pcref__net_decide(c, &x, unsafe, attempt, &v);
	return v;
}

START_TEST(retry_policy_by_status_method_and_transport)
{
	pcref_connection_options o = opts("https://api.partner.microsoft.com");
	pcref_connection *c;
	pcref__net_verdict v;
	o.retry_base_ms = 100;
	o.retry_after_max_ms = 60000;
	ck_assert_int_eq(pcref_connection_new(&c, &o), PCREF_OK);

	/* 5xx: safe methods back off, unsafe ones are not repeated */
	v = decide(c, CURLE_OK, 500, 0, 1, NULL);
	ck_assert(v.retryable);
	ck_assert_int_le(v.wait_ms, 100);
	v = decide(c, CURLE_OK, 502, 1, 1, NULL);
	ck_assert(!v.retryable);
	v = decide(c, CURLE_OK, 504, 0, 1, NULL);
	ck_assert(v.retryable);
	v = decide(c, CURLE_OK, 501, 0, 1, NULL);   /* not implemented: no point */
	ck_assert(!v.retryable);
	/* the jittered step doubles per attempt */
	for (int i = 0; i < 50; i++) {
		v = decide(c, CURLE_OK, 500, 0, 4, NULL);
		ck_assert_int_le(v.wait_ms, 800);
		ck_assert_int_ge(v.wait_ms, 0);
	}
	/* throttling: any method, Retry-After honoured, too long refused */
	v = decide(c, CURLE_OK, 429, 1, 1, "2");
	ck_assert(v.retryable);
	ck_assert_int_eq(v.wait_ms, 2000);
	v = decide(c, CURLE_OK, 503, 1, 1, NULL);
	ck_assert(v.retryable);
	ck_assert_int_eq(v.retry_after_ms, -1);
	v = decide(c, CURLE_OK, 429, 0, 1, "120");
	ck_assert(!v.retryable);
	ck_assert(v.too_long);
	ck_assert_int_eq(v.retry_after_ms, 120000);
	/* client errors are final */
	v = decide(c, CURLE_OK, 404, 0, 1, NULL);
	ck_assert(!v.retryable);
	v = decide(c, CURLE_OK, 412, 0, 1, NULL);
	ck_assert(!v.retryable);
	/* transport: never-sent failures for any method, the rest only when safe */
	v = decide(c, CURLE_COULDNT_CONNECT, 0, 1, 1, NULL);
	ck_assert(v.retryable);
	v = decide(c, CURLE_COULDNT_RESOLVE_HOST, 0, 1, 1, NULL);
	ck_assert(v.retryable);
	v = decide(c, CURLE_GOT_NOTHING, 0, 1, 1, NULL);
	ck_assert(!v.retryable);
	v = decide(c, CURLE_GOT_NOTHING, 0, 0, 1, NULL);
	ck_assert(v.retryable);
	v = decide(c, CURLE_OPERATION_TIMEDOUT, 0, 0, 1, NULL);
	ck_assert(v.retryable);
	v = decide(c, CURLE_PEER_FAILED_VERIFICATION, 0, 0, 1, NULL);
	ck_assert(!v.retryable);
	pcref_connection_free(c);
}
END_TEST

START_TEST(a_partly_delivered_stream_is_not_repeated)
{
	pcref_connection_options o = opts("https://api.partner.microsoft.com");
	pcref_connection *c;
	pcref__net_exchange x;
	pcref__net_verdict v;
	ck_assert_int_eq(pcref_connection_new(&c, &o), PCREF_OK);
	memset(&x, 0, sizeof(x));
	x.result = CURLE_RECV_ERROR;
	x.sink_bytes = 10;
	pcref__net_decide(c, &x, 0, 1, &v);
	ck_assert(!v.retryable);
	x.sink_bytes = 0;
	pcref__net_decide(c, &x, 0, 1, &v);
	ck_assert(v.retryable);
	pcref_connection_free(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("connection");
	TCase *tc = tu_tcase(s, "options");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, options_init_checks_version);
	tcase_add_test(tc, unknown_options_version_is_refused);
	tcase_add_test(tc, base_url_is_required);
	tcase_add_test(tc, plain_http_only_for_loopback);
	tcase_add_test(tc, verify_tls_off_only_for_loopback);
	tcase_add_test(tc, token_url_must_be_https_too);
	tcase_add_test(tc, credentials_in_the_url_are_refused_without_echo);
	tcase_add_test(tc, each_grant_names_its_missing_credentials);
	tcase_add_test(tc, negative_numbers_are_refused);
	tcase_add_test(tc, getters_stats_and_references);
	tc = tu_tcase(s, "state");
	tcase_add_test(tc, new_before_init_is_a_state_error);
	tc = tu_tcase(s, "helpers");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, guids_are_random_version_4);
	tcase_add_test(tc, url_escape_keeps_only_unreserved);
	tcase_add_test(tc, retry_after_seconds_and_dates);
	tcase_add_test(tc, error_bodies_of_every_service);
	tcase_add_test(tc, long_service_messages_are_cut_cleanly);
	tcase_add_test(tc, token_answers_v1_strings_v2_numbers);
	tcase_add_test(tc, tokens_are_renewed_before_they_expire);
	tcase_add_test(tc, secrets_are_redacted_from_text);
	tcase_add_test(tc, retry_policy_by_status_method_and_transport);
	tcase_add_test(tc, a_partly_delivered_stream_is_not_repeated);
	return tu_run(s);
}
