/* The CRM handle's representation, shared by the built-in backends. */
#ifndef PCREF_CRM_INTERNAL_H
#define PCREF_CRM_INTERNAL_H

#include "pcref/crm.h"
#include "pcref/sys/crm_backend.h"
#include "../model/opportunity_internal.h"

struct pcref_crm {
	pcref_crm_backend backend;  /* copied at registration */
	char *name;
};

#endif
