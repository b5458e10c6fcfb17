/* pcref-sync: reading and checking the configuration file (see config.h and
 * doc/pcref-sync.md). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>

#include <pcref/pcref.h>

#include "config.h"
#include "util.h"

#define MAX_CONFIG_BYTES (1024 * 1024)

typedef struct checker {
	sync_config *cfg;
	char *err;
	size_t errsize;
} checker;

/* ---- small helpers --------------------------------------------------------------- */

static const char *keep(checker *ck, char *s)
{
	char **grown;
	if (!s)
		return NULL;
	if (!(grown = realloc(ck->cfg->arena, (ck->cfg->narena + 1) * sizeof(*grown)))) {
		free(s);
		return NULL;
	}
	ck->cfg->arena = grown;
	ck->cfg->arena[ck->cfg->narena++] = s;
	return s;
}

static int fail(checker *ck, const char *pointer, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(ck->err, ck->errsize, "%s: %s: ", ck->cfg->path, pointer && *pointer ? pointer : "/");
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < ck->errsize)
		vsnprintf(ck->err + n, ck->errsize - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* `base` + "/" + `key`, with `~` and `/` escaped as JSON Pointer wants. */
static const char *child(checker *ck, const char *base, const char *key)
{
	size_t n = strlen(base) + 2;
	char *p, *out;
	for (const char *k = key; *k; k++)
		n += (*k == '~' || *k == '/') ? 2 : 1;
	if (!(out = malloc(n)))
		return "?";
	p = out + sprintf(out, "%s/", base);
	for (const char *k = key; *k; k++) {
		if (*k == '~' || *k == '/') {
			*p++ = '~';
			*p++ = *k == '~' ? '0' : '1';
		} else {
			*p++ = *k;
		}
	}
	*p = '\0';
	return keep(ck, out) ? out : "?";
}

static const char *index_pointer(checker *ck, const char *base, size_t i)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%zu", i);
	return child(ck, base, buf);
}

static yajl_val member(yajl_val obj, const char *key)
{
	if (!YAJL_IS_OBJECT(obj))
		return NULL;
	for (size_t i = 0; i < obj->u.object.len; i++)
		if (strcmp(obj->u.object.keys[i], key) == 0)
			return obj->u.object.values[i];
	return NULL;
}

static const char *type_name(yajl_val v)
{
	if (YAJL_IS_STRING(v))
		return "a string";
	if (YAJL_IS_NUMBER(v))
		return "a number";
	if (YAJL_IS_OBJECT(v))
		return "an object";
	if (YAJL_IS_ARRAY(v))
		return "an array";
	if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v))
		return "a boolean";
	return "null";
}

/* Refuse the members of `obj` that are not in `known` (NULL-terminated).
 * Members whose name starts with "_" are comments. */
static int only_known(checker *ck, yajl_val obj, const char *pointer, const char *const *known)
{
	for (size_t i = 0; i < obj->u.object.len; i++) {
		const char *key = obj->u.object.keys[i];
		size_t j;
		char list[512] = "";
		if (key[0] == '_')
			continue;
		for (j = 0; known[j]; j++)
			if (strcmp(known[j], key) == 0)
				break;
		if (known[j])
			continue;
		for (j = 0; known[j]; j++) {
			strncat(list, j ? ", " : "", sizeof(list) - strlen(list) - 1);
			strncat(list, known[j], sizeof(list) - strlen(list) - 1);
		}
		return fail(ck, child(ck, pointer, key), "unknown setting (known here: %s)", list);
	}
	return 0;
}

static int want_object(checker *ck, yajl_val v, const char *pointer)
{
	if (!YAJL_IS_OBJECT(v))
		return fail(ck, pointer, "must be an object, not %s", type_name(v));
	return 0;
}

/* A string member (absent or null leaves *out alone). */
static int get_string(checker *ck, yajl_val obj, const char *pointer, const char *key, const char **out)
{
	yajl_val v = member(obj, key);
	if (!v || YAJL_IS_NULL(v))
		return 0;
	if (!YAJL_IS_STRING(v))
		return fail(ck, child(ck, pointer, key), "must be a string, not %s", type_name(v));
	if (!*v->u.string)
		return fail(ck, child(ck, pointer, key), "must not be empty");
	*out = v->u.string;
	return 0;
}

static int get_bool(checker *ck, yajl_val obj, const char *pointer, const char *key, int *out)
{
	yajl_val v = member(obj, key);
	if (!v || YAJL_IS_NULL(v))
		return 0;
	if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v))
		return fail(ck, child(ck, pointer, key), "must be true or false, not %s", type_name(v));
	*out = YAJL_IS_TRUE(v);
	return 0;
}

/* A number in [min, max], scaled by `scale` (seconds → ms) and rounded. */
static int get_number(checker *ck, yajl_val obj, const char *pointer, const char *key, double min, double max,
                      double scale, int64_t *out)
{
	yajl_val v = member(obj, key);
	double d;
	if (!v || YAJL_IS_NULL(v))
		return 0;
	if (!YAJL_IS_NUMBER(v) || !(v->u.number.flags & YAJL_NUMBER_DOUBLE_VALID))
		return fail(ck, child(ck, pointer, key), "must be a number, not %s", type_name(v));
	d = v->u.number.d;
	if (!(d >= min && d <= max))
		return fail(ck, child(ck, pointer, key), "must be between %g and %g, not %s", min, max,
		            v->u.number.r);
	*out = (int64_t)llround(d * scale);
	return 0;
}

static int get_int32(checker *ck, yajl_val obj, const char *pointer, const char *key, double min, double max,
                     int32_t *out)
{
	int64_t v = *out;
	int rc = get_number(ck, obj, pointer, key, min, max, 1, &v);
	*out = (int32_t)v;
	return rc;
}

/* A path relative to the config file's directory becomes absolute. */
static const char *resolve_path(checker *ck, const char *path)
{
	const char *slash;
	char *out;
	if (!path || path[0] == '/' || strcmp(path, ":memory:") == 0)
		return path;
	slash = strrchr(ck->cfg->path, '/');
	if (!slash)
		return path;
	if (!(out = malloc((size_t)(slash - ck->cfg->path) + strlen(path) + 2)))
		return path;
	sprintf(out, "%.*s/%s", (int)(slash - ck->cfg->path), ck->cfg->path, path);
	return keep(ck, out);
}

/* ---- connections ------------------------------------------------------------------- */

static const struct {
	const char *name;
	int auth;
} auth_kinds[] = {
	{ "none", PCREF_AUTH_NONE },
	{ "static", PCREF_AUTH_STATIC },
	{ "password", PCREF_AUTH_PASSWORD },
	{ "refresh_token", PCREF_AUTH_REFRESH_TOKEN },
	{ "client_credentials", PCREF_AUTH_CLIENT_CREDENTIALS },
};

static const char *const conn_keys[] = {
	"url", "service_name", "auth", "token_url", "client_id", "client_secret", "client_secret_env",
	"username", "password", "password_env", "refresh_token", "refresh_token_env", "token", "token_env",
	"resource", "scope", "ca_file", "ca_path", "proxy", "verify_tls", "connect_timeout_ms", "timeout_ms",
	"retry_max",
};
#define NCONN_KEYS (sizeof(conn_keys) / sizeof(conn_keys[0]))

static int get_secret_pair(checker *ck, yajl_val obj, const char *pointer, const char *key, const char **value,
                           const char **env)
{
	char env_key[64];
	snprintf(env_key, sizeof(env_key), "%s_env", key);
	if (get_string(ck, obj, pointer, key, value) < 0 || get_string(ck, obj, pointer, env_key, env) < 0)
		return -1;
	if (member(obj, key) && !YAJL_IS_NULL(member(obj, key)) && member(obj, env_key) &&
	    !YAJL_IS_NULL(member(obj, env_key)))
		return fail(ck, child(ck, pointer, env_key), "give %s or %s, not both", key, env_key);
	return 0;
}

/* Read the connection settings of `obj` over what `c` holds already. */
static int read_conn(checker *ck, yajl_val obj, const char *pointer, conn_config *c, const char *const *extra_keys)
{
	const char *auth = NULL;
	int verify = 1;
	const char *known[NCONN_KEYS + 8];
	size_t n = 0;

	for (size_t i = 0; i < NCONN_KEYS; i++)
		known[n++] = conn_keys[i];
	for (size_t i = 0; extra_keys && extra_keys[i] && n < NCONN_KEYS + 7; i++)
		known[n++] = extra_keys[i];
	known[n] = NULL;
	if (want_object(ck, obj, pointer) < 0 || only_known(ck, obj, pointer, known) < 0)
		return -1;
	c->pointer = pointer;
	if (get_string(ck, obj, pointer, "url", &c->url) < 0 ||
	    get_string(ck, obj, pointer, "service_name", &c->service_name) < 0 ||
	    get_string(ck, obj, pointer, "auth", &auth) < 0 ||
	    get_string(ck, obj, pointer, "token_url", &c->token_url) < 0 ||
	    get_string(ck, obj, pointer, "client_id", &c->client_id) < 0 ||
	    get_string(ck, obj, pointer, "username", &c->username) < 0 ||
	    get_string(ck, obj, pointer, "resource", &c->resource) < 0 ||
	    get_string(ck, obj, pointer, "scope", &c->scope) < 0 ||
	    get_string(ck, obj, pointer, "ca_file", &c->ca_file) < 0 ||
	    get_string(ck, obj, pointer, "ca_path", &c->ca_path) < 0 ||
	    get_string(ck, obj, pointer, "proxy", &c->proxy) < 0 ||
	    get_secret_pair(ck, obj, pointer, "client_secret", &c->client_secret, &c->client_secret_env) < 0 ||
	    get_secret_pair(ck, obj, pointer, "password", &c->password, &c->password_env) < 0 ||
	    get_secret_pair(ck, obj, pointer, "refresh_token", &c->refresh_token, &c->refresh_token_env) < 0 ||
	    get_secret_pair(ck, obj, pointer, "token", &c->token, &c->token_env) < 0 ||
	    get_int32(ck, obj, pointer, "connect_timeout_ms", 1, 600000, &c->connect_timeout_ms) < 0 ||
	    get_int32(ck, obj, pointer, "timeout_ms", 1, 3600000, &c->timeout_ms) < 0 ||
	    get_int32(ck, obj, pointer, "retry_max", 1, 100, &c->retry_max) < 0)
		return -1;
	c->ca_file = resolve_path(ck, c->ca_file);
	c->ca_path = resolve_path(ck, c->ca_path);
	if (member(obj, "verify_tls")) {
		if (get_bool(ck, obj, pointer, "verify_tls", &verify) < 0)
			return -1;
		c->verify_tls = verify ? 1 : -1;
	}
	if (auth) {
		size_t i;
		for (i = 0; i < sizeof(auth_kinds) / sizeof(auth_kinds[0]); i++)
			if (strcmp(auth_kinds[i].name, auth) == 0)
				break;
		if (i == sizeof(auth_kinds) / sizeof(auth_kinds[0]))
			return fail(ck, child(ck, pointer, "auth"),
			            "unknown authentication \"%s\" (use password, refresh_token, client_credentials, "
			            "static or none)", auth);
		c->auth = auth_kinds[i].auth;
	}
	return 0;
}

/* The settings a connection needs, once defaults and inheritance applied. */
static int check_conn(checker *ck, const conn_config *c)
{
	const char *p = c->pointer;
	if (!c->url)
		return fail(ck, child(ck, p, "url"), "missing: the service's base URL");
	if (c->auth != PCREF_AUTH_NONE && c->auth != PCREF_AUTH_STATIC && !c->token_url)
		return fail(ck, child(ck, p, "token_url"), "missing: the OAuth2 token endpoint");
	switch (c->auth) {
	case PCREF_AUTH_STATIC:
		if (!c->token && !c->token_env)
			return fail(ck, child(ck, p, "token"), "missing: give token or token_env for auth \"static\"");
		break;
	case PCREF_AUTH_PASSWORD:
		if (!c->username)
			return fail(ck, child(ck, p, "username"), "missing: the Referrals admin user for auth \"password\"");
		if (!c->password && !c->password_env)
			return fail(ck, child(ck, p, "password_env"),
			            "missing: give password_env (or password) for auth \"password\"");
		/* fall through: the client id */
		__attribute__((fallthrough));
	case PCREF_AUTH_REFRESH_TOKEN:
	case PCREF_AUTH_CLIENT_CREDENTIALS:
		if (!c->client_id)
			return fail(ck, child(ck, p, "client_id"), "missing: the application (client) id");
		if (c->auth == PCREF_AUTH_REFRESH_TOKEN && !c->refresh_token && !c->refresh_token_env)
			return fail(ck, child(ck, p, "refresh_token_env"),
			            "missing: give refresh_token_env (or refresh_token) for auth \"refresh_token\"");
		if (c->auth == PCREF_AUTH_CLIENT_CREDENTIALS && !c->client_secret && !c->client_secret_env)
			return fail(ck, child(ck, p, "client_secret_env"),
			            "missing: give client_secret_env (or client_secret) for auth \"client_credentials\"");
		break;
	default:
		break;
	}
	return 0;
}

/* ---- sections ------------------------------------------------------------------------ */

static int read_partner_center(checker *ck, yajl_val doc)
{
	sync_config *cfg = ck->cfg;
	static const char *const extra[] = { "webhooks", NULL };
	yajl_val pc = member(doc, "partner_center"), wh;

	cfg->pc.url = "https://api.partner.microsoft.com";
	cfg->pc.service_name = "Partner Center";
	cfg->pc.auth = PCREF_AUTH_PASSWORD;
	cfg->pc.token_url = "https://login.microsoftonline.com/common/oauth2/token";
	cfg->pc.verify_tls = 1;
	cfg->pc.pointer = "/partner_center";
	if (!pc)
		return fail(ck, "/partner_center", "missing: how to reach Partner Center (see doc/pcref-sync.md)");
	if (read_conn(ck, pc, "/partner_center", &cfg->pc, extra) < 0)
		return -1;
	if (!cfg->pc.resource && !cfg->pc.scope &&
	    (cfg->pc.auth == PCREF_AUTH_PASSWORD || cfg->pc.auth == PCREF_AUTH_REFRESH_TOKEN))
		cfg->pc.resource = "https://api.partner.microsoft.com";
	if (check_conn(ck, &cfg->pc) < 0)
		return -1;

	if (!(wh = member(pc, "webhooks")) || YAJL_IS_NULL(wh))
		return 0;
	/* The webhook API: its own host and audience; the credentials are the
	 * Referrals connection's unless given here. */
	cfg->pc_webhooks = cfg->pc;
	cfg->pc_webhooks.url = "https://api.partnercenter.microsoft.com";
	cfg->pc_webhooks.service_name = "Partner Center webhooks";
	cfg->pc_webhooks.resource = NULL;
	cfg->pc_webhooks.scope = NULL;
	if (read_conn(ck, wh, "/partner_center/webhooks", &cfg->pc_webhooks, NULL) < 0)
		return -1;
	if (!cfg->pc_webhooks.resource && !cfg->pc_webhooks.scope) {
		if (cfg->pc_webhooks.auth == PCREF_AUTH_CLIENT_CREDENTIALS &&
		    strstr(cfg->pc_webhooks.token_url ? cfg->pc_webhooks.token_url : "", "/v2.0/"))
			cfg->pc_webhooks.scope = "https://api.partnercenter.microsoft.com/.default";
		else
			cfg->pc_webhooks.resource = "https://api.partnercenter.microsoft.com";
	}
	cfg->have_pc_webhooks = 1;
	return check_conn(ck, &cfg->pc_webhooks);
}

static int read_crm_section(checker *ck, yajl_val crm, const char *name, crm_config *out)
{
	static const char *const extra[] = { "mapping", NULL };
	static const char *const memory_keys[] = { "mapping", "currencies", "users", NULL };
	yajl_val sec = member(crm, name);
	const char *pointer = child(ck, "/crm", name);

	out->pointer = pointer;
	if (!sec || YAJL_IS_NULL(sec))
		return 0;
	out->present = 1;
	if (strcmp(name, "memory") == 0) {
		yajl_gen g;
		const unsigned char *buf;
		size_t len;
		if (want_object(ck, sec, pointer) < 0 || only_known(ck, sec, pointer, memory_keys) < 0 ||
		    get_string(ck, sec, pointer, "mapping", &out->mapping_path) < 0)
			return -1;
		/* the in-memory CRM's own settings go to pcref_crm_memory_new() as JSON */
		if (!(g = yajl_gen_alloc(NULL)))
			return fail(ck, pointer, "out of memory");
		yajl_gen_map_open(g);
		for (size_t i = 0; i < sec->u.object.len; i++) {
			yajl_val arr = sec->u.object.values[i];
			const char *key = sec->u.object.keys[i];
			if (strcmp(key, "currencies") != 0 && strcmp(key, "users") != 0)
				continue;
			if (!YAJL_IS_ARRAY(arr)) {
				yajl_gen_free(g);
				return fail(ck, child(ck, pointer, key), "must be an array of strings, not %s",
				            type_name(arr));
			}
			yajl_gen_string(g, (const unsigned char *)key, strlen(key));
			yajl_gen_array_open(g);
			for (size_t j = 0; j < arr->u.array.len; j++) {
				yajl_val s = arr->u.array.values[j];
				if (!YAJL_IS_STRING(s)) {
					yajl_gen_free(g);
					return fail(ck, index_pointer(ck, child(ck, pointer, key), j),
					            "must be a string, not %s", type_name(s));
				}
				yajl_gen_string(g, (const unsigned char *)s->u.string, strlen(s->u.string));
			}
			yajl_gen_array_close(g);
		}
		yajl_gen_map_close(g);
		yajl_gen_get_buf(g, &buf, &len);
		out->memory_json = util_strndup((const char *)buf, len);
		yajl_gen_free(g);
		out->mapping_path = resolve_path(ck, out->mapping_path);
		return out->memory_json ? 0 : fail(ck, pointer, "out of memory");
	}
	out->conn.verify_tls = 1;
	out->conn.auth = PCREF_AUTH_CLIENT_CREDENTIALS;
	if (read_conn(ck, sec, pointer, &out->conn, extra) < 0 ||
	    get_string(ck, sec, pointer, "mapping", &out->mapping_path) < 0)
		return -1;
	out->mapping_path = resolve_path(ck, out->mapping_path);
	if (!out->conn.service_name)
		out->conn.service_name = strcmp(name, "dynamics") == 0 ? "Dynamics 365" : "Salesforce";
	if (out->conn.url && !out->conn.scope && !out->conn.resource && strcmp(name, "dynamics") == 0 &&
	    out->conn.auth == PCREF_AUTH_CLIENT_CREDENTIALS) {
		/* Dataverse's scope is the environment URL + "/.default" */
		char *scope = malloc(strlen(out->conn.url) + sizeof("/.default"));
		if (scope) {
			size_t n = strlen(out->conn.url);
			while (n && out->conn.url[n - 1] == '/')
				n--;
			sprintf(scope, "%.*s/.default", (int)n, out->conn.url);
		}
		out->conn.scope = keep(ck, scope);
	}
	if (out->conn.url && !out->conn.token_url && strcmp(name, "salesforce") == 0) {
		char *tu = malloc(strlen(out->conn.url) + sizeof("/services/oauth2/token"));
		if (tu)
			sprintf(tu, "%s/services/oauth2/token", out->conn.url);
		out->conn.token_url = keep(ck, tu);
	}
	return check_conn(ck, &out->conn);
}

static int read_crm(checker *ck, yajl_val doc)
{
	static const char *const keys[] = { "backend", "dynamics", "salesforce", "memory", NULL };
	sync_config *cfg = ck->cfg;
	yajl_val crm = member(doc, "crm");
	if (!crm)
		return fail(ck, "/crm", "missing: which CRM to sync with (see doc/pcref-sync.md)");
	if (want_object(ck, crm, "/crm") < 0 || only_known(ck, crm, "/crm", keys) < 0 ||
	    get_string(ck, crm, "/crm", "backend", &cfg->backend) < 0)
		return -1;
	if (!cfg->backend)
		return fail(ck, "/crm/backend", "missing: \"dynamics\", \"salesforce\" or \"memory\"");
	if (read_crm_section(ck, crm, "dynamics", &cfg->dynamics) < 0 ||
	    read_crm_section(ck, crm, "salesforce", &cfg->salesforce) < 0 ||
	    read_crm_section(ck, crm, "memory", &cfg->memory) < 0)
		return -1;
	if (config_select_crm(cfg, cfg->backend, ck->err, ck->errsize) < 0)
		return -1;
	return 0;
}

static int read_sync(checker *ck, yajl_val doc)
{
	static const char *const keys[] = { "referral_link_base", "retry_max_attempts", "retry_delay_ms",
	                                    "overlap_ms", NULL };
	sync_config *cfg = ck->cfg;
	yajl_val s = member(doc, "sync");
	int64_t attempts = 0;
	if (!s || YAJL_IS_NULL(s))
		return 0;
	if (want_object(ck, s, "/sync") < 0 || only_known(ck, s, "/sync", keys) < 0 ||
	    get_string(ck, s, "/sync", "referral_link_base", &cfg->referral_link_base) < 0 ||
	    get_number(ck, s, "/sync", "retry_max_attempts", 1, 1000, 1, &attempts) < 0 ||
	    get_number(ck, s, "/sync", "retry_delay_ms", 1, 86400000.0 * 7, 1, &cfg->retry_delay_ms) < 0 ||
	    get_number(ck, s, "/sync", "overlap_ms", 0, 86400000.0, 1, &cfg->overlap_ms) < 0)
		return -1;
	cfg->retry_max_attempts = (uint32_t)attempts;
	return 0;
}

static int read_webhook(checker *ck, yajl_val doc)
{
	static const char *const keys[] = { "listen", "port", "path", "trust_anchors_file", "certificate_hosts",
	                                    "max_age_seconds", "register", "public_url", "overwrite", NULL };
	sync_config *cfg = ck->cfg;
	yajl_val w = member(doc, "webhook"), hosts;
	int64_t port = 0;

	cfg->listen = "127.0.0.1";
	cfg->webhook_path = "/webhooks/partner-center";
	if (!w || YAJL_IS_NULL(w))
		return 0;
	cfg->have_webhook = 1;
	if (want_object(ck, w, "/webhook") < 0 || only_known(ck, w, "/webhook", keys) < 0 ||
	    get_string(ck, w, "/webhook", "listen", &cfg->listen) < 0 ||
	    get_number(ck, w, "/webhook", "port", 0, 65535, 1, &port) < 0 ||
	    get_string(ck, w, "/webhook", "path", &cfg->webhook_path) < 0 ||
	    get_string(ck, w, "/webhook", "trust_anchors_file", &cfg->trust_anchors_file) < 0 ||
	    get_number(ck, w, "/webhook", "max_age_seconds", 1, 7 * 86400, 1000, &cfg->max_age_ms) < 0 ||
	    get_bool(ck, w, "/webhook", "register", &cfg->register_webhook) < 0 ||
	    get_string(ck, w, "/webhook", "public_url", &cfg->public_url) < 0 ||
	    get_bool(ck, w, "/webhook", "overwrite", &cfg->overwrite) < 0)
		return -1;
	cfg->port = (int)port;
	cfg->trust_anchors_file = resolve_path(ck, cfg->trust_anchors_file);
	if (cfg->webhook_path[0] != '/')
		return fail(ck, "/webhook/path", "must start with \"/\"");
	if ((hosts = member(w, "certificate_hosts")) && !YAJL_IS_NULL(hosts)) {
		const char *pointer = "/webhook/certificate_hosts";
		const char **list;
		if (!YAJL_IS_ARRAY(hosts) || hosts->u.array.len == 0)
			return fail(ck, pointer, "must be a non-empty array of host names");
		if (!(list = calloc(hosts->u.array.len + 1, sizeof(*list))) || !keep(ck, (char *)list))
			return fail(ck, pointer, "out of memory");
		for (size_t i = 0; i < hosts->u.array.len; i++) {
			if (!YAJL_IS_STRING(hosts->u.array.values[i]))
				return fail(ck, index_pointer(ck, pointer, i), "must be a string, not %s",
				            type_name(hosts->u.array.values[i]));
			list[i] = hosts->u.array.values[i]->u.string;
		}
		cfg->certificate_hosts = list;
	}
	if (cfg->register_webhook && !cfg->have_pc_webhooks)
		return fail(ck, "/webhook/register",
		            "registering the webhook needs the webhook API's connection: add /partner_center/webhooks");
	return 0;
}

/* ---- the file ------------------------------------------------------------------------ */

static char *read_file(const char *path, size_t *len, int *err)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	size_t cap = 0;
	*len = 0;
	if (!f) {
		*err = errno;
		return NULL;
	}
	for (;;) {
		size_t n;
		if (cap - *len < 4096) {
			char *grown;
			cap = cap ? cap * 2 : 8192;
			if (cap > MAX_CONFIG_BYTES + 4096 || !(grown = realloc(data, cap + 1))) {
				free(data);
				fclose(f);
				*err = EFBIG;
				return NULL;
			}
			data = grown;
		}
		n = fread(data + *len, 1, cap - *len, f);
		*len += n;
		if (n == 0)
			break;
	}
	*err = ferror(f) ? EIO : 0;
	fclose(f);
	if (*err) {
		free(data);
		return NULL;
	}
	data[*len] = '\0';
	return data;
}

/* A syntax error: yajl's reason with the line and column it stopped at. */
static void syntax_error(checker *ck, const char *text, size_t len)
{
	yajl_handle h = yajl_alloc(NULL, NULL, NULL);
	yajl_status st;
	size_t at, line = 1, col = 1;
	unsigned char *why;
	char reason[256];
	if (!h) {
		fail(ck, NULL, "out of memory");
		return;
	}
	st = yajl_parse(h, (const unsigned char *)text, len);
	if (st == yajl_status_ok)
		st = yajl_complete_parse(h);
	at = yajl_get_bytes_consumed(h);
	why = yajl_get_error(h, 0, (const unsigned char *)text, len);
	snprintf(reason, sizeof(reason), "%s", why ? (const char *)why : "not valid JSON");
	reason[strcspn(reason, "\n")] = '\0';
	yajl_free_error(h, why);
	yajl_free(h);
	for (size_t i = 0; i < at && i < len; i++) {
		if (text[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	snprintf(ck->err, ck->errsize, "%s:%zu:%zu: not valid JSON: %s", ck->cfg->path, line, col, reason);
}

int config_load(sync_config *cfg, const char *path, char *err, size_t errsize)
{
	static const char *const top[] = { "store", "poll_interval_seconds", "partner_center", "crm", "sync",
	                                   "webhook", NULL };
	checker ck = { cfg, err, errsize };
	char parse_err[256];
	size_t len;
	int e;
	char *text;
	const char *store = NULL;

	memset(cfg, 0, sizeof(*cfg));
	cfg->path = path;
	cfg->poll_interval_ms = 60000;
	if (!(text = read_file(path, &len, &e))) {
		if (e == ENOENT)
			snprintf(err, errsize, "%s: no such file: give the configuration with --config FILE "
			         "(see doc/pcref-sync.md for an example)", path);
		else if (e == EFBIG)
			snprintf(err, errsize, "%s: larger than %d bytes: is it the configuration file?", path,
			         MAX_CONFIG_BYTES);
		else
			snprintf(err, errsize, "%s: cannot read it: %s", path, strerror(e));
		return -1;
	}
	if (strlen(text) != len) {
		free(text);
		snprintf(err, errsize, "%s: not valid JSON: it contains a NUL byte", path);
		return -1;
	}
	cfg->doc = yajl_tree_parse(text, parse_err, sizeof(parse_err));
	if (!cfg->doc) {
		syntax_error(&ck, text, len);
		free(text);
		return -1;
	}
	free(text);
	if (want_object(&ck, cfg->doc, "") < 0 || only_known(&ck, cfg->doc, "", top) < 0 ||
	    get_string(&ck, cfg->doc, "", "store", &store) < 0 ||
	    get_number(&ck, cfg->doc, "", "poll_interval_seconds", 0.1, 86400, 1000, &cfg->poll_interval_ms) < 0 ||
	    read_partner_center(&ck, cfg->doc) < 0 || read_crm(&ck, cfg->doc) < 0 || read_sync(&ck, cfg->doc) < 0 ||
	    read_webhook(&ck, cfg->doc) < 0)
		return -1;
	if (!store) {
		/* systemd's StateDirectory=, else next to the config file */
		const char *state_dir = getenv("STATE_DIRECTORY");
		if (state_dir && *state_dir) {
			char *p = malloc(strlen(state_dir) + sizeof("/pcref-sync.db"));
			if (p)
				sprintf(p, "%.*s/pcref-sync.db", (int)strcspn(state_dir, ":"), state_dir);
			store = keep(&ck, p);
		} else {
			store = "pcref-sync.db";
		}
	}
	cfg->store_path = resolve_path(&ck, store);
	if (!cfg->store_path)
		return fail(&ck, "/store", "out of memory");
	return 0;
}

static crm_config *crm_section(sync_config *cfg, const char *backend)
{
	if (strcmp(backend, "dynamics") == 0)
		return &cfg->dynamics;
	if (strcmp(backend, "salesforce") == 0)
		return &cfg->salesforce;
	if (strcmp(backend, "memory") == 0)
		return &cfg->memory;
	return NULL;
}

int config_select_crm(sync_config *cfg, const char *backend, char *err, size_t errsize)
{
	crm_config *sec = crm_section(cfg, backend);
	if (!sec) {
		snprintf(err, errsize, "%s: /crm/backend: unknown CRM backend \"%s\" (use dynamics, salesforce or memory)",
		         cfg->path, backend);
		return -1;
	}
	if (!sec->present && strcmp(backend, "memory") != 0) {
		snprintf(err, errsize, "%s: /crm/%s: missing: how to reach the %s CRM (its url, token_url and "
		         "credentials) — add this section to use \"%s\"", cfg->path, backend,
		         strcmp(backend, "dynamics") == 0 ? "Dynamics 365" : "Salesforce", backend);
		return -1;
	}
	cfg->backend = strcmp(backend, "dynamics") == 0 ? "dynamics"
	             : strcmp(backend, "salesforce") == 0 ? "salesforce" : "memory";
	if (!sec->pointer)
		sec->pointer = strcmp(backend, "memory") == 0 ? "/crm/memory" : "/crm";
	return 0;
}

const crm_config *config_crm(const sync_config *cfg)
{
	return crm_section((sync_config *)cfg, cfg->backend);
}

int config_secret(const conn_config *c, const char *what, const char *value, const char *env_name,
                  const char **out, char *err, size_t errsize)
{
	*out = NULL;
	if (value) {
		*out = value;
		return 0;
	}
	if (!env_name)
		return 0;
	*out = getenv(env_name);
	if (!*out || !**out) {
		*out = NULL;
		snprintf(err, errsize, "the environment variable %s (%s/%s_env) is not set: export it with the %s "
		         "before starting pcref-sync", env_name, c->pointer, what, what);
		return -1;
	}
	return 0;
}

void config_free(sync_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->narena; i++)
		free(cfg->arena[i]);
	free(cfg->arena);
	free(cfg->memory.memory_json);
	free(cfg->dynamics.memory_json);
	free(cfg->salesforce.memory_json);
	yajl_tree_free(cfg->doc);
	memset(cfg, 0, sizeof(*cfg));
}
