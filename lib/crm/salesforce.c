/* The Salesforce backend: every member of the CRM vtable over the
 * Salesforce REST API (crm-apis.md part B), through a Connection whose token
 * endpoint names the instance the calls go to (instance_url, B.1). Field and
 * object names come from the mapping; the semantics mirror the in-memory
 * backend (memory.c). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "salesforce_internal.h"

/* ---- small helpers ------------------------------------------------------------------ */

int pcref__sf_is_id(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n != 15 && n != 18)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]))
			return 0;
	return 1;
}

int pcref__sf_not_a_record(const char *noun, const char *id)
{
	return pcref__error(PCREF_ENOTFOUND, "Salesforce has no %s with id '%.80s' (a record id is 15 or 18 letters "
	                    "and digits, such as 006000000000001AAA)", noun, id ? id : "(null)");
}

void pcref__sf_soql_string(pcref__buf *b, const char *s)
{
	pcref__buf_putc(b, '\'');
	for (; *s; s++) {
		if (*s == '\'' || *s == '\\')
			pcref__buf_putc(b, '\\');
		pcref__buf_putc(b, *s);
	}
	pcref__buf_putc(b, '\'');
}

void pcref__sf_soql_term(pcref__buf *where, const char *field, const char *value)
{
	pcref__buf_printf(where, "%s%s = ", where->len ? " AND " : "", field);
	if (value)
		pcref__sf_soql_string(where, value);
	else
		pcref__buf_puts(where, "null");
}

/* The relationship name of a reference field (AccountId -> Account,
 * Opportunity__c -> Opportunity__r), or NULL. */
static char *relationship_of(const char *field)
{
	size_t n = field ? strlen(field) : 0;
	pcref__buf b = PCREF__BUF_INIT;
	char *out = NULL;
	if (n > 3 && strcmp(field + n - 3, "__c") == 0)
		pcref__buf_printf(&b, "%.*s__r", (int)(n - 3), field);
	else if (n > 2 && strcmp(field + n - 2, "Id") == 0)
		pcref__buf_printf(&b, "%.*s", (int)(n - 2), field);
	else
		return NULL;
	if (pcref__buf_detach(&b, &out, NULL) < 0)
		return NULL;
	return out;
}

/* A string setting of the mapping document (section, or section/key). */
static const char *doc_string(const pcref__json *doc, const char *section, const char *key)
{
	const pcref__json *v = pcref__json_get(doc, section);
	return pcref__json_string(key ? pcref__json_get(v, key) : v);
}

/* ---- sending ------------------------------------------------------------------------- */

/* The absolute URL of a path on the instance (B.0): the token response's
 * instance_url (B.1), else the connection's base URL. */
static int instance_url(sf *d, const char *path, const char *what, pcref__buf *url)
{
	const char *inst;
	int rc;
	if ((rc = pcref__connection_authenticate(d->conn, what)) < 0)
		return rc;
	inst = pcref__connection_instance_url(d->conn);
	if (inst) {
		size_t n = strlen(inst);
		while (n && inst[n - 1] == '/')
			n--;
		pcref__buf_add(url, inst, n);
	}
	pcref__buf_puts(url, path);
	return url->failed ? pcref__error_nomem() : PCREF_OK;
}

/* Sforce-Limit-Info: api-usage=<used>/<allocation> (B.10). */
static void note_limits(sf *d, const pcref__http_response *resp)
{
	const char *v = pcref__http_header_get(resp, "Sforce-Limit-Info");
	const char *p = v ? strstr(v, "api-usage=") : NULL;
	long used, max;
	if (p && sscanf(p + 10, "%ld/%ld", &used, &max) == 2 && used >= 0 && max > 0) {
		d->api_used = used;
		d->api_max = max;
	}
}

static int64_t now_ms(void)
{
	return pcref__net_mono_ms();
}

static int limit_exceeded(sf *d, const char *what)
{
	char usage[64] = "";
	if (d->api_max > 0)
		snprintf(usage, sizeof(usage), " (api-usage=%ld/%ld)", d->api_used, d->api_max);
	if (d->api_max > 0 && d->api_used >= d->api_max) {
		d->paused_until = now_ms() + SF_LIMIT_PAUSE_MS;
		return pcref__error_http(PCREF_ETHROTTLED, 403, "REQUEST_LIMIT_EXCEEDED", "",
			"Salesforce refused %s: the org has used its 24-hour API request allocation%s "
			"(REQUEST_LIMIT_EXCEEDED) — calls are paused for %d s; wait for the allocation to recover "
			"or ask Salesforce for a higher one", what, usage, SF_LIMIT_PAUSE_MS / 1000);
	}
	return pcref__error_http(PCREF_ETHROTTLED, 403, "REQUEST_LIMIT_EXCEEDED", "",
		"Salesforce refused %s: too many concurrent long-running requests for the org%s "
		"(REQUEST_LIMIT_EXCEEDED) — try again shortly", what, usage);
}

int pcref__sf_send(sf *d, const char *method, const char *url, const char *body, const char *if_unmodified,
                   const char *what, pcref__json **out)
{
	pcref__http_request req = { 0 };
	pcref__http_response resp = PCREF__HTTP_RESPONSE_INIT;
	pcref__buf abs = PCREF__BUF_INIT, cond = PCREF__BUF_INIT;
	const char *headers[3];
	size_t nh = 0;
	int rc;
	if (out)
		*out = NULL;
	if (d->paused_until && now_ms() < d->paused_until) {
		char usage[64] = "";
		if (d->api_max > 0)
			snprintf(usage, sizeof(usage), " (api-usage=%ld/%ld)", d->api_used, d->api_max);
		return pcref__error_http(PCREF_ETHROTTLED, 0, "REQUEST_LIMIT_EXCEEDED", "",
			"not %s: the Salesforce org's API request allocation is used up%s, so calls are paused for "
			"%lld s more — wait for the allocation to recover", what, usage,
			(long long)((d->paused_until - now_ms()) / 1000 + 1));
	}
	d->paused_until = 0;
	headers[nh++] = "Accept: application/json";
	if (if_unmodified) {
		pcref__buf_printf(&cond, "If-Unmodified-Since: %s", if_unmodified);
		headers[nh++] = cond.data;
	}
	headers[nh] = NULL;
	if ((rc = instance_url(d, url, what, &abs)) < 0)
		goto out;
	if (cond.failed) {
		rc = pcref__error_nomem();
		goto out;
	}
	req.method = method;
	req.url = abs.data;
	req.headers = headers;
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	req.content_type = "application/json; charset=UTF-8";
	req.what = what;
	rc = pcref__http_send(d->conn, &req, &resp);
	note_limits(d, &resp);
	if (rc < 0 && resp.status == 403 && strcmp(pcref_error_last()->service_code, "REQUEST_LIMIT_EXCEEDED") == 0)
		rc = limit_exceeded(d, what);
	else if (rc == PCREF_ECONFLICT && if_unmodified)
		rc = pcref__error_prefix(PCREF_ECONFLICT, "the record was changed in Salesforce after it was read "
		                         "(If-Unmodified-Since: %s) — re-read it and apply the change again",
		                         if_unmodified);
	if (rc == PCREF_OK && out && resp.body && resp.body_len)
		rc = pcref__json_parse(out, resp.body, resp.body_len, "the Salesforce answer");
out:
	pcref__http_response_dispose(&resp);
	pcref__buf_dispose(&abs);
	pcref__buf_dispose(&cond);
	return rc;
}

/* ---- queries (B.6) ------------------------------------------------------------------- */

int pcref__sf_query(sf *d, const char *soql, const char *what, pcref__sf_page_cb cb, void *payload)
{
	pcref__buf url = PCREF__BUF_INIT;
	char *next = NULL;
	int rc;
	pcref__buf_printf(&url, "%s/query?q=", d->api);
	pcref__http_url_escape(&url, soql);
	if (url.failed) {
		pcref__buf_dispose(&url);
		return pcref__error_nomem();
	}
	if ((rc = pcref__buf_detach(&url, &next, NULL)) < 0)
		return rc;
	while (next && rc == PCREF_OK) {
		pcref__json *page = NULL;
		const pcref__json *records;
		const char *more;
		char *u = next;
		next = NULL;
		rc = pcref__sf_send(d, "GET", u, NULL, NULL, what, &page);
		pcref__dealloc(u);
		records = pcref__json_get(page, "records");
		if (rc == PCREF_OK && (!records || records->type != PCREF__JSON_ARRAY))
			rc = pcref__error(PCREF_EPROTOCOL, "Salesforce answered %s without a \"records\" array", what);
		if (rc == PCREF_OK)
			rc = cb(d, records, payload);
		/* the next batch: GET <nextRecordsUrl> until done (B.6); the
		 * locator is a path on the instance, never another host */
		more = pcref__json_string(pcref__json_get(page, "nextRecordsUrl"));
		if (rc == PCREF_OK && more) {
			if (strncmp(more, "/services/data/", 15) != 0)
				rc = pcref__error(PCREF_EPROTOCOL, "Salesforce answered %s with a nextRecordsUrl that is not a "
				                  "path under /services/data/ ('%.100s')", what, more);
			else if (!(next = pcref__strdup(more)))
				rc = pcref__error_nomem();
		}
		pcref__json_free(page);
	}
	pcref__dealloc(next);
	return rc;
}

static int first_cb(sf *d, const pcref__json *records, void *payload)
{
	pcref__json **out = payload;
	(void)d;
	if (records->u.arr.len && !*out && !(*out = pcref__json_dup(records->u.arr.items[0])))
		return pcref__error_nomem();
	return PCREF_OK;
}

int pcref__sf_query_first(sf *d, const char *soql, const char *what, pcref__json **row)
{
	int rc;
	*row = NULL;
	if ((rc = pcref__sf_query(d, soql, what, first_cb, row)) < 0) {
		pcref__json_free(*row);
		*row = NULL;
	}
	return rc;
}

/* ---- currencies and users, cached per CRM ------------------------------------- */

static int find_currency(sf *d, const char *iso)
{
	pcref__buf q = PCREF__BUF_INIT;
	pcref__json *row = NULL;
	const pcref__crm_pair *p;
	char what[64];
	int rc;
	if (pcref__crm_pairs_find(&d->currencies, iso, NULL))
		return PCREF_OK;
	snprintf(what, sizeof(what), "looking up currency '%.8s'", iso);
	pcref__buf_printf(&q, "SELECT Id, IsoCode FROM %s WHERE IsoCode = ", d->currency_type);
	pcref__sf_soql_string(&q, iso);
	pcref__buf_puts(&q, " AND IsActive = true LIMIT 1");
	if (q.failed)
		rc = pcref__error_nomem();
	else
		rc = pcref__sf_query_first(d, q.data, what, &row);
	pcref__buf_dispose(&q);
	if (rc < 0)
		return rc;
	if (!row)
		return pcref__error(PCREF_ENOTFOUND, "Salesforce has no active currency '%s' (no %s with IsoCode '%s'): "
		                    "activate it in the org's currency setup before syncing deals in it (R-29)", iso,
		                    d->currency_type, iso);
	pcref__json_free(row);
	return pcref__crm_pairs_add(&d->currencies, iso, iso, &p);
}

int pcref__sf_find_user(sf *d, const char *email, const char **id)
{
	pcref__buf q = PCREF__BUF_INIT;
	pcref__json *row = NULL;
	const pcref__crm_pair *p;
	const char *uid;
	int rc;
	if ((p = pcref__crm_pairs_find(&d->users, email, NULL))) {
		*id = p->id;
		return PCREF_OK;
	}
	pcref__buf_printf(&q, "SELECT Id, Email FROM %s WHERE Email = ", d->user_type);
	pcref__sf_soql_string(&q, email);
	pcref__buf_puts(&q, " AND IsActive = true LIMIT 1");
	if (q.failed)
		rc = pcref__error_nomem();
	else
		rc = pcref__sf_query_first(d, q.data, "looking up a user", &row);
	pcref__buf_dispose(&q);
	if (rc < 0)
		return rc;
	if (!(uid = pcref__json_string(pcref__json_get(row, "Id")))) {
		pcref__json_free(row);
		return pcref__error(PCREF_ENOTFOUND, "Salesforce has no active user with the email '%s': add the sales "
		                    "team member as a user of the org (R-29)", email);
	}
	rc = pcref__crm_pairs_add(&d->users, email, uid, &p);
	pcref__json_free(row);
	if (rc == PCREF_OK)
		*id = p->id;
	return rc;
}

static int sf_resolve_currency(const char *iso, void *payload)
{
	if (!iso || !*iso)
		return pcref__error(PCREF_EINVALID, "resolve_currency needs an ISO 4217 code");
	return find_currency(payload, iso);
}

static int sf_resolve_user(const char *email, void *payload)
{
	const char *id;
	if (!email || !*email)
		return pcref__error(PCREF_EINVALID, "resolve_user needs an email address");
	return pcref__sf_find_user(payload, email, &id);
}

/* the package's picklist labels (crm-apis.md B) and Partner Center's
 * assistanceRequestCode values (partner-center-api.md, InviteContext) — the
 * Opportunity carries the code. The pairing by meaning is ours (the
 * documents list both sets, not a table); a label not listed is kept as is. */
static const char *const help_pairs[][2] = {
	{ "WorkloadSpecificValueProposition", "Workload specific value proposition" },
	{ "CustomerTechnicalArchitecture", "Customer technical architecture" },
	{ "ProofOfConceptOrDemo", "Proof of concept or demo" },
	{ "QuotesOrLicensing", "Quotes or licensing" },
	{ "PostSalesCustomerSuccess", "Post sales customer success" },
	{ "GeneralOrOther", "General or other" },
};

static const char *help_translate(const char *value, int to_label)
{
	for (size_t i = 0; value && i < sizeof(help_pairs) / sizeof(help_pairs[0]); i++)
		if (strcmp(value, help_pairs[i][!to_label]) == 0)
			return help_pairs[i][to_label];
	return value;
}

/* ---- records -> canonical records ---------------------------------------------------- */

static int read_col(pcref_opportunity *o, const sf_col *c, const pcref__json *row)
{
	const pcref__json *v = pcref__json_get(row, c->name);
	const char *status;
	double num;
	int64_t ms;
	int rc = PCREF_OK;
	switch (c->kind) {
	case SF_OWNER: /* Owner.Email */
		return pcref__crm_read_text(o, c->field, pcref__json_get(pcref__json_get(row, "Owner"), "Email"));
	case SF_STATE: /* derived from the stage (B.11) */
		v = pcref__json_get(row, "IsClosed");
		if (v && v->type == PCREF__JSON_BOOL)
			rc = pcref_opportunity_set_text(o, c->field, !v->u.boolean ? "open"
			     : pcref__json_get(row, "IsWon") && pcref__json_get(row, "IsWon")->type == PCREF__JSON_BOOL &&
			       pcref__json_get(row, "IsWon")->u.boolean ? "won" : "lost");
		return rc;
	case SF_HELP:
		return v && pcref__json_string(v) ? pcref_opportunity_set_text(o, c->field, help_translate(v->u.str.text, 0))
		                                  : PCREF_OK;
	case SF_LEAD_STATE:
		v = pcref__json_get(row, "IsConverted");
		status = pcref__json_string(pcref__json_get(row, "Status"));
		return pcref_opportunity_set_text(o, c->field, v && v->type == PCREF__JSON_BOOL && v->u.boolean ? "won"
		                                  : status && strncmp(status, "Closed", 6) == 0 ? "lost" : "open");
	default:
		break;
	}
	if (!v || v->type == PCREF__JSON_NULL)
		return PCREF_OK;
	if (c->kind == SF_TEXT || c->kind == SF_ID || c->kind == SF_CURRENCY || c->kind == SF_READ_ONLY)
		rc = pcref__crm_read_text(o, c->field, v);
	else if (c->kind == SF_NUMBER && pcref__json_number(v, &num) == 0)
		rc = pcref_opportunity_set_number(o, c->field, num);
	else if (c->kind == SF_DATE && pcref__json_string(v) && pcref__time_parse(v->u.str.text, &ms) == 0)
		rc = pcref_opportunity_set_time(o, c->field, ms);
	else if (c->kind == SF_FLAG && v->type == PCREF__JSON_BOOL)
		rc = pcref_opportunity_set_flag(o, c->field, v->u.boolean);
	if (rc == PCREF_OK)
		pcref_error_clear(); /* a value of another type is left unset */
	return rc;
}

static int row_to_record(sf *d, const sf_object *t, const pcref__json *row, pcref_opportunity **out)
{
	pcref_opportunity *o;
	const char *id = pcref__json_string(pcref__json_get(row, "Id"));
	const char *modified = pcref__json_string(pcref__json_get(row, d->modified_col));
	int64_t ms = PCREF__TIME_NONE;
	int rc;
	*out = NULL;
	if (!id)
		return pcref__error(PCREF_EPROTOCOL, "Salesforce sent a %s without its Id", t->noun);
	if ((rc = pcref_opportunity_new(&o)) < 0)
		return rc;
	if (modified && pcref__time_parse(modified, &ms) < 0)
		pcref_error_clear();
	if ((rc = pcref_opportunity_set_text(o, PCREF_FIELD_ID, id)) < 0 ||
	    (rc = pcref_opportunity_set_text(o, PCREF_FIELD_VERSION,
	                                     pcref__json_string(pcref__json_get(row, d->version_col)))) < 0 ||
	    (rc = pcref_opportunity_set_time(o, PCREF_FIELD_MODIFIED_TIME, ms)) < 0 ||
	    (rc = pcref_opportunity_set_flag(o, PCREF_FIELD_IS_LEAD, t->lead)) < 0)
		goto fail;
	for (size_t i = 0; i < t->ncols; i++)
		if ((rc = read_col(o, &t->cols[i], row)) < 0)
			goto fail;
	if (!t->lead && (rc = pcref__crm_read_extras(o, row, d->extras, d->nextras)) < 0)
		goto fail;
	if (!t->lead &&
	    (((d->account_rel && (rc = pcref__crm_read_related(o, pcref__json_get(row, d->account_rel), d->account_cols,
	                                            PCREF_FIELD_ACCOUNT_NAME, PCREF_FIELD_ACCOUNT_ADDRESS2)) < 0)) ||
	     (d->contact_rel && (rc = pcref__crm_read_related(o, pcref__json_get(row, d->contact_rel), d->contact_cols,
	                                           PCREF_FIELD_CONTACT_FIRST_NAME, PCREF_FIELD_CONTACT_PHONE)) < 0)))
		goto fail;
	*out = o;
	return PCREF_OK;
fail:
	pcref_opportunity_free(o);
	return rc;
}

/* ---- solutions (R-07) ------------------------------------------------------------------ */

typedef struct sol_fill {
	pcref_opportunity **recs;
	size_t n;
} sol_fill;

static int sol_rows_cb(sf *d, const pcref__json *rows, void *payload)
{
	sol_fill *f = payload;
	int rc = PCREF_OK;
	for (size_t i = 0; rc == PCREF_OK && i < rows->u.arr.len; i++) {
		const pcref__json *row = rows->u.arr.items[i];
		const char *opp = pcref__json_string(pcref__json_get(row, d->sol_opp_col));
		const char *sid = pcref__json_string(pcref__json_get(row, d->sol_id_col));
		if (!opp || !sid || !*sid)
			continue;
		for (size_t k = 0; k < f->n; k++)
			if (strcmp(pcref_opportunity_text(f->recs[k], PCREF_FIELD_ID), opp) == 0) {
				rc = pcref_opportunity_solution_add(f->recs[k], sid,
				                                    pcref__json_string(pcref__json_get(row, d->sol_name_col)));
				break;
			}
	}
	return rc;
}

int pcref__sf_fetch_solutions(sf *d, pcref_opportunity **recs, size_t n)
{
	int rc = PCREF_OK;
	for (size_t start = 0; start < n && rc == PCREF_OK; start += SF_IDS_PER_QUERY) {
		pcref__buf q = PCREF__BUF_INIT;
		sol_fill f = { recs + start, n - start < SF_IDS_PER_QUERY ? n - start : SF_IDS_PER_QUERY };
		pcref__buf_printf(&q, "SELECT Id, %s, %s, %s FROM %s WHERE %s IN (", d->sol_id_col, d->sol_name_col,
		                  d->sol_opp_col, d->solution_type, d->sol_opp_col);
		for (size_t k = 0; k < f.n; k++) {
			if (k)
				pcref__buf_putc(&q, ',');
			pcref__sf_soql_string(&q, pcref_opportunity_text(f.recs[k], PCREF_FIELD_ID));
		}
		pcref__buf_puts(&q, ")");
		if (q.failed)
			rc = pcref__error_nomem();
		else
			rc = pcref__sf_query(d, q.data, "reading the Microsoft solutions of opportunities", sol_rows_cb, &f);
		pcref__buf_dispose(&q);
	}
	if (rc == PCREF_ENOTFOUND || rc == PCREF_EINVALID)
		return pcref__error_prefix(PCREF_EINVALID, "reading the solutions (object '%s', fields %s, %s, %s of the "
		                           "mapping's solution_columns): install the Microsoft co-sell package or "
		                           "correct entities.solution and solution_columns in the mapping",
		                           d->solution_type, d->sol_id_col, d->sol_name_col, d->sol_opp_col);
	return rc;
}

/* ---- reading records -------------------------------------------------------------------- */

/* SELECT <fields> FROM <object> WHERE <where> [ORDER BY ...] [LIMIT 1] */
static int select_query(const sf_object *t, const char *where, const char *tail, pcref__buf *q)
{
	pcref__buf_printf(q, "SELECT %s FROM %s", t->select, t->type);
	if (where && *where)
		pcref__buf_printf(q, " WHERE %s", where);
	if (tail)
		pcref__buf_printf(q, " %s", tail);
	return q->failed ? pcref__error_nomem() : PCREF_OK;
}

/* The record matching `where` (with its solutions), ENOTFOUND (*out NULL) when none. */
static int read_where(sf *d, const sf_object *t, const char *where, const char *what, pcref_opportunity **out)
{
	pcref__buf q = PCREF__BUF_INIT;
	pcref__json *row = NULL;
	int rc;
	*out = NULL;
	if ((rc = select_query(t, where, "LIMIT 1", &q)) == PCREF_OK)
		rc = pcref__sf_query_first(d, q.data, what, &row);
	pcref__buf_dispose(&q);
	if (rc < 0)
		return rc;
	if (!row)
		return PCREF_ENOTFOUND;
	rc = row_to_record(d, t, row, out);
	pcref__json_free(row);
	if (rc == PCREF_OK && !t->lead && (rc = pcref__sf_fetch_solutions(d, out, 1)) < 0) {
		pcref_opportunity_free(*out);
		*out = NULL;
	}
	return rc;
}

static int read_one(sf *d, const sf_object *t, const char *id, pcref_opportunity **out)
{
	pcref__buf where = PCREF__BUF_INIT;
	char what[96];
	int rc;
	snprintf(what, sizeof(what), "reading %s %s", t->noun, id);
	pcref__sf_soql_term(&where, "Id", id);
	rc = where.failed ? pcref__error_nomem() : read_where(d, t, where.data, what, out);
	pcref__buf_dispose(&where);
	if (rc == PCREF_ENOTFOUND)
		return pcref__error(PCREF_ENOTFOUND, "Salesforce has no %s with id '%s'", t->noun, id);
	return rc;
}

static int sf_get(pcref_opportunity **out, const char *id, void *payload)
{
	sf *d = payload;
	int lead_first;
	int rc;
	if (!out)
		return pcref__error(PCREF_EINVALID, "get_opportunity needs somewhere to put the record");
	*out = NULL;
	if (!pcref__sf_is_id(id))
		return pcref__sf_not_a_record("opportunity or lead", id);
	/* the key prefix says the object: 006 an Opportunity, 00Q a Lead */
	lead_first = strncmp(id, "00Q", 3) == 0;
	rc = read_one(d, lead_first ? &d->lead : &d->opp, id, out);
	if (rc == PCREF_ENOTFOUND)
		rc = read_one(d, lead_first ? &d->opp : &d->lead, id, out);
	if (rc == PCREF_ENOTFOUND)
		return pcref__error(PCREF_ENOTFOUND, "Salesforce has no opportunity or lead with id '%s'", id);
	return rc;
}

static int find_linked(sf *d, const sf_object *t, const char *referral_id, pcref_opportunity **out)
{
	const char *col = pcref_mapping_column(d->map, PCREF_FIELD_REFERRAL_ID);
	pcref__buf where = PCREF__BUF_INIT;
	char what[160];
	int rc;
	if (!out)
		return pcref__error(PCREF_EINVALID, "find needs somewhere to put the record");
	*out = NULL;
	if (!referral_id || !*referral_id)
		return pcref__error(PCREF_EINVALID, "a referral id is required to find the %s linked to it", t->noun);
	if (!col)
		return pcref__error(PCREF_EINVALID, "the mapping has no field for referral_id: map it to the %s field "
		                    "that holds the Partner Center referral id (R-02)", t->noun);
	snprintf(what, sizeof(what), "finding the %s of referral %.80s", t->noun, referral_id);
	pcref__sf_soql_term(&where, col, referral_id);
	rc = where.failed ? pcref__error_nomem() : read_where(d, t, where.data, what, out);
	pcref__buf_dispose(&where);
	if (rc == PCREF_ENOTFOUND)
		return pcref__error(PCREF_ENOTFOUND, "Salesforce has no %s linked to referral '%s' (field %s)", t->noun,
		                    referral_id, col);
	return rc;
}

static int sf_find(pcref_opportunity **out, const char *referral_id, void *payload)
{
	sf *d = payload;
	return find_linked(d, &d->opp, referral_id, out);
}

static int sf_find_lead(pcref_opportunity **out, const char *referral_id, void *payload)
{
	sf *d = payload;
	return find_linked(d, &d->lead, referral_id, out);
}

/* ---- listing (B.6, watermark on SystemModstamp) ----------------------------------------- */

typedef struct listing {
	pcref_opportunity_cb cb;
	void *payload;
	int64_t since;
} listing;

static int list_page_cb(sf *d, const pcref__json *rows, void *payload)
{
	listing *l = payload;
	size_t n = rows->u.arr.len, kept = 0;
	pcref_opportunity **recs;
	int rc = PCREF_OK;
	if (!n)
		return PCREF_OK;
	if (!(recs = pcref__calloc(n, sizeof(*recs))))
		return pcref__error_nomem();
	for (size_t i = 0; i < n && rc == PCREF_OK; i++) {
		pcref_opportunity *o = NULL;
		rc = row_to_record(d, &d->opp, rows->u.arr.items[i], &o);
		/* the SOQL literal has whole seconds: drop what precedes the mark */
		if (rc == PCREF_OK && l->since != PCREF_TIME_NONE &&
		    pcref_opportunity_time(o, PCREF_FIELD_MODIFIED_TIME) < l->since)
			pcref_opportunity_free(o);
		else if (rc == PCREF_OK)
			recs[kept++] = o;
	}
	if (rc == PCREF_OK)
		rc = pcref__sf_fetch_solutions(d, recs, kept);
	for (size_t i = 0; i < kept && rc == PCREF_OK; i++)
		rc = l->cb(recs[i], l->payload);
	for (size_t i = 0; i < kept; i++)
		pcref_opportunity_free(recs[i]);
	pcref__dealloc(recs);
	return rc;
}

static int sf_list(int64_t since, pcref_opportunity_cb cb, void *cb_payload, void *payload)
{
	sf *d = payload;
	listing l = { cb, cb_payload, since };
	pcref__buf where = PCREF__BUF_INIT, order = PCREF__BUF_INIT, q = PCREF__BUF_INIT;
	char iso[PCREF__TIME_BUFSZ];
	int rc;
	if (!cb)
		return pcref__error(PCREF_EINVALID, "list_modified needs a callback");
	if (since != PCREF_TIME_NONE) {
		/* SOQL date-time literals are unquoted, whole seconds (B.2) */
		int64_t floor_s = since >= 0 ? since / 1000 * 1000 : -((-since + 999) / 1000) * 1000;
		if ((rc = pcref__time_format(floor_s, iso)) < 0)
			return rc;
		pcref__buf_printf(&where, "%s >= %s", d->modified_col, iso);
	}
	pcref__buf_printf(&order, "ORDER BY %s ASC, Id ASC", d->modified_col);
	if ((rc = where.failed || order.failed ? pcref__error_nomem() : select_query(&d->opp, where.data, order.data,
	                                                                             &q)) == PCREF_OK)
		rc = pcref__sf_query(d, q.data, "listing modified opportunities", list_page_cb, &l);
	pcref__buf_dispose(&where);
	pcref__buf_dispose(&order);
	pcref__buf_dispose(&q);
	return rc;
}

/* ---- canonical records -> request bodies ------------------------------------------------ */

static const char *const lead_status[] = { "Open - Not Contacted", "Closed - Not Converted" };

/* Write field c of `o` into `body` (an unset field clears it when `clear`,
 * else is left out). */
static int write_col(sf *d, pcref__json *body, const sf_col *c, const pcref_opportunity *o, int clear,
                     const char *noun)
{
	const char *text = pcref_opportunity_text(o, c->field);
	const char *uid;
	char date[PCREF__TIME_BUFSZ];
	int rc;
	if (c->kind == SF_READ_ONLY || c->kind == SF_STATE)
		return PCREF_OK; /* derived (Name of a lead, IsClosed/IsWon from the stage) */
	if (c->kind == SF_LEAD_STATE && !clear)
		return PCREF_OK; /* a lead starts open */
	if (!pcref_opportunity_has(o, c->field)) {
		if (!clear || c->kind == SF_LEAD_STATE)
			return PCREF_OK;
		return pcref__json_set(body, c->name, c->kind == SF_FLAG ? pcref__json_new_bool(0)
		                                                         : pcref__json_new(PCREF__JSON_NULL));
	}
	switch (c->kind) {
	case SF_TEXT:
		return pcref__json_set(body, c->name, pcref__crm_text_node(text));
	case SF_HELP:
		return pcref__json_set(body, c->name, pcref__crm_text_node(help_translate(text, 1)));
	case SF_NUMBER:
		return pcref__json_set(body, c->name, pcref__json_new_number(pcref_opportunity_number(o, c->field)));
	case SF_DATE:
		if ((rc = pcref__time_format(pcref_opportunity_time(o, c->field), date)) < 0)
			return rc;
		return pcref__json_set(body, c->name, pcref__json_new_string(date, 10));
	case SF_FLAG:
		return pcref__json_set(body, c->name, pcref__json_new_bool(pcref_opportunity_flag(o, c->field) == 1));
	case SF_CURRENCY:
		if ((rc = find_currency(d, text)) < 0)
			return rc;
		return pcref__json_set(body, c->name, pcref__crm_text_node(text));
	case SF_OWNER:
		if ((rc = pcref__sf_find_user(d, text, &uid)) < 0)
			return rc;
		return pcref__json_set(body, c->name, pcref__crm_text_node(uid));
	case SF_ID:
		if (!pcref__sf_is_id(text))
			return pcref__error(PCREF_EINVALID, "the %s's %s '%s' is not a Salesforce record id", noun,
			                    pcref_opportunity_field_name(c->field), text);
		return pcref__json_set(body, c->name, pcref__crm_text_node(text));
	case SF_LEAD_STATE:
		if (strcmp(text, "won") == 0)
			return pcref__error(PCREF_EINVALID, "a lead is converted in Salesforce itself (convertLead), not by "
			                    "writing its state");
		return pcref__json_set(body, "Status", pcref__crm_text_node(lead_status[strcmp(text, "lost") == 0]));
	}
	return PCREF_OK;
}

static const sf_col *col_of(const sf_object *t, int field)
{
	for (size_t i = 0; i < t->ncols; i++)
		if (t->cols[i].field == field)
			return &t->cols[i];
	return NULL;
}

/* Create a record now and return its id (B.2: 201 {"id","success","errors"}). */
int pcref__sf_create_now(sf *d, const char *type, const pcref__json *body, const char *what, char **id)
{
	pcref__buf url = PCREF__BUF_INIT;
	pcref__json *res = NULL;
	char *text = NULL;
	const char *got;
	int rc;
	*id = NULL;
	pcref__buf_printf(&url, "%s/sobjects/%s", d->api, type);
	if ((rc = url.failed ? pcref__error_nomem() : pcref__crm_body_text(body, &text)) == PCREF_OK &&
	    (rc = pcref__sf_send(d, "POST", url.data, text, NULL, what, &res)) == PCREF_OK) {
		if (!(got = pcref__json_string(pcref__json_get(res, "id"))))
			rc = pcref__error(PCREF_EPROTOCOL, "Salesforce sent no id back when %s", what);
		else if (!(*id = pcref__strdup(got)))
			rc = pcref__error_nomem();
	}
	pcref__json_free(res);
	pcref__dealloc(text);
	pcref__buf_dispose(&url);
	return rc;
}

/* Upsert by external ID (B.3): PATCH .../sobjects/<type>/<field>/<value>,
 * 201 created or 200 updated with the id, 300 when several match. */
static int upsert_now(sf *d, const char *type, const char *field, const char *value, const pcref__json *body,
                      const char *what, char **id)
{
	pcref__buf url = PCREF__BUF_INIT;
	pcref__json *res = NULL;
	char *text = NULL;
	const char *got;
	int rc;
	*id = NULL;
	pcref__buf_printf(&url, "%s/sobjects/%s/%s/", d->api, type, field);
	pcref__http_url_escape(&url, value);
	if ((rc = url.failed ? pcref__error_nomem() : pcref__crm_body_text(body, &text)) == PCREF_OK)
		rc = pcref__sf_send(d, "PATCH", url.data, text, NULL, what, &res);
	if (rc < 0 && pcref_error_last()->http_status == 300)
		rc = pcref__error_http(PCREF_EEXISTS, 300, "", "", "Salesforce has several %s records with %s '%s', so "
		                       "%s wrote nothing — merge or delete the duplicates", type, field, value, what);
	if (rc == PCREF_OK) {
		if (!(got = pcref__json_string(pcref__json_get(res, "id"))))
			rc = pcref__error(PCREF_EPROTOCOL, "Salesforce sent no id back when %s (an upsert answers 200 or "
			                  "201 with the id from API v46.0)", what);
		else if (!(*id = pcref__strdup(got)))
			rc = pcref__error_nomem();
	}
	pcref__json_free(res);
	pcref__dealloc(text);
	pcref__buf_dispose(&url);
	return rc;
}

int pcref__sf_write(sf *d, const char *method, const char *type, const char *id, const pcref__json *body,
                    const char *if_unmodified, const char *what, const char *link, int queue, char **new_id)
{
	pcref__buf url = PCREF__BUF_INIT;
	char *text = NULL;
	int rc;
	if (new_id)
		*new_id = NULL;
	if ((rc = pcref__crm_body_text(body, &text)) < 0)
		return rc;
	if (d->in_batch && queue) {
		rc = pcref__sf_queue(d, method, type, id, text, if_unmodified, what, link);
	} else if (d->in_batch && (rc = pcref__sf_flush(d)) < 0) {
		/* what was held back failed: this write is not made */
	} else if (strcmp(method, "POST") == 0) {
		char *got = NULL;
		rc = pcref__sf_create_now(d, type, body, what, &got);
		if (new_id)
			*new_id = got;
		else
			pcref__dealloc(got);
	} else {
		pcref__buf_printf(&url, "%s/sobjects/%s/%s", d->api, type, id);
		rc = url.failed ? pcref__error_nomem()
		                : pcref__sf_send(d, method, url.data, text, if_unmodified, what, NULL);
	}
	pcref__dealloc(text);
	pcref__buf_dispose(&url);
	return rc;
}

/* What comes back from a write: the record as stored, with its solutions. */
static int reread(sf *d, const sf_object *t, const char *id, pcref_opportunity **out)
{
	return read_one(d, t, id, out);
}

static int create(sf *d, pcref_opportunity **out, const pcref_opportunity *o, const sf_object *t)
{
	const char *name = pcref_opportunity_text(o, PCREF_FIELD_NAME);
	const char *ext = t->lead ? NULL : doc_string(d->doc, "external_id", NULL);
	const char *ext_value = ext ? pcref_opportunity_text(o, PCREF_FIELD_REFERRAL_ID) : NULL;
	const char *owner = pcref_opportunity_text(o, PCREF_FIELD_OWNER_EMAIL), *uid;
	pcref__json *body;
	char what[160], *id = NULL;
	int rc = PCREF_OK;
	if (out)
		*out = NULL;
	if ((rc = pcref__crm_check_create(o, t->noun, t->lead, "Salesforce")) < 0)
		return rc;
	if (!(body = pcref__json_new(PCREF__JSON_OBJECT)))
		return pcref__error_nomem();
	if (!t->lead && (rc = pcref__json_set(body, pcref_mapping_column(d->map, PCREF_FIELD_NAME),
	                                      pcref__crm_text_node(name))) < 0)
		goto out;
	for (size_t i = 0; i < t->ncols && rc == PCREF_OK; i++)
		rc = write_col(d, body, &t->cols[i], o, 0, t->noun);
	/* a lead's Name is FirstName + LastName: a lead with no person gets its
	 * topic as the last name, which Salesforce requires */
	if (rc == PCREF_OK && t->lead && !pcref__json_get(body, "LastName"))
		rc = pcref__json_set(body, "LastName", pcref__crm_text_node(name));
	if (rc == PCREF_OK && !t->lead)
		rc = pcref__crm_write_extras(body, o, d->extras, d->nextras);
	if (rc == PCREF_OK)
		rc = pcref__crm_add_defaults(d->doc, body, t->lead ? "lead" : "opportunity");
	if (rc < 0)
		goto out;
	snprintf(what, sizeof(what), "creating %s '%.100s'", t->noun, name);
	if (ext_value && !(d->in_batch && !out)) {
		/* idempotent create (DESIGN.md): upsert on the referral id */
		pcref__json_remove(body, ext);
		if ((rc = d->in_batch ? pcref__sf_flush(d) : PCREF_OK) == PCREF_OK)
			rc = upsert_now(d, t->type, ext, ext_value, body, what, &id);
	} else {
		rc = pcref__sf_write(d, "POST", t->type, NULL, body, NULL, what, NULL, !out, &id);
	}
	if (rc == PCREF_OK && id && owner && d->team_member_type && (rc = pcref__sf_find_user(d, owner, &uid)) == 0)
		rc = pcref__sf_add_team_member(d, id, uid);
	if (rc == PCREF_OK && out)
		rc = reread(d, t, id, out);
out:
	pcref__dealloc(id);
	pcref__json_free(body);
	return rc;
}

static int sf_create(pcref_opportunity **out, const pcref_opportunity *opp, void *payload)
{
	sf *d = payload;
	return create(d, out, opp, &d->opp);
}

static int sf_create_lead(pcref_opportunity **out, const pcref_opportunity *lead, void *payload)
{
	sf *d = payload;
	return create(d, out, lead, &d->lead);
}

/* Salesforce has no ETag concurrency on Opportunity (B.4): the version is
 * LastModifiedDate. Before writing, the current one is read and compared
 * exactly (an If-Unmodified-Since date has whole seconds, so a change in
 * the same second as the version would pass it), and the write itself is
 * conditional on If-Unmodified-Since, which closes the window between the
 * two for changes in a later second (412 -> ECONFLICT). */
static int version_date(sf *d, const sf_object *t, const char *version, char *http_date)
{
	int64_t ms;
	if (pcref__time_parse(version, &ms) < 0)
		return pcref__error(PCREF_EINVALID, "the %s's version '%.40s' is not a Salesforce %s date-time: pass the "
		                    "record as it was read", t->noun, version, d->version_col);
	return pcref__time_format_http(ms, http_date);
}

static int check_version(sf *d, const sf_object *t, const char *id, const char *version, char *http_date)
{
	pcref__buf url = PCREF__BUF_INIT;
	pcref__json *row = NULL;
	const char *now;
	char what[96];
	int rc;
	if ((rc = version_date(d, t, version, http_date)) < 0)
		return rc;
	snprintf(what, sizeof(what), "checking the version of %s %s", t->noun, id);
	pcref__buf_printf(&url, "%s/sobjects/%s/%s?fields=%s", d->api, t->type, id, d->version_col);
	rc = url.failed ? pcref__error_nomem() : pcref__sf_send(d, "GET", url.data, NULL, NULL, what, &row);
	pcref__buf_dispose(&url);
	if (rc == PCREF_ENOTFOUND)
		rc = pcref__error(PCREF_ENOTFOUND, "Salesforce has no %s with id '%s'", t->noun, id);
	now = pcref__json_string(pcref__json_get(row, d->version_col));
	if (rc == PCREF_OK && (!now || strcmp(now, version) != 0))
		rc = pcref__error(PCREF_ECONFLICT, "the %s %s was changed in Salesforce since it was read (%s %s, now %s) — "
		                  "re-read it and apply the change again", t->noun, id, d->version_col, version,
		                  now ? now : "unknown");
	pcref__json_free(row);
	return rc;
}

static int update(sf *d, pcref_opportunity **out, const pcref_opportunity *o, const int *fields, size_t n,
                  const sf_object *t)
{
	const char *id = pcref_opportunity_text(o, PCREF_FIELD_ID);
	const char *version = pcref_opportunity_text(o, PCREF_FIELD_VERSION);
	const char *contact = NULL, *owner = NULL, *uid;
	char http_date[PCREF__TIME_BUFSZ], what[96];
	pcref__json *body;
	int rc = PCREF_OK, role = 0;
	if (out)
		*out = NULL;
	if (!o || (n && !fields))
		return pcref__error(PCREF_EINVALID, "update needs a record and its list of fields");
	if (!pcref__sf_is_id(id))
		return pcref__sf_not_a_record(t->noun, id);
	if ((rc = pcref__crm_check_update_fields(fields, n, t->lead, "a won or lost StageName")) < 0)
		return rc;
	if (!(body = pcref__json_new(PCREF__JSON_OBJECT)))
		return pcref__error_nomem();
	for (size_t i = 0; i < n && rc == PCREF_OK; i++) {
		const sf_col *c = col_of(t, fields[i]);
		if (!t->lead && fields[i] == PCREF_FIELD_CONTACT_ID) {
			/* Opportunity.ContactId is set on create only (B.11): later, the
			 * primary OpportunityContactRole says who the contact is */
			role = 1;
			contact = pcref_opportunity_text(o, PCREF_FIELD_CONTACT_ID);
			if (contact && !pcref__sf_is_id(contact))
				rc = pcref__error(PCREF_EINVALID, "the opportunity's contact_id '%s' is not a Salesforce record "
				                  "id", contact);
			continue;
		}
		if (fields[i] == PCREF_FIELD_OWNER_EMAIL)
			owner = pcref_opportunity_text(o, PCREF_FIELD_OWNER_EMAIL);
		if (fields[i] == PCREF_FIELD_NAME && !t->lead)
			rc = pcref__json_set(body, pcref_mapping_column(d->map, PCREF_FIELD_NAME),
			                     pcref__crm_text_node(pcref_opportunity_text(o, PCREF_FIELD_NAME)));
		else if (c) /* fields with no field here (account and contact details) stay as they are */
			rc = write_col(d, body, c, o, 1, t->noun);
	}
	if (rc == PCREF_OK && !t->lead) /* the custom-mapped fields set in the record */
		rc = pcref__crm_write_extras(body, o, d->extras, d->nextras);
	if (rc == PCREF_OK && version) {
		if (d->in_batch && !out) /* held back: only the conditional header (see salesforce_batch.c) */
			rc = version_date(d, t, version, http_date);
		else if (!d->in_batch || (rc = pcref__sf_flush(d)) == PCREF_OK)
			rc = check_version(d, t, id, version, http_date);
	}
	snprintf(what, sizeof(what), "updating %s %s", t->noun, id);
	if (rc == PCREF_OK && body->u.obj.len)
		rc = pcref__sf_write(d, "PATCH", t->type, id, body, version ? http_date : NULL, what, NULL, !out, NULL);
	pcref__json_free(body);
	if (rc == PCREF_OK && role && contact)
		rc = pcref__sf_set_contact_role(d, id, contact);
	if (rc == PCREF_OK && owner && d->team_member_type && (rc = pcref__sf_find_user(d, owner, &uid)) == 0)
		rc = pcref__sf_add_team_member(d, id, uid);
	if (rc == PCREF_OK && out && (rc = reread(d, t, id, out)) == PCREF_OK && !t->lead &&
	    (rc = pcref__crm_keep_related(*out, o)) < 0) {
		pcref_opportunity_free(*out);
		*out = NULL;
	}
	return rc;
}

static int sf_update(pcref_opportunity **out, const pcref_opportunity *opp, const int *fields, size_t n,
                     void *payload)
{
	sf *d = payload;
	return update(d, out, opp, fields, n, &d->opp);
}

static int sf_update_lead(pcref_opportunity **out, const pcref_opportunity *lead, const int *fields, size_t n,
                          void *payload)
{
	sf *d = payload;
	return update(d, out, lead, fields, n, &d->lead);
}

/* ---- life cycle ---------------------------------------------------------------------------- */

static void sf_destroy(void *payload)
{
	sf *d = payload;
	if (!d)
		return;
	pcref__sf_queue_clear(d);
	pcref__dealloc(d->ops);
	pcref__crm_pairs_clear(&d->currencies);
	pcref__crm_pairs_clear(&d->users);
	pcref__dealloc(d->opp.select);
	pcref__dealloc(d->lead.select);
	pcref__dealloc((void *)d->account_rel);
	pcref__dealloc((void *)d->contact_rel);
	pcref__dealloc((void *)d->extras);
	pcref__json_free(d->doc);
	pcref_mapping_free(d->map);
	pcref_connection_free(d->conn);
	pcref__dealloc(d);
}

static void add_col(sf_object *t, int field, const char *name, int kind)
{
	if (!name)
		return;
	t->cols[t->ncols].field = field;
	t->cols[t->ncols].name = name;
	t->cols[t->ncols].kind = kind;
	t->ncols++;
}

/* The SOQL field list: Id, the version and modified fields, every mapped
 * field (the owner's email through Owner.Email, the state through
 * IsClosed/IsWon), the custom ones, and the account and contact details
 * through their relationships. */
static int build_select(sf *d, sf_object *t)
{
	pcref__buf b = PCREF__BUF_INIT;
	pcref__buf_printf(&b, "Id, %s", d->version_col);
	if (strcmp(d->modified_col, d->version_col) != 0)
		pcref__buf_printf(&b, ", %s", d->modified_col);
	for (size_t i = 0; i < t->ncols; i++) {
		const sf_col *c = &t->cols[i];
		if (c->kind == SF_OWNER)
			pcref__buf_puts(&b, ", Owner.Email");
		else if (c->kind == SF_STATE)
			pcref__buf_puts(&b, ", IsClosed, IsWon");
		else if (c->kind == SF_LEAD_STATE)
			pcref__buf_puts(&b, ", IsConverted, Status");
		else if (strcmp(c->name, "Id") != 0)
			pcref__buf_printf(&b, ", %s", c->name);
	}
	for (size_t i = 0; !t->lead && i < d->nextras; i++)
		pcref__buf_printf(&b, ", %s", d->extras[i]);
	for (int f = PCREF_FIELD_ACCOUNT_NAME; !t->lead && d->account_rel && f <= PCREF_FIELD_ACCOUNT_ADDRESS2; f++)
		if (d->account_cols[f - PCREF_FIELD_ACCOUNT_NAME])
			pcref__buf_printf(&b, ", %s.%s", d->account_rel, d->account_cols[f - PCREF_FIELD_ACCOUNT_NAME]);
	for (int f = PCREF_FIELD_CONTACT_FIRST_NAME; !t->lead && d->contact_rel && f <= PCREF_FIELD_CONTACT_PHONE; f++)
		if (d->contact_cols[f - PCREF_FIELD_CONTACT_FIRST_NAME])
			pcref__buf_printf(&b, ", %s.%s", d->contact_rel, d->contact_cols[f - PCREF_FIELD_CONTACT_FIRST_NAME]);
	return pcref__buf_detach(&b, &t->select, NULL);
}

static int build_opportunity(sf *d)
{
	const pcref_mapping *m = d->map;
	sf_object *t = &d->opp;
	static const struct { int field, kind; } plain[] = {
		{ PCREF_FIELD_DEAL_VALUE, SF_NUMBER }, { PCREF_FIELD_CURRENCY, SF_CURRENCY },
		{ PCREF_FIELD_CLOSE_DATE, SF_DATE }, { PCREF_FIELD_STAGE, SF_TEXT }, { PCREF_FIELD_NOTES, SF_TEXT },
		{ PCREF_FIELD_SYNC, SF_FLAG }, { PCREF_FIELD_REFERRAL_ID, SF_TEXT },
		{ PCREF_FIELD_REFERRAL_LINK, SF_TEXT }, { PCREF_FIELD_HELP, SF_HELP },
		{ PCREF_FIELD_VISIBILITY, SF_FLAG }, { PCREF_FIELD_MICROSOFT_CRM_ID, SF_TEXT },
		{ PCREF_FIELD_AUDIT, SF_TEXT }, { PCREF_FIELD_OWNER_EMAIL, SF_OWNER },
		{ PCREF_FIELD_ACCOUNT_ID, SF_ID }, { PCREF_FIELD_CONTACT_ID, SF_ID },
	};
	t->type = pcref_mapping_entity(m, "opportunity");
	t->noun = "opportunity";
	if (!pcref_mapping_column(m, PCREF_FIELD_NAME))
		return pcref__error(PCREF_EINVALID, "the mapping has no field for name: an opportunity needs one");
	add_col(t, PCREF_FIELD_NAME, pcref_mapping_column(m, PCREF_FIELD_NAME), SF_READ_ONLY);
	for (size_t i = 0; i < PCREF__ARRAY_LEN(plain); i++)
		add_col(t, plain[i].field, pcref_mapping_column(m, plain[i].field), plain[i].kind);
	add_col(t, PCREF_FIELD_STATE, "IsClosed", SF_STATE);
	for (int f = PCREF_FIELD_ACCOUNT_NAME; f <= PCREF_FIELD_ACCOUNT_ADDRESS2; f++)
		d->account_cols[f - PCREF_FIELD_ACCOUNT_NAME] = pcref_mapping_column(m, f);
	for (int f = PCREF_FIELD_CONTACT_FIRST_NAME; f <= PCREF_FIELD_CONTACT_PHONE; f++)
		d->contact_cols[f - PCREF_FIELD_CONTACT_FIRST_NAME] = pcref_mapping_column(m, f);
	if ((pcref_mapping_column(m, PCREF_FIELD_ACCOUNT_ID) &&
	     !(d->account_rel = relationship_of(pcref_mapping_column(m, PCREF_FIELD_ACCOUNT_ID))) &&
	     !strchr(pcref_mapping_column(m, PCREF_FIELD_ACCOUNT_ID), '_')) ||
	    (pcref_mapping_column(m, PCREF_FIELD_CONTACT_ID) &&
	     !(d->contact_rel = relationship_of(pcref_mapping_column(m, PCREF_FIELD_CONTACT_ID))) &&
	     !strchr(pcref_mapping_column(m, PCREF_FIELD_CONTACT_ID), '_')))
		return pcref__error(PCREF_EINVALID, "the mapping's account_id and contact_id must be Salesforce reference "
		                    "fields (AccountId, or a custom ..._c field)");
	/* custom field mappings: read into and written from the record's
	 * extra fields of the same names */
	if ((d->nextras = pcref_mapping_extra_count(m)) &&
	    !(d->extras = pcref__calloc(d->nextras, sizeof(*d->extras))))
		return pcref__error_nomem();
	for (size_t i = 0; i < d->nextras; i++)
		d->extras[i] = pcref_mapping_extra_crm(m, i);
	return build_select(d, t);
}

/* Leads have the standard Lead fields (Name is FirstName + LastName,
 * read only); only the referral id's field comes from the mapping. */
static int build_lead(sf *d)
{
	sf_object *t = &d->lead;
	t->type = pcref_mapping_entity(d->map, "lead");
	t->noun = "lead";
	t->lead = 1;
	add_col(t, PCREF_FIELD_NAME, "Name", SF_READ_ONLY);
	add_col(t, PCREF_FIELD_ACCOUNT_NAME, "Company", SF_TEXT);
	add_col(t, PCREF_FIELD_CONTACT_FIRST_NAME, "FirstName", SF_TEXT);
	add_col(t, PCREF_FIELD_CONTACT_LAST_NAME, "LastName", SF_TEXT);
	add_col(t, PCREF_FIELD_CONTACT_EMAIL, "Email", SF_TEXT);
	add_col(t, PCREF_FIELD_CONTACT_PHONE, "Phone", SF_TEXT);
	add_col(t, PCREF_FIELD_ACCOUNT_COUNTRY, "Country", SF_TEXT);
	add_col(t, PCREF_FIELD_CURRENCY, pcref_mapping_column(d->map, PCREF_FIELD_CURRENCY), SF_CURRENCY);
	add_col(t, PCREF_FIELD_NOTES, "Description", SF_TEXT);
	add_col(t, PCREF_FIELD_STATE, "Status", SF_LEAD_STATE);
	add_col(t, PCREF_FIELD_REFERRAL_ID, pcref_mapping_column(d->map, PCREF_FIELD_REFERRAL_ID), SF_TEXT);
	return build_select(d, t);
}

static int set_up(sf *d, const pcref_mapping *mapping)
{
	const char *version;
	int rc;
	if ((rc = pcref__crm_copy_mapping(mapping, "salesforce", &d->map, &d->doc)) < 0)
		return rc;
	version = doc_string(d->doc, "api_version", NULL);
	snprintf(d->api, sizeof(d->api), "/services/data/%s", version ? version : "v60.0");
	d->account_type = pcref_mapping_entity(d->map, "account");
	d->contact_type = pcref_mapping_entity(d->map, "contact");
	d->currency_type = pcref_mapping_entity(d->map, "currency");
	d->user_type = pcref_mapping_entity(d->map, "user");
	d->solution_type = pcref_mapping_entity(d->map, "solution");
	d->contact_role_type = pcref_mapping_entity(d->map, "contact_role");
	d->team_member_type = pcref_mapping_entity(d->map, "team_member");
	d->sol_id_col = doc_string(d->doc, "solution_columns", "id");
	d->sol_name_col = doc_string(d->doc, "solution_columns", "name");
	d->sol_opp_col = doc_string(d->doc, "solution_columns", "opportunity");
	d->close_reason_col = pcref_mapping_column(d->map, PCREF_FIELD_CLOSE_REASON);
	d->version_col = pcref_mapping_column(d->map, PCREF_FIELD_VERSION);
	d->modified_col = pcref_mapping_column(d->map, PCREF_FIELD_MODIFIED_TIME);
	if (!d->version_col)
		d->version_col = "LastModifiedDate";
	if (!d->modified_col)
		d->modified_col = "SystemModstamp";
	if (!d->sol_id_col || !d->sol_name_col || !d->sol_opp_col)
		return pcref__error(PCREF_EINVALID, "the mapping's solution_columns needs id, name and opportunity (the "
		                    "fields of the %s object)", d->solution_type);
	d->api_used = d->api_max = -1;
	if ((rc = build_opportunity(d)) < 0 || (rc = build_lead(d)) < 0)
		return rc;
	return PCREF_OK;
}

int pcref_crm_salesforce_new(pcref_crm **out, pcref_connection *conn, const pcref_mapping *mapping)
{
	pcref_crm_backend b;
	sf *d;
	int rc;
	if (!out || !conn)
		return pcref__error(PCREF_EINVALID, "pcref_crm_salesforce_new: out and conn must not be NULL");
	*out = NULL;
	if (mapping && strcmp(pcref_mapping_backend(mapping), "salesforce") != 0)
		return pcref__error(PCREF_EINVALID, "the mapping is for the '%s' backend, not salesforce: load one with "
		                    "\"backend\": \"salesforce\" (or pass NULL for the defaults)",
		                    pcref_mapping_backend(mapping));
	if (!(d = pcref__calloc(1, sizeof(*d))))
		return pcref__error_nomem();
	d->conn = pcref__connection_ref(conn);
	if ((rc = set_up(d, mapping)) < 0) {
		sf_destroy(d);
		return rc;
	}
	pcref_crm_backend_init(&b, PCREF_CRM_BACKEND_VERSION);
	b.name = "salesforce";
	b.payload = d;
	b.destroy = sf_destroy;
	b.get_opportunity = sf_get;
	b.find_opportunity = sf_find;
	b.create_opportunity = sf_create;
	b.update_opportunity = sf_update;
	b.list_modified = sf_list;
	b.ensure_account = pcref__sf_ensure_account;
	b.ensure_contact = pcref__sf_ensure_contact;
	b.add_solution = pcref__sf_add_solution;
	b.remove_solution = pcref__sf_remove_solution;
	b.close_opportunity = pcref__sf_close;
	b.find_lead = sf_find_lead;
	b.create_lead = sf_create_lead;
	b.update_lead = sf_update_lead;
	b.resolve_currency = sf_resolve_currency;
	b.resolve_user = sf_resolve_user;
	b.batch_begin = pcref__sf_batch_begin;
	b.batch_commit = pcref__sf_batch_commit;
	if ((rc = pcref_crm_new(out, &b)) < 0)
		sf_destroy(d);
	return rc;
}
