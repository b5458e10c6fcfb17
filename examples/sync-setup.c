/* The set-up the sync examples share (see sync-setup.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync-setup.h"

static const char *env(const char *name, const char *fallback)
{
	const char *v = getenv(name);
	return v && *v ? v : fallback;
}

int example_fail(const char *what, int rc)
{
	const pcref_error *e = pcref_error_last();
	fprintf(stderr, "%s: %s (%s)\n", what, *e->message ? e->message : pcref_strerror(rc),
	        pcref_strerror(rc));
	return rc;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	long n;
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (data = malloc((size_t)n + 1)) && fread(data, 1, (size_t)n, f) == (size_t)n) {
		data[n] = '\0';
		*len = (size_t)n;
	} else {
		free(data);
		data = NULL;
	}
	fclose(f);
	return data;
}

static int open_mapping(example *ex, const char *backend)
{
	const char *path = getenv("PCREF_MAPPING");
	size_t len;
	char *json;
	int rc;
	if (!path || !*path)
		return pcref_mapping_new(&ex->mapping, backend) < 0 ? example_fail("mapping", -1) : 0;
	if (!(json = read_file(path, &len))) {
		perror(path);
		return -1;
	}
	rc = pcref_mapping_load(&ex->mapping, json, len);
	free(json);
	return rc < 0 ? example_fail(path, rc) : 0;
}

static int open_partner_center(example *ex)
{
	pcref_connection_options o = PCREF_CONNECTION_OPTIONS_INIT;
	pcref_connection *conn;
	int rc;
	o.base_url = env("PCREF_PC_URL", "https://api.partner.microsoft.com");
	o.service_name = "Partner Center";
	o.auth = PCREF_AUTH_PASSWORD;
	o.token_url = env("PCREF_PC_TOKEN_URL", "https://login.microsoftonline.com/common/oauth2/token");
	o.resource = "https://api.partner.microsoft.com";
	o.client_id = getenv("PCREF_PC_CLIENT_ID");
	o.client_secret = getenv("PCREF_PC_CLIENT_SECRET");
	o.username = getenv("PCREF_PC_USERNAME");
	o.password = getenv("PCREF_PC_PASSWORD");
	if ((rc = pcref_connection_new(&conn, &o)) < 0)
		return example_fail("Partner Center connection", rc);
	rc = pcref_partner_center_new(&ex->pc, conn, NULL);
	pcref_connection_free(conn);   /* the client keeps its own reference */
	return rc < 0 ? example_fail("Partner Center", rc) : 0;
}

static int open_dynamics(example *ex)
{
	pcref_connection_options o = PCREF_CONNECTION_OPTIONS_INIT;
	pcref_connection *conn;
	char scope[512];
	int rc;
	o.base_url = getenv("PCREF_CRM_URL");
	o.service_name = "Dynamics 365";
	o.auth = PCREF_AUTH_CLIENT_CREDENTIALS;
	o.token_url = getenv("PCREF_CRM_TOKEN_URL");
	snprintf(scope, sizeof(scope), "%s/.default", o.base_url ? o.base_url : "");
	o.scope = scope;
	o.client_id = getenv("PCREF_CRM_CLIENT_ID");
	o.client_secret = getenv("PCREF_CRM_CLIENT_SECRET");
	if ((rc = pcref_connection_new(&conn, &o)) < 0)
		return example_fail("Dynamics 365 connection (PCREF_CRM_URL, PCREF_CRM_TOKEN_URL)", rc);
	rc = pcref_crm_dynamics_new(&ex->crm, conn, ex->mapping);
	pcref_connection_free(conn);
	return rc < 0 ? example_fail("Dynamics 365", rc) : 0;
}

static int open_engine(example *ex, const pcref_sync_options *options)
{
	const char *path = env("PCREF_STORE", "pcref-state.db");
	int rc;
	if ((rc = pcref_store_sqlite_open(&ex->store, path, 0)) < 0)
		return example_fail(path, rc);
	if ((rc = pcref_sync_new(&ex->sync, ex->pc, ex->crm, ex->mapping, ex->store, options)) < 0)
		return example_fail("sync engine", rc);
	return 0;
}

int example_open(example *ex, const pcref_sync_options *options)
{
	const char *kind = env("PCREF_CRM", "memory");
	int rc;
	memset(ex, 0, sizeof(*ex));
	if ((rc = pcref_init()) < 0)
		return example_fail("pcref_init", rc);
	if (strcmp(kind, "dynamics") != 0 && strcmp(kind, "memory") != 0) {
		fprintf(stderr, "PCREF_CRM: \"%s\" is neither \"dynamics\" nor \"memory\"\n", kind);
		rc = -1;
	} else if ((rc = open_mapping(ex, kind)) == 0 && (rc = open_partner_center(ex)) == 0) {
		if (strcmp(kind, "dynamics") == 0)
			rc = open_dynamics(ex);
		else if ((rc = pcref_crm_memory_new(&ex->crm, NULL)) < 0)
			example_fail("memory CRM", rc);
		if (rc == 0)
			rc = open_engine(ex, options);
	}
	if (rc < 0)
		example_close(ex);
	return rc < 0 ? rc : 0;
}

int example_open_with_crm(example *ex, pcref_crm *crm, const char *mapping_backend,
                          const pcref_sync_options *options)
{
	int rc;
	memset(ex, 0, sizeof(*ex));
	ex->crm = crm;   /* freed by example_close(), which also ends the caller's pcref_init() */
	if ((rc = open_mapping(ex, mapping_backend)) == 0 && (rc = open_partner_center(ex)) == 0)
		rc = open_engine(ex, options);
	if (rc < 0)
		example_close(ex);
	return rc < 0 ? rc : 0;
}

void example_close(example *ex)
{
	pcref_sync_free(ex->sync);   /* in any order: each keeps what it needs alive */
	pcref_store_free(ex->store);
	pcref_crm_free(ex->crm);
	pcref_partner_center_free(ex->pc);
	pcref_mapping_free(ex->mapping);
	memset(ex, 0, sizeof(*ex));
	pcref_shutdown();
}

const char *example_action_name(int action)
{
	static const char *const names[] = { "unchanged", "created", "updated", "accepted", "declined",
	                                     "closed",    "linked",  "skipped", "failed" };
	return action >= 0 && action <= PCREF_ACTION_FAIL ? names[action] : "?";
}

void example_print_event(const pcref_sync_event *ev)
{
	printf("%-6s %-9s referral %s, crm %s", ev->direction == PCREF_DIRECTION_TO_PC ? "to PC" : "to CRM",
	       example_action_name(ev->action), ev->referral_id ? ev->referral_id : "(new)",
	       ev->crm_id ? ev->crm_id : "(new)");
	if (ev->flags & PCREF_SYNC_DRY_RUN)
		printf(" [planned]");
	if (ev->changes)
		printf(": %s", ev->changes);
	if (ev->message)
		printf(" — %s", ev->message);
	if (ev->action == PCREF_ACTION_FAIL)
		printf(" (%s)", pcref_strerror(ev->code));
	printf("\n");
}

void example_print_report(const char *what, const pcref_sync_report *r)
{
	printf("%s: examined %u, created %u, updated %u, accepted %u, declined %u, closed %u, linked %u, "
	       "unchanged %u, skipped %u, failed %u, conflicts %u, retried %u\n",
	       what, r->examined, r->created, r->updated, r->accepted, r->declined, r->closed, r->linked,
	       r->unchanged, r->skipped, r->failed, r->conflicts, r->retried);
}
