/* The state-store handle: a copied, versioned vtable, its forwarding calls
 * (argument checks, transaction bracketing, messages for silent failures),
 * the reference count the sync engine uses, and the record helpers the
 * built-in stores share. */
#include <string.h>

#include "pcref/version.h"
#include "store_internal.h"

/* ---- run-time initialisers ----------------------------------------------- */

/* PCREF_EVERSION unless 1 <= version <= known; `what` names the struct. */
static int version_known(unsigned int version, unsigned int known, const char *op, const char *what)
{
	if (version == 0 || version > known)
		return pcref__error(PCREF_EVERSION, "%s: %s version %u is not known to libpcref %s (it knows 1 to %u)",
		                    op, what, version, pcref_version_string(), known);
	return PCREF_OK;
}

/* Zero a versioned struct of `size` bytes and stamp `version` (1..known). */
static int versioned_init(void *ptr, size_t size, unsigned int version, unsigned int known,
                          const char *what)
{
	int rc;
	if (!ptr)
		return pcref__error(PCREF_EINVALID, "%s_init: the struct pointer is NULL", what);
	if ((rc = version_known(version, known, "initialising", what)) < 0)
		return rc;
	memset(ptr, 0, size);
	*(unsigned int *)ptr = version; /* every versioned struct starts with it */
	return PCREF_OK;
}

int pcref_store_backend_init(pcref_store_backend *backend, unsigned int version)
{
	return versioned_init(backend, sizeof(*backend), version, PCREF_STORE_BACKEND_VERSION,
	                      "pcref_store_backend");
}

int pcref_link_init(pcref_link *link, unsigned int version)
{
	int rc = versioned_init(link, sizeof(*link), version, PCREF_LINK_VERSION, "pcref_link");
	if (rc == PCREF_OK)
		link->started_ms = link->synced_ms = PCREF_TIME_NONE;
	return rc;
}

int pcref_retry_init(pcref_retry *item, unsigned int version)
{
	int rc = versioned_init(item, sizeof(*item), version, PCREF_RETRY_VERSION, "pcref_retry");
	if (rc == PCREF_OK)
		item->next_ms = PCREF_TIME_NONE;
	return rc;
}

/* ---- the handle ------------------------------------------------------------ */

static int member_missing(const pcref_store_backend *b, const char *member)
{
	return pcref__error(PCREF_EINVALID, "the state store '%s' has no %s function (every member is mandatory)",
	                    b->name ? b->name : "(unnamed)", member);
}

int pcref_store_new(pcref_store **out, const pcref_store_backend *backend)
{
	pcref_store *store;
	if (!out || !backend)
		return pcref__error(PCREF_EINVALID, "pcref_store_new: out and backend must not be NULL");
	if (backend->version == 0 || backend->version > PCREF_STORE_BACKEND_VERSION)
		return pcref__error(PCREF_EVERSION,
			"state store version %u is not known to libpcref %s (it knows 1 to %d): "
			"rebuild the store against these headers", backend->version,
			pcref_version_string(), PCREF_STORE_BACKEND_VERSION);
#define REQUIRE(member) if (!backend->member) return member_missing(backend, #member)
	REQUIRE(destroy);
	REQUIRE(begin);
	REQUIRE(commit);
	REQUIRE(rollback);
	REQUIRE(link_get);
	REQUIRE(link_put);
	REQUIRE(link_delete);
	REQUIRE(link_list);
	REQUIRE(watermark_get);
	REQUIRE(watermark_set);
	REQUIRE(retry_put);
	REQUIRE(retry_delete);
	REQUIRE(retry_list);
	REQUIRE(delivery_record);
	REQUIRE(delivery_prune);
#undef REQUIRE
	if (!(store = pcref__calloc(1, sizeof(*store))))
		return pcref__error_nomem();
	/* Version 1 is the only one: copy it whole. A later version copies a
	 * version-1 struct by its own, shorter size. */
	memcpy(&store->backend, backend, sizeof(store->backend));
	store->backend.version = PCREF_STORE_BACKEND_VERSION;
	if (!(store->name = pcref__strdup(backend->name ? backend->name : "host"))) {
		pcref__dealloc(store);
		return pcref__error_nomem();
	}
	store->backend.name = store->name;
	atomic_init(&store->refs, 1u);
	*out = store;
	return PCREF_OK;
}

pcref_store *pcref__store_ref(pcref_store *store)
{
	if (store)
		atomic_fetch_add(&store->refs, 1u);
	return store;
}

void pcref_store_free(pcref_store *store)
{
	if (!store || atomic_fetch_sub(&store->refs, 1u) != 1u)
		return;
	if (store->in_transaction)
		store->backend.rollback(store->backend.payload);
	store->backend.destroy(store->backend.payload);
	pcref__dealloc(store->name);
	pcref__dealloc(store);
}

const char *pcref_store_name(const pcref_store *store)
{
	return store ? store->name : NULL;
}

/* ---- forwarding -------------------------------------------------------------- */

/* A member that failed without describing why gets a message naming it. */
static int described(const pcref_store *store, int rc, const char *op)
{
	if (rc < 0 && pcref_error_last()->code == PCREF_OK)
		pcref__error(rc, "the '%s' state store failed in %s (%s)", store->name, op, pcref_strerror(rc));
	return rc; /* a listing callback's own stop value passes through */
}

#define CHECK_STORE(store, op) do { \
	if (!(store)) \
		return pcref__error(PCREF_EINVALID, "pcref_store_" op ": store is NULL"); \
} while (0)

#define FORWARD(store, member, ...) do { \
	pcref_error_clear(); \
	return described((store), (store)->backend.member(__VA_ARGS__, (store)->backend.payload), #member); \
} while (0)

int pcref_store_begin(pcref_store *store)
{
	int rc;
	CHECK_STORE(store, "begin");
	if (store->in_transaction)
		return pcref__error(PCREF_ESTATE, "pcref_store_begin: a transaction is already open on the '%s' "
		                    "state store (they do not nest): commit or roll it back first", store->name);
	pcref_error_clear();
	rc = described(store, store->backend.begin(store->backend.payload), "begin");
	if (rc == PCREF_OK)
		store->in_transaction = 1;
	return rc;
}

static int no_transaction(const pcref_store *store, const char *op)
{
	return pcref__error(PCREF_ESTATE, "pcref_store_%s: no transaction is open on the '%s' state store "
	                    "(call pcref_store_begin() first)", op, store->name);
}

int pcref_store_commit(pcref_store *store)
{
	int rc;
	CHECK_STORE(store, "commit");
	if (!store->in_transaction)
		return no_transaction(store, "commit");
	pcref_error_clear();
	rc = described(store, store->backend.commit(store->backend.payload), "commit");
	if (rc == PCREF_OK)
		store->in_transaction = 0;
	return rc;
}

int pcref_store_rollback(pcref_store *store)
{
	CHECK_STORE(store, "rollback");
	if (!store->in_transaction)
		return no_transaction(store, "rollback");
	store->in_transaction = 0; /* over even when the member fails */
	pcref_error_clear();
	return described(store, store->backend.rollback(store->backend.payload), "rollback");
}

static int check_ids(const char *referral_id, const char *crm_id, const char *op)
{
	if (!referral_id && !crm_id)
		return pcref__error(PCREF_EINVALID, "pcref_store_%s: give a referral id or a CRM id", op);
	return PCREF_OK;
}

int pcref_store_link_get(pcref_store *store, const char *referral_id, const char *crm_id,
                         pcref_link_cb cb, void *payload)
{
	int rc;
	CHECK_STORE(store, "link_get");
	if ((rc = check_ids(referral_id, crm_id, "link_get")) < 0)
		return rc;
	if (!cb)
		return pcref__error(PCREF_EINVALID, "pcref_store_link_get: cb is NULL");
	FORWARD(store, link_get, referral_id, crm_id, cb, payload);
}

int pcref_store_link_put(pcref_store *store, const pcref_link *link)
{
	pcref_link current;
	int rc;
	CHECK_STORE(store, "link_put");
	if (!link)
		return pcref__error(PCREF_EINVALID, "pcref_store_link_put: link is NULL");
	if ((rc = version_known(link->version, PCREF_LINK_VERSION, "pcref_store_link_put", "pcref_link")) < 0 ||
	    (rc = check_ids(link->referral_id, link->crm_id, "link_put")) < 0)
		return rc;
	/* Members always see the current version (a later version copies an
	 * older struct by its size over PCREF_LINK_INIT). */
	current = *link;
	current.version = PCREF_LINK_VERSION;
	FORWARD(store, link_put, &current);
}

int pcref_store_link_delete(pcref_store *store, const char *referral_id, const char *crm_id)
{
	int rc;
	CHECK_STORE(store, "link_delete");
	if ((rc = check_ids(referral_id, crm_id, "link_delete")) < 0)
		return rc;
	FORWARD(store, link_delete, referral_id, crm_id);
}

int pcref_store_link_list(pcref_store *store, pcref_link_cb cb, void *payload)
{
	CHECK_STORE(store, "link_list");
	if (!cb)
		return pcref__error(PCREF_EINVALID, "pcref_store_link_list: cb is NULL");
	FORWARD(store, link_list, cb, payload);
}

int pcref_store_watermark_get(pcref_store *store, const char *name, int64_t *ms)
{
	CHECK_STORE(store, "watermark_get");
	if (!name || !ms)
		return pcref__error(PCREF_EINVALID, "pcref_store_watermark_get: name and ms must not be NULL");
	*ms = PCREF_TIME_NONE;
	FORWARD(store, watermark_get, name, ms);
}

int pcref_store_watermark_set(pcref_store *store, const char *name, int64_t ms)
{
	CHECK_STORE(store, "watermark_set");
	if (!name)
		return pcref__error(PCREF_EINVALID, "pcref_store_watermark_set: name is NULL");
	FORWARD(store, watermark_set, name, ms);
}

int pcref_store_retry_put(pcref_store *store, const pcref_retry *item)
{
	pcref_retry current;
	int rc;
	CHECK_STORE(store, "retry_put");
	if (!item)
		return pcref__error(PCREF_EINVALID, "pcref_store_retry_put: item is NULL");
	if ((rc = version_known(item->version, PCREF_RETRY_VERSION, "pcref_store_retry_put", "pcref_retry")) < 0)
		return rc;
	if ((item->side != PCREF_SIDE_PARTNER_CENTER && item->side != PCREF_SIDE_CRM) || !item->id)
		return pcref__error(PCREF_EINVALID, "pcref_store_retry_put: the item needs a side "
		                    "(PCREF_SIDE_PARTNER_CENTER or PCREF_SIDE_CRM, not %d) and an id", item->side);
	current = *item; /* as for links: members see the current version */
	current.version = PCREF_RETRY_VERSION;
	FORWARD(store, retry_put, &current);
}

int pcref_store_retry_delete(pcref_store *store, int side, const char *id)
{
	CHECK_STORE(store, "retry_delete");
	if ((side != PCREF_SIDE_PARTNER_CENTER && side != PCREF_SIDE_CRM) || !id)
		return pcref__error(PCREF_EINVALID, "pcref_store_retry_delete: give a side "
		                    "(PCREF_SIDE_PARTNER_CENTER or PCREF_SIDE_CRM, not %d) and an id", side);
	FORWARD(store, retry_delete, side, id);
}

int pcref_store_retry_list(pcref_store *store, int64_t due_ms, pcref_retry_cb cb, void *payload)
{
	CHECK_STORE(store, "retry_list");
	if (!cb)
		return pcref__error(PCREF_EINVALID, "pcref_store_retry_list: cb is NULL");
	FORWARD(store, retry_list, due_ms, cb, payload);
}

int pcref_store_delivery_record(pcref_store *store, const char *key, int64_t received_ms)
{
	CHECK_STORE(store, "delivery_record");
	if (!key)
		return pcref__error(PCREF_EINVALID, "pcref_store_delivery_record: key is NULL");
	FORWARD(store, delivery_record, key, received_ms);
}

int pcref_store_delivery_prune(pcref_store *store, int64_t before_ms)
{
	CHECK_STORE(store, "delivery_prune");
	FORWARD(store, delivery_prune, before_ms);
}

/* ---- record helpers ---------------------------------------------------------- */

/* Duplicate *s into *d; a NULL stays NULL. */
static int dup_field(const char **d, const char *s)
{
	if (!s) {
		*d = NULL;
		return PCREF_OK;
	}
	return (*d = pcref__strdup(s)) ? PCREF_OK : PCREF_ENOMEM;
}

int pcref__link_copy(pcref_link *dst, const pcref_link *src)
{
	*dst = *src;
	dst->version = PCREF_LINK_VERSION;
	dst->referral_id = dst->crm_id = dst->base = dst->referral_etag = dst->crm_version =
		dst->last_message = NULL;
	if (dup_field(&dst->referral_id, src->referral_id) < 0 || dup_field(&dst->crm_id, src->crm_id) < 0 ||
	    dup_field(&dst->base, src->base) < 0 || dup_field(&dst->referral_etag, src->referral_etag) < 0 ||
	    dup_field(&dst->crm_version, src->crm_version) < 0 ||
	    dup_field(&dst->last_message, src->last_message) < 0) {
		pcref__link_dispose(dst);
		return pcref__error_nomem();
	}
	return PCREF_OK;
}

void pcref__link_dispose(pcref_link *link)
{
	/* the strings were duplicated by pcref__link_copy(): they are ours */
	pcref__dealloc((char *)link->referral_id);
	pcref__dealloc((char *)link->crm_id);
	pcref__dealloc((char *)link->base);
	pcref__dealloc((char *)link->referral_etag);
	pcref__dealloc((char *)link->crm_version);
	pcref__dealloc((char *)link->last_message);
	link->referral_id = link->crm_id = link->base = link->referral_etag = link->crm_version =
		link->last_message = NULL;
}

int pcref__retry_copy(pcref_retry *dst, const pcref_retry *src)
{
	*dst = *src;
	dst->version = PCREF_RETRY_VERSION;
	dst->id = dst->last_message = NULL;
	if (dup_field(&dst->id, src->id) < 0 || dup_field(&dst->last_message, src->last_message) < 0) {
		pcref__retry_dispose(dst);
		return pcref__error_nomem();
	}
	return PCREF_OK;
}

void pcref__retry_dispose(pcref_retry *item)
{
	pcref__dealloc((char *)item->id);
	pcref__dealloc((char *)item->last_message);
	item->id = item->last_message = NULL;
}

int pcref__store_no_link(const char *store_name, const char *referral_id, const char *crm_id)
{
	if (referral_id)
		return pcref__error(PCREF_ENOTFOUND, "the %s state store has no link for referral '%s'",
		                    store_name, referral_id);
	return pcref__error(PCREF_ENOTFOUND, "the %s state store has no link for CRM record '%s'",
	                    store_name, crm_id);
}

int pcref__store_delivery_seen(const char *key)
{
	return pcref__error(PCREF_EEXISTS, "webhook delivery '%s' was handled already", key);
}
