/* The Referral handle's representation, for the layers that build referrals
 * from the wire (Partner Center client) or read their JSON directly. */
#ifndef PCREF_MODEL_REFERRAL_INTERNAL_H
#define PCREF_MODEL_REFERRAL_INTERNAL_H

#include "pcref/referral.h"
#include "../core/json.h"

struct pcref_referral {
	pcref__json *doc; /* always an object */
};

/* Type-check the modelled fields of a referral document (EPROTOCOL naming
 * the field's JSON Pointer). */
int pcref__referral_check(const pcref__json *doc);
/* Wrap a checked document; takes ownership of doc (freed on failure). */
int pcref__referral_wrap(pcref_referral **out, pcref__json *doc);

#endif
