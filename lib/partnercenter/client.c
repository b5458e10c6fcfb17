/* The Partner Center Referrals API client (partner-center-api.md §2). */
#include <string.h>

#include "partnercenter_internal.h"

#define REFERRALS "/v1.0/engagements/referrals"

int pcref_partner_center_new(pcref_partner_center **out, pcref_connection *referrals, pcref_connection *webhooks)
{
	pcref_partner_center *pc;
	if (!out || !referrals)
		return pcref__error(PCREF_EINVALID,
			"pcref_partner_center_new: a connection to the Referrals API is required");
	if (!(pc = pcref__calloc(1, sizeof(*pc))))
		return pcref__error_nomem();
	pc->referrals = pcref__connection_ref(referrals);
	pc->webhooks = webhooks ? pcref__connection_ref(webhooks) : NULL;
	atomic_init(&pc->refs, 1u);
	*out = pc;
	return PCREF_OK;
}

pcref_partner_center *pcref__partner_center_ref(pcref_partner_center *pc)
{
	if (pc)
		atomic_fetch_add(&pc->refs, 1u);
	return pc;
}

void pcref_partner_center_free(pcref_partner_center *pc)
{
	if (!pc || atomic_fetch_sub(&pc->refs, 1u) != 1u)
		return;
	pcref_connection_free(pc->referrals);
	pcref_connection_free(pc->webhooks);
	pcref__dealloc(pc);
}

int pcref_referral_query_init(pcref_referral_query *q, unsigned int version)
{
	if (!q)
		return pcref__error(PCREF_EINVALID, "pcref_referral_query_init: query is NULL");
	if (version == 0 || version > PCREF_REFERRAL_QUERY_VERSION)
		return pcref__error(PCREF_EVERSION, "referral query version %u is not known to libpcref %s",
		                    version, pcref_version_string());
	memset(q, 0, sizeof(*q));
	q->version = version;
	return PCREF_OK;
}

/* ---- listing ------------------------------------------------------------- */

/* A positive value no callback is documented to return: "top reached". */
#define TOP_REACHED 0x70cdef01

typedef struct listing {
	pcref_referral_stream *stream;
	pcref_referral_cb cb;
	void *payload;
	size_t delivered;
	size_t top;
} listing;

static int on_referral(const pcref_referral *r, void *payload)
{
	listing *l = payload;
	int rc = l->cb(r, l->payload);
	if (rc)
		return rc;
	if (l->top && ++l->delivered >= l->top)
		return TOP_REACHED;
	return 0;
}

static int on_chunk(const char *data, size_t len, void *payload)
{
	listing *l = payload;
	return pcref_referral_stream_feed(l->stream, data, len);
}

static int add_param(pcref__buf *url, const char *name, const char *value, int *first)
{
	if (!value || !*value)
		return PCREF_OK;
	pcref__buf_puts(url, *first ? "?" : "&");
	*first = 0;
	pcref__buf_puts(url, name);
	pcref__buf_putc(url, '=');
	return pcref__http_url_escape(url, value);
}

static int list_from(pcref_partner_center *pc, char *url, size_t top, pcref_referral_cb cb, void *payload,
                     const char *what)
{
	listing l = { NULL, cb, payload, 0, top };
	int rc = PCREF_OK;
	while (url && rc == PCREF_OK) {
		pcref__http_request req = { 0 };
		pcref__http_response resp = PCREF__HTTP_RESPONSE_INIT;
		const char *next;
		char *next_url = NULL;
		if ((rc = pcref_referral_stream_new(&l.stream, on_referral, &l)) < 0)
			break;
		req.method = "GET";
		req.url = url;
		req.sink = on_chunk;
		req.sink_payload = &l;
		req.what = what;
		rc = pcref__http_send(pc->referrals, &req, &resp);
		pcref__http_response_dispose(&resp);
		if (rc == PCREF_OK)
			rc = pcref_referral_stream_finish(l.stream);
		if (rc == PCREF_OK && (next = pcref_referral_stream_next_link(l.stream)))
			rc = pcref__http_follow_link(pc->referrals, next, &next_url);
		pcref_referral_stream_free(l.stream);
		l.stream = NULL;
		pcref__dealloc(url);
		url = next_url;
	}
	pcref__dealloc(url);
	if (rc == TOP_REACHED) {
		pcref_error_clear();
		return PCREF_OK;
	}
	return rc;
}

int pcref_partner_center_list_referrals(pcref_partner_center *pc, const pcref_referral_query *q,
                                        pcref_referral_cb cb, void *payload)
{
	pcref__buf url = PCREF__BUF_INIT;
	char *first_url;
	int first = 1, rc;
	if (!pc || !cb)
		return pcref__error(PCREF_EINVALID, "pcref_partner_center_list_referrals: pc and cb must not be NULL");
	if (q && (q->version == 0 || q->version > PCREF_REFERRAL_QUERY_VERSION))
		return pcref__error(PCREF_EVERSION, "referral query version %u is not known to libpcref %s",
		                    q->version, pcref_version_string());
	if (q && q->top < 0)
		return pcref__error(PCREF_EINVALID, "referral query: top must be 0 (all) or more");
	pcref__buf_puts(&url, REFERRALS);
	if (q) {
		char top[16];
		snprintf(top, sizeof(top), "%d", q->top);
		add_param(&url, "$filter", q->filter, &first);
		add_param(&url, "$orderby", q->orderby, &first);
		add_param(&url, "$select", q->select, &first);
		add_param(&url, "$top", q->top > 0 ? top : NULL, &first);
	}
	if ((rc = pcref__buf_detach(&url, &first_url, NULL)) < 0)
		return rc;
	return list_from(pc, first_url, q && q->top > 0 ? (size_t)q->top : 0, cb, payload, "listing referrals");
}

int pcref_partner_center_list_related(pcref_partner_center *pc, const char *engagement_id,
                                      pcref_referral_cb cb, void *payload)
{
	pcref_referral_query q = PCREF_REFERRAL_QUERY_INIT;
	char filter[160];
	if (!engagement_id || !*engagement_id || strlen(engagement_id) > 100 || strchr(engagement_id, '\''))
		return pcref__error(PCREF_EINVALID, "'%s' is not an engagement id", engagement_id ? engagement_id : "(null)");
	snprintf(filter, sizeof(filter), "engagementId eq '%s'", engagement_id);
	q.filter = filter;
	return pcref_partner_center_list_referrals(pc, &q, cb, payload);
}

/* ---- single referrals ---------------------------------------------------------- */

static int item_url(pcref__buf *url, const char *id)
{
	if (!id || !*id)
		return pcref__error(PCREF_EINVALID, "a referral id is required");
	pcref__buf_puts(url, REFERRALS "/");
	return pcref__http_url_escape(url, id);
}

static int parse_body(pcref_referral **out, const pcref__http_response *resp, const char *what)
{
	int rc;
	if (!resp->body || !resp->body_len)
		return pcref__error(PCREF_EPROTOCOL, "Partner Center sent no referral back when %s", what);
	if ((rc = pcref_referral_parse(out, resp->body, resp->body_len)) < 0)
		return pcref__error_prefix(rc, "Partner Center's answer to %s", what);
	return PCREF_OK;
}

static int send_for_referral(pcref_partner_center *pc, pcref__http_request *req, pcref_referral **out)
{
	pcref__http_response resp = PCREF__HTTP_RESPONSE_INIT;
	int rc = pcref__http_send(pc->referrals, req, &resp);
	if (rc == PCREF_OK && out)
		rc = parse_body(out, &resp, req->what);
	pcref__http_response_dispose(&resp);
	return rc;
}

int pcref_partner_center_get_referral(pcref_referral **out, pcref_partner_center *pc, const char *id)
{
	pcref__buf url = PCREF__BUF_INIT;
	pcref__http_request req = { 0 };
	char what[160];
	int rc;
	if (!out || !pc)
		return pcref__error(PCREF_EINVALID, "pcref_partner_center_get_referral: out and pc must not be NULL");
	*out = NULL;
	if ((rc = item_url(&url, id)) < 0) {
		pcref__buf_dispose(&url);
		return rc;
	}
	snprintf(what, sizeof(what), "reading referral %.100s", id);
	req.method = "GET";
	req.url = url.data;
	req.what = what;
	rc = send_for_referral(pc, &req, out);
	pcref__buf_dispose(&url);
	return rc;
}

int pcref_partner_center_create_referral(pcref_referral **out, pcref_partner_center *pc, const pcref_referral *r)
{
	pcref__http_request req = { 0 };
	char *body;
	size_t len;
	int rc;
	if (!out || !pc || !r)
		return pcref__error(PCREF_EINVALID, "pcref_partner_center_create_referral: arguments must not be NULL");
	*out = NULL;
	if ((rc = pcref_referral_validate(r, 0)) < 0)
		return pcref__error_prefix(rc, "not sent to Partner Center");
	if ((rc = pcref_referral_to_json(r, &body, &len)) < 0)
		return rc;
	req.method = "POST";
	req.url = REFERRALS;
	req.body = body;
	req.body_len = len;
	req.what = "creating a referral";
	rc = send_for_referral(pc, &req, out);
	pcref__dealloc(body);
	return rc;
}

int pcref_partner_center_update_referral(pcref_referral **out, pcref_partner_center *pc, const char *id,
                                         const char *patch, size_t len, const char *if_match)
{
	pcref__buf url = PCREF__BUF_INIT, match = PCREF__BUF_INIT;
	pcref__http_request req = { 0 };
	pcref__http_response resp = PCREF__HTTP_RESPONSE_INIT;
	const char *headers[3] = { "Prefer: return=representation", NULL, NULL };
	char what[160];
	int rc;
	if (out)
		*out = NULL;
	if (!pc || !patch)
		return pcref__error(PCREF_EINVALID, "pcref_partner_center_update_referral: pc and patch must not be NULL");
	if ((rc = item_url(&url, id)) < 0)
		goto done;
	if (if_match) {
		if (strpbrk(if_match, "\r\n")) {
			rc = pcref__error(PCREF_EINVALID, "the eTag contains a line break");
			goto done;
		}
		pcref__buf_printf(&match, "If-Match: %s", if_match);
		headers[1] = match.data;
	}
	snprintf(what, sizeof(what), "updating referral %.100s", id);
	req.method = "PATCH";
	req.url = url.data;
	req.headers = headers;
	req.body = patch;
	req.body_len = len;
	req.content_type = "application/json-patch+json";
	/* With If-Match a repeated PATCH cannot apply twice: the first one
	 * changed the eTag, so a repeat fails with 412 instead. */
	req.retry_unsafe = if_match != NULL;
	req.what = what;
	rc = pcref__http_send(pc->referrals, &req, &resp);
	if (rc == PCREF_OK && out) {
		if (resp.status == 204 || !resp.body_len)
			rc = pcref_partner_center_get_referral(out, pc, id);
		else
			rc = parse_body(out, &resp, what);
	}
done:
	pcref__http_response_dispose(&resp);
	pcref__buf_dispose(&url);
	pcref__buf_dispose(&match);
	return rc;
}

static const char *or_null(const char *s) { return s ? s : "(none)"; }

int pcref_partner_center_apply(pcref_referral **out, pcref_partner_center *pc, const pcref_referral *original,
                               const pcref_referral *changed)
{
	const char *from = pcref_referral_status(original), *to = pcref_referral_status(changed);
	char *patch;
	size_t len;
	int rc;
	if (out)
		*out = NULL;
	if (!pc || !original || !changed)
		return pcref__error(PCREF_EINVALID, "pcref_partner_center_apply: arguments must not be NULL");
	if (!pcref_referral_id(original))
		return pcref__error(PCREF_EINVALID, "the original referral has no id: read it from Partner Center first");
	if (to && (!from || strcmp(from, to) != 0 ||
	           strcmp(or_null(pcref_referral_substatus(original)), or_null(pcref_referral_substatus(changed))) != 0) &&
	    (rc = pcref_status_transition_check(from ? from : "None", pcref_referral_substatus(original), to,
	                                        pcref_referral_substatus(changed))) < 0)
		return pcref__error_prefix(rc, "not sent to Partner Center");
	if ((rc = pcref_referral_diff(&patch, &len, original, changed)) < 0)
		return rc;
	if (strcmp(patch, "[]") == 0) {
		pcref__dealloc(patch);
		return out ? pcref_referral_dup(out, original) : PCREF_OK;
	}
	rc = pcref_partner_center_update_referral(out, pc, pcref_referral_id(original), patch, len,
	                                          pcref_referral_etag(original));
	pcref__dealloc(patch);
	return rc;
}

/* ---- co-sell (§2.4) -------------------------------------------------------------- */

int pcref__referral_targets_microsoft(const pcref_referral *r)
{
	for (size_t i = 0; i < pcref_referral_target_count(r); i++) {
		const char *type = pcref_referral_target_type(r, i), *id = pcref_referral_target_id(r, i);
		if (type && id && strcmp(type, "BusinessProfileLocation") == 0 && strcmp(id, "msft") == 0)
			return 1;
	}
	return 0;
}

static int find_microsoft(const pcref_referral *r, void *payload)
{
	pcref_referral **found = payload;
	if (!*found && pcref__referral_targets_microsoft(r) && pcref_referral_dup(found, r) < 0)
		return PCREF_ENOMEM;
	return 0;
}

int pcref_partner_center_invite_microsoft(pcref_referral **out, pcref_partner_center *pc, const pcref_referral *r)
{
	static const char *const server_fields[] = {
		"id", "eTag", "links", "createdDateTime", "updatedDateTime", "acceptedDateTime", "closedDateTime",
		"organizationId", "organizationName", "direction", "expirationDateTime", "target",
	};
	pcref_referral *found = NULL, *invite;
	const char *engagement;
	int rc;
	if (!out || !pc || !r)
		return pcref__error(PCREF_EINVALID, "pcref_partner_center_invite_microsoft: arguments must not be NULL");
	*out = NULL;
	if (!(engagement = pcref_referral_engagement_id(r)))
		return pcref__error(PCREF_EINVALID,
			"the referral has no engagementId: create it in Partner Center first (§2.4 step 1)");
	/* idempotent: a retry after a lost answer must not invite twice */
	if ((rc = pcref_partner_center_list_related(pc, engagement, find_microsoft, &found)) < 0)
		return pcref__error_prefix(rc, "looking for an existing Microsoft invitation");
	if (found) {
		*out = found;
		return PCREF_OK;
	}
	if ((rc = pcref_referral_dup(&invite, r)) < 0)
		return rc;
	for (size_t i = 0; i < PCREF__ARRAY_LEN(server_fields); i++)
		pcref__json_remove(invite->doc, server_fields[i]);
	for (size_t i = 0; i < invite->doc->u.obj.len;)
		if (strncmp(invite->doc->u.obj.keys[i], "@odata.", 7) == 0)
			pcref__json_remove(invite->doc, invite->doc->u.obj.keys[i]);
		else
			i++;
	if ((rc = pcref_referral_set_type(invite, "Shared")) == 0 &&
	    (rc = pcref_referral_target_add(invite, "BusinessProfileLocation", "msft")) == 0)
		rc = pcref_partner_center_create_referral(out, pc, invite);
	pcref_referral_free(invite);
	return rc;
}

int pcref_partner_center_create_cosell(pcref_referral **partner, pcref_referral **microsoft,
                                       pcref_partner_center *pc, const pcref_referral *r)
{
	pcref_referral *draft, *ms = NULL;
	int rc;
	if (!partner || !pc || !r)
		return pcref__error(PCREF_EINVALID, "pcref_partner_center_create_cosell: arguments must not be NULL");
	*partner = NULL;
	if (microsoft)
		*microsoft = NULL;
	if ((rc = pcref_referral_dup(&draft, r)) < 0)
		return rc;
	if (!pcref_referral_type(draft))
		rc = pcref_referral_set_type(draft, "Shared");
	if (rc == 0)
		rc = pcref_partner_center_create_referral(partner, pc, draft);
	pcref_referral_free(draft);
	if (rc < 0)
		return pcref__error_prefix(rc, "creating the co-sell referral (step 1 of 2)");
	if ((rc = pcref_partner_center_invite_microsoft(&ms, pc, *partner)) < 0)
		return pcref__error_prefix(rc,
			"referral %s was created, but inviting Microsoft (step 2 of 2) failed; retry with "
			"pcref_partner_center_invite_microsoft()", pcref_referral_id(*partner));
	if (microsoft)
		*microsoft = ms;
	else
		pcref_referral_free(ms);
	return PCREF_OK;
}
