/* Webhook registration (partner-center-api.md §5.1; R-33: one URL per event,
 * registering replaces the previous one, so it must be explicit). */
#include <string.h>

#include "partnercenter_internal.h"

#define REGISTRATION "/webhooks/v1/registration"

struct pcref_webhook_registration {
	char *url;
	char **events;
	size_t nevents;
	char *replaced_url;
};

static const char *const referral_events[] = {
	"referral-created", "referral-updated", "related-referral-created", "related-referral-updated", NULL,
};

void pcref_webhook_registration_free(pcref_webhook_registration *reg)
{
	if (!reg)
		return;
	for (size_t i = 0; i < reg->nevents; i++)
		pcref__dealloc(reg->events[i]);
	pcref__dealloc(reg->events);
	pcref__dealloc(reg->url);
	pcref__dealloc(reg->replaced_url);
	pcref__dealloc(reg);
}

const char *pcref_webhook_registration_url(const pcref_webhook_registration *reg) { return reg ? reg->url : NULL; }
size_t pcref_webhook_registration_event_count(const pcref_webhook_registration *reg) { return reg ? reg->nevents : 0; }
const char *pcref_webhook_registration_replaced_url(const pcref_webhook_registration *reg)
{
	return reg ? reg->replaced_url : NULL;
}
const char *pcref_webhook_registration_event(const pcref_webhook_registration *reg, size_t i)
{
	return reg && i < reg->nevents ? reg->events[i] : NULL;
}

/* Member names are PascalCase in the samples and camelCase in the swagger. */
static const pcref__json *member(const pcref__json *obj, const char *pascal, const char *camel)
{
	const pcref__json *v = pcref__json_get(obj, pascal);
	return v ? v : pcref__json_get(obj, camel);
}

static int parse_registration(pcref_webhook_registration **out, const pcref__http_response *resp)
{
	pcref__json *doc;
	const pcref__json *url, *events;
	pcref_webhook_registration *reg;
	int rc;
	if ((rc = pcref__json_parse(&doc, resp->body ? resp->body : "", resp->body_len,
	                            "Partner Center's webhook registration")) < 0)
		return rc;
	url = member(doc, "WebhookUrl", "webhookUrl");
	events = member(doc, "WebhookEvents", "webhookEvents");
	if (!pcref__json_string(url) || !events || events->type != PCREF__JSON_ARRAY) {
		pcref__json_free(doc);
		return pcref__error(PCREF_EPROTOCOL,
			"Partner Center's webhook registration has no WebhookUrl or WebhookEvents");
	}
	if (!(reg = pcref__calloc(1, sizeof(*reg))) || !(reg->url = pcref__strdup(pcref__json_string(url))) ||
	    !(reg->events = pcref__calloc(events->u.arr.len + 1, sizeof(char *)))) {
		pcref_webhook_registration_free(reg);
		pcref__json_free(doc);
		return pcref__error_nomem();
	}
	for (size_t i = 0; i < events->u.arr.len; i++) {
		const char *e = pcref__json_string(events->u.arr.items[i]);
		if (e && !(reg->events[reg->nevents++] = pcref__strdup(e))) {
			pcref_webhook_registration_free(reg);
			pcref__json_free(doc);
			return pcref__error_nomem();
		}
	}
	pcref__json_free(doc);
	*out = reg;
	return PCREF_OK;
}

static int webhooks_conn(pcref_partner_center *pc)
{
	if (!pc)
		return pcref__error(PCREF_EINVALID, "the Partner Center client is NULL");
	if (!pc->webhooks)
		return pcref__error(PCREF_EINVALID,
			"this Partner Center client has no webhook connection: pass one to pcref_partner_center_new() "
			"(a token for https://api.partnercenter.microsoft.com)");
	return PCREF_OK;
}

int pcref_partner_center_webhook_get(pcref_webhook_registration **out, pcref_partner_center *pc)
{
	pcref__http_request req = { 0 };
	pcref__http_response resp = PCREF__HTTP_RESPONSE_INIT;
	int rc;
	if (!out)
		return pcref__error(PCREF_EINVALID, "pcref_partner_center_webhook_get: out is NULL");
	*out = NULL;
	if ((rc = webhooks_conn(pc)) < 0)
		return rc;
	req.method = "GET";
	req.url = REGISTRATION;
	req.what = "reading the webhook registration";
	rc = pcref__http_send(pc->webhooks, &req, &resp);
	if (rc == PCREF_ENOTFOUND)
		pcref__error_http(rc, resp.status, NULL, NULL,
			"Partner Center has no webhook registration for this partner");
	else if (rc == PCREF_OK)
		rc = parse_registration(out, &resp);
	pcref__http_response_dispose(&resp);
	return rc;
}

static int write_registration(pcref_webhook_registration **out, pcref_partner_center *pc, const char *method,
                              const char *url, const char *const *events, uint32_t flags)
{
	pcref__buf body = PCREF__BUF_INIT;
	pcref__http_request req = { 0 };
	pcref__http_response resp = PCREF__HTTP_RESPONSE_INIT;
	int rc;
	pcref__buf_puts(&body, "{\"WebhookUrl\":");
	pcref__json_write_string(&body, url, strlen(url));
	pcref__buf_puts(&body, ",\"WebhookEvents\":[");
	for (size_t i = 0; events[i]; i++) {
		if (i)
			pcref__buf_putc(&body, ',');
		pcref__json_write_string(&body, events[i], strlen(events[i]));
	}
	pcref__buf_printf(&body, "],\"SignatureTokenToMsSignatureHeader\":%s}",
	                  flags & PCREF_WEBHOOK_SIGNATURE_HEADER ? "true" : "false");
	if (body.failed) {
		pcref__buf_dispose(&body);
		return pcref__error_nomem();
	}
	req.method = method;
	req.url = REGISTRATION;
	req.body = body.data;
	req.body_len = body.len;
	req.retry_unsafe = strcmp(method, "PUT") == 0; /* a registration is a set, not an append */
	req.what = strcmp(method, "PUT") == 0 ? "updating the webhook registration" : "registering the webhook";
	rc = pcref__http_send(pc->webhooks, &req, &resp);
	if (rc == PCREF_OK)
		rc = parse_registration(out, &resp);
	pcref__http_response_dispose(&resp);
	pcref__buf_dispose(&body);
	return rc;
}

int pcref_partner_center_webhook_register(pcref_webhook_registration **out, pcref_partner_center *pc,
                                          const char *url, const char *const *events, uint32_t flags)
{
	pcref_webhook_registration *existing = NULL;
	char *replaced = NULL;
	int rc, attempt;
	if (!out)
		return pcref__error(PCREF_EINVALID, "pcref_partner_center_webhook_register: out is NULL");
	*out = NULL;
	if ((rc = webhooks_conn(pc)) < 0 || (rc = pcref__http_url_check(url, "the webhook URL")) < 0)
		return rc;
	if (flags & ~(PCREF_WEBHOOK_OVERWRITE | PCREF_WEBHOOK_SIGNATURE_HEADER))
		return pcref__error(PCREF_EINVALID, "unknown webhook registration flags 0x%x", (unsigned)flags);
	if (!events || !events[0])
		events = referral_events;
	/* twice at most: a registration created between our GET and POST (409)
	 * sends us back to the overwrite decision */
	for (attempt = 0; attempt < 2; attempt++) {
		rc = pcref_partner_center_webhook_get(&existing, pc);
		if (rc == PCREF_ENOTFOUND) {
			rc = write_registration(out, pc, "POST", url, events, flags);
			if (rc != PCREF_EEXISTS)
				break;
			continue;
		}
		if (rc < 0)
			break;
		if (strcmp(existing->url, url) != 0 && !(flags & PCREF_WEBHOOK_OVERWRITE)) {
			rc = pcref__error(PCREF_EEXISTS,
				"Partner Center already sends these events to %s; registering %s would replace it "
				"(one URL per event, R-33). Pass PCREF_WEBHOOK_OVERWRITE to replace it",
				existing->url, url);
			break;
		}
		if (strcmp(existing->url, url) != 0 && !(replaced = pcref__strdup(existing->url))) {
			rc = pcref__error_nomem();
			break;
		}
		rc = write_registration(out, pc, "PUT", url, events, flags);
		break;
	}
	pcref_webhook_registration_free(existing);
	if (rc == PCREF_OK)
		(*out)->replaced_url = replaced;
	else
		pcref__dealloc(replaced);
	return rc;
}
