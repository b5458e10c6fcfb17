/* The state-store handle's representation and the helpers the built-in
 * stores share (lib/store/). Nothing here is exported. */
#ifndef PCREF_STORE_INTERNAL_H
#define PCREF_STORE_INTERNAL_H

#include <stdatomic.h>

#include "pcref/store.h"
#include "pcref/sys/store.h"
#include "../core/internal.h"

struct pcref_store {
	atomic_uint refs;
	pcref_store_backend backend;  /* copied at registration */
	char *name;
	int in_transaction;           /* between a successful begin and its commit/rollback */
};

/* Take a reference: the store lives until pcref_store_free() has been called
 * once per reference (the sync engine holds one). Returns `store`. */
pcref_store *pcref__store_ref(pcref_store *store);

/* Owned copies of records, for stores that must keep or hand out strings that
 * outlive the caller's (every string duplicated with the library allocator).
 * On failure `dst` holds nothing to release and PCREF_ENOMEM is recorded. */
int pcref__link_copy(pcref_link *dst, const pcref_link *src);
void pcref__link_dispose(pcref_link *link);
int pcref__retry_copy(pcref_retry *dst, const pcref_retry *src);
void pcref__retry_dispose(pcref_retry *item);

/* The failures every store reports alike: no link found by these ids
 * (PCREF_ENOTFOUND), a webhook delivery recorded already (PCREF_EEXISTS). */
int pcref__store_no_link(const char *store_name, const char *referral_id, const char *crm_id);
int pcref__store_delivery_seen(const char *key);

#endif
