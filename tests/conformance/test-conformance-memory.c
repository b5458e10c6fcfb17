/* The conformance suite on the in-memory CRM. */
#include <stdlib.h>

#include "conformance.h"

static pcref_crm *open_memory(void *ctx)
{
	pcref_crm *crm = NULL;
	(void)ctx;
	pcref_crm_memory_new(&crm, "{\"currencies\":[\"USD\",\"EUR\",\"SEK\"],"
	                           "\"users\":[\"seller@contoso.example\"]}");
	return crm;
}

int main(void)
{
	pcref_conformance_target t = { "memory", open_memory, NULL, NULL, 0, NULL };
	int failed;
	pcref_init();
	failed = pcref_conformance_run(&t);
	pcref_shutdown();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
