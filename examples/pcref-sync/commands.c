/* pcref-sync once | plan | backfill: one pass, then a summary. */
#include <stdio.h>
#include <unistd.h>

#include "commands.h"
#include "report.h"

static const char *signal_name(int sig)
{
	return sig == 2 ? "SIGINT" : sig == 15 ? "SIGTERM" : "a signal";
}

int sync_pass(app *a, const target *t, uint32_t flags, const char *what)
{
	pcref_sync_report r = PCREF_SYNC_REPORT_INIT;
	const char *doing;
	int rc;

	a->plan = (flags & PCREF_SYNC_DRY_RUN) != 0;
	if (t->referral_id) {
		doing = "syncing the referral";
		rc = pcref_sync_referral(a->sync, t->referral_id, flags, &r);
	} else if (t->crm_id) {
		doing = "syncing the CRM record";
		rc = pcref_sync_opportunity(a->sync, t->crm_id, flags, &r);
	} else if (t->backfill) {
		doing = "the backfill";
		a->progress_tty = isatty(STDOUT_FILENO);
		a->progress_shown = 0;
		a->progress_last_decile = 0;
		a->progress_last_ms = 0;
		rc = pcref_sync_backfill(a->sync, flags, &r);
		report_progress_end();
	} else {
		doing = "the reconciliation pass";
		rc = pcref_sync_poll(a->sync, flags, &r);
	}
	report_summary(what, &r, a->plan);

	if (rc == PCREF_EUSER && app_stop_requested()) {
		fprintf(stderr, "pcref-sync: %s stopped by %s after %llu of %llu items; what was done is kept — run it "
		        "again to finish\n", doing, signal_name(app_stop_requested()),
		        (unsigned long long)a->progress_last_done, (unsigned long long)a->progress_total);
		return PS_EXIT_INTERRUPTED;
	}
	if (rc < 0) {
		int code = app_fail(doing, rc);
		/* one item's own failure (reported, audited, queued) is an item failure */
		if ((t->referral_id || t->crm_id) && code == PS_EXIT_SOFTWARE)
			return PS_EXIT_ITEMS_FAILED;
		return code;
	}
	return r.failed ? PS_EXIT_ITEMS_FAILED : PS_EXIT_OK;
}

int cmd_once(app *a, const target *t)
{
	return sync_pass(a, t, 0, t->referral_id || t->crm_id ? "once (one item)" : "once");
}

int cmd_plan(app *a, const target *t)
{
	printf("Plan (dry run): the writes a %s would make; nothing is written to Partner Center, the CRM or "
	       "the state store.\n", t->backfill ? "backfill" : t->referral_id || t->crm_id ? "sync of this item"
	                                                                                     : "reconciliation pass");
	return sync_pass(a, t, PCREF_SYNC_DRY_RUN, "plan");
}

int cmd_backfill(app *a)
{
	target t = { 1, NULL, NULL };
	return sync_pass(a, &t, 0, "backfill");
}
