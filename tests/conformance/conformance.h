/*
 * The CRM backend conformance suite: one set of Check tests written against
 * the pcref_crm API alone, run against every backend (memory, Dynamics 365
 * through its emulator, Salesforce, and a host's own, from C or Python).
 *
 * What the CRM under test must contain (R-29 tests rely on it): currencies
 * USD and EUR but not CHF; a user seller@contoso.example but not
 * nobody@contoso.example. It starts empty of opportunities, accounts,
 * contacts and leads (reset before each test when `reset` is given).
 */
#ifndef PCREF_CONFORMANCE_H
#define PCREF_CONFORMANCE_H

#include <pcref/pcref.h>

typedef struct pcref_conformance_target {
	const char *name;                        /* "memory", "dynamics" ... */
	/* A fresh CRM handle for one test (the suite frees it). */
	pcref_crm *(*open)(void *ctx);
	/* Make the CRM empty again (may be NULL when open() gives an empty CRM). */
	void (*reset)(void *ctx);
	/* Bulk-create n opportunities named "bulk-<i>" quickly (may be NULL: the
	 * suite then creates them through the backend). */
	int (*seed)(size_t n, void *ctx);
	/* Opportunities for the paging test (0: the default, 12000). */
	size_t paging_count;
	void *ctx;
} pcref_conformance_target;

/* Run the suite; returns the number of failed tests (0: conforms). Set
 * CK_FORK=no for targets whose callbacks cannot survive fork (Python). */
int pcref_conformance_run(const pcref_conformance_target *target);

#endif
