/*
 * sync-dry-run: what would a pass write? — pcref_sync_poll() (or
 * pcref_sync_backfill()) with PCREF_SYNC_DRY_RUN. Each planned write
 * is printed field by field from the event's `changes` (a JSON object
 * {"field": [old, new], ...}); nothing is written to Partner Center, the CRM
 * or the state store. Preview a new mapping file this way before using it.
 *
 *   sync-dry-run [--backfill]   (configured by the environment: see sync-setup.h)
 */
#include <stdio.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "sync-setup.h"

/* A JSON value as text (numbers as written, strings unquoted, null as "-"). */
static void print_value(const yajl_val v)
{
	if (!v || YAJL_IS_NULL(v))
		printf("-");
	else if (YAJL_IS_STRING(v))
		printf("\"%s\"", YAJL_GET_STRING(v));
	else if (YAJL_IS_NUMBER(v))
		printf("%s", YAJL_GET_NUMBER(v));
	else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v))
		printf("%s", YAJL_IS_TRUE(v) ? "true" : "false");
	else if (YAJL_IS_ARRAY(v)) {   /* the solution list */
		printf("[");
		for (size_t i = 0; i < v->u.array.len; i++) {
			printf("%s", i ? ", " : "");
			print_value(v->u.array.values[i]);
		}
		printf("]");
	} else {
		printf("{...}");
	}
}

static int is_conflict(const pcref_sync_event *ev, const char *field)
{
	for (size_t i = 0; i < ev->nconflicts; i++)
		if (strcmp(pcref_opportunity_field_name(ev->conflicts[i]), field) == 0)
			return 1;
	return 0;
}

/* `changes` is {"field": [old, new], ...}: one line per field. */
static void print_changes(const pcref_sync_event *ev)
{
	char err[128];
	yajl_val doc = yajl_tree_parse(ev->changes, err, sizeof(err));
	if (!YAJL_IS_OBJECT(doc)) {
		printf("    %s\n", ev->changes);   /* not expected: show it as it is */
	} else {
		for (size_t i = 0; i < doc->u.object.len; i++) {
			const char *field = doc->u.object.keys[i];
			yajl_val pair = doc->u.object.values[i];
			printf("    %-22s ", field);
			if (YAJL_IS_ARRAY(pair) && pair->u.array.len == 2) {
				print_value(pair->u.array.values[0]);
				printf(" -> ");
				print_value(pair->u.array.values[1]);
			}
			printf("%s\n", is_conflict(ev, field) ? "   (conflict, settled by the policy)" : "");
		}
	}
	yajl_tree_free(doc);
}

static void on_event(const pcref_sync_event *ev, void *payload)
{
	unsigned *planned = payload;
	if (ev->action == PCREF_ACTION_NONE)
		return;
	printf("%s %s: referral %s, crm %s\n", ev->direction == PCREF_DIRECTION_TO_PC ? "Partner Center" : "CRM",
	       example_action_name(ev->action), ev->referral_id ? ev->referral_id : "(new)",
	       ev->crm_id ? ev->crm_id : "(new)");
	if (ev->changes) {
		print_changes(ev);
		++*planned;
	}
	if (ev->message)
		printf("    %s\n", ev->message);
}

int main(int argc, char **argv)
{
	pcref_sync_options options = PCREF_SYNC_OPTIONS_INIT;
	pcref_sync_report report = PCREF_SYNC_REPORT_INIT;
	int backfill = argc == 2 && strcmp(argv[1], "--backfill") == 0;
	unsigned planned = 0;
	example ex;
	int rc;

	if (argc > 2 || (argc == 2 && !backfill)) {
		fprintf(stderr, "usage: %s [--backfill]\n", argv[0]);
		return 2;
	}
	options.on_event = on_event;
	options.event_payload = &planned;
	if (example_open(&ex, &options) < 0)
		return 2;
	if (backfill)
		rc = pcref_sync_backfill(ex.sync, PCREF_SYNC_DRY_RUN, &report);
	else
		rc = pcref_sync_poll(ex.sync, PCREF_SYNC_DRY_RUN, &report);
	if (rc < 0)
		example_fail("plan", rc);
	printf("plan: %u write(s) planned, nothing written\n", planned);
	example_print_report("plan", &report);
	example_close(&ex);
	return rc < 0 ? 2 : 0;
}
