/* The Dynamics 365 backend's batches: writes held back between batch_begin
 * and batch_commit go out as one $batch request holding one change set
 * (crm-apis.md A.12), so that they succeed or fail together. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dynamics_internal.h"

static void op_free(dyn_op *op)
{
	pcref__dealloc(op->method);
	pcref__dealloc(op->path);
	pcref__dealloc(op->body);
	pcref__dealloc(op->if_match);
	pcref__dealloc(op->what);
	pcref__dealloc(op->link);
}

void pcref__dyn_queue_clear(dyn *d)
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

int pcref__dyn_queue(dyn *d, const char *method, const char *path, const char *body, const char *if_match,
                     const char *what, const char *link)
{
	dyn_op op;
	memset(&op, 0, sizeof(op));
	if (dup_opt(&op.method, method) || dup_opt(&op.path, path) || dup_opt(&op.body, body) ||
	    dup_opt(&op.if_match, if_match) || dup_opt(&op.what, what) || dup_opt(&op.link, link) ||
	    pcref__grow((void **)&d->ops, &d->cap_ops, d->nops + 1, sizeof(*d->ops)) < 0) {
		op_free(&op);
		return pcref__error_nomem();
	}
	d->ops[d->nops++] = op;
	return PCREF_OK;
}

int pcref__dyn_queued_link(const dyn *d, const char *link)
{
	for (size_t i = 0; i < d->nops; i++)
		if (d->ops[i].link && strcmp(d->ops[i].link, link) == 0)
			return 1;
	return 0;
}

/* ---- the request ------------------------------------------------------------------ */

static void request_body(const dyn *d, const dyn_op *ops, size_t n, const char *batch, const char *changeset,
                         pcref__buf *b)
{
	const char *base = pcref_connection_base_url(d->conn);
	pcref__buf_printf(b, "--%s\r\nContent-Type: multipart/mixed; boundary=%s\r\n\r\n", batch, changeset);
	for (size_t i = 0; i < n; i++) {
		pcref__buf_printf(b, "--%s\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
		                  "Content-ID: %zu\r\n\r\n", changeset, i + 1);
		pcref__buf_printf(b, "%s %s%s HTTP/1.1\r\nContent-Type: application/json; charset=utf-8\r\n", ops[i].method,
		                  base, ops[i].path);
		if (ops[i].if_match)
			pcref__buf_printf(b, "If-Match: %s\r\n", ops[i].if_match);
		pcref__buf_printf(b, "\r\n%s\r\n", ops[i].body ? ops[i].body : "");
	}
	pcref__buf_printf(b, "--%s--\r\n--%s--\r\n", changeset, batch);
}

/* ---- the answer (multipart/mixed, nested for the change set) ------------------------ */

typedef struct batch_result {
	size_t answered;       /* operation answers seen */
	int failed_status;     /* first failure, 0 when none */
	size_t failed_index;   /* 1-based operation number (Content-ID, else position) */
	char *failed_body;     /* its body */
} batch_result;

/* The value of a header in a block of header lines, copied into out. */
static int header_in(const char *head, size_t len, const char *name, char *out, size_t cap)
{
	size_t nlen = strlen(name);
	const char *p = head, *end = head + len;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t l = eol ? (size_t)(eol - p) : (size_t)(end - p);
		if (l > nlen && strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
			const char *v = p + nlen + 1;
			size_t vl = l - nlen - 1;
			while (vl && (*v == ' ' || *v == '\t'))
				v++, vl--;
			while (vl && (v[vl - 1] == '\r' || v[vl - 1] == ' '))
				vl--;
			snprintf(out, cap, "%.*s", (int)vl, v);
			return 1;
		}
		p += l + 1;
	}
	return 0;
}

/* The boundary parameter of a multipart Content-Type. */
static int boundary_of(const char *ctype, char *out, size_t cap)
{
	const char *b = ctype;
	size_t n;
	while (b && *b && strncasecmp(b, "boundary=", 9) != 0)
		b++;
	if (!b || !*b)
		return 0;
	b += 9;
	if (*b == '"')
		b++;
	n = strcspn(b, "\";, \t\r\n");
	if (!n || n >= cap)
		return 0;
	memcpy(out, b, n);
	out[n] = '\0';
	return 1;
}

/* The end of the headers block starting at p: points at the body. */
static const char *after_headers(const char *p, const char *end, const char **head_end)
{
	const char *q = p;
	while (q < end) {
		const char *eol = memchr(q, '\n', (size_t)(end - q));
		if (!eol)
			break;
		if (eol == q || (eol == q + 1 && *q == '\r')) {
			*head_end = q;
			return eol + 1;
		}
		q = eol + 1;
	}
	*head_end = end;
	return end;
}

static void http_part(const char *part_head, size_t head_len, const char *p, const char *end, batch_result *r)
{
	const char *head_end, *body = after_headers(p, end, &head_end);
	char cid[32] = "";
	int status = 0;
	r->answered++;
	if (sscanf(p, "HTTP/%*d.%*d %d", &status) != 1)
		status = 0;
	if (status >= 200 && status < 300)
		return;
	if (r->failed_status)
		return;
	r->failed_status = status ? status : 500;
	if (header_in(part_head, head_len, "Content-ID", cid, sizeof(cid)) ||
	    header_in(p, (size_t)(head_end - p), "Content-ID", cid, sizeof(cid)))
		r->failed_index = (size_t)strtoul(cid, NULL, 10);
	if (!r->failed_index)
		r->failed_index = r->answered;
	while (end > body && (end[-1] == '\n' || end[-1] == '\r'))
		end--;
	r->failed_body = pcref__strndup(body, (size_t)(end - body));
}

/* Walk the parts of a multipart body; nested multipart parts are walked too. */
static void walk(const char *text, size_t len, const char *boundary, batch_result *r, int depth)
{
	char delim[160];
	const char *end = text + len, *p;
	size_t dlen;
	snprintf(delim, sizeof(delim), "--%s", boundary);
	dlen = strlen(delim);
	for (p = text; p < end; p++) /* the first delimiter */
		if ((p == text || p[-1] == '\n') && (size_t)(end - p) >= dlen && memcmp(p, delim, dlen) == 0)
			break;
	while (p < end) {
		const char *start, *next, *head_end, *content;
		char ctype[200] = "", inner[128];
		p += dlen;
		if (end - p >= 2 && p[0] == '-' && p[1] == '-')
			return; /* closing delimiter */
		if (!(start = memchr(p, '\n', (size_t)(end - p))))
			return;
		start++;
		for (next = start; next < end; next++)
			if (next[-1] == '\n' && (size_t)(end - next) >= dlen && memcmp(next, delim, dlen) == 0)
				break;
		content = after_headers(start, next, &head_end);
		header_in(start, (size_t)(head_end - start), "Content-Type", ctype, sizeof(ctype));
		if (strncasecmp(ctype, "multipart/", 10) == 0 && depth < 2 && boundary_of(ctype, inner, sizeof(inner)))
			walk(content, (size_t)(next - content), inner, r, depth + 1);
		else if (strncasecmp(ctype, "application/http", 16) == 0)
			http_part(start, (size_t)(head_end - start), content, next, r);
		p = next;
	}
}

static int code_for(int status)
{
	switch (status) {
	case 401:
	case 403: return PCREF_EAUTH;
	case 404:
	case 410: return PCREF_ENOTFOUND;
	case 409: return PCREF_EEXISTS;
	case 412: return PCREF_ECONFLICT;
	case 429:
	case 503: return PCREF_ETHROTTLED;
	default: return status >= 500 ? PCREF_ESERVICE : PCREF_EINVALID;
	}
}

/* Report the operation that failed the change set. */
static int failure(const dyn_op *ops, size_t n, size_t done, const batch_result *r)
{
	pcref__json *err = NULL;
	const char *code = NULL, *message = NULL;
	const dyn_op *op = r->failed_index >= 1 && r->failed_index <= n ? &ops[r->failed_index - 1] : NULL;
	int rc, parsed;
	parsed = r->failed_body && *r->failed_body &&
	         pcref__json_parse(&err, r->failed_body, strlen(r->failed_body), "the $batch answer") == 0;
	if (!parsed)
		pcref_error_clear();
	code = pcref__json_string(pcref__json_get(pcref__json_get(err, "error"), "code"));
	message = pcref__json_string(pcref__json_get(pcref__json_get(err, "error"), "message"));
	rc = pcref__error_http(code_for(r->failed_status), r->failed_status, code ? code : "", "",
		"Dynamics 365 refused the batch of %zu writes: %s (write %zu) failed with HTTP %d%s%s — the batch is "
		"one change set, so none of its writes were made%s; %s",
		n, op ? op->what : "a write", r->failed_index, r->failed_status, message ? ": " : "",
		message ? message : "", done ? " (the writes of the earlier batches were)" : "",
		r->failed_status == 412 ? "re-read the record and apply the change again"
		                        : "correct that write and send the batch again");
	pcref__json_free(err);
	return rc;
}

/* Send ops[0..n) as one $batch with one change set. */
static int send_batch(dyn *d, const dyn_op *ops, size_t n, size_t done)
{
	pcref__http_request req = { 0 };
	pcref__http_response resp = PCREF__HTTP_RESPONSE_INIT;
	pcref__buf body = PCREF__BUF_INIT, ctype = PCREF__BUF_INIT;
	batch_result r = { 0, 0, 0, NULL };
	static const char *const headers[] = {
		"OData-MaxVersion: 4.0", "OData-Version: 4.0", "Accept: application/json", NULL
	};
	char guid[37], batch[48], changeset[48], what[64], boundary[128];
	int rc;
	pcref__guid(guid);
	snprintf(batch, sizeof(batch), "batch_%s", guid);
	pcref__guid(guid);
	snprintf(changeset, sizeof(changeset), "changeset_%s", guid);
	snprintf(what, sizeof(what), "sending a batch of %zu writes", n);
	request_body(d, ops, n, batch, changeset, &body);
	pcref__buf_printf(&ctype, "multipart/mixed; boundary=%s", batch);
	if (body.failed || ctype.failed) {
		rc = pcref__error_nomem();
		goto out;
	}
	req.method = "POST";
	req.url = DYN_API "$batch";
	req.headers = headers;
	req.body = body.data;
	req.body_len = body.len;
	req.content_type = ctype.data;
	req.what = what;
	rc = pcref__http_send(d->conn, &req, &resp);
	if (resp.body && boundary_of(pcref__http_header_get(&resp, "Content-Type"), boundary, sizeof(boundary)))
		walk(resp.body, resp.body_len, boundary, &r, 0);
	if (r.failed_status)
		rc = failure(ops, n, done, &r);
	else if (rc == PCREF_OK && r.answered != n)
		rc = pcref__error(PCREF_EPROTOCOL, "Dynamics 365 answered %zu of the %zu writes of a batch: check the "
		                  "environment for which were made", r.answered, n);
out:
	pcref__dealloc(r.failed_body);
	pcref__http_response_dispose(&resp);
	pcref__buf_dispose(&body);
	pcref__buf_dispose(&ctype);
	return rc;
}

int pcref__dyn_flush(dyn *d)
{
	int rc = PCREF_OK;
	for (size_t start = 0; start < d->nops && rc == PCREF_OK; start += DYN_BATCH_MAX) {
		size_t n = d->nops - start < DYN_BATCH_MAX ? d->nops - start : DYN_BATCH_MAX;
		rc = send_batch(d, d->ops + start, n, start);
	}
	pcref__dyn_queue_clear(d);
	return rc;
}

int pcref__dyn_batch_begin(void *payload)
{
	dyn *d = payload;
	d->in_batch = 1; /* a second begin keeps what is queued */
	return PCREF_OK;
}

int pcref__dyn_batch_commit(void *payload)
{
	dyn *d = payload;
	int rc = pcref__dyn_flush(d);
	d->in_batch = 0;
	return rc;
}
