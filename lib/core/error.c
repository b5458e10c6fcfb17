/* The thread-local last-error record (pcref_error_last) and pcref_strerror. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define MESSAGE_MAX 1024
#define CODE_MAX 128

/* Fixed-size per-thread storage: nothing to allocate, nothing to leak when a
 * thread exits, and never NULL. */
typedef struct error_state {
	pcref_error pub;
	char message[MESSAGE_MAX];
	char service_code[CODE_MAX];
	char service_inner_code[CODE_MAX];
} error_state;

static _Thread_local error_state tls_error;

static error_state *state(void)
{
	error_state *e = &tls_error;
	e->pub.version = PCREF_ERROR_VERSION;
	e->pub.message = e->message;
	e->pub.service_code = e->service_code;
	e->pub.service_inner_code = e->service_inner_code;
	return e;
}

static void copy_code(char *dst, const char *src)
{
	snprintf(dst, CODE_MAX, "%s", src ? src : "");
}

const pcref_error *pcref_error_last(void)
{
	return &state()->pub;
}

void pcref_error_clear(void)
{
	error_state *e = state();
	e->pub.code = PCREF_OK;
	e->pub.http_status = 0;
	e->message[0] = e->service_code[0] = e->service_inner_code[0] = '\0';
}

int pcref__error_v(int code, const char *fmt, va_list ap)
{
	error_state *e = state();
	e->pub.code = code;
	e->pub.http_status = 0;
	e->service_code[0] = e->service_inner_code[0] = '\0';
	vsnprintf(e->message, MESSAGE_MAX, fmt, ap);
	return code;
}

int pcref__error(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pcref__error_v(code, fmt, ap);
	va_end(ap);
	return code;
}

int pcref__error_http(int code, int http_status, const char *service_code,
                      const char *service_inner_code, const char *fmt, ...)
{
	error_state *e = state();
	va_list ap;
	va_start(ap, fmt);
	pcref__error_v(code, fmt, ap);
	va_end(ap);
	e->pub.http_status = http_status;
	copy_code(e->service_code, service_code);
	copy_code(e->service_inner_code, service_inner_code);
	return code;
}

int pcref__error_prefix(int code, const char *fmt, ...)
{
	error_state *e = state();
	char prefix[MESSAGE_MAX];
	size_t plen, mlen = strlen(e->message);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix) - 2, fmt, ap);
	va_end(ap);
	strcat(prefix, ": ");
	plen = strlen(prefix);
	if (plen + mlen >= MESSAGE_MAX)
		mlen = MESSAGE_MAX - 1 - plen;
	memmove(e->message + plen, e->message, mlen);
	memcpy(e->message, prefix, plen);
	e->message[plen + mlen] = '\0';
	e->pub.code = code;
	return code;
}

int pcref__error_nomem(void)
{
	error_state *e = state();
	e->pub.code = PCREF_ENOMEM;
	e->pub.http_status = 0;
	e->service_code[0] = e->service_inner_code[0] = '\0';
	snprintf(e->message, MESSAGE_MAX, "out of memory");
	return PCREF_ENOMEM;
}

const char *pcref_strerror(int code)
{
	switch (code) {
	case PCREF_OK: return "success";
	case PCREF_ERROR: return "unspecified failure";
	case PCREF_ENOMEM: return "out of memory";
	case PCREF_EINVALID: return "invalid argument or value";
	case PCREF_ENOTFOUND: return "not found";
	case PCREF_EEXISTS: return "already exists";
	case PCREF_EAUTH: return "credentials refused or expired";
	case PCREF_ECONFLICT: return "changed since it was read (version conflict)";
	case PCREF_ETHROTTLED: return "throttled by the service; retries exhausted";
	case PCREF_ENETWORK: return "network failure";
	case PCREF_EPROTOCOL: return "malformed or unexpected data from the peer";
	case PCREF_ENOTSUPPORTED: return "operation not supported";
	case PCREF_EVERSION: return "unknown struct version";
	case PCREF_EUSER: return "host callback failed";
	case PCREF_ESTATE: return "called in the wrong state";
	case PCREF_ESIGNATURE: return "webhook signature verification failed";
	case PCREF_ESTORE: return "state store failure";
	case PCREF_ESERVICE: return "the service failed (HTTP 5xx)";
	case PCREF_EREPLAY: return "webhook delivery replayed or too old";
	default: return "unknown error code";
	}
}

int pcref_error_set(int code, const char *message)
{
	return pcref__error(code, "%s", message ? message : pcref_strerror(code));
}
