/**
 * @file pcref/sync.h
 * @brief The sync engine: keeps Partner Center referrals and CRM
 *        opportunities in step, both ways, following every rule of the
 *        reference connector (R-01 … R-37) and doing better where it can.
 * @defgroup pcref_sync Sync engine
 * @{
 *
 * A #pcref_sync joins a Partner Center client, a CRM, a Mapping and a state
 * store. Its entry points:
 * - pcref_sync_poll() — the reconciliation pass: everything changed on
 *   either side since the watermarks, then the retry queue's due items
 *   nothing missed stays missed);
 * - pcref_sync_handle_webhook() — one verified, de-duplicated delivery: the
 *   referral is fetched and applied before the call returns;
 * - pcref_sync_referral() / pcref_sync_opportunity() — one item, from
 *   either side (a host calls the latter from its own CRM notification);
 * - pcref_sync_backfill() — compare every referral and every CRM record,
 *   with a progress callback.
 *
 * Each takes #PCREF_SYNC_DRY_RUN to plan instead of act: the events
 * then describe the writes that would be made, and none is made — on either
 * side or in the store.
 *
 * **How a record is synced.** The store keeps, per link, the canonical
 * values last synced (the *merge base*). A field changed on one side only is
 * copied to the other; a field changed on both is a conflict settled by
 * pcref_mapping_conflict_winner() and reported; nothing is written when
 * nothing differs, which also stops echoes. Writes carry the version read
 * (If-Match / the CRM's version); a stale version means re-read, re-merge,
 * retry. Creates look up the linkage keys first (R-02 in the CRM, the
 * referral's `externalReferenceId` in Partner Center), so a crash between a
 * create and its link never duplicates. Every attempt that writes appends a
 * line to the opportunity's audit field (R-08) and sets the ✔/✖ mark when
 * the Mapping enables it. The rules are described in `doc/sync.md`.
 *
 * A #pcref_sync keeps its Partner Center client, CRM and store alive (they
 * may be freed before it) and copies the Mapping. One thread at a time.
 */
#ifndef PCREF_SYNC_H
#define PCREF_SYNC_H

#include "common.h"
#include "crm.h"
#include "mapping.h"
#include "partnercenter.h"
#include "store.h"
#include "webhook.h"

PCREF_BEGIN_DECLS

/** @brief A sync engine (opaque). @since 0.1 */
typedef struct pcref_sync pcref_sync;

/** @name Flags of the entry points
 * @{ */
/** @brief Plan only: report the writes that would be made, make none. @since 0.1 */
#define PCREF_SYNC_DRY_RUN 0x1u
/** @} */

/** @name Watermarks the engine keeps in its store (pcref_store_watermark_get())
 * @{ */
/** @brief The newest Partner Center `updatedDateTime` a poll has read. @since 0.1 */
#define PCREF_SYNC_WATERMARK_PARTNER_CENTER "partner_center"
/** @brief The newest CRM modification time a poll has read. @since 0.1 */
#define PCREF_SYNC_WATERMARK_CRM "crm"
/** @} */

/** @name Actions (pcref_sync_event::action)
 * @{ */
#define PCREF_ACTION_NONE 0     /**< Compared: nothing differs, nothing written. @since 0.1 */
#define PCREF_ACTION_CREATE 1   /**< A record was created on the target side (R-10, R-20, R-22). @since 0.1 */
#define PCREF_ACTION_UPDATE 2   /**< Fields were written on the target side (R-13, R-23). @since 0.1 */
#define PCREF_ACTION_ACCEPT 3   /**< The referral was accepted / the opportunity left on hold (R-21). @since 0.1 */
#define PCREF_ACTION_DECLINE 4  /**< The referral was declined from on hold (R-21). @since 0.1 */
#define PCREF_ACTION_CLOSE 5    /**< Closed as won or lost (R-31). @since 0.1 */
#define PCREF_ACTION_LINK 6     /**< An existing record was found by the linkage keys and linked. @since 0.1 */
#define PCREF_ACTION_SKIP 7     /**< Not synced, by rule (R-21, R-22, R-24, R-25, R-11): the message says which. @since 0.1 */
#define PCREF_ACTION_FAIL 8     /**< The attempt failed: code and message say why; it is queued for retry. @since 0.1 */
/** @} */

/** @brief Version of #pcref_sync_event this header describes. @since 0.1 */
#define PCREF_SYNC_EVENT_VERSION 1

/**
 * @brief One outcome, reported to pcref_sync_options::on_event. Everything
 *        is borrowed for the duration of the callback.
 * @since 0.1
 */
typedef struct pcref_sync_event {
	unsigned int version;      /**< #PCREF_SYNC_EVENT_VERSION. */
	int direction;             /**< #PCREF_DIRECTION_TO_CRM or #PCREF_DIRECTION_TO_PC. */
	int action;                /**< `PCREF_ACTION_*`. */
	const char *referral_id;   /**< The referral's id (NULL before it exists). */
	const char *crm_id;        /**< The CRM record's id (NULL before it exists). */
	const int *fields;         /**< The `PCREF_FIELD_*` ids written (or to be written). */
	size_t nfields;            /**< How many. */
	const int *conflicts;      /**< Fields changed on both sides, settled by the conflict policy. */
	size_t nconflicts;         /**< How many. */
	/**
	 * The values written, as a JSON object `{"field name": [old, new], ...}`
	 * (field names as pcref_opportunity_field_name(), `"solutions"` for the
	 * solution list, `"status"` for the referral status); NULL when nothing
	 * is written.
	 */
	const char *changes;
	int code;                  /**< #PCREF_OK, or the error of a #PCREF_ACTION_FAIL. */
	const char *message;       /**< Why (SKIP, FAIL) or what was settled (conflicts); may be NULL. */
	uint32_t flags;            /**< #PCREF_SYNC_DRY_RUN when this was only planned. */
} pcref_sync_event;

/**
 * @brief Receives every outcome.
 * @since 0.1
 */
typedef void (*pcref_sync_event_cb)(const pcref_sync_event *event, void *payload);

/**
 * @brief Progress of a backfill: `done` of `total` items compared (`total`
 *        is 0 while still unknown).
 * @return 0 to go on; non-zero stops the backfill, which returns #PCREF_EUSER.
 * @since 0.1
 */
typedef int (*pcref_sync_progress_cb)(uint64_t done, uint64_t total, void *payload);

/** @brief Version of #pcref_sync_report this header describes. @since 0.1 */
#define PCREF_SYNC_REPORT_VERSION 1

/**
 * @brief Counts of the outcomes of one or more calls (each entry point adds
 *        to the report it is given).
 * @since 0.1
 */
typedef struct pcref_sync_report {
	unsigned int version;  /**< #PCREF_SYNC_REPORT_VERSION. */
	uint32_t examined;     /**< Items compared. */
	uint32_t created;      /**< #PCREF_ACTION_CREATE events. */
	uint32_t updated;      /**< #PCREF_ACTION_UPDATE events. */
	uint32_t accepted;     /**< #PCREF_ACTION_ACCEPT events. */
	uint32_t declined;     /**< #PCREF_ACTION_DECLINE events. */
	uint32_t closed;       /**< #PCREF_ACTION_CLOSE events. */
	uint32_t linked;       /**< #PCREF_ACTION_LINK events. */
	uint32_t unchanged;    /**< #PCREF_ACTION_NONE events. */
	uint32_t skipped;      /**< #PCREF_ACTION_SKIP events. */
	uint32_t failed;       /**< #PCREF_ACTION_FAIL events. */
	uint32_t conflicts;    /**< Fields settled by the conflict policy. */
	uint32_t retried;      /**< Retry-queue items attempted. */
} pcref_sync_report;

/** @brief Initialiser for #pcref_sync_report (all zero). @since 0.1 */
#define PCREF_SYNC_REPORT_INIT { PCREF_SYNC_REPORT_VERSION, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }

/**
 * @brief Initialise a report at run time (for bindings such as ctypes).
 * @return #PCREF_OK, #PCREF_EINVALID, #PCREF_EVERSION.
 * @since 0.1
 */
PCREF_API int pcref_sync_report_init(pcref_sync_report *report, unsigned int version);

/** @brief Version of #pcref_sync_options this header describes. @since 0.1 */
#define PCREF_SYNC_OPTIONS_VERSION 1

/**
 * @brief Options of pcref_sync_new(). Zero means "the default".
 * @since 0.1
 */
typedef struct pcref_sync_options {
	unsigned int version;                 /**< #PCREF_SYNC_OPTIONS_VERSION. */
	pcref_sync_event_cb on_event;         /**< Every outcome (may be NULL). */
	void *event_payload;                  /**< Passed to `on_event`. */
	pcref_sync_progress_cb on_progress;   /**< Backfill progress (may be NULL). */
	void *progress_payload;               /**< Passed to `on_progress`. */
	/**
	 * Prefix of the "Referral Link" written to the CRM; the referral
	 * id is appended. Default:
	 * `https://partner.microsoft.com/dashboard/referrals/v2/leads/`.
	 */
	const char *referral_link_base;
	uint32_t retry_max_attempts;          /**< Attempts before an item stays parked in the queue (default 8). */
	int64_t retry_delay_ms;               /**< Delay before the first retry, doubled each time (default 60000). */
	/**
	 * How far before each watermark a poll starts reading (default 5000), so
	 * records saved in the same instant as the last one read are not missed.
	 */
	int64_t overlap_ms;
} pcref_sync_options;

/** @brief Initialiser for #pcref_sync_options (all defaults). @since 0.1 */
#define PCREF_SYNC_OPTIONS_INIT { PCREF_SYNC_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, 0, 0, 0 }

/**
 * @brief Initialise options at run time (for bindings such as ctypes).
 * @return #PCREF_OK, #PCREF_EINVALID, #PCREF_EVERSION.
 * @since 0.1
 */
PCREF_API int pcref_sync_options_init(pcref_sync_options *options, unsigned int version);

/**
 * @brief Create a sync engine.
 * @param[out] out the engine; free with pcref_sync_free().
 * @param pc the Partner Center client (referenced).
 * @param crm the CRM (referenced).
 * @param mapping the installation's Mapping (copied).
 * @param store the state store (referenced).
 * @param options NULL for the defaults.
 * @return #PCREF_OK, #PCREF_EINVALID, #PCREF_EVERSION, #PCREF_ENOMEM.
 * @since 0.1
 */
PCREF_API int pcref_sync_new(pcref_sync **out, pcref_partner_center *pc, pcref_crm *crm,
                             const pcref_mapping *mapping, pcref_store *store,
                             const pcref_sync_options *options);

/** @brief Release an engine (NULL-safe). @since 0.1 */
PCREF_API void pcref_sync_free(pcref_sync *sync);

/**
 * @brief The reconciliation pass: sync every referral updated and every CRM
 *        record modified since the stored watermarks (minus the overlap),
 *        then the retry queue's due items.
 *
 * An item that fails is reported (#PCREF_ACTION_FAIL), audited, queued for
 * retry, and the pass goes on. The pass itself stops on what would make
 * every item fail: refused credentials (#PCREF_EAUTH — "connector
 * disconnected", R-35), an unreachable service, a store failure.
 * @param sync the engine.
 * @param flags 0 or #PCREF_SYNC_DRY_RUN.
 * @param report added to (may be NULL).
 * @return #PCREF_OK when the pass completed (item failures are in the
 *         report); otherwise the error that stopped it.
 * @since 0.1
 */
PCREF_API int pcref_sync_poll(pcref_sync *sync, uint32_t flags, pcref_sync_report *report);

/**
 * @brief Handle one webhook delivery: verify it, drop it if already handled
 *        (durably, through the store), fetch the referral it names and sync
 *        it to the CRM before returning.
 *
 * Events other than the four referral events are acknowledged and ignored.
 * On failure `pcref_error_last()->http_status` is the status to answer (as
 * for pcref_webhook_verify()); a delivery already handled returns
 * #PCREF_OK (answer 200) with nothing done. A sync failure after a good
 * delivery is queued for retry and returns #PCREF_OK too: Partner Center
 * need not send it again.
 * @param sync the engine.
 * @param verifier the webhook verifier.
 * @param delivery the request as received.
 * @param flags 0 or #PCREF_SYNC_DRY_RUN.
 * @param report added to (may be NULL).
 * @return #PCREF_OK; #PCREF_ESIGNATURE, #PCREF_EINVALID, #PCREF_EPROTOCOL
 *         and the other codes of pcref_webhook_verify(); #PCREF_ESTORE.
 * @since 0.1
 */
PCREF_API int pcref_sync_handle_webhook(pcref_sync *sync, pcref_webhook_verifier *verifier,
                                        const pcref_webhook_delivery *delivery, uint32_t flags,
                                        pcref_sync_report *report);

/**
 * @brief Sync one referral, by id, with its CRM record (creating, linking
 *        or updating either side as the rules say).
 * @return #PCREF_OK, or the item's error (it is also reported, audited and queued).
 * @since 0.1
 */
PCREF_API int pcref_sync_referral(pcref_sync *sync, const char *referral_id, uint32_t flags,
                                  pcref_sync_report *report);

/**
 * @brief Sync one CRM record, by CRM id, with its referral — for hosts that
 *        learn of CRM changes themselves (a plugin, a change notification).
 * @return #PCREF_OK, or the item's error (it is also reported, audited and queued).
 * @since 0.1
 */
PCREF_API int pcref_sync_opportunity(pcref_sync *sync, const char *crm_id, uint32_t flags,
                                     pcref_sync_report *report);

/**
 * @brief Compare everything: every referral in Partner Center and every CRM
 *        record, whatever the watermarks say; then set the watermarks.
 *        Progress goes to pcref_sync_options::on_progress. Safe to stop and
 *        run again: the work already done is not redone.
 * @return as pcref_sync_poll(); #PCREF_EUSER when the progress callback stopped it.
 * @since 0.1
 */
PCREF_API int pcref_sync_backfill(pcref_sync *sync, uint32_t flags, pcref_sync_report *report);

PCREF_END_DECLS

/** @} */
#endif /* PCREF_SYNC_H */
