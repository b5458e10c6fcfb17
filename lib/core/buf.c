/* A growable, NUL-terminated byte buffer. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

static int reserve(pcref__buf *buf, size_t extra)
{
	if (buf->failed)
		return PCREF_ENOMEM;
	if (extra > SIZE_MAX - buf->len - 1 ||
	    pcref__grow((void **)&buf->data, &buf->cap, buf->len + extra + 1, 1) < 0) {
		buf->failed = 1;
		return pcref__error_nomem();
	}
	return PCREF_OK;
}

int pcref__buf_add(pcref__buf *buf, const char *data, size_t len)
{
	int rc = reserve(buf, len);
	if (rc < 0)
		return rc;
	if (len)
		memcpy(buf->data + buf->len, data, len);
	buf->len += len;
	buf->data[buf->len] = '\0';
	return PCREF_OK;
}

int pcref__buf_puts(pcref__buf *buf, const char *s)
{
	return pcref__buf_add(buf, s, strlen(s));
}

int pcref__buf_putc(pcref__buf *buf, char c)
{
	return pcref__buf_add(buf, &c, 1);
}

int pcref__buf_printf(pcref__buf *buf, const char *fmt, ...)
{
	va_list ap;
	int n, rc;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return pcref__error(PCREF_EINVALID, "invalid format");
	if ((rc = reserve(buf, (size_t)n)) < 0)
		return rc;
	va_start(ap, fmt);
	vsnprintf(buf->data + buf->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	buf->len += (size_t)n;
	return PCREF_OK;
}

int pcref__buf_detach(pcref__buf *buf, char **out, size_t *len)
{
	if (buf->failed) {
		pcref__buf_dispose(buf);
		return pcref__error_nomem();
	}
	if (!buf->data && reserve(buf, 0) < 0)
		return PCREF_ENOMEM;
	buf->data[buf->len] = '\0';
	*out = buf->data;
	if (len)
		*len = buf->len;
	buf->data = NULL;
	buf->len = buf->cap = 0;
	return PCREF_OK;
}

void pcref__buf_dispose(pcref__buf *buf)
{
	pcref__dealloc(buf->data);
	buf->data = NULL;
	buf->len = buf->cap = 0;
	buf->failed = 0;
}
