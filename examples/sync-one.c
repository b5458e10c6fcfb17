/*
 * sync-one: sync a single item — pcref_sync_referral() for a Partner Center
 * referral, pcref_sync_opportunity() for a CRM record — as a host does from
 * its own change notification (a Dynamics 365 plugin, a Salesforce
 * trigger, a "sync now" button).
 *
 *   sync-one referral REFERRAL-ID
 *   sync-one opportunity CRM-ID
 *
 * Configured by the environment (see sync-setup.h). Exit status 0 when the
 * item is in sync, 1 when it failed (the item is audited and queued for
 * retry), 2 on a usage or set-up error.
 */
#include <stdio.h>
#include <string.h>

#include "sync-setup.h"

static void on_event(const pcref_sync_event *ev, void *payload)
{
	(void)payload;
	example_print_event(ev);
}

int main(int argc, char **argv)
{
	pcref_sync_options options = PCREF_SYNC_OPTIONS_INIT;
	int referral = argc == 3 && strcmp(argv[1], "referral") == 0;
	example ex;
	int rc;

	if (argc != 3 || (!referral && strcmp(argv[1], "opportunity") != 0)) {
		fprintf(stderr, "usage: %s referral REFERRAL-ID | opportunity CRM-ID\n", argv[0]);
		return 2;
	}
	options.on_event = on_event;
	if (example_open(&ex, &options) < 0)
		return 2;
	if (referral)
		rc = pcref_sync_referral(ex.sync, argv[2], 0, NULL);
	else
		rc = pcref_sync_opportunity(ex.sync, argv[2], 0, NULL);
	if (rc < 0)   /* ENOTFOUND: no such id on that side */
		example_fail(argv[2], rc);
	example_close(&ex);
	return rc < 0 ? 1 : 0;
}
