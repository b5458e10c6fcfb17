/**
 * @file pcref/sys/store.h
 * @brief The state-store vtable: what a store must provide to keep the sync
 *        engine's durable state. For people writing their own store; users of
 *        the built-in SQLite and in-memory stores need only pcref/store.h.
 * @defgroup pcref_store_backend State-store vtable
 * @{
 *
 * A store is a #pcref_store_backend filled with function pointers and a
 * `payload` passed back to each of them. pcref_store_new() copies the
 * struct, so it may live on the stack. `destroy` and every member marked
 * *mandatory* must be set (else pcref_store_new() fails with
 * #PCREF_EINVALID); the struct is versioned and only ever appended to (see
 * @ref abi).
 *
 * **Contract for every member:**
 * - Return #PCREF_OK or a negative `PCREF_E*` code; describe failures with
 *   pcref_error_set() (#PCREF_ESTORE for the store's own failures, with a
 *   message naming the file or database and what to do).
 * - Records are passed as structs of borrowed strings: what a member
 *   receives is valid for the call only; what it hands to a callback must
 *   stay valid until the callback returns. No ownership crosses.
 * - Reads see the writes made earlier in the same transaction.
 * - Calls come from one thread at a time per #pcref_store.
 * - A callback may call the store again — reads, writes, even `begin` …
 *   `commit`. A listing visits the records present when it started, in its
 *   order, each as it is when its turn comes; a record deleted (or replaced
 *   by `link_put`) before its turn is skipped, and so is a retry item no
 *   longer due.
 *
 * **Transactions.** The engine brackets every sync step's state changes with
 * `begin` … `commit` (or `rollback` when the step failed before its state
 * changed); a store must apply them all or none, so a process killed at any
 * point leaves the state of the previous or of the next step, never a mix.
 * Transactions are not nested. A write made outside `begin` … `commit` is a
 * transaction of its own. The handle keeps the bracketing: it answers
 * pcref_store_begin() inside a transaction, and pcref_store_commit() or
 * pcref_store_rollback() outside one, with #PCREF_ESTATE without calling
 * the member; when `commit` fails the transaction is still open (roll it
 * back); pcref_store_free() rolls an open transaction back before `destroy`.
 */
#ifndef PCREF_SYS_STORE_H
#define PCREF_SYS_STORE_H

#include "../common.h"
#include "../store.h"

PCREF_BEGIN_DECLS

/** @brief Version of #pcref_store_backend this header describes. @since 0.1 */
#define PCREF_STORE_BACKEND_VERSION 1

/**
 * @brief The state-store vtable.
 * @since 0.1
 */
typedef struct pcref_store_backend {
	unsigned int version;   /**< #PCREF_STORE_BACKEND_VERSION. */
	const char *name;       /**< Short name for messages ("sqlite"); copied. */
	void *payload;          /**< Passed as the last argument of every member. */

	/** Release the store's state (mandatory; called once, by pcref_store_free()). */
	void (*destroy)(void *payload);

	/** Start a transaction (mandatory). */
	int (*begin)(void *payload);
	/** Make the transaction's writes durable (mandatory). */
	int (*commit)(void *payload);
	/** Drop the transaction's writes (mandatory). */
	int (*rollback)(void *payload);

	/**
	 * Find the link whose referral id is `referral_id`, or (when that is
	 * NULL) whose CRM id is `crm_id`, and call `cb` with it once (mandatory).
	 * #PCREF_ENOTFOUND, without calling `cb`, when there is none. Return what
	 * `cb` returns when it is non-zero.
	 */
	int (*link_get)(const char *referral_id, const char *crm_id, pcref_link_cb cb, void *cb_payload,
	                void *payload);
	/**
	 * Insert or replace a link (mandatory). It replaces every stored link
	 * that has the same non-NULL referral id or the same non-NULL CRM id —
	 * so a pending link (one id only) becomes the complete one.
	 */
	int (*link_put)(const pcref_link *link, void *payload);
	/** Delete the link found as in `link_get` (mandatory); #PCREF_ENOTFOUND if none. */
	int (*link_delete)(const char *referral_id, const char *crm_id, void *payload);
	/**
	 * Call `cb` with every link, ordered by referral id then CRM id
	 * (mandatory; a NULL id sorts first, ids compare byte-wise as with
	 * strcmp()). Stop and return what `cb` returns when it is non-zero.
	 */
	int (*link_list)(pcref_link_cb cb, void *cb_payload, void *payload);

	/**
	 * Read watermark `name` into `*ms` (mandatory); #PCREF_TIME_NONE when it
	 * was never set.
	 */
	int (*watermark_get)(const char *name, int64_t *ms, void *payload);
	/** Set watermark `name` (mandatory). */
	int (*watermark_set)(const char *name, int64_t ms, void *payload);

	/** Insert or replace the retry item with the same side and id (mandatory). */
	int (*retry_put)(const pcref_retry *item, void *payload);
	/** Delete the retry item of `side` and `id` (mandatory); #PCREF_OK when there is none. */
	int (*retry_delete)(int side, const char *id, void *payload);
	/**
	 * Call `cb` with every retry item whose `next_ms` is at or before
	 * `due_ms` (#PCREF_TIME_NONE: every item), soonest first, then by side
	 * and id (mandatory).
	 * Stop and return what `cb` returns when it is non-zero.
	 */
	int (*retry_list)(int64_t due_ms, pcref_retry_cb cb, void *cb_payload, void *payload);

	/**
	 * Record webhook delivery `key` received at `received_ms` (mandatory):
	 * #PCREF_OK when it was new, #PCREF_EEXISTS when it was already recorded
	 * (nothing changes then).
	 */
	int (*delivery_record)(const char *key, int64_t received_ms, void *payload);
	/** Forget deliveries received before `before_ms` (mandatory). */
	int (*delivery_prune)(int64_t before_ms, void *payload);
} pcref_store_backend;

/**
 * @brief Initialise a #pcref_store_backend at run time (all members NULL).
 * @param backend the struct to zero and stamp.
 * @param version #PCREF_STORE_BACKEND_VERSION of the caller's headers.
 * @return #PCREF_OK, #PCREF_EINVALID, #PCREF_EVERSION.
 * @since 0.1
 */
PCREF_API int pcref_store_backend_init(pcref_store_backend *backend, unsigned int version);

PCREF_END_DECLS

/** @} */
#endif /* PCREF_SYS_STORE_H */
