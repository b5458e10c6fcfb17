/*
 * sync-backfill: compare everything on both sides — pcref_sync_backfill() —
 * whatever the watermarks say, with a progress callback. Run it on a first
 * installation or after an outage. Stopping it (Ctrl-C) is safe: run it
 * again and it does not redo what is done.
 *
 *   sync-backfill        (configured by the environment: see sync-setup.h)
 *
 * Progress goes to standard error, a summary to standard output.
 */
#include <signal.h>
#include <stdio.h>

#include "sync-setup.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* Called as items are compared; a non-zero answer stops the backfill. */
static int on_progress(uint64_t done, uint64_t total, void *payload)
{
	(void)payload;
	if (total)
		fprintf(stderr, "\rbackfill: %llu of %llu (%3.0f %%)", (unsigned long long)done,
		        (unsigned long long)total, 100.0 * (double)done / (double)total);
	else
		fprintf(stderr, "\rbackfill: %llu", (unsigned long long)done);
	return stop;
}

int main(void)
{
	pcref_sync_options options = PCREF_SYNC_OPTIONS_INIT;
	pcref_sync_report report = PCREF_SYNC_REPORT_INIT;
	example ex;
	int rc;

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	options.on_progress = on_progress;
	if (example_open(&ex, &options) < 0)
		return 2;
	rc = pcref_sync_backfill(ex.sync, 0, &report);
	fprintf(stderr, "\n");
	if (rc == PCREF_EUSER)
		fprintf(stderr, "backfill: stopped; run it again to go on\n");
	else if (rc < 0)
		example_fail("backfill", rc);
	example_print_report("backfill", &report);
	example_close(&ex);
	return rc < 0 ? 2 : report.failed ? 1 : 0;
}
