/* The Partner Center client's representation. */
#ifndef PCREF_PARTNERCENTER_INTERNAL_H
#define PCREF_PARTNERCENTER_INTERNAL_H

#include <stdatomic.h>
#include <stdio.h>

#include "pcref/partnercenter.h"
#include "../net/http.h"
#include "../model/referral_internal.h"

struct pcref_partner_center {
	pcref_connection *referrals;  /* referenced */
	pcref_connection *webhooks;   /* referenced, may be NULL */
	atomic_uint refs;             /* pcref_partner_center_free() drops one */
};

/* Whether `r` is a partner's invitation to Microsoft (the related referral
 * targeting `msft`, §2.4 step 2): a copy of the deal, not a deal. */
int pcref__referral_targets_microsoft(const pcref_referral *r);

/* Take a reference; pcref_partner_center_free() drops it. */
pcref_partner_center *pcref__partner_center_ref(pcref_partner_center *pc);

#endif
