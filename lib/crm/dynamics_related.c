/* The Dynamics 365 backend's members for what hangs off an opportunity:
 * accounts and contacts, solution links and closing (A.14).
 * Records, listing and the set-up are in dynamics.c, batches in
 * dynamics_batch.c. */
#include <stdio.h>
#include <string.h>

#include "dynamics_internal.h"

/* ---- accounts and contacts (R-27) --------------------------------------------------------- */

/* "col eq 'value'" (or "col eq null") appended with " and ". */
static void match_term(pcref__buf *filter, const char *col, const char *value)
{
	pcref__buf_printf(filter, "%s%s eq ", filter->len ? " and " : "", col);
	if (value)
		pcref__dyn_odata_string(filter, value);
	else
		pcref__buf_puts(filter, "null");
}

/* Create a row now (even in a batch: its id is needed) and return its id. */
static int create_row(dyn *d, const char *set, const char *pk, const pcref__json *body, const char *what,
                      pcref_opportunity *opp, int id_field)
{
	pcref__buf url = PCREF__BUF_INIT;
	pcref__json *row = NULL;
	char *text = NULL, *u = NULL;
	const char *id;
	int rc;
	pcref__dyn_set_path(&url, set, NULL);
	pcref__dyn_add_param(&url, "$select", pk);
	if ((rc = pcref__buf_detach(&url, &u, NULL)) < 0 || (rc = pcref__crm_body_text(body, &text)) < 0)
		goto out;
	if ((rc = pcref__dyn_send(d, "POST", u, text, NULL, "return=representation", what, &row)) < 0)
		goto out;
	if (!(id = pcref__json_string(pcref__json_get(row, pk))))
		rc = pcref__error(PCREF_EPROTOCOL, "Dynamics 365 sent no %s back when %s", pk, what);
	else
		rc = pcref_opportunity_set_text(opp, id_field, id);
out:
	pcref__buf_dispose(&url);
	pcref__json_free(row);
	pcref__dealloc(text);
	pcref__dealloc(u);
	return rc;
}

/* Look a row up by a filter; *found = its id copied into `opp` (id_field). */
static int match_row(dyn *d, const char *set, const char *pk, const char *filter, const char *what,
                     pcref_opportunity *opp, int id_field, int *found)
{
	pcref__buf url = PCREF__BUF_INIT;
	pcref__json *row = NULL;
	const char *id;
	int rc;
	*found = 0;
	pcref__dyn_set_path(&url, set, NULL);
	pcref__dyn_add_param(&url, "$select", pk);
	pcref__dyn_add_param(&url, "$filter", filter);
	pcref__dyn_add_param(&url, "$top", "1");
	if ((rc = pcref__dyn_query_first(d, &url, what, &row)) < 0)
		return rc;
	if ((id = pcref__json_string(pcref__json_get(row, pk)))) {
		*found = 1;
		rc = pcref_opportunity_set_text(opp, id_field, id);
	}
	pcref__json_free(row);
	return rc;
}

int pcref__dyn_ensure_account(pcref_opportunity *opp, const int *match, size_t nmatch, void *payload)
{
	static const int defaults[] = { PCREF_FIELD_ACCOUNT_NAME, PCREF_FIELD_ACCOUNT_POSTAL_CODE };
	dyn *d = payload;
	pcref__buf filter = PCREF__BUF_INIT;
	pcref__json *body = NULL;
	const char *name = pcref_opportunity_text(opp, PCREF_FIELD_ACCOUNT_NAME);
	char what[160];
	int found = 0, rc = PCREF_OK;
	if (!opp)
		return pcref__error(PCREF_EINVALID, "ensure_account needs a record");
	if (!match || !nmatch)
		match = defaults, nmatch = PCREF__ARRAY_LEN(defaults);
	if (!name)
		return pcref__error(PCREF_EINVALID, "the customer account needs a name (R-27)");
	for (size_t i = 0; i < nmatch; i++) {
		int f = match[i];
		const char *col = f >= PCREF_FIELD_ACCOUNT_NAME && f <= PCREF_FIELD_ACCOUNT_ADDRESS2
		                ? d->account_cols[f - PCREF_FIELD_ACCOUNT_NAME] : NULL;
		if (!col) {
			pcref__buf_dispose(&filter);
			return pcref__error(PCREF_EINVALID, "accounts cannot be matched on '%s': %s (R-27)",
			                    pcref_opportunity_field_name(f) ? pcref_opportunity_field_name(f) : "?",
			                    f >= PCREF_FIELD_ACCOUNT_NAME && f <= PCREF_FIELD_ACCOUNT_ADDRESS2
			                    ? "the mapping has no account column for it" : "it is not an account field");
		}
		match_term(&filter, col, pcref_opportunity_text(opp, f));
	}
	snprintf(what, sizeof(what), "looking up account '%.100s'", name);
	if (filter.failed)
		rc = pcref__error_nomem();
	else
		rc = match_row(d, d->account_set, d->account_pk, filter.data, what, opp, PCREF_FIELD_ACCOUNT_ID, &found);
	pcref__buf_dispose(&filter);
	if (rc < 0 || found)
		return rc;
	if (!(body = pcref__json_new(PCREF__JSON_OBJECT)))
		return pcref__error_nomem();
	for (int f = PCREF_FIELD_ACCOUNT_NAME; f <= PCREF_FIELD_ACCOUNT_ADDRESS2 && rc == PCREF_OK; f++) {
		const char *col = d->account_cols[f - PCREF_FIELD_ACCOUNT_NAME];
		if (col && pcref_opportunity_text(opp, f))
			rc = pcref__json_set(body, col, pcref__crm_text_node(pcref_opportunity_text(opp, f)));
	}
	snprintf(what, sizeof(what), "creating account '%.100s'", name);
	if (rc == PCREF_OK)
		rc = create_row(d, d->account_set, d->account_pk, body, what, opp, PCREF_FIELD_ACCOUNT_ID);
	pcref__json_free(body);
	return rc;
}

#define CONTACT_COL(d, f) ((d)->contact_cols[(f) - PCREF_FIELD_CONTACT_FIRST_NAME])

int pcref__dyn_ensure_contact(pcref_opportunity *opp, void *payload)
{
	dyn *d = payload;
	pcref__buf filter = PCREF__BUF_INIT;
	pcref__json *body = NULL;
	const char *email, *account, *last, *first;
	int found = 0, rc = PCREF_OK;
	if (!opp)
		return pcref__error(PCREF_EINVALID, "ensure_contact needs a record");
	email = CONTACT_COL(d, PCREF_FIELD_CONTACT_EMAIL) ? pcref_opportunity_text(opp, PCREF_FIELD_CONTACT_EMAIL) : NULL;
	account = pcref_opportunity_text(opp, PCREF_FIELD_ACCOUNT_ID);
	last = pcref_opportunity_text(opp, PCREF_FIELD_CONTACT_LAST_NAME);
	first = pcref_opportunity_text(opp, PCREF_FIELD_CONTACT_FIRST_NAME);
	if (account && !pcref__dyn_is_guid(account))
		return pcref__error(PCREF_EINVALID, "the account id '%.80s' is not a Dynamics 365 record id (a GUID)",
		                    account);
	if (!email && !last)
		return pcref__error(PCREF_EINVALID,
			"the customer contact needs an email or a last name to be found or created");
	if (email) {
		match_term(&filter, CONTACT_COL(d, PCREF_FIELD_CONTACT_EMAIL), email);
	} else {
		if (CONTACT_COL(d, PCREF_FIELD_CONTACT_FIRST_NAME))
			match_term(&filter, CONTACT_COL(d, PCREF_FIELD_CONTACT_FIRST_NAME), first);
		if (CONTACT_COL(d, PCREF_FIELD_CONTACT_LAST_NAME))
			match_term(&filter, CONTACT_COL(d, PCREF_FIELD_CONTACT_LAST_NAME), last);
		pcref__buf_printf(&filter, "%s_parentcustomerid_value eq %s", filter.len ? " and " : "",
		                  account ? account : "null");
	}
	if (filter.failed)
		rc = pcref__error_nomem();
	else
		rc = match_row(d, d->contact_set, d->contact_pk, filter.data, "looking up the customer contact", opp,
		               PCREF_FIELD_CONTACT_ID, &found);
	pcref__buf_dispose(&filter);
	if (rc < 0 || found)
		return rc;
	if (!(body = pcref__json_new(PCREF__JSON_OBJECT)))
		return pcref__error_nomem();
	for (int f = PCREF_FIELD_CONTACT_FIRST_NAME; f <= PCREF_FIELD_CONTACT_PHONE && rc == PCREF_OK; f++)
		if (CONTACT_COL(d, f) && pcref_opportunity_text(opp, f))
			rc = pcref__json_set(body, CONTACT_COL(d, f), pcref__crm_text_node(pcref_opportunity_text(opp, f)));
	if (rc == PCREF_OK && account)
		rc = pcref__dyn_bind(body, "parentcustomerid_account", d->account_set, account);
	if (rc == PCREF_OK)
		rc = create_row(d, d->contact_set, d->contact_pk, body, "creating the customer contact", opp,
		                PCREF_FIELD_CONTACT_ID);
	pcref__json_free(body);
	return rc;
}

/* ---- solution links (R-07) ----------------------------------------------------------------------- */

/* The link row of (opportunity, solution), or NULL. */
static int find_link(dyn *d, const char *id, const char *solution_id, pcref__json **row)
{
	pcref__buf url = PCREF__BUF_INIT, filter = PCREF__BUF_INIT, sel = PCREF__BUF_INIT;
	pcref__buf_printf(&filter, "%s eq %s and %s eq ", d->sol_opp_value, id, d->sol_id_col);
	pcref__dyn_odata_string(&filter, solution_id);
	pcref__buf_printf(&sel, "%s,%s", d->solution_pk, d->sol_name_col);
	pcref__dyn_set_path(&url, d->solution_set, NULL);
	pcref__dyn_add_param(&url, "$select", sel.data);
	pcref__dyn_add_param(&url, "$filter", filter.data);
	pcref__dyn_add_param(&url, "$top", "1");
	pcref__buf_dispose(&filter);
	pcref__buf_dispose(&sel);
	return pcref__dyn_solution_error(d, pcref__dyn_query_first(d, &url, "looking up a solution link", row));
}

static int check_link_args(const char *id, const char *solution_id)
{
	if (!pcref__dyn_is_guid(id))
		return pcref__dyn_not_a_row("opportunity", id);
	if (!solution_id || !*solution_id)
		return pcref__error(PCREF_EINVALID, "a solution id is required (R-07)");
	return PCREF_OK;
}

int pcref__dyn_add_solution(const char *id, const char *solution_id, const char *name, void *payload)
{
	dyn *d = payload;
	pcref__json *row = NULL, *body = NULL;
	pcref__buf link = PCREF__BUF_INIT;
	const char *have, *row_id;
	char what[200];
	int rc;
	if ((rc = check_link_args(id, solution_id)) < 0)
		return rc;
	pcref__buf_printf(&link, "%s %s", id, solution_id);
	if (link.failed) {
		pcref__buf_dispose(&link);
		return pcref__error_nomem();
	}
	if (d->in_batch && pcref__dyn_queued_link(d, link.data)) {
		pcref__buf_dispose(&link);
		return PCREF_OK;
	}
	if ((rc = find_link(d, id, solution_id, &row)) < 0)
		goto out;
	if (!(body = pcref__json_new(PCREF__JSON_OBJECT))) {
		rc = pcref__error_nomem();
		goto out;
	}
	row_id = pcref__json_string(pcref__json_get(row, d->solution_pk));
	if (row_id) { /* linked already: only a new name is written */
		have = pcref__json_string(pcref__json_get(row, d->sol_name_col));
		if (!name || (have && strcmp(have, name) == 0))
			goto out;
		snprintf(what, sizeof(what), "renaming solution '%.60s' of opportunity %s", solution_id, id);
		if ((rc = pcref__json_set(body, d->sol_name_col, pcref__crm_text_node(name))) == PCREF_OK)
			rc = pcref__dyn_write_row(d, "PATCH", NULL, row_id, body, "*", what, NULL, NULL);
		goto out;
	}
	snprintf(what, sizeof(what), "linking solution '%.60s' to opportunity %s", solution_id, id);
	if ((rc = pcref__json_set(body, d->sol_id_col, pcref__crm_text_node(solution_id))) == PCREF_OK &&
	    (!name || (rc = pcref__json_set(body, d->sol_name_col, pcref__crm_text_node(name))) == PCREF_OK) &&
	    (rc = pcref__dyn_bind(body, d->sol_opp_nav, d->opp.set, id)) == PCREF_OK)
		rc = pcref__dyn_write_row(d, "POST", NULL, NULL, body, NULL, what, link.data, NULL);
out:
	pcref__json_free(row);
	pcref__json_free(body);
	pcref__buf_dispose(&link);
	return rc;
}

int pcref__dyn_remove_solution(const char *id, const char *solution_id, void *payload)
{
	dyn *d = payload;
	int rc, removed = 0;
	if ((rc = check_link_args(id, solution_id)) < 0)
		return rc;
	if (d->in_batch && (rc = pcref__dyn_flush(d)) < 0)
		return rc;
	for (;;) { /* every link row of the pair (there should be one) */
		pcref__json *row = NULL;
		pcref__buf url = PCREF__BUF_INIT;
		const char *row_id;
		char what[200], *u;
		if ((rc = find_link(d, id, solution_id, &row)) < 0)
			return rc;
		if (!(row_id = pcref__json_string(pcref__json_get(row, d->solution_pk)))) {
			pcref__json_free(row);
			break;
		}
		snprintf(what, sizeof(what), "unlinking solution '%.60s' from opportunity %s", solution_id, id);
		pcref__dyn_set_path(&url, d->solution_set, row_id);
		pcref__json_free(row);
		if ((rc = pcref__buf_detach(&url, &u, NULL)) < 0)
			return rc;
		rc = pcref__dyn_send(d, "DELETE", u, NULL, NULL, NULL, what, NULL);
		pcref__dealloc(u);
		if (rc < 0)
			return rc;
		removed++;
	}
	if (!removed)
		return pcref__error(PCREF_ENOTFOUND, "opportunity %s has no solution '%s' in Dynamics 365", id, solution_id);
	return PCREF_OK;
}

/* ---- closing (A.14) ---------------------------------------------------------------------------------- */

int pcref__dyn_close(const char *id, int won, const char *reason, void *payload)
{
	dyn *d = payload;
	pcref__json *body = NULL, *close = NULL;
	pcref__buf path = PCREF__BUF_INIT;
	char what[120], *text = NULL, *u = NULL;
	int rc;
	if (!pcref__dyn_is_guid(id))
		return pcref__dyn_not_a_row("opportunity", id);
	if (d->in_batch && (rc = pcref__dyn_flush(d)) < 0)
		return rc;
	if (!(body = pcref__json_new(PCREF__JSON_OBJECT)) || !(close = pcref__json_new(PCREF__JSON_OBJECT))) {
		pcref__json_free(body);
		return pcref__error_nomem();
	}
	/* Status: a statuscode of the Won (3) or Lost (4 Canceled) state */
	if ((rc = pcref__json_set(close, "subject",
	                          pcref__crm_text_node(won ? "Opportunity won" : "Opportunity lost"))) == 0 &&
	    (rc = pcref__dyn_bind(close, "opportunityid", d->opp.set, id)) == 0 &&
	    (!reason || !d->close_reason_col ||
	     (rc = pcref__json_set(close, d->close_reason_col, pcref__crm_text_node(reason))) == 0) &&
	    (rc = pcref__json_set(body, "Status", pcref__json_new_number(won ? 3 : 4))) == 0) {
		rc = pcref__json_set(body, "OpportunityClose", close);
		close = NULL;
	}
	pcref__json_free(close);
	snprintf(what, sizeof(what), "closing opportunity %s as %s", id, won ? "won" : "lost");
	pcref__buf_printf(&path, DYN_API "%s", won ? "WinOpportunity" : "LoseOpportunity");
	if (rc == PCREF_OK && (rc = pcref__crm_body_text(body, &text)) == PCREF_OK &&
	    (rc = pcref__buf_detach(&path, &u, NULL)) == PCREF_OK)
		rc = pcref__dyn_send(d, "POST", u, text, NULL, NULL, what, NULL);
	pcref__json_free(body);
	pcref__buf_dispose(&path);
	pcref__dealloc(text);
	pcref__dealloc(u);
	return rc;
}
