/* pcref-sync status: what the state store knows — watermarks, links with
 * their last outcome, the retry queue with the last errors. Reads only the
 * store: no connection, no secret needed. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "commands.h"
#include "util.h"

static const char *const watermarks[] = { PCREF_SYNC_WATERMARK_PARTNER_CENTER, PCREF_SYNC_WATERMARK_CRM };

static int count_link(const pcref_link *link, void *payload)
{
	(void)link;
	(*(size_t *)payload)++;
	return 0;
}

static int count_retry(const pcref_retry *item, void *payload)
{
	(void)item;
	(*(size_t *)payload)++;
	return 0;
}

static const char *or_dash(const char *s)
{
	return s && *s ? s : "-";
}

static int print_link(const pcref_link *l, void *payload)
{
	char when[32];
	(void)payload;
	printf("  %-36s  %-36s  %-20s  ", or_dash(l->referral_id), or_dash(l->crm_id),
	       util_format_time(l->synced_ms, when, sizeof(when)));
	if (l->flags & PCREF_LINK_PENDING)
		printf("create pending since %s", util_format_time(l->started_ms, when, sizeof(when)));
	else if (l->last_code == PCREF_OK)
		fputs("ok", stdout);
	else
		printf("FAILED: %s", l->last_message ? l->last_message : pcref_strerror(l->last_code));
	if (l->flags & PCREF_LINK_LEAD)
		fputs(" (lead)", stdout);
	fputc('\n', stdout);
	return 0;
}

static int print_retry(const pcref_retry *r, void *payload)
{
	char when[32];
	(void)payload;
	printf("  %s %s: %u attempt%s, next %s\n    last error: %s (%s)\n",
	       r->side == PCREF_SIDE_CRM ? "CRM record" : "referral", or_dash(r->id), r->attempts,
	       r->attempts == 1 ? "" : "s", util_format_time(r->next_ms, when, sizeof(when)),
	       r->last_message ? r->last_message : "-", pcref_strerror(r->last_code));
	return 0;
}

int cmd_status(app *a)
{
	size_t nlinks = 0, nretries = 0;
	char when[32];
	int rc, code;

	if (strcmp(a->cfg.store_path, ":memory:") != 0 && access(a->cfg.store_path, F_OK) != 0) {
		printf("State store  %s: not created yet — nothing has been synced\n", a->cfg.store_path);
		printf("Watermarks   none\nLinks        none\nRetry queue  empty\n");
		return PS_EXIT_OK;
	}
	if ((code = app_open_store(a)) != PS_EXIT_OK)
		return code;
	printf("State store  %s (%s)\n", a->cfg.store_path, pcref_store_name(a->store));

	printf("Watermarks\n");
	for (size_t i = 0; i < sizeof(watermarks) / sizeof(watermarks[0]); i++) {
		int64_t ms = PCREF_TIME_NONE;
		if ((rc = pcref_store_watermark_get(a->store, watermarks[i], &ms)) < 0) {
			app_fail("reading the watermarks", rc);
			return PS_EXIT_STORE;
		}
		printf("  %-16s %s\n", watermarks[i], util_format_time(ms, when, sizeof(when)));
	}

	if ((rc = pcref_store_link_list(a->store, count_link, &nlinks)) < 0) {
		app_fail("listing the links", rc);
		return PS_EXIT_STORE;
	}
	if (nlinks == 0) {
		printf("Links        none — nothing synced yet\n");
	} else {
		printf("Links (%zu)\n  %-36s  %-36s  %-20s  %s\n", nlinks, "referral", "CRM record", "last synced",
		       "last outcome");
		if ((rc = pcref_store_link_list(a->store, print_link, NULL)) < 0) {
			app_fail("listing the links", rc);
			return PS_EXIT_STORE;
		}
	}

	if ((rc = pcref_store_retry_list(a->store, PCREF_TIME_NONE, count_retry, &nretries)) < 0) {
		app_fail("listing the retry queue", rc);
		return PS_EXIT_STORE;
	}
	if (nretries == 0) {
		printf("Retry queue  empty\n");
	} else {
		printf("Retry queue (%zu)\n", nretries);
		if ((rc = pcref_store_retry_list(a->store, PCREF_TIME_NONE, print_retry, NULL)) < 0) {
			app_fail("listing the retry queue", rc);
			return PS_EXIT_STORE;
		}
	}
	return PS_EXIT_OK;
}
