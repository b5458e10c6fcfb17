/* The Mapping handle: per-backend defaults reproducing the reference
 * connector (connector-behaviour.md,
 * ), overridable by a JSON document whose
 * schema doc/mapping.md describes. Held as one JSON document with the
 * defaults merged in, so writing it back shows the complete configuration. */
#include <stdio.h>
#include <string.h>

#include "opportunity_internal.h"
#include "pcref/mapping.h"

struct pcref_mapping {
	pcref__json *doc;
};

/* The Microsoft co-sell connector's opportunity columns on Dynamics 365. Their
 * logical names are not published (crm-apis.md A.16: the msft_ prefix is
 * UNCONFIRMED); these are the names the connector's documentation implies,
 * and every one can be changed in the mapping document. */
static const char dynamics_defaults[] =
	"{\"backend\":\"dynamics\","
	"\"columns\":{\"id\":\"opportunityid\",\"name\":\"name\",\"deal_value\":\"estimatedvalue\","
	"\"currency\":\"transactioncurrencyid\",\"close_date\":\"estimatedclosedate\",\"stage\":\"stepname\","
	"\"state\":\"statecode\",\"account_id\":\"parentaccountid\",\"account_name\":\"name\","
	"\"account_country\":\"address1_country\",\"account_postal_code\":\"address1_postalcode\","
	"\"account_city\":\"address1_city\",\"account_state\":\"address1_stateorprovince\","
	"\"account_address1\":\"address1_line1\",\"account_address2\":\"address1_line2\","
	"\"contact_id\":\"parentcontactid\",\"contact_first_name\":\"firstname\",\"contact_last_name\":\"lastname\","
	"\"contact_email\":\"emailaddress1\",\"contact_phone\":\"telephone1\",\"notes\":\"description\","
	"\"sync\":\"msft_microsoftpartnercenterreferralsync\","
	"\"referral_id\":\"msft_microsoftpartnercenterreferralidentifier\","
	"\"referral_link\":\"msft_microsoftpartnercenterreferrallink\","
	"\"help\":\"msft_microsoftpartnercenterhelp\",\"visibility\":\"msft_microsoftpartnercentervisibility\","
	"\"microsoft_crm_id\":\"msft_microsoftcrmidentifier\","
	"\"audit\":\"msft_microsoftpartnercenterreferralsyncaudit\",\"owner_email\":\"ownerid\","
	"\"close_reason\":\"description\",\"modified_time\":\"modifiedon\",\"version\":\"@odata.etag\"},"
	"\"entities\":{\"opportunity\":\"opportunities\",\"account\":\"accounts\",\"contact\":\"contacts\","
	"\"lead\":\"leads\",\"currency\":\"transactioncurrencies\",\"user\":\"systemusers\","
	"\"solution\":\"msft_mpcsolutions\"},"
	"\"stages\":{\"on_hold\":\"On Hold\",\"active\":\"Qualify\",\"won\":\"Won\",\"lost\":\"Lost\"},"
	"\"sync_cosell_only\":false}";

/* Salesforce: standard fields and objects per crm-apis.md B.11; the
 * Microsoft package's custom fields as B.12 lists them, with the
 * documentation's typos corrected to the usual __c form, and its solutions
 * object (label "Microsoft Partner Center Solutions") with assumed field
 * names. None of the package's API names is published (crm-apis.md C.2):
 * they are UNCONFIRMED defaults, every one overridable in the mapping
 * document. Stage names are the org's own StageName values; a new
 * opportunity without a stage gets the active one (StageName is required,
 * R-28), a lead without a company "[not provided]" (Company is required).
 * api_version is the REST API version the backend calls; external_id the
 * External ID field creates upsert on (B.3: the package's Referral
 * Identifier is one, B.12), null for plain creates. */
static const char salesforce_defaults[] =
	"{\"backend\":\"salesforce\","
	"\"columns\":{\"id\":\"Id\",\"name\":\"Name\",\"deal_value\":\"Amount\",\"currency\":\"CurrencyIsoCode\","
	"\"close_date\":\"CloseDate\",\"stage\":\"StageName\",\"account_id\":\"AccountId\",\"account_name\":\"Name\","
	"\"account_country\":\"BillingCountry\",\"account_postal_code\":\"BillingPostalCode\","
	"\"account_city\":\"BillingCity\",\"account_state\":\"BillingState\",\"account_address1\":\"BillingStreet\","
	"\"contact_id\":\"ContactId\",\"contact_first_name\":\"FirstName\",\"contact_last_name\":\"LastName\","
	"\"contact_email\":\"Email\",\"contact_phone\":\"Phone\",\"notes\":\"Description\","
	"\"sync\":\"Sync_with_Partner_Center__c\",\"referral_id\":\"Referral_Identifier__c\","
	"\"referral_link\":\"Referral_Link__c\",\"help\":\"How_can_Microsoft_help__c\","
	"\"visibility\":\"Referral_Visibility__c\",\"microsoft_crm_id\":\"Microsoft_CRM_Identifier__c\","
	"\"audit\":\"Audit__c\",\"owner_email\":\"OwnerId\",\"modified_time\":\"SystemModstamp\","
	"\"version\":\"LastModifiedDate\"},"
	"\"entities\":{\"opportunity\":\"Opportunity\",\"account\":\"Account\",\"contact\":\"Contact\","
	"\"lead\":\"Lead\",\"currency\":\"CurrencyType\",\"user\":\"User\","
	"\"solution\":\"Microsoft_Partner_Center_Solution__c\",\"contact_role\":\"OpportunityContactRole\","
	"\"team_member\":\"OpportunityTeamMember\"},"
	"\"solution_columns\":{\"id\":\"Solution_Identifier__c\",\"name\":\"Name\",\"opportunity\":\"Opportunity__c\"},"
	"\"api_version\":\"v60.0\",\"external_id\":\"Referral_Identifier__c\","
	"\"stages\":{\"on_hold\":\"On Hold\",\"active\":\"Qualification\",\"won\":\"Closed Won\","
	"\"lost\":\"Closed Lost\"},"
	"\"required_defaults\":{\"opportunity\":{\"StageName\":\"Qualification\"},"
	"\"lead\":{\"Company\":\"[not provided]\"}},"
	"\"sync_cosell_only\":true}";

static const char memory_defaults[] =
	"{\"backend\":\"memory\",\"columns\":{},"
	"\"entities\":{\"opportunity\":\"opportunity\",\"account\":\"account\",\"contact\":\"contact\","
	"\"lead\":\"lead\",\"currency\":\"currency\",\"user\":\"user\",\"solution\":\"solution\"},"
	"\"stages\":{\"on_hold\":\"On Hold\",\"active\":\"Active\",\"won\":\"Won\",\"lost\":\"Lost\"},"
	"\"sync_cosell_only\":false}";

/* Settings every backend shares; the backend's defaults are merged over them. */
static const char common_defaults[] =
	"{\"check_mark\":true,\"account_match\":[\"account_name\",\"account_postal_code\"],"
	"\"required_defaults\":{\"opportunity\":{},\"lead\":{}},\"extra\":[],"
	"\"conflicts\":{\"default\":\"newest\","
	"\"partner_center\":[\"referral_id\",\"referral_link\",\"microsoft_crm_id\",\"visibility\",\"help\"],"
	"\"crm\":[\"stage\",\"owner_email\",\"sync\",\"audit\"]}}";

static const char *const roles[] = { "opportunity", "account", "contact", "lead", "currency", "user", "solution",
	"contact_role", "team_member" };
static const char *const solution_keys[] = { "id", "name", "opportunity" };
static const char *const stage_keys[] = { "on_hold", "active", "won", "lost" };
static const char *const option_keys[] = { "check_mark", "sync_cosell_only" };
static const char *const records[] = { "opportunity", "lead" };
static const char *const directions[] = { "both", "to_crm", "to_pc" };
static const char *const winners[] = { "newest", "partner_center", "crm" };
static const char *const settings[] = {
	"backend", "columns", "entities", "stages", "check_mark", "sync_cosell_only", "account_match",
	"required_defaults", "extra", "conflicts", "api_version", "solution_columns",
	"external_id",
};

static int index_of(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; s && i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return (int)i;
	return -1;
}
#define INDEX_OF(s, list) index_of((s), (list), PCREF__ARRAY_LEN(list))

static int bad(const char *path, const char *fmt_what)
{
	return pcref__error(PCREF_EINVALID, "mapping %s: %s", path, fmt_what);
}

/* Merge src's members into dst (objects one level deep; others replaced). */
static int merge(pcref__json *dst, const pcref__json *src, int deep)
{
	for (size_t i = 0; i < src->u.obj.len; i++) {
		pcref__json *d = pcref__json_get(dst, src->u.obj.keys[i]);
		const pcref__json *s = src->u.obj.values[i];
		int rc;
		if (deep && d && d->type == PCREF__JSON_OBJECT && s->type == PCREF__JSON_OBJECT)
			rc = merge(d, s, deep - 1);
		else
			rc = pcref__json_set(dst, src->u.obj.keys[i], pcref__json_dup(s));
		if (rc < 0)
			return rc;
	}
	return PCREF_OK;
}

static int check_field_list(const pcref__json *arr, const char *path, int accounts_only)
{
	char p[96];
	if (arr->type != PCREF__JSON_ARRAY)
		return bad(path, "must be an array of field names");
	for (size_t i = 0; i < arr->u.arr.len; i++) {
		const char *name = pcref__json_string(arr->u.arr.items[i]);
		int f = pcref_opportunity_field_lookup(name);
		snprintf(p, sizeof(p), "%s/%zu", path, i);
		if (f < 0)
			return pcref__error(PCREF_EINVALID, "mapping %s: '%s' is not a field name (see doc/mapping.md)",
			                    p, name ? name : "(not a string)");
		if (accounts_only && (f < PCREF_FIELD_ACCOUNT_NAME || f > PCREF_FIELD_ACCOUNT_ADDRESS2))
			return pcref__error(PCREF_EINVALID, "mapping %s: '%s' is not an account field (account_*)", p, name);
	}
	return PCREF_OK;
}

static int check_strings(const pcref__json *obj, const char *path, const char *const *keys, size_t nkeys,
                         int allow_null, int any_field_key)
{
	char p[128];
	if (obj->type != PCREF__JSON_OBJECT)
		return bad(path, "must be an object");
	for (size_t i = 0; i < obj->u.obj.len; i++) {
		const char *k = obj->u.obj.keys[i];
		const pcref__json *v = obj->u.obj.values[i];
		snprintf(p, sizeof(p), "%s/%s", path, k);
		if (any_field_key ? pcref_opportunity_field_lookup(k) < 0 : index_of(k, keys, nkeys) < 0)
			return pcref__error(PCREF_EINVALID, "mapping %s: unknown %s", p,
			                    any_field_key ? "field (see doc/mapping.md for the names)" : "key");
		if (!(v->type == PCREF__JSON_STRING && v->u.str.len) && !(allow_null && v->type == PCREF__JSON_NULL))
			return bad(p, allow_null ? "must be a CRM field name or null" : "must be a non-empty string");
	}
	return PCREF_OK;
}

/* "v60.0": a 'v', digits, a dot, digits. */
static int api_version_ok(const char *s)
{
	size_t n;
	if (!s || s[0] != 'v' || !(n = strspn(s + 1, "0123456789")) || s[1 + n] != '.')
		return 0;
	s += 2 + n;
	return (n = strspn(s, "0123456789")) > 0 && s[n] == '\0';
}

static int check_doc(const pcref__json *doc)
{
	const pcref__json *v;
	char p[96];
	int rc;
	if (doc->type != PCREF__JSON_OBJECT)
		return bad("document", "must be a JSON object");
	for (size_t i = 0; i < doc->u.obj.len; i++)
		if (INDEX_OF(doc->u.obj.keys[i], settings) < 0)
			return pcref__error(PCREF_EINVALID, "mapping /%s: unknown setting", doc->u.obj.keys[i]);
	if ((v = pcref__json_get(doc, "columns")) && (rc = check_strings(v, "/columns", NULL, 0, 1, 1)) < 0)
		return rc;
	if ((v = pcref__json_get(doc, "entities")) &&
	    (rc = check_strings(v, "/entities", roles, PCREF__ARRAY_LEN(roles), 0, 0)) < 0)
		return rc;
	if ((v = pcref__json_get(doc, "solution_columns")) &&
	    (rc = check_strings(v, "/solution_columns", solution_keys, PCREF__ARRAY_LEN(solution_keys), 0, 0)) < 0)
		return rc;
	if ((v = pcref__json_get(doc, "api_version")) && !api_version_ok(pcref__json_string(v)))
		return bad("/api_version", "must be a Salesforce REST API version such as \"v60.0\"");
	if ((v = pcref__json_get(doc, "external_id")) && v->type != PCREF__JSON_NULL &&
	    !(v->type == PCREF__JSON_STRING && v->u.str.len))
		return bad("/external_id", "must name the External ID field to upsert on, or be null");
	if ((v = pcref__json_get(doc, "stages")) &&
	    (rc = check_strings(v, "/stages", stage_keys, PCREF__ARRAY_LEN(stage_keys), 0, 0)) < 0)
		return rc;
	for (size_t i = 0; i < PCREF__ARRAY_LEN(option_keys); i++)
		if ((v = pcref__json_get(doc, option_keys[i])) && v->type != PCREF__JSON_BOOL) {
			snprintf(p, sizeof(p), "/%s", option_keys[i]);
			return bad(p, "must be true or false");
		}
	if ((v = pcref__json_get(doc, "account_match")) &&
	    ((rc = check_field_list(v, "/account_match", 1)) < 0 ||
	     (v->u.arr.len == 0 && (rc = bad("/account_match", "needs at least one field")) < 0)))
		return rc;
	if ((v = pcref__json_get(doc, "required_defaults"))) {
		if (v->type != PCREF__JSON_OBJECT)
			return bad("/required_defaults", "must be an object");
		for (size_t i = 0; i < v->u.obj.len; i++) {
			snprintf(p, sizeof(p), "/required_defaults/%s", v->u.obj.keys[i]);
			if (INDEX_OF(v->u.obj.keys[i], records) < 0)
				return bad(p, "unknown record (use opportunity or lead)");
			if (v->u.obj.values[i]->type != PCREF__JSON_OBJECT)
				return bad(p, "must be an object of CRM field: value");
		}
	}
	if ((v = pcref__json_get(doc, "extra"))) {
		if (v->type != PCREF__JSON_ARRAY)
			return bad("/extra", "must be an array");
		for (size_t i = 0; i < v->u.arr.len; i++) {
			const pcref__json *e = v->u.arr.items[i], *d;
			const char *ptr = pcref__json_string(pcref__json_get(e, "referral"));
			snprintf(p, sizeof(p), "/extra/%zu", i);
			if (e->type != PCREF__JSON_OBJECT)
				return bad(p, "must be an object {\"referral\",\"crm\",\"direction\"}");
			if (!ptr || ptr[0] != '/')
				return pcref__error(PCREF_EINVALID,
					"mapping %s/referral: must be a JSON Pointer into the referral, e.g. /customerProfile/size", p);
			if (!pcref__json_string(pcref__json_get(e, "crm")))
				return pcref__error(PCREF_EINVALID, "mapping %s/crm: must name the CRM field", p);
			if ((d = pcref__json_get(e, "direction")) && INDEX_OF(pcref__json_string(d), directions) < 0)
				return pcref__error(PCREF_EINVALID, "mapping %s/direction: use both, to_crm or to_pc", p);
		}
	}
	if ((v = pcref__json_get(doc, "conflicts"))) {
		const pcref__json *d;
		if (v->type != PCREF__JSON_OBJECT)
			return bad("/conflicts", "must be an object");
		for (size_t i = 0; i < v->u.obj.len; i++)
			if (INDEX_OF(v->u.obj.keys[i], winners) < 0 && strcmp(v->u.obj.keys[i], "default") != 0)
				return pcref__error(PCREF_EINVALID, "mapping /conflicts/%s: unknown key", v->u.obj.keys[i]);
		if ((d = pcref__json_get(v, "default")) && INDEX_OF(pcref__json_string(d), winners) < 0)
			return bad("/conflicts/default", "use newest, partner_center or crm");
		if ((d = pcref__json_get(v, "partner_center")) && (rc = check_field_list(d, "/conflicts/partner_center", 0)) < 0)
			return rc;
		if ((d = pcref__json_get(v, "crm")) && (rc = check_field_list(d, "/conflicts/crm", 0)) < 0)
			return rc;
	}
	return PCREF_OK;
}

static int build(pcref_mapping **out, const char *backend, const pcref__json *overrides)
{
	const char *defaults = NULL;
	pcref__json *doc = NULL, *b = NULL;
	pcref_mapping *m;
	int rc;
	if (backend && strcmp(backend, "dynamics") == 0)
		defaults = dynamics_defaults;
	else if (backend && strcmp(backend, "salesforce") == 0)
		defaults = salesforce_defaults;
	else if (backend && strcmp(backend, "memory") == 0)
		defaults = memory_defaults;
	if (!defaults)
		return pcref__error(PCREF_EINVALID,
			"mapping /backend: '%s' is not a backend libpcref has defaults for (dynamics, salesforce, memory)",
			backend ? backend : "(none)");
	if ((rc = pcref__json_parse(&doc, common_defaults, sizeof(common_defaults) - 1, "defaults")) < 0 ||
	    (rc = pcref__json_parse(&b, defaults, strlen(defaults), "defaults")) < 0 ||
	    (rc = merge(doc, b, 0)) < 0 ||
	    (overrides && (rc = merge(doc, overrides, 2)) < 0))
		goto fail;
	pcref__json_free(b);
	if (!(m = pcref__calloc(1, sizeof(*m)))) {
		pcref__json_free(doc);
		return pcref__error_nomem();
	}
	m->doc = doc;
	*out = m;
	return PCREF_OK;
fail:
	pcref__json_free(doc);
	pcref__json_free(b);
	return rc;
}

int pcref_mapping_new(pcref_mapping **out, const char *backend)
{
	if (!out)
		return pcref__error(PCREF_EINVALID, "pcref_mapping_new: out is NULL");
	return build(out, backend, NULL);
}

int pcref_mapping_load(pcref_mapping **out, const char *json, size_t len)
{
	pcref__json *doc;
	int rc;
	if (!out || !json)
		return pcref__error(PCREF_EINVALID, "pcref_mapping_load: out and json must not be NULL");
	*out = NULL;
	if ((rc = pcref__json_parse(&doc, json, len, "the mapping document")) < 0)
		return rc;
	if ((rc = check_doc(doc)) == 0) {
		const pcref__json *b = pcref__json_get(doc, "backend");
		if (b && b->type != PCREF__JSON_STRING)
			rc = bad("/backend", "must be a string");
		else
			rc = build(out, pcref__json_string(b), doc);
	}
	pcref__json_free(doc);
	return rc;
}

int pcref_mapping_to_json(const pcref_mapping *m, char **out, size_t *len)
{
	pcref__buf buf = PCREF__BUF_INIT;
	if (!m || !out)
		return pcref__error(PCREF_EINVALID, "pcref_mapping_to_json: arguments must not be NULL");
	pcref__json_write(&buf, m->doc);
	return pcref__buf_detach(&buf, out, len);
}

void pcref_mapping_free(pcref_mapping *m)
{
	if (!m)
		return;
	pcref__json_free(m->doc);
	pcref__dealloc(m);
}

static const char *str_at(const pcref_mapping *m, const char *section, const char *key)
{
	return m && key ? pcref__json_string(pcref__json_get(pcref__json_get(m->doc, section), key)) : NULL;
}

const char *pcref_mapping_backend(const pcref_mapping *m)
{
	return m ? pcref__json_string(pcref__json_get(m->doc, "backend")) : NULL;
}

const char *pcref_mapping_column(const pcref_mapping *m, int field)
{
	const char *name = pcref_opportunity_field_name(field);
	if (m && name && strcmp(pcref_mapping_backend(m), "memory") == 0 &&
	    !pcref__json_get(pcref__json_get(m->doc, "columns"), name))
		return name; /* the memory CRM uses the canonical names */
	return str_at(m, "columns", name);
}

int pcref_mapping_set_column(pcref_mapping *m, int field, const char *column)
{
	const char *name = pcref_opportunity_field_name(field);
	if (!m || !name)
		return pcref__error(PCREF_EINVALID, "pcref_mapping_set_column: unknown field %d", field);
	if (column && !*column)
		return pcref__error(PCREF_EINVALID, "a CRM field name cannot be empty (use NULL to unmap)");
	return pcref__json_set(pcref__json_get(m->doc, "columns"), name,
	                       column ? pcref__json_new_string(column, strlen(column)) : pcref__json_new(PCREF__JSON_NULL));
}

const char *pcref_mapping_entity(const pcref_mapping *m, const char *role) { return str_at(m, "entities", role); }

const char *pcref_mapping_stage(const pcref_mapping *m, int which)
{
	return which >= 0 && (size_t)which < PCREF__ARRAY_LEN(stage_keys) ? str_at(m, "stages", stage_keys[which]) : NULL;
}

int pcref_mapping_option(const pcref_mapping *m, int which)
{
	const pcref__json *v;
	if (!m || which < 0 || (size_t)which >= PCREF__ARRAY_LEN(option_keys))
		return -1;
	v = pcref__json_get(m->doc, option_keys[which]);
	return v && v->type == PCREF__JSON_BOOL ? v->u.boolean : 0;
}

size_t pcref_mapping_account_match_count(const pcref_mapping *m)
{
	const pcref__json *a = m ? pcref__json_get(m->doc, "account_match") : NULL;
	return a ? a->u.arr.len : 0;
}

int pcref_mapping_account_match(const pcref_mapping *m, size_t i)
{
	const pcref__json *a = m ? pcref__json_get(m->doc, "account_match") : NULL;
	return a && i < a->u.arr.len ? pcref_opportunity_field_lookup(pcref__json_string(a->u.arr.items[i])) : -1;
}

static const pcref__json *defaults_for(const pcref_mapping *m, const char *record)
{
	return m && record ? pcref__json_get(pcref__json_get(m->doc, "required_defaults"), record) : NULL;
}

const char *pcref_mapping_required_default(const pcref_mapping *m, const char *record, const char *column)
{
	const pcref__json *v = column ? pcref__json_get(defaults_for(m, record), column) : NULL;
	if (!v)
		return NULL;
	return v->type == PCREF__JSON_STRING || v->type == PCREF__JSON_NUMBER ? v->u.str.text
	     : v->type == PCREF__JSON_BOOL ? (v->u.boolean ? "true" : "false") : "null";
}

size_t pcref_mapping_required_default_count(const pcref_mapping *m, const char *record)
{
	const pcref__json *d = defaults_for(m, record);
	return d ? d->u.obj.len : 0;
}

const char *pcref_mapping_required_default_column(const pcref_mapping *m, const char *record, size_t i)
{
	const pcref__json *d = defaults_for(m, record);
	return d && i < d->u.obj.len ? d->u.obj.keys[i] : NULL;
}

static const pcref__json *extra_at(const pcref_mapping *m, size_t i)
{
	const pcref__json *e = m ? pcref__json_get(m->doc, "extra") : NULL;
	return e && i < e->u.arr.len ? e->u.arr.items[i] : NULL;
}

size_t pcref_mapping_extra_count(const pcref_mapping *m)
{
	const pcref__json *e = m ? pcref__json_get(m->doc, "extra") : NULL;
	return e ? e->u.arr.len : 0;
}

const char *pcref_mapping_extra_referral(const pcref_mapping *m, size_t i)
{
	return pcref__json_string(pcref__json_get(extra_at(m, i), "referral"));
}

const char *pcref_mapping_extra_crm(const pcref_mapping *m, size_t i)
{
	return pcref__json_string(pcref__json_get(extra_at(m, i), "crm"));
}

int pcref_mapping_extra_direction(const pcref_mapping *m, size_t i)
{
	const pcref__json *e = extra_at(m, i);
	int d;
	if (!e)
		return -1;
	d = INDEX_OF(pcref__json_string(pcref__json_get(e, "direction")), directions);
	return d < 0 ? PCREF_DIRECTION_BOTH : d;
}

static int listed(const pcref__json *arr, const char *name)
{
	for (size_t i = 0; arr && arr->type == PCREF__JSON_ARRAY && i < arr->u.arr.len; i++)
		if (strcmp(pcref__json_string(arr->u.arr.items[i]), name) == 0)
			return 1;
	return 0;
}

int pcref_mapping_conflict_winner(const pcref_mapping *m, int field)
{
	const pcref__json *c = m ? pcref__json_get(m->doc, "conflicts") : NULL;
	const char *name = pcref_opportunity_field_name(field);
	int d;
	if (!c || !name)
		return PCREF_WINNER_NEWEST;
	if (listed(pcref__json_get(c, "partner_center"), name))
		return PCREF_WINNER_PARTNER_CENTER;
	if (listed(pcref__json_get(c, "crm"), name))
		return PCREF_WINNER_CRM;
	d = INDEX_OF(pcref__json_string(pcref__json_get(c, "default")), winners);
	return d < 0 ? PCREF_WINNER_NEWEST : d;
}
