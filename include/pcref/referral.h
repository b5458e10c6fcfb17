/**
 * @file pcref/referral.h
 * @brief The Referral handle: one Partner Center referral, parsed from and
 *        written back to the Referrals API JSON without losing anything.
 * @defgroup pcref_referral Referral
 * @{
 *
 * A #pcref_referral holds the whole JSON object the service sent. Typed
 * getters and setters cover every field the sync needs; everything else —
 * fields this library does not model, explicit nulls, number spellings —
 * is kept and written back unchanged by pcref_referral_to_json(), so a
 * referral read, edited and written back never drops data.
 *
 * **Strings** returned by getters are borrowed from the referral: valid until
 * that field is set again or the referral is freed. They are NULL when the
 * field is absent, null, or not a string.
 *
 * **Date-times** are `int64_t` milliseconds since 1970-01-01T00:00:00Z;
 * #PCREF_TIME_NONE means absent or null. Partner Center's ISO 8601 text (up
 * to 7 fractional digits, any offset) is parsed; setters write
 * `YYYY-MM-DDTHH:MM:SS[.mmm]Z`.
 *
 * Field names in the documentation are the JSON Pointers of the Referrals API
 * resource (`/details/dealValue`).
 */
#ifndef PCREF_REFERRAL_H
#define PCREF_REFERRAL_H

#include "common.h"

PCREF_BEGIN_DECLS

/** @brief One Partner Center referral (opaque). @since 0.1 */
typedef struct pcref_referral pcref_referral;

/**
 * @brief Largest referral document pcref_referral_parse() accepts (16 MiB).
 *
 * Real referrals are a few kilobytes; the limit turns hostile or corrupt
 * input into #PCREF_EINVALID instead of unbounded memory use.
 * @since 0.1
 */
#define PCREF_REFERRAL_MAX_SIZE (16u * 1024u * 1024u)

/** @name Life cycle
 * @{ */

/**
 * @brief Create an empty referral (`{}`) to fill with setters before creating
 *        it in Partner Center.
 * @param[out] out the new referral; free with pcref_referral_free().
 * @return #PCREF_OK or #PCREF_ENOMEM.
 * @since 0.1
 */
PCREF_API int pcref_referral_new(pcref_referral **out);

/**
 * @brief Parse one referral from Referrals API JSON.
 *
 * The fields the library models are type-checked (a string where a string
 * belongs, a date-time that parses, ...); the message of a failure names the
 * field by its JSON Pointer.
 * @param[out] out the referral; free with pcref_referral_free().
 * @param json the JSON text (UTF-8, need not be NUL-terminated).
 * @param len its length in bytes (at most #PCREF_REFERRAL_MAX_SIZE).
 * @return #PCREF_OK; #PCREF_EPROTOCOL for malformed JSON, a non-object or a
 *         field of the wrong type; #PCREF_EINVALID for NULL or over-size input.
 * @since 0.1
 */
PCREF_API int pcref_referral_parse(pcref_referral **out, const char *json, size_t len);

/**
 * @brief Copy a referral.
 * @param[out] out the copy; free with pcref_referral_free().
 * @param referral the referral to copy.
 * @return #PCREF_OK, #PCREF_EINVALID or #PCREF_ENOMEM.
 * @since 0.1
 */
PCREF_API int pcref_referral_dup(pcref_referral **out, const pcref_referral *referral);

/**
 * @brief Write a referral as compact JSON, with every field it was parsed
 *        with (known or not) in its original order.
 * @param referral the referral.
 * @param[out] out NUL-terminated JSON; free with pcref_free().
 * @param[out] len its length without the NUL (may be NULL).
 * @return #PCREF_OK, #PCREF_EINVALID or #PCREF_ENOMEM.
 * @since 0.1
 */
PCREF_API int pcref_referral_to_json(const pcref_referral *referral, char **out, size_t *len);

/**
 * @brief Free a referral. NULL is ignored.
 * @since 0.1
 */
PCREF_API void pcref_referral_free(pcref_referral *referral);

/** @} */

/** @name Identity and state
 * @{ */

/** @brief `/id`, the referral id (a GUID assigned by Partner Center). @since 0.1 */
PCREF_API const char *pcref_referral_id(const pcref_referral *referral);
/** @brief `/engagementId`, shared by the related referrals of one deal. @since 0.1 */
PCREF_API const char *pcref_referral_engagement_id(const pcref_referral *referral);
/** @brief `/name`, the deal name. @since 0.1 */
PCREF_API const char *pcref_referral_name(const pcref_referral *referral);
/** @brief `/externalReferenceId`, the partner's CRM id of the linked record. @since 0.1 */
PCREF_API const char *pcref_referral_external_reference_id(const pcref_referral *referral);
/** @brief `/organizationId`, the owning organisation (`msft` for Microsoft). @since 0.1 */
PCREF_API const char *pcref_referral_organization_id(const pcref_referral *referral);
/** @brief `/organizationName`, the owning organisation's name. @since 0.1 */
PCREF_API const char *pcref_referral_organization_name(const pcref_referral *referral);
/** @brief `/status`: `New`, `Active` or `Closed`. @since 0.1 */
PCREF_API const char *pcref_referral_status(const pcref_referral *referral);
/** @brief `/substatus`: `Pending`, `Received`, `Accepted`, `Won`, `Lost`, `Declined`, `Expired`. @since 0.1 */
PCREF_API const char *pcref_referral_substatus(const pcref_referral *referral);
/** @brief `/statusReason`, e.g. why a deal was lost or declined. @since 0.1 */
PCREF_API const char *pcref_referral_status_reason(const pcref_referral *referral);
/** @brief `/type`: `Independent` (partner only) or `Shared` (co-sell). @since 0.1 */
PCREF_API const char *pcref_referral_type(const pcref_referral *referral);
/** @brief `/qualification`: `None`, `Direct`, `MarketingQualified`, `SalesQualified`. @since 0.1 */
PCREF_API const char *pcref_referral_qualification(const pcref_referral *referral);
/** @brief `/direction`: `Incoming` or `Outgoing`. @since 0.1 */
PCREF_API const char *pcref_referral_direction(const pcref_referral *referral);
/** @brief `/eTag`, the concurrency token, quotes included (`"\"2500ec5a-...\""`). @since 0.1 */
PCREF_API const char *pcref_referral_etag(const pcref_referral *referral);
/** @brief `/trackingInfo/microsoftMsxId`, Microsoft's CRM id once it accepted. @since 0.1 */
PCREF_API const char *pcref_referral_microsoft_msx_id(const pcref_referral *referral);

/** @brief `/createdDateTime`. @since 0.1 */
PCREF_API int64_t pcref_referral_created_time(const pcref_referral *referral);
/** @brief `/updatedDateTime`, the watermark of polling. @since 0.1 */
PCREF_API int64_t pcref_referral_updated_time(const pcref_referral *referral);
/** @brief `/expirationDateTime`. @since 0.1 */
PCREF_API int64_t pcref_referral_expiration_time(const pcref_referral *referral);
/** @brief `/acceptedDateTime`. @since 0.1 */
PCREF_API int64_t pcref_referral_accepted_time(const pcref_referral *referral);
/** @brief `/closedDateTime`. @since 0.1 */
PCREF_API int64_t pcref_referral_closed_time(const pcref_referral *referral);

/** @brief Set `/name`; NULL writes null. @return #PCREF_OK, #PCREF_EINVALID, #PCREF_ENOMEM. @since 0.1 */
PCREF_API int pcref_referral_set_name(pcref_referral *referral, const char *value);
/** @brief Set `/externalReferenceId` (the CRM record's id); NULL writes null. @return as pcref_referral_set_name(). @since 0.1 */
PCREF_API int pcref_referral_set_external_reference_id(pcref_referral *referral, const char *value);
/** @brief Set `/engagementId` (to tie a new referral to an engagement, §2.4). @return as pcref_referral_set_name(). @since 0.1 */
PCREF_API int pcref_referral_set_engagement_id(pcref_referral *referral, const char *value);
/**
 * @brief Set `/status` and `/substatus` together.
 *
 * The pair must be one the service allows (see pcref_status_check());
 * whether the change is an allowed *transition* is checked by
 * pcref_status_transition_check().
 * @return #PCREF_OK, #PCREF_EINVALID naming the bad pair, #PCREF_ENOMEM.
 * @since 0.1
 */
PCREF_API int pcref_referral_set_status(pcref_referral *referral, const char *status, const char *substatus);
/** @brief Set `/statusReason`; NULL writes null. @return as pcref_referral_set_name(). @since 0.1 */
PCREF_API int pcref_referral_set_status_reason(pcref_referral *referral, const char *value);
/** @brief Set `/type` (`Independent` or `Shared`). @return #PCREF_OK, #PCREF_EINVALID for other values, #PCREF_ENOMEM. @since 0.1 */
PCREF_API int pcref_referral_set_type(pcref_referral *referral, const char *value);
/** @brief Set `/qualification` (`None`, `Direct`, `MarketingQualified`, `SalesQualified`). @return as pcref_referral_set_type(). @since 0.1 */
PCREF_API int pcref_referral_set_qualification(pcref_referral *referral, const char *value);

/** @} */

/** @name Customer profile (`/customerProfile`)
 * @{ */

/** @brief `/customerProfile/name`, the customer company. @since 0.1 */
PCREF_API const char *pcref_referral_customer_name(const pcref_referral *referral);
/** @brief `/customerProfile/address/addressLine1`. @since 0.1 */
PCREF_API const char *pcref_referral_address_line1(const pcref_referral *referral);
/** @brief `/customerProfile/address/addressLine2`. @since 0.1 */
PCREF_API const char *pcref_referral_address_line2(const pcref_referral *referral);
/** @brief `/customerProfile/address/city`. @since 0.1 */
PCREF_API const char *pcref_referral_address_city(const pcref_referral *referral);
/** @brief `/customerProfile/address/state`. @since 0.1 */
PCREF_API const char *pcref_referral_address_state(const pcref_referral *referral);
/** @brief `/customerProfile/address/postalCode`. @since 0.1 */
PCREF_API const char *pcref_referral_address_postal_code(const pcref_referral *referral);
/** @brief `/customerProfile/address/country`, ISO 3166-1 alpha-2. @since 0.1 */
PCREF_API const char *pcref_referral_address_country(const pcref_referral *referral);
/** @brief `/customerProfile/address/region`. @since 0.1 */
PCREF_API const char *pcref_referral_address_region(const pcref_referral *referral);
/** @brief `/customerProfile/size`, e.g. `10to50employees`. @since 0.1 */
PCREF_API const char *pcref_referral_customer_size(const pcref_referral *referral);

/** @brief Set `/customerProfile/name`. @return as pcref_referral_set_name(). @since 0.1 */
PCREF_API int pcref_referral_set_customer_name(pcref_referral *referral, const char *value);
/** @brief Set `/customerProfile/address/addressLine1`. @return as pcref_referral_set_name(). @since 0.1 */
PCREF_API int pcref_referral_set_address_line1(pcref_referral *referral, const char *value);
/** @brief Set `/customerProfile/address/addressLine2`. @return as pcref_referral_set_name(). @since 0.1 */
PCREF_API int pcref_referral_set_address_line2(pcref_referral *referral, const char *value);
/** @brief Set `/customerProfile/address/city`. @return as pcref_referral_set_name(). @since 0.1 */
PCREF_API int pcref_referral_set_address_city(pcref_referral *referral, const char *value);
/** @brief Set `/customerProfile/address/state`. @return as pcref_referral_set_name(). @since 0.1 */
PCREF_API int pcref_referral_set_address_state(pcref_referral *referral, const char *value);
/** @brief Set `/customerProfile/address/postalCode`. @return as pcref_referral_set_name(). @since 0.1 */
PCREF_API int pcref_referral_set_address_postal_code(pcref_referral *referral, const char *value);
/**
 * @brief Set `/customerProfile/address/country`.
 * @return #PCREF_OK; #PCREF_EINVALID unless an ISO 3166-1 alpha-2 code
 *         (upper case, e.g. `US`); #PCREF_ENOMEM.
 * @since 0.1
 */
PCREF_API int pcref_referral_set_address_country(pcref_referral *referral, const char *value);
/** @brief Set `/customerProfile/address/region`. @return as pcref_referral_set_name(). @since 0.1 */
PCREF_API int pcref_referral_set_address_region(pcref_referral *referral, const char *value);
/** @brief Set `/customerProfile/size`. @return as pcref_referral_set_name(). @since 0.1 */
PCREF_API int pcref_referral_set_customer_size(pcref_referral *referral, const char *value);

/** @} */

/** @name Consent (`/consent`)
 * @{ */

/** @brief `consentToToShareInfoWithOthers` (sic, as the service spells it). @since 0.1 */
#define PCREF_CONSENT_SHARE_INFO_WITH_OTHERS 0
/** @brief `consentToContact`. @since 0.1 */
#define PCREF_CONSENT_CONTACT 1
/** @brief `consentToShareReferralWithMicrosoftSellers` (false: a private deal; R-05). @since 0.1 */
#define PCREF_CONSENT_SHARE_WITH_MICROSOFT_SELLERS 2
/** @brief `consentToMicrosoftToContactSpecificPartners`. @since 0.1 */
#define PCREF_CONSENT_MICROSOFT_TO_CONTACT_PARTNERS 3

/**
 * @brief Read a consent flag. Member names match case-insensitively (the
 *        service's own samples mix `ConsentToContact` and `consentToContact`).
 * @param referral the referral.
 * @param which one of the `PCREF_CONSENT_*` constants.
 * @return 1 (true), 0 (false), or -1 when absent, null or `which` is unknown.
 * @since 0.1
 */
PCREF_API int pcref_referral_consent(const pcref_referral *referral, int which);

/**
 * @brief Set a consent flag (the existing member's spelling is kept).
 * @param referral the referral.
 * @param which one of the `PCREF_CONSENT_*` constants.
 * @param value 0 or 1; -1 writes null.
 * @return #PCREF_OK, #PCREF_EINVALID for an unknown `which`, #PCREF_ENOMEM.
 * @since 0.1
 */
PCREF_API int pcref_referral_set_consent(pcref_referral *referral, int which, int value);

/** @} */

/** @name Deal details (`/details`)
 * @{ */

/**
 * @brief `/details/dealValue` (a number, or a string holding one as in the
 *        service's PATCH samples).
 * @return the value, or NaN when absent, null or not numeric.
 * @since 0.1
 */
PCREF_API double pcref_referral_deal_value(const pcref_referral *referral);
/** @brief `/details/currency`, ISO 4217. @since 0.1 */
PCREF_API const char *pcref_referral_currency(const pcref_referral *referral);
/** @brief `/details/closingDateTime`. @since 0.1 */
PCREF_API int64_t pcref_referral_closing_time(const pcref_referral *referral);
/** @brief `/details/notes`. @since 0.1 */
PCREF_API const char *pcref_referral_notes(const pcref_referral *referral);

/**
 * @brief Set `/details/dealValue`.
 * @param referral the referral.
 * @param value a finite number >= 0; NaN writes null.
 * @return #PCREF_OK, #PCREF_EINVALID for negative or infinite values, #PCREF_ENOMEM.
 * @since 0.1
 */
PCREF_API int pcref_referral_set_deal_value(pcref_referral *referral, double value);
/**
 * @brief Set `/details/currency`.
 * @return #PCREF_OK; #PCREF_EINVALID unless an ISO 4217 code (e.g. `USD`); #PCREF_ENOMEM.
 * @since 0.1
 */
PCREF_API int pcref_referral_set_currency(pcref_referral *referral, const char *value);
/** @brief Set `/details/closingDateTime`; #PCREF_TIME_NONE writes null. @return #PCREF_OK, #PCREF_EINVALID, #PCREF_ENOMEM. @since 0.1 */
PCREF_API int pcref_referral_set_closing_time(pcref_referral *referral, int64_t ms);
/** @brief Set `/details/notes`. @return as pcref_referral_set_name(). @since 0.1 */
PCREF_API int pcref_referral_set_notes(pcref_referral *referral, const char *value);

/** @} */

/** @name Solutions (`/details/requirements/solutions`, R-07)
 * @{ */

/** @brief Number of solutions. @since 0.1 */
PCREF_API size_t pcref_referral_solution_count(const pcref_referral *referral);
/** @brief The `id` of solution `index` (e.g. `SOL-34104-EBB`), NULL when out of range. @since 0.1 */
PCREF_API const char *pcref_referral_solution_id(const pcref_referral *referral, size_t index);
/** @brief The `name` of solution `index`. @since 0.1 */
PCREF_API const char *pcref_referral_solution_name(const pcref_referral *referral, size_t index);
/** @brief The `type` of solution `index` (`None`, `Category`, `Name`). @since 0.1 */
PCREF_API const char *pcref_referral_solution_type(const pcref_referral *referral, size_t index);
/**
 * @brief Append a solution `{id, name, type}`.
 * @param referral the referral.
 * @param id the solution id (required).
 * @param name its display name, or NULL.
 * @param type `None`, `Category` or `Name`, or NULL for `Name`.
 * @return #PCREF_OK, #PCREF_EINVALID, #PCREF_ENOMEM.
 * @since 0.1
 */
PCREF_API int pcref_referral_solution_add(pcref_referral *referral, const char *id, const char *name, const char *type);
/** @brief Remove solution `index`. @return #PCREF_OK or #PCREF_ENOTFOUND. @since 0.1 */
PCREF_API int pcref_referral_solution_remove(pcref_referral *referral, size_t index);

/** @} */

/** @name People: customer contacts and partner team
 * @{ */

/** @brief The customer's contacts, `/customerProfile/team`. @since 0.1 */
#define PCREF_MEMBERS_CUSTOMER 0
/** @brief The partner's own team, `/team`. @since 0.1 */
#define PCREF_MEMBERS_PARTNER 1

/** @brief Number of members in a list (`PCREF_MEMBERS_*`); 0 for an unknown list. @since 0.1 */
PCREF_API size_t pcref_referral_member_count(const pcref_referral *referral, int list);
/** @brief `firstName` of member `index` of `list`. @since 0.1 */
PCREF_API const char *pcref_referral_member_first_name(const pcref_referral *referral, int list, size_t index);
/** @brief `lastName` of member `index` of `list`. @since 0.1 */
PCREF_API const char *pcref_referral_member_last_name(const pcref_referral *referral, int list, size_t index);
/** @brief `email` of member `index` of `list` (R-26: may be absent on lost seller-inbound deals). @since 0.1 */
PCREF_API const char *pcref_referral_member_email(const pcref_referral *referral, int list, size_t index);
/** @brief `phoneNumber` of member `index` of `list`. @since 0.1 */
PCREF_API const char *pcref_referral_member_phone(const pcref_referral *referral, int list, size_t index);
/**
 * @brief Append a member to `list`; any of the strings may be NULL (omitted).
 * @return #PCREF_OK, #PCREF_EINVALID for an unknown list, #PCREF_ENOMEM.
 * @since 0.1
 */
PCREF_API int pcref_referral_member_add(pcref_referral *referral, int list, const char *first_name,
                                        const char *last_name, const char *email, const char *phone);
/** @brief Remove member `index` of `list`. @return #PCREF_OK or #PCREF_ENOTFOUND. @since 0.1 */
PCREF_API int pcref_referral_member_remove(pcref_referral *referral, int list, size_t index);

/** @} */

/** @name Invitation (`/inviteContext`) and targets (`/target`)
 * @{ */

/** @brief `/inviteContext/invitedBy/organizationId` (`msft` when Microsoft shared it). @since 0.1 */
PCREF_API const char *pcref_referral_invited_by_organization_id(const pcref_referral *referral);
/** @brief `/inviteContext/invitedBy/organizationName`. @since 0.1 */
PCREF_API const char *pcref_referral_invited_by_organization_name(const pcref_referral *referral);
/** @brief `/inviteContext/assistanceRequestCode` ("How can Microsoft help?", R-04). @since 0.1 */
PCREF_API const char *pcref_referral_assistance_request_code(const pcref_referral *referral);
/** @brief `/inviteContext/notes`. @since 0.1 */
PCREF_API const char *pcref_referral_invite_notes(const pcref_referral *referral);
/** @brief Set `/inviteContext/invitedBy/organizationId`. @return as pcref_referral_set_name(). @since 0.1 */
PCREF_API int pcref_referral_set_invited_by_organization_id(pcref_referral *referral, const char *value);
/** @brief Set `/inviteContext/assistanceRequestCode`. @return as pcref_referral_set_name(). @since 0.1 */
PCREF_API int pcref_referral_set_assistance_request_code(pcref_referral *referral, const char *value);
/** @brief Set `/inviteContext/notes`. @return as pcref_referral_set_name(). @since 0.1 */
PCREF_API int pcref_referral_set_invite_notes(pcref_referral *referral, const char *value);

/** @brief Number of entries in `/target`. @since 0.1 */
PCREF_API size_t pcref_referral_target_count(const pcref_referral *referral);
/** @brief `type` of target `index` (`BusinessProfileLocation`, `SolutionProfile`, `None`). @since 0.1 */
PCREF_API const char *pcref_referral_target_type(const pcref_referral *referral, size_t index);
/** @brief `id` of target `index` (`msft` for Microsoft, §2.4). @since 0.1 */
PCREF_API const char *pcref_referral_target_id(const pcref_referral *referral, size_t index);
/** @brief Append a target `{type, id}`. @return #PCREF_OK, #PCREF_EINVALID, #PCREF_ENOMEM. @since 0.1 */
PCREF_API int pcref_referral_target_add(pcref_referral *referral, const char *type, const char *id);

/** @} */

/** @name Any field by JSON Pointer (for custom field mappings)
 * @{ */

/**
 * @brief The string at a JSON Pointer (RFC 6901), e.g. `/customerProfile/ids/0/id`.
 * @return borrowed (see the file's introduction), NULL when absent or not a string.
 * @since 0.1
 */
PCREF_API const char *pcref_referral_get_string(const pcref_referral *referral, const char *pointer);

/**
 * @brief The JSON value at a JSON Pointer, serialised.
 * @param referral the referral.
 * @param pointer an RFC 6901 pointer; "" is the whole referral.
 * @param[out] out NUL-terminated JSON; free with pcref_free().
 * @return #PCREF_OK, #PCREF_ENOTFOUND, #PCREF_EINVALID, #PCREF_ENOMEM.
 * @since 0.1
 */
PCREF_API int pcref_referral_get_json(const pcref_referral *referral, const char *pointer, char **out);

/**
 * @brief Set the value at a JSON Pointer from JSON text, creating missing
 *        parent objects; `/-` appends to an array.
 * @param referral the referral.
 * @param pointer an RFC 6901 pointer (not "").
 * @param json the value as JSON text.
 * @param len its length in bytes.
 * @return #PCREF_OK; #PCREF_EPROTOCOL for malformed JSON; #PCREF_EINVALID for
 *         a bad pointer or a path through a non-object; #PCREF_ENOMEM.
 * @since 0.1
 */
PCREF_API int pcref_referral_set_json(pcref_referral *referral, const char *pointer, const char *json, size_t len);

/** @} */

/** @name Changes and validation
 * @{ */

/**
 * @brief The JSON Patch (RFC 6902) that turns `from` into `to`, in the subset
 *        the Referrals API accepts (`replace` and `add` only, §2.6).
 *
 * Objects are compared member by member: a member only in `to` becomes `add`,
 * a changed member `replace` (nested objects are descended into, so a changed
 * deal value is exactly `[{"op":"replace","path":"/details/dealValue",...}]`).
 * Arrays that differ are replaced whole. A member only in `from` cannot be
 * removed with these operations and becomes `replace` with `null`.
 * Read-only members are never patched: `eTag`, `links`, `@odata.*`, `id`,
 * `createdDateTime` and `updatedDateTime`.
 * @param[out] out the patch as JSON text (`[]` when nothing differs); free with pcref_free().
 * @param[out] len its length (may be NULL).
 * @param from the referral as last read from the service.
 * @param to the referral as it should be.
 * @return #PCREF_OK, #PCREF_EINVALID, #PCREF_ENOMEM.
 * @since 0.1
 */
PCREF_API int pcref_referral_diff(char **out, size_t *len, const pcref_referral *from, const pcref_referral *to);

/**
 * @brief Check a referral before sending it to Partner Center: required
 *        members for a create (`type`, `customerProfile`, `consent`,
 *        `details`), a valid status/substatus pair, an ISO 3166-1 alpha-2
 *        country, an ISO 4217 currency and a non-negative deal value.
 * @param referral the referral.
 * @param flags must be 0.
 * @return #PCREF_OK or #PCREF_EINVALID with a message naming the first problem.
 * @since 0.1
 */
PCREF_API int pcref_referral_validate(const pcref_referral *referral, uint32_t flags);

/**
 * @brief Whether status/substatus form a pair Partner Center allows (§4.2):
 *        New with Pending or Received, Active with Accepted, Closed with Won,
 *        Lost, Declined or Expired.
 * @return #PCREF_OK or #PCREF_EINVALID with a message listing the allowed substatuses.
 * @since 0.1
 */
PCREF_API int pcref_status_check(const char *status, const char *substatus);

/**
 * @brief Whether a referral may move from `from_status`/`from_substatus` to
 *        `to_status`/`to_substatus` (§4.2): New → New, Active or Closed;
 *        Active → Active or Closed; a Closed referral is terminal and may not
 *        change at all. Staying on the same pair is always allowed.
 * @return #PCREF_OK or #PCREF_EINVALID explaining why not.
 * @since 0.1
 */
PCREF_API int pcref_status_transition_check(const char *from_status, const char *from_substatus,
                                            const char *to_status, const char *to_substatus);

/**
 * @brief Whether a status is terminal (Closed: Won, Lost, Declined or
 *        Expired): no further updates are possible.
 * @return 1 when terminal, 0 otherwise.
 * @since 0.1
 */
PCREF_API int pcref_status_is_terminal(const char *status);

/**
 * @brief Check an ISO 3166-1 alpha-2 country code (`US`, `SE`), as Partner
 *        Center requires for the customer's address.
 * @return #PCREF_OK or #PCREF_EINVALID (suggesting the upper-case form when
 *         only the case is wrong).
 * @since 0.1
 */
PCREF_API int pcref_country_check(const char *code);

/**
 * @brief Check an ISO 4217 currency code (`USD`, `SEK`).
 * @return #PCREF_OK or #PCREF_EINVALID.
 * @since 0.1
 */
PCREF_API int pcref_currency_check(const char *code);

/** @} */

/** @name Lists of referrals (Referrals API pages)
 * @{ */

/**
 * @brief Called with each referral of a list page.
 * @param referral borrowed: valid during the call only (pcref_referral_dup()
 *        to keep it).
 * @param payload the caller's pointer.
 * @return 0 to go on; any other value stops the parse, which then returns it.
 * @since 0.1
 */
typedef int (*pcref_referral_cb)(const pcref_referral *referral, void *payload);

/** @brief An incremental parser of a Referrals API list page (opaque). @since 0.1 */
typedef struct pcref_referral_stream pcref_referral_stream;

/**
 * @brief Start parsing a list page (`{"value":[...], "@odata.nextLink": ...}`)
 *        fed in chunks, delivering each referral as soon as it is complete.
 *
 * Memory stays bounded by one referral, whatever the page size.
 * @param[out] out the stream; free with pcref_referral_stream_free().
 * @param cb called with each referral.
 * @param payload passed to `cb`.
 * @return #PCREF_OK, #PCREF_EINVALID, #PCREF_ENOMEM.
 * @since 0.1
 */
PCREF_API int pcref_referral_stream_new(pcref_referral_stream **out, pcref_referral_cb cb, void *payload);

/**
 * @brief Feed the next chunk of the page.
 * @return #PCREF_OK; #PCREF_EPROTOCOL for malformed JSON or a malformed
 *         referral (the message gives its position in the list); or what
 *         the callback returned to stop.
 * @since 0.1
 */
PCREF_API int pcref_referral_stream_feed(pcref_referral_stream *stream, const char *data, size_t len);

/**
 * @brief Declare the page complete.
 * @return #PCREF_OK; #PCREF_EPROTOCOL when the JSON is truncated or not a list page.
 * @since 0.1
 */
PCREF_API int pcref_referral_stream_finish(pcref_referral_stream *stream);

/**
 * @brief The page's `@odata.nextLink` (follow it verbatim), after a
 *        successful pcref_referral_stream_finish().
 * @return borrowed from the stream; NULL on the last page.
 * @since 0.1
 */
PCREF_API const char *pcref_referral_stream_next_link(const pcref_referral_stream *stream);

/** @brief Number of referrals delivered so far. @since 0.1 */
PCREF_API size_t pcref_referral_stream_count(const pcref_referral_stream *stream);

/** @brief Free a stream. NULL is ignored. @since 0.1 */
PCREF_API void pcref_referral_stream_free(pcref_referral_stream *stream);

/**
 * @brief Parse a whole list page held in memory (a convenience over the stream).
 * @param json the page.
 * @param len its length.
 * @param cb called with each referral.
 * @param payload passed to `cb`.
 * @param[out] next_link if not NULL: the page's `@odata.nextLink` (free with
 *        pcref_free()), or NULL on the last page.
 * @return as pcref_referral_stream_feed() and pcref_referral_stream_finish().
 * @since 0.1
 */
PCREF_API int pcref_referral_list_parse(const char *json, size_t len, pcref_referral_cb cb,
                                        void *payload, char **next_link);

/** @} */

PCREF_END_DECLS

/** @} */
#endif /* PCREF_REFERRAL_H */
