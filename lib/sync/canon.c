/* Canonical forms: a referral and a CRM record, each reduced to the values
 * the merge compares, and the conversions a create needs
 * . Nothing here talks to a service. */
#include <math.h>
#include <string.h>

#include "sync_internal.h"
#include "../core/json.h"

const int pcref__merge_fields[] = {
	PCREF_FIELD_NAME, PCREF_FIELD_DEAL_VALUE, PCREF_FIELD_CURRENCY, PCREF_FIELD_CLOSE_DATE,
	PCREF_FIELD_NOTES, PCREF_FIELD_HELP, PCREF_FIELD_VISIBILITY, PCREF_FIELD_MICROSOFT_CRM_ID,
};
const size_t pcref__merge_field_count = sizeof(pcref__merge_fields) / sizeof(pcref__merge_fields[0]);

/* ---- lifecycle --------------------------------------------------------------- */

static const char *const lc_names[] = { "none", "pending", "active", "won", "lost", "declined" };

const char *pcref__lc_name(int lc)
{
	return lc >= 0 && lc <= PCREF__LC_DECLINED ? lc_names[lc] : "none";
}

int pcref__lc_parse(const char *name)
{
	for (int i = 0; name && i <= PCREF__LC_DECLINED; i++)
		if (strcmp(name, lc_names[i]) == 0)
			return i;
	return PCREF__LC_NONE;
}

int pcref__lc_terminal(int lc)
{
	return lc == PCREF__LC_WON || lc == PCREF__LC_LOST || lc == PCREF__LC_DECLINED;
}

int pcref__lc_same(int a, int b)
{
	if (a == PCREF__LC_DECLINED)
		a = PCREF__LC_LOST;
	if (b == PCREF__LC_DECLINED)
		b = PCREF__LC_LOST;
	return a == b;
}

static int eq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

int pcref__lc_of_referral(const pcref_referral *r)
{
	const char *st = pcref_referral_status(r), *sub = pcref_referral_substatus(r);
	if (eq(st, "New"))
		return PCREF__LC_PENDING;
	if (eq(st, "Active"))
		return PCREF__LC_ACTIVE;
	if (eq(st, "Closed"))
		return eq(sub, "Won") ? PCREF__LC_WON : eq(sub, "Lost") ? PCREF__LC_LOST : PCREF__LC_DECLINED;
	return PCREF__LC_NONE;
}

int pcref__lc_of_opportunity(const pcref_opportunity *o, const pcref_mapping *m, int pending_before)
{
	const char *state = pcref_opportunity_text(o, PCREF_FIELD_STATE);
	const char *stage = pcref_opportunity_text(o, PCREF_FIELD_STAGE);
	if (eq(state, "won"))
		return PCREF__LC_WON;
	if (eq(state, "lost"))
		return pending_before ? PCREF__LC_DECLINED : PCREF__LC_LOST;
	if (eq(stage, pcref_mapping_stage(m, PCREF_STAGE_ON_HOLD)))
		return PCREF__LC_PENDING;
	return PCREF__LC_ACTIVE;
}

/* ---- names and days ------------------------------------------------------------ */

#define MARK_OK " \xE2\x9C\x94"   /* " ✔" */
#define MARK_FAIL " \xE2\x9C\x96" /* " ✖" */

char *pcref__name_unmarked(const char *name)
{
	size_t len = name ? strlen(name) : 0, mark = sizeof(MARK_OK) - 1;
	if (!name)
		return NULL;
	if (len >= mark && (memcmp(name + len - mark, MARK_OK, mark) == 0 ||
	                    memcmp(name + len - mark, MARK_FAIL, mark) == 0))
		len -= mark;
	return pcref__strndup(name, len);
}

char *pcref__name_marked(const char *name, int ok)
{
	pcref__buf b = PCREF__BUF_INIT;
	char *out = NULL;
	pcref__buf_puts(&b, name ? name : "");
	pcref__buf_puts(&b, ok ? MARK_OK : MARK_FAIL);
	pcref__buf_detach(&b, &out, NULL);
	return out;
}

int64_t pcref__day(int64_t ms)
{
	const int64_t day = 86400000;
	if (ms == PCREF_TIME_NONE)
		return ms;
	return ms - ((ms % day) + day) % day;
}

/* ---- canonical forms ------------------------------------------------------------ */

static int set_text(pcref_opportunity *o, int field, const char *v)
{
	return v && *v ? pcref_opportunity_set_text(o, field, v) : PCREF_OK;
}

int pcref__canon_lc(const pcref_opportunity *c)
{
	return pcref__lc_parse(pcref_opportunity_extra_text(c, PCREF__LC_FIELD));
}

int pcref__canon_set_lc(pcref_opportunity *o, int lc)
{
	char json[32];
	snprintf(json, sizeof(json), "\"%s\"", pcref__lc_name(lc));
	return pcref_opportunity_extra_set(o, PCREF__LC_FIELD, json, strlen(json));
}

/* Custom mappings travel in the canonical record as extra fields
 * named after their CRM field. */
static int canon_extras_of_referral(pcref_opportunity *c, const pcref_referral *r, const pcref_mapping *m)
{
	for (size_t i = 0, n = pcref_mapping_extra_count(m); i < n; i++) {
		char *json = NULL;
		int rc = pcref_referral_get_json(r, pcref_mapping_extra_referral(m, i), &json);
		if (rc == PCREF_ENOTFOUND) {
			pcref_error_clear();
			continue;
		}
		if (rc == PCREF_OK && strcmp(json, "null") != 0)
			rc = pcref_opportunity_extra_set(c, pcref_mapping_extra_crm(m, i), json, strlen(json));
		pcref_free(json);
		if (rc < 0)
			return rc;
	}
	return PCREF_OK;
}

static int canon_extras_of_opportunity(pcref_opportunity *c, const pcref_opportunity *o, const pcref_mapping *m)
{
	for (size_t i = 0, n = pcref_mapping_extra_count(m); i < n; i++) {
		const char *name = pcref_mapping_extra_crm(m, i);
		char *json = NULL;
		int rc = pcref_opportunity_extra_get(o, name, &json);
		if (rc == PCREF_ENOTFOUND) {
			pcref_error_clear();
			continue;
		}
		if (rc == PCREF_OK && strcmp(json, "null") != 0)
			rc = pcref_opportunity_extra_set(c, name, json, strlen(json));
		pcref_free(json);
		if (rc < 0)
			return rc;
	}
	return PCREF_OK;
}

int pcref__canon_of_referral(pcref_opportunity **out, const pcref_referral *r, const pcref_mapping *m)
{
	pcref_opportunity *c;
	double value = pcref_referral_deal_value(r);
	int64_t close = pcref_referral_closing_time(r);
	int share = pcref_referral_consent(r, PCREF_CONSENT_SHARE_WITH_MICROSOFT_SELLERS), rc;
	if ((rc = pcref_opportunity_new(&c)) < 0)
		return rc;
	if ((rc = set_text(c, PCREF_FIELD_NAME, pcref_referral_name(r))) < 0 ||
	    (!isnan(value) && (rc = pcref_opportunity_set_number(c, PCREF_FIELD_DEAL_VALUE, value)) < 0) ||
	    (rc = set_text(c, PCREF_FIELD_CURRENCY, pcref_referral_currency(r))) < 0 ||
	    (close != PCREF_TIME_NONE &&
	     (rc = pcref_opportunity_set_time(c, PCREF_FIELD_CLOSE_DATE, pcref__day(close))) < 0) ||
	    (rc = set_text(c, PCREF_FIELD_NOTES, pcref_referral_notes(r))) < 0 ||
	    (rc = set_text(c, PCREF_FIELD_HELP, pcref_referral_assistance_request_code(r))) < 0 ||
	    (rc = pcref_opportunity_set_flag(c, PCREF_FIELD_VISIBILITY, share == 1)) < 0 ||
	    (rc = set_text(c, PCREF_FIELD_MICROSOFT_CRM_ID, pcref_referral_microsoft_msx_id(r))) < 0 ||
	    (rc = pcref__canon_set_lc(c, pcref__lc_of_referral(r))) < 0 ||
	    (rc = canon_extras_of_referral(c, r, m)) < 0)
		goto fail;
	for (size_t i = 0, n = pcref_referral_solution_count(r); i < n; i++)
		if ((rc = pcref_opportunity_solution_add(c, pcref_referral_solution_id(r, i),
		                                         pcref_referral_solution_name(r, i))) < 0)
			goto fail;
	*out = c;
	return PCREF_OK;
fail:
	pcref_opportunity_free(c);
	return rc;
}

int pcref__canon_of_opportunity(pcref_opportunity **out, const pcref_opportunity *o, const pcref_mapping *m,
                                int pending_before)
{
	pcref_opportunity *c;
	char *name = NULL;
	int rc;
	if ((rc = pcref_opportunity_new(&c)) < 0)
		return rc;
	for (size_t i = 0; i < pcref__merge_field_count; i++) {
		int f = pcref__merge_fields[i];
		if (!pcref_opportunity_has(o, f))
			continue;
		switch (pcref_opportunity_field_kind(f)) {
		case PCREF_KIND_TEXT:
			if (f == PCREF_FIELD_NAME) {
				if (!(name = pcref__name_unmarked(pcref_opportunity_text(o, f)))) {
					rc = pcref__error_nomem();
					goto fail;
				}
				rc = set_text(c, f, name);
				pcref__dealloc(name);
			} else {
				rc = set_text(c, f, pcref_opportunity_text(o, f));
			}
			break;
		case PCREF_KIND_NUMBER:
			rc = pcref_opportunity_set_number(c, f, pcref_opportunity_number(o, f));
			break;
		case PCREF_KIND_TIME:
			rc = pcref_opportunity_set_time(c, f, pcref__day(pcref_opportunity_time(o, f)));
			break;
		default:
			rc = pcref_opportunity_set_flag(c, f, pcref_opportunity_flag(o, f));
		}
		if (rc < 0)
			goto fail;
	}
	/* a record that says nothing is not visible to Microsoft sellers */
	if (!pcref_opportunity_has(c, PCREF_FIELD_VISIBILITY) &&
	    (rc = pcref_opportunity_set_flag(c, PCREF_FIELD_VISIBILITY, 0)) < 0)
		goto fail;
	for (size_t i = 0, n = pcref_opportunity_solution_count(o); i < n; i++)
		if ((rc = pcref_opportunity_solution_add(c, pcref_opportunity_solution_id(o, i),
		                                         pcref_opportunity_solution_name(o, i))) < 0)
			goto fail;
	if ((rc = pcref__canon_set_lc(c, pcref__lc_of_opportunity(o, m, pending_before))) < 0 ||
	    (rc = canon_extras_of_opportunity(c, o, m)) < 0)
		goto fail;
	*out = c;
	return PCREF_OK;
fail:
	pcref_opportunity_free(c);
	return rc;
}

int pcref__canon_equal(const pcref_opportunity *a, const pcref_opportunity *b, int field)
{
	int ha = pcref_opportunity_has(a, field), hb = pcref_opportunity_has(b, field);
	if (!ha || !hb)
		return ha == hb;
	switch (pcref_opportunity_field_kind(field)) {
	case PCREF_KIND_NUMBER: /* money: equal to the cent */
		return fabs(pcref_opportunity_number(a, field) - pcref_opportunity_number(b, field)) < 0.005;
	case PCREF_KIND_TIME:
		return pcref__day(pcref_opportunity_time(a, field)) == pcref__day(pcref_opportunity_time(b, field));
	default:
		return pcref_opportunity_field_equal(a, b, field);
	}
}

/* ---- creates ------------------------------------------------------------------ */

static int copy_canon(pcref_opportunity *o, const pcref_opportunity *c)
{
	int rc = PCREF_OK;
	for (size_t i = 0; i < pcref__merge_field_count && rc == PCREF_OK; i++)
		rc = pcref__opportunity_copy_field(o, c, pcref__merge_fields[i]);
	for (size_t i = 0, n = pcref_opportunity_solution_count(c); i < n && rc == PCREF_OK; i++)
		rc = pcref_opportunity_solution_add(o, pcref_opportunity_solution_id(c, i),
		                                    pcref_opportunity_solution_name(c, i));
	for (size_t i = 0, n = pcref_opportunity_extra_count(c); i < n && rc == PCREF_OK; i++) {
		const char *name = pcref_opportunity_extra_name(c, i);
		char *json = NULL;
		if (strcmp(name, PCREF__LC_FIELD) == 0)
			continue;
		if ((rc = pcref_opportunity_extra_get(c, name, &json)) == PCREF_OK)
			rc = pcref_opportunity_extra_set(o, name, json, strlen(json));
		pcref_free(json);
	}
	return rc;
}

/* a default is text as the Mapping holds it; numbers, true, false
 * and null are written as such, anything else as a string. */
static int set_default(pcref_opportunity *o, const char *column, const char *value)
{
	pcref__buf b = PCREF__BUF_INIT;
	pcref__json *probe = NULL;
	char *json = NULL;
	int rc;
	if (pcref__json_parse(&probe, value, strlen(value), "a default") == PCREF_OK &&
	    probe->type != PCREF__JSON_STRING && probe->type != PCREF__JSON_OBJECT &&
	    probe->type != PCREF__JSON_ARRAY) {
		pcref__json_free(probe);
		return pcref_opportunity_extra_set(o, column, value, strlen(value));
	}
	pcref__json_free(probe);
	pcref_error_clear();
	pcref__json_write_string(&b, value, strlen(value));
	if ((rc = pcref__buf_detach(&b, &json, NULL)) == PCREF_OK)
		rc = pcref_opportunity_extra_set(o, column, json, strlen(json));
	pcref__dealloc(json);
	return rc;
}

int pcref__opportunity_of_referral(pcref_opportunity **out, const pcref_referral *r, const pcref_mapping *m,
                                   const char *link_base, int lead)
{
	pcref_opportunity *o = NULL, *c = NULL;
	const char *record = lead ? "lead" : "opportunity";
	pcref__buf link = PCREF__BUF_INIT;
	char *link_text = NULL;
	int lc = pcref__lc_of_referral(r), rc;
	if ((rc = pcref__canon_of_referral(&c, r, m)) < 0 || (rc = pcref_opportunity_new(&o)) < 0)
		goto done;
	pcref__buf_puts(&link, link_base);
	pcref__buf_puts(&link, pcref_referral_id(r));
	if ((rc = pcref__buf_detach(&link, &link_text, NULL)) < 0 ||
	    (rc = copy_canon(o, c)) < 0 ||
	    (rc = pcref_opportunity_set_flag(o, PCREF_FIELD_SYNC, 1)) < 0 ||          /* */
	    (rc = set_text(o, PCREF_FIELD_REFERRAL_ID, pcref_referral_id(r))) < 0 ||   /* */
	    (rc = set_text(o, PCREF_FIELD_REFERRAL_LINK, link_text)) < 0 ||            /* */
	    (rc = set_text(o, PCREF_FIELD_ACCOUNT_NAME, pcref_referral_customer_name(r))) < 0 ||
	    (rc = set_text(o, PCREF_FIELD_ACCOUNT_COUNTRY, pcref_referral_address_country(r))) < 0 ||
	    (rc = set_text(o, PCREF_FIELD_ACCOUNT_POSTAL_CODE, pcref_referral_address_postal_code(r))) < 0 ||
	    (rc = set_text(o, PCREF_FIELD_ACCOUNT_CITY, pcref_referral_address_city(r))) < 0 ||
	    (rc = set_text(o, PCREF_FIELD_ACCOUNT_STATE, pcref_referral_address_state(r))) < 0 ||
	    (rc = set_text(o, PCREF_FIELD_ACCOUNT_ADDRESS1, pcref_referral_address_line1(r))) < 0 ||
	    (rc = set_text(o, PCREF_FIELD_ACCOUNT_ADDRESS2, pcref_referral_address_line2(r))) < 0)
		goto done;
	if (pcref_referral_member_count(r, PCREF_MEMBERS_CUSTOMER) > 0 &&
	    ((rc = set_text(o, PCREF_FIELD_CONTACT_FIRST_NAME,
	                    pcref_referral_member_first_name(r, PCREF_MEMBERS_CUSTOMER, 0))) < 0 ||
	     (rc = set_text(o, PCREF_FIELD_CONTACT_LAST_NAME,
	                    pcref_referral_member_last_name(r, PCREF_MEMBERS_CUSTOMER, 0))) < 0 ||
	     /* a lost seller-inbound referral has no email: fine */
	     (rc = set_text(o, PCREF_FIELD_CONTACT_EMAIL,
	                    pcref_referral_member_email(r, PCREF_MEMBERS_CUSTOMER, 0))) < 0 ||
	     (rc = set_text(o, PCREF_FIELD_CONTACT_PHONE,
	                    pcref_referral_member_phone(r, PCREF_MEMBERS_CUSTOMER, 0))) < 0))
		goto done;
	if (lead) {
		rc = pcref_opportunity_set_flag(o, PCREF_FIELD_IS_LEAD, 1);
	} else {
		/* not yet accepted → the on-hold stage; accepted → the active one */
		const char *stage = pcref_mapping_stage(m, lc == PCREF__LC_PENDING ? PCREF_STAGE_ON_HOLD
		                                                                    : PCREF_STAGE_ACTIVE);
		rc = set_text(o, PCREF_FIELD_STAGE, stage);
	}
	for (size_t i = 0, n = pcref_mapping_required_default_count(m, record); i < n && rc == PCREF_OK; i++) {
		const char *col = pcref_mapping_required_default_column(m, record, i);
		rc = set_default(o, col, pcref_mapping_required_default(m, record, col));  /* */
	}
done:
	pcref__dealloc(link_text);
	pcref_opportunity_free(c);
	if (rc < 0) {
		pcref_opportunity_free(o);
		return rc;
	}
	*out = o;
	return PCREF_OK;
}

static const char *text(const pcref_opportunity *o, int field)
{
	const char *v = pcref_opportunity_text(o, field);
	return v && *v ? v : NULL;
}

int pcref__referral_of_opportunity(pcref_referral **out, const pcref_opportunity *o)
{
	pcref_referral *r = NULL;
	const char *country = text(o, PCREF_FIELD_ACCOUNT_COUNTRY), *help = text(o, PCREF_FIELD_HELP);
	const char *currency = text(o, PCREF_FIELD_CURRENCY), *id = text(o, PCREF_FIELD_ID);
	const char *first = text(o, PCREF_FIELD_CONTACT_FIRST_NAME), *last = text(o, PCREF_FIELD_CONTACT_LAST_NAME);
	const char *email = text(o, PCREF_FIELD_CONTACT_EMAIL);
	double value = pcref_opportunity_number(o, PCREF_FIELD_DEAL_VALUE);
	int visible = help || pcref_opportunity_flag(o, PCREF_FIELD_VISIBILITY) == 1, rc;
	char *name;
	/* what the connector refuses, with the audit message it deserves */
	if (!country || pcref_country_check(country) < 0)
		return pcref__error(PCREF_EINVALID, "the account's country %s%s%s is not a two-letter ISO 3166 code "
			"(R-12): Partner Center needs one to create the referral — set it on the account, or map the "
			"country field to one that holds the code", country ? "'" : "", country ? country : "is empty",
			country ? "'" : "");
	if (!pcref_opportunity_has(o, PCREF_FIELD_DEAL_VALUE) || isnan(value) || value <= 0)
		return pcref__error(PCREF_EINVALID, "the deal value is empty or 0 (R-14): Partner Center needs the "
			"estimated revenue — fill it in (a calculated deal value must not be 0 when it is pushed)");
	if (!currency || pcref_currency_check(currency) < 0)
		return pcref__error(PCREF_EINVALID, "the opportunity has no valid currency (R-14): set its currency");
	if (help && (!(first || last || email) || pcref_opportunity_solution_count(o) == 0))
		return pcref__error(PCREF_EINVALID, "co-sell needs a customer contact and at least one solution (R-11): "
			"%s — nothing was sent to Partner Center",
			!(first || last || email) ? (pcref_opportunity_solution_count(o) ? "add the customer contact"
			                                                                    : "add the customer contact and a solution")
			                          : "add a Microsoft solution");
	if ((rc = pcref_referral_new(&r)) < 0)
		return rc;
	if (!(name = pcref__name_unmarked(text(o, PCREF_FIELD_NAME) ? text(o, PCREF_FIELD_NAME) : "Opportunity"))) {
		rc = pcref__error_nomem();
		goto fail;
	}
	rc = pcref_referral_set_name(r, name);
	pcref__dealloc(name);
	if (rc < 0 ||
	    (id && (rc = pcref_referral_set_external_reference_id(r, id)) < 0) ||
	    (rc = pcref_referral_set_type(r, help ? "Shared" : "Independent")) < 0 ||
	    (rc = pcref_referral_set_qualification(r, "SalesQualified")) < 0 ||
	    (rc = pcref_referral_set_status(r, "New", "Pending")) < 0 ||
	    (rc = pcref_referral_set_customer_name(r, text(o, PCREF_FIELD_ACCOUNT_NAME)
	                                              ? text(o, PCREF_FIELD_ACCOUNT_NAME) : "Customer")) < 0 ||
	    (rc = pcref_referral_set_address_country(r, country)) < 0 ||
	    (text(o, PCREF_FIELD_ACCOUNT_POSTAL_CODE) &&
	     (rc = pcref_referral_set_address_postal_code(r, text(o, PCREF_FIELD_ACCOUNT_POSTAL_CODE))) < 0) ||
	    (text(o, PCREF_FIELD_ACCOUNT_CITY) &&
	     (rc = pcref_referral_set_address_city(r, text(o, PCREF_FIELD_ACCOUNT_CITY))) < 0) ||
	    (text(o, PCREF_FIELD_ACCOUNT_STATE) &&
	     (rc = pcref_referral_set_address_state(r, text(o, PCREF_FIELD_ACCOUNT_STATE))) < 0) ||
	    (text(o, PCREF_FIELD_ACCOUNT_ADDRESS1) &&
	     (rc = pcref_referral_set_address_line1(r, text(o, PCREF_FIELD_ACCOUNT_ADDRESS1))) < 0) ||
	    (rc = pcref_referral_set_consent(r, PCREF_CONSENT_SHARE_INFO_WITH_OTHERS, 1)) < 0 ||
	    (rc = pcref_referral_set_consent(r, PCREF_CONSENT_CONTACT, 1)) < 0 ||
	    (rc = pcref_referral_set_consent(r, PCREF_CONSENT_SHARE_WITH_MICROSOFT_SELLERS, visible)) < 0 || /* */
	    (rc = pcref_referral_set_deal_value(r, value)) < 0 ||
	    (rc = pcref_referral_set_currency(r, currency)) < 0 ||
	    (pcref_opportunity_has(o, PCREF_FIELD_CLOSE_DATE) &&
	     (rc = pcref_referral_set_closing_time(r, pcref_opportunity_time(o, PCREF_FIELD_CLOSE_DATE))) < 0) ||
	    (rc = pcref_referral_set_notes(r, text(o, PCREF_FIELD_NOTES) ? text(o, PCREF_FIELD_NOTES) : "")) < 0 ||
	    (help && (rc = pcref_referral_set_assistance_request_code(r, help)) < 0))
		goto fail;
	if ((first || last || email) &&
	    (rc = pcref_referral_member_add(r, PCREF_MEMBERS_CUSTOMER, first, last, email,
	                                    text(o, PCREF_FIELD_CONTACT_PHONE))) < 0)
		goto fail;
	if (text(o, PCREF_FIELD_OWNER_EMAIL) &&
	    (rc = pcref_referral_member_add(r, PCREF_MEMBERS_PARTNER, NULL, NULL, text(o, PCREF_FIELD_OWNER_EMAIL),
	                                    NULL)) < 0)
		goto fail;
	for (size_t i = 0, n = pcref_opportunity_solution_count(o); i < n; i++)
		if ((rc = pcref_referral_solution_add(r, pcref_opportunity_solution_id(o, i),
		                                      pcref_opportunity_solution_name(o, i), "Name")) < 0)
			goto fail;
	*out = r;
	return PCREF_OK;
fail:
	pcref_referral_free(r);
	return rc;
}

/* ---- writing canonical values into a referral ------------------------------------ */

int pcref__referral_set_canon(pcref_referral *r, const pcref_opportunity *c, int field)
{
	const char *t = pcref_opportunity_text(c, field);
	switch (field) {
	case -1:
		while (pcref_referral_solution_count(r) > 0) {
			int rc = pcref_referral_solution_remove(r, 0);
			if (rc < 0)
				return rc;
		}
		for (size_t i = 0, n = pcref_opportunity_solution_count(c); i < n; i++) {
			int rc = pcref_referral_solution_add(r, pcref_opportunity_solution_id(c, i),
			                                     pcref_opportunity_solution_name(c, i), "Name");
			if (rc < 0)
				return rc;
		}
		return PCREF_OK;
	case PCREF_FIELD_NAME: return pcref_referral_set_name(r, t);
	case PCREF_FIELD_DEAL_VALUE:
		return pcref_opportunity_has(c, field) ? pcref_referral_set_deal_value(r, pcref_opportunity_number(c, field))
		                                       : PCREF_OK;
	case PCREF_FIELD_CURRENCY: return t ? pcref_referral_set_currency(r, t) : PCREF_OK;
	case PCREF_FIELD_CLOSE_DATE: return pcref_referral_set_closing_time(r, pcref_opportunity_time(c, field));
	case PCREF_FIELD_NOTES: return pcref_referral_set_notes(r, t);
	case PCREF_FIELD_HELP: return pcref_referral_set_assistance_request_code(r, t);
	case PCREF_FIELD_VISIBILITY:
		return pcref_referral_set_consent(r, PCREF_CONSENT_SHARE_WITH_MICROSOFT_SELLERS,
		                                  pcref_opportunity_flag(c, field) == 1);
	default:
		return PCREF_OK; /* Microsoft-owned fields are never written to Partner Center */
	}
}

int pcref__referral_set_lc(pcref_referral *r, int lc, const char *reason)
{
	int rc;
	switch (lc) {
	case PCREF__LC_ACTIVE: return pcref_referral_set_status(r, "Active", "Accepted");
	case PCREF__LC_WON: return pcref_referral_set_status(r, "Closed", "Won");
	case PCREF__LC_LOST:
	case PCREF__LC_DECLINED:
		rc = pcref_referral_set_status(r, "Closed", lc == PCREF__LC_LOST ? "Lost" : "Declined");
		return rc < 0 || !reason ? rc : pcref_referral_set_status_reason(r, reason);
	default:
		return pcref__error(PCREF_EINVALID, "a referral cannot be moved back to %s", pcref__lc_name(lc));
	}
}
