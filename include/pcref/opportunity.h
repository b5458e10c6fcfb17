/**
 * @file pcref/opportunity.h
 * @brief The Opportunity handle: a CRM-neutral opportunity (or lead), the
 *        canonical record the sync engine compares and maps.
 * @defgroup pcref_opportunity Opportunity
 * @{
 *
 * A #pcref_opportunity is a set of named **fields** (the `PCREF_FIELD_*`
 * ids), each unset or holding a value of the field's kind — text, number,
 * date-time or flag — plus a list of Microsoft solutions and a bag of
 * **extra fields** (any JSON value, by name) for custom mappings. Every CRM
 * backend converts its own records to and from this form; the sync engine
 * merges it field by field.
 *
 * Field ids are stable ABI values (append-only). Names and kinds can be
 * looked up at run time (pcref_opportunity_field_name(),
 * pcref_opportunity_field_kind(), pcref_opportunity_field_lookup()), which is
 * how bindings and the JSON form address them.
 *
 * Strings returned by getters are borrowed: valid until that field is set
 * again or the opportunity is freed.
 */
#ifndef PCREF_OPPORTUNITY_H
#define PCREF_OPPORTUNITY_H

#include "common.h"
#include "referral.h"

PCREF_BEGIN_DECLS

/** @brief A CRM-neutral opportunity or lead (opaque). @since 0.1 */
typedef struct pcref_opportunity pcref_opportunity;

/** @name Field kinds
 * @{ */
/** @brief UTF-8 text. @since 0.1 */
#define PCREF_KIND_TEXT 1
/** @brief A `double` (money: the amount in the record's currency). @since 0.1 */
#define PCREF_KIND_NUMBER 2
/** @brief An `int64_t` date-time in epoch milliseconds. @since 0.1 */
#define PCREF_KIND_TIME 3
/** @brief A flag: 0 or 1. @since 0.1 */
#define PCREF_KIND_FLAG 4
/** @} */

/** @name Fields (stable ids; kind in brackets)
 * @{ */
#define PCREF_FIELD_ID 0                   /**< [text] The CRM record id. @since 0.1 */
#define PCREF_FIELD_NAME 1                 /**< [text] Opportunity name / lead topic (R-30 marks are appended here). @since 0.1 */
#define PCREF_FIELD_DEAL_VALUE 2           /**< [number] Deal value (R-14). @since 0.1 */
#define PCREF_FIELD_CURRENCY 3             /**< [text] ISO 4217 currency code (R-14). @since 0.1 */
#define PCREF_FIELD_CLOSE_DATE 4           /**< [time] Estimated closing date. @since 0.1 */
#define PCREF_FIELD_STAGE 5                /**< [text] The CRM's sales stage name (R-21, R-31). @since 0.1 */
#define PCREF_FIELD_STATE 6                /**< [text] `open`, `won` or `lost`. @since 0.1 */
#define PCREF_FIELD_ACCOUNT_ID 7           /**< [text] The CRM account's id. @since 0.1 */
#define PCREF_FIELD_ACCOUNT_NAME 8         /**< [text] Customer company name (R-27). @since 0.1 */
#define PCREF_FIELD_ACCOUNT_COUNTRY 9      /**< [text] ISO 3166-1 alpha-2 (R-12). @since 0.1 */
#define PCREF_FIELD_ACCOUNT_POSTAL_CODE 10 /**< [text] Postal code (R-27). @since 0.1 */
#define PCREF_FIELD_ACCOUNT_CITY 11        /**< [text] City. @since 0.1 */
#define PCREF_FIELD_ACCOUNT_STATE 12       /**< [text] State or province. @since 0.1 */
#define PCREF_FIELD_ACCOUNT_ADDRESS1 13    /**< [text] Address line 1. @since 0.1 */
#define PCREF_FIELD_ACCOUNT_ADDRESS2 14    /**< [text] Address line 2. @since 0.1 */
#define PCREF_FIELD_CONTACT_ID 15          /**< [text] The CRM id of the primary customer contact. @since 0.1 */
#define PCREF_FIELD_CONTACT_FIRST_NAME 16  /**< [text] Customer contact's first name. @since 0.1 */
#define PCREF_FIELD_CONTACT_LAST_NAME 17   /**< [text] Customer contact's last name. @since 0.1 */
#define PCREF_FIELD_CONTACT_EMAIL 18       /**< [text] Customer contact's email (R-26: may be absent). @since 0.1 */
#define PCREF_FIELD_CONTACT_PHONE 19       /**< [text] Customer contact's phone. @since 0.1 */
#define PCREF_FIELD_NOTES 20               /**< [text] Notes / description. @since 0.1 */
#define PCREF_FIELD_SYNC 21                /**< [flag] "Sync with Partner Center" (R-01). @since 0.1 */
#define PCREF_FIELD_REFERRAL_ID 22         /**< [text] "Referral Identifier" (R-02). @since 0.1 */
#define PCREF_FIELD_REFERRAL_LINK 23       /**< [text] "Referral Link" (R-03). @since 0.1 */
#define PCREF_FIELD_HELP 24                /**< [text] "How can Microsoft help?" (R-04): an assistanceRequestCode, unset for none. @since 0.1 */
#define PCREF_FIELD_VISIBILITY 25          /**< [flag] Visible to Microsoft sellers (R-05; never reverts to 0). @since 0.1 */
#define PCREF_FIELD_MICROSOFT_CRM_ID 26    /**< [text] "Microsoft CRM Identifier" (R-06). @since 0.1 */
#define PCREF_FIELD_AUDIT 27               /**< [text] The sync audit trail (R-08). @since 0.1 */
#define PCREF_FIELD_OWNER_EMAIL 28         /**< [text] Owner / sales team member's email (R-29). @since 0.1 */
#define PCREF_FIELD_CLOSE_REASON 29        /**< [text] Why it was lost or declined. @since 0.1 */
#define PCREF_FIELD_MODIFIED_TIME 30       /**< [time] Last modified in the CRM (the polling watermark). @since 0.1 */
#define PCREF_FIELD_VERSION 31             /**< [text] The CRM's version / ETag for optimistic concurrency. @since 0.1 */
#define PCREF_FIELD_IS_LEAD 32             /**< [flag] The record is a CRM lead, not an opportunity (R-22). @since 0.1 */
/** @} */

/**
 * @brief Number of field ids this library knows (ids are 0 to count-1).
 *        A run-time value, so it can grow without an ABI break.
 * @since 0.1
 */
PCREF_API int pcref_opportunity_field_count(void);
/** @brief A field's name (`"deal_value"`), or NULL for an unknown id. @since 0.1 */
PCREF_API const char *pcref_opportunity_field_name(int field);
/** @brief A field's `PCREF_KIND_*`, or 0 for an unknown id. @since 0.1 */
PCREF_API int pcref_opportunity_field_kind(int field);
/** @brief The id of a field name, or -1. @since 0.1 */
PCREF_API int pcref_opportunity_field_lookup(const char *name);

/** @name Life cycle
 * @{ */
/** @brief Create an empty opportunity (every field unset). @return #PCREF_OK, #PCREF_EINVALID, #PCREF_ENOMEM. @since 0.1 */
PCREF_API int pcref_opportunity_new(pcref_opportunity **out);
/** @brief Copy an opportunity. @return #PCREF_OK, #PCREF_EINVALID, #PCREF_ENOMEM. @since 0.1 */
PCREF_API int pcref_opportunity_dup(pcref_opportunity **out, const pcref_opportunity *opp);
/** @brief Free an opportunity. NULL is ignored. @since 0.1 */
PCREF_API void pcref_opportunity_free(pcref_opportunity *opp);

/**
 * @brief Write an opportunity as JSON: `{"fields":{name: value...},
 *        "solutions":[{"id","name"}...], "extra":{...}}`, date-times as ISO
 *        8601 text. For debugging, storage and the bindings.
 * @param opp the opportunity.
 * @param[out] out NUL-terminated JSON; free with pcref_free().
 * @param[out] len its length (may be NULL).
 * @return #PCREF_OK, #PCREF_EINVALID, #PCREF_ENOMEM.
 * @since 0.1
 */
PCREF_API int pcref_opportunity_to_json(const pcref_opportunity *opp, char **out, size_t *len);

/**
 * @brief Read the JSON form written by pcref_opportunity_to_json().
 * @return #PCREF_OK; #PCREF_EPROTOCOL for malformed JSON; #PCREF_EINVALID
 *         naming an unknown field or a value of the wrong kind.
 * @since 0.1
 */
PCREF_API int pcref_opportunity_from_json(pcref_opportunity **out, const char *json, size_t len);
/** @} */

/** @name Fields
 * @{ */
/** @brief Whether a field holds a value. @since 0.1 */
PCREF_API int pcref_opportunity_has(const pcref_opportunity *opp, int field);
/** @brief Unset a field. @return #PCREF_OK or #PCREF_EINVALID for an unknown id. @since 0.1 */
PCREF_API int pcref_opportunity_unset(pcref_opportunity *opp, int field);
/** @brief A text field's value; NULL when unset or not a text field. @since 0.1 */
PCREF_API const char *pcref_opportunity_text(const pcref_opportunity *opp, int field);
/** @brief A number field's value; NaN when unset or not a number field. @since 0.1 */
PCREF_API double pcref_opportunity_number(const pcref_opportunity *opp, int field);
/** @brief A date-time field's value; #PCREF_TIME_NONE when unset or not a date-time field. @since 0.1 */
PCREF_API int64_t pcref_opportunity_time(const pcref_opportunity *opp, int field);
/** @brief A flag field's value: 1, 0, or -1 when unset or not a flag field. @since 0.1 */
PCREF_API int pcref_opportunity_flag(const pcref_opportunity *opp, int field);
/**
 * @brief Set a text field; NULL unsets it.
 * @return #PCREF_OK; #PCREF_EINVALID for an unknown id, a field of another
 *         kind, or an invalid value (currency not ISO 4217, country not ISO
 *         3166-1 alpha-2, state not open/won/lost); #PCREF_ENOMEM.
 * @since 0.1
 */
PCREF_API int pcref_opportunity_set_text(pcref_opportunity *opp, int field, const char *value);
/** @brief Set a number field (finite; NaN unsets it). @return as pcref_opportunity_set_text(). @since 0.1 */
PCREF_API int pcref_opportunity_set_number(pcref_opportunity *opp, int field, double value);
/** @brief Set a date-time field (#PCREF_TIME_NONE unsets it). @return as pcref_opportunity_set_text(). @since 0.1 */
PCREF_API int pcref_opportunity_set_time(pcref_opportunity *opp, int field, int64_t ms);
/** @brief Set a flag field to 0 or 1 (-1 unsets it). @return as pcref_opportunity_set_text(). @since 0.1 */
PCREF_API int pcref_opportunity_set_flag(pcref_opportunity *opp, int field, int value);
/**
 * @brief Whether a field has the same value (or is unset) in both.
 *        Numbers compare exactly, text byte for byte.
 * @since 0.1
 */
PCREF_API int pcref_opportunity_field_equal(const pcref_opportunity *a, const pcref_opportunity *b, int field);
/** @} */

/** @name Microsoft solutions
 * @{ */
/** @brief Number of solutions. @since 0.1 */
PCREF_API size_t pcref_opportunity_solution_count(const pcref_opportunity *opp);
/** @brief Solution `index`'s id, NULL when out of range. @since 0.1 */
PCREF_API const char *pcref_opportunity_solution_id(const pcref_opportunity *opp, size_t index);
/** @brief Solution `index`'s display name (may be NULL). @since 0.1 */
PCREF_API const char *pcref_opportunity_solution_name(const pcref_opportunity *opp, size_t index);
/**
 * @brief Add a solution; adding an id already present updates its name.
 * @return #PCREF_OK, #PCREF_EINVALID for an empty id, #PCREF_ENOMEM.
 * @since 0.1
 */
PCREF_API int pcref_opportunity_solution_add(pcref_opportunity *opp, const char *id, const char *name);
/** @brief Remove the solution with this id. @return #PCREF_OK or #PCREF_ENOTFOUND. @since 0.1 */
PCREF_API int pcref_opportunity_solution_remove(pcref_opportunity *opp, const char *id);
/** @brief Whether both have the same set of solution ids (order and names ignored). @since 0.1 */
PCREF_API int pcref_opportunity_solutions_equal(const pcref_opportunity *a, const pcref_opportunity *b);
/** @} */

/** @name Extra fields (custom mappings)
 * @{ */
/** @brief Number of extra fields. @since 0.1 */
PCREF_API size_t pcref_opportunity_extra_count(const pcref_opportunity *opp);
/** @brief Name of extra field `index`, NULL when out of range. @since 0.1 */
PCREF_API const char *pcref_opportunity_extra_name(const pcref_opportunity *opp, size_t index);
/**
 * @brief An extra field's value as JSON text.
 * @param opp the opportunity.
 * @param name the field's name.
 * @param[out] out NUL-terminated JSON; free with pcref_free().
 * @return #PCREF_OK, #PCREF_ENOTFOUND, #PCREF_EINVALID, #PCREF_ENOMEM.
 * @since 0.1
 */
PCREF_API int pcref_opportunity_extra_get(const pcref_opportunity *opp, const char *name, char **out);
/** @brief An extra field's value when it is a JSON string (borrowed), else NULL. @since 0.1 */
PCREF_API const char *pcref_opportunity_extra_text(const pcref_opportunity *opp, const char *name);
/**
 * @brief Set an extra field from JSON text (any JSON value); NULL json removes it.
 * @return #PCREF_OK, #PCREF_EPROTOCOL for malformed JSON, #PCREF_EINVALID, #PCREF_ENOMEM.
 * @since 0.1
 */
PCREF_API int pcref_opportunity_extra_set(pcref_opportunity *opp, const char *name, const char *json, size_t len);
/** @} */

/**
 * @brief Called with each opportunity of a listing.
 * @param opp borrowed for the duration of the call (pcref_opportunity_dup() to keep it).
 * @param payload the caller's pointer.
 * @return 0 to go on; anything else stops the listing, which returns it.
 * @since 0.1
 */
typedef int (*pcref_opportunity_cb)(const pcref_opportunity *opp, void *payload);

PCREF_END_DECLS

/** @} */
#endif /* PCREF_OPPORTUNITY_H */
