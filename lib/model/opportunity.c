/* The Opportunity handle: CRM-neutral fields, solutions and extra fields. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "opportunity_internal.h"

static int check_state(const char *v)
{
	if (strcmp(v, "open") == 0 || strcmp(v, "won") == 0 || strcmp(v, "lost") == 0)
		return PCREF_OK;
	return pcref__error(PCREF_EINVALID, "opportunity state '%s' is not valid (use open, won or lost)", v);
}

static const struct field_def {
	const char *name;
	int kind;
	int (*check)(const char *text);
} fields[] = {
	[PCREF_FIELD_ID] = { "id", PCREF_KIND_TEXT, NULL },
	[PCREF_FIELD_NAME] = { "name", PCREF_KIND_TEXT, NULL },
	[PCREF_FIELD_DEAL_VALUE] = { "deal_value", PCREF_KIND_NUMBER, NULL },
	[PCREF_FIELD_CURRENCY] = { "currency", PCREF_KIND_TEXT, pcref_currency_check },
	[PCREF_FIELD_CLOSE_DATE] = { "close_date", PCREF_KIND_TIME, NULL },
	[PCREF_FIELD_STAGE] = { "stage", PCREF_KIND_TEXT, NULL },
	[PCREF_FIELD_STATE] = { "state", PCREF_KIND_TEXT, check_state },
	[PCREF_FIELD_ACCOUNT_ID] = { "account_id", PCREF_KIND_TEXT, NULL },
	[PCREF_FIELD_ACCOUNT_NAME] = { "account_name", PCREF_KIND_TEXT, NULL },
	[PCREF_FIELD_ACCOUNT_COUNTRY] = { "account_country", PCREF_KIND_TEXT, pcref_country_check },
	[PCREF_FIELD_ACCOUNT_POSTAL_CODE] = { "account_postal_code", PCREF_KIND_TEXT, NULL },
	[PCREF_FIELD_ACCOUNT_CITY] = { "account_city", PCREF_KIND_TEXT, NULL },
	[PCREF_FIELD_ACCOUNT_STATE] = { "account_state", PCREF_KIND_TEXT, NULL },
	[PCREF_FIELD_ACCOUNT_ADDRESS1] = { "account_address1", PCREF_KIND_TEXT, NULL },
	[PCREF_FIELD_ACCOUNT_ADDRESS2] = { "account_address2", PCREF_KIND_TEXT, NULL },
	[PCREF_FIELD_CONTACT_ID] = { "contact_id", PCREF_KIND_TEXT, NULL },
	[PCREF_FIELD_CONTACT_FIRST_NAME] = { "contact_first_name", PCREF_KIND_TEXT, NULL },
	[PCREF_FIELD_CONTACT_LAST_NAME] = { "contact_last_name", PCREF_KIND_TEXT, NULL },
	[PCREF_FIELD_CONTACT_EMAIL] = { "contact_email", PCREF_KIND_TEXT, NULL },
	[PCREF_FIELD_CONTACT_PHONE] = { "contact_phone", PCREF_KIND_TEXT, NULL },
	[PCREF_FIELD_NOTES] = { "notes", PCREF_KIND_TEXT, NULL },
	[PCREF_FIELD_SYNC] = { "sync", PCREF_KIND_FLAG, NULL },
	[PCREF_FIELD_REFERRAL_ID] = { "referral_id", PCREF_KIND_TEXT, NULL },
	[PCREF_FIELD_REFERRAL_LINK] = { "referral_link", PCREF_KIND_TEXT, NULL },
	[PCREF_FIELD_HELP] = { "help", PCREF_KIND_TEXT, NULL },
	[PCREF_FIELD_VISIBILITY] = { "visibility", PCREF_KIND_FLAG, NULL },
	[PCREF_FIELD_MICROSOFT_CRM_ID] = { "microsoft_crm_id", PCREF_KIND_TEXT, NULL },
	[PCREF_FIELD_AUDIT] = { "audit", PCREF_KIND_TEXT, NULL },
	[PCREF_FIELD_OWNER_EMAIL] = { "owner_email", PCREF_KIND_TEXT, NULL },
	[PCREF_FIELD_CLOSE_REASON] = { "close_reason", PCREF_KIND_TEXT, NULL },
	[PCREF_FIELD_MODIFIED_TIME] = { "modified_time", PCREF_KIND_TIME, NULL },
	[PCREF_FIELD_VERSION] = { "version", PCREF_KIND_TEXT, NULL },
	[PCREF_FIELD_IS_LEAD] = { "is_lead", PCREF_KIND_FLAG, NULL },
};

_Static_assert(PCREF__ARRAY_LEN(fields) == PCREF__OPP_FIELDS, "field table and count disagree");

int pcref_opportunity_field_count(void) { return PCREF__OPP_FIELDS; }

static int known(int field) { return field >= 0 && field < PCREF__OPP_FIELDS; }

const char *pcref_opportunity_field_name(int field) { return known(field) ? fields[field].name : NULL; }
int pcref_opportunity_field_kind(int field) { return known(field) ? fields[field].kind : 0; }

int pcref_opportunity_field_lookup(const char *name)
{
	for (int i = 0; name && i < PCREF__OPP_FIELDS; i++)
		if (strcmp(name, fields[i].name) == 0)
			return i;
	return -1;
}

/* ---- life cycle ------------------------------------------------------------ */

int pcref_opportunity_new(pcref_opportunity **out)
{
	pcref_opportunity *o;
	if (!out)
		return pcref__error(PCREF_EINVALID, "pcref_opportunity_new: out is NULL");
	if (!(o = pcref__calloc(1, sizeof(*o))) || !(o->extra = pcref__json_new(PCREF__JSON_OBJECT))) {
		pcref__dealloc(o);
		return pcref__error_nomem();
	}
	*out = o;
	return PCREF_OK;
}

static void clear_value(pcref__opp_value *v)
{
	pcref__dealloc(v->text);
	memset(v, 0, sizeof(*v));
}

void pcref_opportunity_free(pcref_opportunity *o)
{
	if (!o)
		return;
	for (int i = 0; i < PCREF__OPP_FIELDS; i++)
		clear_value(&o->values[i]);
	for (size_t i = 0; i < o->nsolutions; i++) {
		pcref__dealloc(o->solutions[i].id);
		pcref__dealloc(o->solutions[i].name);
	}
	pcref__dealloc(o->solutions);
	pcref__json_free(o->extra);
	pcref__dealloc(o);
}

int pcref_opportunity_dup(pcref_opportunity **out, const pcref_opportunity *src)
{
	pcref_opportunity *o;
	int rc;
	if (!src)
		return pcref__error(PCREF_EINVALID, "pcref_opportunity_dup: opportunity is NULL");
	if ((rc = pcref_opportunity_new(&o)) < 0)
		return rc;
	for (int i = 0; i < PCREF__OPP_FIELDS; i++) {
		o->values[i] = src->values[i];
		o->values[i].text = NULL;
		if (src->values[i].text && !(o->values[i].text = pcref__strdup(src->values[i].text)))
			goto nomem;
	}
	for (size_t i = 0; i < src->nsolutions; i++)
		if ((rc = pcref_opportunity_solution_add(o, src->solutions[i].id, src->solutions[i].name)) < 0)
			goto fail;
	pcref__json_free(o->extra);
	if (!(o->extra = pcref__json_dup(src->extra)))
		goto nomem;
	*out = o;
	return PCREF_OK;
nomem:
	rc = pcref__error_nomem();
fail:
	pcref_opportunity_free(o);
	return rc;
}

/* ---- fields ------------------------------------------------------------------ */

static const pcref__opp_value *value_of(const pcref_opportunity *o, int field, int kind)
{
	if (!o || !known(field) || fields[field].kind != kind || !o->values[field].set)
		return NULL;
	return &o->values[field];
}

static int settable(pcref_opportunity *o, int field, int kind)
{
	static const char *kind_names[] = { "?", "text", "number", "date-time", "flag" };
	if (!o)
		return pcref__error(PCREF_EINVALID, "opportunity is NULL");
	if (!known(field))
		return pcref__error(PCREF_EINVALID, "unknown opportunity field id %d", field);
	if (fields[field].kind != kind)
		return pcref__error(PCREF_EINVALID, "opportunity field '%s' holds a %s, not a %s",
		                    fields[field].name, kind_names[fields[field].kind], kind_names[kind]);
	return PCREF_OK;
}

int pcref_opportunity_has(const pcref_opportunity *o, int field)
{
	return o && known(field) && o->values[field].set;
}

int pcref_opportunity_unset(pcref_opportunity *o, int field)
{
	if (!o || !known(field))
		return pcref__error(PCREF_EINVALID, "unknown opportunity field id %d", field);
	clear_value(&o->values[field]);
	return PCREF_OK;
}

const char *pcref_opportunity_text(const pcref_opportunity *o, int field)
{
	const pcref__opp_value *v = value_of(o, field, PCREF_KIND_TEXT);
	return v ? v->text : NULL;
}

double pcref_opportunity_number(const pcref_opportunity *o, int field)
{
	const pcref__opp_value *v = value_of(o, field, PCREF_KIND_NUMBER);
	return v ? v->number : NAN;
}

int64_t pcref_opportunity_time(const pcref_opportunity *o, int field)
{
	const pcref__opp_value *v = value_of(o, field, PCREF_KIND_TIME);
	return v ? v->time : PCREF_TIME_NONE;
}

int pcref_opportunity_flag(const pcref_opportunity *o, int field)
{
	const pcref__opp_value *v = value_of(o, field, PCREF_KIND_FLAG);
	return v ? v->flag : -1;
}

int pcref_opportunity_set_text(pcref_opportunity *o, int field, const char *value)
{
	char *copy;
	int rc = settable(o, field, PCREF_KIND_TEXT);
	if (rc < 0)
		return rc;
	if (!value)
		return pcref_opportunity_unset(o, field);
	if (fields[field].check && (rc = fields[field].check(value)) < 0)
		return pcref__error_prefix(rc, "opportunity field '%s'", fields[field].name);
	if (!(copy = pcref__strdup(value)))
		return pcref__error_nomem();
	clear_value(&o->values[field]);
	o->values[field].text = copy;
	o->values[field].set = 1;
	return PCREF_OK;
}

int pcref_opportunity_set_number(pcref_opportunity *o, int field, double value)
{
	int rc = settable(o, field, PCREF_KIND_NUMBER);
	if (rc < 0)
		return rc;
	if (isnan(value))
		return pcref_opportunity_unset(o, field);
	if (!isfinite(value))
		return pcref__error(PCREF_EINVALID, "opportunity field '%s' must be finite", fields[field].name);
	o->values[field].number = value;
	o->values[field].set = 1;
	return PCREF_OK;
}

int pcref_opportunity_set_time(pcref_opportunity *o, int field, int64_t ms)
{
	int rc = settable(o, field, PCREF_KIND_TIME);
	if (rc < 0)
		return rc;
	if (ms == PCREF_TIME_NONE)
		return pcref_opportunity_unset(o, field);
	o->values[field].time = ms;
	o->values[field].set = 1;
	return PCREF_OK;
}

int pcref_opportunity_set_flag(pcref_opportunity *o, int field, int value)
{
	int rc = settable(o, field, PCREF_KIND_FLAG);
	if (rc < 0)
		return rc;
	if (value < 0)
		return pcref_opportunity_unset(o, field);
	if (value > 1)
		return pcref__error(PCREF_EINVALID, "opportunity flag '%s' must be 0 or 1, not %d",
		                    fields[field].name, value);
	o->values[field].flag = value;
	o->values[field].set = 1;
	return PCREF_OK;
}

int pcref_opportunity_field_equal(const pcref_opportunity *a, const pcref_opportunity *b, int field)
{
	const pcref__opp_value *x, *y;
	if (!a || !b || !known(field))
		return 0;
	x = &a->values[field], y = &b->values[field];
	if (!x->set || !y->set)
		return x->set == y->set;
	switch (fields[field].kind) {
	case PCREF_KIND_TEXT: return strcmp(x->text, y->text) == 0;
	case PCREF_KIND_NUMBER: return x->number == y->number;
	case PCREF_KIND_TIME: return x->time == y->time;
	default: return x->flag == y->flag;
	}
}

/* ---- solutions ----------------------------------------------------------------- */

size_t pcref_opportunity_solution_count(const pcref_opportunity *o) { return o ? o->nsolutions : 0; }

const char *pcref_opportunity_solution_id(const pcref_opportunity *o, size_t i)
{
	return o && i < o->nsolutions ? o->solutions[i].id : NULL;
}

const char *pcref_opportunity_solution_name(const pcref_opportunity *o, size_t i)
{
	return o && i < o->nsolutions ? o->solutions[i].name : NULL;
}

static long find_solution(const pcref_opportunity *o, const char *id)
{
	for (size_t i = 0; i < o->nsolutions; i++)
		if (strcmp(o->solutions[i].id, id) == 0)
			return (long)i;
	return -1;
}

int pcref_opportunity_solution_add(pcref_opportunity *o, const char *id, const char *name)
{
	char *n = NULL, *i = NULL;
	long at;
	if (!o || !id || !*id)
		return pcref__error(PCREF_EINVALID, "a solution needs an id (e.g. SOL-34104-EBB)");
	if ((name && !(n = pcref__strdup(name))))
		return pcref__error_nomem();
	if ((at = find_solution(o, id)) >= 0) {
		pcref__dealloc(o->solutions[at].name);
		o->solutions[at].name = n;
		return PCREF_OK;
	}
	if (!(i = pcref__strdup(id)) ||
	    pcref__grow((void **)&o->solutions, &o->solution_cap, o->nsolutions + 1, sizeof(*o->solutions)) < 0) {
		pcref__dealloc(n);
		pcref__dealloc(i);
		return pcref__error_nomem();
	}
	o->solutions[o->nsolutions].id = i;
	o->solutions[o->nsolutions++].name = n;
	return PCREF_OK;
}

int pcref_opportunity_solution_remove(pcref_opportunity *o, const char *id)
{
	long at;
	if (!o || !id || (at = find_solution(o, id)) < 0)
		return pcref__error(PCREF_ENOTFOUND, "the opportunity has no solution '%s'", id ? id : "(null)");
	pcref__dealloc(o->solutions[at].id);
	pcref__dealloc(o->solutions[at].name);
	memmove(o->solutions + at, o->solutions + at + 1, (o->nsolutions - (size_t)at - 1) * sizeof(*o->solutions));
	o->nsolutions--;
	return PCREF_OK;
}

int pcref_opportunity_solutions_equal(const pcref_opportunity *a, const pcref_opportunity *b)
{
	if (!a || !b || a->nsolutions != b->nsolutions)
		return a == b;
	for (size_t i = 0; i < a->nsolutions; i++)
		if (find_solution(b, a->solutions[i].id) < 0)
			return 0;
	return 1;
}

/* ---- extra fields ---------------------------------------------------------------- */

size_t pcref_opportunity_extra_count(const pcref_opportunity *o) { return o ? o->extra->u.obj.len : 0; }

const char *pcref_opportunity_extra_name(const pcref_opportunity *o, size_t i)
{
	return o && i < o->extra->u.obj.len ? o->extra->u.obj.keys[i] : NULL;
}

int pcref_opportunity_extra_get(const pcref_opportunity *o, const char *name, char **out)
{
	pcref__buf buf = PCREF__BUF_INIT;
	const pcref__json *v;
	if (!o || !name || !out)
		return pcref__error(PCREF_EINVALID, "pcref_opportunity_extra_get: arguments must not be NULL");
	if (!(v = pcref__json_get(o->extra, name)))
		return pcref__error(PCREF_ENOTFOUND, "the opportunity has no extra field '%s'", name);
	pcref__json_write(&buf, v);
	return pcref__buf_detach(&buf, out, NULL);
}

const char *pcref_opportunity_extra_text(const pcref_opportunity *o, const char *name)
{
	return o && name ? pcref__json_string(pcref__json_get(o->extra, name)) : NULL;
}

int pcref_opportunity_extra_set(pcref_opportunity *o, const char *name, const char *json, size_t len)
{
	pcref__json *v;
	int rc;
	if (!o || !name || !*name)
		return pcref__error(PCREF_EINVALID, "an extra field needs a name");
	if (!json) {
		pcref__json_remove(o->extra, name);
		return PCREF_OK;
	}
	if ((rc = pcref__json_parse(&v, json, len, "the extra field's value")) < 0)
		return rc;
	return pcref__json_set(o->extra, name, v);
}

/* ---- JSON form ------------------------------------------------------------------ */

int pcref_opportunity_to_json(const pcref_opportunity *o, char **out, size_t *len)
{
	pcref__buf buf = PCREF__BUF_INIT;
	int first = 1;
	if (!o || !out)
		return pcref__error(PCREF_EINVALID, "pcref_opportunity_to_json: arguments must not be NULL");
	pcref__buf_puts(&buf, "{\"fields\":{");
	for (int i = 0; i < PCREF__OPP_FIELDS; i++) {
		const pcref__opp_value *v = &o->values[i];
		char text[PCREF__TIME_BUFSZ];
		pcref__json *num;
		if (!v->set)
			continue;
		pcref__buf_printf(&buf, "%s\"%s\":", first ? "" : ",", fields[i].name);
		first = 0;
		switch (fields[i].kind) {
		case PCREF_KIND_TEXT:
			pcref__json_write_string(&buf, v->text, strlen(v->text));
			break;
		case PCREF_KIND_NUMBER:
			if ((num = pcref__json_new_number(v->number)))
				pcref__json_write(&buf, num);
			pcref__json_free(num);
			break;
		case PCREF_KIND_TIME:
			if (pcref__time_format(v->time, text) < 0)
				pcref__buf_printf(&buf, "%lld", (long long)v->time);
			else
				pcref__json_write_string(&buf, text, strlen(text));
			break;
		default:
			pcref__buf_puts(&buf, v->flag ? "true" : "false");
		}
	}
	pcref__buf_puts(&buf, "},\"solutions\":[");
	for (size_t i = 0; i < o->nsolutions; i++) {
		pcref__buf_puts(&buf, i ? ",{\"id\":" : "{\"id\":");
		pcref__json_write_string(&buf, o->solutions[i].id, strlen(o->solutions[i].id));
		if (o->solutions[i].name) {
			pcref__buf_puts(&buf, ",\"name\":");
			pcref__json_write_string(&buf, o->solutions[i].name, strlen(o->solutions[i].name));
		}
		pcref__buf_putc(&buf, '}');
	}
	pcref__buf_puts(&buf, "],\"extra\":");
	pcref__json_write(&buf, o->extra);
	pcref__buf_putc(&buf, '}');
	return pcref__buf_detach(&buf, out, len);
}

static int field_from_json(pcref_opportunity *o, const char *name, const pcref__json *v)
{
	int f = pcref_opportunity_field_lookup(name);
	int64_t ms;
	if (f < 0)
		return pcref__error(PCREF_EINVALID, "unknown opportunity field '%s'", name);
	if (v->type == PCREF__JSON_NULL)
		return pcref_opportunity_unset(o, f);
	switch (fields[f].kind) {
	case PCREF_KIND_TEXT:
		if (v->type == PCREF__JSON_STRING)
			return pcref_opportunity_set_text(o, f, v->u.str.text);
		break;
	case PCREF_KIND_NUMBER:
		if (v->type == PCREF__JSON_NUMBER)
			return pcref_opportunity_set_number(o, f, strtod(v->u.str.text, NULL));
		break;
	case PCREF_KIND_TIME:
		if (v->type == PCREF__JSON_STRING) {
			if (pcref__time_parse(v->u.str.text, &ms) < 0)
				return pcref__error_prefix(PCREF_EINVALID, "opportunity field '%s'", name);
			return pcref_opportunity_set_time(o, f, ms);
		}
		if (v->type == PCREF__JSON_NUMBER)
			return pcref_opportunity_set_time(o, f, (int64_t)strtod(v->u.str.text, NULL));
		break;
	default:
		if (v->type == PCREF__JSON_BOOL)
			return pcref_opportunity_set_flag(o, f, v->u.boolean);
	}
	return pcref__error(PCREF_EINVALID, "opportunity field '%s' cannot hold a JSON %s", name,
	                    pcref__json_type_name(v->type));
}

int pcref_opportunity_from_json(pcref_opportunity **out, const char *json, size_t len)
{
	pcref__json *doc;
	const pcref__json *fs, *sols, *extra;
	pcref_opportunity *o;
	int rc;
	if (!out || !json)
		return pcref__error(PCREF_EINVALID, "pcref_opportunity_from_json: arguments must not be NULL");
	if ((rc = pcref__json_parse(&doc, json, len, "the opportunity JSON")) < 0)
		return rc;
	if ((rc = pcref_opportunity_new(&o)) < 0)
		goto done;
	fs = pcref__json_get(doc, "fields");
	sols = pcref__json_get(doc, "solutions");
	extra = pcref__json_get(doc, "extra");
	if (doc->type != PCREF__JSON_OBJECT || (fs && fs->type != PCREF__JSON_OBJECT) ||
	    (sols && sols->type != PCREF__JSON_ARRAY) || (extra && extra->type != PCREF__JSON_OBJECT)) {
		rc = pcref__error(PCREF_EINVALID,
			"opportunity JSON must be {\"fields\":{...},\"solutions\":[...],\"extra\":{...}}");
		goto done;
	}
	for (size_t i = 0; fs && i < fs->u.obj.len; i++)
		if ((rc = field_from_json(o, fs->u.obj.keys[i], fs->u.obj.values[i])) < 0)
			goto done;
	for (size_t i = 0; sols && i < sols->u.arr.len; i++) {
		const pcref__json *s = sols->u.arr.items[i];
		if ((rc = pcref_opportunity_solution_add(o, pcref__json_string(pcref__json_get(s, "id")),
		                                         pcref__json_string(pcref__json_get(s, "name")))) < 0)
			goto done;
	}
	if (extra) {
		pcref__json_free(o->extra);
		if (!(o->extra = pcref__json_dup(extra))) {
			rc = pcref__error_nomem();
			goto done;
		}
	}
	*out = o;
	o = NULL;
done:
	pcref_opportunity_free(o);
	pcref__json_free(doc);
	return rc;
}

int pcref__opportunity_copy_field(pcref_opportunity *dst, const pcref_opportunity *src, int f)
{
	if (!pcref_opportunity_has(src, f))
		return pcref_opportunity_unset(dst, f);
	switch (pcref_opportunity_field_kind(f)) {
	case PCREF_KIND_TEXT: return pcref_opportunity_set_text(dst, f, pcref_opportunity_text(src, f));
	case PCREF_KIND_NUMBER: return pcref_opportunity_set_number(dst, f, pcref_opportunity_number(src, f));
	case PCREF_KIND_TIME: return pcref_opportunity_set_time(dst, f, pcref_opportunity_time(src, f));
	default: return pcref_opportunity_set_flag(dst, f, pcref_opportunity_flag(src, f));
	}
}
