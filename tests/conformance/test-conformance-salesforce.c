/* The conformance suite on the Salesforce backend, against the Salesforce
 * emulator (tests/peers/salesforce.py) started once for the whole run. */
#include <stdio.h>
#include <stdlib.h>

#include "conformance.h"
#include "peer.h"

static peer emu;

static pcref_crm *open_salesforce(void *ctx)
{
	pcref_connection_options o = PCREF_CONNECTION_OPTIONS_INIT;
	pcref_connection *conn = NULL;
	pcref_crm *crm = NULL;
	char token_url[128];
	(void)ctx;
	snprintf(token_url, sizeof(token_url), "%s/services/oauth2/token", emu.base);
	o.base_url = emu.base;
	o.service_name = "Salesforce";
	o.auth = PCREF_AUTH_CLIENT_CREDENTIALS;
	o.token_url = token_url;
	o.client_id = "pcref-demo-client";
	o.client_secret = "pcref-demo-secret";
	o.retry_base_ms = 50;
	if (pcref_connection_new(&conn, &o) < 0)
		return NULL;
	pcref_crm_salesforce_new(&crm, conn, NULL);
	pcref_connection_free(conn); /* the CRM keeps its own reference */
	return crm;
}

static void reset(void *ctx)
{
	(void)ctx;
	peer_post(emu.base, "/_control/reset", NULL);
}

static int seed(size_t n, void *ctx)
{
	char body[96];
	(void)ctx;
	snprintf(body, sizeof(body), "{\"object\":\"Opportunity\",\"count\":%zu}", n);
	peer_post(emu.base, "/_control/generate", body);
	return 0;
}

int main(void)
{
	pcref_conformance_target t = { "salesforce", open_salesforce, reset, seed, 0, NULL };
	int failed;
	peer_require_python();
	pcref_init();
	if (peer_start(&emu, "salesforce") != 0) {
		pcref_shutdown();
		return EXIT_FAILURE;
	}
	failed = pcref_conformance_run(&t);
	peer_stop(&emu);
	pcref_shutdown();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
