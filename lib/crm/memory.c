/* The in-memory CRM backend: complete in-process semantics (versions,
 * conflicts, modified times, accounts, contacts, solutions, leads, currencies,
 * users) for tests and for hosts that want a sandbox. It is written against
 * the public vtable like any host backend would be. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crm_internal.h"

typedef struct memcrm {
	pcref_opportunity **records;  /* opportunities and leads (IS_LEAD) */
	size_t nrecords, cap_records;
	pcref_opportunity **accounts; /* ACCOUNT_* fields, id in ACCOUNT_ID */
	size_t naccounts, cap_accounts;
	pcref_opportunity **contacts; /* CONTACT_* fields + ACCOUNT_ID, id in CONTACT_ID */
	size_t ncontacts, cap_contacts;
	char **currencies;            /* NULL-terminated */
	char **users;                 /* NULL-terminated; NULL: every user exists */
	uint64_t next_id;
	int64_t last_modified;
	int in_batch;
} memcrm;

static int mem_resolve_currency(const char *iso, void *payload);

static const char *const default_currencies[] = { "USD", "EUR", "GBP", "SEK", "JPY", "CAD", "AUD", NULL };

/* Strictly increasing modification times, so watermarks never miss a write. */
static int64_t stamp(memcrm *m)
{
	int64_t now = pcref__now_ms();
	m->last_modified = now > m->last_modified ? now : m->last_modified + 1;
	return m->last_modified;
}

static int push(pcref_opportunity ***arr, size_t *n, size_t *cap, pcref_opportunity *o)
{
	if (pcref__grow((void **)arr, cap, *n + 1, sizeof(**arr)) < 0) {
		pcref_opportunity_free(o);
		return PCREF_ENOMEM;
	}
	(*arr)[(*n)++] = o;
	return PCREF_OK;
}

static pcref_opportunity *find_by(pcref_opportunity **arr, size_t n, int field, const char *value)
{
	for (size_t i = 0; value && i < n; i++) {
		const char *v = pcref_opportunity_text(arr[i], field);
		if (v && strcmp(v, value) == 0)
			return arr[i];
	}
	return NULL;
}

static int new_id(memcrm *m, const char *prefix, pcref_opportunity *o, int field)
{
	char id[48];
	snprintf(id, sizeof(id), "%s-%06llu", prefix, (unsigned long long)++m->next_id);
	return pcref_opportunity_set_text(o, field, id);
}

/* Give a stored record a new version and modification time. */
static int touch(memcrm *m, pcref_opportunity *rec)
{
	char version[32];
	const char *old = pcref_opportunity_text(rec, PCREF_FIELD_VERSION);
	snprintf(version, sizeof(version), "%llu", old ? strtoull(old, NULL, 10) + 1 : 1ULL);
	int rc = pcref_opportunity_set_text(rec, PCREF_FIELD_VERSION, version);
	return rc < 0 ? rc : pcref_opportunity_set_time(rec, PCREF_FIELD_MODIFIED_TIME, stamp(m));
}

static pcref_opportunity *record(memcrm *m, const char *id, int lead)
{
	pcref_opportunity *r = find_by(m->records, m->nrecords, PCREF_FIELD_ID, id);
	return r && (pcref_opportunity_flag(r, PCREF_FIELD_IS_LEAD) == 1) == lead ? r : NULL;
}

static int missing(const char *what, const char *id)
{
	char msg[256];
	snprintf(msg, sizeof(msg), "the CRM has no %s with id '%s'", what, id ? id : "(null)");
	return pcref_error_set(PCREF_ENOTFOUND, msg);
}

static int copy_out(pcref_opportunity **out, const pcref_opportunity *rec)
{
	return out ? pcref_opportunity_dup(out, rec) : PCREF_OK;
}

static void mem_destroy(void *payload)
{
	memcrm *m = payload;
	for (size_t i = 0; i < m->nrecords; i++)
		pcref_opportunity_free(m->records[i]);
	for (size_t i = 0; i < m->naccounts; i++)
		pcref_opportunity_free(m->accounts[i]);
	for (size_t i = 0; i < m->ncontacts; i++)
		pcref_opportunity_free(m->contacts[i]);
	for (size_t i = 0; m->currencies && m->currencies[i]; i++)
		pcref__dealloc(m->currencies[i]);
	for (size_t i = 0; m->users && m->users[i]; i++)
		pcref__dealloc(m->users[i]);
	pcref__dealloc(m->records);
	pcref__dealloc(m->accounts);
	pcref__dealloc(m->contacts);
	pcref__dealloc(m->currencies);
	pcref__dealloc(m->users);
	pcref__dealloc(m);
}

static int mem_get(pcref_opportunity **out, const char *id, void *payload)
{
	memcrm *m = payload;
	pcref_opportunity *r = find_by(m->records, m->nrecords, PCREF_FIELD_ID, id);
	return r ? copy_out(out, r) : missing("opportunity or lead", id);
}

static int find_linked(memcrm *m, pcref_opportunity **out, const char *referral_id, int lead)
{
	for (size_t i = 0; referral_id && i < m->nrecords; i++) {
		const char *v = pcref_opportunity_text(m->records[i], PCREF_FIELD_REFERRAL_ID);
		if (v && strcmp(v, referral_id) == 0 &&
		    (pcref_opportunity_flag(m->records[i], PCREF_FIELD_IS_LEAD) == 1) == lead)
			return copy_out(out, m->records[i]);
	}
	return missing(lead ? "lead linked to referral" : "opportunity linked to referral", referral_id);
}

static int mem_find(pcref_opportunity **out, const char *referral_id, void *payload)
{
	return find_linked(payload, out, referral_id, 0);
}

static int mem_find_lead(pcref_opportunity **out, const char *referral_id, void *payload)
{
	return find_linked(payload, out, referral_id, 1);
}

static int create(memcrm *m, pcref_opportunity **out, const pcref_opportunity *opp, int lead)
{
	pcref_opportunity *rec;
	const char *currency = pcref_opportunity_text(opp, PCREF_FIELD_CURRENCY);
	int rc;
	if (!pcref_opportunity_text(opp, PCREF_FIELD_NAME))
		return pcref_error_set(PCREF_EINVALID, lead ? "a lead needs a topic (name)"
		                                            : "an opportunity needs a name");
	if (currency && (rc = mem_resolve_currency(currency, m)) < 0)
		return rc;
	if ((rc = pcref_opportunity_dup(&rec, opp)) < 0)
		return rc;
	if ((rc = new_id(m, lead ? "lead" : "opp", rec, PCREF_FIELD_ID)) < 0 ||
	    (rc = pcref_opportunity_set_flag(rec, PCREF_FIELD_IS_LEAD, lead)) < 0 ||
	    (!pcref_opportunity_has(rec, PCREF_FIELD_STATE) &&
	     (rc = pcref_opportunity_set_text(rec, PCREF_FIELD_STATE, "open")) < 0) ||
	    (rc = pcref_opportunity_unset(rec, PCREF_FIELD_VERSION)) < 0 ||
	    (rc = touch(m, rec)) < 0) {
		pcref_opportunity_free(rec);
		return rc;
	}
	if ((rc = push(&m->records, &m->nrecords, &m->cap_records, rec)) < 0)
		return rc;
	return copy_out(out, rec);
}

static int mem_create(pcref_opportunity **out, const pcref_opportunity *opp, void *payload)
{
	return create(payload, out, opp, 0);
}

static int mem_create_lead(pcref_opportunity **out, const pcref_opportunity *lead, void *payload)
{
	return create(payload, out, lead, 1);
}

static int update(memcrm *m, pcref_opportunity **out, const pcref_opportunity *opp, const int *fields,
                  size_t n, int lead)
{
	const char *id = pcref_opportunity_text(opp, PCREF_FIELD_ID);
	const char *want = pcref_opportunity_text(opp, PCREF_FIELD_VERSION), *have;
	pcref_opportunity *rec = record(m, id, lead), *next;
	char msg[300];
	int rc;
	if (!rec)
		return missing(lead ? "lead" : "opportunity", id);
	have = pcref_opportunity_text(rec, PCREF_FIELD_VERSION);
	if (want && strcmp(want, have) != 0) {
		snprintf(msg, sizeof(msg), "%s %s changed since it was read (version %s, now %s): re-read it",
		         lead ? "lead" : "opportunity", id, want, have);
		return pcref_error_set(PCREF_ECONFLICT, msg);
	}
	/* validate everything before changing anything */
	for (size_t i = 0; i < n; i++) {
		if (fields[i] == PCREF_FIELD_ID || fields[i] == PCREF_FIELD_VERSION ||
		    fields[i] == PCREF_FIELD_MODIFIED_TIME || fields[i] == PCREF_FIELD_IS_LEAD) {
			snprintf(msg, sizeof(msg), "field '%s' is maintained by the CRM and cannot be written",
			         pcref_opportunity_field_name(fields[i]));
			return pcref_error_set(PCREF_EINVALID, msg);
		}
		if (fields[i] == PCREF_FIELD_STATE && !lead)
			return pcref_error_set(PCREF_EINVALID,
				"an opportunity is won or lost through close_opportunity, not by writing its state");
		if (fields[i] == PCREF_FIELD_CURRENCY && pcref_opportunity_has(opp, PCREF_FIELD_CURRENCY) &&
		    (rc = mem_resolve_currency(pcref_opportunity_text(opp, PCREF_FIELD_CURRENCY), m)) < 0)
			return rc;
		if (pcref_opportunity_field_kind(fields[i]) == 0)
			return pcref_error_set(PCREF_EINVALID, "unknown field id in update");
	}
	if ((rc = pcref_opportunity_dup(&next, rec)) < 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		if ((rc = pcref__opportunity_copy_field(next, opp, fields[i])) < 0) {
			pcref_opportunity_free(next);
			return rc;
		}
	/* the custom (extra) fields set in `opp` are written too */
	for (size_t i = 0, k = pcref_opportunity_extra_count(opp); i < k; i++) {
		const char *name = pcref_opportunity_extra_name(opp, i);
		char *json = NULL;
		if ((rc = pcref_opportunity_extra_get(opp, name, &json)) == PCREF_OK)
			rc = pcref_opportunity_extra_set(next, name, json, strlen(json));
		pcref_free(json);
		if (rc < 0) {
			pcref_opportunity_free(next);
			return rc;
		}
	}
	if ((rc = touch(m, next)) < 0) {
		pcref_opportunity_free(next);
		return rc;
	}
	for (size_t i = 0; i < m->nrecords; i++)
		if (m->records[i] == rec)
			m->records[i] = next;
	pcref_opportunity_free(rec);
	return copy_out(out, next);
}

static int mem_update(pcref_opportunity **out, const pcref_opportunity *opp, const int *fields, size_t n,
                      void *payload)
{
	return update(payload, out, opp, fields, n, 0);
}

static int mem_update_lead(pcref_opportunity **out, const pcref_opportunity *lead, const int *fields,
                           size_t n, void *payload)
{
	return update(payload, out, lead, fields, n, 1);
}

static int by_modified(const void *a, const void *b)
{
	int64_t x = pcref_opportunity_time(*(pcref_opportunity *const *)a, PCREF_FIELD_MODIFIED_TIME);
	int64_t y = pcref_opportunity_time(*(pcref_opportunity *const *)b, PCREF_FIELD_MODIFIED_TIME);
	return (x > y) - (x < y);
}

static int mem_list(int64_t since, pcref_opportunity_cb cb, void *cb_payload, void *payload)
{
	memcrm *m = payload;
	pcref_opportunity **sel;
	size_t n = 0;
	int rc = PCREF_OK;
	if (!cb)
		return pcref_error_set(PCREF_EINVALID, "list_modified needs a callback");
	if (!(sel = pcref__calloc(m->nrecords + 1, sizeof(*sel))))
		return pcref__error_nomem();
	for (size_t i = 0; i < m->nrecords; i++)
		if (pcref_opportunity_flag(m->records[i], PCREF_FIELD_IS_LEAD) != 1 &&
		    (since == PCREF_TIME_NONE ||
		     pcref_opportunity_time(m->records[i], PCREF_FIELD_MODIFIED_TIME) >= since))
			sel[n++] = m->records[i];
	qsort(sel, n, sizeof(*sel), by_modified);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = cb(sel[i], cb_payload);
	pcref__dealloc(sel);
	return rc;
}

static int copy_fields(pcref_opportunity *dst, const pcref_opportunity *src, int first, int last)
{
	int rc = PCREF_OK;
	for (int f = first; f <= last && rc == 0; f++)
		if (pcref_opportunity_has(src, f))
			rc = pcref__opportunity_copy_field(dst, src, f);
	return rc;
}

static int mem_ensure_account(pcref_opportunity *opp, const int *match, size_t nmatch, void *payload)
{
	memcrm *m = payload;
	static const int defaults[] = { PCREF_FIELD_ACCOUNT_NAME, PCREF_FIELD_ACCOUNT_POSTAL_CODE };
	pcref_opportunity *acct;
	int rc;
	if (!match || !nmatch)
		match = defaults, nmatch = PCREF__ARRAY_LEN(defaults);
	if (!pcref_opportunity_text(opp, PCREF_FIELD_ACCOUNT_NAME))
		return pcref_error_set(PCREF_EINVALID, "the customer account needs a name (R-27)");
	for (size_t i = 0; i < m->naccounts; i++) {
		size_t k;
		for (k = 0; k < nmatch; k++)
			if (!pcref_opportunity_field_equal(m->accounts[i], opp, match[k]))
				break;
		if (k == nmatch)
			return pcref_opportunity_set_text(opp, PCREF_FIELD_ACCOUNT_ID,
			                                  pcref_opportunity_text(m->accounts[i], PCREF_FIELD_ACCOUNT_ID));
	}
	if ((rc = pcref_opportunity_new(&acct)) < 0)
		return rc;
	if ((rc = copy_fields(acct, opp, PCREF_FIELD_ACCOUNT_NAME, PCREF_FIELD_ACCOUNT_ADDRESS2)) < 0 ||
	    (rc = new_id(m, "acct", acct, PCREF_FIELD_ACCOUNT_ID)) < 0) {
		pcref_opportunity_free(acct);
		return rc;
	}
	if ((rc = push(&m->accounts, &m->naccounts, &m->cap_accounts, acct)) < 0)
		return rc;
	return pcref_opportunity_set_text(opp, PCREF_FIELD_ACCOUNT_ID,
	                                  pcref_opportunity_text(acct, PCREF_FIELD_ACCOUNT_ID));
}

static int mem_ensure_contact(pcref_opportunity *opp, void *payload)
{
	memcrm *m = payload;
	const char *email = pcref_opportunity_text(opp, PCREF_FIELD_CONTACT_EMAIL);
	pcref_opportunity *c = NULL;
	int rc;
	if (email)
		c = find_by(m->contacts, m->ncontacts, PCREF_FIELD_CONTACT_EMAIL, email);
	for (size_t i = 0; !c && !email && i < m->ncontacts; i++)
		if (pcref_opportunity_field_equal(m->contacts[i], opp, PCREF_FIELD_CONTACT_FIRST_NAME) &&
		    pcref_opportunity_field_equal(m->contacts[i], opp, PCREF_FIELD_CONTACT_LAST_NAME) &&
		    pcref_opportunity_field_equal(m->contacts[i], opp, PCREF_FIELD_ACCOUNT_ID))
			c = m->contacts[i];
	if (!c) {
		if (!email && !pcref_opportunity_text(opp, PCREF_FIELD_CONTACT_LAST_NAME))
			return pcref_error_set(PCREF_EINVALID,
				"the customer contact needs an email or a last name to be found or created");
		if ((rc = pcref_opportunity_new(&c)) < 0)
			return rc;
		if ((rc = copy_fields(c, opp, PCREF_FIELD_CONTACT_FIRST_NAME, PCREF_FIELD_CONTACT_PHONE)) < 0 ||
		    (rc = copy_fields(c, opp, PCREF_FIELD_ACCOUNT_ID, PCREF_FIELD_ACCOUNT_ID)) < 0 ||
		    (rc = new_id(m, "contact", c, PCREF_FIELD_CONTACT_ID)) < 0) {
			pcref_opportunity_free(c);
			return rc;
		}
		if ((rc = push(&m->contacts, &m->ncontacts, &m->cap_contacts, c)) < 0)
			return rc;
	}
	return pcref_opportunity_set_text(opp, PCREF_FIELD_CONTACT_ID, pcref_opportunity_text(c, PCREF_FIELD_CONTACT_ID));
}

static int change_solutions(memcrm *m, const char *id, const char *solution_id, const char *name, int add)
{
	pcref_opportunity *rec = record(m, id, 0);
	int rc;
	if (!rec)
		return missing("opportunity", id);
	rc = add ? pcref_opportunity_solution_add(rec, solution_id, name)
	         : pcref_opportunity_solution_remove(rec, solution_id);
	return rc < 0 ? rc : touch(m, rec);
}

static int mem_add_solution(const char *id, const char *solution_id, const char *name, void *payload)
{
	return change_solutions(payload, id, solution_id, name, 1);
}

static int mem_remove_solution(const char *id, const char *solution_id, void *payload)
{
	return change_solutions(payload, id, solution_id, NULL, 0);
}

static int mem_close(const char *id, int won, const char *reason, void *payload)
{
	memcrm *m = payload;
	pcref_opportunity *rec = record(m, id, 0);
	const char *state;
	char msg[200];
	int rc;
	if (!rec)
		return missing("opportunity", id);
	state = pcref_opportunity_text(rec, PCREF_FIELD_STATE);
	if (state && strcmp(state, "open") != 0) {
		snprintf(msg, sizeof(msg), "opportunity %s is already closed as %s", id, state);
		return pcref_error_set(PCREF_EINVALID, msg);
	}
	if ((rc = pcref_opportunity_set_text(rec, PCREF_FIELD_STATE, won ? "won" : "lost")) < 0 ||
	    (rc = pcref_opportunity_set_text(rec, PCREF_FIELD_CLOSE_REASON, reason)) < 0)
		return rc;
	return touch(m, rec);
}

static int in_list(char **list, const char *value)
{
	for (size_t i = 0; list && list[i]; i++)
		if (strcmp(list[i], value) == 0)
			return 1;
	return 0;
}

static int mem_resolve_currency(const char *iso, void *payload)
{
	memcrm *m = payload;
	char msg[200];
	if (in_list(m->currencies, iso))
		return PCREF_OK;
	snprintf(msg, sizeof(msg), "the CRM has no currency '%s': add it to the CRM's currencies "
	         "before syncing deals in it (R-29)", iso);
	return pcref_error_set(PCREF_ENOTFOUND, msg);
}

static int mem_resolve_user(const char *email, void *payload)
{
	memcrm *m = payload;
	char msg[300];
	if (!m->users || in_list(m->users, email))
		return PCREF_OK;
	snprintf(msg, sizeof(msg), "the CRM has no user '%s': add the sales team member as a CRM user (R-29)",
	         email);
	return pcref_error_set(PCREF_ENOTFOUND, msg);
}

static int mem_batch(void *payload)
{
	(void)payload; /* every write is applied at once; nothing to collect */
	return PCREF_OK;
}

/* ---- construction ----------------------------------------------------------- */

static int string_list(char ***out, const pcref__json *arr, const char *const *defaults, const char *what)
{
	size_t n = arr ? arr->u.arr.len : 0;
	char **list;
	if (arr && arr->type != PCREF__JSON_ARRAY)
		return pcref__error(PCREF_EINVALID, "memory CRM config: \"%s\" must be an array of strings", what);
	if (!arr)
		while (defaults && defaults[n])
			n++;
	if (!arr && !defaults) {
		*out = NULL;
		return PCREF_OK;
	}
	if (!(list = pcref__calloc(n + 1, sizeof(*list))))
		return pcref__error_nomem();
	*out = list;
	for (size_t i = 0; i < n; i++) {
		const char *s = arr ? pcref__json_string(arr->u.arr.items[i]) : defaults[i];
		if (!s)
			return pcref__error(PCREF_EINVALID, "memory CRM config: \"%s\"[%zu] is not a string", what, i);
		if (!(list[i] = pcref__strdup(s)))
			return pcref__error_nomem();
	}
	return PCREF_OK;
}

int pcref_crm_memory_new(pcref_crm **out, const char *config_json)
{
	pcref_crm_backend b;
	pcref__json *cfg = NULL;
	memcrm *m;
	int rc;
	if (!out)
		return pcref__error(PCREF_EINVALID, "pcref_crm_memory_new: out is NULL");
	if (config_json && (rc = pcref__json_parse(&cfg, config_json, strlen(config_json),
	                                           "the memory CRM config")) < 0)
		return rc;
	if (cfg && cfg->type != PCREF__JSON_OBJECT) {
		pcref__json_free(cfg);
		return pcref__error(PCREF_EINVALID, "the memory CRM config must be a JSON object");
	}
	if (!(m = pcref__calloc(1, sizeof(*m)))) {
		pcref__json_free(cfg);
		return pcref__error_nomem();
	}
	if ((rc = string_list(&m->currencies, pcref__json_get(cfg, "currencies"), default_currencies, "currencies")) < 0 ||
	    (rc = string_list(&m->users, pcref__json_get(cfg, "users"), NULL, "users")) < 0) {
		pcref__json_free(cfg);
		mem_destroy(m);
		return rc;
	}
	for (size_t i = 0; m->currencies[i]; i++)
		if ((rc = pcref_currency_check(m->currencies[i])) < 0) {
			pcref__json_free(cfg);
			mem_destroy(m);
			return pcref__error_prefix(rc, "memory CRM config");
		}
	pcref__json_free(cfg);
	pcref_crm_backend_init(&b, PCREF_CRM_BACKEND_VERSION);
	b.name = "memory";
	b.payload = m;
	b.destroy = mem_destroy;
	b.get_opportunity = mem_get;
	b.find_opportunity = mem_find;
	b.create_opportunity = mem_create;
	b.update_opportunity = mem_update;
	b.list_modified = mem_list;
	b.ensure_account = mem_ensure_account;
	b.ensure_contact = mem_ensure_contact;
	b.add_solution = mem_add_solution;
	b.remove_solution = mem_remove_solution;
	b.close_opportunity = mem_close;
	b.find_lead = mem_find_lead;
	b.create_lead = mem_create_lead;
	b.update_lead = mem_update_lead;
	b.resolve_currency = mem_resolve_currency;
	b.resolve_user = mem_resolve_user;
	b.batch_begin = mem_batch;
	b.batch_commit = mem_batch;
	if ((rc = pcref_crm_new(out, &b)) < 0)
		mem_destroy(m);
	return rc;
}
