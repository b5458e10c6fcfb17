/**
 * @file pcref/crm.h
 * @brief The CRM handle: one CRM (a built-in backend or the host's own) that
 *        the sync engine reads and writes opportunities through.
 * @defgroup pcref_crm CRM
 * @{
 *
 * Built-in backends: `"memory"` (an in-process CRM for tests and sandboxes)
 * with pcref_crm_memory_new(), `"dynamics"` (Dynamics 365 Sales over the
 * Dataverse Web API) with pcref_crm_dynamics_new(), and `"salesforce"`
 * (the Salesforce REST API) with pcref_crm_salesforce_new(). A host plugs
 * in its own CRM with pcref_crm_new() and a #pcref_crm_backend
 * (pcref/sys/crm_backend.h).
 *
 * Each call below forwards to the backend member of the same name; see
 * #pcref_crm_backend for the contract. A member the backend does not provide
 * fails with #PCREF_ENOTSUPPORTED.
 */
#ifndef PCREF_CRM_H
#define PCREF_CRM_H

#include "common.h"
#include "connection.h"
#include "mapping.h"
#include "opportunity.h"

PCREF_BEGIN_DECLS

/** @brief A CRM (opaque). @since 0.1 */
typedef struct pcref_crm pcref_crm;
struct pcref_crm_backend;

/**
 * @brief Wrap a backend vtable.
 * @param[out] out the CRM; free with pcref_crm_free() (which calls `destroy`).
 * @param backend the vtable (copied).
 * @return #PCREF_OK; #PCREF_EVERSION for an unknown `version`;
 *         #PCREF_EINVALID when `destroy` is missing; #PCREF_ENOMEM.
 *         On failure `destroy` is not called: the payload stays the caller's.
 * @since 0.1
 */
PCREF_API int pcref_crm_new(pcref_crm **out, const struct pcref_crm_backend *backend);

/**
 * @brief Create the in-memory CRM.
 * @param[out] out the CRM.
 * @param config_json NULL for the defaults, or a JSON object:
 *        `{"currencies":["USD","EUR",...], "users":["seller@contoso.com",...]}`
 *        — the currencies and users the CRM has. By default it has
 *        USD, EUR, GBP, SEK, JPY, CAD, AUD and any user.
 * @return #PCREF_OK, #PCREF_EINVALID or #PCREF_EPROTOCOL for a bad config, #PCREF_ENOMEM.
 * @since 0.1
 */
PCREF_API int pcref_crm_memory_new(pcref_crm **out, const char *config_json);

/**
 * @brief Open Dynamics 365 Sales (Microsoft Dataverse Web API v9.2) as a CRM.
 *
 * Every call goes through `conn`, whose base URL is the environment's URL
 * (`https://contoso.crm.dynamics.com`; requests go to `/api/data/v9.2/...`)
 * and which authenticates as the environment's application user, usually
 * with #PCREF_AUTH_CLIENT_CREDENTIALS and the scope
 * `https://contoso.crm.dynamics.com/.default` (see @ref dynamics).
 *
 * The mapping says which column holds which field (pcref_mapping_column())
 * and which entity set plays each role (pcref_mapping_entity()); a field
 * mapped to NULL is neither read nor written; the CRM columns of the
 * mapping's custom field mappings are read into the record's extra fields
 * of the same names and written from them on create. Lookups (currency, account,
 * contact, owner) are written with `<column>@odata.bind` and read back from
 * `_<column>_value`; a currency is given and returned as its ISO code and
 * an owner as the user's `internalemailaddress`. #PCREF_FIELD_VERSION is the
 * row's `@odata.etag`. The account and contact detail fields of a record
 * are read from its account and contact (and written only by
 * pcref_crm_ensure_account() and pcref_crm_ensure_contact());
 * #PCREF_FIELD_CLOSE_REASON is not a column of the opportunity but goes to
 * the close activity (its mapped column, by default `description`, of the
 * `OpportunityClose` that pcref_crm_close_opportunity() sends).
 *
 * Batches (pcref_crm_batch_begin()): see #pcref_crm_backend::batch_begin.
 *
 * @param[out] out the CRM; free with pcref_crm_free().
 * @param conn the connection to the environment; the CRM keeps its own
 *        reference, so the caller may free it at once.
 * @param mapping the field mapping (copied), or NULL for the defaults of
 *        pcref_mapping_new(`"dynamics"`).
 * @return #PCREF_OK; #PCREF_EINVALID when `out` or `conn` is NULL or the
 *         mapping is for another backend; #PCREF_ENOMEM. No network traffic
 *         happens until the first call.
 * @since 0.1
 */
PCREF_API int pcref_crm_dynamics_new(pcref_crm **out, pcref_connection *conn, const pcref_mapping *mapping);

/**
 * @brief Open a Salesforce org (the REST API, by default version v60.0) as a CRM.
 *
 * Every call goes through `conn`, which authenticates with the org's token
 * endpoint (`https://MyDomain.my.salesforce.com/services/oauth2/token`),
 * usually with #PCREF_AUTH_CLIENT_CREDENTIALS (a connected app with the
 * client credentials flow) or #PCREF_AUTH_REFRESH_TOKEN; requests go to the
 * `instance_url` the token response names (the connection's base URL when
 * it names none), under `/services/data/<api_version>/` (see @ref salesforce).
 *
 * The mapping says which field holds which canonical field
 * (pcref_mapping_column()) and which object plays each role
 * (pcref_mapping_entity(): also `contact_role` and `team_member`); its
 * settings `api_version`, `external_id` (the External ID field creates
 * upsert on) and `solution_columns` (the solutions object's fields) are
 * described in `doc/mapping.md`. The Microsoft co-sell package's API names
 * are not published: the defaults are assumptions, overridable there.
 * #PCREF_FIELD_VERSION is the record's `LastModifiedDate` (Salesforce has
 * no ETags on opportunities): an update first compares it with the stored
 * one and then sends `If-Unmodified-Since`, so a lost update is
 * #PCREF_ECONFLICT. #PCREF_FIELD_MODIFIED_TIME is `SystemModstamp`, the
 * listing's watermark. #PCREF_FIELD_STATE is read from `IsClosed`/`IsWon`;
 * pcref_crm_close_opportunity() writes the mapping's won or lost stage. The
 * owner is given and read as the user's email and is also made an
 * opportunity team member; a contact given on update becomes the primary
 * `OpportunityContactRole`. An org that used up its API allocation
 * (`REQUEST_LIMIT_EXCEEDED`) gives #PCREF_ETHROTTLED, and calls are then
 * refused for a minute without being sent.
 *
 * Batches (pcref_crm_batch_begin()): creates and updates go out as sObject
 * Collections (200 records per request), updates with a version as
 * Composite requests (25 per request), each request all or nothing.
 *
 * @param[out] out the CRM; free with pcref_crm_free().
 * @param conn the connection to the org; the CRM keeps its own reference,
 *        so the caller may free it at once.
 * @param mapping the field mapping (copied), or NULL for the defaults of
 *        pcref_mapping_new(`"salesforce"`).
 * @return #PCREF_OK; #PCREF_EINVALID when `out` or `conn` is NULL or the
 *         mapping is for another backend or incomplete; #PCREF_ENOMEM. No
 *         network traffic happens until the first call.
 * @since 0.1
 */
PCREF_API int pcref_crm_salesforce_new(pcref_crm **out, pcref_connection *conn, const pcref_mapping *mapping);

/** @brief Free a CRM (the backend's `destroy` runs). NULL is ignored. @since 0.1 */
PCREF_API void pcref_crm_free(pcref_crm *crm);

/** @brief The backend's name ("memory", "dynamics", "salesforce", the host's). @since 0.1 */
PCREF_API const char *pcref_crm_name(const pcref_crm *crm);

/** @brief See #pcref_crm_backend::get_opportunity. @since 0.1 */
PCREF_API int pcref_crm_get_opportunity(pcref_opportunity **out, pcref_crm *crm, const char *id);
/** @brief See #pcref_crm_backend::find_opportunity. @since 0.1 */
PCREF_API int pcref_crm_find_opportunity(pcref_opportunity **out, pcref_crm *crm, const char *referral_id);
/** @brief See #pcref_crm_backend::create_opportunity. @since 0.1 */
PCREF_API int pcref_crm_create_opportunity(pcref_opportunity **out, pcref_crm *crm, const pcref_opportunity *opp);
/** @brief See #pcref_crm_backend::update_opportunity. @since 0.1 */
PCREF_API int pcref_crm_update_opportunity(pcref_opportunity **out, pcref_crm *crm, const pcref_opportunity *opp,
                                           const int *fields, size_t nfields);
/** @brief See #pcref_crm_backend::list_modified. @since 0.1 */
PCREF_API int pcref_crm_list_modified(pcref_crm *crm, int64_t since_ms, pcref_opportunity_cb cb, void *payload);
/** @brief See #pcref_crm_backend::ensure_account. @since 0.1 */
PCREF_API int pcref_crm_ensure_account(pcref_crm *crm, pcref_opportunity *opp, const int *match_fields, size_t nmatch);
/** @brief See #pcref_crm_backend::ensure_contact. @since 0.1 */
PCREF_API int pcref_crm_ensure_contact(pcref_crm *crm, pcref_opportunity *opp);
/** @brief See #pcref_crm_backend::add_solution. @since 0.1 */
PCREF_API int pcref_crm_add_solution(pcref_crm *crm, const char *id, const char *solution_id, const char *name);
/** @brief See #pcref_crm_backend::remove_solution. @since 0.1 */
PCREF_API int pcref_crm_remove_solution(pcref_crm *crm, const char *id, const char *solution_id);
/** @brief See #pcref_crm_backend::close_opportunity. @since 0.1 */
PCREF_API int pcref_crm_close_opportunity(pcref_crm *crm, const char *id, int won, const char *reason);
/** @brief See #pcref_crm_backend::find_lead. @since 0.1 */
PCREF_API int pcref_crm_find_lead(pcref_opportunity **out, pcref_crm *crm, const char *referral_id);
/** @brief See #pcref_crm_backend::create_lead. @since 0.1 */
PCREF_API int pcref_crm_create_lead(pcref_opportunity **out, pcref_crm *crm, const pcref_opportunity *lead);
/** @brief See #pcref_crm_backend::update_lead. @since 0.1 */
PCREF_API int pcref_crm_update_lead(pcref_opportunity **out, pcref_crm *crm, const pcref_opportunity *lead,
                                    const int *fields, size_t nfields);
/** @brief See #pcref_crm_backend::resolve_currency. @since 0.1 */
PCREF_API int pcref_crm_resolve_currency(pcref_crm *crm, const char *iso_code);
/** @brief See #pcref_crm_backend::resolve_user. @since 0.1 */
PCREF_API int pcref_crm_resolve_user(pcref_crm *crm, const char *email);
/** @brief Start a batch; a backend without batching accepts and writes at once. @since 0.1 */
PCREF_API int pcref_crm_batch_begin(pcref_crm *crm);
/** @brief Send a batch; a backend without batching has nothing to send. @since 0.1 */
PCREF_API int pcref_crm_batch_commit(pcref_crm *crm);

PCREF_END_DECLS

/** @} */
#endif /* PCREF_CRM_H */
