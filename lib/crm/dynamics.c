/* The Dynamics 365 Sales backend: every member of the CRM vtable over the
 * Dataverse Web API v9.2 (crm-apis.md part A), through a Connection.
 * Column and entity-set names come from the mapping; the semantics mirror
 * the in-memory backend (memory.c). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dynamics_internal.h"

static const char *const state_names[] = { "open", "won", "lost" };

/* ---- small helpers ----------------------------------------------------------- */

/* A Dataverse row id: a GUID (8-4-4-4-12 hex digits). */
int pcref__dyn_is_guid(const char *s)
{
	if (!s || strlen(s) != 36)
		return 0;
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!isxdigit((unsigned char)s[i])) {
			return 0;
		}
	}
	return 1;
}

int pcref__dyn_not_a_row(const char *noun, const char *id)
{
	return pcref__error(PCREF_ENOTFOUND, "Dynamics 365 has no %s with id '%.80s' (a record id is a GUID such "
	                    "as 00000000-0000-0000-0000-000000000000)", noun, id ? id : "(null)");
}

/* The primary key of an entity set by Dataverse's convention: the logical
 * name (the set's singular) + "id" ("opportunities" -> "opportunityid"). */
static char *pk_of_set(const char *set)
{
	pcref__buf b = PCREF__BUF_INIT;
	size_t n = strlen(set);
	char *out = NULL;
	if (n > 3 && strcmp(set + n - 3, "ies") == 0) {
		pcref__buf_add(&b, set, n - 3);
		pcref__buf_putc(&b, 'y');
	} else {
		pcref__buf_add(&b, set, n > 1 && set[n - 1] == 's' ? n - 1 : n);
	}
	pcref__buf_puts(&b, "id");
	if (pcref__buf_detach(&b, &out, NULL) < 0)
		return NULL;
	return out;
}

void pcref__dyn_odata_string(pcref__buf *b, const char *s)
{
	pcref__buf_putc(b, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			pcref__buf_putc(b, '\'');
		pcref__buf_putc(b, *s);
	}
	pcref__buf_putc(b, '\'');
}

/* Append "&name=<escaped value>" (or "?name=..." first). */
void pcref__dyn_add_param(pcref__buf *url, const char *name, const char *value)
{
	if (!value)
		return;
	pcref__buf_puts(url, url->data && strchr(url->data, '?') ? "&" : "?");
	pcref__buf_puts(url, name);
	pcref__buf_putc(url, '=');
	pcref__http_url_escape(url, value);
}

void pcref__dyn_set_path(pcref__buf *url, const char *set, const char *id)
{
	pcref__buf_printf(url, DYN_API "%s", set);
	if (id)
		pcref__buf_printf(url, "(%s)", id);
}

/* ---- sending --------------------------------------------------------------------- */

int pcref__dyn_send(dyn *d, const char *method, const char *url, const char *body, const char *if_match,
                    const char *prefer, const char *what, pcref__json **out)
{
	pcref__http_request req = { 0 };
	pcref__http_response resp = PCREF__HTTP_RESPONSE_INIT;
	pcref__buf prefer_h = PCREF__BUF_INIT, match_h = PCREF__BUF_INIT;
	const char *headers[6];
	size_t nh = 0;
	int rc;
	if (out)
		*out = NULL;
	headers[nh++] = "OData-MaxVersion: 4.0";
	headers[nh++] = "OData-Version: 4.0";
	headers[nh++] = "Accept: application/json";
	if (prefer) {
		pcref__buf_printf(&prefer_h, "Prefer: %s", prefer);
		headers[nh++] = prefer_h.data;
	}
	if (if_match) {
		pcref__buf_printf(&match_h, "If-Match: %s", if_match);
		headers[nh++] = match_h.data;
	}
	headers[nh] = NULL;
	if (prefer_h.failed || match_h.failed) {
		rc = pcref__error_nomem();
		goto out;
	}
	req.method = method;
	req.url = url;
	req.headers = headers;
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	req.content_type = "application/json; charset=utf-8";
	req.what = what;
	rc = pcref__http_send(d->conn, &req, &resp);
	if (rc == PCREF_OK && out && resp.body && resp.body_len)
		rc = pcref__json_parse(out, resp.body, resp.body_len, "the Dataverse answer");
	if (rc == PCREF_OK && out && *out && (*out)->type != PCREF__JSON_OBJECT) {
		pcref__json_free(*out);
		*out = NULL;
		rc = pcref__error(PCREF_EPROTOCOL, "Dynamics 365 answered %s with something other than a JSON object",
		                  what);
	}
out:
	pcref__http_response_dispose(&resp);
	pcref__buf_dispose(&prefer_h);
	pcref__buf_dispose(&match_h);
	return rc;
}

/* GET a collection page by page (A.10: odata.maxpagesize, @odata.nextLink
 * followed as given). `cb` sees each page's "value" array; a non-zero return
 * stops and is returned. Takes `url` over. */
typedef int (*dyn_page_cb)(dyn *d, const pcref__json *rows, void *payload);

static int query(dyn *d, char *url, int paged, const char *what, dyn_page_cb cb, void *payload)
{
	char prefer[48];
	int rc = PCREF_OK;
	snprintf(prefer, sizeof(prefer), "odata.maxpagesize=%d", DYN_PAGE_SIZE);
	while (url && rc == PCREF_OK) {
		pcref__json *page = NULL;
		const pcref__json *rows;
		const char *next;
		char *next_url = NULL;
		rc = pcref__dyn_send(d, "GET", url, NULL, NULL, paged ? prefer : NULL, what, &page);
		rows = pcref__json_get(page, "value");
		if (rc == PCREF_OK && (!rows || rows->type != PCREF__JSON_ARRAY))
			rc = pcref__error(PCREF_EPROTOCOL, "Dynamics 365 answered %s without a \"value\" array", what);
		if (rc == PCREF_OK)
			rc = cb(d, rows, payload);
		if (rc == PCREF_OK && paged && (next = pcref__json_string(pcref__json_get(page, "@odata.nextLink"))))
			rc = pcref__http_follow_link(d->conn, next, &next_url);
		pcref__json_free(page);
		pcref__dealloc(url);
		url = next_url;
	}
	pcref__dealloc(url);
	return rc;
}

/* The first row of a query, or NULL (*out) when there is none. */
static int first_row_cb(dyn *d, const pcref__json *rows, void *payload)
{
	pcref__json **out = payload;
	(void)d;
	if (rows->u.arr.len && !*out && !(*out = pcref__json_dup(rows->u.arr.items[0])))
		return pcref__error_nomem();
	return PCREF_OK;
}

int pcref__dyn_query_first(dyn *d, pcref__buf *url, const char *what, pcref__json **row)
{
	char *u;
	int rc;
	*row = NULL;
	if ((rc = pcref__buf_detach(url, &u, NULL)) < 0)
		return rc;
	if ((rc = query(d, u, 0, what, first_row_cb, row)) < 0) {
		pcref__json_free(*row);
		*row = NULL;
	}
	return rc;
}

/* ---- currencies and users, cached per CRM ------------------------------------ */

static int find_currency(dyn *d, const char *iso, const pcref__crm_pair **out)
{
	pcref__buf url = PCREF__BUF_INIT, filter = PCREF__BUF_INIT, sel = PCREF__BUF_INIT;
	pcref__json *row = NULL;
	const char *id;
	char what[64];
	int rc;
	if ((*out = pcref__crm_pairs_find(&d->currencies, iso, NULL)))
		return PCREF_OK;
	snprintf(what, sizeof(what), "looking up currency '%.8s'", iso);
	pcref__buf_printf(&filter, "isocurrencycode eq ");
	pcref__dyn_odata_string(&filter, iso);
	pcref__buf_puts(&filter, " and statecode eq 0");
	pcref__buf_printf(&sel, "%s,isocurrencycode", d->currency_pk);
	pcref__dyn_set_path(&url, d->currency_set, NULL);
	pcref__dyn_add_param(&url, "$select", sel.data);
	pcref__dyn_add_param(&url, "$filter", filter.data);
	pcref__buf_dispose(&filter);
	pcref__buf_dispose(&sel);
	if ((rc = pcref__dyn_query_first(d, &url, what, &row)) < 0)
		return rc;
	id = pcref__json_string(pcref__json_get(row, d->currency_pk));
	if (!id) {
		pcref__json_free(row);
		return pcref__error(PCREF_ENOTFOUND, "Dynamics 365 has no active currency '%s' (no %s row with "
		                    "isocurrencycode '%s'): add it to the environment's currencies before syncing "
		                    "deals in it (R-29)", iso, d->currency_set, iso);
	}
	rc = pcref__crm_pairs_add(&d->currencies, iso, id, out);
	pcref__json_free(row);
	return rc;
}

/* The ISO code of a currency row (NULL *iso when it has none). */
static int currency_code(dyn *d, const char *id, const char **iso)
{
	pcref__buf url = PCREF__BUF_INIT;
	pcref__json *row = NULL;
	const pcref__crm_pair *p;
	char *u;
	int rc;
	if ((p = pcref__crm_pairs_find(&d->currencies, NULL, id))) {
		*iso = p->key;
		return PCREF_OK;
	}
	pcref__dyn_set_path(&url, d->currency_set, id);
	pcref__dyn_add_param(&url, "$select", "isocurrencycode");
	if ((rc = pcref__buf_detach(&url, &u, NULL)) < 0)
		return rc;
	rc = pcref__dyn_send(d, "GET", u, NULL, NULL, NULL, "reading a currency", &row);
	pcref__dealloc(u);
	if (rc == PCREF_OK)
		rc = pcref__crm_pairs_add(&d->currencies,
		           pcref__json_string(pcref__json_get(row, "isocurrencycode")), id, &p);
	pcref__json_free(row);
	*iso = rc == PCREF_OK ? p->key : NULL;
	return rc;
}

static int find_user(dyn *d, const char *email, const pcref__crm_pair **out)
{
	pcref__buf url = PCREF__BUF_INIT, filter = PCREF__BUF_INIT, sel = PCREF__BUF_INIT;
	pcref__json *row = NULL;
	const char *id;
	int rc;
	if ((*out = pcref__crm_pairs_find(&d->users, email, NULL)))
		return PCREF_OK;
	pcref__buf_puts(&filter, "internalemailaddress eq ");
	pcref__dyn_odata_string(&filter, email);
	pcref__buf_puts(&filter, " and isdisabled eq false");
	pcref__buf_printf(&sel, "%s,internalemailaddress", d->user_pk);
	pcref__dyn_set_path(&url, d->user_set, NULL);
	pcref__dyn_add_param(&url, "$select", sel.data);
	pcref__dyn_add_param(&url, "$filter", filter.data);
	pcref__buf_dispose(&filter);
	pcref__buf_dispose(&sel);
	if ((rc = pcref__dyn_query_first(d, &url, "looking up a user", &row)) < 0)
		return rc;
	id = pcref__json_string(pcref__json_get(row, d->user_pk));
	if (!id) {
		pcref__json_free(row);
		return pcref__error(PCREF_ENOTFOUND, "Dynamics 365 has no enabled user with the email '%s': add the "
		                    "sales team member as a user of the environment (R-29)", email);
	}
	rc = pcref__crm_pairs_add(&d->users, email, id, out);
	pcref__json_free(row);
	return rc;
}

/* The email of a user row (NULL *email when it has none, e.g. an application user). */
static int user_email(dyn *d, const char *id, const char **email)
{
	pcref__buf url = PCREF__BUF_INIT;
	pcref__json *row = NULL;
	const pcref__crm_pair *p;
	char *u;
	int rc;
	if ((p = pcref__crm_pairs_find(&d->users, NULL, id))) {
		*email = p->key;
		return PCREF_OK;
	}
	pcref__dyn_set_path(&url, d->user_set, id);
	pcref__dyn_add_param(&url, "$select", "internalemailaddress");
	if ((rc = pcref__buf_detach(&url, &u, NULL)) < 0)
		return rc;
	rc = pcref__dyn_send(d, "GET", u, NULL, NULL, NULL, "reading the owner of a record", &row);
	pcref__dealloc(u);
	if (rc == PCREF_OK)
		rc = pcref__crm_pairs_add(&d->users,
		           pcref__json_string(pcref__json_get(row, "internalemailaddress")), id, &p);
	pcref__json_free(row);
	*email = rc == PCREF_OK ? p->key : NULL;
	return rc;
}

static int dyn_resolve_currency(const char *iso, void *payload)
{
	const pcref__crm_pair *p;
	if (!iso || !*iso)
		return pcref__error(PCREF_EINVALID, "resolve_currency needs an ISO 4217 code");
	return find_currency(payload, iso, &p);
}

static int dyn_resolve_user(const char *email, void *payload)
{
	const pcref__crm_pair *p;
	if (!email || !*email)
		return pcref__error(PCREF_EINVALID, "resolve_user needs an email address");
	return find_user(payload, email, &p);
}

/* ---- rows -> records ------------------------------------------------------------------ */

static int lookup_value(pcref__buf *key, const char *nav)
{
	pcref__buf_printf(key, "_%s_value", nav);
	return key->failed ? pcref__error_nomem() : PCREF_OK;
}

static int read_col(dyn *d, pcref_opportunity *o, const dyn_col *c, const pcref__json *row)
{
	const pcref__json *v;
	pcref__buf key = PCREF__BUF_INIT;
	const char *id, *text = NULL;
	double num;
	int64_t ms;
	int rc = PCREF_OK;
	switch (c->kind) {
	case DYN_CURRENCY:
	case DYN_LOOKUP:
	case DYN_OWNER:
		if ((rc = lookup_value(&key, c->name)) < 0)
			break;
		id = pcref__json_string(pcref__json_get(row, key.data));
		if (!id)
			break;
		if (c->kind == DYN_CURRENCY && (rc = currency_code(d, id, &text)) == PCREF_OK)
			rc = pcref__crm_set_text_lenient(o, c->field, text);
		else if (c->kind == DYN_OWNER && (rc = user_email(d, id, &text)) == PCREF_OK)
			rc = text ? pcref_opportunity_set_text(o, c->field, text) : PCREF_OK;
		else if (c->kind == DYN_LOOKUP)
			rc = pcref_opportunity_set_text(o, c->field, id);
		break;
	default:
		v = pcref__json_get(row, c->name);
		if (!v || v->type == PCREF__JSON_NULL)
			break;
		if (c->kind == DYN_TEXT || c->kind == DYN_FLEX)
			rc = pcref__crm_read_text(o, c->field, v);
		else if (c->kind == DYN_NUMBER && pcref__json_number(v, &num) == 0)
			rc = pcref_opportunity_set_number(o, c->field, num);
		else if (c->kind == DYN_DATE && pcref__json_string(v) && pcref__time_parse(v->u.str.text, &ms) == 0)
			rc = pcref_opportunity_set_time(o, c->field, ms);
		else if (c->kind == DYN_FLAG && v->type == PCREF__JSON_BOOL)
			rc = pcref_opportunity_set_flag(o, c->field, v->u.boolean);
		else if (c->kind == DYN_STATE && pcref__json_number(v, &num) == 0 && num >= 0 && num <= 2)
			rc = pcref_opportunity_set_text(o, c->field, state_names[(int)num]);
		if (rc == PCREF_OK)
			pcref_error_clear(); /* a value of another type is left unset */
		break;
	}
	pcref__buf_dispose(&key);
	return rc;
}

static int row_to_record(dyn *d, const dyn_table *t, const pcref__json *row, pcref_opportunity **out)
{
	pcref_opportunity *o;
	const char *id = pcref__json_string(pcref__json_get(row, t->pk));
	const char *modified = pcref__json_string(pcref__json_get(row, t->modified));
	int64_t ms = PCREF__TIME_NONE;
	int rc;
	*out = NULL;
	if (!id)
		return pcref__error(PCREF_EPROTOCOL, "Dynamics 365 sent a %s without its id (%s)", t->noun, t->pk);
	if ((rc = pcref_opportunity_new(&o)) < 0)
		return rc;
	if (modified && pcref__time_parse(modified, &ms) < 0)
		pcref_error_clear();
	if ((rc = pcref_opportunity_set_text(o, PCREF_FIELD_ID, id)) < 0 ||
	    (rc = pcref_opportunity_set_text(o, PCREF_FIELD_VERSION,
	                                     pcref__json_string(pcref__json_get(row, "@odata.etag")))) < 0 ||
	    (rc = pcref_opportunity_set_time(o, PCREF_FIELD_MODIFIED_TIME, ms)) < 0 ||
	    (rc = pcref_opportunity_set_flag(o, PCREF_FIELD_IS_LEAD, t->lead)) < 0)
		goto fail;
	for (size_t i = 0; i < t->ncols; i++)
		if ((rc = read_col(d, o, &t->cols[i], row)) < 0)
			goto fail;
	if (!t->lead && (rc = pcref__crm_read_extras(o, row, d->extras, d->nextras)) < 0)
		goto fail;
	if (!t->lead &&
	    (((d->account_nav && (rc = pcref__crm_read_related(o, pcref__json_get(row, d->account_nav), d->account_cols,
	                                            PCREF_FIELD_ACCOUNT_NAME, PCREF_FIELD_ACCOUNT_ADDRESS2)) < 0)) ||
	     (d->contact_nav && (rc = pcref__crm_read_related(o, pcref__json_get(row, d->contact_nav), d->contact_cols,
	                                           PCREF_FIELD_CONTACT_FIRST_NAME, PCREF_FIELD_CONTACT_PHONE)) < 0)))
		goto fail;
	*out = o;
	return PCREF_OK;
fail:
	pcref_opportunity_free(o);
	return rc;
}

/* ---- solutions (R-07) ---------------------------------------------------------------- */

typedef struct sol_fill {
	pcref_opportunity **recs;
	size_t n;
} sol_fill;

static int sol_rows_cb(dyn *d, const pcref__json *rows, void *payload)
{
	sol_fill *f = payload;
	pcref__buf key = PCREF__BUF_INIT;
	int rc = lookup_value(&key, d->sol_opp_nav);
	for (size_t i = 0; rc == PCREF_OK && i < rows->u.arr.len; i++) {
		const pcref__json *row = rows->u.arr.items[i];
		const char *opp = pcref__json_string(pcref__json_get(row, key.data));
		const char *sid = pcref__json_string(pcref__json_get(row, d->sol_id_col));
		if (!opp || !sid || !*sid)
			continue;
		for (size_t k = 0; k < f->n; k++)
			if (strcasecmp(pcref_opportunity_text(f->recs[k], PCREF_FIELD_ID), opp) == 0) {
				rc = pcref_opportunity_solution_add(f->recs[k], sid,
				                                    pcref__json_string(pcref__json_get(row, d->sol_name_col)));
				break;
			}
	}
	pcref__buf_dispose(&key);
	return rc;
}

/* A failed read of the solution entity set: a missing set is a setup
 * problem, not a missing record. */
int pcref__dyn_solution_error(dyn *d, int rc)
{
	if (rc == PCREF_ENOTFOUND)
		return pcref__error_prefix(PCREF_EINVALID, "the solution entity set '%s' is not in the environment: "
		                           "install the Partner Center connector's solution or set "
		                           "entities.solution in the mapping", d->solution_set);
	if (rc < 0 && rc != PCREF_ENOMEM)
		return pcref__error_prefix(rc, "reading the solutions (entity set '%s' of the mapping)", d->solution_set);
	return rc;
}

/* Fill the solution lists of opportunities, 100 per query: an "or" of 100
 * id comparisons keeps the URL near 8 KB, far below the service's ~32 KB
 * limit (A.10), and a page of 500 needs 5 queries. */
#define SOL_IDS_PER_QUERY 100
static int fetch_solutions(dyn *d, pcref_opportunity **recs, size_t n)
{
	int rc = PCREF_OK;
	for (size_t start = 0; start < n && rc == PCREF_OK; start += SOL_IDS_PER_QUERY) {
		pcref__buf url = PCREF__BUF_INIT, filter = PCREF__BUF_INIT, sel = PCREF__BUF_INIT;
		sol_fill f = { recs + start, n - start < SOL_IDS_PER_QUERY ? n - start : SOL_IDS_PER_QUERY };
		char *u;
		for (size_t k = 0; k < f.n; k++)
			pcref__buf_printf(&filter, "%s%s eq %s", k ? " or " : "", d->sol_opp_value,
			                  pcref_opportunity_text(f.recs[k], PCREF_FIELD_ID));
		pcref__buf_printf(&sel, "%s,%s,%s", d->sol_id_col, d->sol_name_col, d->sol_opp_value);
		pcref__dyn_set_path(&url, d->solution_set, NULL);
		pcref__dyn_add_param(&url, "$select", sel.data);
		pcref__dyn_add_param(&url, "$filter", filter.data);
		pcref__buf_dispose(&filter);
		pcref__buf_dispose(&sel);
		if ((rc = pcref__buf_detach(&url, &u, NULL)) == PCREF_OK)
			rc = query(d, u, 1, "reading the Microsoft solutions of opportunities", sol_rows_cb, &f);
	}
	return pcref__dyn_solution_error(d, rc);
}

/* ---- reading records ------------------------------------------------------------------- */

static int record_url(pcref__buf *url, const dyn_table *t, const char *id)
{
	pcref__dyn_set_path(url, t->set, id);
	pcref__dyn_add_param(url, "$select", t->select);
	pcref__dyn_add_param(url, "$expand", t->expand);
	return url->failed ? pcref__error_nomem() : PCREF_OK;
}

static int read_one(dyn *d, const dyn_table *t, const char *id, pcref_opportunity **out)
{
	pcref__buf url = PCREF__BUF_INIT;
	pcref__json *row = NULL;
	char what[96], *u;
	int rc;
	snprintf(what, sizeof(what), "reading %s %s", t->noun, id);
	if ((rc = record_url(&url, t, id)) < 0 || (rc = pcref__buf_detach(&url, &u, NULL)) < 0) {
		pcref__buf_dispose(&url);
		return rc;
	}
	rc = pcref__dyn_send(d, "GET", u, NULL, NULL, NULL, what, &row);
	pcref__dealloc(u);
	if (rc == PCREF_OK)
		rc = row_to_record(d, t, row, out);
	if (rc == PCREF_OK && !t->lead && (rc = fetch_solutions(d, out, 1)) < 0) {
		pcref_opportunity_free(*out);
		*out = NULL;
	}
	pcref__json_free(row);
	return rc;
}

static int dyn_get(pcref_opportunity **out, const char *id, void *payload)
{
	dyn *d = payload;
	pcref_opportunity *o = NULL;
	int rc;
	if (!out)
		return pcref__error(PCREF_EINVALID, "get_opportunity needs somewhere to put the record");
	*out = NULL;
	if (!pcref__dyn_is_guid(id))
		return pcref__dyn_not_a_row("opportunity or lead", id);
	rc = read_one(d, &d->opp, id, &o);
	if (rc == PCREF_ENOTFOUND)
		rc = read_one(d, &d->lead, id, &o);
	if (rc == PCREF_ENOTFOUND)
		return pcref__error(PCREF_ENOTFOUND, "Dynamics 365 has no opportunity or lead with id '%s'", id);
	*out = o;
	return rc;
}

static int find_linked(dyn *d, const dyn_table *t, const char *referral_id, pcref_opportunity **out)
{
	const char *col = pcref_mapping_column(d->map, PCREF_FIELD_REFERRAL_ID);
	pcref__buf url = PCREF__BUF_INIT, filter = PCREF__BUF_INIT;
	pcref__json *row = NULL;
	char what[160];
	int rc;
	if (!out)
		return pcref__error(PCREF_EINVALID, "find needs somewhere to put the record");
	*out = NULL;
	if (!referral_id || !*referral_id)
		return pcref__error(PCREF_EINVALID, "a referral id is required to find the %s linked to it", t->noun);
	if (!col)
		return pcref__error(PCREF_EINVALID, "the mapping has no column for referral_id: map it to the %s "
		                    "column that holds the Partner Center referral id (R-02)", t->noun);
	snprintf(what, sizeof(what), "finding the %s of referral %.80s", t->noun, referral_id);
	pcref__buf_printf(&filter, "%s eq ", col);
	pcref__dyn_odata_string(&filter, referral_id);
	if ((rc = record_url(&url, t, NULL)) == PCREF_OK) {
		pcref__dyn_add_param(&url, "$filter", filter.data);
		pcref__dyn_add_param(&url, "$top", "1");
		rc = pcref__dyn_query_first(d, &url, what, &row);
	}
	pcref__buf_dispose(&url);
	pcref__buf_dispose(&filter);
	if (rc < 0)
		return rc;
	if (!row)
		return pcref__error(PCREF_ENOTFOUND, "Dynamics 365 has no %s linked to referral '%s' (column %s)", t->noun,
		                    referral_id, col);
	rc = row_to_record(d, t, row, out);
	pcref__json_free(row);
	if (rc == PCREF_OK && !t->lead && (rc = fetch_solutions(d, out, 1)) < 0) {
		pcref_opportunity_free(*out);
		*out = NULL;
	}
	return rc;
}

static int dyn_find(pcref_opportunity **out, const char *referral_id, void *payload)
{
	dyn *d = payload;
	return find_linked(d, &d->opp, referral_id, out);
}

static int dyn_find_lead(pcref_opportunity **out, const char *referral_id, void *payload)
{
	dyn *d = payload;
	return find_linked(d, &d->lead, referral_id, out);
}

/* ---- listing ------------------------------------------------------------------------------ */

typedef struct listing {
	pcref_opportunity_cb cb;
	void *payload;
} listing;

static int list_page_cb(dyn *d, const pcref__json *rows, void *payload)
{
	listing *l = payload;
	size_t n = rows->u.arr.len, done = 0;
	pcref_opportunity **recs;
	int rc = PCREF_OK;
	if (!n)
		return PCREF_OK;
	if (!(recs = pcref__calloc(n, sizeof(*recs))))
		return pcref__error_nomem();
	for (; done < n && rc == PCREF_OK; done++)
		rc = row_to_record(d, &d->opp, rows->u.arr.items[done], &recs[done]);
	if (rc == PCREF_OK)
		rc = fetch_solutions(d, recs, n);
	for (size_t i = 0; i < n && rc == PCREF_OK; i++)
		rc = l->cb(recs[i], l->payload);
	for (size_t i = 0; i < n; i++)
		pcref_opportunity_free(recs[i]);
	pcref__dealloc(recs);
	return rc;
}

static int dyn_list(int64_t since, pcref_opportunity_cb cb, void *cb_payload, void *payload)
{
	dyn *d = payload;
	listing l = { cb, cb_payload };
	pcref__buf url = PCREF__BUF_INIT, order = PCREF__BUF_INIT, filter = PCREF__BUF_INIT;
	char iso[PCREF__TIME_BUFSZ], *u;
	int rc;
	if (!cb)
		return pcref__error(PCREF_EINVALID, "list_modified needs a callback");
	if (since != PCREF_TIME_NONE) {
		if ((rc = pcref__time_format(since, iso)) < 0)
			return rc;
		pcref__buf_printf(&filter, "%s ge %s", d->opp.modified, iso);
	}
	pcref__buf_printf(&order, "%s asc,%s asc", d->opp.modified, d->opp.pk);
	if ((rc = record_url(&url, &d->opp, NULL)) == PCREF_OK) {
		pcref__dyn_add_param(&url, "$filter", filter.data);
		pcref__dyn_add_param(&url, "$orderby", order.data);
		rc = pcref__buf_detach(&url, &u, NULL);
	}
	pcref__buf_dispose(&url);
	pcref__buf_dispose(&order);
	pcref__buf_dispose(&filter);
	if (rc < 0)
		return rc;
	return query(d, u, 1, "listing modified opportunities", list_page_cb, &l);
}

/* ---- records -> request bodies ---------------------------------------------------------------- */

int pcref__dyn_bind(pcref__json *body, const char *nav, const char *set, const char *id)
{
	pcref__buf key = PCREF__BUF_INIT, ref = PCREF__BUF_INIT;
	int rc;
	pcref__buf_printf(&key, "%s@odata.bind", nav);
	if (id)
		pcref__buf_printf(&ref, "/%s(%s)", set, id);
	if (key.failed || ref.failed)
		rc = pcref__error_nomem();
	else
		rc = pcref__json_set(body, key.data,
		                     id ? pcref__json_new_string(ref.data, ref.len) : pcref__json_new(PCREF__JSON_NULL));
	pcref__buf_dispose(&key);
	pcref__buf_dispose(&ref);
	return rc;
}

/* Write field c of `o` into `body` (an unset field clears the column when
 * `clear`, else is left out). */
static int write_col(dyn *d, pcref__json *body, const dyn_col *c, const pcref_opportunity *o, int clear,
                     const char *noun)
{
	const pcref_opportunity *src = o;
	const char *text = pcref_opportunity_text(src, c->field);
	const pcref__crm_pair *p;
	char date[PCREF__TIME_BUFSZ];
	int rc;
	if (c->kind == DYN_STATE && !clear)
		return PCREF_OK; /* not valid on create (A.15): a record starts open */
	if (!pcref_opportunity_has(o, c->field)) {
		if (!clear || c->kind == DYN_STATE)
			return PCREF_OK;
		if (c->kind == DYN_CURRENCY || c->kind == DYN_LOOKUP || c->kind == DYN_OWNER)
			return pcref__dyn_bind(body, c->name, NULL, NULL);
		return pcref__json_set(body, c->name, pcref__json_new(PCREF__JSON_NULL));
	}
	switch (c->kind) {
	case DYN_TEXT:
	case DYN_FLEX:
		return pcref__json_set(body, c->name, pcref__crm_text_node(text));
	case DYN_NUMBER:
		return pcref__json_set(body, c->name, pcref__json_new_number(pcref_opportunity_number(o, c->field)));
	case DYN_DATE:
		if ((rc = pcref__time_format(pcref_opportunity_time(o, c->field), date)) < 0)
			return rc;
		return pcref__json_set(body, c->name, pcref__json_new_string(date, 10));
	case DYN_FLAG:
		return pcref__json_set(body, c->name, pcref__json_new_bool(pcref_opportunity_flag(o, c->field) == 1));
	case DYN_STATE:
		if (strcmp(text, "won") == 0)
			return pcref__error(PCREF_EINVALID, "a lead is qualified in Dynamics 365 itself (QualifyLead), "
			                    "not by writing its state");
		return pcref__json_set(body, c->name, pcref__json_new_number(strcmp(text, "lost") == 0 ? 2 : 0));
	case DYN_CURRENCY:
		if ((rc = find_currency(d, text, &p)) < 0)
			return rc;
		return pcref__dyn_bind(body, c->name, d->currency_set, p->id);
	case DYN_OWNER:
		if ((rc = find_user(d, text, &p)) < 0)
			return rc;
		return pcref__dyn_bind(body, c->name, d->user_set, p->id);
	case DYN_LOOKUP:
		if (!pcref__dyn_is_guid(text))
			return pcref__error(PCREF_EINVALID, "the %s's %s '%s' is not a Dynamics 365 record id (a GUID)",
			                    noun, pcref_opportunity_field_name(c->field), text);
		return pcref__dyn_bind(body, c->name, c->target, text);
	}
	return PCREF_OK;
}

static const dyn_col *col_of(const dyn_table *t, int field)
{
	for (size_t i = 0; i < t->ncols; i++)
		if (t->cols[i].field == field)
			return &t->cols[i];
	return NULL;
}

/* Send a write now, or queue it when a batch is open and no answer is
 * wanted; a write that wants an answer first sends what is queued. */
int pcref__dyn_write_row(dyn *d, const char *method, const dyn_table *t, const char *id, const pcref__json *body,
                     const char *if_match, const char *what, const char *link, pcref_opportunity **out)
{
	pcref__buf path = PCREF__BUF_INIT;
	pcref__json *row = NULL;
	char *text = NULL, *u = NULL;
	int rc;
	pcref__dyn_set_path(&path, t ? t->set : d->solution_set, id);
	if ((rc = pcref__crm_body_text(body, &text)) < 0)
		goto out;
	if (d->in_batch && !out) {
		rc = path.failed ? pcref__error_nomem() : pcref__dyn_queue(d, method, path.data, text, if_match, what, link);
		goto out;
	}
	if (d->in_batch && (rc = pcref__dyn_flush(d)) < 0)
		goto out;
	if (out) {
		pcref__dyn_add_param(&path, "$select", t->select);
		if (strcmp(method, "POST") == 0)
			pcref__dyn_add_param(&path, "$expand", t->expand);
	}
	if ((rc = pcref__buf_detach(&path, &u, NULL)) < 0)
		goto out;
	rc = pcref__dyn_send(d, method, u, text, if_match, out ? "return=representation" : NULL, what,
	                     out ? &row : NULL);
	if (rc == PCREF_OK && out) {
		if (!row)
			rc = pcref__error(PCREF_EPROTOCOL, "Dynamics 365 sent no record back when %s (it was asked to "
			                  "with Prefer: return=representation)", what);
		else
			rc = row_to_record(d, t, row, out);
	}
out:
	pcref__json_free(row);
	pcref__buf_dispose(&path);
	pcref__dealloc(text);
	pcref__dealloc(u);
	return rc;
}

static int create(dyn *d, pcref_opportunity **out, const pcref_opportunity *o, const dyn_table *t)
{
	pcref__json *body;
	const char *name = pcref_opportunity_text(o, PCREF_FIELD_NAME);
	char what[160];
	int rc = PCREF_OK;
	if (out)
		*out = NULL;
	if ((rc = pcref__crm_check_create(o, t->noun, t->lead, "Dynamics 365")) < 0)
		return rc;
	if (!(body = pcref__json_new(PCREF__JSON_OBJECT)))
		return pcref__error_nomem();
	for (size_t i = 0; i < t->ncols && rc == PCREF_OK; i++)
		rc = write_col(d, body, &t->cols[i], o, 0, t->noun);
	if (rc == PCREF_OK && !t->lead)
		rc = pcref__crm_write_extras(body, o, d->extras, d->nextras);
	if (rc == PCREF_OK)
		rc = pcref__crm_add_defaults(d->doc, body, t->lead ? "lead" : "opportunity");
	if (rc == PCREF_OK) {
		snprintf(what, sizeof(what), "creating %s '%.100s'", t->noun, name);
		rc = pcref__dyn_write_row(d, "POST", t, NULL, body, NULL, what, NULL, out);
	}
	pcref__json_free(body);
	return rc;
}

static int dyn_create(pcref_opportunity **out, const pcref_opportunity *opp, void *payload)
{
	dyn *d = payload;
	return create(d, out, opp, &d->opp);
}

static int dyn_create_lead(pcref_opportunity **out, const pcref_opportunity *lead, void *payload)
{
	dyn *d = payload;
	return create(d, out, lead, &d->lead);
}

static int update(dyn *d, pcref_opportunity **out, const pcref_opportunity *o, const int *fields, size_t n,
                  const dyn_table *t)
{
	const char *id = pcref_opportunity_text(o, PCREF_FIELD_ID);
	const char *version = pcref_opportunity_text(o, PCREF_FIELD_VERSION);
	pcref__json *body;
	char what[96];
	int rc = PCREF_OK;
	if (out)
		*out = NULL;
	if (!o || (n && !fields))
		return pcref__error(PCREF_EINVALID, "update needs a record and its list of fields");
	if (!pcref__dyn_is_guid(id))
		return pcref__dyn_not_a_row(t->noun, id);
	/* validate everything before sending anything */
	if ((rc = pcref__crm_check_update_fields(fields, n, t->lead, "WinOpportunity/LoseOpportunity")) < 0)
		return rc;
	if (!(body = pcref__json_new(PCREF__JSON_OBJECT)))
		return pcref__error_nomem();
	for (size_t i = 0; i < n && rc == PCREF_OK; i++) {
		const dyn_col *c = col_of(t, fields[i]);
		if (c) /* fields with no column here (account and contact details) stay as they are */
			rc = write_col(d, body, c, o, 1, t->noun);
	}
	if (rc == PCREF_OK && !t->lead)
		rc = pcref__crm_write_extras(body, o, d->extras, d->nextras);
	snprintf(what, sizeof(what), "updating %s %s", t->noun, id);
	if (rc == PCREF_OK)
		rc = pcref__dyn_write_row(d, "PATCH", t, id, body, version ? version : "*", what, NULL, out);
	pcref__json_free(body);
	if (rc == PCREF_OK && out && !t->lead &&
	    ((rc = pcref__crm_keep_related(*out, o)) < 0 ||
	     (rc = fetch_solutions(d, out, 1)) < 0)) {
		pcref_opportunity_free(*out);
		*out = NULL;
	}
	return rc;
}

static int dyn_update(pcref_opportunity **out, const pcref_opportunity *opp, const int *fields, size_t n,
                      void *payload)
{
	dyn *d = payload;
	return update(d, out, opp, fields, n, &d->opp);
}

static int dyn_update_lead(pcref_opportunity **out, const pcref_opportunity *lead, const int *fields, size_t n,
                           void *payload)
{
	dyn *d = payload;
	return update(d, out, lead, fields, n, &d->lead);
}

/* ---- life cycle ---------------------------------------------------------------------------------- */

static void dyn_destroy(void *payload)
{
	dyn *d = payload;
	if (!d)
		return;
	pcref__dyn_queue_clear(d);
	pcref__dealloc(d->ops);
	pcref__crm_pairs_clear(&d->currencies);
	pcref__crm_pairs_clear(&d->users);
	pcref__dealloc(d->opp.select);
	pcref__dealloc(d->opp.expand);
	pcref__dealloc(d->lead.select);
	pcref__dealloc(d->opp_pk);
	pcref__dealloc(d->lead_pk);
	pcref__dealloc(d->account_pk);
	pcref__dealloc(d->contact_pk);
	pcref__dealloc(d->currency_pk);
	pcref__dealloc(d->user_pk);
	pcref__dealloc(d->solution_pk);
	pcref__dealloc(d->sol_id_col);
	pcref__dealloc(d->sol_name_col);
	pcref__dealloc(d->sol_opp_nav);
	pcref__dealloc(d->sol_opp_value);
	pcref__json_free(d->doc);
	pcref__dealloc((void *)d->extras);
	pcref_mapping_free(d->map);
	pcref_connection_free(d->conn);
	pcref__dealloc(d);
}

static void add_col(dyn_table *t, int field, const char *name, int kind, const char *target)
{
	if (!name)
		return;
	t->cols[t->ncols].field = field;
	t->cols[t->ncols].name = name;
	t->cols[t->ncols].kind = kind;
	t->cols[t->ncols].target = target;
	t->ncols++;
}

/* $select: the key, the modified time, every mapped column and the custom ones. */
static int build_select(dyn_table *t, const char *const *extras, size_t nextras)
{
	pcref__buf b = PCREF__BUF_INIT;
	pcref__buf_printf(&b, "%s,%s", t->pk, t->modified);
	for (size_t i = 0; i < t->ncols; i++) {
		int lookup = t->cols[i].kind == DYN_CURRENCY || t->cols[i].kind == DYN_LOOKUP || t->cols[i].kind == DYN_OWNER;
		pcref__buf_printf(&b, lookup ? ",_%s_value" : ",%s", t->cols[i].name);
	}
	for (size_t i = 0; i < nextras; i++)
		pcref__buf_printf(&b, ",%s", extras[i]);
	return pcref__buf_detach(&b, &t->select, NULL);
}

static void expand_one(pcref__buf *b, const char *nav, const char *const *cols, size_t n)
{
	int any = 0;
	if (!nav)
		return;
	for (size_t i = 0; i < n; i++)
		if (cols[i]) {
			if (!any)
				pcref__buf_printf(b, "%s%s($select=", b->len ? "," : "", nav);
			pcref__buf_printf(b, "%s%s", any ? "," : "", cols[i]);
			any = 1;
		}
	if (any)
		pcref__buf_putc(b, ')');
}

static int build_opportunity(dyn *d)
{
	const pcref_mapping *m = d->map;
	dyn_table *t = &d->opp;
	pcref__buf exp = PCREF__BUF_INIT;
	const char *id_col = pcref_mapping_column(m, PCREF_FIELD_ID);
	const char *mod_col = pcref_mapping_column(m, PCREF_FIELD_MODIFIED_TIME);
	static const struct { int field, kind; } plain[] = {
		{ PCREF_FIELD_NAME, DYN_TEXT }, { PCREF_FIELD_DEAL_VALUE, DYN_NUMBER },
		{ PCREF_FIELD_CURRENCY, DYN_CURRENCY }, { PCREF_FIELD_CLOSE_DATE, DYN_DATE },
		{ PCREF_FIELD_STAGE, DYN_TEXT }, { PCREF_FIELD_STATE, DYN_STATE }, { PCREF_FIELD_NOTES, DYN_TEXT },
		{ PCREF_FIELD_SYNC, DYN_FLAG }, { PCREF_FIELD_REFERRAL_ID, DYN_TEXT },
		{ PCREF_FIELD_REFERRAL_LINK, DYN_TEXT }, { PCREF_FIELD_HELP, DYN_FLEX },
		{ PCREF_FIELD_VISIBILITY, DYN_FLAG }, { PCREF_FIELD_MICROSOFT_CRM_ID, DYN_TEXT },
		{ PCREF_FIELD_AUDIT, DYN_TEXT }, { PCREF_FIELD_OWNER_EMAIL, DYN_OWNER },
	};
	t->set = pcref_mapping_entity(m, "opportunity");
	if (!id_col && !(id_col = d->opp_pk = pk_of_set(t->set)))
		return pcref__error_nomem();
	t->pk = id_col;
	t->modified = mod_col ? mod_col : "modifiedon";
	t->noun = "opportunity";
	for (size_t i = 0; i < PCREF__ARRAY_LEN(plain); i++)
		add_col(t, plain[i].field, pcref_mapping_column(m, plain[i].field), plain[i].kind, NULL);
	d->account_nav = pcref_mapping_column(m, PCREF_FIELD_ACCOUNT_ID);
	d->contact_nav = pcref_mapping_column(m, PCREF_FIELD_CONTACT_ID);
	add_col(t, PCREF_FIELD_ACCOUNT_ID, d->account_nav, DYN_LOOKUP, d->account_set);
	add_col(t, PCREF_FIELD_CONTACT_ID, d->contact_nav, DYN_LOOKUP, d->contact_set);
	for (int f = PCREF_FIELD_ACCOUNT_NAME; f <= PCREF_FIELD_ACCOUNT_ADDRESS2; f++)
		d->account_cols[f - PCREF_FIELD_ACCOUNT_NAME] = pcref_mapping_column(m, f);
	for (int f = PCREF_FIELD_CONTACT_FIRST_NAME; f <= PCREF_FIELD_CONTACT_PHONE; f++)
		d->contact_cols[f - PCREF_FIELD_CONTACT_FIRST_NAME] = pcref_mapping_column(m, f);
	expand_one(&exp, d->account_nav, d->account_cols, PCREF__ARRAY_LEN(d->account_cols));
	expand_one(&exp, d->contact_nav, d->contact_cols, PCREF__ARRAY_LEN(d->contact_cols));
	if (exp.len && pcref__buf_detach(&exp, &t->expand, NULL) < 0)
		return PCREF_ENOMEM;
	pcref__buf_dispose(&exp);
	/* custom field mappings: the CRM side's columns, read into and
	 * written from the record's extra fields of the same names */
	if ((d->nextras = pcref_mapping_extra_count(m)) &&
	    !(d->extras = pcref__calloc(d->nextras, sizeof(*d->extras))))
		return pcref__error_nomem();
	for (size_t i = 0; i < d->nextras; i++)
		d->extras[i] = pcref_mapping_extra_crm(m, i);
	return build_select(t, d->extras, d->nextras);
}

/* Leads have the standard lead columns; only the referral id's
 * column comes from the mapping (the connector adds it to both tables). */
static int build_lead(dyn *d)
{
	dyn_table *t = &d->lead;
	t->set = pcref_mapping_entity(d->map, "lead");
	if (!(d->lead_pk = pk_of_set(t->set)))
		return pcref__error_nomem();
	t->pk = d->lead_pk;
	t->modified = d->opp.modified;
	t->noun = "lead";
	t->lead = 1;
	add_col(t, PCREF_FIELD_NAME, "subject", DYN_TEXT, NULL);
	add_col(t, PCREF_FIELD_ACCOUNT_NAME, "companyname", DYN_TEXT, NULL);
	add_col(t, PCREF_FIELD_CONTACT_FIRST_NAME, "firstname", DYN_TEXT, NULL);
	add_col(t, PCREF_FIELD_CONTACT_LAST_NAME, "lastname", DYN_TEXT, NULL);
	add_col(t, PCREF_FIELD_CONTACT_EMAIL, "emailaddress1", DYN_TEXT, NULL);
	add_col(t, PCREF_FIELD_CONTACT_PHONE, "telephone1", DYN_TEXT, NULL);
	add_col(t, PCREF_FIELD_DEAL_VALUE, "budgetamount", DYN_NUMBER, NULL);
	add_col(t, PCREF_FIELD_CURRENCY, "transactioncurrencyid", DYN_CURRENCY, NULL);
	add_col(t, PCREF_FIELD_NOTES, "description", DYN_TEXT, NULL);
	add_col(t, PCREF_FIELD_STATE, "statecode", DYN_STATE, NULL);
	add_col(t, PCREF_FIELD_REFERRAL_ID, pcref_mapping_column(d->map, PCREF_FIELD_REFERRAL_ID), DYN_TEXT, NULL);
	return build_select(t, NULL, 0);
}

/* The solution link rows' columns, named after the set's publisher prefix
 * ("msft_mpcsolutions" -> msft_solutionid, msft_name, msft_opportunityid). */
static int build_solution(dyn *d)
{
	const char *set = d->solution_set, *us = strchr(set, '_');
	size_t plen = us ? (size_t)(us - set) + 1 : 0;
	pcref__buf a = PCREF__BUF_INIT, b = PCREF__BUF_INIT, c = PCREF__BUF_INIT, v = PCREF__BUF_INIT;
	int rc;
	pcref__buf_printf(&a, "%.*ssolutionid", (int)plen, set);
	pcref__buf_printf(&b, "%.*sname", (int)plen, set);
	pcref__buf_printf(&c, "%.*sopportunityid", (int)plen, set);
	pcref__buf_printf(&v, "_%.*sopportunityid_value", (int)plen, set);
	if ((rc = pcref__buf_detach(&a, &d->sol_id_col, NULL)) == 0 &&
	    (rc = pcref__buf_detach(&b, &d->sol_name_col, NULL)) == 0 &&
	    (rc = pcref__buf_detach(&c, &d->sol_opp_nav, NULL)) == 0)
		rc = pcref__buf_detach(&v, &d->sol_opp_value, NULL);
	pcref__buf_dispose(&a);
	pcref__buf_dispose(&b);
	pcref__buf_dispose(&c);
	pcref__buf_dispose(&v);
	return rc;
}

static int set_up(dyn *d, const pcref_mapping *mapping)
{
	int rc;
	if ((rc = pcref__crm_copy_mapping(mapping, "dynamics", &d->map, &d->doc)) < 0)
		return rc;
	d->account_set = pcref_mapping_entity(d->map, "account");
	d->contact_set = pcref_mapping_entity(d->map, "contact");
	d->currency_set = pcref_mapping_entity(d->map, "currency");
	d->user_set = pcref_mapping_entity(d->map, "user");
	d->solution_set = pcref_mapping_entity(d->map, "solution");
	d->close_reason_col = pcref_mapping_column(d->map, PCREF_FIELD_CLOSE_REASON);
	if (!(d->account_pk = pk_of_set(d->account_set)) || !(d->contact_pk = pk_of_set(d->contact_set)) ||
	    !(d->currency_pk = pk_of_set(d->currency_set)) || !(d->user_pk = pk_of_set(d->user_set)) ||
	    !(d->solution_pk = pk_of_set(d->solution_set)))
		return pcref__error_nomem();
	if ((rc = build_opportunity(d)) < 0 || (rc = build_lead(d)) < 0 || (rc = build_solution(d)) < 0)
		return rc;
	return PCREF_OK;
}

int pcref_crm_dynamics_new(pcref_crm **out, pcref_connection *conn, const pcref_mapping *mapping)
{
	pcref_crm_backend b;
	dyn *d;
	int rc;
	if (!out || !conn)
		return pcref__error(PCREF_EINVALID, "pcref_crm_dynamics_new: out and conn must not be NULL");
	*out = NULL;
	if (mapping && strcmp(pcref_mapping_backend(mapping), "dynamics") != 0)
		return pcref__error(PCREF_EINVALID, "the mapping is for the '%s' backend, not dynamics: load one with "
		                    "\"backend\": \"dynamics\" (or pass NULL for the defaults)",
		                    pcref_mapping_backend(mapping));
	if (!(d = pcref__calloc(1, sizeof(*d))))
		return pcref__error_nomem();
	d->conn = pcref__connection_ref(conn);
	if ((rc = set_up(d, mapping)) < 0) {
		dyn_destroy(d);
		return rc;
	}
	pcref_crm_backend_init(&b, PCREF_CRM_BACKEND_VERSION);
	b.name = "dynamics";
	b.payload = d;
	b.destroy = dyn_destroy;
	b.get_opportunity = dyn_get;
	b.find_opportunity = dyn_find;
	b.create_opportunity = dyn_create;
	b.update_opportunity = dyn_update;
	b.list_modified = dyn_list;
	b.ensure_account = pcref__dyn_ensure_account;
	b.ensure_contact = pcref__dyn_ensure_contact;
	b.add_solution = pcref__dyn_add_solution;
	b.remove_solution = pcref__dyn_remove_solution;
	b.close_opportunity = pcref__dyn_close;
	b.find_lead = dyn_find_lead;
	b.create_lead = dyn_create_lead;
	b.update_lead = dyn_update_lead;
	b.resolve_currency = dyn_resolve_currency;
	b.resolve_user = dyn_resolve_user;
	b.batch_begin = pcref__dyn_batch_begin;
	b.batch_commit = pcref__dyn_batch_commit;
	if ((rc = pcref_crm_new(out, &b)) < 0)
		dyn_destroy(d);
	return rc;
}
