/* pcref-sync: the subcommands. Each returns an exit code (PS_EXIT_*). */
#ifndef PCREF_SYNC_COMMANDS_H
#define PCREF_SYNC_COMMANDS_H

#include "app.h"

/* What a command works on: everything changed since the watermarks (a
 * poll), everything (a backfill), or one item. */
typedef struct target {
	int backfill;
	const char *referral_id;
	const char *crm_id;
} target;

int cmd_once(app *a, const target *t);
int cmd_plan(app *a, const target *t);
int cmd_backfill(app *a);
int cmd_status(app *a);
/* start_backfill: begin with a backfill even when the store has links. */
int cmd_run(app *a, int start_backfill);

/* One pass (shared by once, plan, backfill and run): the exit code, with
 * the summary printed under `what`. */
int sync_pass(app *a, const target *t, uint32_t flags, const char *what);

#endif
