/* The conformance suite on the Salesforce backend, against the Salesforce
 * emulator (tests/peers/salesforce.py) started once for the whole run. */
#include <stdio.h>
#include <stdlib.h>

#include "conformance.h"
#include "peer.h"

static peer emu;

static pcref_crm *open_salesforce(void *ctx)
{
	pcref_connection *conn = peer_salesforce_connection(&emu, PCREF_AUTH_CLIENT_CREDENTIALS);
	pcref_crm *crm = NULL;
	(void)ctx;
	if (!conn)
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
