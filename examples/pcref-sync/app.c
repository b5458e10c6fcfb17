/* pcref-sync: building the handles from the configuration; errors, exit
 * codes and signals. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "report.h"

/* ---- errors ---------------------------------------------------------------------- */

int app_exit_code(int code)
{
	switch (code) {
	case PCREF_OK:
		return PS_EXIT_OK;
	case PCREF_EAUTH:
		return PS_EXIT_AUTH;
	case PCREF_ENETWORK:
	case PCREF_ESERVICE:
	case PCREF_ETHROTTLED:
	case PCREF_EPROTOCOL:
		return PS_EXIT_SERVICE;
	case PCREF_ESTORE:
		return PS_EXIT_STORE;
	case PCREF_EUSER:
		return PS_EXIT_INTERRUPTED;
	default:
		return PS_EXIT_SOFTWARE;
	}
}

/* What to do, for the codes whose remedy does not depend on the details. */
static const char *hint(int code)
{
	switch (code) {
	case PCREF_EAUTH:
		return "the connector is disconnected (R-35): renew the credentials named in the configuration "
		       "(or the environment variables it names) and start pcref-sync again";
	case PCREF_ENETWORK:
		return "check the service's url in the configuration, the network, DNS and the proxy; "
		       "nothing was lost — the next pass picks up where this one stopped";
	case PCREF_ETHROTTLED:
		return "the service is throttling: run less often (poll_interval_seconds) or later";
	case PCREF_ESERVICE:
		return "the service is failing; try again later — nothing was lost";
	case PCREF_EPROTOCOL:
		return "the service answered something unexpected: check that the url points at the right "
		       "service and API version";
	case PCREF_ESTORE:
		return "check the store path in the configuration, its directory's permissions and free space; "
		       "only one pcref-sync may use a store at a time";
	case PCREF_EVERSION:
		return "a newer pcref-sync wrote this state store: run that version, or point \"store\" at a new file";
	default:
		return NULL;
	}
}

int app_fail(const char *doing, int code)
{
	const pcref_error *e = pcref_error_last();
	const char *what = e->code == code && e->message && *e->message ? e->message : pcref_strerror(code);
	const char *h = hint(code);
	report_clear_progress_line();
	if (e->code == code && e->http_status)
		fprintf(stderr, "pcref-sync: %s: %s (HTTP %d%s%s)\n", doing, what, e->http_status,
		        *e->service_code ? ", " : "", e->service_code);
	else
		fprintf(stderr, "pcref-sync: %s: %s\n", doing, what);
	if (h)
		fprintf(stderr, "  what to do: %s\n", h);
	return app_exit_code(code);
}

int app_config_error(const char *message)
{
	report_clear_progress_line();
	fprintf(stderr, "pcref-sync: configuration: %s\n", message);
	return PS_EXIT_CONFIG;
}

/* ---- building ------------------------------------------------------------------------ */

static int make_connection(pcref_connection **out, const conn_config *c)
{
	pcref_connection_options o = PCREF_CONNECTION_OPTIONS_INIT;
	char err[512], doing[256];
	int rc;

	o.base_url = c->url;
	o.service_name = c->service_name;
	o.auth = c->auth;
	o.token_url = c->token_url;
	o.client_id = c->client_id;
	o.username = c->username;
	o.resource = c->resource;
	o.scope = c->scope;
	o.ca_file = c->ca_file;
	o.ca_path = c->ca_path;
	o.proxy = c->proxy;
	o.verify_tls = c->verify_tls;
	o.connect_timeout_ms = c->connect_timeout_ms;
	o.timeout_ms = c->timeout_ms;
	o.retry_max = c->retry_max;
	if (config_secret(c, "client_secret", c->client_secret, c->client_secret_env, &o.client_secret, err,
	                  sizeof(err)) < 0 ||
	    config_secret(c, "password", c->password, c->password_env, &o.password, err, sizeof(err)) < 0 ||
	    config_secret(c, "refresh_token", c->refresh_token, c->refresh_token_env, &o.refresh_token, err,
	                  sizeof(err)) < 0 ||
	    config_secret(c, "token", c->token, c->token_env, &o.token, err, sizeof(err)) < 0)
		return app_config_error(err);
	if ((rc = pcref_connection_new(out, &o)) == PCREF_OK)
		return PS_EXIT_OK;
	snprintf(doing, sizeof(doing), "configuration %s", c->pointer);
	if (rc == PCREF_EINVALID) {
		fprintf(stderr, "pcref-sync: %s: %s\n", doing, pcref_error_last()->message);
		return PS_EXIT_CONFIG;
	}
	return app_fail(doing, rc);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *data;
	long size;
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
	    !(data = malloc((size_t)size + 1))) {
		fclose(f);
		return NULL;
	}
	*len = fread(data, 1, (size_t)size, f);
	data[*len] = '\0';
	fclose(f);
	return data;
}

static int load_mapping(app *a)
{
	const crm_config *sec = config_crm(&a->cfg);
	char *json;
	size_t len = 0;
	int rc;

	if (!sec->mapping_path) {
		if ((rc = pcref_mapping_new(&a->mapping, a->cfg.backend)) < 0) {
			if (rc == PCREF_EINVALID)
				return app_config_error(pcref_error_last()->message);
			return app_fail("the default mapping", rc);
		}
		return PS_EXIT_OK;
	}
	if (!(json = slurp(sec->mapping_path, &len))) {
		char msg[1024];
		snprintf(msg, sizeof(msg), "%s/mapping: cannot read the mapping file %s: %s", sec->pointer,
		         sec->mapping_path, strerror(errno));
		return app_config_error(msg);
	}
	rc = pcref_mapping_load(&a->mapping, json, len);
	free(json);
	if (rc < 0) {
		char msg[1024];
		snprintf(msg, sizeof(msg), "%s: %s (see doc/mapping.md)", sec->mapping_path, pcref_error_last()->message);
		return rc == PCREF_ENOMEM ? app_fail("the mapping", rc) : app_config_error(msg);
	}
	if (strcmp(pcref_mapping_backend(a->mapping), a->cfg.backend) != 0) {
		char msg[1024];
		snprintf(msg, sizeof(msg), "%s: the mapping is for the %s backend but the CRM is %s: give a mapping "
		         "file made for %s (%s/mapping)", sec->mapping_path, pcref_mapping_backend(a->mapping),
		         a->cfg.backend, a->cfg.backend, sec->pointer);
		return app_config_error(msg);
	}
	return PS_EXIT_OK;
}

static int make_crm(app *a)
{
	const crm_config *sec = config_crm(&a->cfg);
	int rc, code;

	if (strcmp(a->cfg.backend, "memory") == 0) {
		if ((rc = pcref_crm_memory_new(&a->crm, sec->memory_json)) < 0) {
			char msg[1024];
			snprintf(msg, sizeof(msg), "/crm/memory: %s", pcref_error_last()->message);
			return rc == PCREF_ENOMEM ? app_fail("the in-memory CRM", rc) : app_config_error(msg);
		}
		return PS_EXIT_OK;
	}
	if ((code = make_connection(&a->crm_conn, &sec->conn)) != PS_EXIT_OK)
		return code;
	if (strcmp(a->cfg.backend, "salesforce") == 0)
		rc = pcref_crm_salesforce_new(&a->crm, a->crm_conn, a->mapping);
	else
		rc = pcref_crm_dynamics_new(&a->crm, a->crm_conn, a->mapping);
	if (rc < 0)
		return rc == PCREF_EINVALID ? app_config_error(pcref_error_last()->message)
		                            : app_fail("the CRM backend", rc);
	return PS_EXIT_OK;
}

int app_open_store(app *a)
{
	int rc;
	char doing[1024];
	if (a->store)
		return PS_EXIT_OK;
	if ((rc = pcref_store_sqlite_open(&a->store, a->cfg.store_path, 0)) == PCREF_OK)
		return PS_EXIT_OK;
	snprintf(doing, sizeof(doing), "the state store %s", a->cfg.store_path);
	app_fail(doing, rc);
	return rc == PCREF_ENOMEM ? PS_EXIT_SOFTWARE : PS_EXIT_STORE;
}

int app_open(app *a)
{
	pcref_sync_options o = PCREF_SYNC_OPTIONS_INIT;
	int code, rc;

	if ((code = load_mapping(a)) != PS_EXIT_OK ||
	    (code = make_connection(&a->pc_conn, &a->cfg.pc)) != PS_EXIT_OK ||
	    (a->cfg.have_pc_webhooks &&
	     (code = make_connection(&a->pc_webhooks_conn, &a->cfg.pc_webhooks)) != PS_EXIT_OK) ||
	    (code = make_crm(a)) != PS_EXIT_OK)
		return code;
	if ((rc = pcref_partner_center_new(&a->pc, a->pc_conn, a->pc_webhooks_conn)) < 0)
		return app_fail("the Partner Center client", rc);
	if ((code = app_open_store(a)) != PS_EXIT_OK)
		return code;
	o.on_event = report_event;
	o.event_payload = a;
	o.on_progress = report_progress;
	o.progress_payload = a;
	o.referral_link_base = a->cfg.referral_link_base;
	o.retry_max_attempts = a->cfg.retry_max_attempts;
	o.retry_delay_ms = a->cfg.retry_delay_ms;
	o.overlap_ms = a->cfg.overlap_ms;
	if ((rc = pcref_sync_new(&a->sync, a->pc, a->crm, a->mapping, a->store, &o)) < 0)
		return rc == PCREF_EINVALID ? app_config_error(pcref_error_last()->message)
		                            : app_fail("the sync engine", rc);
	return PS_EXIT_OK;
}

void app_close(app *a)
{
	/* the engine first: it holds references on the rest, and freeing it
	 * closes the store (SQLite checkpoints its WAL) */
	pcref_sync_free(a->sync);
	pcref_store_free(a->store);
	pcref_crm_free(a->crm);
	pcref_partner_center_free(a->pc);
	pcref_mapping_free(a->mapping);
	pcref_connection_free(a->crm_conn);
	pcref_connection_free(a->pc_webhooks_conn);
	pcref_connection_free(a->pc_conn);
	a->sync = NULL;
	a->store = NULL;
	a->crm = NULL;
	a->pc = NULL;
	a->mapping = NULL;
	a->crm_conn = a->pc_webhooks_conn = a->pc_conn = NULL;
}

/* ---- signals --------------------------------------------------------------------------- */

static volatile sig_atomic_t stop_signal;
static int stop_pipe[2] = { -1, -1 };

static void on_stop(int sig)
{
	int saved = errno;
	if (stop_signal) {
		/* asked twice: stop now (every sync step is one store transaction) */
		signal(sig, SIG_DFL);
		raise(sig);
	}
	stop_signal = sig;
	if (stop_pipe[1] >= 0) {
		ssize_t n = write(stop_pipe[1], "x", 1);
		(void)n;
	}
	errno = saved;
}

void app_signals_install(void)
{
	struct sigaction sa;
	if (stop_pipe[0] < 0 && pipe(stop_pipe) == 0) {
		for (int i = 0; i < 2; i++) {
			fcntl(stop_pipe[i], F_SETFL, fcntl(stop_pipe[i], F_GETFL) | O_NONBLOCK);
			fcntl(stop_pipe[i], F_SETFD, FD_CLOEXEC);
		}
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: select() returns at once */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int app_stop_requested(void)
{
	return stop_signal;
}

int app_stop_fd(void)
{
	return stop_pipe[0];
}
