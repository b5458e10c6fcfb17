/* The passes: poll (reconcile since the watermarks, then the retry queue),
 * backfill (everything), one item from either side, and webhook deliveries. */
#include <string.h>

#include <openssl/evp.h>

#include "sync_internal.h"
#include "../partnercenter/partnercenter_internal.h"

#define DELIVERY_KEEP_MS (7 * 86400000LL)  /* how long handled deliveries are remembered */

static int check_flags(uint32_t flags, const char *fn)
{
	if (flags & ~PCREF_SYNC_DRY_RUN)
		return pcref__error(PCREF_EINVALID, "%s: unknown flags 0x%x", fn, (unsigned)(flags & ~PCREF_SYNC_DRY_RUN));
	return PCREF_OK;
}

static int check_report(pcref_sync_report *report)
{
	if (report && (report->version == 0 || report->version > PCREF_SYNC_REPORT_VERSION))
		return pcref__error(PCREF_EVERSION, "sync report version %u is not known to libpcref %s: initialise it "
		                    "with PCREF_SYNC_REPORT_INIT", report->version, pcref_version_string());
	return PCREF_OK;
}

static int start(pcref__run *run, pcref_sync *s, uint32_t flags, pcref_sync_report *report, const char *fn)
{
	int rc;
	if (!s)
		return pcref__error(PCREF_EINVALID, "%s: sync is NULL", fn);
	if ((rc = check_flags(flags, fn)) < 0 || (rc = check_report(report)) < 0)
		return rc;
	memset(run, 0, sizeof(*run));
	run->s = s;
	run->flags = flags;
	run->report = report;
	return PCREF_OK;
}

/* ---- collecting, then working (a listing's callback must not call out) ----------- */

typedef struct pc_entry {
	char *id, *etag;
	int64_t updated;
} pc_entry;

typedef struct pc_list {
	pc_entry *items;
	size_t n, cap;
} pc_list;

static int on_pc(const pcref_referral *r, void *payload)
{
	pc_list *l = payload;
	pc_entry *e;
	if (pcref__referral_targets_microsoft(r))
		return 0;  /* a co-sell invitation of ours: not a deal of its own */
	if (pcref__grow((void **)&l->items, &l->cap, l->n + 1, sizeof(*l->items)) < 0)
		return PCREF_ENOMEM;
	e = &l->items[l->n];
	e->id = pcref__strdup(pcref_referral_id(r) ? pcref_referral_id(r) : "");
	e->etag = pcref_referral_etag(r) ? pcref__strdup(pcref_referral_etag(r)) : NULL;
	e->updated = pcref_referral_updated_time(r);
	if (!e->id || (pcref_referral_etag(r) && !e->etag)) {
		pcref__dealloc(e->id);
		pcref__dealloc(e->etag);
		return pcref__error_nomem();
	}
	l->n++;
	return 0;
}

static void pc_list_dispose(pc_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		pcref__dealloc(l->items[i].id);
		pcref__dealloc(l->items[i].etag);
	}
	pcref__dealloc(l->items);
	memset(l, 0, sizeof(*l));
}

typedef struct crm_list {
	pcref_sync *s;
	int fast;
	pcref_opportunity **items;
	size_t n, cap, seen;
	int64_t newest;
} crm_list;

typedef struct link_version {
	const char *version;
	int same;
} link_version;

static int on_link_version(const pcref_link *l, void *payload)
{
	link_version *lv = payload;
	lv->same = l->crm_version && lv->version && strcmp(l->crm_version, lv->version) == 0 &&
	           (l->last_code == PCREF_OK || l->last_code == PCREF_EINVALID);
	return 0;
}

/* Keep what may need work: records the store has not seen at this version
 * that are linked, name a referral, or are marked Sync = Yes. */
static int on_crm(const pcref_opportunity *o, void *payload)
{
	crm_list *l = payload;
	const char *id = pcref_opportunity_text(o, PCREF_FIELD_ID), *rid;
	link_version lv = { pcref_opportunity_text(o, PCREF_FIELD_VERSION), 0 };
	int64_t mod = pcref_opportunity_time(o, PCREF_FIELD_MODIFIED_TIME);
	int rc, linked;
	pcref_opportunity *copy;
	l->seen++;
	if (mod != PCREF_TIME_NONE && mod > l->newest)
		l->newest = mod;
	if (!id)
		return 0;
	rc = pcref_store_link_get(l->s->store, NULL, id, on_link_version, &lv);
	if (rc < 0 && rc != PCREF_ENOTFOUND)
		return rc;
	pcref_error_clear();
	linked = rc == PCREF_OK;
	if (l->fast && linked && lv.same)
		return 0;
	rid = pcref_opportunity_text(o, PCREF_FIELD_REFERRAL_ID);
	if (!linked && !(rid && *rid) && pcref_opportunity_flag(o, PCREF_FIELD_SYNC) != 1)
		return 0;  /* not shared with Partner Center */
	if (pcref__grow((void **)&l->items, &l->cap, l->n + 1, sizeof(*l->items)) < 0)
		return PCREF_ENOMEM;
	if ((rc = pcref_opportunity_dup(&copy, o)) < 0)
		return rc;
	l->items[l->n++] = copy;
	return 0;
}

static void crm_list_dispose(crm_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		pcref_opportunity_free(l->items[i]);
	pcref__dealloc(l->items);
	l->items = NULL;
	l->n = l->cap = 0;
}

/* ---- retries ------------------------------------------------------------------ */

typedef struct retry_entry {
	int side;
	char *id;
} retry_entry;

typedef struct retry_list {
	retry_entry *items;
	size_t n, cap;
} retry_list;

static int on_retry(const pcref_retry *item, void *payload)
{
	retry_list *l = payload;
	if (!item->id)
		return 0;
	if (pcref__grow((void **)&l->items, &l->cap, l->n + 1, sizeof(*l->items)) < 0)
		return PCREF_ENOMEM;
	if (!(l->items[l->n].id = pcref__strdup(item->id)))
		return pcref__error_nomem();
	l->items[l->n++].side = item->side;
	return 0;
}

/* The items due when the pass began (what failed during it waits its turn). */
static int drain_retries(pcref__run *run, int64_t due)
{
	retry_list l = { NULL, 0, 0 };
	int rc = pcref_store_retry_list(run->s->store, due, on_retry, &l);
	for (size_t i = 0; i < l.n && rc >= 0; i++) {
		int item_rc;
		if (run->report)
			run->report->retried++;
		item_rc = l.items[i].side == PCREF_SIDE_PARTNER_CENTER ? pcref__sync_referral(run, l.items[i].id, NULL)
		                                                         : pcref__sync_opportunity(run, l.items[i].id, NULL);
		if (item_rc == PCREF_ENOTFOUND && !PCREF__DRY(run)) {
			/* gone from its side and never linked: nothing left to retry */
			pcref_error_clear();
			item_rc = pcref_store_retry_delete(run->s->store, l.items[i].side, l.items[i].id);
		}
		if (item_rc < 0 && pcref__sync_fatal(item_rc))
			rc = item_rc;
	}
	for (size_t i = 0; i < l.n; i++)
		pcref__dealloc(l.items[i].id);
	pcref__dealloc(l.items);
	return rc < 0 ? rc : PCREF_OK;
}

/* ---- the two sides of a pass --------------------------------------------------------------- */

static int progress(pcref__run *run, uint64_t done, uint64_t total)
{
	pcref_sync_progress_cb cb = run->s->opt.on_progress;
	if (cb && cb(done, total, run->s->opt.progress_payload) != 0)
		return pcref__error(PCREF_EUSER, "the backfill was stopped by the host after %llu of %llu items; "
		                    "run it again to go on (work done is kept)",
		                    (unsigned long long)done, (unsigned long long)total);
	return PCREF_OK;
}

typedef struct watermark {
	const char *name;
	int64_t ms;
} watermark;

static int watermark_step(pcref_sync *s, const void *arg)
{
	const watermark *w = arg;
	return pcref_store_watermark_set(s->store, w->name, w->ms);
}

static int set_watermark(pcref__run *run, const char *name, int64_t ms)
{
	watermark w = { name, ms };
	if (PCREF__DRY(run) || ms == PCREF_TIME_NONE)
		return PCREF_OK;
	return pcref__sync_transaction(run->s, watermark_step, &w);
}

/* Both sides since `pc_since` / `crm_since` (PCREF_TIME_NONE: everything). */
static int reconcile(pcref__run *run, int64_t pc_since, int64_t crm_since, int backfill)
{
	pcref_sync *s = run->s;
	pcref_referral_query q = PCREF_REFERRAL_QUERY_INIT;
	pc_list pcs = { NULL, 0, 0 };
	crm_list crms;
	char filter[80], when[PCREF__TIME_BUFSZ];
	int64_t pc_newest = PCREF_TIME_NONE, started = pcref__now_ms();
	uint64_t done = 0, total;
	int rc;
	memset(&crms, 0, sizeof(crms));
	crms.s = s;
	crms.newest = PCREF_TIME_NONE;

	/* Partner Center first: what changed there, oldest first */
	if (pc_since != PCREF_TIME_NONE) {
		pcref__time_format(pc_since - s->opt.overlap_ms, when);
		snprintf(filter, sizeof(filter), "updatedDateTime ge %s", when);
		q.filter = filter;
	}
	q.orderby = "updatedDateTime asc";
	if ((rc = pcref_partner_center_list_referrals(s->pc, &q, on_pc, &pcs)) < 0) {
		if (rc == PCREF_EAUTH) /* said as such, not as a data error */
			pcref__error_prefix(rc, "the Partner Center connector is disconnected (R-35)");
		goto done;
	}
	total = pcs.n;
	if (backfill && (rc = progress(run, 0, 0)) < 0)
		goto done;
	for (size_t i = 0; i < pcs.n; i++) {
		if (pcs.items[i].updated != PCREF_TIME_NONE && pcs.items[i].updated > pc_newest)
			pc_newest = pcs.items[i].updated;
		if (!backfill) {
			/* poll: skip what the store has seen at this eTag (echo suppression) */
			pcref__sync_link l;
			int lrc = pcref__sync_link_load(s, pcs.items[i].id, NULL, &l), same = 0;
			if (lrc < 0 && lrc != PCREF_ENOTFOUND) {
				rc = lrc;
				goto done;
			}
			if (lrc == PCREF_OK)
				same = pcref__sync_link_complete(&l) && l.last_code == PCREF_OK && l.referral_etag &&
				       pcs.items[i].etag && strcmp(l.referral_etag, pcs.items[i].etag) == 0;
			pcref__sync_link_dispose(&l);
			if (same) {
				if (run->report)
					run->report->examined++, run->report->unchanged++;
				continue;
			}
		}
		rc = pcref__sync_referral(run, pcs.items[i].id, NULL);
		if (rc < 0 && pcref__sync_fatal(rc))
			goto done;
		rc = PCREF_OK;
		if (backfill && (rc = progress(run, ++done, total)) < 0)
			goto done;
	}
	if ((rc = set_watermark(run, PCREF_SYNC_WATERMARK_PARTNER_CENTER, pc_newest != PCREF_TIME_NONE ? pc_newest : started)) < 0)
		goto done;

	/* then the CRM: records modified since its watermark that may need work;
	 * what this pass just synced is skipped by its stored version */
	crms.fast = 1;
	if ((rc = pcref_crm_list_modified(s->crm, crm_since == PCREF_TIME_NONE ? PCREF_TIME_NONE
	                                                                        : crm_since - s->opt.overlap_ms,
	                                  on_crm, &crms)) < 0) {
		if (rc == PCREF_EAUTH)
			pcref__error_prefix(rc, "the CRM connector is disconnected (R-35)");
		goto done;
	}
	total += crms.n;
	for (size_t i = 0; i < crms.n; i++) {
		const char *id = pcref_opportunity_text(crms.items[i], PCREF_FIELD_ID);
		rc = pcref__sync_opportunity(run, id, crms.items[i]);
		if (rc < 0 && pcref__sync_fatal(rc))
			goto done;
		rc = PCREF_OK;
		if (backfill && (rc = progress(run, ++done, total)) < 0)
			goto done;
	}
	if (run->report)
		run->report->examined += (uint32_t)(crms.seen - crms.n);
	rc = set_watermark(run, PCREF_SYNC_WATERMARK_CRM, crms.newest);
done:
	pc_list_dispose(&pcs);
	crm_list_dispose(&crms);
	return rc;
}

/* ---- public entry points ------------------------------------------------------------------------ */

int pcref_sync_poll(pcref_sync *s, uint32_t flags, pcref_sync_report *report)
{
	pcref__run run;
	int64_t pc_wm, crm_wm, began = pcref__now_ms();
	int rc;
	if ((rc = start(&run, s, flags, report, "pcref_sync_poll")) < 0)
		return rc;
	run.fast = 1;
	if ((rc = pcref_store_watermark_get(s->store, PCREF_SYNC_WATERMARK_PARTNER_CENTER, &pc_wm)) < 0 ||
	    (rc = pcref_store_watermark_get(s->store, PCREF_SYNC_WATERMARK_CRM, &crm_wm)) < 0)
		return rc;
	if ((rc = reconcile(&run, pc_wm, crm_wm, 0)) < 0)
		return rc;
	run.fast = 0;
	if ((rc = drain_retries(&run, began)) < 0)
		return rc;
	if (!PCREF__DRY(&run))
		pcref_store_delivery_prune(s->store, pcref__now_ms() - DELIVERY_KEEP_MS);
	pcref_error_clear();
	return PCREF_OK;
}

int pcref_sync_backfill(pcref_sync *s, uint32_t flags, pcref_sync_report *report)
{
	pcref__run run;
	int rc;
	if ((rc = start(&run, s, flags, report, "pcref_sync_backfill")) < 0)
		return rc;
	if ((rc = reconcile(&run, PCREF_TIME_NONE, PCREF_TIME_NONE, 1)) < 0)
		return rc;
	pcref_error_clear();
	return PCREF_OK;
}

int pcref_sync_referral(pcref_sync *s, const char *referral_id, uint32_t flags, pcref_sync_report *report)
{
	pcref__run run;
	int rc;
	if ((rc = start(&run, s, flags, report, "pcref_sync_referral")) < 0)
		return rc;
	if (!referral_id || !*referral_id)
		return pcref__error(PCREF_EINVALID, "pcref_sync_referral: a referral id is required");
	return pcref__sync_referral(&run, referral_id, NULL);
}

int pcref_sync_opportunity(pcref_sync *s, const char *crm_id, uint32_t flags, pcref_sync_report *report)
{
	pcref__run run;
	int rc;
	if ((rc = start(&run, s, flags, report, "pcref_sync_opportunity")) < 0)
		return rc;
	if (!crm_id || !*crm_id)
		return pcref__error(PCREF_EINVALID, "pcref_sync_opportunity: a CRM id is required");
	return pcref__sync_opportunity(&run, crm_id, NULL);
}

static int is_referral_event(const char *name)
{
	static const char *const events[] = { "referral-created", "referral-updated", "related-referral-created",
	                                      "related-referral-updated" };
	for (size_t i = 0; name && i < sizeof(events) / sizeof(events[0]); i++)
		if (strcmp(name, events[i]) == 0)
			return 1;
	return 0;
}

int pcref_sync_handle_webhook(pcref_sync *s, pcref_webhook_verifier *verifier,
                              const pcref_webhook_delivery *delivery, uint32_t flags, pcref_sync_report *report)
{
	pcref__run run;
	pcref_webhook_event *ev = NULL;
	unsigned char digest[32];
	unsigned int dlen = 0;
	char key[65];
	const char *rid;
	int rc;
	if ((rc = start(&run, s, flags, report, "pcref_sync_handle_webhook")) < 0)
		return rc;
	if (!verifier || !delivery)
		return pcref__error(PCREF_EINVALID, "pcref_sync_handle_webhook: a verifier and the delivery are required");
	rc = pcref_webhook_verify(&ev, verifier, delivery);
	if (rc == PCREF_EREPLAY) {
		pcref_error_clear();
		return PCREF_OK;  /* handled already: answer 200 */
	}
	if (rc < 0)
		return rc;        /* pcref_error_last()->http_status says what to answer */
	if (!is_referral_event(pcref_webhook_event_name(ev)) || !(rid = pcref_webhook_event_referral_id(ev))) {
		pcref_webhook_event_free(ev);
		pcref_error_clear();
		return PCREF_OK;
	}
	/* durable de-duplication, across restarts: the body's SHA-256 */
	if (EVP_Digest(delivery->body, delivery->body_len, digest, &dlen, EVP_sha256(), NULL) != 1 || dlen != 32) {
		pcref_webhook_event_free(ev);
		return pcref__error_nomem();
	}
	for (int i = 0; i < 32; i++)
		snprintf(key + 2 * i, 3, "%02x", digest[i]);
	if (!PCREF__DRY(&run)) {
		if ((rc = pcref_store_begin(s->store)) < 0) {
			pcref_webhook_event_free(ev);
			return rc;
		}
		rc = pcref_store_delivery_record(s->store, key, pcref__now_ms());
		if (rc == PCREF_EEXISTS) {
			pcref_store_rollback(s->store);
			pcref_webhook_event_free(ev);
			pcref_error_clear();
			return PCREF_OK;
		}
		if (rc < 0 || (rc = pcref_store_commit(s->store)) < 0) {
			pcref_store_rollback(s->store);
			pcref_webhook_event_free(ev);
			return rc;
		}
	}
	/* the referral as it is now (webhooks are hints: R-34) */
	rc = pcref__sync_referral(&run, rid, NULL);
	pcref_webhook_event_free(ev);
	if (rc < 0 && pcref__sync_fatal(rc) && rc != PCREF_ENETWORK && rc != PCREF_EAUTH)
		return rc;
	/* item failures are queued for retry: Partner Center need not resend */
	pcref_error_clear();
	return PCREF_OK;
}
