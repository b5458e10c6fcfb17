/* The CRM handle's representation, shared by the built-in backends. */
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

/* Take a reference; pcref_crm_free() drops it. */
pcref_crm *pcref__crm_ref(pcref_crm *crm);

#endif
