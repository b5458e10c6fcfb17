/**
 * @file pcref/store.h
 * @brief The state store: where the sync engine keeps what it must remember
 *        between runs — links, merge bases, watermarks, the retry queue and
 *        the webhook deliveries already handled.
 * @defgroup pcref_store State store
 * @{
 *
 * Built-in stores: SQLite (pcref_store_sqlite_open(), the durable default:
 * one file, WAL journal, every sync step's state change in one transaction,
 * a schema version with forward migrations) and in-memory
 * (pcref_store_memory_new(), for tests and dry runs). A host plugs in its
 * own with pcref_store_new() and a #pcref_store_backend
 * (pcref/sys/store.h).
 *
 * The calls below forward to the store's members; hosts use them to show
 * the state (`pcref-sync status`) and the engine uses them to keep it. A
 * host must not write to a store while a #pcref_sync uses it.
 */
#ifndef PCREF_STORE_H
#define PCREF_STORE_H

#include "common.h"

PCREF_BEGIN_DECLS

/** @brief A state store (opaque). @since 0.1 */
typedef struct pcref_store pcref_store;
struct pcref_store_backend;

/** @name Sides (pcref_retry::side)
 * @{ */
#define PCREF_SIDE_PARTNER_CENTER 1 /**< The item is a referral; its id is the referral id. @since 0.1 */
#define PCREF_SIDE_CRM 2            /**< The item is a CRM record; its id is the CRM id. @since 0.1 */
/** @} */

/** @name Link flags (pcref_link::flags)
 * @{ */
#define PCREF_LINK_LEAD 0x1u    /**< The CRM record is a lead (R-22), not an opportunity. @since 0.1 */
#define PCREF_LINK_PENDING 0x2u /**< A create was started and not yet confirmed: only one id is known. @since 0.1 */
/** @} */

/** @brief Version of #pcref_link this header describes. @since 0.1 */
#define PCREF_LINK_VERSION 1

/**
 * @brief One link between a referral and a CRM record, with what the engine
 *        last synced between them. Strings are borrowed (see the vtable
 *        contract in pcref/sys/store.h); any may be NULL.
 * @since 0.1
 */
typedef struct pcref_link {
	unsigned int version;       /**< #PCREF_LINK_VERSION. */
	const char *referral_id;    /**< Partner Center referral id (NULL while a CRM → PC create is pending). */
	const char *crm_id;         /**< CRM record id (NULL while a PC → CRM create is pending). */
	const char *base;           /**< The merge base: the canonical values last synced, as pcref_opportunity_to_json(). */
	const char *referral_etag;  /**< The referral's eTag after the last sync. */
	const char *crm_version;    /**< The CRM record's version after the last sync. */
	int64_t started_ms;         /**< When a pending create was started (#PCREF_TIME_NONE if none). */
	int64_t synced_ms;          /**< When the link last synced successfully (#PCREF_TIME_NONE: never). */
	int last_code;              /**< Outcome of the last attempt: #PCREF_OK or a `PCREF_E*` code. */
	const char *last_message;   /**< Its message when it failed. */
	uint32_t flags;             /**< `PCREF_LINK_*` bits. */
} pcref_link;

/** @brief Initialiser for #pcref_link. @since 0.1 */
#define PCREF_LINK_INIT { PCREF_LINK_VERSION, NULL, NULL, NULL, NULL, NULL, PCREF_TIME_NONE, PCREF_TIME_NONE, 0, NULL, 0 }

/** @brief Version of #pcref_retry this header describes. @since 0.1 */
#define PCREF_RETRY_VERSION 1

/**
 * @brief One item of the retry queue: work that failed and will be tried
 *        again. Strings are borrowed.
 * @since 0.1
 */
typedef struct pcref_retry {
	unsigned int version;      /**< #PCREF_RETRY_VERSION. */
	int side;                  /**< `PCREF_SIDE_*`: which side's record to sync again. */
	const char *id;            /**< The referral id or the CRM id. */
	uint32_t attempts;         /**< Attempts made so far. */
	int64_t next_ms;           /**< When to try next (epoch ms). */
	int last_code;             /**< The last attempt's error code. */
	const char *last_message;  /**< The last attempt's error message. */
} pcref_retry;

/** @brief Initialiser for #pcref_retry. @since 0.1 */
#define PCREF_RETRY_INIT { PCREF_RETRY_VERSION, 0, NULL, 0, PCREF_TIME_NONE, 0, NULL }

/**
 * @brief Called with one link; the link is borrowed for the call.
 * @return 0 to go on; non-zero stops the listing, which returns that value.
 * @since 0.1
 */
typedef int (*pcref_link_cb)(const pcref_link *link, void *payload);

/**
 * @brief Called with one retry item; the item is borrowed for the call.
 * @return 0 to go on; non-zero stops the listing, which returns that value.
 * @since 0.1
 */
typedef int (*pcref_retry_cb)(const pcref_retry *item, void *payload);

/**
 * @brief Wrap a store vtable.
 * @param[out] out the store; free with pcref_store_free() (which calls `destroy`).
 * @param backend the vtable (copied).
 * @return #PCREF_OK; #PCREF_EVERSION for an unknown `version`;
 *         #PCREF_EINVALID when a mandatory member is missing; #PCREF_ENOMEM.
 *         On failure `destroy` is not called: the payload stays the caller's.
 * @since 0.1
 */
PCREF_API int pcref_store_new(pcref_store **out, const struct pcref_store_backend *backend);

/**
 * @brief Open (creating it if needed) a SQLite state store.
 *
 * The file is put in WAL mode with `synchronous=FULL`; its schema version is
 * checked and older schemas are migrated forward in one transaction. A file
 * written by a newer libpcref is refused with #PCREF_EVERSION, untouched.
 * One process at a time should sync with a given file: a second one waits up
 * to 5 seconds for the first one's transaction, then fails with
 * #PCREF_ESTORE.
 * @param[out] out the store.
 * @param path the file's path (`":memory:"` gives a private, non-durable database).
 * @param flags 0 (reserved).
 * @return #PCREF_OK; #PCREF_ESTORE naming the file and SQLite's reason;
 *         #PCREF_EVERSION; #PCREF_EINVALID; #PCREF_ENOMEM.
 * @since 0.1
 */
PCREF_API int pcref_store_sqlite_open(pcref_store **out, const char *path, uint32_t flags);

/**
 * @brief Create an in-memory store (gone when freed).
 * @return #PCREF_OK, #PCREF_ENOMEM.
 * @since 0.1
 */
PCREF_API int pcref_store_memory_new(pcref_store **out);

/**
 * @brief Release a store (NULL-safe). A #pcref_sync using it keeps it alive
 *        until the sync is freed. An open transaction is rolled back.
 * @since 0.1
 */
PCREF_API void pcref_store_free(pcref_store *store);

/** @brief The store's name (`"sqlite"`, `"memory"` or the backend's), borrowed. @since 0.1 */
PCREF_API const char *pcref_store_name(const pcref_store *store);

/**
 * @brief Start a transaction (they do not nest; writes made outside one are
 *        each a transaction of their own).
 * @return #PCREF_OK; #PCREF_ESTATE when one is open; the store's error.
 * @since 0.1
 */
PCREF_API int pcref_store_begin(pcref_store *store);
/**
 * @brief Commit the transaction.
 * @return #PCREF_OK; #PCREF_ESTATE when none is open; the store's error
 *         (the transaction is then still open: roll it back).
 * @since 0.1
 */
PCREF_API int pcref_store_commit(pcref_store *store);
/**
 * @brief Roll the transaction back (it is over even when this fails).
 * @return #PCREF_OK; #PCREF_ESTATE when none is open; the store's error.
 * @since 0.1
 */
PCREF_API int pcref_store_rollback(pcref_store *store);

/**
 * @brief Look a link up by referral id, or (when `referral_id` is NULL) by
 *        CRM id, and call `cb` with it.
 * @return #PCREF_OK, #PCREF_ENOTFOUND, what `cb` returned, or the store's error.
 * @since 0.1
 */
PCREF_API int pcref_store_link_get(pcref_store *store, const char *referral_id, const char *crm_id,
                                   pcref_link_cb cb, void *payload);
/**
 * @brief Insert or replace a link (see pcref_store_backend::link_put); it
 *        needs a referral id, a CRM id or both.
 * @since 0.1
 */
PCREF_API int pcref_store_link_put(pcref_store *store, const pcref_link *link);
/** @brief Delete a link found by referral id or CRM id. @since 0.1 */
PCREF_API int pcref_store_link_delete(pcref_store *store, const char *referral_id, const char *crm_id);
/** @brief Call `cb` with every link. @since 0.1 */
PCREF_API int pcref_store_link_list(pcref_store *store, pcref_link_cb cb, void *payload);

/** @brief Read a watermark (#PCREF_TIME_NONE when unset). @since 0.1 */
PCREF_API int pcref_store_watermark_get(pcref_store *store, const char *name, int64_t *ms);
/** @brief Set a watermark. @since 0.1 */
PCREF_API int pcref_store_watermark_set(pcref_store *store, const char *name, int64_t ms);

/** @brief Insert or replace a retry item. @since 0.1 */
PCREF_API int pcref_store_retry_put(pcref_store *store, const pcref_retry *item);
/** @brief Delete a retry item (#PCREF_OK if there was none). @since 0.1 */
PCREF_API int pcref_store_retry_delete(pcref_store *store, int side, const char *id);
/** @brief Call `cb` with the retry items due at `due_ms` (#PCREF_TIME_NONE: all), soonest first. @since 0.1 */
PCREF_API int pcref_store_retry_list(pcref_store *store, int64_t due_ms, pcref_retry_cb cb, void *payload);

/** @brief Record a webhook delivery: #PCREF_OK when new, #PCREF_EEXISTS when already recorded. @since 0.1 */
PCREF_API int pcref_store_delivery_record(pcref_store *store, const char *key, int64_t received_ms);
/** @brief Forget deliveries received before `before_ms`. @since 0.1 */
PCREF_API int pcref_store_delivery_prune(pcref_store *store, int64_t before_ms);

/**
 * @brief Initialise a #pcref_link at run time (for bindings such as ctypes).
 * @return #PCREF_OK, #PCREF_EINVALID, #PCREF_EVERSION.
 * @since 0.1
 */
PCREF_API int pcref_link_init(pcref_link *link, unsigned int version);

/**
 * @brief Initialise a #pcref_retry at run time (for bindings such as ctypes).
 * @return #PCREF_OK, #PCREF_EINVALID, #PCREF_EVERSION.
 * @since 0.1
 */
PCREF_API int pcref_retry_init(pcref_retry *item, unsigned int version);

PCREF_END_DECLS

/** @} */
#endif /* PCREF_STORE_H */
