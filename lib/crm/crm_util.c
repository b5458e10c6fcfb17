/* Helpers the built-in HTTP backends (Dynamics 365, Salesforce) share:
 * the currency and user caches, reading text leniently, request bodies,
 * the mapping copy with its required-field defaults and the checks
 * an update makes before it sends anything. */
#include <string.h>
#include <strings.h>

#include "crm_internal.h"

const pcref__crm_pair *pcref__crm_pairs_find(const pcref__crm_pairs *p, const char *key, const char *id)
{
	for (size_t i = 0; i < p->n; i++)
		if ((key && p->items[i].key && strcasecmp(p->items[i].key, key) == 0) ||
		    (id && strcasecmp(p->items[i].id, id) == 0))
			return &p->items[i];
	return NULL;
}

int pcref__crm_pairs_add(pcref__crm_pairs *p, const char *key, const char *id, const pcref__crm_pair **out)
{
	pcref__crm_pair e = { NULL, NULL };
	if ((key && !(e.key = pcref__strdup(key))) || !(e.id = pcref__strdup(id)) ||
	    pcref__grow((void **)&p->items, &p->cap, p->n + 1, sizeof(*p->items)) < 0) {
		pcref__dealloc(e.key);
		pcref__dealloc(e.id);
		return pcref__error_nomem();
	}
	p->items[p->n] = e;
	*out = &p->items[p->n++];
	return PCREF_OK;
}

void pcref__crm_pairs_clear(pcref__crm_pairs *p)
{
	for (size_t i = 0; i < p->n; i++) {
		pcref__dealloc(p->items[i].key);
		pcref__dealloc(p->items[i].id);
	}
	pcref__dealloc(p->items);
	memset(p, 0, sizeof(*p));
}

int pcref__crm_set_text_lenient(pcref_opportunity *o, int field, const char *value)
{
	int rc = pcref_opportunity_set_text(o, field, value);
	if (rc == PCREF_EINVALID) {
		pcref_error_clear();
		return PCREF_OK;
	}
	return rc;
}

int pcref__crm_read_text(pcref_opportunity *o, int field, const pcref__json *v)
{
	if (v && (v->type == PCREF__JSON_STRING || v->type == PCREF__JSON_NUMBER))
		return pcref__crm_set_text_lenient(o, field, v->u.str.text);
	return PCREF_OK;
}

pcref__json *pcref__crm_text_node(const char *s)
{
	return s ? pcref__json_new_string(s, strlen(s)) : pcref__json_new(PCREF__JSON_NULL);
}

int pcref__crm_body_text(const pcref__json *body, char **out)
{
	pcref__buf b = PCREF__BUF_INIT;
	pcref__json_write(&b, body);
	return pcref__buf_detach(&b, out, NULL);
}

int pcref__crm_add_defaults(const pcref__json *doc, pcref__json *body, const char *record)
{
	const pcref__json *defs = pcref__json_get(pcref__json_get(doc, "required_defaults"), record);
	for (size_t i = 0; defs && defs->type == PCREF__JSON_OBJECT && i < defs->u.obj.len; i++) {
		pcref__json *v;
		if (pcref__json_get(body, defs->u.obj.keys[i]))
			continue;
		if (!(v = pcref__json_dup(defs->u.obj.values[i])))
			return pcref__error_nomem();
		if (pcref__json_set(body, defs->u.obj.keys[i], v) < 0)
			return pcref__error_nomem();
	}
	return PCREF_OK;
}

int pcref__crm_copy_mapping(const pcref_mapping *mapping, const char *backend, pcref_mapping **out,
                            pcref__json **doc)
{
	char *json = NULL;
	size_t len = 0;
	int rc;
	*doc = NULL;
	if (!mapping) {
		if ((rc = pcref_mapping_new(out, backend)) < 0 || (rc = pcref_mapping_to_json(*out, &json, &len)) < 0)
			return rc;
	} else if ((rc = pcref_mapping_to_json(mapping, &json, &len)) < 0 ||
	           (rc = pcref_mapping_load(out, json, len)) < 0) {
		pcref__dealloc(json);
		return rc;
	}
	rc = pcref__json_parse(doc, json, len, "the mapping");
	pcref__dealloc(json);
	return rc;
}

int pcref__crm_check_update_fields(const int *fields, size_t n, int lead, const char *how_to_close)
{
	for (size_t i = 0; i < n; i++) {
		if (fields[i] == PCREF_FIELD_ID || fields[i] == PCREF_FIELD_VERSION ||
		    fields[i] == PCREF_FIELD_MODIFIED_TIME || fields[i] == PCREF_FIELD_IS_LEAD)
			return pcref__error(PCREF_EINVALID, "field '%s' is maintained by the CRM and cannot be written",
			                    pcref_opportunity_field_name(fields[i]));
		if (fields[i] == PCREF_FIELD_STATE && !lead)
			return pcref__error(PCREF_EINVALID, "an opportunity is won or lost through close_opportunity "
			                    "(%s), not by writing its state", how_to_close);
		if (pcref_opportunity_field_kind(fields[i]) == 0)
			return pcref__error(PCREF_EINVALID, "unknown field id %d in update", fields[i]);
	}
	return PCREF_OK;
}

int pcref__crm_read_related(pcref_opportunity *o, const pcref__json *rel, const char *const *cols, int first,
                            int last)
{
	int rc = PCREF_OK;
	if (!rel || rel->type != PCREF__JSON_OBJECT)
		return PCREF_OK;
	for (int f = first; f <= last && rc == PCREF_OK; f++)
		if (cols[f - first])
			rc = pcref__crm_read_text(o, f, pcref__json_get(rel, cols[f - first]));
	return rc;
}

int pcref__crm_read_extras(pcref_opportunity *o, const pcref__json *row, const char *const *extras, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const pcref__json *v = pcref__json_get(row, extras[i]);
		pcref__json *copy;
		if (!v || v->type == PCREF__JSON_NULL)
			continue;
		if (!(copy = pcref__json_dup(v)) || pcref__json_set(o->extra, extras[i], copy) < 0)
			return pcref__error_nomem();
	}
	return PCREF_OK;
}

int pcref__crm_write_extras(pcref__json *body, const pcref_opportunity *o, const char *const *extras, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const pcref__json *v = pcref__json_get(o->extra, extras[i]);
		pcref__json *copy;
		if (v && (!(copy = pcref__json_dup(v)) || pcref__json_set(body, extras[i], copy) < 0))
			return pcref__error_nomem();
	}
	return PCREF_OK;
}

int pcref__crm_check_create(const pcref_opportunity *o, const char *noun, int lead, const char *crm)
{
	const char *state;
	if (!o)
		return pcref__error(PCREF_EINVALID, "create needs a record");
	if (!pcref_opportunity_text(o, PCREF_FIELD_NAME))
		return pcref__error(PCREF_EINVALID, lead ? "a lead needs a topic (name)" : "an opportunity needs a name");
	state = pcref_opportunity_text(o, PCREF_FIELD_STATE);
	if (state && strcmp(state, "open") != 0)
		return pcref__error(PCREF_EINVALID, "a %s is created open (state '%s' asked for): create it, then close "
		                    "it%s%s", noun, state, lead ? " in " : " with close_opportunity", lead ? crm : "");
	return PCREF_OK;
}

/* The detail fields of a related row, when `dst` still links the same row. */
static int keep_one(pcref_opportunity *dst, const pcref_opportunity *src, int id_field, int first, int last)
{
	int rc = PCREF_OK;
	if (!pcref_opportunity_has(dst, id_field) || !pcref_opportunity_field_equal(dst, src, id_field))
		return PCREF_OK;
	for (int f = first; f <= last && rc == PCREF_OK; f++)
		if (pcref_opportunity_has(src, f))
			rc = pcref_opportunity_set_text(dst, f, pcref_opportunity_text(src, f));
	return rc;
}

int pcref__crm_keep_related(pcref_opportunity *dst, const pcref_opportunity *src)
{
	int rc = keep_one(dst, src, PCREF_FIELD_ACCOUNT_ID, PCREF_FIELD_ACCOUNT_NAME, PCREF_FIELD_ACCOUNT_ADDRESS2);
	return rc < 0 ? rc : keep_one(dst, src, PCREF_FIELD_CONTACT_ID, PCREF_FIELD_CONTACT_FIRST_NAME,
	                              PCREF_FIELD_CONTACT_PHONE);
}
