/* The Salesforce backend's members for what hangs off an opportunity:
 * accounts and contacts, the primary contact role and the team
 * (OpportunityContactRole, OpportunityTeamMember: B.11, R-40), solutions
 * (R-07, the co-sell package's object, B.12) and closing by stage (B.11,
 * Records, queries and the set-up are in salesforce.c, batches
 * in salesforce_batch.c. */
#include <stdio.h>
#include <string.h>

#include "salesforce_internal.h"

/* ---- accounts and contacts (R-27) --------------------------------------------------------- */

/* Look a record up by a WHERE clause; *found = its Id copied into `opp` (id_field). */
static int match_row(sf *d, const char *type, const char *where, const char *what, pcref_opportunity *opp,
                     int id_field, int *found)
{
	pcref__buf q = PCREF__BUF_INIT;
	pcref__json *row = NULL;
	const char *id;
	int rc;
	*found = 0;
	pcref__buf_printf(&q, "SELECT Id FROM %s WHERE %s ORDER BY CreatedDate ASC, Id ASC LIMIT 1", type, where);
	if (q.failed)
		rc = pcref__error_nomem();
	else
		rc = pcref__sf_query_first(d, q.data, what, &row);
	pcref__buf_dispose(&q);
	if (rc < 0)
		return rc;
	if ((id = pcref__json_string(pcref__json_get(row, "Id")))) {
		*found = 1;
		rc = pcref_opportunity_set_text(opp, id_field, id);
	}
	pcref__json_free(row);
	return rc;
}

/* Create a record now (even in a batch: its id is needed) and put its id in `opp`. */
static int create_into(sf *d, const char *type, const pcref__json *body, const char *what, pcref_opportunity *opp,
                       int id_field)
{
	char *id = NULL;
	int rc = pcref__sf_create_now(d, type, body, what, &id);
	if (rc == PCREF_OK)
		rc = pcref_opportunity_set_text(opp, id_field, id);
	pcref__dealloc(id);
	return rc;
}

int pcref__sf_ensure_account(pcref_opportunity *opp, const int *match, size_t nmatch, void *payload)
{
	static const int defaults[] = { PCREF_FIELD_ACCOUNT_NAME, PCREF_FIELD_ACCOUNT_POSTAL_CODE };
	sf *d = payload;
	pcref__buf where = PCREF__BUF_INIT;
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
		int account = f >= PCREF_FIELD_ACCOUNT_NAME && f <= PCREF_FIELD_ACCOUNT_ADDRESS2;
		const char *col = account ? d->account_cols[f - PCREF_FIELD_ACCOUNT_NAME] : NULL;
		if (!col) {
			pcref__buf_dispose(&where);
			return pcref__error(PCREF_EINVALID, "accounts cannot be matched on '%s': %s (R-27)",
			                    pcref_opportunity_field_name(f) ? pcref_opportunity_field_name(f) : "?",
			                    account ? "the mapping has no account field for it" : "it is not an account field");
		}
		pcref__sf_soql_term(&where, col, pcref_opportunity_text(opp, f));
	}
	snprintf(what, sizeof(what), "looking up account '%.100s'", name);
	if (where.failed)
		rc = pcref__error_nomem();
	else
		rc = match_row(d, d->account_type, where.data, what, opp, PCREF_FIELD_ACCOUNT_ID, &found);
	pcref__buf_dispose(&where);
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
		rc = create_into(d, d->account_type, body, what, opp, PCREF_FIELD_ACCOUNT_ID);
	pcref__json_free(body);
	return rc;
}

#define CONTACT_COL(d, f) ((d)->contact_cols[(f) - PCREF_FIELD_CONTACT_FIRST_NAME])

int pcref__sf_ensure_contact(pcref_opportunity *opp, void *payload)
{
	sf *d = payload;
	pcref__buf where = PCREF__BUF_INIT;
	pcref__json *body = NULL;
	const char *email, *account, *last;
	int found = 0, rc = PCREF_OK;
	if (!opp)
		return pcref__error(PCREF_EINVALID, "ensure_contact needs a record");
	email = CONTACT_COL(d, PCREF_FIELD_CONTACT_EMAIL) ? pcref_opportunity_text(opp, PCREF_FIELD_CONTACT_EMAIL) : NULL;
	account = pcref_opportunity_text(opp, PCREF_FIELD_ACCOUNT_ID);
	last = pcref_opportunity_text(opp, PCREF_FIELD_CONTACT_LAST_NAME);
	if (account && !pcref__sf_is_id(account))
		return pcref__error(PCREF_EINVALID, "the account id '%.80s' is not a Salesforce record id", account);
	if (!email && !last)
		return pcref__error(PCREF_EINVALID,
			"the customer contact needs an email or a last name to be found or created");
	if (email) {
		pcref__sf_soql_term(&where, CONTACT_COL(d, PCREF_FIELD_CONTACT_EMAIL), email);
	} else {
		for (int f = PCREF_FIELD_CONTACT_FIRST_NAME; f <= PCREF_FIELD_CONTACT_LAST_NAME; f++)
			if (CONTACT_COL(d, f))
				pcref__sf_soql_term(&where, CONTACT_COL(d, f), pcref_opportunity_text(opp, f));
		pcref__sf_soql_term(&where, "AccountId", account);
	}
	if (where.failed)
		rc = pcref__error_nomem();
	else
		rc = match_row(d, d->contact_type, where.data, "looking up the customer contact", opp,
		               PCREF_FIELD_CONTACT_ID, &found);
	pcref__buf_dispose(&where);
	if (rc < 0 || found)
		return rc;
	if (!(body = pcref__json_new(PCREF__JSON_OBJECT)))
		return pcref__error_nomem();
	for (int f = PCREF_FIELD_CONTACT_FIRST_NAME; f <= PCREF_FIELD_CONTACT_PHONE && rc == PCREF_OK; f++)
		if (CONTACT_COL(d, f) && pcref_opportunity_text(opp, f))
			rc = pcref__json_set(body, CONTACT_COL(d, f), pcref__crm_text_node(pcref_opportunity_text(opp, f)));
	if (rc == PCREF_OK && account)
		rc = pcref__json_set(body, "AccountId", pcref__crm_text_node(account));
	if (rc == PCREF_OK)
		rc = create_into(d, d->contact_type, body, "creating the customer contact", opp, PCREF_FIELD_CONTACT_ID);
	pcref__json_free(body);
	return rc;
}

/* ---- contact role and team (B.11, R-40) ------------------------------------------------------ */

int pcref__sf_set_contact_role(sf *d, const char *opp_id, const char *contact_id)
{
	pcref__buf q = PCREF__BUF_INIT;
	pcref__json *row = NULL, *body = NULL;
	const pcref__json *primary;
	const char *row_id;
	char what[120];
	int rc;
	if (!d->contact_role_type)
		return PCREF_OK;
	pcref__buf_printf(&q, "SELECT Id, IsPrimary FROM %s WHERE OpportunityId = ", d->contact_role_type);
	pcref__sf_soql_string(&q, opp_id);
	pcref__buf_puts(&q, " AND ContactId = ");
	pcref__sf_soql_string(&q, contact_id);
	pcref__buf_puts(&q, " LIMIT 1");
	snprintf(what, sizeof(what), "making contact %s the primary contact of opportunity %s", contact_id, opp_id);
	rc = q.failed ? pcref__error_nomem() : pcref__sf_query_first(d, q.data, what, &row);
	pcref__buf_dispose(&q);
	if (rc < 0)
		return rc;
	primary = pcref__json_get(row, "IsPrimary");
	row_id = pcref__json_string(pcref__json_get(row, "Id"));
	if (!(body = pcref__json_new(PCREF__JSON_OBJECT)))
		rc = pcref__error_nomem();
	else if (row_id && primary && primary->type == PCREF__JSON_BOOL && primary->u.boolean)
		rc = PCREF_OK; /* it is already */
	else if (row_id && (rc = pcref__json_set(body, "IsPrimary", pcref__json_new_bool(1))) == PCREF_OK)
		rc = pcref__sf_write(d, "PATCH", d->contact_role_type, row_id, body, NULL, what, NULL, 1, NULL);
	else if (!row_id && (rc = pcref__json_set(body, "OpportunityId", pcref__crm_text_node(opp_id))) == PCREF_OK &&
	         (rc = pcref__json_set(body, "ContactId", pcref__crm_text_node(contact_id))) == PCREF_OK &&
	         (rc = pcref__json_set(body, "IsPrimary", pcref__json_new_bool(1))) == PCREF_OK)
		rc = pcref__sf_write(d, "POST", d->contact_role_type, NULL, body, NULL, what, NULL, 1, NULL);
	pcref__json_free(row);
	pcref__json_free(body);
	return rc;
}

int pcref__sf_add_team_member(sf *d, const char *opp_id, const char *user_id)
{
	pcref__json *body = pcref__json_new(PCREF__JSON_OBJECT);
	char what[120];
	int rc;
	/* TeamMemberRole is the org's own picklist (B.11): left to the org's
	 * default rather than guessing a value (UNCONFIRMED names) */
	snprintf(what, sizeof(what), "adding user %s to the team of opportunity %s", user_id, opp_id);
	if (!body)
		return pcref__error_nomem();
	if ((rc = pcref__json_set(body, "OpportunityId", pcref__crm_text_node(opp_id))) == PCREF_OK &&
	    (rc = pcref__json_set(body, "UserId", pcref__crm_text_node(user_id))) == PCREF_OK)
		rc = pcref__sf_write(d, "POST", d->team_member_type, NULL, body, NULL, what, NULL, 1, NULL);
	pcref__json_free(body);
	if (rc < 0 && rc != PCREF_ENOMEM)
		rc = pcref__error_prefix(rc, "Opportunity Teams must be enabled in the org (R-40)");
	return rc;
}

/* ---- solutions (R-07) ---------------------------------------------------------------------------- */

/* The solution record of (opportunity, solution), or NULL. */
static int find_link(sf *d, const char *id, const char *solution_id, pcref__json **row)
{
	pcref__buf q = PCREF__BUF_INIT;
	int rc;
	pcref__buf_printf(&q, "SELECT Id, %s FROM %s WHERE %s = ", d->sol_name_col, d->solution_type, d->sol_opp_col);
	pcref__sf_soql_string(&q, id);
	pcref__buf_printf(&q, " AND %s = ", d->sol_id_col);
	pcref__sf_soql_string(&q, solution_id);
	pcref__buf_puts(&q, " LIMIT 1");
	rc = q.failed ? pcref__error_nomem() : pcref__sf_query_first(d, q.data, "looking up a solution link", row);
	pcref__buf_dispose(&q);
	if (rc == PCREF_EINVALID || rc == PCREF_ENOTFOUND)
		return pcref__error_prefix(PCREF_EINVALID, "the solutions object '%s' (mapping entities.solution and "
		                           "solution_columns) is not usable: install the Microsoft co-sell package "
		                           "or correct the mapping", d->solution_type);
	return rc;
}

static int check_link_args(const char *id, const char *solution_id)
{
	if (!pcref__sf_is_id(id))
		return pcref__sf_not_a_record("opportunity", id);
	if (!solution_id || !*solution_id)
		return pcref__error(PCREF_EINVALID, "a solution id is required (R-07)");
	return PCREF_OK;
}

int pcref__sf_add_solution(const char *id, const char *solution_id, const char *name, void *payload)
{
	sf *d = payload;
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
	if (d->in_batch && pcref__sf_queued_link(d, link.data)) {
		pcref__buf_dispose(&link);
		return PCREF_OK;
	}
	if ((rc = find_link(d, id, solution_id, &row)) < 0)
		goto out;
	if (!(body = pcref__json_new(PCREF__JSON_OBJECT))) {
		rc = pcref__error_nomem();
		goto out;
	}
	row_id = pcref__json_string(pcref__json_get(row, "Id"));
	if (row_id) { /* linked already: only a new name is written */
		have = pcref__json_string(pcref__json_get(row, d->sol_name_col));
		if (!name || (have && strcmp(have, name) == 0))
			goto out;
		snprintf(what, sizeof(what), "renaming solution '%.60s' of opportunity %s", solution_id, id);
		if ((rc = pcref__json_set(body, d->sol_name_col, pcref__crm_text_node(name))) == PCREF_OK)
			rc = pcref__sf_write(d, "PATCH", d->solution_type, row_id, body, NULL, what, NULL, 1, NULL);
		goto out;
	}
	/* a custom object's Name is required: the solution id stands in for a missing name */
	snprintf(what, sizeof(what), "linking solution '%.60s' to opportunity %s", solution_id, id);
	if ((rc = pcref__json_set(body, d->sol_id_col, pcref__crm_text_node(solution_id))) == PCREF_OK &&
	    (rc = pcref__json_set(body, d->sol_name_col, pcref__crm_text_node(name ? name : solution_id))) == PCREF_OK &&
	    (rc = pcref__json_set(body, d->sol_opp_col, pcref__crm_text_node(id))) == PCREF_OK)
		rc = pcref__sf_write(d, "POST", d->solution_type, NULL, body, NULL, what, link.data, 1, NULL);
out:
	pcref__json_free(row);
	pcref__json_free(body);
	pcref__buf_dispose(&link);
	return rc;
}

int pcref__sf_remove_solution(const char *id, const char *solution_id, void *payload)
{
	sf *d = payload;
	int rc, removed = 0;
	if ((rc = check_link_args(id, solution_id)) < 0)
		return rc;
	if (d->in_batch && (rc = pcref__sf_flush(d)) < 0)
		return rc;
	for (;;) { /* every record of the pair (there should be one) */
		pcref__json *row = NULL;
		pcref__buf url = PCREF__BUF_INIT;
		const char *row_id;
		char what[200];
		if ((rc = find_link(d, id, solution_id, &row)) < 0)
			return rc;
		if (!(row_id = pcref__json_string(pcref__json_get(row, "Id")))) {
			pcref__json_free(row);
			break;
		}
		snprintf(what, sizeof(what), "unlinking solution '%.60s' from opportunity %s", solution_id, id);
		pcref__buf_printf(&url, "%s/sobjects/%s/%s", d->api, d->solution_type, row_id);
		pcref__json_free(row);
		rc = url.failed ? pcref__error_nomem() : pcref__sf_send(d, "DELETE", url.data, NULL, NULL, what, NULL);
		pcref__buf_dispose(&url);
		if (rc < 0)
			return rc;
		removed++;
	}
	if (!removed)
		return pcref__error(PCREF_ENOTFOUND, "opportunity %s has no solution '%s' in Salesforce", id, solution_id);
	return PCREF_OK;
}

/* ---- closing (B.11, R-31, R-42) -------------------------------------------------------------------- */

/* Winning or losing is writing a closed StageName (IsClosed and IsWon
 * follow from the org's OpportunityStage, B.11); the stage names are the
 * mapping's won and lost stages, the org's own picklist values.
 * Salesforce itself would let a closed opportunity change stage again; like
 * the other backends, closing a closed one is refused here. */
int pcref__sf_close(const char *id, int won, const char *reason, void *payload)
{
	sf *d = payload;
	pcref__buf url = PCREF__BUF_INIT, patch = PCREF__BUF_INIT;
	pcref__json *row = NULL, *body = NULL;
	const pcref__json *closed;
	const char *stage = pcref_mapping_stage(d->map, won ? PCREF_STAGE_WON : PCREF_STAGE_LOST);
	const char *stage_col = pcref_mapping_column(d->map, PCREF_FIELD_STAGE);
	char what[120], *text = NULL;
	int rc;
	if (!pcref__sf_is_id(id))
		return pcref__sf_not_a_record("opportunity", id);
	if (!stage_col)
		stage_col = "StageName";
	if (d->in_batch && (rc = pcref__sf_flush(d)) < 0)
		return rc;
	snprintf(what, sizeof(what), "closing opportunity %s as %s", id, won ? "won" : "lost");
	pcref__buf_printf(&url, "%s/sobjects/%s/%s?fields=IsClosed,StageName", d->api, d->opp.type, id);
	rc = url.failed ? pcref__error_nomem() : pcref__sf_send(d, "GET", url.data, NULL, NULL, what, &row);
	if (rc == PCREF_ENOTFOUND)
		rc = pcref__error(PCREF_ENOTFOUND, "Salesforce has no opportunity with id '%s'", id);
	closed = pcref__json_get(row, "IsClosed");
	if (rc == PCREF_OK && closed && closed->type == PCREF__JSON_BOOL && closed->u.boolean)
		rc = pcref__error(PCREF_EINVALID, "opportunity %s is closed already (stage '%s'): reopen it in Salesforce "
		                  "before closing it again", id,
		                  pcref__json_string(pcref__json_get(row, "StageName")) ? pcref__json_string(
		                  pcref__json_get(row, "StageName")) : "?");
	if (rc == PCREF_OK && !(body = pcref__json_new(PCREF__JSON_OBJECT)))
		rc = pcref__error_nomem();
	if (rc == PCREF_OK && (rc = pcref__json_set(body, stage_col, pcref__crm_text_node(stage))) == PCREF_OK &&
	    (!reason || !d->close_reason_col ||
	     (rc = pcref__json_set(body, d->close_reason_col, pcref__crm_text_node(reason))) == PCREF_OK) &&
	    (rc = pcref__crm_body_text(body, &text)) == PCREF_OK) {
		pcref__buf_printf(&patch, "%s/sobjects/%s/%s", d->api, d->opp.type, id);
		rc = patch.failed ? pcref__error_nomem() : pcref__sf_send(d, "PATCH", patch.data, text, NULL, what, NULL);
	}
	if (rc == PCREF_EINVALID && pcref_error_last()->http_status == 400)
		rc = pcref__error_prefix(PCREF_EINVALID, "is '%s' one of the org's closed StageName values? Set the "
		                         "mapping's stages.%s to it (R-42)", stage, won ? "won" : "lost");
	pcref__json_free(row);
	pcref__json_free(body);
	pcref__dealloc(text);
	pcref__buf_dispose(&url);
	pcref__buf_dispose(&patch);
	return rc;
}
