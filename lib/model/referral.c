/* The Referral handle: a lossless JSON document with typed accessors. */
#include <math.h>
#include <string.h>
#include <strings.h>

#include "referral_internal.h"

/* ---- the modelled fields and their types (partner-center-api.md §3) ------ */

enum kind { K_STRING, K_TIME, K_NUMBER, K_BOOL, K_OBJECT, K_ARRAY, K_OBJECT_ARRAY };

static const struct field {
	const char *pointer;
	enum kind kind;
} schema[] = {
	{ "/id", K_STRING }, { "/engagementId", K_STRING }, { "/name", K_STRING },
	{ "/externalReferenceId", K_STRING }, { "/organizationId", K_STRING },
	{ "/organizationName", K_STRING }, { "/status", K_STRING }, { "/substatus", K_STRING },
	{ "/statusReason", K_STRING }, { "/type", K_STRING }, { "/qualification", K_STRING },
	{ "/direction", K_STRING }, { "/eTag", K_STRING },
	{ "/createdDateTime", K_TIME }, { "/updatedDateTime", K_TIME },
	{ "/expirationDateTime", K_TIME }, { "/acceptedDateTime", K_TIME },
	{ "/closedDateTime", K_TIME },
	{ "/customerProfile", K_OBJECT }, { "/customerProfile/name", K_STRING },
	{ "/customerProfile/address", K_OBJECT },
	{ "/customerProfile/address/addressLine1", K_STRING },
	{ "/customerProfile/address/addressLine2", K_STRING },
	{ "/customerProfile/address/city", K_STRING },
	{ "/customerProfile/address/state", K_STRING },
	{ "/customerProfile/address/postalCode", K_STRING },
	{ "/customerProfile/address/country", K_STRING },
	{ "/customerProfile/address/region", K_STRING },
	{ "/customerProfile/size", K_STRING }, { "/customerProfile/team", K_OBJECT_ARRAY },
	{ "/consent", K_OBJECT },
	{ "/details", K_OBJECT }, { "/details/dealValue", K_NUMBER },
	{ "/details/currency", K_STRING }, { "/details/closingDateTime", K_TIME },
	{ "/details/notes", K_STRING }, { "/details/requirements", K_OBJECT },
	{ "/details/requirements/solutions", K_OBJECT_ARRAY },
	{ "/team", K_OBJECT_ARRAY },
	{ "/inviteContext", K_OBJECT }, { "/inviteContext/notes", K_STRING },
	{ "/inviteContext/invitedBy", K_OBJECT },
	{ "/inviteContext/invitedBy/organizationId", K_STRING },
	{ "/inviteContext/invitedBy/organizationName", K_STRING },
	{ "/inviteContext/assistanceRequestCode", K_STRING },
	{ "/target", K_OBJECT_ARRAY },
	{ "/trackingInfo", K_OBJECT }, { "/trackingInfo/microsoftMsxId", K_STRING },
};

/* Members of the items of the object arrays above. */
static const char *const item_strings[] = {
	"firstName", "lastName", "email", "phoneNumber", "id", "name", "type",
};

static const char *kind_name(enum kind k)
{
	switch (k) {
	case K_STRING: return "a string";
	case K_TIME: return "an ISO 8601 date-time string";
	case K_NUMBER: return "a number";
	case K_BOOL: return "a boolean";
	case K_OBJECT: return "an object";
	default: return "an array of objects";
	}
}

static int wrong(const char *pointer, enum kind k, const pcref__json *v)
{
	return pcref__error(PCREF_EPROTOCOL,
		"Partner Center referral field %s should be %s or null, but is %s",
		pointer, kind_name(k), pcref__json_type_name(v->type));
}

static int check_items(const char *pointer, const pcref__json *arr)
{
	for (size_t i = 0; i < arr->u.arr.len; i++) {
		const pcref__json *item = arr->u.arr.items[i];
		if (item->type != PCREF__JSON_OBJECT)
			return pcref__error(PCREF_EPROTOCOL,
				"Partner Center referral field %s/%zu should be an object, but is %s",
				pointer, i, pcref__json_type_name(item->type));
		for (size_t k = 0; k < PCREF__ARRAY_LEN(item_strings); k++) {
			const pcref__json *v = pcref__json_get(item, item_strings[k]);
			if (v && v->type != PCREF__JSON_STRING && v->type != PCREF__JSON_NULL)
				return pcref__error(PCREF_EPROTOCOL,
					"Partner Center referral field %s/%zu/%s should be a string or null, but is %s",
					pointer, i, item_strings[k], pcref__json_type_name(v->type));
		}
	}
	return PCREF_OK;
}

int pcref__referral_check(const pcref__json *doc)
{
	if (!doc || doc->type != PCREF__JSON_OBJECT)
		return pcref__error(PCREF_EPROTOCOL,
			"a Partner Center referral must be a JSON object, not %s",
			doc ? pcref__json_type_name(doc->type) : "nothing");
	for (size_t i = 0; i < PCREF__ARRAY_LEN(schema); i++) {
		const struct field *f = &schema[i];
		const pcref__json *v = pcref__json_pointer(doc, f->pointer);
		double d;
		int64_t ms;
		if (!v || v->type == PCREF__JSON_NULL)
			continue;
		switch (f->kind) {
		case K_STRING:
			if (v->type != PCREF__JSON_STRING)
				return wrong(f->pointer, f->kind, v);
			break;
		case K_TIME:
			if (v->type != PCREF__JSON_STRING)
				return wrong(f->pointer, f->kind, v);
			if (pcref__time_parse(v->u.str.text, &ms) < 0)
				return pcref__error_prefix(PCREF_EPROTOCOL, "Partner Center referral field %s",
				                           f->pointer);
			break;
		case K_NUMBER:
			if (pcref__json_number(v, &d) < 0)
				return wrong(f->pointer, f->kind, v);
			break;
		case K_BOOL:
			if (v->type != PCREF__JSON_BOOL)
				return wrong(f->pointer, f->kind, v);
			break;
		case K_OBJECT:
			if (v->type != PCREF__JSON_OBJECT)
				return wrong(f->pointer, f->kind, v);
			break;
		case K_ARRAY:
		case K_OBJECT_ARRAY:
			if (v->type != PCREF__JSON_ARRAY)
				return wrong(f->pointer, f->kind, v);
			if (f->kind == K_OBJECT_ARRAY && check_items(f->pointer, v) < 0)
				return PCREF_EPROTOCOL;
			break;
		}
	}
	return PCREF_OK;
}

/* ---- life cycle ------------------------------------------------------------ */

int pcref__referral_wrap(pcref_referral **out, pcref__json *doc)
{
	pcref_referral *r = pcref__calloc(1, sizeof(*r));
	if (!r) {
		pcref__json_free(doc);
		return pcref__error_nomem();
	}
	r->doc = doc;
	*out = r;
	return PCREF_OK;
}

int pcref_referral_new(pcref_referral **out)
{
	if (!out)
		return pcref__error(PCREF_EINVALID, "pcref_referral_new: out is NULL");
	return pcref__referral_wrap(out, pcref__json_new(PCREF__JSON_OBJECT));
}

int pcref_referral_parse(pcref_referral **out, const char *json, size_t len)
{
	pcref__json *doc;
	int rc;
	if (!out || !json)
		return pcref__error(PCREF_EINVALID, "pcref_referral_parse: out and json must not be NULL");
	*out = NULL;
	if (len > PCREF_REFERRAL_MAX_SIZE)
		return pcref__error(PCREF_EINVALID,
			"a Partner Center referral of %zu bytes is larger than the %u bytes libpcref accepts; "
			"this is not a single referral", len, PCREF_REFERRAL_MAX_SIZE);
	if ((rc = pcref__json_parse(&doc, json, len, "the Partner Center referral")) < 0)
		return rc;
	if ((rc = pcref__referral_check(doc)) < 0) {
		pcref__json_free(doc);
		return rc;
	}
	return pcref__referral_wrap(out, doc);
}

int pcref_referral_dup(pcref_referral **out, const pcref_referral *r)
{
	pcref__json *doc;
	if (!out || !r)
		return pcref__error(PCREF_EINVALID, "pcref_referral_dup: out and referral must not be NULL");
	if (!(doc = pcref__json_dup(r->doc)))
		return pcref__error_nomem();
	return pcref__referral_wrap(out, doc);
}

int pcref_referral_to_json(const pcref_referral *r, char **out, size_t *len)
{
	pcref__buf buf = PCREF__BUF_INIT;
	if (!r || !out)
		return pcref__error(PCREF_EINVALID, "pcref_referral_to_json: referral and out must not be NULL");
	pcref__json_write(&buf, r->doc);
	return pcref__buf_detach(&buf, out, len);
}

void pcref_referral_free(pcref_referral *r)
{
	if (!r)
		return;
	pcref__json_free(r->doc);
	pcref__dealloc(r);
}

/* ---- generic field access -------------------------------------------------- */

static const pcref__json *at(const pcref_referral *r, const char *pointer)
{
	return r ? pcref__json_pointer(r->doc, pointer) : NULL;
}

static const char *string_at(const pcref_referral *r, const char *pointer)
{
	return pcref__json_string(at(r, pointer));
}

static int64_t time_at(const pcref_referral *r, const char *pointer)
{
	const char *s = string_at(r, pointer);
	int64_t ms;
	return s && pcref__time_parse(s, &ms) == 0 ? ms : PCREF_TIME_NONE;
}

static int set_at(pcref_referral *r, const char *pointer, pcref__json *value)
{
	if (!r) {
		pcref__json_free(value);
		return pcref__error(PCREF_EINVALID, "referral is NULL (setting %s)", pointer);
	}
	return pcref__json_pointer_set(r->doc, pointer, value);
}

static int set_string_at(pcref_referral *r, const char *pointer, const char *value)
{
	return set_at(r, pointer, value ? pcref__json_new_string(value, strlen(value))
	                                : pcref__json_new(PCREF__JSON_NULL));
}

/* Setting a value from a closed list: refuse anything else, naming the list. */
static int set_enum_at(pcref_referral *r, const char *pointer, const char *value,
                       const char *const *allowed, size_t n)
{
	pcref__buf list = PCREF__BUF_INIT;
	int rc;
	for (size_t i = 0; i < n; i++)
		if (value && strcmp(value, allowed[i]) == 0)
			return set_string_at(r, pointer, value);
	for (size_t i = 0; i < n; i++)
		pcref__buf_printf(&list, "%s%s", i ? ", " : "", allowed[i]);
	rc = pcref__error(PCREF_EINVALID, "'%s' is not a valid value for referral field %s (use one of: %s)",
	                  value ? value : "(null)", pointer, list.data ? list.data : "");
	pcref__buf_dispose(&list);
	return rc;
}

#define STRING_GETTER(fn, pointer) \
	const char *pcref_referral_##fn(const pcref_referral *r) { return string_at(r, pointer); }
#define STRING_SETTER(fn, pointer) \
	int pcref_referral_set_##fn(pcref_referral *r, const char *v) { return set_string_at(r, pointer, v); }
#define STRING_FIELD(fn, pointer) STRING_GETTER(fn, pointer) STRING_SETTER(fn, pointer)
#define TIME_GETTER(fn, pointer) \
	int64_t pcref_referral_##fn(const pcref_referral *r) { return time_at(r, pointer); }

STRING_GETTER(id, "/id")
STRING_FIELD(engagement_id, "/engagementId")
STRING_FIELD(name, "/name")
STRING_FIELD(external_reference_id, "/externalReferenceId")
STRING_GETTER(organization_id, "/organizationId")
STRING_GETTER(organization_name, "/organizationName")
STRING_GETTER(status, "/status")
STRING_GETTER(substatus, "/substatus")
STRING_FIELD(status_reason, "/statusReason")
STRING_GETTER(type, "/type")
STRING_GETTER(qualification, "/qualification")
STRING_GETTER(direction, "/direction")
STRING_GETTER(etag, "/eTag")
STRING_GETTER(microsoft_msx_id, "/trackingInfo/microsoftMsxId")
TIME_GETTER(created_time, "/createdDateTime")
TIME_GETTER(updated_time, "/updatedDateTime")
TIME_GETTER(expiration_time, "/expirationDateTime")
TIME_GETTER(accepted_time, "/acceptedDateTime")
TIME_GETTER(closed_time, "/closedDateTime")

STRING_FIELD(customer_name, "/customerProfile/name")
STRING_FIELD(address_line1, "/customerProfile/address/addressLine1")
STRING_FIELD(address_line2, "/customerProfile/address/addressLine2")
STRING_FIELD(address_city, "/customerProfile/address/city")
STRING_FIELD(address_state, "/customerProfile/address/state")
STRING_FIELD(address_postal_code, "/customerProfile/address/postalCode")
STRING_GETTER(address_country, "/customerProfile/address/country")
STRING_FIELD(address_region, "/customerProfile/address/region")
STRING_FIELD(customer_size, "/customerProfile/size")

STRING_GETTER(currency, "/details/currency")
TIME_GETTER(closing_time, "/details/closingDateTime")
STRING_FIELD(notes, "/details/notes")

STRING_FIELD(invited_by_organization_id, "/inviteContext/invitedBy/organizationId")
STRING_GETTER(invited_by_organization_name, "/inviteContext/invitedBy/organizationName")
STRING_FIELD(assistance_request_code, "/inviteContext/assistanceRequestCode")
STRING_FIELD(invite_notes, "/inviteContext/notes")

int pcref_referral_set_type(pcref_referral *r, const char *v)
{
	static const char *const types[] = { "Independent", "Shared" };
	return set_enum_at(r, "/type", v, types, PCREF__ARRAY_LEN(types));
}

int pcref_referral_set_qualification(pcref_referral *r, const char *v)
{
	static const char *const q[] = { "None", "Direct", "MarketingQualified", "SalesQualified" };
	return set_enum_at(r, "/qualification", v, q, PCREF__ARRAY_LEN(q));
}

int pcref_referral_set_status(pcref_referral *r, const char *status, const char *substatus)
{
	int rc = pcref_status_check(status, substatus);
	if (rc < 0)
		return rc;
	if ((rc = set_string_at(r, "/status", status)) < 0)
		return rc;
	return set_string_at(r, "/substatus", substatus);
}

int pcref_referral_set_address_country(pcref_referral *r, const char *v)
{
	int rc = pcref_country_check(v);
	return rc < 0 ? rc : set_string_at(r, "/customerProfile/address/country", v);
}

int pcref_referral_set_currency(pcref_referral *r, const char *v)
{
	int rc = pcref_currency_check(v);
	return rc < 0 ? rc : set_string_at(r, "/details/currency", v);
}

double pcref_referral_deal_value(const pcref_referral *r)
{
	double d;
	return pcref__json_number(at(r, "/details/dealValue"), &d) == 0 ? d : NAN;
}

int pcref_referral_set_deal_value(pcref_referral *r, double value)
{
	if (isnan(value))
		return set_at(r, "/details/dealValue", pcref__json_new(PCREF__JSON_NULL));
	if (!isfinite(value) || value < 0)
		return pcref__error(PCREF_EINVALID,
			"deal value %g is not valid: Partner Center needs a finite amount of 0 or more", value);
	return set_at(r, "/details/dealValue", pcref__json_new_number(value));
}

int pcref_referral_set_closing_time(pcref_referral *r, int64_t ms)
{
	char text[PCREF__TIME_BUFSZ];
	int rc;
	if (ms == PCREF_TIME_NONE)
		return set_at(r, "/details/closingDateTime", pcref__json_new(PCREF__JSON_NULL));
	if ((rc = pcref__time_format(ms, text)) < 0)
		return rc;
	return set_string_at(r, "/details/closingDateTime", text);
}

/* ---- consent (member names match case-insensitively) ----------------------- */

static const char *const consent_names[] = {
	"consentToToShareInfoWithOthers", "consentToContact",
	"consentToShareReferralWithMicrosoftSellers", "consentToMicrosoftToContactSpecificPartners",
};

static const char *consent_key(const pcref__json *consent, int which)
{
	if (consent && consent->type == PCREF__JSON_OBJECT)
		for (size_t i = 0; i < consent->u.obj.len; i++)
			if (strcasecmp(consent->u.obj.keys[i], consent_names[which]) == 0)
				return consent->u.obj.keys[i];
	return consent_names[which];
}

int pcref_referral_consent(const pcref_referral *r, int which)
{
	const pcref__json *consent = at(r, "/consent"), *v;
	if (which < 0 || (size_t)which >= PCREF__ARRAY_LEN(consent_names))
		return -1;
	v = pcref__json_get(consent, consent_key(consent, which));
	return v && v->type == PCREF__JSON_BOOL ? v->u.boolean : -1;
}

int pcref_referral_set_consent(pcref_referral *r, int which, int value)
{
	pcref__buf ptr = PCREF__BUF_INIT;
	char *p;
	int rc;
	if (which < 0 || (size_t)which >= PCREF__ARRAY_LEN(consent_names))
		return pcref__error(PCREF_EINVALID, "unknown consent flag %d (use PCREF_CONSENT_*)", which);
	pcref__buf_puts(&ptr, "/consent");
	pcref__json_pointer_append(&ptr, consent_key(at(r, "/consent"), which));
	if ((rc = pcref__buf_detach(&ptr, &p, NULL)) < 0)
		return rc;
	rc = set_at(r, p, value < 0 ? pcref__json_new(PCREF__JSON_NULL) : pcref__json_new_bool(value));
	pcref__dealloc(p);
	return rc;
}

/* ---- lists of objects: solutions, members, targets ---------------------- */

static const pcref__json *item_at(const pcref_referral *r, const char *pointer, size_t index)
{
	const pcref__json *arr = at(r, pointer);
	if (!arr || arr->type != PCREF__JSON_ARRAY || index >= arr->u.arr.len)
		return NULL;
	return arr->u.arr.items[index];
}

static size_t count_at(const pcref_referral *r, const char *pointer)
{
	const pcref__json *arr = at(r, pointer);
	return arr && arr->type == PCREF__JSON_ARRAY ? arr->u.arr.len : 0;
}

static const char *item_string(const pcref_referral *r, const char *pointer, size_t index,
                               const char *key)
{
	return pcref__json_string(pcref__json_get(item_at(r, pointer, index), key));
}

/* Append an object built from (key, value) pairs; NULL values are omitted. */
static int append_item(pcref_referral *r, const char *pointer, const char *const *kv, size_t n)
{
	pcref__json *arr, *item;
	int rc;
	if (!r)
		return pcref__error(PCREF_EINVALID, "referral is NULL (adding to %s)", pointer);
	arr = pcref__json_pointer(r->doc, pointer);
	if (!arr || arr->type != PCREF__JSON_ARRAY) {
		if ((rc = pcref__json_pointer_set(r->doc, pointer, pcref__json_new(PCREF__JSON_ARRAY))) < 0)
			return rc;
		arr = pcref__json_pointer(r->doc, pointer);
	}
	if (!(item = pcref__json_new(PCREF__JSON_OBJECT)))
		return pcref__error_nomem();
	for (size_t i = 0; i + 1 < n; i += 2) {
		if (!kv[i + 1])
			continue;
		if ((rc = pcref__json_set(item, kv[i], pcref__json_new_string(kv[i + 1], strlen(kv[i + 1])))) < 0) {
			pcref__json_free(item);
			return rc;
		}
	}
	return pcref__json_append(arr, item);
}

static int remove_item(pcref_referral *r, const char *pointer, size_t index)
{
	pcref__json *arr = r ? pcref__json_pointer(r->doc, pointer) : NULL;
	if (!arr || arr->type != PCREF__JSON_ARRAY || index >= arr->u.arr.len)
		return pcref__error(PCREF_ENOTFOUND, "the referral has no element %zu in %s", index, pointer);
	return pcref__json_array_remove(arr, index);
}

#define SOLUTIONS "/details/requirements/solutions"

size_t pcref_referral_solution_count(const pcref_referral *r) { return count_at(r, SOLUTIONS); }
const char *pcref_referral_solution_id(const pcref_referral *r, size_t i) { return item_string(r, SOLUTIONS, i, "id"); }
const char *pcref_referral_solution_name(const pcref_referral *r, size_t i) { return item_string(r, SOLUTIONS, i, "name"); }
const char *pcref_referral_solution_type(const pcref_referral *r, size_t i) { return item_string(r, SOLUTIONS, i, "type"); }
int pcref_referral_solution_remove(pcref_referral *r, size_t i) { return remove_item(r, SOLUTIONS, i); }

int pcref_referral_solution_add(pcref_referral *r, const char *id, const char *name, const char *type)
{
	static const char *const types[] = { "None", "Category", "Name" };
	const char *kv[] = { "id", id, "name", name, "type", type ? type : "Name" };
	int known = 0;
	if (!id || !*id)
		return pcref__error(PCREF_EINVALID, "a solution needs an id (e.g. SOL-34104-EBB)");
	for (size_t i = 0; i < PCREF__ARRAY_LEN(types); i++)
		known |= strcmp(kv[5], types[i]) == 0;
	if (!known)
		return pcref__error(PCREF_EINVALID,
			"solution type '%s' is not valid (use None, Category or Name)", kv[5]);
	return append_item(r, SOLUTIONS, kv, PCREF__ARRAY_LEN(kv));
}

static const char *member_list(int list)
{
	return list == PCREF_MEMBERS_CUSTOMER ? "/customerProfile/team"
	     : list == PCREF_MEMBERS_PARTNER ? "/team" : NULL;
}

size_t pcref_referral_member_count(const pcref_referral *r, int list)
{
	return member_list(list) ? count_at(r, member_list(list)) : 0;
}

#define MEMBER_GETTER(fn, key) \
	const char *pcref_referral_member_##fn(const pcref_referral *r, int list, size_t i) \
	{ return member_list(list) ? item_string(r, member_list(list), i, key) : NULL; }

MEMBER_GETTER(first_name, "firstName")
MEMBER_GETTER(last_name, "lastName")
MEMBER_GETTER(email, "email")
MEMBER_GETTER(phone, "phoneNumber")

static int bad_list(int list)
{
	return pcref__error(PCREF_EINVALID,
		"unknown member list %d (use PCREF_MEMBERS_CUSTOMER or PCREF_MEMBERS_PARTNER)", list);
}

int pcref_referral_member_add(pcref_referral *r, int list, const char *first_name,
                              const char *last_name, const char *email, const char *phone)
{
	const char *kv[] = { "firstName", first_name, "lastName", last_name,
	                     "email", email, "phoneNumber", phone };
	if (!member_list(list))
		return bad_list(list);
	return append_item(r, member_list(list), kv, PCREF__ARRAY_LEN(kv));
}

int pcref_referral_member_remove(pcref_referral *r, int list, size_t i)
{
	return member_list(list) ? remove_item(r, member_list(list), i) : bad_list(list);
}

size_t pcref_referral_target_count(const pcref_referral *r) { return count_at(r, "/target"); }
const char *pcref_referral_target_type(const pcref_referral *r, size_t i) { return item_string(r, "/target", i, "type"); }
const char *pcref_referral_target_id(const pcref_referral *r, size_t i) { return item_string(r, "/target", i, "id"); }

int pcref_referral_target_add(pcref_referral *r, const char *type, const char *id)
{
	static const char *const types[] = { "None", "BusinessProfileLocation", "SolutionProfile" };
	const char *kv[] = { "type", type, "id", id };
	int known = 0;
	for (size_t i = 0; type && i < PCREF__ARRAY_LEN(types); i++)
		known |= strcmp(type, types[i]) == 0;
	if (!known || !id || !*id)
		return pcref__error(PCREF_EINVALID,
			"a target needs a type (None, BusinessProfileLocation or SolutionProfile) and an id");
	return append_item(r, "/target", kv, PCREF__ARRAY_LEN(kv));
}

/* ---- any field by JSON Pointer ---------------------------------------------- */

const char *pcref_referral_get_string(const pcref_referral *r, const char *pointer)
{
	return pointer ? string_at(r, pointer) : NULL;
}

int pcref_referral_get_json(const pcref_referral *r, const char *pointer, char **out)
{
	pcref__buf buf = PCREF__BUF_INIT;
	const pcref__json *v;
	if (!r || !pointer || !out)
		return pcref__error(PCREF_EINVALID, "pcref_referral_get_json: arguments must not be NULL");
	if (!(v = pcref__json_pointer(r->doc, pointer)))
		return pcref__error(PCREF_ENOTFOUND, "the referral has no field %s", pointer);
	pcref__json_write(&buf, v);
	return pcref__buf_detach(&buf, out, NULL);
}

int pcref_referral_set_json(pcref_referral *r, const char *pointer, const char *json, size_t len)
{
	pcref__json *v;
	int rc;
	if (!r || !pointer || !json)
		return pcref__error(PCREF_EINVALID, "pcref_referral_set_json: arguments must not be NULL");
	if (!*pointer)
		return pcref__error(PCREF_EINVALID,
			"pcref_referral_set_json: the pointer must name a field (use pcref_referral_parse for a whole referral)");
	if ((rc = pcref__json_parse(&v, json, len, "the value")) < 0)
		return rc;
	return pcref__json_pointer_set(r->doc, pointer, v);
}
