/* The Dynamics 365 (Dataverse Web API v9.2) backend's state and helpers,
 * shared by dynamics.c (set-up, records, lookups, listing),
 * dynamics_related.c (accounts, contacts, solution links, closing) and
 * dynamics_batch.c ($batch). */
#ifndef PCREF_CRM_DYNAMICS_INTERNAL_H
#define PCREF_CRM_DYNAMICS_INTERNAL_H

#include "crm_internal.h"
#include "../net/http.h"

/* Every path the backend sends starts here (A.0). */
#define DYN_API "/api/data/v9.2/"
/* Rows per page of a listing (Prefer: odata.maxpagesize, A.10; the service
 * allows up to 5000). One page is held in memory at a time. */
#define DYN_PAGE_SIZE 500
/* Operations per $batch request (the service takes at most 1000, A.12). */
#define DYN_BATCH_MAX 1000

/* How a column's value is converted. */
enum {
	DYN_TEXT,      /* Edm.String */
	DYN_FLEX,      /* text or a choice value (the connector's "How can Microsoft help?") */
	DYN_NUMBER,    /* Money / Decimal */
	DYN_DATE,      /* date-only "YYYY-MM-DD" */
	DYN_FLAG,      /* Edm.Boolean */
	DYN_STATE,     /* statecode: 0 open, 1 won (qualified), 2 lost (disqualified) */
	DYN_CURRENCY,  /* lookup to the currency set, given as the ISO code */
	DYN_LOOKUP,    /* lookup to `target`, given as the row id */
	DYN_OWNER      /* lookup to the user set, given as the user's email */
};

typedef struct dyn_col {
	int field;          /* PCREF_FIELD_* */
	const char *name;   /* column, or navigation property of a lookup (borrowed) */
	int kind;           /* DYN_* */
	const char *target; /* entity set a DYN_LOOKUP binds to */
} dyn_col;

/* An entity the backend reads records from: opportunities or leads. */
typedef struct dyn_table {
	const char *set;    /* entity set */
	const char *pk;     /* primary key column */
	const char *modified;
	const char *noun;   /* "opportunity" / "lead", for messages */
	int lead;
	dyn_col cols[PCREF__OPP_FIELDS];
	size_t ncols;
	char *select;       /* $select value */
	char *expand;       /* $expand value, NULL when nothing is expanded */
} dyn_table;

/* A write held back by an open batch. */
typedef struct dyn_op {
	char *method;
	char *path;         /* DYN_API... */
	char *body;         /* JSON */
	char *if_match;     /* or NULL */
	char *what;         /* "creating opportunity 'X'" */
	char *link;         /* add_solution: "<opportunity id> <solution id>", else NULL */
} dyn_op;

typedef struct dyn {
	pcref_connection *conn;
	pcref_mapping *map;              /* our own copy */
	pcref__json *doc;                /* the mapping document (required_defaults ...) */
	dyn_table opp, lead;
	char *lead_pk;
	char *opp_pk;
	const char *account_set, *contact_set, *currency_set, *user_set, *solution_set;
	char *account_pk, *contact_pk, *currency_pk, *user_pk, *solution_pk;
	char *sol_id_col, *sol_name_col, *sol_opp_nav, *sol_opp_value;
	const char *account_nav;         /* opportunity -> account navigation property, or NULL */
	const char *contact_nav;
	const char *account_cols[PCREF_FIELD_ACCOUNT_ADDRESS2 - PCREF_FIELD_ACCOUNT_NAME + 1];
	const char *contact_cols[PCREF_FIELD_CONTACT_PHONE - PCREF_FIELD_CONTACT_FIRST_NAME + 1];
	const char *close_reason_col;    /* column of the OpportunityClose, or NULL */
	const char **extras;             /* the mapping's custom columns, borrowed */
	size_t nextras;
	pcref__crm_pairs currencies;    /* ISO code -> currency row id */
	pcref__crm_pairs users;         /* email -> user row id */
	int in_batch;
	dyn_op *ops;
	size_t nops, cap_ops;
} dyn;

/* Send one request with the OData headers. `body` may be NULL; `prefer` and
 * `if_match` may be NULL. With `out`, a JSON answer is parsed into it
 * (NULL when the answer had no body). */
int pcref__dyn_send(dyn *d, const char *method, const char *url, const char *body, const char *if_match,
                    const char *prefer, const char *what, pcref__json **out);

/* A Dataverse row id: a GUID (8-4-4-4-12 hex digits). */
int pcref__dyn_is_guid(const char *s);
/* ENOTFOUND for an id that cannot name a row. */
int pcref__dyn_not_a_row(const char *noun, const char *id);
/* An OData string literal: '...' with quotes doubled. */
void pcref__dyn_odata_string(pcref__buf *b, const char *s);
/* Append "?name=<escaped value>" (or "&..." after the first); NULL value: nothing. */
void pcref__dyn_add_param(pcref__buf *url, const char *name, const char *value);
/* DYN_API "<set>" or DYN_API "<set>(<id>)". */
void pcref__dyn_set_path(pcref__buf *url, const char *set, const char *id);
/* The first row a query (url, consumed) answers, or NULL *row when none. */
int pcref__dyn_query_first(dyn *d, pcref__buf *url, const char *what, pcref__json **row);
/* A failed read of the solution entity set, with its context. */
int pcref__dyn_solution_error(dyn *d, int rc);
/* body["<nav>@odata.bind"] = "/<set>(<id>)", or null when id is NULL. */
int pcref__dyn_bind(pcref__json *body, const char *nav, const char *set, const char *id);
/* Write a row of `t` (NULL: the solution set): sent now, or held back when a
 * batch is open and `out` is NULL (a write with `out` first sends what is
 * held back). `link` marks a held-back solution link. With `out`, the row
 * as stored comes back as a record of `t`. */
int pcref__dyn_write_row(dyn *d, const char *method, const dyn_table *t, const char *id, const pcref__json *body,
                         const char *if_match, const char *what, const char *link, pcref_opportunity **out);

/* ---- dynamics_related.c: the vtable members for accounts, contacts,
 * solution links and closing ----------------------------------------------- */
int pcref__dyn_ensure_account(pcref_opportunity *opp, const int *match, size_t nmatch, void *payload);
int pcref__dyn_ensure_contact(pcref_opportunity *opp, void *payload);
int pcref__dyn_add_solution(const char *id, const char *solution_id, const char *name, void *payload);
int pcref__dyn_remove_solution(const char *id, const char *solution_id, void *payload);
int pcref__dyn_close(const char *id, int won, const char *reason, void *payload);

/* ---- dynamics_batch.c ---------------------------------------------------- */
/* Hold a write back until the batch is committed. Takes nothing over: every
 * string is copied. */
int pcref__dyn_queue(dyn *d, const char *method, const char *path, const char *body, const char *if_match,
                     const char *what, const char *link);
/* Whether an add_solution for this pair is queued already. */
int pcref__dyn_queued_link(const dyn *d, const char *link);
/* Send what is queued (one $batch with one change set per DYN_BATCH_MAX
 * writes) and empty the queue, whatever happens. */
int pcref__dyn_flush(dyn *d);
void pcref__dyn_queue_clear(dyn *d);
/* The vtable's batch members. */
int pcref__dyn_batch_begin(void *payload);
int pcref__dyn_batch_commit(void *payload);

#endif
