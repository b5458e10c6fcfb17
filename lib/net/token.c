/* Token providers (static, OAuth2 password / refresh-token / client
 * credentials grants, host callback) and the token cache. Token endpoint
 * requests are separate from API requests: form-encoded, no Authorization
 * header, never repeated after a 4xx, and never written into messages. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../core/json.h"
#include "net.h"

#define REFRESH_MARGIN_MS (5 * 60 * 1000)

enum grant { GRANT_PASSWORD, GRANT_REFRESH, GRANT_CLIENT_CREDENTIALS };

/* ---- parsing ------------------------------------------------------------------------ */

void pcref__net_token_dispose(pcref__net_token *t)
{
	pcref__net_free_secret(t->access_token);
	pcref__net_free_secret(t->refresh_token);
	pcref__dealloc(t->instance_url);
	memset(t, 0, sizeof(*t));
}

static int take_string(char **dst, const pcref__json *doc, const char *key)
{
	const char *s = pcref__json_string(pcref__json_get(doc, key));
	*dst = NULL;
	if (!s || !*s)
		return PCREF_OK;
	if (!(*dst = pcref__strdup(s)))
		return pcref__error_nomem();
	return PCREF_OK;
}

int pcref__net_token_parse(pcref__net_token *out, const char *body, size_t len, int64_t now_wall_ms)
{
	pcref__json *doc = NULL;
	const char *type;
	double n;
	int rc;

	memset(out, 0, sizeof(*out));
	out->lifetime_ms = -1;
	if ((rc = pcref__json_parse(&doc, body ? body : "", body ? len : 0, "token response")) < 0)
		return rc;
	if (doc->type != PCREF__JSON_OBJECT) {
		rc = pcref__error(PCREF_EPROTOCOL, "the token response is a JSON %s, not an object",
		                  pcref__json_type_name(doc->type));
		goto done;
	}
	type = pcref__json_string(pcref__json_get(doc, "token_type"));
	if (type && strcasecmp(type, "bearer") != 0) {
		rc = pcref__error(PCREF_EPROTOCOL, "the token response has token_type '%.40s'; only Bearer "
		                  "tokens are supported", type);
		goto done;
	}
	if ((rc = take_string(&out->access_token, doc, "access_token")) < 0 ||
	    (rc = take_string(&out->refresh_token, doc, "refresh_token")) < 0 ||
	    (rc = take_string(&out->instance_url, doc, "instance_url")) < 0)
		goto done;
	if (!out->access_token) {
		rc = pcref__error(PCREF_EPROTOCOL, "the token response has no access_token");
		goto done;
	}
	/* Azure AD v1 sends these as strings ("3600"), v2 as numbers.
	 * expires_in is relative, so it does not depend on the clocks agreeing. */
	if (pcref__json_number(pcref__json_get(doc, "expires_in"), &n) == 0 && n >= 0 && n < 1e9)
		out->lifetime_ms = (int64_t)(n * 1000.0);
	else if (pcref__json_number(pcref__json_get(doc, "expires_on"), &n) == 0 && n > 0 && n < 1e11)
		out->lifetime_ms = (int64_t)(n * 1000.0) - now_wall_ms > 0 ? (int64_t)(n * 1000.0) - now_wall_ms : 0;
done:
	pcref__json_free(doc);
	if (rc < 0)
		pcref__net_token_dispose(out);
	return rc;
}

int64_t pcref__net_token_refresh_at(int64_t now_wall_ms, int64_t lifetime_ms)
{
	int64_t margin;
	if (lifetime_ms < 0)
		return 0;
	margin = lifetime_ms / 10 < REFRESH_MARGIN_MS ? lifetime_ms / 10 : REFRESH_MARGIN_MS;
	return now_wall_ms + lifetime_ms - margin;
}

/* ---- the cache ---------------------------------------------------------------------- */

void pcref__net_token_forget(pcref_connection *c)
{
	pcref__net_free_secret(c->access_token);
	c->access_token = NULL;
	c->token_refresh_at = 0;
}

int pcref__net_token_renewable(const pcref_connection *c)
{
	return c->auth == PCREF_AUTH_PASSWORD || c->auth == PCREF_AUTH_REFRESH_TOKEN ||
	       c->auth == PCREF_AUTH_CLIENT_CREDENTIALS || c->auth == PCREF_AUTH_CALLBACK;
}

static int cached(const pcref_connection *c, int64_t now)
{
	return c->access_token && (c->token_refresh_at == 0 || now < c->token_refresh_at);
}

static int store(pcref_connection *c, pcref__net_token *t, int64_t now)
{
	if (t->instance_url) {
		pcref__net_url origin;
		int rc = pcref__net_url_parse(&origin, t->instance_url, "the instance_url of the token response");
		if (rc == PCREF_OK)
			rc = pcref__net_url_check_secure(&origin, t->instance_url,
			                                 "the instance_url of the token response",
			                                 c->verify_tls ? 1 : -1);
		if (rc < 0) {
			pcref__net_url_dispose(&origin);
			return pcref__error_prefix(PCREF_EPROTOCOL, "%s's token endpoint", c->service);
		}
		pcref__net_url_dispose(&c->instance_origin);
		c->instance_origin = origin;
		pcref__dealloc(c->instance_url);
		c->instance_url = t->instance_url;
		t->instance_url = NULL;
	}
	if (t->refresh_token) {
		/* rotated refresh tokens replace the old one */
		pcref__net_free_secret(c->refresh_token);
		c->refresh_token = t->refresh_token;
		t->refresh_token = NULL;
	}
	pcref__net_token_forget(c);
	c->access_token = t->access_token;
	t->access_token = NULL;
	c->token_refresh_at = pcref__net_token_refresh_at(now, t->lifetime_ms);
	return PCREF_OK;
}

/* ---- the OAuth2 token endpoint ----------------------------------------------------------- */

static void form_add(pcref__buf *b, const char *name, const char *value)
{
	if (!value)
		return;
	if (b->len)
		pcref__buf_putc(b, '&');
	pcref__buf_puts(b, name);
	pcref__buf_putc(b, '=');
	pcref__http_url_escape(b, value);
}

static void build_form(const pcref_connection *c, enum grant grant, pcref__buf *b)
{
	switch (grant) {
	case GRANT_PASSWORD:
		form_add(b, "grant_type", "password");
		form_add(b, "client_id", c->client_id);
		form_add(b, "client_secret", c->client_secret);
		form_add(b, "username", c->username);
		form_add(b, "password", c->password);
		form_add(b, "resource", c->resource);
		/* the documented v1 call asks for scope=openid with the resource */
		form_add(b, "scope", c->scope ? c->scope : (c->resource ? "openid" : NULL));
		break;
	case GRANT_REFRESH:
		form_add(b, "grant_type", "refresh_token");
		form_add(b, "client_id", c->client_id);
		form_add(b, "client_secret", c->client_secret);
		form_add(b, "refresh_token", c->refresh_token);
		form_add(b, "resource", c->resource);
		form_add(b, "scope", c->scope);
		break;
	case GRANT_CLIENT_CREDENTIALS:
		form_add(b, "grant_type", "client_credentials");
		form_add(b, "client_id", c->client_id);
		form_add(b, "client_secret", c->client_secret);
		form_add(b, "resource", c->resource);
		form_add(b, "scope", c->scope);
		break;
	}
}

/* What an OAuth2 refusal means, and what to do about it. */
static const char *refusal_advice(const char *error, int status, enum grant grant)
{
	if (strcmp(error, "invalid_grant") == 0)
		return grant == GRANT_REFRESH
			? "the refresh token has expired or was revoked — sign in again to get a new one and "
			  "update the connection"
			: "the credentials have expired or were revoked — renew them and update the connection";
	if (strcmp(error, "invalid_client") == 0 || strcmp(error, "unauthorized_client") == 0)
		return "the application (client_id / client_secret) is unknown or its secret is wrong or has "
		       "expired — check them, create a new secret if it expired, and update the connection";
	if (strcmp(error, "interaction_required") == 0 || strcmp(error, "consent_required") == 0)
		return "the account needs an interactive sign-in (multi-factor authentication or consent) — "
		       "complete it once, or use credentials that do not need it, and update the connection";
	if (strcmp(error, "invalid_scope") == 0 || strcmp(error, "invalid_resource") == 0)
		return "the application may not ask for this resource or scope — check the resource/scope "
		       "options and the application's API permissions";
	if (strcmp(error, "unsupported_grant_type") == 0)
		return "the token endpoint does not offer this grant — check token_url and the auth kind";
	if (status == 404 || status == 405)
		return "there is no token endpoint at token_url — check token_url";
	return "the token endpoint refused to issue a token — check the credentials and token_url, and "
	       "update the connection";
}

static int refusal(pcref_connection *c, const pcref__net_call *call, const pcref__net_exchange *x,
                   enum grant grant)
{
	pcref__net_service_error se;
	char codes[300], said[500] = "", msg[1024];

	pcref__net_service_error_parse(&se, x->body_buf.data, x->body_buf.len);
	if (se.code[0] && se.inner[0])
		snprintf(codes, sizeof(codes), "%s, AADSTS%s", se.code, se.inner);
	else if (se.code[0])
		snprintf(codes, sizeof(codes), "%s", se.code);
	else
		snprintf(codes, sizeof(codes), "HTTP %d", x->status);
	if (se.message[0])
		snprintf(said, sizeof(said), ". The token endpoint said: %s", se.message);
	snprintf(msg, sizeof(msg), "%s refused the credentials (%s) when %s: %s%s", c->service, codes,
	         call->what, refusal_advice(se.code, x->status, grant), said);
	pcref__net_redact(c, msg, sizeof(msg));
	return pcref__error_http(PCREF_EAUTH, x->status, se.code, se.inner, "%s", msg);
}

static int endpoint_request(pcref_connection *c, pcref__net_call *call, enum grant grant)
{
	pcref__buf form = PCREF__BUF_INIT, what = PCREF__BUF_INIT, svc = PCREF__BUF_INIT;
	struct curl_slist *headers = NULL, *tmp;
	pcref__net_exchange x;
	pcref__net_verdict verdict;
	pcref__net_failure f;
	pcref__net_token t;
	char line[64], request_id[37];
	int64_t start = pcref__net_mono_ms();
	int rc, attempt = 0;

	memset(&x, 0, sizeof(x));
	build_form(c, grant, &form);
	pcref__guid(request_id);
	snprintf(line, sizeof(line), "client-request-id: %s", request_id);
	if (form.failed || !form.data ||
	    !(tmp = curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded")) ||
	    !(headers = tmp, tmp = curl_slist_append(headers, "Accept: application/json")) ||
	    !(headers = tmp, tmp = curl_slist_append(headers, line)) ||
	    !(headers = tmp, tmp = curl_slist_append(headers, "Expect:"))) {
		rc = pcref__error_nomem();
		goto out;
	}
	headers = tmp;
	x.method = "POST";
	x.url = c->token_url;
	x.loopback = c->token_origin.loopback;
	x.headers = headers;
	x.body = form.data;
	x.body_len = form.len;
	x.token_request = 1;

	for (;;) {
		int64_t now = pcref__net_mono_ms();
		x.timeout_ms = c->timeout_ms;
		if (call->deadline - now < x.timeout_ms)
			x.timeout_ms = call->deadline - now > 0 ? call->deadline - now : 1;
		attempt++;
		c->stats.token_requests++;
		pcref__net_exchange_run(c, &x);

		if (x.result == CURLE_OK && x.status >= 200 && x.status < 300) {
			int64_t wall = pcref__net_wall_ms();
			if ((rc = pcref__net_token_parse(&t, x.body_buf.data, x.body_buf.len, wall)) < 0) {
				rc = pcref__error_prefix(PCREF_EPROTOCOL,
					"%s's token endpoint sent an unusable answer when %s (check token_url)",
					c->service, call->what);
				goto out;
			}
			rc = store(c, &t, wall);
			pcref__net_token_dispose(&t);
			goto out;
		}
		if (x.result == CURLE_OK && x.status >= 400 && x.status < 500 && x.status != 429) {
			rc = refusal(c, call, &x, grant);
			goto out;
		}
		pcref__net_decide(c, &x, 0, attempt, &verdict);
		if (verdict.retryable && attempt < c->retry_max &&
		    pcref__net_mono_ms() + verdict.wait_ms < call->deadline) {
			pcref__net_sleep_ms(verdict.wait_ms);
			continue;
		}
		memset(&f, 0, sizeof(f));
		f.attempts = attempt;
		f.elapsed_ms = pcref__net_mono_ms() - start;
		f.gave_up_deadline = verdict.retryable && attempt < c->retry_max;
		f.verdict = &verdict;
		pcref__buf_printf(&what, "getting a token for %s", call->what);
		pcref__buf_printf(&svc, "%s's token endpoint", c->service);
		if (what.failed || svc.failed)
			rc = pcref__error_nomem();
		else if (x.result == CURLE_OK)
			rc = pcref__net_fail_http(c, svc.data, what.data, &x, &f);
		else
			rc = pcref__net_fail_transport(c, svc.data, what.data, &x, &f);
		goto out;
	}
out:
	pcref__net_wipe(x.body_buf.data, x.body_buf.len);   /* the answer held a token */
	pcref__net_exchange_reset(&x);
	curl_slist_free_all(headers);
	pcref__net_wipe(form.data, form.len);
	pcref__buf_dispose(&form);
	pcref__buf_dispose(&what);
	pcref__buf_dispose(&svc);
	return rc;
}

static int fetch_oauth(pcref_connection *c, pcref__net_call *call)
{
	int rc;
	switch (c->auth) {
	case PCREF_AUTH_PASSWORD:
		if (c->refresh_token) {
			/* a refresh token from an earlier answer spares sending the password */
			rc = endpoint_request(c, call, GRANT_REFRESH);
			if (rc != PCREF_EAUTH)
				return rc;
			pcref__net_free_secret(c->refresh_token);
			c->refresh_token = NULL;
		}
		return endpoint_request(c, call, GRANT_PASSWORD);
	case PCREF_AUTH_REFRESH_TOKEN:
		return endpoint_request(c, call, GRANT_REFRESH);
	default:
		return endpoint_request(c, call, GRANT_CLIENT_CREDENTIALS);
	}
}

static int fetch_callback(pcref_connection *c, pcref__net_call *call, uint32_t flags)
{
	char *buf = pcref__malloc(PCREF__NET_TOKEN_MAX);
	int64_t expires_at = 0, now;
	int cb_rc, rc = PCREF_OK;
	pcref__net_token t;

	if (!buf)
		return pcref__error_nomem();
	buf[0] = '\0';
	cb_rc = c->token_cb(buf, PCREF__NET_TOKEN_MAX, &expires_at, flags, c->token_payload);
	buf[PCREF__NET_TOKEN_MAX - 1] = '\0';
	now = pcref__net_wall_ms();
	if (cb_rc != 0) {
		rc = pcref__error(PCREF_EAUTH, "the host's token callback (token_cb) failed (returned %d) when %s "
		                  "for %s — check the credentials the host uses", cb_rc, call->what, c->service);
	} else if (!buf[0]) {
		rc = pcref__error(PCREF_EAUTH, "the host's token callback (token_cb) returned an empty token when "
		                  "%s for %s", call->what, c->service);
	} else {
		memset(&t, 0, sizeof(t));
		t.lifetime_ms = expires_at > 0 ? (expires_at > now ? expires_at - now : 0) : -1;
		if (!(t.access_token = pcref__strdup(buf)))
			rc = pcref__error_nomem();
		else
			rc = store(c, &t, now);
		pcref__net_token_dispose(&t);
	}
	pcref__net_wipe(buf, PCREF__NET_TOKEN_MAX);
	pcref__dealloc(buf);
	return rc;
}

int pcref__net_token_get(pcref_connection *c, pcref__net_call *call, uint32_t flags, const char **token)
{
	int rc;
	*token = NULL;
	switch (c->auth) {
	case PCREF_AUTH_NONE:
		return PCREF_OK;
	case PCREF_AUTH_STATIC:
		*token = c->static_token;
		return PCREF_OK;
	default:
		break;
	}
	if (!(flags & PCREF_TOKEN_REFRESH) && cached(c, pcref__net_wall_ms())) {
		*token = c->access_token;
		return PCREF_OK;
	}
	rc = c->auth == PCREF_AUTH_CALLBACK ? fetch_callback(c, call, flags) : fetch_oauth(c, call);
	if (rc < 0)
		return rc;
	*token = c->access_token;
	return PCREF_OK;
}
