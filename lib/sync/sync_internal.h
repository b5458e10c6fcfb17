/* The sync engine's private parts: canonical forms, the 3-way merge, and the
 * engine's state. Rules are cited by id (../shared/reference/connector-behaviour.md). */
#ifndef PCREF_SYNC_INTERNAL_H
#define PCREF_SYNC_INTERNAL_H

#include <stdio.h>

#include "pcref/sync.h"
#include "../core/internal.h"
#include "../model/opportunity_internal.h"

/* ---- lifecycle: where a deal is, on either side (R-21, R-25, R-31) -------- */
enum {
	PCREF__LC_NONE = 0,
	PCREF__LC_PENDING,   /* PC New/Pending|Received; CRM open in the on-hold stage */
	PCREF__LC_ACTIVE,    /* PC Active/Accepted; CRM open in any other stage */
	PCREF__LC_WON,       /* PC Closed/Won; CRM won */
	PCREF__LC_LOST,      /* PC Closed/Lost; CRM lost */
	PCREF__LC_DECLINED,  /* PC Closed/Declined|Expired; CRM lost while pending */
};
const char *pcref__lc_name(int lc);
int pcref__lc_parse(const char *name);
int pcref__lc_terminal(int lc);
/* Declined and lost are the same thing seen from the CRM. */
int pcref__lc_same(int a, int b);
int pcref__lc_of_referral(const pcref_referral *r);
/* `pending_before`: the deal was pending at the last sync (a lost CRM record
 * then means "declined"). */
int pcref__lc_of_opportunity(const pcref_opportunity *o, const pcref_mapping *m, int pending_before);

/* The extra field of a canonical record that holds its lifecycle. */
#define PCREF__LC_FIELD "pcref:lifecycle"
/* A canonical record's lifecycle, and setting it. */
int pcref__canon_lc(const pcref_opportunity *c);
int pcref__canon_set_lc(pcref_opportunity *c, int lc);

/* ---- canonical forms ------------------------------------------------------ */
/* The fields the merge compares (the lists). */
extern const int pcref__merge_fields[];
extern const size_t pcref__merge_field_count;

/* Strip a trailing R-30 mark (" ✔" / " ✖") from a name; returns a copy. */
char *pcref__name_unmarked(const char *name);
/* The name with the mark of `ok` (1 ✔, 0 ✖) appended. */
char *pcref__name_marked(const char *name, int ok);

/* Dates compare by day (Dataverse keeps date-only closing dates). */
int64_t pcref__day(int64_t ms);

int pcref__canon_of_referral(pcref_opportunity **out, const pcref_referral *r, const pcref_mapping *m);
int pcref__canon_of_opportunity(pcref_opportunity **out, const pcref_opportunity *o, const pcref_mapping *m,
                                int pending_before);
/* A new CRM record for referral `r`: every field PC gives, the
 * stage of its lifecycle, Sync = Yes, id and link (R-01..R-03), defaults. */
int pcref__opportunity_of_referral(pcref_opportunity **out, const pcref_referral *r, const pcref_mapping *m,
                                   const char *link_base, int lead);
/* A new referral for CRM record `o`; refuses (EINVALID
 * with the audit message) what the connector refuses. */
int pcref__referral_of_opportunity(pcref_referral **out, const pcref_opportunity *o);
/* Write canonical field `field` (or the solutions, field -1) of `canon` into `r`. */
int pcref__referral_set_canon(pcref_referral *r, const pcref_opportunity *canon, int field);
/* Move `r` to lifecycle `lc` (status, substatus, reason). */
int pcref__referral_set_lc(pcref_referral *r, int lc, const char *reason);

int pcref__canon_equal(const pcref_opportunity *a, const pcref_opportunity *b, int field);

/* ---- the 3-way merge ------------------------------------------------------ */
#define PCREF__MAX_FIELDS 64
typedef struct pcref__merge {
	pcref_opportunity *result;    /* the values both sides hold afterwards: the next base */
	int to_crm[PCREF__MAX_FIELDS];
	size_t n_to_crm;
	int to_pc[PCREF__MAX_FIELDS];
	size_t n_to_pc;
	int conflicts[PCREF__MAX_FIELDS];
	size_t n_conflicts;
	char *extra_to_crm[PCREF__MAX_FIELDS];  /* borrowed extra (custom) field names */
	size_t n_extra_to_crm;
	char *extra_to_pc[PCREF__MAX_FIELDS];
	size_t n_extra_to_pc;
	int solutions_to_crm, solutions_to_pc;
	int lc_to_crm, lc_to_pc;      /* a lifecycle move to make, or PCREF__LC_NONE */
	int held;                     /* CRM → PC changes held back (on hold, R-21; closed referral) */
	int refused;                  /* a CRM change was refused by rule: audited with ✖ */
	pcref__buf notes;             /* conflicts settled, changes refused: for the audit */
} pcref__merge;

/* Merge `pc` and `crm` (canonical forms) against `base` (NULL: never synced;
 * then `base_side` names the side whose values count as the base). */
int pcref__merge_run(pcref__merge *mg, const pcref_opportunity *pc, const pcref_opportunity *crm,
                     const pcref_opportunity *base, const pcref_mapping *m, int64_t pc_time, int64_t crm_time);
void pcref__merge_dispose(pcref__merge *mg);
int pcref__merge_empty(const pcref__merge *mg);

/* ---- the engine ----------------------------------------------------------- */
struct pcref_sync {
	pcref_partner_center *pc;   /* referenced */
	pcref_crm *crm;             /* referenced */
	pcref_store *store;         /* referenced */
	pcref_mapping *map;         /* copied */
	pcref_sync_options opt;     /* copied; strings below */
	char *link_base;
};

/* What one call is doing: its flags and the report to add to. */
typedef struct pcref__run {
	pcref_sync *s;
	uint32_t flags;
	int fast;                   /* poll: skip what the store says is unchanged */
	pcref_sync_report *report;
} pcref__run;

#define PCREF__DRY(run) (((run)->flags & PCREF_SYNC_DRY_RUN) != 0)

/* Report an outcome (event callback + report counters). */
void pcref__sync_emit(pcref__run *run, int direction, int action, const char *referral_id, const char *crm_id,
                      const int *fields, size_t nfields, const int *conflicts, size_t nconflicts,
                      const char *changes, int code, const char *message);

/* One item, from either side (item.c). `ref`/`opp` may be given when the
 * caller already read them (borrowed); otherwise they are read. */
int pcref__sync_referral(pcref__run *run, const char *referral_id, const pcref_referral *ref);
int pcref__sync_opportunity(pcref__run *run, const char *crm_id, const pcref_opportunity *opp);

/* Errors that stop a whole pass rather than one item. */
int pcref__sync_fatal(int code);

/* ---- the store, as the engine uses it (sync.c) ------------------------------ */
/* A link read from the store, owned. */
typedef struct pcref__sync_link {
	char *referral_id, *crm_id, *base, *referral_etag, *crm_version, *last_message;
	int64_t started_ms, synced_ms;
	int last_code;
	uint32_t flags;
} pcref__sync_link;

/* PCREF_OK, PCREF_ENOTFOUND, or the store's error. */
int pcref__sync_link_load(pcref_sync *s, const char *referral_id, const char *crm_id, pcref__sync_link *out);
void pcref__sync_link_dispose(pcref__sync_link *l);
/* Both ids known, not pending. */
int pcref__sync_link_complete(const pcref__sync_link *l);
/* Write `l` (as the link of its ids) and clear both sides' retry items: the
 * state change of one successful step, in one transaction. */
int pcref__sync_link_save_ok(pcref_sync *s, const pcref__sync_link *l);
/* Run `step` in a store transaction; a failure rolls back and keeps its error. */
int pcref__sync_transaction(pcref_sync *s, int (*step)(pcref_sync *, const void *), const void *arg);
/* Store a link on its own (a pending create), in its own transaction. */
int pcref__sync_link_save(pcref_sync *s, const pcref__sync_link *l);
/* Record a failed attempt: the link's last outcome (if there is a link) and
 * the retry item of `side`/`id`, in one transaction. Keeps the error. */
int pcref__retry_failed(pcref_sync *s, int side, const char *id, int code, const char *message);

/* ---- the audit trail (R-08, R-30) ------------------------------------------- */
/* The audit field with one more line ("<time> ✔ <text>"), oldest lines
 * dropped beyond the size kept. */
char *pcref__audit_append(const char *audit, int ok, const char *text);

#endif
