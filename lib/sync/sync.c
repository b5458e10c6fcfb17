/* The sync engine's handle, its options, outcome reporting, and the state it
 * keeps in the store (links, retry queue) and in the CRM's audit field. */
#include <string.h>

#include "sync_internal.h"
#include "../crm/crm_internal.h"
#include "../partnercenter/partnercenter_internal.h"
#include "../store/store_internal.h"

#define DEFAULT_LINK_BASE "https://partner.microsoft.com/dashboard/referrals/v2/leads/"
#define DEFAULT_MAX_ATTEMPTS 8u
#define DEFAULT_RETRY_DELAY_MS 60000
#define DEFAULT_OVERLAP_MS 5000
#define AUDIT_KEEP 8000  /* characters of audit trail kept on the record */

int pcref_sync_report_init(pcref_sync_report *report, unsigned int version)
{
	if (!report)
		return pcref__error(PCREF_EINVALID, "pcref_sync_report_init: report is NULL");
	if (version == 0 || version > PCREF_SYNC_REPORT_VERSION)
		return pcref__error(PCREF_EVERSION, "sync report version %u is not known to libpcref %s",
		                    version, pcref_version_string());
	memset(report, 0, sizeof(*report));
	report->version = version;
	return PCREF_OK;
}

int pcref_sync_options_init(pcref_sync_options *options, unsigned int version)
{
	if (!options)
		return pcref__error(PCREF_EINVALID, "pcref_sync_options_init: options is NULL");
	if (version == 0 || version > PCREF_SYNC_OPTIONS_VERSION)
		return pcref__error(PCREF_EVERSION, "sync options version %u is not known to libpcref %s",
		                    version, pcref_version_string());
	memset(options, 0, sizeof(*options));
	options->version = version;
	return PCREF_OK;
}

static int copy_mapping(pcref_mapping **out, const pcref_mapping *m)
{
	char *json = NULL;
	size_t len = 0;
	int rc = pcref_mapping_to_json(m, &json, &len);
	if (rc == PCREF_OK)
		rc = pcref_mapping_load(out, json, len);
	pcref_free(json);
	return rc;
}

int pcref_sync_new(pcref_sync **out, pcref_partner_center *pc, pcref_crm *crm, const pcref_mapping *mapping,
                   pcref_store *store, const pcref_sync_options *options)
{
	pcref_sync *s;
	int rc;
	if (!out || !pc || !crm || !mapping || !store)
		return pcref__error(PCREF_EINVALID,
			"pcref_sync_new: the Partner Center client, CRM, mapping and store are all required");
	*out = NULL;
	if (options && (options->version == 0 || options->version > PCREF_SYNC_OPTIONS_VERSION))
		return pcref__error(PCREF_EVERSION, "sync options version %u is not known to libpcref %s",
		                    options->version, pcref_version_string());
	if (options && (options->retry_delay_ms < 0 || options->overlap_ms < 0))
		return pcref__error(PCREF_EINVALID, "sync options: retry_delay_ms and overlap_ms must not be negative");
	if (!(s = pcref__calloc(1, sizeof(*s))))
		return pcref__error_nomem();
	if (options)
		s->opt = *options;
	else
		pcref_sync_options_init(&s->opt, PCREF_SYNC_OPTIONS_VERSION);
	s->opt.version = PCREF_SYNC_OPTIONS_VERSION;
	if (!s->opt.retry_max_attempts)
		s->opt.retry_max_attempts = DEFAULT_MAX_ATTEMPTS;
	if (!s->opt.retry_delay_ms)
		s->opt.retry_delay_ms = DEFAULT_RETRY_DELAY_MS;
	if (!s->opt.overlap_ms)
		s->opt.overlap_ms = DEFAULT_OVERLAP_MS;
	if (!(s->link_base = pcref__strdup(s->opt.referral_link_base ? s->opt.referral_link_base
	                                                             : DEFAULT_LINK_BASE))) {
		pcref__dealloc(s);
		return pcref__error_nomem();
	}
	s->opt.referral_link_base = s->link_base;
	if ((rc = copy_mapping(&s->map, mapping)) < 0) {
		pcref__dealloc(s->link_base);
		pcref__dealloc(s);
		return rc;
	}
	s->pc = pcref__partner_center_ref(pc);
	s->crm = pcref__crm_ref(crm);
	s->store = pcref__store_ref(store);
	*out = s;
	return PCREF_OK;
}

void pcref_sync_free(pcref_sync *s)
{
	if (!s)
		return;
	pcref_partner_center_free(s->pc);
	pcref_crm_free(s->crm);
	pcref_store_free(s->store);
	pcref_mapping_free(s->map);
	pcref__dealloc(s->link_base);
	pcref__dealloc(s);
}

/* ---- outcomes ------------------------------------------------------------------ */

void pcref__sync_emit(pcref__run *run, int direction, int action, const char *referral_id, const char *crm_id,
                      const int *fields, size_t nfields, const int *conflicts, size_t nconflicts,
                      const char *changes, int code, const char *message)
{
	pcref_sync_report *r = run->report;
	pcref_sync_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.version = PCREF_SYNC_EVENT_VERSION;
	ev.direction = direction;
	ev.action = action;
	ev.referral_id = referral_id;
	ev.crm_id = crm_id;
	ev.fields = fields;
	ev.nfields = nfields;
	ev.conflicts = conflicts;
	ev.nconflicts = nconflicts;
	ev.changes = changes;
	ev.code = code;
	ev.message = message && *message ? message : NULL;
	ev.flags = run->flags & PCREF_SYNC_DRY_RUN;
	if (r) {
		switch (action) {
		case PCREF_ACTION_NONE: r->unchanged++; break;
		case PCREF_ACTION_CREATE: r->created++; break;
		case PCREF_ACTION_UPDATE: r->updated++; break;
		case PCREF_ACTION_ACCEPT: r->accepted++; break;
		case PCREF_ACTION_DECLINE: r->declined++; break;
		case PCREF_ACTION_CLOSE: r->closed++; break;
		case PCREF_ACTION_LINK: r->linked++; break;
		case PCREF_ACTION_SKIP: r->skipped++; break;
		default: r->failed++;
		}
		r->conflicts += (uint32_t)nconflicts;
	}
	if (run->s->opt.on_event) {
		/* the host's callback must not see (or clobber) our error state */
		run->s->opt.on_event(&ev, run->s->opt.event_payload);
	}
}

int pcref__sync_fatal(int code)
{
	return code == PCREF_EAUTH || code == PCREF_ENETWORK || code == PCREF_ESTORE || code == PCREF_ENOMEM;
}

/* ---- links ---------------------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
	return s ? pcref__strdup(s) : NULL;
}

static int on_link(const pcref_link *l, void *payload)
{
	pcref__sync_link *out = payload;
	memset(out, 0, sizeof(*out));
	out->referral_id = dup_or_null(l->referral_id);
	out->crm_id = dup_or_null(l->crm_id);
	out->base = dup_or_null(l->base);
	out->referral_etag = dup_or_null(l->referral_etag);
	out->crm_version = dup_or_null(l->crm_version);
	out->last_message = dup_or_null(l->last_message);
	out->started_ms = l->started_ms;
	out->synced_ms = l->synced_ms;
	out->last_code = l->last_code;
	out->flags = l->flags;
	if ((l->referral_id && !out->referral_id) || (l->crm_id && !out->crm_id) || (l->base && !out->base) ||
	    (l->referral_etag && !out->referral_etag) || (l->crm_version && !out->crm_version) ||
	    (l->last_message && !out->last_message)) {
		pcref__sync_link_dispose(out);
		return pcref__error_nomem();
	}
	return 0;
}

int pcref__sync_link_load(pcref_sync *s, const char *referral_id, const char *crm_id, pcref__sync_link *out)
{
	int rc;
	memset(out, 0, sizeof(*out));
	rc = pcref_store_link_get(s->store, referral_id, crm_id, on_link, out);
	if (rc == PCREF_ENOTFOUND)
		pcref_error_clear();
	return rc;
}

void pcref__sync_link_dispose(pcref__sync_link *l)
{
	pcref__dealloc(l->referral_id);
	pcref__dealloc(l->crm_id);
	pcref__dealloc(l->base);
	pcref__dealloc(l->referral_etag);
	pcref__dealloc(l->crm_version);
	pcref__dealloc(l->last_message);
	memset(l, 0, sizeof(*l));
}

int pcref__sync_link_complete(const pcref__sync_link *l)
{
	return l->referral_id && l->crm_id && !(l->flags & PCREF_LINK_PENDING);
}

static void to_public(pcref_link *p, const pcref__sync_link *l)
{
	pcref_link_init(p, PCREF_LINK_VERSION);
	p->referral_id = l->referral_id;
	p->crm_id = l->crm_id;
	p->base = l->base;
	p->referral_etag = l->referral_etag;
	p->crm_version = l->crm_version;
	p->started_ms = l->started_ms;
	p->synced_ms = l->synced_ms;
	p->last_code = l->last_code;
	p->last_message = l->last_message;
	p->flags = l->flags;
}

int pcref__sync_transaction(pcref_sync *s, int (*step)(pcref_sync *, const void *), const void *arg)
{
	int rc = pcref_store_begin(s->store);
	if (rc < 0)
		return rc;
	if ((rc = step(s, arg)) < 0 || (rc = pcref_store_commit(s->store)) < 0) {
		pcref_store_rollback(s->store);
		return rc;
	}
	return PCREF_OK;
}

static int save_ok_step(pcref_sync *s, const void *arg)
{
	const pcref__sync_link *l = arg;
	pcref_link p;
	int rc;
	to_public(&p, l);
	if ((rc = pcref_store_link_put(s->store, &p)) < 0)
		return rc;
	if (l->referral_id && (rc = pcref_store_retry_delete(s->store, PCREF_SIDE_PARTNER_CENTER, l->referral_id)) < 0)
		return rc;
	if (l->crm_id && (rc = pcref_store_retry_delete(s->store, PCREF_SIDE_CRM, l->crm_id)) < 0)
		return rc;
	return PCREF_OK;
}

int pcref__sync_link_save_ok(pcref_sync *s, const pcref__sync_link *l)
{
	return pcref__sync_transaction(s, save_ok_step, l);
}

static int save_step(pcref_sync *s, const void *arg)
{
	pcref_link p;
	to_public(&p, arg);
	return pcref_store_link_put(s->store, &p);
}

int pcref__sync_link_save(pcref_sync *s, const pcref__sync_link *l)
{
	return pcref__sync_transaction(s, save_step, l);
}

/* ---- the retry queue (R-34) ---------------------------------------------------------- */

typedef struct failure {
	int side, code;
	const char *id, *message;
	uint32_t attempts;
} failure;

static int on_retry_item(const pcref_retry *item, void *payload)
{
	failure *f = payload;
	if (item->side == f->side && item->id && strcmp(item->id, f->id) == 0)
		f->attempts = item->attempts;
	return 0;
}

static int retry_step(pcref_sync *s, const void *arg)
{
	const failure *f = arg;
	pcref_retry item = PCREF_RETRY_INIT;
	pcref__sync_link l;
	int64_t delay = s->opt.retry_delay_ms;
	int rc;
	item.side = f->side;
	item.id = f->id;
	item.attempts = f->attempts + 1;
	for (uint32_t i = 1; i < item.attempts && delay < 3600000; i++)
		delay *= 2;
	if (delay > 3600000)
		delay = 3600000;
	/* parked after the last attempt: kept (nothing is dropped), shown by
	 * `pcref-sync status`, retried by a backfill or a change */
	item.next_ms = item.attempts >= s->opt.retry_max_attempts ? INT64_MAX : pcref__now_ms() + delay;
	item.last_code = f->code;
	item.last_message = f->message;
	if ((rc = pcref_store_retry_put(s->store, &item)) < 0)
		return rc;
	rc = pcref__sync_link_load(s, f->side == PCREF_SIDE_PARTNER_CENTER ? f->id : NULL,
	                      f->side == PCREF_SIDE_CRM ? f->id : NULL, &l);
	if (rc == PCREF_ENOTFOUND)
		return PCREF_OK;
	if (rc < 0)
		return rc;
	pcref__dealloc(l.last_message);
	l.last_message = NULL;
	l.last_code = f->code;
	{
		pcref_link p;
		to_public(&p, &l);
		p.last_message = f->message;
		rc = pcref_store_link_put(s->store, &p);
	}
	pcref__sync_link_dispose(&l);
	return rc;
}

int pcref__retry_failed(pcref_sync *s, int side, const char *id, int code, const char *message)
{
	failure f = { side, code, id, message, 0 };
	char *msg = dup_or_null(message);
	int rc;
	f.message = msg ? msg : "";
	/* attempts so far: the queue's own count for this item */
	if ((rc = pcref_store_retry_list(s->store, PCREF_TIME_NONE, on_retry_item, &f)) == PCREF_OK)
		rc = pcref__sync_transaction(s, retry_step, &f);
	pcref__dealloc(msg);
	return rc;
}

/* ---- the audit trail --------------------------------------------------------------- */

char *pcref__audit_append(const char *audit, int ok, const char *text)
{
	pcref__buf b = PCREF__BUF_INIT;
	char when[PCREF__TIME_BUFSZ], *out = NULL;
	const char *keep = audit ? audit : "";
	size_t len = strlen(keep);
	if (len > AUDIT_KEEP) {
		/* drop the oldest lines */
		const char *cut = keep + len - AUDIT_KEEP, *nl = strchr(cut, '\n');
		keep = nl ? nl + 1 : cut;
	}
	pcref__time_format(pcref__now_ms() / 1000 * 1000, when);
	pcref__buf_puts(&b, keep);
	if (*keep && keep[strlen(keep) - 1] != '\n')
		pcref__buf_putc(&b, '\n');
	pcref__buf_printf(&b, "%s %s %s", when, ok ? "\xE2\x9C\x94" : "\xE2\x9C\x96", text);
	pcref__buf_detach(&b, &out, NULL);
	return out;
}
