/*
 * sync-poll: one reconciliation pass — pcref_sync_poll() — printing every
 * outcome as the engine reports it and the report's counts at the end.
 * Run it from a timer (every minute, say) for a polling integration.
 *
 *   sync-poll            (configured by the environment: see sync-setup.h)
 *
 * Exit status: 0 when the pass completed and no item failed, 1 when some
 * items failed (they are audited and queued for retry), 2 when the pass
 * itself stopped (credentials refused, a service down, the store).
 */
#include <stdio.h>

#include "sync-setup.h"

/* Every outcome: a host would log it or feed its monitoring from here. */
static void on_event(const pcref_sync_event *ev, void *payload)
{
	(void)payload;
	if (ev->action != PCREF_ACTION_NONE)   /* "nothing differs" is the common case */
		example_print_event(ev);
}

int main(void)
{
	pcref_sync_options options = PCREF_SYNC_OPTIONS_INIT;
	pcref_sync_report report = PCREF_SYNC_REPORT_INIT;
	example ex;
	int rc;

	options.on_event = on_event;
	if (example_open(&ex, &options) < 0)
		return 2;
	rc = pcref_sync_poll(ex.sync, 0, &report);
	if (rc < 0)   /* EAUTH: "connector disconnected" — renew the credentials */
		example_fail("poll", rc);
	example_print_report("poll", &report);
	example_close(&ex);
	return rc < 0 ? 2 : report.failed ? 1 : 0;
}
