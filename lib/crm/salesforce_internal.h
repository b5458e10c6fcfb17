/* The Salesforce (REST API) backend's state and helpers, shared by
 * salesforce.c (set-up, sending, records, queries, listing, leads),
 * salesforce_related.c (accounts, contacts and contact roles, team members,
 * solutions, closing) and salesforce_batch.c (sObject Collections and
 * Composite). Facts: crm-apis.md part B (cited B.n). */
#ifndef PCREF_CRM_SALESFORCE_INTERNAL_H
#define PCREF_CRM_SALESFORCE_INTERNAL_H

#include "crm_internal.h"
#include "../net/http.h"

/* Records per sObject Collections request (B.9). */
#define SF_COLLECTION_MAX 200
/* Subrequests per Composite request (B.8). */
#define SF_COMPOSITE_MAX 25
/* Ids per "Id IN (...)" query: 200 ids keep the URL near 5 KB, well under
 * the 16,384-byte limit (B.5, 414). */
#define SF_IDS_PER_QUERY 200
/* How long calls are refused locally after the org's API allocation ran
 * out (B.10: the allocation is a rolling 24 hours; a minute keeps a
 * polling host from spending what comes back at once). */
#define SF_LIMIT_PAUSE_MS 60000

/* How a field's value is converted. */
enum {
	SF_TEXT,      /* string, textarea, picklist, URL */
	SF_NUMBER,    /* currency, double */
	SF_DATE,      /* date "YYYY-MM-DD" */
	SF_FLAG,      /* checkbox */
	SF_CURRENCY,  /* CurrencyIsoCode: an ISO code checked against CurrencyType */
	SF_ID,        /* a reference written and read as the record id */
	SF_OWNER,     /* OwnerId, given and read as the user's email (Owner.Email) */
	SF_STATE,     /* open / won / lost, read from IsClosed and IsWon (B.11) */
	SF_LEAD_STATE,/* a lead's open / won (IsConverted) / lost (Status) */
	SF_READ_ONLY, /* read, never written (a lead's compound Name) */
	SF_HELP       /* "How can Microsoft help?": the package's picklist label <-> Partner Center's code */
};

typedef struct sf_col {
	int field;          /* PCREF_FIELD_* */
	const char *name;   /* API name (borrowed from the mapping or a literal) */
	int kind;           /* SF_* */
} sf_col;

/* An object the backend reads records from: Opportunity or Lead. */
typedef struct sf_object {
	const char *type;   /* sObject API name */
	const char *noun;   /* "opportunity" / "lead", for messages */
	int lead;
	sf_col cols[PCREF__OPP_FIELDS];
	size_t ncols;
	char *select;       /* SOQL field list */
} sf_object;

/* A write held back by an open batch. */
typedef struct sf_op {
	char *method;       /* "POST" (create) or "PATCH" (update) */
	char *type;         /* sObject */
	char *id;           /* PATCH: the record, else NULL */
	char *body;         /* JSON object of field values */
	char *if_unmodified;/* PATCH: HTTP-date, or NULL */
	char *what;         /* "creating opportunity 'X'" */
	char *link;         /* add_solution: "<opportunity id> <solution id>", else NULL */
} sf_op;

typedef struct sf {
	pcref_connection *conn;
	pcref_mapping *map;              /* our own copy */
	pcref__json *doc;                /* the mapping document */
	char api[32];                    /* "/services/data/v60.0" */
	sf_object opp, lead;
	const char *modified_col;        /* SystemModstamp: the listing watermark */
	const char *version_col;         /* LastModifiedDate: the record version */
	const char *account_type, *contact_type, *currency_type, *user_type, *solution_type;
	const char *contact_role_type, *team_member_type;
	const char *sol_id_col, *sol_name_col, *sol_opp_col;
	const char *account_cols[PCREF_FIELD_ACCOUNT_ADDRESS2 - PCREF_FIELD_ACCOUNT_NAME + 1];
	const char *contact_cols[PCREF_FIELD_CONTACT_PHONE - PCREF_FIELD_CONTACT_FIRST_NAME + 1];
	const char *account_rel, *contact_rel; /* relationship names (AccountId -> Account), or NULL */
	const char *close_reason_col;
	const char **extras;             /* the mapping's custom fields, borrowed */
	size_t nextras;
	pcref__crm_pairs currencies;     /* ISO code -> ISO code (existence) */
	pcref__crm_pairs users;          /* email -> User Id */
	long api_used, api_max;          /* the last Sforce-Limit-Info (B.10), -1 unknown */
	int64_t paused_until;            /* monotonic ms; calls refused before it */
	int in_batch;
	sf_op *ops;
	size_t nops, cap_ops;
} sf;

/* ---- salesforce.c -------------------------------------------------------------- */

/* Send one request to the instance (url: a path under it, e.g.
 * d->api "/sobjects/Account"). `body` and `if_unmodified` may be NULL. With
 * `out`, a JSON answer (object or array) is parsed into it (NULL when the
 * answer had no body). Handles REQUEST_LIMIT_EXCEEDED and Sforce-Limit-Info. */
int pcref__sf_send(sf *d, const char *method, const char *url, const char *body, const char *if_unmodified,
                   const char *what, pcref__json **out);
/* Whether s can be a Salesforce record id (15 or 18 letters and digits). */
int pcref__sf_is_id(const char *s);
/* ENOTFOUND for an id that cannot name a record. */
int pcref__sf_not_a_record(const char *noun, const char *id);
/* A SOQL string literal: '...' with \ and ' escaped (B.6). */
void pcref__sf_soql_string(pcref__buf *b, const char *s);
/* "<field> = '<value>'" (or "= null") appended with " AND ". */
void pcref__sf_soql_term(pcref__buf *where, const char *field, const char *value);
/* Run a SOQL query, following nextRecordsUrl; `cb` sees each batch's
 * "records" array; a non-zero return stops and is returned. */
typedef int (*pcref__sf_page_cb)(sf *d, const pcref__json *records, void *payload);
int pcref__sf_query(sf *d, const char *soql, const char *what, pcref__sf_page_cb cb, void *payload);
/* The first record a query answers, or NULL *row when none. */
int pcref__sf_query_first(sf *d, const char *soql, const char *what, pcref__json **row);
/* Create a record now (even in a batch) and return its id (*id, to free). */
int pcref__sf_create_now(sf *d, const char *type, const pcref__json *body, const char *what, char **id);
/* A write of one record: sent now, or held back when a batch is open and
 * `queue` is set. POST creates (id NULL), PATCH updates. */
int pcref__sf_write(sf *d, const char *method, const char *type, const char *id, const pcref__json *body,
                    const char *if_unmodified, const char *what, const char *link, int queue, char **new_id);
/* Fill the solution lists of opportunities. */
int pcref__sf_fetch_solutions(sf *d, pcref_opportunity **recs, size_t n);
/* The user id of an email, cached. */
int pcref__sf_find_user(sf *d, const char *email, const char **id);

/* ---- salesforce_related.c -------------------------------------------------------- */
int pcref__sf_ensure_account(pcref_opportunity *opp, const int *match, size_t nmatch, void *payload);
int pcref__sf_ensure_contact(pcref_opportunity *opp, void *payload);
int pcref__sf_add_solution(const char *id, const char *solution_id, const char *name, void *payload);
int pcref__sf_remove_solution(const char *id, const char *solution_id, void *payload);
int pcref__sf_close(const char *id, int won, const char *reason, void *payload);
/* Make the contact the opportunity's primary contact role (B.11). */
int pcref__sf_set_contact_role(sf *d, const char *opp_id, const char *contact_id);
/* Put the owner on the opportunity team; a duplicate is harmless (B.11). */
int pcref__sf_add_team_member(sf *d, const char *opp_id, const char *user_id);

/* ---- salesforce_batch.c ------------------------------------------------------------ */
int pcref__sf_queue(sf *d, const char *method, const char *type, const char *id, const char *body,
                    const char *if_unmodified, const char *what, const char *link);
int pcref__sf_queued_link(const sf *d, const char *link);
/* Send what is queued and empty the queue, whatever happens. */
int pcref__sf_flush(sf *d);
void pcref__sf_queue_clear(sf *d);
int pcref__sf_batch_begin(void *payload);
int pcref__sf_batch_commit(void *payload);

#endif
