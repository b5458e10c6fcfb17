/* The CRM handle: a copied, versioned backend vtable and its forwarding calls. */
#include <string.h>

#include "crm_internal.h"

int pcref_crm_backend_init(pcref_crm_backend *b, unsigned int version)
{
	if (!b)
		return pcref__error(PCREF_EINVALID, "pcref_crm_backend_init: backend is NULL");
	if (version == 0 || version > PCREF_CRM_BACKEND_VERSION)
		return pcref__error(PCREF_EVERSION,
			"CRM backend version %u is not known to libpcref %s (it knows 1 to %d)",
			version, pcref_version_string(), PCREF_CRM_BACKEND_VERSION);
	memset(b, 0, sizeof(*b));
	b->version = version;
	return PCREF_OK;
}

int pcref_crm_new(pcref_crm **out, const pcref_crm_backend *backend)
{
	pcref_crm *crm;
	if (!out || !backend)
		return pcref__error(PCREF_EINVALID, "pcref_crm_new: out and backend must not be NULL");
	if (backend->version == 0 || backend->version > PCREF_CRM_BACKEND_VERSION)
		return pcref__error(PCREF_EVERSION,
			"CRM backend version %u is not known to libpcref %s (it knows 1 to %d): "
			"rebuild the backend against these headers", backend->version,
			pcref_version_string(), PCREF_CRM_BACKEND_VERSION);
	if (!backend->destroy)
		return pcref__error(PCREF_EINVALID, "the CRM backend '%s' has no destroy function (it is mandatory)",
		                    backend->name ? backend->name : "(unnamed)");
	if (!(crm = pcref__calloc(1, sizeof(*crm))))
		return pcref__error_nomem();
	/* copy what this version has; later members stay NULL. Once a version 2
	 * exists, a version-1 struct is shorter: copy by its version's size. */
	memcpy(&crm->backend, backend, sizeof(crm->backend));
	crm->backend.version = PCREF_CRM_BACKEND_VERSION;
	if (!(crm->name = pcref__strdup(backend->name ? backend->name : "host"))) {
		pcref__dealloc(crm);
		return pcref__error_nomem();
	}
	crm->backend.name = crm->name;
	atomic_init(&crm->refs, 1u);
	*out = crm;
	return PCREF_OK;
}

pcref_crm *pcref__crm_ref(pcref_crm *crm)
{
	if (crm)
		atomic_fetch_add(&crm->refs, 1u);
	return crm;
}

void pcref_crm_free(pcref_crm *crm)
{
	if (!crm || atomic_fetch_sub(&crm->refs, 1u) != 1u)
		return;
	crm->backend.destroy(crm->backend.payload);
	pcref__dealloc(crm->name);
	pcref__dealloc(crm);
}

const char *pcref_crm_name(const pcref_crm *crm)
{
	return crm ? crm->name : NULL;
}

static int unsupported(const pcref_crm *crm, const char *op)
{
	return pcref__error(PCREF_ENOTSUPPORTED, "the '%s' CRM backend does not implement %s",
	                    crm->name, op);
}

/* A member that failed without describing why gets a message naming it. */
static int described(const pcref_crm *crm, int rc, const char *op)
{
	if (rc < 0 && pcref_error_last()->code == PCREF_OK)
		pcref__error(rc, "the '%s' CRM backend failed in %s (%s)", crm->name, op, pcref_strerror(rc));
	return rc; /* a listing callback's own stop value passes through */
}

#define FORWARD(crm, member, ...) do { \
	if (!(crm)) \
		return pcref__error(PCREF_EINVALID, "pcref_crm_" #member ": crm is NULL"); \
	if (!(crm)->backend.member) \
		return unsupported((crm), #member); \
	pcref_error_clear(); \
	return described((crm), (crm)->backend.member(__VA_ARGS__, (crm)->backend.payload), #member); \
} while (0)

int pcref_crm_get_opportunity(pcref_opportunity **out, pcref_crm *crm, const char *id)
{ FORWARD(crm, get_opportunity, out, id); }
int pcref_crm_find_opportunity(pcref_opportunity **out, pcref_crm *crm, const char *referral_id)
{ FORWARD(crm, find_opportunity, out, referral_id); }
int pcref_crm_create_opportunity(pcref_opportunity **out, pcref_crm *crm, const pcref_opportunity *opp)
{ FORWARD(crm, create_opportunity, out, opp); }
int pcref_crm_update_opportunity(pcref_opportunity **out, pcref_crm *crm, const pcref_opportunity *opp,
                                 const int *fields, size_t nfields)
{ FORWARD(crm, update_opportunity, out, opp, fields, nfields); }
int pcref_crm_list_modified(pcref_crm *crm, int64_t since_ms, pcref_opportunity_cb cb, void *payload)
{ FORWARD(crm, list_modified, since_ms, cb, payload); }
int pcref_crm_ensure_account(pcref_crm *crm, pcref_opportunity *opp, const int *match_fields, size_t nmatch)
{ FORWARD(crm, ensure_account, opp, match_fields, nmatch); }
int pcref_crm_ensure_contact(pcref_crm *crm, pcref_opportunity *opp)
{ FORWARD(crm, ensure_contact, opp); }
int pcref_crm_add_solution(pcref_crm *crm, const char *id, const char *solution_id, const char *name)
{ FORWARD(crm, add_solution, id, solution_id, name); }
int pcref_crm_remove_solution(pcref_crm *crm, const char *id, const char *solution_id)
{ FORWARD(crm, remove_solution, id, solution_id); }
int pcref_crm_close_opportunity(pcref_crm *crm, const char *id, int won, const char *reason)
{ FORWARD(crm, close_opportunity, id, won, reason); }
int pcref_crm_find_lead(pcref_opportunity **out, pcref_crm *crm, const char *referral_id)
{ FORWARD(crm, find_lead, out, referral_id); }
int pcref_crm_create_lead(pcref_opportunity **out, pcref_crm *crm, const pcref_opportunity *lead)
{ FORWARD(crm, create_lead, out, lead); }
int pcref_crm_update_lead(pcref_opportunity **out, pcref_crm *crm, const pcref_opportunity *lead,
                          const int *fields, size_t nfields)
{ FORWARD(crm, update_lead, out, lead, fields, nfields); }
int pcref_crm_resolve_currency(pcref_crm *crm, const char *iso_code)
{ FORWARD(crm, resolve_currency, iso_code); }
int pcref_crm_resolve_user(pcref_crm *crm, const char *email)
{ FORWARD(crm, resolve_user, email); }

/* Batching is optional: without it, writes simply go out one by one. */
int pcref_crm_batch_begin(pcref_crm *crm)
{
	if (!crm)
		return pcref__error(PCREF_EINVALID, "pcref_crm_batch_begin: crm is NULL");
	if (!crm->backend.batch_begin)
		return PCREF_OK;
	pcref_error_clear();
	return described(crm, crm->backend.batch_begin(crm->backend.payload), "batch_begin");
}

int pcref_crm_batch_commit(pcref_crm *crm)
{
	if (!crm)
		return pcref__error(PCREF_EINVALID, "pcref_crm_batch_commit: crm is NULL");
	if (!crm->backend.batch_commit)
		return PCREF_OK;
	pcref_error_clear();
	return described(crm, crm->backend.batch_commit(crm->backend.payload), "batch_commit");
}
