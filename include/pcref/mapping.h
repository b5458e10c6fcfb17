/**
 * @file pcref/mapping.h
 * @brief The Mapping handle: one installation's configuration of the
 *        field-mapping guide — which CRM field holds what, stage names,
 *        the connector's settings, account matching, defaults, custom
 *        field mappings and the conflict policy.
 * @defgroup pcref_mapping Mapping
 * @{
 *
 * Built from per-backend defaults that reproduce the reference connector
 * (pcref_mapping_new()) or loaded from a JSON document that overrides them
 * (pcref_mapping_load(); the schema is in `doc/mapping.md`). Backends read
 * their CRM field names from it; the sync engine reads the rest.
 */
#ifndef PCREF_MAPPING_H
#define PCREF_MAPPING_H

#include "common.h"

PCREF_BEGIN_DECLS

/** @brief A mapping configuration (opaque). @since 0.1 */
typedef struct pcref_mapping pcref_mapping;

/** @name Stages
 * @{ */
#define PCREF_STAGE_ON_HOLD 0  /**< Where a Microsoft referral not yet accepted lands. @since 0.1 */
#define PCREF_STAGE_ACTIVE 1   /**< Moving here accepts the referral. @since 0.1 */
#define PCREF_STAGE_WON 2      /**< Closes the referral as Won. @since 0.1 */
#define PCREF_STAGE_LOST 3     /**< Closes the referral as Lost. @since 0.1 */
/** @} */

/** @name Options
 * @{ */
#define PCREF_OPTION_CHECK_MARK 0        /**< Append ✔/✖ to the opportunity name (R-30); default on. @since 0.1 */
#define PCREF_OPTION_SYNC_COSELL_ONLY 1  /**< Bring only co-sell referrals from Partner Center (R-22). @since 0.1 */
/** @} */

/** @name Conflict winners (pcref_mapping_conflict_winner())
 * @{ */
#define PCREF_WINNER_NEWEST 0          /**< The side changed most recently wins. @since 0.1 */
#define PCREF_WINNER_PARTNER_CENTER 1  /**< Partner Center's value wins. @since 0.1 */
#define PCREF_WINNER_CRM 2             /**< The CRM's value wins. @since 0.1 */
/** @} */

/** @name Directions of a custom field mapping
 * @{ */
#define PCREF_DIRECTION_BOTH 0   /**< Synced both ways. @since 0.1 */
#define PCREF_DIRECTION_TO_CRM 1 /**< Partner Center → CRM only. @since 0.1 */
#define PCREF_DIRECTION_TO_PC 2  /**< CRM → Partner Center only. @since 0.1 */
/** @} */

/**
 * @brief The defaults for a backend: `"dynamics"`, `"salesforce"`
 *        or `"memory"` (canonical names).
 * @return #PCREF_OK, #PCREF_EINVALID for an unknown backend, #PCREF_ENOMEM.
 * @since 0.1
 */
PCREF_API int pcref_mapping_new(pcref_mapping **out, const char *backend);

/**
 * @brief Load a mapping document: the defaults of its `"backend"`, overridden
 *        by what the document says (see `doc/mapping.md`).
 * @return #PCREF_OK; #PCREF_EPROTOCOL for malformed JSON; #PCREF_EINVALID
 *         naming the JSON Pointer of the offending value (e.g.
 *         `/columns/deal_valu: unknown field`).
 * @since 0.1
 */
PCREF_API int pcref_mapping_load(pcref_mapping **out, const char *json, size_t len);

/** @brief Write the complete mapping (defaults included) as a JSON document. @since 0.1 */
PCREF_API int pcref_mapping_to_json(const pcref_mapping *mapping, char **out, size_t *len);

/** @brief Free a mapping. NULL is ignored. @since 0.1 */
PCREF_API void pcref_mapping_free(pcref_mapping *mapping);

/** @brief The backend the mapping is for. @since 0.1 */
PCREF_API const char *pcref_mapping_backend(const pcref_mapping *mapping);

/**
 * @brief The CRM field that holds canonical field `field` (`PCREF_FIELD_*`),
 *        e.g. `estimatedvalue` for #PCREF_FIELD_DEAL_VALUE on Dynamics 365.
 * @return borrowed; NULL when the field is not mapped (not synced).
 * @since 0.1
 */
PCREF_API const char *pcref_mapping_column(const pcref_mapping *mapping, int field);

/**
 * @brief Point a canonical field at another CRM field (R-12, R-14: a
 *        calculated deal value field, a helper country field); NULL unmaps it.
 * @return #PCREF_OK, #PCREF_EINVALID, #PCREF_ENOMEM.
 * @since 0.1
 */
PCREF_API int pcref_mapping_set_column(pcref_mapping *mapping, int field, const char *column);

/**
 * @brief The CRM table / entity set / sObject for a role: `opportunity`,
 *        `account`, `contact`, `lead`, `currency`, `user`, `solution`,
 *        and on Salesforce `contact_role` and `team_member`.
 * @return borrowed; NULL for an unknown role.
 * @since 0.1
 */
PCREF_API const char *pcref_mapping_entity(const pcref_mapping *mapping, const char *role);

/** @brief A stage name (`PCREF_STAGE_*`), borrowed. @since 0.1 */
PCREF_API const char *pcref_mapping_stage(const pcref_mapping *mapping, int which);

/** @brief An option (`PCREF_OPTION_*`): 1 on, 0 off, -1 unknown option. @since 0.1 */
PCREF_API int pcref_mapping_option(const pcref_mapping *mapping, int which);

/** @brief Number of account match fields. @since 0.1 */
PCREF_API size_t pcref_mapping_account_match_count(const pcref_mapping *mapping);
/** @brief Account match field `index` (a `PCREF_FIELD_ACCOUNT_*` id), -1 when out of range. @since 0.1 */
PCREF_API int pcref_mapping_account_match(const pcref_mapping *mapping, size_t index);

/**
 * @brief Required-field defaults: the value to write into CRM field
 *        `column` of a new `record` (`opportunity` or `lead`).
 * @return borrowed text (a string's characters, a number as written,
 *         `true`, `false` or `null`), or NULL when there is no default.
 * @since 0.1
 */
PCREF_API const char *pcref_mapping_required_default(const pcref_mapping *mapping, const char *record,
                                                     const char *column);
/** @brief Number of required-field defaults for `record`. @since 0.1 */
PCREF_API size_t pcref_mapping_required_default_count(const pcref_mapping *mapping, const char *record);
/** @brief CRM field of required-field default `index` for `record`, NULL when out of range. @since 0.1 */
PCREF_API const char *pcref_mapping_required_default_column(const pcref_mapping *mapping, const char *record,
                                                            size_t index);

/** @brief Number of custom field mappings. @since 0.1 */
PCREF_API size_t pcref_mapping_extra_count(const pcref_mapping *mapping);
/** @brief JSON Pointer into the referral of custom mapping `index`. @since 0.1 */
PCREF_API const char *pcref_mapping_extra_referral(const pcref_mapping *mapping, size_t index);
/** @brief CRM field of custom mapping `index`. @since 0.1 */
PCREF_API const char *pcref_mapping_extra_crm(const pcref_mapping *mapping, size_t index);
/** @brief Direction (`PCREF_DIRECTION_*`) of custom mapping `index`, -1 when out of range. @since 0.1 */
PCREF_API int pcref_mapping_extra_direction(const pcref_mapping *mapping, size_t index);

/**
 * @brief Who wins when a field changed on both sides since the last sync:
 *        by default Partner Center for Microsoft-owned fields (referral id
 *        and link, Microsoft CRM id, visibility, help), the CRM for the
 *        partner's own (stage, owner, sync flag, audit), the newest change
 *        otherwise.
 * @return a `PCREF_WINNER_*` value.
 * @since 0.1
 */
PCREF_API int pcref_mapping_conflict_winner(const pcref_mapping *mapping, int field);

PCREF_END_DECLS

/** @} */
#endif /* PCREF_MAPPING_H */
