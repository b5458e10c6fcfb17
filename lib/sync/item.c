/* One item: a referral and its CRM record, brought in step — linked,
 * created or merged — with the audit, the store and the outcome reported.
 * Rules are cited by id (connector-behaviour.md). */
#include <math.h>
#include <string.h>

#include "sync_internal.h"
#include "../core/json.h"
#include "../partnercenter/partnercenter_internal.h"

#define MAX_ATTEMPTS 3  /* re-read, re-merge, retry on a stale version */

typedef struct item {
	pcref__run *run;
	pcref_sync *s;
	pcref_referral *ref;       /* owned */
	pcref_opportunity *opp;    /* owned */
	pcref__sync_link link;
	int have_link;
} item;

static void item_dispose(item *it)
{
	pcref_referral_free(it->ref);
	pcref_opportunity_free(it->opp);
	pcref__sync_link_dispose(&it->link);
}

static const char *msg_now(void)
{
	return pcref_error_last()->message;
}

/* ---- describing changes ------------------------------------------------------------- */

static void json_value(pcref__buf *b, const pcref_opportunity *o, int f)
{
	char when[PCREF__TIME_BUFSZ];
	if (!o || !pcref_opportunity_has(o, f)) {
		pcref__buf_puts(b, "null");
		return;
	}
	switch (pcref_opportunity_field_kind(f)) {
	case PCREF_KIND_TEXT: {
		const char *t = pcref_opportunity_text(o, f);
		pcref__json_write_string(b, t, strlen(t));
		break;
	}
	case PCREF_KIND_NUMBER: pcref__buf_printf(b, "%.15g", pcref_opportunity_number(o, f)); break;
	case PCREF_KIND_TIME:
		pcref__time_format(pcref_opportunity_time(o, f), when);
		pcref__buf_printf(b, "\"%s\"", when);
		break;
	default: pcref__buf_puts(b, pcref_opportunity_flag(o, f) == 1 ? "true" : "false");
	}
}

static void json_solutions(pcref__buf *b, const pcref_opportunity *o)
{
	pcref__buf_putc(b, '[');
	for (size_t i = 0, n = o ? pcref_opportunity_solution_count(o) : 0; i < n; i++) {
		const char *id = pcref_opportunity_solution_id(o, i);
		if (i)
			pcref__buf_putc(b, ',');
		pcref__json_write_string(b, id, strlen(id));
	}
	pcref__buf_putc(b, ']');
}

/* {"field": [old, new], ...} for one direction; `lc_from`/`lc_to` add "status". */
static char *describe(const int *fields, size_t n, int solutions, const pcref_opportunity *before,
                      const pcref_opportunity *after, int lc_from, int lc_to)
{
	pcref__buf b = PCREF__BUF_INIT;
	char *out = NULL;
	int first = 1;
	pcref__buf_putc(&b, '{');
	for (size_t i = 0; i < n; i++) {
		pcref__buf_printf(&b, "%s\"%s\":[", first ? "" : ",", pcref_opportunity_field_name(fields[i]));
		json_value(&b, before, fields[i]);
		pcref__buf_putc(&b, ',');
		json_value(&b, after, fields[i]);
		pcref__buf_putc(&b, ']');
		first = 0;
	}
	if (solutions) {
		pcref__buf_printf(&b, "%s\"solutions\":[", first ? "" : ",");
		json_solutions(&b, before);
		pcref__buf_putc(&b, ',');
		json_solutions(&b, after);
		pcref__buf_putc(&b, ']');
		first = 0;
	}
	if (lc_to != PCREF__LC_NONE)
		pcref__buf_printf(&b, "%s\"status\":[\"%s\",\"%s\"]", first ? "" : ",", pcref__lc_name(lc_from),
		                  pcref__lc_name(lc_to));
	pcref__buf_putc(&b, '}');
	pcref__buf_detach(&b, &out, NULL);
	return out;
}

/* "deal_value, close_date" */
static void field_list(pcref__buf *b, const int *fields, size_t n, int solutions)
{
	for (size_t i = 0; i < n; i++)
		pcref__buf_printf(b, "%s%s", i ? ", " : "", pcref_opportunity_field_name(fields[i]));
	if (solutions)
		pcref__buf_printf(b, "%ssolutions", n ? ", " : "");
}

/* ---- reading ------------------------------------------------------------------------- */

static int read_referral(item *it, const char *id)
{
	pcref_referral_free(it->ref);
	it->ref = NULL;
	return pcref_partner_center_get_referral(&it->ref, it->s->pc, id);
}

static int read_opportunity(item *it, const char *id)
{
	pcref_opportunity_free(it->opp);
	it->opp = NULL;
	return pcref_crm_get_opportunity(&it->opp, it->s->crm, id);
}

static int base_of(item *it, pcref_opportunity **base)
{
	int rc;
	if (!it->link.base)
		return pcref__error(PCREF_ESTORE, "the link of referral %s has no merge base: run a backfill",
		                    it->link.referral_id ? it->link.referral_id : "?");
	if ((rc = pcref_opportunity_from_json(base, it->link.base, strlen(it->link.base))) < 0)
		return pcref__error_prefix(PCREF_ESTORE, "the stored merge base of referral %s",
		                           it->link.referral_id ? it->link.referral_id : "?");
	return PCREF_OK;
}

static int set_base(pcref__sync_link *l, const pcref_opportunity *canon)
{
	char *json = NULL;
	int rc = pcref_opportunity_to_json(canon, &json, NULL);
	if (rc < 0)
		return rc;
	pcref__dealloc(l->base);
	l->base = pcref__strdup(json);
	pcref_free(json);
	return l->base ? PCREF_OK : pcref__error_nomem();
}

static int set_str(char **slot, const char *value)
{
	char *copy = value ? pcref__strdup(value) : NULL;
	if (value && !copy)
		return pcref__error_nomem();
	pcref__dealloc(*slot);
	*slot = copy;
	return PCREF_OK;
}

/* Remember both sides as they are now (after a step's writes). */
static int link_from(item *it)
{
	int rc;
	if ((rc = set_str(&it->link.referral_id, pcref_referral_id(it->ref))) < 0 ||
	    (rc = set_str(&it->link.crm_id, pcref_opportunity_text(it->opp, PCREF_FIELD_ID))) < 0 ||
	    (rc = set_str(&it->link.referral_etag, pcref_referral_etag(it->ref))) < 0 ||
	    (rc = set_str(&it->link.crm_version, pcref_opportunity_text(it->opp, PCREF_FIELD_VERSION))) < 0 ||
	    (rc = set_str(&it->link.last_message, NULL)) < 0)
		return rc;
	it->link.flags &= ~PCREF_LINK_PENDING;
	if (pcref_opportunity_flag(it->opp, PCREF_FIELD_IS_LEAD) == 1)
		it->link.flags |= PCREF_LINK_LEAD;
	it->link.last_code = PCREF_OK;
	it->link.started_ms = PCREF_TIME_NONE;
	it->link.synced_ms = pcref__now_ms();
	it->have_link = 1;
	return PCREF_OK;
}

/* ---- failures --------------------------------------------------------------------------- */

/* Best effort: the audit line and ✖ on the CRM record. */
static void audit_failure(item *it, const char *text)
{
	pcref_opportunity *upd = NULL, *stored = NULL;
	const pcref_mapping *m = it->s->map;
	char *audit = NULL, *name = NULL, *plain = NULL;
	int fields[2];
	size_t n = 0;
	if (!it->opp || PCREF__DRY(it->run) || pcref_opportunity_flag(it->opp, PCREF_FIELD_IS_LEAD) == 1 ||
	    pcref__lc_terminal(pcref__lc_of_opportunity(it->opp, m, 0)))
		return;  /* closed records are read-only */
	if (pcref_opportunity_new(&upd) < 0)
		return;
	pcref_opportunity_set_text(upd, PCREF_FIELD_ID, pcref_opportunity_text(it->opp, PCREF_FIELD_ID));
	pcref_opportunity_set_text(upd, PCREF_FIELD_VERSION, pcref_opportunity_text(it->opp, PCREF_FIELD_VERSION));
	if ((audit = pcref__audit_append(pcref_opportunity_text(it->opp, PCREF_FIELD_AUDIT), 0, text)) &&
	    pcref_opportunity_set_text(upd, PCREF_FIELD_AUDIT, audit) == PCREF_OK)
		fields[n++] = PCREF_FIELD_AUDIT;
	if (pcref_mapping_option(m, PCREF_OPTION_CHECK_MARK) == 1 &&
	    (plain = pcref__name_unmarked(pcref_opportunity_text(it->opp, PCREF_FIELD_NAME))) &&
	    (name = pcref__name_marked(plain, 0)) &&
	    strcmp(name, pcref_opportunity_text(it->opp, PCREF_FIELD_NAME) ? pcref_opportunity_text(it->opp, PCREF_FIELD_NAME) : "") != 0 &&
	    pcref_opportunity_set_text(upd, PCREF_FIELD_NAME, name) == PCREF_OK)
		fields[n++] = PCREF_FIELD_NAME;
	if (n && pcref_crm_update_opportunity(&stored, it->s->crm, upd, fields, n) == PCREF_OK) {
		pcref_opportunity_free(it->opp);
		it->opp = stored;
		stored = NULL;
		/* our own audit write is not a change to sync back */
		if (it->have_link)
			set_str(&it->link.crm_version, pcref_opportunity_text(it->opp, PCREF_FIELD_VERSION));
	}
	pcref_opportunity_free(stored);
	pcref_opportunity_free(upd);
	pcref__dealloc(audit);
	pcref__dealloc(name);
	pcref__dealloc(plain);
}

/* A failed attempt: reported, audited, queued for retry, credentials
 * problems named as such. Returns `code`, with its message kept. */
static int fail(item *it, int direction, int code, int queue)
{
	pcref__buf text = PCREF__BUF_INIT;
	char *message = NULL;
	const char *ref_id = it->ref ? pcref_referral_id(it->ref) : it->link.referral_id;
	const char *crm_id = it->opp ? pcref_opportunity_text(it->opp, PCREF_FIELD_ID) : it->link.crm_id;
	int status = pcref_error_last()->http_status;
	if (code == PCREF_EAUTH)
		pcref__buf_puts(&text, "connector disconnected: ");
	pcref__buf_puts(&text, msg_now());
	pcref__buf_detach(&text, &message, NULL);
	audit_failure(it, message ? message : "sync failed");
	if (!PCREF__DRY(it->run) && queue) {
		int side = direction == PCREF_DIRECTION_TO_CRM ? PCREF_SIDE_PARTNER_CENTER : PCREF_SIDE_CRM;
		const char *id = side == PCREF_SIDE_PARTNER_CENTER ? ref_id : crm_id;
		if (!id) {
			side = side == PCREF_SIDE_CRM ? PCREF_SIDE_PARTNER_CENTER : PCREF_SIDE_CRM;
			id = side == PCREF_SIDE_PARTNER_CENTER ? ref_id : crm_id;
		}
		if (id && pcref__retry_failed(it->s, side, id, code, message ? message : "") < 0 &&
		    pcref_error_last()->code == PCREF_ESTORE)
			code = PCREF_ESTORE;
	}
	pcref__sync_emit(it->run, direction, PCREF_ACTION_FAIL, ref_id, crm_id, NULL, 0, NULL, 0, NULL, code, message);
	if (code != PCREF_ESTORE) /* the item's own error, as the caller should see it */
		pcref__error_http(code, status, NULL, NULL, "%s", message ? message : pcref_strerror(code));
	pcref__dealloc(message);
	return code;
}

/* A refusal by rule: reported (and audited on the record when there is one). */
static int skip(item *it, int direction, const char *why, int audit)
{
	const char *ref_id = it->ref ? pcref_referral_id(it->ref) : it->link.referral_id;
	const char *crm_id = it->opp ? pcref_opportunity_text(it->opp, PCREF_FIELD_ID) : it->link.crm_id;
	if (audit)
		audit_failure(it, why);
	pcref__sync_emit(it->run, direction, PCREF_ACTION_SKIP, ref_id, crm_id, NULL, 0, NULL, 0, NULL, PCREF_OK, why);
	return PCREF_OK;
}

/* ---- writing a merge ------------------------------------------------------------------------ */

static int crm_lc(item *it, const pcref_opportunity *base)
{
	return pcref__lc_of_opportunity(it->opp, it->s->map, pcref__canon_lc(base) == PCREF__LC_PENDING);
}

/* The Partner Center side of a merge: one PATCH with If-Match. */
static int write_pc(item *it, const pcref__merge *mg)
{
	pcref_referral *changed = NULL, *stored = NULL;
	int rc;
	if ((rc = pcref_referral_dup(&changed, it->ref)) < 0)
		return rc;
	for (size_t i = 0; i < mg->n_to_pc && rc == PCREF_OK; i++)
		rc = pcref__referral_set_canon(changed, mg->result, mg->to_pc[i]);
	if (rc == PCREF_OK && mg->solutions_to_pc)
		rc = pcref__referral_set_canon(changed, mg->result, -1);
	for (size_t i = 0; i < mg->n_extra_to_pc && rc == PCREF_OK; i++) {
		const pcref_mapping *m = it->s->map;
		for (size_t j = 0, n = pcref_mapping_extra_count(m); j < n && rc == PCREF_OK; j++) {
			char *json = NULL;
			if (strcmp(pcref_mapping_extra_crm(m, j), mg->extra_to_pc[i]) != 0)
				continue;
			if (pcref_opportunity_extra_get(mg->result, mg->extra_to_pc[i], &json) == PCREF_OK)
				rc = pcref_referral_set_json(changed, pcref_mapping_extra_referral(m, j), json, strlen(json));
			else
				pcref_error_clear();
			pcref_free(json);
		}
	}
	if (rc == PCREF_OK && mg->lc_to_pc != PCREF__LC_NONE) {
		const char *reason = pcref_opportunity_text(it->opp, PCREF_FIELD_CLOSE_REASON);
		if (!reason && (mg->lc_to_pc == PCREF__LC_LOST || mg->lc_to_pc == PCREF__LC_DECLINED))
			reason = mg->lc_to_pc == PCREF__LC_DECLINED ? "Declined in the CRM" : "Lost in the CRM";
		rc = pcref__referral_set_lc(changed, mg->lc_to_pc, reason);
	}
	if (rc == PCREF_OK)
		rc = pcref_partner_center_apply(&stored, it->s->pc, it->ref, changed);
	pcref_referral_free(changed);
	if (rc == PCREF_OK) {
		pcref_referral_free(it->ref);
		it->ref = stored;
	}
	return rc;
}

/* The CRM side of a merge: one update (fields, stage, audit, mark), then
 * the solution links and the close operation when needed. */
static int write_crm(item *it, const pcref__merge *mg, const pcref_opportunity *base, const char *audit_text)
{
	const pcref_mapping *m = it->s->map;
	pcref_opportunity *upd = NULL, *stored = NULL;
	char *id = pcref__strdup(pcref_opportunity_text(it->opp, PCREF_FIELD_ID) ? pcref_opportunity_text(it->opp, PCREF_FIELD_ID) : "");
	int lead = pcref_opportunity_flag(it->opp, PCREF_FIELD_IS_LEAD) == 1;
	int fields[PCREF__MAX_FIELDS + 4];
	size_t n = 0;
	char *audit = NULL, *name = NULL;
	int rc, reread = 0;
	if (!id)
		return pcref__error_nomem();
	if (!lead && pcref__lc_terminal(pcref__lc_of_opportunity(it->opp, m, 0))) {
		/* won and lost records are read-only in the CRM (Dynamics refuses
		 * edits until reactivated): the outcome is in the event, not the audit */
		pcref__dealloc(id);
		return PCREF_OK;
	}
	if ((rc = pcref_opportunity_new(&upd)) < 0) {
		pcref__dealloc(id);
		return rc;
	}
	if ((rc = pcref_opportunity_set_text(upd, PCREF_FIELD_ID, id)) < 0 ||
	    (rc = pcref_opportunity_set_text(upd, PCREF_FIELD_VERSION,
	                                     pcref_opportunity_text(it->opp, PCREF_FIELD_VERSION))) < 0)
		goto done;
	for (size_t i = 0; i < mg->n_to_crm && rc == PCREF_OK; i++) {
		if (mg->to_crm[i] == PCREF_FIELD_NAME)
			continue; /* below, with its mark */
		if ((rc = pcref__opportunity_copy_field(upd, mg->result, mg->to_crm[i])) == PCREF_OK)
			fields[n++] = mg->to_crm[i];
	}
	if (rc < 0)
		goto done;
	/* Partner Center accepted a referral still on hold here */
	if (!lead && mg->lc_to_crm == PCREF__LC_ACTIVE && crm_lc(it, base) == PCREF__LC_PENDING) {
		if ((rc = pcref_opportunity_set_text(upd, PCREF_FIELD_STAGE,
		                                     pcref_mapping_stage(m, PCREF_STAGE_ACTIVE))) < 0)
			goto done;
		fields[n++] = PCREF_FIELD_STAGE;
	}
	if (!lead) {
		const char *now = pcref_opportunity_text(it->opp, PCREF_FIELD_NAME);
		const char *want = pcref_opportunity_text(mg->result, PCREF_FIELD_NAME);
		char *plain = pcref__name_unmarked(want ? want : now ? now : "");
		if (!plain) {
			rc = pcref__error_nomem();
			goto done;
		}
		if (pcref_mapping_option(m, PCREF_OPTION_CHECK_MARK) == 1) /* */
			name = pcref__name_marked(plain, 1);
		else
			name = pcref__strdup(plain);
		pcref__dealloc(plain);
		if (!name) {
			rc = pcref__error_nomem();
			goto done;
		}
		if (!now || strcmp(now, name) != 0) {
			if ((rc = pcref_opportunity_set_text(upd, PCREF_FIELD_NAME, name)) < 0)
				goto done;
			fields[n++] = PCREF_FIELD_NAME;
		}
		/* every attempt leaves a line */
		if (!(audit = pcref__audit_append(pcref_opportunity_text(it->opp, PCREF_FIELD_AUDIT), 1, audit_text))) {
			rc = pcref__error_nomem();
			goto done;
		}
		if ((rc = pcref_opportunity_set_text(upd, PCREF_FIELD_AUDIT, audit)) < 0)
			goto done;
		fields[n++] = PCREF_FIELD_AUDIT;
	} else {
		for (size_t i = 0; i < mg->n_to_crm; i++)
			if (mg->to_crm[i] == PCREF_FIELD_NAME &&
			    (rc = pcref__opportunity_copy_field(upd, mg->result, PCREF_FIELD_NAME)) == PCREF_OK)
				fields[n++] = PCREF_FIELD_NAME;
	}
	for (size_t i = 0; i < mg->n_extra_to_crm && rc == PCREF_OK; i++) {
		char *json = NULL;
		if (pcref_opportunity_extra_get(mg->result, mg->extra_to_crm[i], &json) == PCREF_OK)
			rc = pcref_opportunity_extra_set(upd, mg->extra_to_crm[i], json, strlen(json));
		else
			pcref_error_clear();
		pcref_free(json);
	}
	if (rc < 0)
		goto done;
	rc = lead ? pcref_crm_update_lead(&stored, it->s->crm, upd, fields, n)
	          : pcref_crm_update_opportunity(&stored, it->s->crm, upd, fields, n);
	if (rc < 0)
		goto done;
	pcref_opportunity_free(it->opp);
	it->opp = stored;
	stored = NULL;
	if (mg->solutions_to_crm && !lead) {  /* */
		for (size_t i = 0, k = pcref_opportunity_solution_count(mg->result); i < k && rc == PCREF_OK; i++) {
			const char *sid = pcref_opportunity_solution_id(mg->result, i);
			int have = 0;
			for (size_t j = 0, h = pcref_opportunity_solution_count(it->opp); j < h; j++)
				have |= strcmp(pcref_opportunity_solution_id(it->opp, j), sid) == 0;
			if (!have)
				rc = pcref_crm_add_solution(it->s->crm, id, sid, pcref_opportunity_solution_name(mg->result, i));
			reread = 1;
		}
		for (size_t j = 0, h = pcref_opportunity_solution_count(it->opp); j < h && rc == PCREF_OK; j++) {
			const char *sid = pcref_opportunity_solution_id(it->opp, j);
			int keep = 0;
			for (size_t i = 0, k = pcref_opportunity_solution_count(mg->result); i < k; i++)
				keep |= strcmp(pcref_opportunity_solution_id(mg->result, i), sid) == 0;
			if (!keep) {
				rc = pcref_crm_remove_solution(it->s->crm, id, sid);
				reread = 1;
			}
		}
	}
	if (rc == PCREF_OK && !lead && pcref__lc_terminal(mg->lc_to_crm) &&
	    !pcref__lc_terminal(pcref__lc_of_opportunity(it->opp, m, 0))) {
		/* won/lost through the CRM's own close operation */
		rc = pcref_crm_close_opportunity(it->s->crm, id, mg->lc_to_crm == PCREF__LC_WON,
		                                 pcref_referral_status_reason(it->ref));
		reread = 1;
	}
	if (rc == PCREF_OK && reread)
		rc = read_opportunity(it, id);
done:
	pcref__dealloc(id);
	pcref__dealloc(audit);
	pcref__dealloc(name);
	pcref_opportunity_free(upd);
	pcref_opportunity_free(stored);
	return rc;
}

static int pc_action(int lc_to)
{
	switch (lc_to) {
	case PCREF__LC_ACTIVE: return PCREF_ACTION_ACCEPT;
	case PCREF__LC_DECLINED: return PCREF_ACTION_DECLINE;
	case PCREF__LC_WON:
	case PCREF__LC_LOST: return PCREF_ACTION_CLOSE;
	default: return PCREF_ACTION_UPDATE;
	}
}

static int crm_action(int lc_to)
{
	if (pcref__lc_terminal(lc_to))
		return PCREF_ACTION_CLOSE;
	return lc_to == PCREF__LC_ACTIVE ? PCREF_ACTION_ACCEPT : PCREF_ACTION_UPDATE;
}

static const char *action_verb(int action)
{
	switch (action) {
	case PCREF_ACTION_ACCEPT: return "accepted";
	case PCREF_ACTION_DECLINE: return "declined";
	case PCREF_ACTION_CLOSE: return "closed";
	default: return "updated";
	}
}

static int write_back_link(item *it, const char *verb);

/* Merge the two records of a link against its base, write what differs,
 * keep the new base. Stale versions: re-read, re-merge, retry. `origin`:
 * the records were just found by the linkage keys (a first link). */
static int merge_and_write(item *it, pcref_opportunity *base, int origin)
{
	pcref__run *run = it->run;
	const char *linked = pcref_opportunity_text(it->opp, PCREF_FIELD_REFERRAL_ID);
	int rc = PCREF_OK;
	if (origin && !PCREF__DRY(run) && pcref_opportunity_flag(it->opp, PCREF_FIELD_IS_LEAD) != 1 &&
	    (!linked || strcmp(linked, pcref_referral_id(it->ref)) != 0)) {
		/* the CRM side of the linkage was not written: write it now */
		if ((rc = write_back_link(it, "linked to")) < 0)
			return fail(it, PCREF_DIRECTION_TO_CRM, rc, 1);
	}
	for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
		pcref_opportunity *pcc = NULL, *crc = NULL;
		pcref__merge mg;
		pcref__buf text = PCREF__BUF_INIT;
		char *pc_changes = NULL, *crm_changes = NULL, *audit_text = NULL;
		int pl = pcref__lc_of_referral(it->ref), lead = pcref_opportunity_flag(it->opp, PCREF_FIELD_IS_LEAD) == 1;
		int base_lc = pcref__canon_lc(base);
		int cl;
		if ((rc = pcref__canon_of_referral(&pcc, it->ref, it->s->map)) < 0 ||
		    (rc = pcref__canon_of_opportunity(&crc, it->opp, it->s->map, base_lc == PCREF__LC_PENDING)) < 0) {
			pcref_opportunity_free(pcc);
			return fail(it, PCREF_DIRECTION_TO_CRM, rc, 1);
		}
		/* leads follow Partner Center one way: their lifecycle is the seller's */
		if (lead && (rc = pcref__canon_set_lc(crc, pl)) < 0) {
			pcref_opportunity_free(pcc);
			pcref_opportunity_free(crc);
			return fail(it, PCREF_DIRECTION_TO_CRM, rc, 1);
		}
		cl = pcref__canon_lc(crc);
		rc = pcref__merge_run(&mg, pcc, crc, base, it->s->map, pcref_referral_updated_time(it->ref),
		                      pcref_opportunity_time(it->opp, PCREF_FIELD_MODIFIED_TIME));
		if (rc == PCREF_OK && lead) {
			mg.n_to_pc = 0;
			mg.solutions_to_pc = mg.solutions_to_crm = 0;
			mg.n_extra_to_pc = 0;
			mg.lc_to_pc = mg.lc_to_crm = PCREF__LC_NONE;
		}
		pcref_opportunity_free(pcc);
		pcref_opportunity_free(crc);
		if (rc < 0)
			return fail(it, PCREF_DIRECTION_TO_CRM, rc, 1);

		if (pcref__merge_empty(&mg)) {
			const char *note = mg.notes.len ? mg.notes.data : NULL;
			int changed_base = 0;
			char *json = NULL;
			if (mg.refused && !PCREF__DRY(run))
				audit_failure(it, note);  /* the seller sees why */
			if (pcref_opportunity_to_json(mg.result, &json, NULL) == PCREF_OK)
				changed_base = !it->link.base || strcmp(json, it->link.base) != 0;
			pcref_free(json);
			if (!PCREF__DRY(run) &&
			    (changed_base || it->link.last_code != PCREF_OK ||
			     !it->link.referral_etag || strcmp(it->link.referral_etag, pcref_referral_etag(it->ref) ? pcref_referral_etag(it->ref) : "") != 0 ||
			     !it->link.crm_version ||
			     strcmp(it->link.crm_version, pcref_opportunity_text(it->opp, PCREF_FIELD_VERSION) ? pcref_opportunity_text(it->opp, PCREF_FIELD_VERSION) : "") != 0 ||
			     origin)) {
				if ((rc = set_base(&it->link, mg.result)) < 0 || (rc = link_from(it)) < 0 ||
				    (rc = pcref__sync_link_save_ok(it->s, &it->link)) < 0) {
					pcref__merge_dispose(&mg);
					return rc;
				}
			}
			if (origin)
				pcref__sync_emit(run, PCREF_DIRECTION_TO_CRM, PCREF_ACTION_LINK, pcref_referral_id(it->ref),
				                 pcref_opportunity_text(it->opp, PCREF_FIELD_ID), NULL, 0, NULL, 0, NULL, PCREF_OK,
				                 "found by the linkage keys and linked");
			else if (note)
				pcref__sync_emit(run, PCREF_DIRECTION_TO_PC, PCREF_ACTION_SKIP, pcref_referral_id(it->ref),
				                 pcref_opportunity_text(it->opp, PCREF_FIELD_ID), NULL, 0, mg.conflicts,
				                 mg.n_conflicts, NULL, PCREF_OK, note);
			else
				pcref__sync_emit(run, PCREF_DIRECTION_TO_CRM, PCREF_ACTION_NONE, pcref_referral_id(it->ref),
				                 pcref_opportunity_text(it->opp, PCREF_FIELD_ID), NULL, 0, NULL, 0, NULL,
				                 PCREF_OK, NULL);
			pcref__merge_dispose(&mg);
			return PCREF_OK;
		}

		pc_changes = describe(mg.to_pc, mg.n_to_pc, mg.solutions_to_pc, base, mg.result, pl, mg.lc_to_pc);
		crm_changes = describe(mg.to_crm, mg.n_to_crm, mg.solutions_to_crm, base, mg.result, cl, mg.lc_to_crm);
		/* the audit line: what happened, both ways */
		if (mg.n_to_pc || mg.solutions_to_pc || mg.n_extra_to_pc || mg.lc_to_pc != PCREF__LC_NONE) {
			pcref__buf_printf(&text, "CRM \xE2\x86\x92 Partner Center: %s ", action_verb(pc_action(mg.lc_to_pc)));
			field_list(&text, mg.to_pc, mg.n_to_pc, mg.solutions_to_pc);
			pcref__buf_puts(&text, "; ");
		}
		if (mg.n_to_crm || mg.solutions_to_crm || mg.n_extra_to_crm || mg.lc_to_crm != PCREF__LC_NONE) {
			pcref__buf_printf(&text, "Partner Center \xE2\x86\x92 CRM: %s ", action_verb(crm_action(mg.lc_to_crm)));
			field_list(&text, mg.to_crm, mg.n_to_crm, mg.solutions_to_crm);
			pcref__buf_puts(&text, "; ");
		}
		if (mg.notes.len)
			pcref__buf_puts(&text, mg.notes.data);
		pcref__buf_printf(&text, "(referral %s)", pcref_referral_id(it->ref));
		pcref__buf_detach(&text, &audit_text, NULL);

		if (!PCREF__DRY(run)) {
			if (mg.n_to_pc || mg.solutions_to_pc || mg.n_extra_to_pc || mg.lc_to_pc != PCREF__LC_NONE)
				rc = write_pc(it, &mg);
			if (rc == PCREF_OK)
				rc = write_crm(it, &mg, base, audit_text ? audit_text : "synced");
			if (rc == PCREF_ECONFLICT && attempt + 1 < MAX_ATTEMPTS) {
				/* someone wrote in between: read both again and merge again */
				const char *rid = pcref_referral_id(it->ref);
				char *crm_id = pcref__strdup(pcref_opportunity_text(it->opp, PCREF_FIELD_ID));
				char *ref_id = rid ? pcref__strdup(rid) : NULL;
				pcref_error_clear();
				rc = crm_id && ref_id ? read_referral(it, ref_id) : pcref__error_nomem();
				if (rc == PCREF_OK)
					rc = read_opportunity(it, crm_id);
				pcref__dealloc(crm_id);
				pcref__dealloc(ref_id);
				pcref__dealloc(pc_changes);
				pcref__dealloc(crm_changes);
				pcref__dealloc(audit_text);
				pcref__merge_dispose(&mg);
				if (rc < 0)
					return fail(it, PCREF_DIRECTION_TO_CRM, rc, 1);
				continue;
			}
			if (rc == PCREF_OK && (rc = set_base(&it->link, mg.result)) == PCREF_OK &&
			    (rc = link_from(it)) == PCREF_OK)
				rc = pcref__sync_link_save_ok(it->s, &it->link);
		}
		if (rc < 0) {
			int dir = mg.n_to_pc || mg.lc_to_pc != PCREF__LC_NONE ? PCREF_DIRECTION_TO_PC : PCREF_DIRECTION_TO_CRM;
			pcref__dealloc(pc_changes);
			pcref__dealloc(crm_changes);
			pcref__dealloc(audit_text);
			pcref__merge_dispose(&mg);
			return fail(it, dir, rc, 1);
		}
		if (mg.n_to_pc || mg.solutions_to_pc || mg.n_extra_to_pc || mg.lc_to_pc != PCREF__LC_NONE)
			pcref__sync_emit(run, PCREF_DIRECTION_TO_PC, pc_action(mg.lc_to_pc), pcref_referral_id(it->ref),
			                 pcref_opportunity_text(it->opp, PCREF_FIELD_ID), mg.to_pc, mg.n_to_pc, mg.conflicts,
			                 mg.n_conflicts, pc_changes, PCREF_OK, mg.notes.len ? mg.notes.data : NULL);
		if (mg.n_to_crm || mg.solutions_to_crm || mg.n_extra_to_crm || mg.lc_to_crm != PCREF__LC_NONE)
			pcref__sync_emit(run, PCREF_DIRECTION_TO_CRM, crm_action(mg.lc_to_crm), pcref_referral_id(it->ref),
			                 pcref_opportunity_text(it->opp, PCREF_FIELD_ID), mg.to_crm, mg.n_to_crm,
			                 mg.n_to_pc ? NULL : mg.conflicts, mg.n_to_pc ? 0 : mg.n_conflicts, crm_changes,
			                 PCREF_OK, mg.notes.len ? mg.notes.data : NULL);
		pcref__dealloc(pc_changes);
		pcref__dealloc(crm_changes);
		pcref__dealloc(audit_text);
		pcref__merge_dispose(&mg);
		return PCREF_OK;
	}
	return rc;
}

/* ---- Partner Center → CRM: a referral with no CRM record yet ------------------------------------ */

/* leads are Microsoft's Independent, incoming referrals (marketplace
 * and qualified leads); everything else is a co-sell or partner-led deal. */
static int referral_is_lead(const pcref_referral *r)
{
	const char *type = pcref_referral_type(r), *dir = pcref_referral_direction(r);
	const char *by = pcref_referral_invited_by_organization_id(r);
	if (!type || strcmp(type, "Independent") != 0)
		return 0;
	if (dir && strcmp(dir, "Outgoing") == 0)
		return 0;
	return !by || strcmp(by, "msft") == 0 || strcmp(by, "Microsoft") == 0;
}

static int create_in_crm(item *it)
{
	pcref__run *run = it->run;
	pcref_sync *s = it->s;
	const pcref_referral *r = it->ref;
	pcref_opportunity *o = NULL, *created = NULL, *base = NULL;
	const char *owner = NULL;
	pcref__buf note = PCREF__BUF_INIT;
	char *audit = NULL, *name = NULL, *changes = NULL;
	int lc = pcref__lc_of_referral(r), lead = referral_is_lead(r), rc;
	char why[256];
	if (pcref__lc_terminal(lc)) {
		snprintf(why, sizeof(why), "the referral was never synced and is already %s in Partner Center: "
		         "it is not created in the CRM (R-25)", pcref__lc_name(lc));
		return skip(it, PCREF_DIRECTION_TO_CRM, why, 0);
	}
	if (lead && pcref_mapping_option(s->map, PCREF_OPTION_SYNC_COSELL_ONLY) == 1)
		return skip(it, PCREF_DIRECTION_TO_CRM, "a lead, and the mapping syncs co-sell opportunities only "
		            "(R-22): turn sync_cosell_only off to bring leads", 0);
	if ((rc = pcref__opportunity_of_referral(&o, r, s->map, s->link_base, lead)) < 0)
		return fail(it, PCREF_DIRECTION_TO_CRM, rc, 1);
	/* what must exist in the CRM — a missing currency stops the create */
	if (pcref_opportunity_has(o, PCREF_FIELD_CURRENCY) &&
	    (rc = pcref_crm_resolve_currency(s->crm, pcref_opportunity_text(o, PCREF_FIELD_CURRENCY))) < 0 &&
	    rc != PCREF_ENOTSUPPORTED)
		goto failed;
	if (pcref_referral_member_count(r, PCREF_MEMBERS_PARTNER) > 0)
		owner = pcref_referral_member_email(r, PCREF_MEMBERS_PARTNER, 0);
	if (owner) {
		rc = pcref_crm_resolve_user(s->crm, owner);
		if (rc == PCREF_OK) {
			if ((rc = pcref_opportunity_set_text(o, PCREF_FIELD_OWNER_EMAIL, owner)) < 0)
				goto failed;
		} else if (rc == PCREF_ENOTFOUND) {
			/* said plainly in the audit, not dropped */
			pcref__buf_printf(&note, "; the referral's team member %s is not a CRM user (R-29): the record "
			                  "keeps the CRM's default owner — add the user to assign it", owner);
			pcref_error_clear();
		} else if (rc != PCREF_ENOTSUPPORTED) {
			goto failed;
		}
	}
	if (PCREF__DRY(run)) {
		changes = describe(pcref__merge_fields, pcref__merge_field_count, 1, NULL, o, PCREF__LC_NONE, lc);
		pcref__sync_emit(run, PCREF_DIRECTION_TO_CRM, PCREF_ACTION_CREATE, pcref_referral_id(r), NULL, NULL, 0,
		                 NULL, 0, changes, PCREF_OK, note.len ? note.data + 2 : NULL);
		rc = PCREF_OK;
		goto done;
	}
	/* the customer's account, found by the match keys or created */
	{
		int match[8];
		size_t nmatch = 0;
		for (size_t i = 0, n = pcref_mapping_account_match_count(s->map); i < n && nmatch < 8; i++)
			match[nmatch++] = pcref_mapping_account_match(s->map, i);
		if (!lead && pcref_opportunity_has(o, PCREF_FIELD_ACCOUNT_NAME) &&
		    (rc = pcref_crm_ensure_account(s->crm, o, match, nmatch)) < 0 && rc != PCREF_ENOTSUPPORTED)
			goto failed;
	}
	if (!lead && (pcref_opportunity_has(o, PCREF_FIELD_CONTACT_EMAIL) ||
	              pcref_opportunity_has(o, PCREF_FIELD_CONTACT_LAST_NAME)) &&
	    (rc = pcref_crm_ensure_contact(s->crm, o)) < 0 && rc != PCREF_ENOTSUPPORTED)
		goto failed;
	pcref_error_clear();
	{
		pcref__buf line = PCREF__BUF_INIT;
		char *text = NULL;
		pcref__buf_printf(&line, "created from Partner Center referral %s (%s/%s)%s", pcref_referral_id(r),
		                  pcref_referral_status(r) ? pcref_referral_status(r) : "?",
		                  pcref_referral_substatus(r) ? pcref_referral_substatus(r) : "?",
		                  note.len ? note.data : "");
		pcref__buf_detach(&line, &text, NULL);
		audit = pcref__audit_append(NULL, 1, text ? text : "created");
		pcref__dealloc(text);
	}
	if (!lead) {
		if (!audit || (rc = pcref_opportunity_set_text(o, PCREF_FIELD_AUDIT, audit)) < 0)
			goto failed_nomem;
		if (pcref_mapping_option(s->map, PCREF_OPTION_CHECK_MARK) == 1) {
			if (!(name = pcref__name_marked(pcref_opportunity_text(o, PCREF_FIELD_NAME), 1)) ||
			    (rc = pcref_opportunity_set_text(o, PCREF_FIELD_NAME, name)) < 0)
				goto failed_nomem;
		}
	}
	rc = lead ? pcref_crm_create_lead(&created, s->crm, o) : pcref_crm_create_opportunity(&created, s->crm, o);
	if (rc < 0)
		goto failed;
	pcref_opportunity_free(it->opp);
	it->opp = created;
	/* the solutions the backend did not link on create */
	if (!lead) {
		int added = 0;
		for (size_t i = 0, n = pcref_opportunity_solution_count(o); i < n && rc == PCREF_OK; i++) {
			const char *sid = pcref_opportunity_solution_id(o, i);
			int have = 0;
			for (size_t j = 0, h = pcref_opportunity_solution_count(it->opp); j < h; j++)
				have |= strcmp(pcref_opportunity_solution_id(it->opp, j), sid) == 0;
			if (!have) {
				rc = pcref_crm_add_solution(s->crm, pcref_opportunity_text(it->opp, PCREF_FIELD_ID), sid,
				                            pcref_opportunity_solution_name(o, i));
				added = 1;
			}
		}
		if (rc == PCREF_OK && added) {
			char *id = pcref__strdup(pcref_opportunity_text(created, PCREF_FIELD_ID));
			rc = id ? read_opportunity(it, id) : pcref__error_nomem();
			pcref__dealloc(id);
		}
		if (rc < 0)
			goto failed;
	}
	/* the linkage on the Partner Center side: externalReferenceId = the CRM id */
	if (!lead && !pcref_referral_external_reference_id(r)) {
		pcref_referral *changed = NULL, *stored = NULL;
		if (pcref_referral_dup(&changed, r) == PCREF_OK &&
		    pcref_referral_set_external_reference_id(changed, pcref_opportunity_text(it->opp, PCREF_FIELD_ID)) == PCREF_OK &&
		    pcref_partner_center_apply(&stored, s->pc, r, changed) == PCREF_OK) {
			pcref_referral_free(it->ref);
			it->ref = stored;
		} else {
			/* not fatal: the CRM and the store hold the link */
			pcref_error_clear();
		}
		pcref_referral_free(changed);
	}
	if ((rc = pcref__canon_of_opportunity(&base, it->opp, s->map, lc == PCREF__LC_PENDING)) < 0 ||
	    (rc = set_base(&it->link, base)) < 0 || (rc = link_from(it)) < 0 ||
	    (rc = pcref__sync_link_save_ok(s, &it->link)) < 0)
		goto failed;
	changes = describe(pcref__merge_fields, pcref__merge_field_count, 1, NULL, base, PCREF__LC_NONE, lc);
	pcref__sync_emit(run, PCREF_DIRECTION_TO_CRM, PCREF_ACTION_CREATE, pcref_referral_id(it->ref),
	                 pcref_opportunity_text(it->opp, PCREF_FIELD_ID), NULL, 0, NULL, 0, changes, PCREF_OK,
	                 note.len ? note.data + 2 : NULL);
	rc = PCREF_OK;
	goto done;
failed_nomem:
	if (rc >= 0)
		rc = pcref__error_nomem();
failed:
	rc = fail(it, PCREF_DIRECTION_TO_CRM, rc, 1);
done:
	pcref__buf_dispose(&note);
	pcref__dealloc(audit);
	pcref__dealloc(name);
	pcref__dealloc(changes);
	pcref_opportunity_free(o);
	pcref_opportunity_free(base);
	return rc;
}

/* A referral with no complete link: find its CRM record by the linkage keys
 * (R-02 in the CRM, externalReferenceId in Partner Center), or create it. */
static int from_unlinked_referral(item *it)
{
	pcref_sync *s = it->s;
	const char *ext = pcref_referral_external_reference_id(it->ref);
	pcref_opportunity *base = NULL;
	int lead = referral_is_lead(it->ref), rc;
	pcref_opportunity_free(it->opp);
	it->opp = NULL;
	rc = lead ? pcref_crm_find_lead(&it->opp, s->crm, pcref_referral_id(it->ref))
	          : pcref_crm_find_opportunity(&it->opp, s->crm, pcref_referral_id(it->ref));
	if (rc == PCREF_ENOTFOUND && ext && *ext) {
		pcref_error_clear();
		rc = read_opportunity(it, ext);
		if (rc == PCREF_ENOTFOUND) {
			char why[300];
			pcref_error_clear();
			/* the referral names a CRM record that does not exist */
			snprintf(why, sizeof(why), "the referral names CRM record %.80s, which does not exist in the CRM: "
			         "the event is ignored (R-24)", ext);
			return skip(it, PCREF_DIRECTION_TO_CRM, why, 0);
		}
		if (rc == PCREF_OK) {
			/* a referral made from this record: its values are the base */
			if ((rc = pcref__canon_of_referral(&base, it->ref, s->map)) < 0)
				return fail(it, PCREF_DIRECTION_TO_CRM, rc, 1);
			rc = merge_and_write(it, base, 1);
			pcref_opportunity_free(base);
			return rc;
		}
	}
	if (rc == PCREF_ENOTFOUND || rc == PCREF_ENOTSUPPORTED) {
		pcref_error_clear();
		return create_in_crm(it);
	}
	if (rc < 0)
		return fail(it, PCREF_DIRECTION_TO_CRM, rc, 1);
	/* found by the referral id: made from this referral (perhaps by a run
	 * that stopped before recording the link) — the CRM's values are the base */
	if ((rc = pcref__canon_of_opportunity(&base, it->opp, s->map,
	                                      pcref__lc_of_referral(it->ref) == PCREF__LC_PENDING)) < 0)
		return fail(it, PCREF_DIRECTION_TO_CRM, rc, 1);
	rc = merge_and_write(it, base, 1);
	pcref_opportunity_free(base);
	return rc;
}

static int sync_linked(item *it)
{
	pcref_opportunity *base = NULL;
	int rc;
	if (!it->opp) {
		rc = read_opportunity(it, it->link.crm_id);
		if (rc == PCREF_ENOTFOUND) {
			char why[300];
			pcref_error_clear();
			snprintf(why, sizeof(why), "CRM record %.80s, linked to this referral, no longer exists: nothing is "
			         "recreated (delete the link with the store tools to sync it afresh)", it->link.crm_id);
			return skip(it, PCREF_DIRECTION_TO_CRM, why, 0);
		}
		if (rc < 0)
			return fail(it, PCREF_DIRECTION_TO_CRM, rc, 1);
	}
	if (!it->ref) {
		rc = read_referral(it, it->link.referral_id);
		if (rc == PCREF_ENOTFOUND) {
			char why[300];
			pcref_error_clear();
			snprintf(why, sizeof(why), "referral %.80s, linked to this record, is no longer in Partner Center",
			         it->link.referral_id);
			return skip(it, PCREF_DIRECTION_TO_PC, why, 1);
		}
		if (rc < 0)
			return fail(it, PCREF_DIRECTION_TO_PC, rc, 1);
	}
	if ((rc = base_of(it, &base)) < 0)
		return fail(it, PCREF_DIRECTION_TO_CRM, rc, 0);
	rc = merge_and_write(it, base, 0);
	pcref_opportunity_free(base);
	return rc;
}

/* ---- CRM → Partner Center: a record with Sync = Yes and no referral (R-10) ----------------------- */

typedef struct ext_search {
	const char *crm_id;
	pcref_referral *found;
} ext_search;

static int on_ext_candidate(const pcref_referral *r, void *payload)
{
	ext_search *es = payload;
	const char *ext = pcref_referral_external_reference_id(r);
	if (ext && strcmp(ext, es->crm_id) == 0 && !es->found)
		return pcref_referral_dup(&es->found, r) < 0 ? PCREF_ENOMEM : 1;
	return 0;
}

/* A create that may have reached Partner Center before the process
 * stopped: look for the referral carrying this record's id. */
static int find_created(item *it, pcref_referral **out)
{
	pcref_referral_query q = PCREF_REFERRAL_QUERY_INIT;
	char filter[96], when[PCREF__TIME_BUFSZ];
	ext_search es = { pcref_opportunity_text(it->opp, PCREF_FIELD_ID), NULL };
	int rc;
	pcref__time_format(it->link.started_ms - it->s->opt.overlap_ms - 60000, when);
	snprintf(filter, sizeof(filter), "updatedDateTime ge %s", when);
	q.filter = filter;
	rc = pcref_partner_center_list_referrals(it->s->pc, &q, on_ext_candidate, &es);
	if (rc == 1)
		rc = PCREF_OK;
	*out = es.found;
	return rc;
}

static int write_back_link(item *it, const char *verb)
{
	pcref_opportunity *upd = NULL, *stored = NULL;
	pcref__buf link = PCREF__BUF_INIT, line = PCREF__BUF_INIT;
	char *link_text = NULL, *text = NULL, *audit = NULL, *name = NULL, *plain = NULL;
	int fields[4], rc;
	size_t n = 0;
	pcref__buf_puts(&link, it->s->link_base);
	pcref__buf_puts(&link, pcref_referral_id(it->ref));
	pcref__buf_printf(&line, "%s Partner Center referral %s (%s/%s)", verb, pcref_referral_id(it->ref),
	                  pcref_referral_status(it->ref) ? pcref_referral_status(it->ref) : "?",
	                  pcref_referral_substatus(it->ref) ? pcref_referral_substatus(it->ref) : "?");
	if ((rc = pcref__buf_detach(&link, &link_text, NULL)) < 0 || (rc = pcref__buf_detach(&line, &text, NULL)) < 0 ||
	    (rc = pcref_opportunity_new(&upd)) < 0)
		goto done;
	if (!(audit = pcref__audit_append(pcref_opportunity_text(it->opp, PCREF_FIELD_AUDIT), 1, text)) ||
	    !(plain = pcref__name_unmarked(pcref_opportunity_text(it->opp, PCREF_FIELD_NAME)
	                                   ? pcref_opportunity_text(it->opp, PCREF_FIELD_NAME) : ""))) {
		rc = pcref__error_nomem();
		goto done;
	}
	if ((rc = pcref_opportunity_set_text(upd, PCREF_FIELD_ID, pcref_opportunity_text(it->opp, PCREF_FIELD_ID))) < 0 ||
	    (rc = pcref_opportunity_set_text(upd, PCREF_FIELD_VERSION,
	                                     pcref_opportunity_text(it->opp, PCREF_FIELD_VERSION))) < 0 ||
	    (rc = pcref_opportunity_set_text(upd, PCREF_FIELD_REFERRAL_ID, pcref_referral_id(it->ref))) < 0 ||
	    (rc = pcref_opportunity_set_text(upd, PCREF_FIELD_REFERRAL_LINK, link_text)) < 0 ||
	    (rc = pcref_opportunity_set_text(upd, PCREF_FIELD_AUDIT, audit)) < 0)
		goto done;
	fields[n++] = PCREF_FIELD_REFERRAL_ID;   /* written back */
	fields[n++] = PCREF_FIELD_REFERRAL_LINK;
	fields[n++] = PCREF_FIELD_AUDIT;
	if (pcref_mapping_option(it->s->map, PCREF_OPTION_CHECK_MARK) == 1) {
		if (!(name = pcref__name_marked(plain, 1))) {
			rc = pcref__error_nomem();
			goto done;
		}
		if ((rc = pcref_opportunity_set_text(upd, PCREF_FIELD_NAME, name)) < 0)
			goto done;
		fields[n++] = PCREF_FIELD_NAME;
	}
	if ((rc = pcref_crm_update_opportunity(&stored, it->s->crm, upd, fields, n)) == PCREF_OK) {
		pcref_opportunity_free(it->opp);
		it->opp = stored;
	}
done:
	pcref__dealloc(link_text);
	pcref__dealloc(text);
	pcref__dealloc(audit);
	pcref__dealloc(name);
	pcref__dealloc(plain);
	pcref_opportunity_free(upd);
	return rc;
}

/* Link a new referral to this record: written back to the CRM, base kept. */
static int finish_create(item *it)
{
	pcref_opportunity *base = NULL;
	char *changes = NULL;
	int rc = write_back_link(it, "created");
	if (rc == PCREF_ECONFLICT) {
		/* the seller saved in between: re-read and write the link again */
		char *id = pcref__strdup(pcref_opportunity_text(it->opp, PCREF_FIELD_ID));
		pcref_error_clear();
		rc = id ? read_opportunity(it, id) : pcref__error_nomem();
		pcref__dealloc(id);
		if (rc == PCREF_OK)
			rc = write_back_link(it, "created");
	}
	if (rc < 0)
		return fail(it, PCREF_DIRECTION_TO_PC, rc, 1);
	if ((rc = pcref__canon_of_referral(&base, it->ref, it->s->map)) < 0 || (rc = set_base(&it->link, base)) < 0 ||
	    (rc = link_from(it)) < 0 || (rc = pcref__sync_link_save_ok(it->s, &it->link)) < 0) {
		pcref_opportunity_free(base);
		return fail(it, PCREF_DIRECTION_TO_PC, rc, 1);
	}
	changes = describe(pcref__merge_fields, pcref__merge_field_count, 1, NULL, base, PCREF__LC_NONE,
	                   pcref__lc_of_referral(it->ref));
	pcref__sync_emit(it->run, PCREF_DIRECTION_TO_PC, PCREF_ACTION_CREATE, pcref_referral_id(it->ref),
	                 pcref_opportunity_text(it->opp, PCREF_FIELD_ID), NULL, 0, NULL, 0, changes, PCREF_OK, NULL);
	pcref__dealloc(changes);
	pcref_opportunity_free(base);
	return PCREF_OK;
}

static int create_in_pc_id(item *it, const char *crm_id);

static int create_in_pc(item *it)
{
	/* a copy: the record is replaced as the audit is written */
	char *crm_id = pcref__strdup(pcref_opportunity_text(it->opp, PCREF_FIELD_ID));
	int rc = crm_id ? create_in_pc_id(it, crm_id) : pcref__error_nomem();
	pcref__dealloc(crm_id);
	return rc;
}

static int create_in_pc_id(item *it, const char *crm_id)
{
	pcref__run *run = it->run;
	pcref_sync *s = it->s;
	pcref_referral *r = NULL, *created = NULL;
	int rc;
	if ((it->link.flags & PCREF_LINK_PENDING) && it->link.started_ms != PCREF_TIME_NONE) {
		/* a create was started: did it reach Partner Center? */
		if ((rc = find_created(it, &created)) < 0)
			return fail(it, PCREF_DIRECTION_TO_PC, rc, 1);
		if (created) {
			pcref_referral_free(it->ref);
			it->ref = created;
			return finish_create(it);
		}
	}
	if ((rc = pcref__referral_of_opportunity(&r, it->opp)) < 0) {
		/* refused with the audit message; nothing sent. The
		 * record's version is kept so the refusal is not repeated until the
		 * seller changes the record. */
		char *why = pcref__strdup(msg_now());
		const char *ref_id = NULL;
		audit_failure(it, why ? why : "refused");
		if (!PCREF__DRY(run)) {
			pcref__sync_link_dispose(&it->link);
			if ((rc = set_str(&it->link.crm_id, crm_id)) == PCREF_OK &&
			    (rc = set_str(&it->link.crm_version, pcref_opportunity_text(it->opp, PCREF_FIELD_VERSION))) == PCREF_OK &&
			    (rc = set_str(&it->link.last_message, why)) == PCREF_OK) {
				it->link.last_code = PCREF_EINVALID;
				it->link.started_ms = it->link.synced_ms = PCREF_TIME_NONE;
				rc = pcref__sync_link_save(s, &it->link);
			}
			if (rc < 0) {
				pcref__dealloc(why);
				return rc;
			}
		}
		pcref__sync_emit(run, PCREF_DIRECTION_TO_PC, PCREF_ACTION_FAIL, ref_id, crm_id, NULL, 0, NULL, 0, NULL,
		                 PCREF_EINVALID, why);
		pcref__error(PCREF_EINVALID, "%s", why ? why : "refused");
		pcref__dealloc(why);
		return PCREF_EINVALID;
	}
	if (PCREF__DRY(run)) {
		pcref_opportunity *canon = NULL;
		char *changes = NULL;
		if (pcref__canon_of_opportunity(&canon, it->opp, s->map, 0) == PCREF_OK)
			changes = describe(pcref__merge_fields, pcref__merge_field_count, 1, NULL, canon, PCREF__LC_NONE,
			                   PCREF__LC_ACTIVE);
		pcref__sync_emit(run, PCREF_DIRECTION_TO_PC, PCREF_ACTION_CREATE, NULL, crm_id, NULL, 0, NULL, 0, changes,
		                 PCREF_OK, NULL);
		pcref__dealloc(changes);
		pcref_opportunity_free(canon);
		pcref_referral_free(r);
		return PCREF_OK;
	}
	/* the intent first, durably: a crash after the POST is found again */
	pcref__sync_link_dispose(&it->link);
	if ((rc = set_str(&it->link.crm_id, crm_id)) < 0) {
		pcref_referral_free(r);
		return rc;
	}
	it->link.flags = PCREF_LINK_PENDING;
	it->link.started_ms = pcref__now_ms();
	it->link.synced_ms = PCREF_TIME_NONE;
	if ((rc = pcref__sync_link_save(s, &it->link)) < 0) {
		pcref_referral_free(r);
		return rc;
	}
	if (pcref_referral_assistance_request_code(r))
		rc = pcref_partner_center_create_cosell(&created, NULL, s->pc, r);  /* help wanted: co-sell */
	else
		rc = pcref_partner_center_create_referral(&created, s->pc, r);
	pcref_referral_free(r);
	if (rc < 0 && !created)
		return fail(it, PCREF_DIRECTION_TO_PC, rc, 1);
	pcref_referral_free(it->ref);
	it->ref = created;
	if (rc < 0) /* the Microsoft invitation failed: the referral exists; link it, retry the invite later */
		pcref_error_clear();
	return finish_create(it);
}

/* ---- the entry points of one item --------------------------------------------------------------- */

int pcref__sync_referral(pcref__run *run, const char *referral_id, const pcref_referral *given)
{
	item it;
	int rc;
	memset(&it, 0, sizeof(it));
	it.run = run;
	it.s = run->s;
	if (run->report)
		run->report->examined++;
	rc = pcref__sync_link_load(run->s, referral_id, NULL, &it.link);
	if (rc < 0 && rc != PCREF_ENOTFOUND)
		return rc;
	it.have_link = rc == PCREF_OK;
	if (run->fast && it.have_link && pcref__sync_link_complete(&it.link) && given && it.link.referral_etag &&
	    pcref_referral_etag(given) && strcmp(it.link.referral_etag, pcref_referral_etag(given)) == 0 &&
	    it.link.last_code == PCREF_OK) {
		/* the store has seen this very version: nothing to compare (no echo) */
		pcref__sync_emit(run, PCREF_DIRECTION_TO_CRM, PCREF_ACTION_NONE, referral_id, it.link.crm_id, NULL, 0,
		                 NULL, 0, NULL, PCREF_OK, NULL);
		item_dispose(&it);
		return PCREF_OK;
	}
	if (given)
		rc = pcref_referral_dup(&it.ref, given);
	else
		rc = read_referral(&it, referral_id);
	if (rc == PCREF_ENOTFOUND && !it.have_link) {
		item_dispose(&it);
		return rc;  /* nothing to report against: the caller named a referral that does not exist */
	}
	if (rc < 0)
		rc = fail(&it, PCREF_DIRECTION_TO_CRM, rc, !pcref__sync_fatal(rc) || rc == PCREF_ENETWORK);
	else if (pcref__referral_targets_microsoft(it.ref))
		rc = PCREF_OK;  /* our invitation to Microsoft: the deal is the partner's own referral */
	else if (it.have_link && pcref__sync_link_complete(&it.link))
		rc = sync_linked(&it);
	else
		rc = from_unlinked_referral(&it);
	item_dispose(&it);
	return rc;
}

int pcref__sync_opportunity(pcref__run *run, const char *crm_id, const pcref_opportunity *given)
{
	item it;
	const char *rid;
	int rc;
	memset(&it, 0, sizeof(it));
	it.run = run;
	it.s = run->s;
	if (run->report)
		run->report->examined++;
	rc = pcref__sync_link_load(run->s, NULL, crm_id, &it.link);
	if (rc < 0 && rc != PCREF_ENOTFOUND)
		return rc;
	it.have_link = rc == PCREF_OK;
	if (run->fast && it.have_link && given && it.link.crm_version &&
	    pcref_opportunity_text(given, PCREF_FIELD_VERSION) &&
	    strcmp(it.link.crm_version, pcref_opportunity_text(given, PCREF_FIELD_VERSION)) == 0 &&
	    (it.link.last_code == PCREF_OK || it.link.last_code == PCREF_EINVALID)) {
		/* our own write, or a record refused as it is: nothing new */
		if (pcref__sync_link_complete(&it.link))
			pcref__sync_emit(run, PCREF_DIRECTION_TO_PC, PCREF_ACTION_NONE, it.link.referral_id, crm_id, NULL, 0,
			                 NULL, 0, NULL, PCREF_OK, NULL);
		item_dispose(&it);
		return PCREF_OK;
	}
	if (given)
		rc = pcref_opportunity_dup(&it.opp, given);
	else
		rc = read_opportunity(&it, crm_id);
	if (rc < 0) {
		if (rc != PCREF_ENOTFOUND || it.have_link)
			rc = fail(&it, PCREF_DIRECTION_TO_PC, rc, rc != PCREF_ENOTFOUND);
		item_dispose(&it);
		return rc;
	}
	if (it.have_link && pcref__sync_link_complete(&it.link)) {
		rc = sync_linked(&it);
	} else if ((rid = pcref_opportunity_text(it.opp, PCREF_FIELD_REFERRAL_ID)) && *rid) {
		/* the record names its referral: link them */
		char *ref_id = pcref__strdup(rid);
		rc = ref_id ? read_referral(&it, ref_id) : pcref__error_nomem();
		if (rc == PCREF_ENOTFOUND) {
			char why[300];
			pcref_error_clear();
			snprintf(why, sizeof(why), "the record names referral %.80s, which Partner Center does not have: "
			         "nothing is synced (R-24) — clear the Referral Identifier to create a new referral", ref_id);
			rc = skip(&it, PCREF_DIRECTION_TO_PC, why, 0);
		} else if (rc < 0) {
			rc = fail(&it, PCREF_DIRECTION_TO_PC, rc, 1);
		} else {
			pcref_opportunity *base = NULL;
			if ((rc = pcref__canon_of_opportunity(&base, it.opp, run->s->map,
			                                      pcref__lc_of_referral(it.ref) == PCREF__LC_PENDING)) < 0)
				rc = fail(&it, PCREF_DIRECTION_TO_PC, rc, 1);
			else
				rc = merge_and_write(&it, base, 1);
			pcref_opportunity_free(base);
		}
		pcref__dealloc(ref_id);
	} else if (pcref_opportunity_flag(it.opp, PCREF_FIELD_SYNC) == 1 &&
	           pcref_opportunity_flag(it.opp, PCREF_FIELD_IS_LEAD) != 1) {
		rc = create_in_pc(&it);  /* */
	} else {
		rc = PCREF_OK;  /* not shared with Partner Center (R-01: Sync = No) */
	}
	item_dispose(&it);
	return rc;
}
