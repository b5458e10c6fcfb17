/**
 * @file pcref/partnercenter.h
 * @brief The Partner Center client: referrals (list, get, create, update,
 *        related, co-sell) and the webhook registration.
 * @defgroup pcref_partner_center Partner Center client
 * @{
 *
 * A #pcref_partner_center talks to the Referrals API
 * (`https://api.partner.microsoft.com/v1.0/engagements/referrals`) through
 * one #pcref_connection, and to the webhook registration API
 * (`https://api.partnercenter.microsoft.com/webhooks/v1`) through another:
 * the two hosts take tokens for different audiences.
 *
 * Every call is one logical operation: retries, throttling and token
 * refresh happen inside the connection. Listing streams referrals to a
 * callback page by page, so memory stays bounded by one page's referral.
 */
#ifndef PCREF_PARTNERCENTER_H
#define PCREF_PARTNERCENTER_H

#include "common.h"
#include "connection.h"
#include "referral.h"

PCREF_BEGIN_DECLS

/** @brief A Partner Center client (opaque). @since 0.1 */
typedef struct pcref_partner_center pcref_partner_center;

/**
 * @brief Create a client.
 * @param[out] out the client; free with pcref_partner_center_free().
 * @param referrals connection to the Referrals API host (a Referrals admin
 *        user's token for `https://api.partner.microsoft.com`); the client
 *        keeps a reference.
 * @param webhooks connection to the webhook API host
 *        (`https://api.partnercenter.microsoft.com`), or NULL when the host
 *        does not manage the webhook registration.
 * @return #PCREF_OK, #PCREF_EINVALID, #PCREF_ENOMEM.
 * @since 0.1
 */
PCREF_API int pcref_partner_center_new(pcref_partner_center **out, pcref_connection *referrals,
                                       pcref_connection *webhooks);

/** @brief Free a client (its connections stay alive while others hold them). NULL is ignored. @since 0.1 */
PCREF_API void pcref_partner_center_free(pcref_partner_center *pc);

/** @brief Version of #pcref_referral_query this header describes. @since 0.1 */
#define PCREF_REFERRAL_QUERY_VERSION 1

/**
 * @brief What to list (OData query options of the Referrals API, §2.1).
 * @since 0.1
 */
typedef struct pcref_referral_query {
	unsigned int version;  /**< #PCREF_REFERRAL_QUERY_VERSION. */
	const char *filter;    /**< `$filter`, e.g. `status eq 'New' and type eq 'Shared'`; NULL for all. */
	const char *orderby;   /**< `$orderby`, e.g. `updatedDateTime asc`; NULL for the service's order. */
	const char *select;    /**< `$select`, e.g. `id,status,customerProfile`; NULL for every field. */
	int32_t top;           /**< Stop after this many referrals; 0 for all. */
} pcref_referral_query;

/** @brief Initialiser for #pcref_referral_query (everything). @since 0.1 */
#define PCREF_REFERRAL_QUERY_INIT { PCREF_REFERRAL_QUERY_VERSION, NULL, NULL, NULL, 0 }

/**
 * @brief Initialise a query at run time (for bindings).
 * @return #PCREF_OK, #PCREF_EINVALID, #PCREF_EVERSION.
 * @since 0.1
 */
PCREF_API int pcref_referral_query_init(pcref_referral_query *query, unsigned int version);

/**
 * @brief List referrals, following `@odata.nextLink` page after page, and
 *        call `cb` with each one.
 *
 * A next-page link is followed verbatim except that it must point at the
 * connection's host (the token is never sent elsewhere) and is fetched with
 * the connection's scheme and port.
 * @param pc the client.
 * @param query what to list, or NULL for everything.
 * @param cb called with each referral (borrowed for the call).
 * @param payload passed to `cb`.
 * @return #PCREF_OK; what `cb` returned if it stopped the listing; or the
 *         connection's error.
 * @since 0.1
 */
PCREF_API int pcref_partner_center_list_referrals(pcref_partner_center *pc, const pcref_referral_query *query,
                                                  pcref_referral_cb cb, void *payload);

/**
 * @brief Read one referral.
 * @return #PCREF_OK; #PCREF_ENOTFOUND when Partner Center has no referral
 *         with that id; or the connection's error.
 * @since 0.1
 */
PCREF_API int pcref_partner_center_get_referral(pcref_referral **out, pcref_partner_center *pc, const char *id);

/**
 * @brief Create a referral (checked first with pcref_referral_validate()).
 *
 * Never retried after a server error: a second POST could create a second
 * referral. The caller finds out whether it exists (by externalReferenceId)
 * before trying again; the sync engine does.
 * @param[out] out the referral as Partner Center stored it (id, eTag, ...).
 * @param pc the client.
 * @param referral what to create.
 * @return #PCREF_OK, #PCREF_EINVALID (nothing sent), or the connection's error.
 * @since 0.1
 */
PCREF_API int pcref_partner_center_create_referral(pcref_referral **out, pcref_partner_center *pc,
                                                   const pcref_referral *referral);

/**
 * @brief Update a referral with a JSON Patch (`replace`/`add`, §2.6).
 * @param[out] out the updated referral, or NULL when not wanted.
 * @param pc the client.
 * @param id the referral id.
 * @param patch the RFC 6902 patch (see pcref_referral_diff()).
 * @param len its length.
 * @param if_match the eTag the change is based on (quotes included), or
 *        NULL for no concurrency check.
 * @return #PCREF_OK; #PCREF_ECONFLICT when the referral changed since
 *         `if_match` (412): re-read and re-apply; #PCREF_EINVALID when the
 *         service refused the patch; or the connection's error.
 * @since 0.1
 */
PCREF_API int pcref_partner_center_update_referral(pcref_referral **out, pcref_partner_center *pc, const char *id,
                                                   const char *patch, size_t len, const char *if_match);

/**
 * @brief Write the difference between a referral as read and as it should
 *        be: diff, check the status transition (§4.2), PATCH with `If-Match`
 *        of the original's eTag. Nothing is sent when nothing differs.
 * @param[out] out the referral as stored afterwards (a copy of `original`
 *        when nothing differed); may be NULL.
 * @param pc the client.
 * @param original the referral as read from Partner Center.
 * @param changed the referral as it should be.
 * @return as pcref_partner_center_update_referral(); #PCREF_EINVALID for a
 *         forbidden status transition (nothing sent).
 * @since 0.1
 */
PCREF_API int pcref_partner_center_apply(pcref_referral **out, pcref_partner_center *pc,
                                         const pcref_referral *original, const pcref_referral *changed);

/**
 * @brief List the referrals of one engagement (every party's record of a
 *        deal, §2.4).
 * @return as pcref_partner_center_list_referrals().
 * @since 0.1
 */
PCREF_API int pcref_partner_center_list_related(pcref_partner_center *pc, const char *engagement_id,
                                                pcref_referral_cb cb, void *payload);

/**
 * @brief Invite Microsoft to a referral (§2.4 step 2): create the related
 *        referral targeting `msft` in the same engagement. Idempotent: when
 *        the engagement already has a Microsoft-targeted referral, that one is
 *        returned and nothing is created.
 * @param[out] out the Microsoft-targeted referral.
 * @param pc the client.
 * @param referral the partner's Shared referral (with its engagementId).
 * @return #PCREF_OK, #PCREF_EINVALID, or the connection's error.
 * @since 0.1
 */
PCREF_API int pcref_partner_center_invite_microsoft(pcref_referral **out, pcref_partner_center *pc,
                                                    const pcref_referral *referral);

/**
 * @brief Create a co-sell (Shared) referral in the two steps of §2.4: the
 *        partner's referral, then the related one inviting Microsoft.
 * @param[out] partner the partner's referral as stored (set even when the
 *        second step fails, so the caller can retry it with
 *        pcref_partner_center_invite_microsoft()).
 * @param[out] microsoft the Microsoft-targeted referral (may be NULL when not wanted).
 * @param pc the client.
 * @param referral the deal, with `type` Shared (set if absent).
 * @return #PCREF_OK or the first failure (the message says which step).
 * @since 0.1
 */
PCREF_API int pcref_partner_center_create_cosell(pcref_referral **partner, pcref_referral **microsoft,
                                                 pcref_partner_center *pc, const pcref_referral *referral);

/** @name Webhook registration (§5.1, R-33)
 * @{ */

/** @brief A webhook registration (opaque). @since 0.1 */
typedef struct pcref_webhook_registration pcref_webhook_registration;

/** @brief Flag: replace an existing registration (R-33: only one URL per event). @since 0.1 */
#define PCREF_WEBHOOK_OVERWRITE 1u
/** @brief Flag: ask for the signature in `x-ms-signature` (`SignatureTokenToMsSignatureHeader`). @since 0.1 */
#define PCREF_WEBHOOK_SIGNATURE_HEADER 2u

/**
 * @brief Read the current registration.
 * @return #PCREF_OK; #PCREF_ENOTFOUND when there is none; #PCREF_EINVALID
 *         when the client has no webhook connection; or the connection's error.
 * @since 0.1
 */
PCREF_API int pcref_partner_center_webhook_get(pcref_webhook_registration **out, pcref_partner_center *pc);

/**
 * @brief Register `url` for `events`.
 *
 * Partner Center keeps one URL per event: registering replaces whatever
 * another tool (the Power Automate connector, a staging install) had
 * registered. So an existing registration for a different URL is only
 * replaced with #PCREF_WEBHOOK_OVERWRITE, and the replaced URL is reported
 * (pcref_webhook_registration_replaced_url()).
 * @param[out] out the registration as stored.
 * @param pc the client.
 * @param url the HTTPS URL Partner Center will POST events to.
 * @param events NULL-terminated event names, or NULL for the four referral
 *        events (`referral-created`, `referral-updated`,
 *        `related-referral-created`, `related-referral-updated`).
 * @param flags `PCREF_WEBHOOK_*`; unknown bits are rejected.
 * @return #PCREF_OK; #PCREF_EEXISTS naming the registered URL when it would
 *         be replaced without #PCREF_WEBHOOK_OVERWRITE; #PCREF_EINVALID; or
 *         the connection's error.
 * @since 0.1
 */
PCREF_API int pcref_partner_center_webhook_register(pcref_webhook_registration **out, pcref_partner_center *pc,
                                                    const char *url, const char *const *events, uint32_t flags);

/** @brief The registered URL. @since 0.1 */
PCREF_API const char *pcref_webhook_registration_url(const pcref_webhook_registration *reg);
/** @brief Number of registered events. @since 0.1 */
PCREF_API size_t pcref_webhook_registration_event_count(const pcref_webhook_registration *reg);
/** @brief Registered event `index`, NULL when out of range. @since 0.1 */
PCREF_API const char *pcref_webhook_registration_event(const pcref_webhook_registration *reg, size_t index);
/** @brief The URL this registration replaced, or NULL when it replaced nothing. @since 0.1 */
PCREF_API const char *pcref_webhook_registration_replaced_url(const pcref_webhook_registration *reg);
/** @brief Free a registration. NULL is ignored. @since 0.1 */
PCREF_API void pcref_webhook_registration_free(pcref_webhook_registration *reg);

/** @} */

PCREF_END_DECLS

/** @} */
#endif /* PCREF_PARTNERCENTER_H */
