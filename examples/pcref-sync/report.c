/* pcref-sync: what it prints (see report.h). */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <yajl/yajl_tree.h>

#include "app.h"
#include "report.h"
#include "util.h"

static int timestamps;
static int bar_visible;        /* a progress bar is on the terminal's last line */
static int bar_complete;       /* ... and it shows 100%: keep it */

void report_set_timestamps(int on)
{
	timestamps = on;
}

void report_clear_progress_line(void)
{
	if (bar_visible) {
		fputs(bar_complete ? "\n" : "\r\033[K", stdout);
		fflush(stdout);
		bar_visible = 0;
	}
}

/* ---- one outcome --------------------------------------------------------------------- */

static const char *const verbs[] = {
	[PCREF_ACTION_NONE] = "unchanged", [PCREF_ACTION_CREATE] = "created", [PCREF_ACTION_UPDATE] = "updated",
	[PCREF_ACTION_ACCEPT] = "accepted", [PCREF_ACTION_DECLINE] = "declined", [PCREF_ACTION_CLOSE] = "closed",
	[PCREF_ACTION_LINK] = "linked", [PCREF_ACTION_SKIP] = "skipped", [PCREF_ACTION_FAIL] = "FAILED",
};
static const char *const plan_verbs[] = {
	[PCREF_ACTION_NONE] = "nothing to do for", [PCREF_ACTION_CREATE] = "create",
	[PCREF_ACTION_UPDATE] = "update", [PCREF_ACTION_ACCEPT] = "accept", [PCREF_ACTION_DECLINE] = "decline",
	[PCREF_ACTION_CLOSE] = "close", [PCREF_ACTION_LINK] = "link", [PCREF_ACTION_SKIP] = "skip",
	[PCREF_ACTION_FAIL] = "cannot plan",
};

static const char *verb_of(const char *const *table, int action)
{
	return action >= 0 && action <= PCREF_ACTION_FAIL && table[action] ? table[action] : "?";
}

/* "referral R → opportunity C" in the direction of the sync. */
static void print_subject(const pcref_sync_event *e)
{
	const char *r = e->referral_id ? e->referral_id : "(new)";
	const char *c = e->crm_id ? e->crm_id : "(new)";
	if (e->direction == PCREF_DIRECTION_TO_PC)
		printf("opportunity %s → referral %s", c, r);
	else
		printf("referral %s → opportunity %s", r, c);
}

static void print_field_list(const int *fields, size_t n)
{
	for (size_t i = 0; i < n && i < 8; i++) {
		const char *name = pcref_opportunity_field_name(fields[i]);
		printf("%s%s", i ? ", " : "", name ? name : "?");
	}
	if (n > 8)
		printf(" +%zu more", n - 8);
}

/* A JSON value of the event's changes, compactly. */
static void print_value(yajl_val v, int depth)
{
	if (!v || YAJL_IS_NULL(v)) {
		fputs("(none)", stdout);
	} else if (YAJL_IS_STRING(v)) {
		size_t n = strlen(v->u.string);
		if (n > 72)
			printf("\"%.69s...\"", v->u.string);
		else
			printf("\"%s\"", v->u.string);
	} else if (YAJL_IS_NUMBER(v)) {
		fputs(v->u.number.r, stdout);
	} else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
		fputs(YAJL_IS_TRUE(v) ? "yes" : "no", stdout);
	} else if (depth > 3) {
		fputs("...", stdout);
	} else if (YAJL_IS_ARRAY(v)) {
		fputc('[', stdout);
		for (size_t i = 0; i < v->u.array.len; i++) {
			fputs(i ? ", " : "", stdout);
			print_value(v->u.array.values[i], depth + 1);
		}
		fputc(']', stdout);
	} else if (YAJL_IS_OBJECT(v)) {
		fputc('{', stdout);
		for (size_t i = 0; i < v->u.object.len; i++) {
			printf("%s%s: ", i ? ", " : "", v->u.object.keys[i]);
			print_value(v->u.object.values[i], depth + 1);
		}
		fputc('}', stdout);
	}
}

/* The event's `changes` ({"field": [old, new], ...}), one field a line. */
static void print_changes(const char *changes)
{
	char err[128];
	yajl_val doc;
	size_t width = 0;
	if (!changes)
		return;
	if (!(doc = yajl_tree_parse(changes, err, sizeof(err))) || !YAJL_IS_OBJECT(doc)) {
		printf("      %s\n", changes);
		yajl_tree_free(doc);
		return;
	}
	for (size_t i = 0; i < doc->u.object.len; i++)
		if (strlen(doc->u.object.keys[i]) > width)
			width = strlen(doc->u.object.keys[i]);
	for (size_t i = 0; i < doc->u.object.len; i++) {
		yajl_val pair = doc->u.object.values[i];
		printf("      %-*s  ", (int)width, doc->u.object.keys[i]);
		if (YAJL_IS_ARRAY(pair) && pair->u.array.len == 2) {
			yajl_val before = pair->u.array.values[0], after = pair->u.array.values[1];
			if (!YAJL_IS_NULL(before)) {
				print_value(before, 0);
				fputs(" → ", stdout);
			}
			print_value(after, 0);
		} else {
			print_value(pair, 0);
		}
		fputc('\n', stdout);
	}
	yajl_tree_free(doc);
}

static void print_plan_event(const pcref_sync_event *e)
{
	const char *where = e->direction == PCREF_DIRECTION_TO_PC ? "in Partner Center" : "in the CRM";
	switch (e->action) {
	case PCREF_ACTION_SKIP:
	case PCREF_ACTION_FAIL:
	case PCREF_ACTION_NONE:
		printf("  %s ", verb_of(plan_verbs, e->action));
		print_subject(e);
		if (e->message)
			printf(": %s", e->message);
		fputc('\n', stdout);
		return;
	default:
		break;
	}
	printf("  would %s %s: ", verb_of(plan_verbs, e->action), where);
	print_subject(e);
	fputc('\n', stdout);
	if (e->changes)
		print_changes(e->changes);
	else if (e->nfields) {
		fputs("      fields: ", stdout);
		print_field_list(e->fields, e->nfields);
		fputc('\n', stdout);
	}
	if (e->nconflicts) {
		fputs("      conflict (changed on both sides): ", stdout);
		print_field_list(e->conflicts, e->nconflicts);
		if (e->message)
			printf(" — %s", e->message);
		fputc('\n', stdout);
	}
}

void report_event(const pcref_sync_event *e, void *payload)
{
	app *a = payload;
	char when[32];
	if (a->quiet && e->action != PCREF_ACTION_FAIL)
		return;
	if (e->action == PCREF_ACTION_NONE && !a->verbose)
		return;
	report_clear_progress_line();
	if (a->plan || (e->flags & PCREF_SYNC_DRY_RUN)) {
		print_plan_event(e);
		fflush(stdout);
		return;
	}
	if (timestamps)
		printf("%s ", util_format_time(util_now_ms(), when, sizeof(when)));
	printf("%-7s %-9s ", e->direction == PCREF_DIRECTION_TO_PC ? "to PC" : "to CRM", verb_of(verbs, e->action));
	print_subject(e);
	if (e->nfields) {
		fputs(": ", stdout);
		print_field_list(e->fields, e->nfields);
	}
	if (e->nconflicts) {
		fputs("; conflict on ", stdout);
		print_field_list(e->conflicts, e->nconflicts);
	}
	if (e->action == PCREF_ACTION_FAIL)
		printf(" — %s (%s; queued for retry)", e->message ? e->message : pcref_strerror(e->code),
		       pcref_strerror(e->code));
	else if (e->message)
		printf(" — %s", e->message);
	fputc('\n', stdout);
	fflush(stdout);
}

/* ---- the summary ----------------------------------------------------------------------- */

void report_summary(const char *what, const pcref_sync_report *r, int plan)
{
	char when[32];
	report_clear_progress_line();
	if (timestamps)
		printf("%s ", util_format_time(util_now_ms(), when, sizeof(when)));
	printf("%s: examined %u, %screated %u, updated %u, accepted %u, declined %u, closed %u, linked %u, "
	       "unchanged %u, skipped %u, failed %u, conflicts %u, retried %u%s\n",
	       what, r->examined, plan ? "would have " : "", r->created, r->updated, r->accepted, r->declined,
	       r->closed, r->linked, r->unchanged, r->skipped, r->failed, r->conflicts, r->retried,
	       plan ? " — dry run: nothing was written" : "");
	fflush(stdout);
}

/* ---- backfill progress ------------------------------------------------------------------- */

static void draw_bar(uint64_t done, uint64_t total, int64_t elapsed_ms)
{
	const int width = 30;
	double rate = elapsed_ms > 0 ? (double)done * 1000.0 / (double)elapsed_ms : 0;
	char bar[64];
	if (total) {
		int fill = (int)(done >= total ? width : (uint64_t)width * done / total);
		memset(bar, '#', (size_t)fill);
		memset(bar + fill, '.', (size_t)(width - fill));
		bar[width] = '\0';
		printf("\r\033[Kbackfill [%s] %3u%% %llu/%llu  %.0f/s", bar, (unsigned)(done * 100 / total),
		       (unsigned long long)done, (unsigned long long)total, rate);
	} else {
		printf("\r\033[Kbackfill %llu compared  %.0f/s", (unsigned long long)done, rate);
	}
	fflush(stdout);
	bar_visible = 1;
	bar_complete = total && done >= total;
}

static int64_t progress_started_ms;

int report_progress(uint64_t done, uint64_t total, void *payload)
{
	app *a = payload;
	int64_t now = util_monotonic_ms();
	if (!progress_started_ms)
		progress_started_ms = now;
	if (!a->quiet) {
		if (a->progress_tty) {
			if (done == total || now - a->progress_last_ms >= 100 || !bar_visible) {
				draw_bar(done, total, now - progress_started_ms);
				a->progress_last_ms = now;
			}
		} else if (total) {
			unsigned decile = done >= total ? 10 : (unsigned)(done * 10 / total);
			if (!a->progress_shown || decile > a->progress_last_decile) {
				printf("backfill: %llu/%llu compared (%u%%)\n", (unsigned long long)done,
				       (unsigned long long)total, (unsigned)(done >= total ? 100 : done * 100 / total));
				a->progress_last_decile = decile;
				a->progress_shown = 1;
				fflush(stdout);
			}
		} else if (done && done % 100 == 0) {
			printf("backfill: %llu compared\n", (unsigned long long)done);
			fflush(stdout);
		}
	}
	a->progress_last_done = done;
	a->progress_total = total;
	return app_stop_requested() ? 1 : 0;
}

void report_progress_end(void)
{
	if (bar_visible) {
		fputc('\n', stdout);
		fflush(stdout);
		bar_visible = 0;
	}
	progress_started_ms = 0;
}
