/**
 * @file pcref/sys/crm_backend.h
 * @brief The CRM backend vtable: what a CRM must provide for libpcref to sync
 *        with it. For people adding a CRM; users of the built-in backends
 *        need only pcref/crm.h.
 * @defgroup pcref_crm_backend CRM backend vtable
 * @{
 *
 * A backend is a #pcref_crm_backend filled with function pointers and a
 * `payload` passed back to each of them. pcref_crm_new() copies the struct,
 * so it may live on the stack. Only `destroy` is mandatory; a NULL member
 * makes the matching pcref_crm_*() call fail with #PCREF_ENOTSUPPORTED.
 * The struct is versioned and only ever appended to (see @ref abi).
 *
 * **Contract for every member** (see also `doc/backends.md`):
 * - Return #PCREF_OK or a negative `PCREF_E*` code; describe failures with
 *   pcref_error_set() (the message a partner reads: name the record and what
 *   to do). #PCREF_ENOTFOUND means "no such record", #PCREF_ECONFLICT "the
 *   version given is stale", #PCREF_EAUTH "credentials refused".
 * - Records are exchanged as #pcref_opportunity. What a member returns
 *   through `pcref_opportunity **out` is created with pcref_opportunity_new()
 *   and becomes the library's; what it receives is borrowed for the call.
 * - Every returned record carries #PCREF_FIELD_ID, #PCREF_FIELD_VERSION and
 *   #PCREF_FIELD_MODIFIED_TIME.
 * - Calls come from one thread at a time per #pcref_crm.
 */
#ifndef PCREF_SYS_CRM_BACKEND_H
#define PCREF_SYS_CRM_BACKEND_H

#include "../common.h"
#include "../opportunity.h"

PCREF_BEGIN_DECLS

/** @brief Version of #pcref_crm_backend this header describes. @since 0.1 */
#define PCREF_CRM_BACKEND_VERSION 1

/**
 * @brief The CRM backend vtable.
 * @since 0.1
 */
typedef struct pcref_crm_backend {
	unsigned int version;   /**< #PCREF_CRM_BACKEND_VERSION. */
	const char *name;       /**< Short name for messages ("dynamics"); copied. */
	void *payload;          /**< Passed as the last argument of every member. */

	/** Release the backend's state (mandatory; called once, by pcref_crm_free()). */
	void (*destroy)(void *payload);

	/** Read an opportunity (or lead) by CRM id, solutions included. */
	int (*get_opportunity)(pcref_opportunity **out, const char *id, void *payload);
	/** Find the opportunity whose #PCREF_FIELD_REFERRAL_ID is `referral_id`; #PCREF_ENOTFOUND if none. */
	int (*find_opportunity)(pcref_opportunity **out, const char *referral_id, void *payload);
	/**
	 * Create an opportunity from the fields set in `opp` (its account and
	 * contact ids already resolved); return it as stored.
	 */
	int (*create_opportunity)(pcref_opportunity **out, const pcref_opportunity *opp, void *payload);
	/**
	 * Write the listed fields of `opp` — and the extra (custom-mapped)
	 * fields set in `opp` — to the record `opp`'s #PCREF_FIELD_ID, only if
	 * its version is still #PCREF_FIELD_VERSION (else #PCREF_ECONFLICT);
	 * return the record as stored.
	 */
	int (*update_opportunity)(pcref_opportunity **out, const pcref_opportunity *opp,
	                          const int *fields, size_t nfields, void *payload);
	/**
	 * Call `cb` with every opportunity modified at or after `since_ms`
	 * (epoch ms; #PCREF_TIME_NONE: all), oldest first, reading page by page
	 * so memory stays bounded. Stop and return what `cb` returns if non-zero.
	 */
	int (*list_modified)(int64_t since_ms, pcref_opportunity_cb cb, void *cb_payload, void *payload);
	/**
	 * Find the account matching `opp` on the given fields (`PCREF_FIELD_ACCOUNT_*`
	 * ids, R-27: by default name and postal code), or create it from the
	 * account fields of `opp`; set #PCREF_FIELD_ACCOUNT_ID in `opp`.
	 */
	int (*ensure_account)(pcref_opportunity *opp, const int *match_fields, size_t nmatch, void *payload);
	/**
	 * Find (by email, else by first+last name within the account) or create
	 * the customer contact of `opp`; set #PCREF_FIELD_CONTACT_ID in `opp`.
	 */
	int (*ensure_contact)(pcref_opportunity *opp, void *payload);
	/** Link solution `solution_id` to opportunity `id`. */
	int (*add_solution)(const char *id, const char *solution_id, const char *name, void *payload);
	/** Unlink solution `solution_id` from opportunity `id`. */
	int (*remove_solution)(const char *id, const char *solution_id, void *payload);
	/**
	 * Close opportunity `id` as won (`won` = 1) or lost (0) through the CRM's
	 * own close operation, with an optional reason.
	 */
	int (*close_opportunity)(const char *id, int won, const char *reason, void *payload);
	/** Find the lead whose #PCREF_FIELD_REFERRAL_ID is `referral_id`. */
	int (*find_lead)(pcref_opportunity **out, const char *referral_id, void *payload);
	/** Create a lead from `lead`; return it as stored (with #PCREF_FIELD_IS_LEAD = 1). */
	int (*create_lead)(pcref_opportunity **out, const pcref_opportunity *lead, void *payload);
	/** Like update_opportunity, for a lead. */
	int (*update_lead)(pcref_opportunity **out, const pcref_opportunity *lead,
	                   const int *fields, size_t nfields, void *payload);
	/** Whether the CRM has currency `iso_code`; #PCREF_ENOTFOUND naming it if not. */
	int (*resolve_currency)(const char *iso_code, void *payload);
	/** Whether the CRM has a user with this email; #PCREF_ENOTFOUND naming it if not. */
	int (*resolve_user)(const char *email, void *payload);
	/**
	 * Start collecting writes to send together (optional).
	 *
	 * Until batch_commit, the backend may hold back the writes made with
	 * `out` NULL — create_opportunity, update_opportunity, create_lead,
	 * update_lead and add_solution — and send them together. Such a call
	 * returns #PCREF_OK once its write is held back (what can be checked
	 * without writing — a malformed record, a missing currency or user —
	 * still fails at once); the write's own failure is reported by
	 * batch_commit. A write with a non-NULL `out`, close_opportunity and
	 * remove_solution first send what is held back, then run on their own,
	 * so `out` is filled as usual and the order of writes is kept. Reads
	 * (and the account and contact look-ups) do not see held-back writes.
	 * Writes still held back when the CRM is freed are dropped. The
	 * Dynamics 365 backend sends them as one `$batch` request holding one
	 * change set (all or nothing), 1000 writes per request at most.
	 */
	int (*batch_begin)(void *payload);
	/**
	 * Send the writes held back since batch_begin (optional) and end the
	 * batch. On failure the code and message are those of the write that
	 * failed, and the held-back writes are dropped.
	 */
	int (*batch_commit)(void *payload);
} pcref_crm_backend;

/**
 * @brief Initialise a #pcref_crm_backend at run time (all members NULL).
 * @param backend the struct to zero and stamp.
 * @param version #PCREF_CRM_BACKEND_VERSION of the caller's headers.
 * @return #PCREF_OK, #PCREF_EINVALID, #PCREF_EVERSION.
 * @since 0.1
 */
PCREF_API int pcref_crm_backend_init(pcref_crm_backend *backend, unsigned int version);

PCREF_END_DECLS

/** @} */
#endif /* PCREF_SYS_CRM_BACKEND_H */
