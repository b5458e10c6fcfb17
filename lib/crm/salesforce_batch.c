/* The Salesforce backend's batches: writes held back between batch_begin
 * and batch_commit go out in order, in runs of one kind:
 *   creates                -> sObject Collections POST, 200 records (B.9)
 *   plain updates          -> sObject Collections PATCH, 200 records (B.9)
 *   conditional updates    -> Composite, 25 PATCH subrequests each carrying
 *                             If-Unmodified-Since (B.8; Collections take no
 *                             per-record headers)
 * Every request is all or nothing (allOrNone: true). */
#include <stdio.h>
#include <string.h>

#include "salesforce_internal.h"

static void op_free(sf_op *op)
{
	pcref__dealloc(op->method);
	pcref__dealloc(op->type);
	pcref__dealloc(op->id);
	pcref__dealloc(op->body);
	pcref__dealloc(op->if_unmodified);
	pcref__dealloc(op->what);
	pcref__dealloc(op->link);
}

void pcref__sf_queue_clear(sf *d)
{
	for (size_t i = 0; i < d->nops; i++)
		op_free(&d->ops[i]);
	d->nops = 0;
}

static int dup_opt(char **out, const char *s)
{
	*out = NULL;
	return !s || (*out = pcref__strdup(s)) ? 0 : -1;
}

int pcref__sf_queue(sf *d, const char *method, const char *type, const char *id, const char *body,
                    const char *if_unmodified, const char *what, const char *link)
{
	sf_op op;
	memset(&op, 0, sizeof(op));
	if (dup_opt(&op.method, method) || dup_opt(&op.type, type) || dup_opt(&op.id, id) || dup_opt(&op.body, body) ||
	    dup_opt(&op.if_unmodified, if_unmodified) || dup_opt(&op.what, what) || dup_opt(&op.link, link) ||
	    pcref__grow((void **)&d->ops, &d->cap_ops, d->nops + 1, sizeof(*d->ops)) < 0) {
		op_free(&op);
		return pcref__error_nomem();
	}
	d->ops[d->nops++] = op;
	return PCREF_OK;
}

int pcref__sf_queued_link(const sf *d, const char *link)
{
	for (size_t i = 0; i < d->nops; i++)
		if (d->ops[i].link && strcmp(d->ops[i].link, link) == 0)
			return 1;
	return 0;
}

/* ---- runs -------------------------------------------------------------------------- */

enum { RUN_CREATE, RUN_UPDATE, RUN_CONDITIONAL };

static int kind_of(const sf_op *op)
{
	if (strcmp(op->method, "POST") == 0)
		return RUN_CREATE;
	return op->if_unmodified ? RUN_CONDITIONAL : RUN_UPDATE;
}

/* The code of a per-record statusCode / a subrequest's HTTP status (B.5). */
static int code_for(const char *status_code, int http_status)
{
	if (http_status == 412)
		return PCREF_ECONFLICT;
	if (http_status == 404 || (status_code && (strcmp(status_code, "NOT_FOUND") == 0 ||
	                                           strcmp(status_code, "ENTITY_IS_DELETED") == 0)))
		return PCREF_ENOTFOUND;
	if (status_code && strcmp(status_code, "DUPLICATES_DETECTED") == 0)
		return PCREF_EEXISTS;
	if (http_status == 401 || http_status == 403)
		return PCREF_EAUTH;
	return http_status >= 500 ? PCREF_ESERVICE : PCREF_EINVALID;
}

/* The first error of an errors array that is not a consequence of another
 * record's failure (ALL_OR_NONE_OPERATION_ROLLED_BACK, PROCESSING_HALTED). */
static const pcref__json *real_error(const pcref__json *errors)
{
	for (size_t i = 0; errors && errors->type == PCREF__JSON_ARRAY && i < errors->u.arr.len; i++) {
		const pcref__json *e = errors->u.arr.items[i];
		const char *c = pcref__json_string(pcref__json_get(e, "statusCode"));
		if (!c)
			c = pcref__json_string(pcref__json_get(e, "errorCode"));
		if (!c || (strcmp(c, "ALL_OR_NONE_OPERATION_ROLLED_BACK") != 0 && strcmp(c, "PROCESSING_HALTED") != 0))
			return e;
	}
	return NULL;
}

/* Report write `op` (number `index` of a request of `n`) as the failure. */
static int failure(const sf_op *op, size_t index, size_t n, size_t done, const pcref__json *err, int http_status)
{
	pcref__buf fields = PCREF__BUF_INIT;
	const pcref__json *f = pcref__json_get(err, "fields");
	const char *code = pcref__json_string(pcref__json_get(err, "statusCode"));
	const char *message = pcref__json_string(pcref__json_get(err, "message"));
	int rc;
	if (!code)
		code = pcref__json_string(pcref__json_get(err, "errorCode"));
	for (size_t i = 0; f && f->type == PCREF__JSON_ARRAY && i < f->u.arr.len; i++)
		if (pcref__json_string(f->u.arr.items[i]))
			pcref__buf_printf(&fields, "%s%s", fields.len ? ", " : "", pcref__json_string(f->u.arr.items[i]));
	rc = code_for(code, http_status);
	rc = pcref__error_http(rc, http_status, code ? code : "", "",
		"Salesforce refused a batch of %zu writes: %s (write %zu) failed%s%s%s%s%s%s%s — the request was all or "
		"nothing, so none of its writes were made%s; %s", n, op ? op->what : "a write", index,
		code ? " with " : "", code ? code : "", message ? ": " : "", message ? message : "",
		fields.len ? " (fields: " : "", fields.len ? fields.data : "", fields.len ? ")" : "",
		done ? " (those of earlier requests were)" : "",
		rc == PCREF_ECONFLICT ? "re-read the record and apply the change again"
		                      : "correct that write and send the batch again");
	pcref__buf_dispose(&fields);
	return rc;
}

/* One record of a Collections request: the fields plus attributes.type (and id). */
static int collection_record(const sf_op *op, pcref__json **out)
{
	pcref__json *rec = NULL, *attrs;
	int rc;
	*out = NULL;
	if ((rc = pcref__json_parse(&rec, op->body, strlen(op->body), "a held-back write")) < 0)
		return rc;
	if (!(attrs = pcref__json_new(PCREF__JSON_OBJECT)) ||
	    pcref__json_set(attrs, "type", pcref__crm_text_node(op->type)) < 0) {
		pcref__json_free(attrs);
		pcref__json_free(rec);
		return pcref__error_nomem();
	}
	if (pcref__json_set(rec, "attributes", attrs) < 0 ||
	    (op->id && pcref__json_set(rec, "id", pcref__crm_text_node(op->id)) < 0)) {
		pcref__json_free(rec);
		return pcref__error_nomem();
	}
	*out = rec;
	return PCREF_OK;
}

/* A Composite subrequest: PATCH with If-Unmodified-Since. */
static int composite_request(const sf *d, const sf_op *op, size_t i, pcref__json **out)
{
	pcref__json *sub = pcref__json_new(PCREF__JSON_OBJECT), *body = NULL, *headers = NULL;
	pcref__buf url = PCREF__BUF_INIT;
	char ref[32];
	int rc = PCREF_OK;
	*out = NULL;
	snprintf(ref, sizeof(ref), "write%zu", i + 1);
	pcref__buf_printf(&url, "%s/sobjects/%s/%s", d->api, op->type, op->id);
	if (!sub || url.failed || !(headers = pcref__json_new(PCREF__JSON_OBJECT)))
		rc = pcref__error_nomem();
	else if ((rc = pcref__json_parse(&body, op->body, strlen(op->body), "a held-back write")) == PCREF_OK &&
	         ((rc = pcref__json_set(sub, "method", pcref__crm_text_node(op->method))) < 0 ||
	          (rc = pcref__json_set(sub, "url", pcref__crm_text_node(url.data))) < 0 ||
	          (rc = pcref__json_set(sub, "referenceId", pcref__crm_text_node(ref))) < 0 ||
	          (rc = pcref__json_set(headers, "If-Unmodified-Since", pcref__crm_text_node(op->if_unmodified))) < 0 ||
	          (rc = pcref__json_set(sub, "httpHeaders", headers)) < 0 ||
	          (rc = pcref__json_set(sub, "body", body)) < 0))
		rc = pcref__error_nomem();
	else if (rc == PCREF_OK)
		headers = body = NULL; /* taken by sub */
	if (rc < 0) {
		pcref__json_free(sub);
		sub = NULL;
	}
	pcref__json_free(headers);
	pcref__json_free(body);
	pcref__buf_dispose(&url);
	*out = sub;
	return rc;
}

/* Send ops[0..n) (one kind) as one request and check every answer. */
static int send_run(sf *d, const sf_op *ops, size_t n, int kind, size_t done)
{
	pcref__json *req = pcref__json_new(PCREF__JSON_OBJECT), *list = pcref__json_new(PCREF__JSON_ARRAY);
	pcref__json *answer = NULL;
	const pcref__json *results;
	pcref__buf url = PCREF__BUF_INIT;
	char *text = NULL, what[64];
	int rc = PCREF_OK;
	if (!req || !list || pcref__json_set(req, "allOrNone", pcref__json_new_bool(1)) < 0) {
		pcref__json_free(req);
		pcref__json_free(list);
		return pcref__error_nomem();
	}
	for (size_t i = 0; i < n && rc == PCREF_OK; i++) {
		pcref__json *item = NULL;
		rc = kind == RUN_CONDITIONAL ? composite_request(d, &ops[i], i, &item) : collection_record(&ops[i], &item);
		if (rc == PCREF_OK && pcref__json_append(list, item) < 0)
			rc = pcref__error_nomem();
	}
	if (rc == PCREF_OK && pcref__json_set(req, kind == RUN_CONDITIONAL ? "compositeRequest" : "records", list) < 0)
		rc = pcref__error_nomem();
	else if (rc < 0)
		pcref__json_free(list);
	list = NULL;
	snprintf(what, sizeof(what), "sending a batch of %zu writes", n);
	pcref__buf_printf(&url, "%s/%s", d->api, kind == RUN_CONDITIONAL ? "composite" : "composite/sobjects");
	if (rc == PCREF_OK && (rc = url.failed ? pcref__error_nomem() : pcref__crm_body_text(req, &text)) == PCREF_OK)
		rc = pcref__sf_send(d, kind == RUN_UPDATE ? "PATCH" : "POST", url.data, text, NULL, what, &answer);
	if (rc < 0)
		goto out;
	/* Collections: [SaveResult...]; Composite: {"compositeResponse":[...]}, 200 either way */
	results = kind == RUN_CONDITIONAL ? pcref__json_get(answer, "compositeResponse") : answer;
	if (!results || results->type != PCREF__JSON_ARRAY || results->u.arr.len != n) {
		rc = pcref__error(PCREF_EPROTOCOL, "Salesforce answered %zu of the %zu writes of a batch: check the org "
		                  "for which were made", results && results->type == PCREF__JSON_ARRAY
		                  ? results->u.arr.len : 0, n);
		goto out;
	}
	for (size_t pass = 0; pass < 2 && rc == PCREF_OK; pass++) /* a real failure first, then any failure */
		for (size_t i = 0; i < n && rc == PCREF_OK; i++) {
			const pcref__json *r = results->u.arr.items[i], *errors, *e;
			double status = 200;
			int ok;
			if (kind == RUN_CONDITIONAL) {
				pcref__json_number(pcref__json_get(r, "httpStatusCode"), &status);
				ok = status < 300;
				errors = pcref__json_get(r, "body");
			} else {
				const pcref__json *s = pcref__json_get(r, "success");
				ok = s && s->type == PCREF__JSON_BOOL && s->u.boolean;
				errors = pcref__json_get(r, "errors");
				status = ok ? 200 : 400;
			}
			if (ok)
				continue;
			e = real_error(errors);
			if (e || pass == 1)
				rc = failure(&ops[i], i + 1, n, done, e ? e : (errors && errors->type == PCREF__JSON_ARRAY &&
				             errors->u.arr.len ? errors->u.arr.items[0] : NULL), (int)status);
		}
out:
	pcref__json_free(answer);
	pcref__json_free(req);
	pcref__dealloc(text);
	pcref__buf_dispose(&url);
	return rc;
}

int pcref__sf_flush(sf *d)
{
	int rc = PCREF_OK;
	size_t start = 0;
	while (start < d->nops && rc == PCREF_OK) {
		int kind = kind_of(&d->ops[start]);
		size_t max = kind == RUN_CONDITIONAL ? SF_COMPOSITE_MAX : SF_COLLECTION_MAX, n = 1;
		while (start + n < d->nops && n < max && kind_of(&d->ops[start + n]) == kind)
			n++;
		rc = send_run(d, d->ops + start, n, kind, start);
		start += n;
	}
	pcref__sf_queue_clear(d);
	return rc;
}

int pcref__sf_batch_begin(void *payload)
{
	sf *d = payload;
	d->in_batch = 1; /* a second begin keeps what is queued */
	return PCREF_OK;
}

int pcref__sf_batch_commit(void *payload)
{
	sf *d = payload;
	int rc = pcref__sf_flush(d);
	d->in_batch = 0;
	return rc;
}
