/* Referrals API list pages ({"value":[...], "@odata.nextLink":...}) parsed
 * incrementally: each referral is handed over as soon as it is complete, so
 * memory is bounded by one referral (partner-center-api.md §2.1). */
#include "referral_internal.h"

struct pcref_referral_stream {
	pcref__json_stream *json;
	pcref_referral_cb cb;
	void *payload;
	size_t count;
};

static int on_item(pcref__json *item, int *steal, void *payload)
{
	pcref_referral_stream *s = payload;
	pcref_referral view;
	int rc;
	(void)steal;
	if ((rc = pcref__referral_check(item)) < 0)
		return pcref__error_prefix(rc, "referral #%zu of the list page", s->count + 1);
	view.doc = item;
	s->count++;
	if ((rc = s->cb(&view, s->payload)) != 0 && pcref_error_last()->code == PCREF_OK)
		pcref__error(rc < 0 ? rc : PCREF_EUSER,
			"the referral callback stopped the list at referral #%zu (it returned %d)", s->count, rc);
	return rc;
}

int pcref_referral_stream_new(pcref_referral_stream **out, pcref_referral_cb cb, void *payload)
{
	pcref_referral_stream *s;
	int rc;
	if (!out || !cb)
		return pcref__error(PCREF_EINVALID, "pcref_referral_stream_new: out and cb must not be NULL");
	if (!(s = pcref__calloc(1, sizeof(*s))))
		return pcref__error_nomem();
	s->cb = cb;
	s->payload = payload;
	if ((rc = pcref__json_stream_new(&s->json, "value", on_item, s,
	                                 "the Partner Center referral list page")) < 0) {
		pcref__dealloc(s);
		return rc;
	}
	*out = s;
	return PCREF_OK;
}

int pcref_referral_stream_feed(pcref_referral_stream *s, const char *data, size_t len)
{
	if (!s || (!data && len))
		return pcref__error(PCREF_EINVALID, "pcref_referral_stream_feed: bad arguments");
	pcref_error_clear();
	return pcref__json_stream_feed(s->json, data, len);
}

int pcref_referral_stream_finish(pcref_referral_stream *s)
{
	const pcref__json *rest, *link;
	int rc;
	if (!s)
		return pcref__error(PCREF_EINVALID, "pcref_referral_stream_finish: stream is NULL");
	if ((rc = pcref__json_stream_finish(s->json)) < 0)
		return rc;
	rest = pcref__json_stream_rest(s->json);
	link = pcref__json_get(rest, "@odata.nextLink");
	if (link && link->type != PCREF__JSON_STRING && link->type != PCREF__JSON_NULL)
		return pcref__error(PCREF_EPROTOCOL, "the list page's @odata.nextLink is %s, not a string",
		                    pcref__json_type_name(link->type));
	if (!pcref__json_stream_found_array(s->json)) {
		const pcref__json *err = pcref__json_get(rest, "error");
		const char *msg = pcref__json_string(pcref__json_get(err, "message"));
		return pcref__error(PCREF_EPROTOCOL,
			"expected a referral list page ({\"value\":[...]}) but got %s%s",
			err ? "an error body: " : "an object without \"value\"", err ? (msg ? msg : "(no message)") : "");
	}
	return PCREF_OK;
}

const char *pcref_referral_stream_next_link(const pcref_referral_stream *s)
{
	return s ? pcref__json_string(pcref__json_get(pcref__json_stream_rest(s->json), "@odata.nextLink"))
	         : NULL;
}

size_t pcref_referral_stream_count(const pcref_referral_stream *s)
{
	return s ? s->count : 0;
}

void pcref_referral_stream_free(pcref_referral_stream *s)
{
	if (!s)
		return;
	pcref__json_stream_free(s->json);
	pcref__dealloc(s);
}

int pcref_referral_list_parse(const char *json, size_t len, pcref_referral_cb cb, void *payload,
                              char **next_link)
{
	pcref_referral_stream *s;
	int rc;
	if (next_link)
		*next_link = NULL;
	if (!json)
		return pcref__error(PCREF_EINVALID, "pcref_referral_list_parse: json is NULL");
	if ((rc = pcref_referral_stream_new(&s, cb, payload)) < 0)
		return rc;
	if ((rc = pcref_referral_stream_feed(s, json, len)) == 0 &&
	    (rc = pcref_referral_stream_finish(s)) == 0 && next_link &&
	    pcref_referral_stream_next_link(s) &&
	    !(*next_link = pcref__strdup(pcref_referral_stream_next_link(s))))
		rc = pcref__error_nomem();
	pcref_referral_stream_free(s);
	return rc;
}
