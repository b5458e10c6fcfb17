/**
 * @file pcref/pcref.h
 * @brief The umbrella header: include this one to use libpcref.
 *
 * libpcref keeps Microsoft Partner Center co-sell referrals and a partner's
 * CRM in sync in both directions. Start with @ref pcref_global, then
 * @ref pcref_referral; webhook deliveries are verified with
 * @ref pcref_webhook. Error handling is described in @ref pcref_errors.
 */
#ifndef PCREF_PCREF_H
#define PCREF_PCREF_H

#include "common.h"
#include <pcref/version.h>
#include "errors.h"
#include "global.h"
#include "referral.h"
#include "opportunity.h"
#include "crm.h"
#include "mapping.h"
#include "connection.h"
#include "partnercenter.h"
#include "webhook.h"
#include "store.h"
#include "sync.h"

#endif /* PCREF_PCREF_H */
