/* The CRM handle's representation, shared by the built-in backends, and the
 * helpers of the HTTP backends (crm_util.c). */
#ifndef PCREF_CRM_INTERNAL_H
#define PCREF_CRM_INTERNAL_H

#include <stdatomic.h>

#include "pcref/crm.h"
#include "pcref/sys/crm_backend.h"
#include "../model/opportunity_internal.h"

struct pcref_crm {
	pcref_crm_backend backend;  /* copied at registration */
	char *name;
	atomic_uint refs;           /* pcref_crm_free() drops one; the sync engine holds one */
};

/* ---- crm_util.c -------------------------------------------------------------- */

/* A cached pair: currency (ISO code, id) or user (email or NULL, id). */
typedef struct pcref__crm_pair {
	char *key;
	char *id;
} pcref__crm_pair;

typedef struct pcref__crm_pairs {
	pcref__crm_pair *items;
	size_t n, cap;
} pcref__crm_pairs;

/* The pair whose key (case-insensitive) or id matches, or NULL. */
const pcref__crm_pair *pcref__crm_pairs_find(const pcref__crm_pairs *p, const char *key, const char *id);
/* Add a pair (both strings copied; key may be NULL). */
int pcref__crm_pairs_add(pcref__crm_pairs *p, const char *key, const char *id, const pcref__crm_pair **out);
void pcref__crm_pairs_clear(pcref__crm_pairs *p);

/* Set a text field, leaving it unset when the CRM holds a value the field
 * does not accept (a country written out in full, an unknown state). */
int pcref__crm_set_text_lenient(pcref_opportunity *o, int field, const char *value);
/* The same from a JSON string or number (anything else: left unset). */
int pcref__crm_read_text(pcref_opportunity *o, int field, const pcref__json *v);
/* A JSON string, or null for NULL; NULL when out of memory. */
pcref__json *pcref__crm_text_node(const char *s);
/* Serialise a request body. */
int pcref__crm_body_text(const pcref__json *body, char **out);
/* add the required-field defaults for `record` ("opportunity" or
 * "lead") of the mapping document `doc` to a new record's body, where the
 * body has no value. */
int pcref__crm_add_defaults(const pcref__json *doc, pcref__json *body, const char *record);
/* The backend's own copy of the mapping (the defaults of `backend` when
 * NULL) and the complete mapping document (*doc, for the settings the
 * public getters do not cover). */
int pcref__crm_copy_mapping(const pcref_mapping *mapping, const char *backend, pcref_mapping **out,
                            pcref__json **doc);
/* Refuse an update of fields the CRM maintains (id, version, modified
 * time, lead flag), of an opportunity's state (closed through
 * close_opportunity: `how_to_close` names the CRM's way) and of unknown
 * ids, before anything is sent. */
int pcref__crm_check_update_fields(const int *fields, size_t n, int lead, const char *how_to_close);
/* The account (or contact) detail fields first..last of a record from a
 * related row's JSON object, the row's field names in cols[]. */
int pcref__crm_read_related(pcref_opportunity *o, const pcref__json *rel, const char *const *cols, int first,
                            int last);
/* Custom field mappings: the CRM fields extras[0..n) of a row read
 * into the record's extra fields of the same names / written from them. */
int pcref__crm_read_extras(pcref_opportunity *o, const pcref__json *row, const char *const *extras, size_t n);
int pcref__crm_write_extras(pcref__json *body, const pcref_opportunity *o, const char *const *extras, size_t n);
/* Refuse creating a record without a name or in a state other than open
 * (`crm` names where a lead is closed: "Dynamics 365"). */
int pcref__crm_check_create(const pcref_opportunity *o, const char *noun, int lead, const char *crm);
/* After a write whose answer carries only the record's own row: copy the
 * account and contact detail fields of `src` into `dst` where `dst` still
 * links the same account / contact. */
int pcref__crm_keep_related(pcref_opportunity *dst, const pcref_opportunity *src);
/* Take a reference; pcref_crm_free() drops it. */
pcref_crm *pcref__crm_ref(pcref_crm *crm);

#endif
