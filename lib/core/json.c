/* Lossless JSON document model over yajl (see json.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "json.h"

/* ---- nodes --------------------------------------------------------------- */

pcref__json *pcref__json_new(pcref__json_type type)
{
	pcref__json *n = pcref__calloc(1, sizeof(*n));
	if (n)
		n->type = type;
	return n;
}

static pcref__json *new_text(pcref__json_type type, const char *s, size_t len)
{
	pcref__json *n = pcref__json_new(type);
	if (!n)
		return NULL;
	n->u.str.text = pcref__strndup(s, len);
	if (!n->u.str.text) {
		pcref__dealloc(n);
		return NULL;
	}
	n->u.str.len = len;
	return n;
}

pcref__json *pcref__json_new_string(const char *s, size_t len)
{
	return new_text(PCREF__JSON_STRING, s, len);
}

pcref__json *pcref__json_new_number_text(const char *text)
{
	return new_text(PCREF__JSON_NUMBER, text, strlen(text));
}

pcref__json *pcref__json_new_number(double value)
{
	char text[40];
	if (!isfinite(value))
		return pcref__json_new(PCREF__JSON_NULL);
	/* shortest of %.15g / %.17g that reads back exactly */
	snprintf(text, sizeof(text), "%.15g", value);
	if (strtod(text, NULL) != value)
		snprintf(text, sizeof(text), "%.17g", value);
	return pcref__json_new_number_text(text);
}

pcref__json *pcref__json_new_bool(int value)
{
	pcref__json *n = pcref__json_new(PCREF__JSON_BOOL);
	if (n)
		n->u.boolean = value != 0;
	return n;
}

void pcref__json_free(pcref__json *n)
{
	size_t i;
	if (!n)
		return;
	switch (n->type) {
	case PCREF__JSON_STRING:
	case PCREF__JSON_NUMBER:
		pcref__dealloc(n->u.str.text);
		break;
	case PCREF__JSON_ARRAY:
		for (i = 0; i < n->u.arr.len; i++)
			pcref__json_free(n->u.arr.items[i]);
		pcref__dealloc(n->u.arr.items);
		break;
	case PCREF__JSON_OBJECT:
		for (i = 0; i < n->u.obj.len; i++) {
			pcref__dealloc(n->u.obj.keys[i]);
			pcref__json_free(n->u.obj.values[i]);
		}
		pcref__dealloc(n->u.obj.keys);
		pcref__dealloc(n->u.obj.values);
		break;
	default:
		break;
	}
	pcref__dealloc(n);
}

pcref__json *pcref__json_dup(const pcref__json *n)
{
	pcref__json *c;
	size_t i;
	if (!n)
		return NULL;
	switch (n->type) {
	case PCREF__JSON_STRING:
	case PCREF__JSON_NUMBER:
		return new_text(n->type, n->u.str.text, n->u.str.len);
	case PCREF__JSON_BOOL:
		return pcref__json_new_bool(n->u.boolean);
	case PCREF__JSON_ARRAY:
		if (!(c = pcref__json_new(PCREF__JSON_ARRAY)))
			return NULL;
		for (i = 0; i < n->u.arr.len; i++)
			if (pcref__json_append(c, pcref__json_dup(n->u.arr.items[i])) < 0)
				goto fail;
		return c;
	case PCREF__JSON_OBJECT:
		if (!(c = pcref__json_new(PCREF__JSON_OBJECT)))
			return NULL;
		for (i = 0; i < n->u.obj.len; i++)
			if (pcref__json_set(c, n->u.obj.keys[i], pcref__json_dup(n->u.obj.values[i])) < 0)
				goto fail;
		return c;
	default:
		return pcref__json_new(n->type);
	}
fail:
	pcref__json_free(c);
	return NULL;
}

const char *pcref__json_type_name(pcref__json_type type)
{
	static const char *names[] = { "null", "boolean", "number", "string", "array", "object" };
	return (unsigned)type < PCREF__ARRAY_LEN(names) ? names[type] : "?";
}

/* ---- objects and arrays ------------------------------------------------------ */

static long find_key(const pcref__json *obj, const char *key)
{
	for (size_t i = 0; i < obj->u.obj.len; i++)
		if (strcmp(obj->u.obj.keys[i], key) == 0)
			return (long)i;
	return -1;
}

pcref__json *pcref__json_get(const pcref__json *obj, const char *key)
{
	long i;
	if (!obj || obj->type != PCREF__JSON_OBJECT)
		return NULL;
	i = find_key(obj, key);
	return i < 0 ? NULL : obj->u.obj.values[i];
}

int pcref__json_set(pcref__json *obj, const char *key, pcref__json *value)
{
	long i;
	size_t cap;
	char *k;

	if (!value)
		return pcref__error_nomem();
	if (!obj || obj->type != PCREF__JSON_OBJECT) {
		pcref__json_free(value);
		return pcref__error(PCREF_EINVALID, "cannot set member '%s' on a non-object", key);
	}
	if ((i = find_key(obj, key)) >= 0) {
		pcref__json_free(obj->u.obj.values[i]);
		obj->u.obj.values[i] = value;
		return PCREF_OK;
	}
	cap = obj->u.obj.cap;
	if (pcref__grow((void **)&obj->u.obj.keys, &cap, obj->u.obj.len + 1, sizeof(char *)) < 0 ||
	    pcref__grow((void **)&obj->u.obj.values, &obj->u.obj.cap, obj->u.obj.len + 1,
	                sizeof(pcref__json *)) < 0 ||
	    !(k = pcref__strdup(key))) {
		pcref__json_free(value);
		return pcref__error_nomem();
	}
	obj->u.obj.keys[obj->u.obj.len] = k;
	obj->u.obj.values[obj->u.obj.len++] = value;
	return PCREF_OK;
}

int pcref__json_remove(pcref__json *obj, const char *key)
{
	long i;
	size_t rest;
	if (!obj || obj->type != PCREF__JSON_OBJECT || (i = find_key(obj, key)) < 0)
		return PCREF_ENOTFOUND;
	pcref__dealloc(obj->u.obj.keys[i]);
	pcref__json_free(obj->u.obj.values[i]);
	rest = obj->u.obj.len - (size_t)i - 1;
	memmove(obj->u.obj.keys + i, obj->u.obj.keys + i + 1, rest * sizeof(char *));
	memmove(obj->u.obj.values + i, obj->u.obj.values + i + 1, rest * sizeof(pcref__json *));
	obj->u.obj.len--;
	return PCREF_OK;
}

int pcref__json_append(pcref__json *arr, pcref__json *value)
{
	if (!value)
		return pcref__error_nomem();
	if (!arr || arr->type != PCREF__JSON_ARRAY) {
		pcref__json_free(value);
		return pcref__error(PCREF_EINVALID, "cannot append to a non-array");
	}
	if (pcref__grow((void **)&arr->u.arr.items, &arr->u.arr.cap, arr->u.arr.len + 1,
	                sizeof(pcref__json *)) < 0) {
		pcref__json_free(value);
		return PCREF_ENOMEM;
	}
	arr->u.arr.items[arr->u.arr.len++] = value;
	return PCREF_OK;
}

int pcref__json_array_remove(pcref__json *arr, size_t index)
{
	if (!arr || arr->type != PCREF__JSON_ARRAY || index >= arr->u.arr.len)
		return pcref__error(PCREF_ENOTFOUND, "no array element %zu", index);
	pcref__json_free(arr->u.arr.items[index]);
	memmove(arr->u.arr.items + index, arr->u.arr.items + index + 1,
	        (arr->u.arr.len - index - 1) * sizeof(pcref__json *));
	arr->u.arr.len--;
	return PCREF_OK;
}

const char *pcref__json_string(const pcref__json *n)
{
	return n && n->type == PCREF__JSON_STRING ? n->u.str.text : NULL;
}

int pcref__json_number(const pcref__json *n, double *out)
{
	char *end;
	double v;
	if (!n || (n->type != PCREF__JSON_NUMBER && n->type != PCREF__JSON_STRING) || !n->u.str.len)
		return -1;
	v = strtod(n->u.str.text, &end);
	if (*end || !isfinite(v))
		return -1;
	*out = v;
	return 0;
}

/* ---- JSON Pointer (RFC 6901) ---------------------------------------------- */

/* Copy the next reference token of *p into tok (unescaped); advance *p. */
static int next_token(const char **p, char *tok, size_t cap)
{
	size_t n = 0;
	if (**p != '/')
		return -1;
	(*p)++;
	while (**p && **p != '/') {
		char c = **p;
		if (c == '~') {
			(*p)++;
			if (**p == '0')
				c = '~';
			else if (**p == '1')
				c = '/';
			else
				return -1;
		}
		if (n + 1 >= cap)
			return -1;
		tok[n++] = c;
		(*p)++;
	}
	tok[n] = '\0';
	return 0;
}

static int parse_index(const char *tok, size_t *out)
{
	char *end;
	unsigned long long v;
	if (!*tok || (tok[0] == '0' && tok[1]) || tok[0] < '0' || tok[0] > '9')
		return -1;
	v = strtoull(tok, &end, 10);
	if (*end)
		return -1;
	*out = (size_t)v;
	return 0;
}

pcref__json *pcref__json_pointer(const pcref__json *root, const char *pointer)
{
	char tok[256];
	const pcref__json *cur = root;
	const char *p = pointer;
	size_t idx;

	while (cur && *p) {
		if (next_token(&p, tok, sizeof(tok)) < 0)
			return NULL;
		if (cur->type == PCREF__JSON_OBJECT)
			cur = pcref__json_get(cur, tok);
		else if (cur->type == PCREF__JSON_ARRAY && parse_index(tok, &idx) == 0 &&
		         idx < cur->u.arr.len)
			cur = cur->u.arr.items[idx];
		else
			return NULL;
	}
	return (pcref__json *)cur;
}

int pcref__json_pointer_set(pcref__json *root, const char *pointer, pcref__json *value)
{
	char tok[256];
	const char *p = pointer;
	pcref__json *cur = root;
	size_t idx;

	if (!value)
		return pcref__error_nomem();
	for (;;) {
		int last;
		pcref__json *next;
		if (next_token(&p, tok, sizeof(tok)) < 0) {
			pcref__json_free(value);
			return pcref__error(PCREF_EINVALID, "'%s' is not a valid JSON pointer", pointer);
		}
		last = *p == '\0';
		if (cur->type == PCREF__JSON_ARRAY) {
			if (strcmp(tok, "-") == 0 && last)
				return pcref__json_append(cur, value);
			if (parse_index(tok, &idx) < 0 || idx >= cur->u.arr.len) {
				pcref__json_free(value);
				return pcref__error(PCREF_EINVALID, "'%s': no array element '%s'", pointer, tok);
			}
			if (last) {
				pcref__json_free(cur->u.arr.items[idx]);
				cur->u.arr.items[idx] = value;
				return PCREF_OK;
			}
			cur = cur->u.arr.items[idx];
			continue;
		}
		if (cur->type != PCREF__JSON_OBJECT) {
			pcref__json_free(value);
			return pcref__error(PCREF_EINVALID, "'%s': '%s' is inside a %s, not an object",
			                    pointer, tok, pcref__json_type_name(cur->type));
		}
		if (last)
			return pcref__json_set(cur, tok, value);
		next = pcref__json_get(cur, tok);
		if (!next || next->type == PCREF__JSON_NULL) {
			int rc = pcref__json_set(cur, tok, pcref__json_new(PCREF__JSON_OBJECT));
			if (rc < 0) {
				pcref__json_free(value);
				return rc;
			}
			next = pcref__json_get(cur, tok);
		}
		cur = next;
	}
}

int pcref__json_pointer_append(pcref__buf *buf, const char *token)
{
	pcref__buf_putc(buf, '/');
	for (; *token; token++) {
		if (*token == '~')
			pcref__buf_add(buf, "~0", 2);
		else if (*token == '/')
			pcref__buf_add(buf, "~1", 2);
		else
			pcref__buf_putc(buf, *token);
	}
	return buf->failed ? PCREF_ENOMEM : PCREF_OK;
}

/* ---- equality ------------------------------------------------------------ */

int pcref__json_equal(const pcref__json *a, const pcref__json *b)
{
	size_t i;
	if (!a || !b)
		return a == b;
	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case PCREF__JSON_NULL:
		return 1;
	case PCREF__JSON_BOOL:
		return a->u.boolean == b->u.boolean;
	case PCREF__JSON_NUMBER: {
		double x, y;
		if (pcref__json_number(a, &x) == 0 && pcref__json_number(b, &y) == 0)
			return x == y;
		return strcmp(a->u.str.text, b->u.str.text) == 0;
	}
	case PCREF__JSON_STRING:
		return a->u.str.len == b->u.str.len &&
		       memcmp(a->u.str.text, b->u.str.text, a->u.str.len) == 0;
	case PCREF__JSON_ARRAY:
		if (a->u.arr.len != b->u.arr.len)
			return 0;
		for (i = 0; i < a->u.arr.len; i++)
			if (!pcref__json_equal(a->u.arr.items[i], b->u.arr.items[i]))
				return 0;
		return 1;
	case PCREF__JSON_OBJECT:
		if (a->u.obj.len != b->u.obj.len)
			return 0;
		for (i = 0; i < a->u.obj.len; i++)
			if (!pcref__json_equal(a->u.obj.values[i], pcref__json_get(b, a->u.obj.keys[i])))
				return 0;
		return 1;
	}
	return 0;
}

/* ---- writing ------------------------------------------------------------- */

int pcref__json_write_string(pcref__buf *buf, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run = 0;
	pcref__buf_putc(buf, '"');
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = NULL;
		char u[7];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		default:
			u[0] = '\\', u[1] = 'u', u[2] = '0', u[3] = '0';
			u[4] = hex[c >> 4], u[5] = hex[c & 15], u[6] = '\0';
			esc = u;
		}
		pcref__buf_add(buf, s + run, i - run);
		pcref__buf_puts(buf, esc);
		run = i + 1;
	}
	pcref__buf_add(buf, s + run, len - run);
	pcref__buf_putc(buf, '"');
	return buf->failed ? PCREF_ENOMEM : PCREF_OK;
}

int pcref__json_write(pcref__buf *buf, const pcref__json *n)
{
	size_t i;
	switch (n->type) {
	case PCREF__JSON_NULL:
		pcref__buf_add(buf, "null", 4);
		break;
	case PCREF__JSON_BOOL:
		pcref__buf_puts(buf, n->u.boolean ? "true" : "false");
		break;
	case PCREF__JSON_NUMBER:
		pcref__buf_add(buf, n->u.str.text, n->u.str.len);
		break;
	case PCREF__JSON_STRING:
		pcref__json_write_string(buf, n->u.str.text, n->u.str.len);
		break;
	case PCREF__JSON_ARRAY:
		pcref__buf_putc(buf, '[');
		for (i = 0; i < n->u.arr.len; i++) {
			if (i)
				pcref__buf_putc(buf, ',');
			pcref__json_write(buf, n->u.arr.items[i]);
		}
		pcref__buf_putc(buf, ']');
		break;
	case PCREF__JSON_OBJECT:
		pcref__buf_putc(buf, '{');
		for (i = 0; i < n->u.obj.len; i++) {
			if (i)
				pcref__buf_putc(buf, ',');
			pcref__json_write_string(buf, n->u.obj.keys[i], strlen(n->u.obj.keys[i]));
			pcref__buf_putc(buf, ':');
			pcref__json_write(buf, n->u.obj.values[i]);
		}
		pcref__buf_putc(buf, '}');
		break;
	}
	return buf->failed ? PCREF_ENOMEM : PCREF_OK;
}

/* ---- parsing (yajl callbacks build the tree) -------------------------------- */

struct pcref__json_stream {
	yajl_handle yajl;
	const char *what;
	pcref__json *stack[PCREF__JSON_MAX_DEPTH + 1];
	char *keys[PCREF__JSON_MAX_DEPTH + 1];   /* pending member name per depth */
	size_t depth;
	pcref__json *root;
	size_t offset;           /* bytes fed before the current chunk */
	int rc;                  /* first failure inside a callback */
	/* streaming: elements of root[array_key] go to cb instead of the tree */
	char *array_key;
	pcref__json *streamed;   /* the array being streamed, once seen */
	pcref__json_item_cb cb;
	void *payload;
};

static int fail(pcref__json_stream *s, int rc)
{
	if (!s->rc)
		s->rc = rc;
	return 0; /* cancels yajl */
}

static int deliver(pcref__json_stream *s, pcref__json *item)
{
	int steal = 0, rc = s->cb(item, &steal, s->payload);
	if (!steal)
		pcref__json_free(item);
	return rc ? fail(s, rc) : 1;
}

/* Attach a finished or new value to its parent (or make it the root). */
static int attach(pcref__json_stream *s, pcref__json *v)
{
	pcref__json *parent;
	int rc;
	if (!v)
		return fail(s, pcref__error_nomem());
	if (s->depth == 0) {
		if (s->root) {
			pcref__json_free(v);
			return fail(s, pcref__error(PCREF_EPROTOCOL, "%s: more than one JSON value", s->what));
		}
		s->root = v;
		return 1;
	}
	parent = s->stack[s->depth - 1];
	if (parent == s->streamed && s->cb) {
		/* containers are delivered when closed (see close_container) */
		if (v->type == PCREF__JSON_ARRAY || v->type == PCREF__JSON_OBJECT)
			return 1;
		return deliver(s, v);
	}
	if (parent->type == PCREF__JSON_ARRAY)
		rc = pcref__json_append(parent, v);
	else {
		char *key = s->keys[s->depth - 1];
		if (s->depth == 1 && s->array_key && v->type == PCREF__JSON_ARRAY &&
		    strcmp(key, s->array_key) == 0 && !s->streamed) {
			s->streamed = v; /* kept out of the tree */
			rc = PCREF_OK;
		} else {
			rc = pcref__json_set(parent, key, v);
		}
		pcref__dealloc(key);
		s->keys[s->depth - 1] = NULL;
	}
	return rc < 0 ? fail(s, rc) : 1;
}

static int on_scalar(pcref__json_stream *s, pcref__json *v)
{
	return attach(s, v);
}

static int cb_null(void *ctx) { return on_scalar(ctx, pcref__json_new(PCREF__JSON_NULL)); }
static int cb_bool(void *ctx, int b) { return on_scalar(ctx, pcref__json_new_bool(b)); }
static int cb_number(void *ctx, const char *t, size_t len)
{
	return on_scalar(ctx, new_text(PCREF__JSON_NUMBER, t, len));
}
static int cb_string(void *ctx, const unsigned char *t, size_t len)
{
	return on_scalar(ctx, pcref__json_new_string((const char *)t, len));
}

static int open_container(pcref__json_stream *s, pcref__json_type type)
{
	pcref__json *v;
	if (s->depth >= PCREF__JSON_MAX_DEPTH)
		return fail(s, pcref__error(PCREF_EPROTOCOL,
			"%s: JSON nested deeper than %d levels", s->what, PCREF__JSON_MAX_DEPTH));
	if (!(v = pcref__json_new(type)))
		return fail(s, pcref__error_nomem());
	if (!attach(s, v)) {
		/* attach frees v only when it failed before taking it; a stream
		 * container is never taken, so it cannot fail here */
		return 0;
	}
	s->stack[s->depth++] = v;
	return 1;
}

static int close_container(pcref__json_stream *s)
{
	pcref__json *v = s->stack[--s->depth];
	pcref__dealloc(s->keys[s->depth]);
	s->keys[s->depth] = NULL;
	if (s->depth > 0 && s->stack[s->depth - 1] == s->streamed && s->cb)
		return deliver(s, v);
	return 1;
}

static int cb_start_map(void *ctx) { return open_container(ctx, PCREF__JSON_OBJECT); }
static int cb_start_array(void *ctx) { return open_container(ctx, PCREF__JSON_ARRAY); }
static int cb_end(void *ctx) { return close_container(ctx); }

static int cb_map_key(void *ctx, const unsigned char *key, size_t len)
{
	pcref__json_stream *s = ctx;
	char **slot = &s->keys[s->depth - 1];
	if (memchr(key, '\0', len))
		return fail(s, pcref__error(PCREF_EPROTOCOL, "%s: member name contains NUL", s->what));
	pcref__dealloc(*slot);
	if (!(*slot = pcref__strndup((const char *)key, len)))
		return fail(s, pcref__error_nomem());
	return 1;
}

static const yajl_callbacks callbacks = {
	cb_null, cb_bool, NULL, NULL, cb_number, cb_string,
	cb_start_map, cb_map_key, cb_end, cb_start_array, cb_end
};

int pcref__json_stream_new(pcref__json_stream **out, const char *array_key,
                           pcref__json_item_cb cb, void *payload, const char *what)
{
	yajl_alloc_funcs funcs;
	pcref__json_stream *s = pcref__calloc(1, sizeof(*s));
	if (!s)
		return pcref__error_nomem();
	s->what = what;
	s->cb = cb;
	s->payload = payload;
	if (array_key && !(s->array_key = pcref__strdup(array_key))) {
		pcref__dealloc(s);
		return pcref__error_nomem();
	}
	pcref__yajl_alloc_funcs(&funcs);
	if (!(s->yajl = yajl_alloc(&callbacks, &funcs, s))) {
		pcref__json_stream_free(s);
		return pcref__error_nomem();
	}
	*out = s;
	return PCREF_OK;
}

static int yajl_failed(pcref__json_stream *s, const unsigned char *chunk, size_t len)
{
	unsigned char *msg;
	size_t at;
	if (s->rc)
		return s->rc;
	at = s->offset + yajl_get_bytes_consumed(s->yajl);
	msg = yajl_get_error(s->yajl, 0, chunk, len);
	pcref__error(PCREF_EPROTOCOL, "%s is not valid JSON: %s (at byte %zu)", s->what,
	             msg ? (const char *)msg : "parse error", at);
	if (msg)
		yajl_free_error(s->yajl, msg);
	return PCREF_EPROTOCOL;
}

int pcref__json_stream_feed(pcref__json_stream *s, const char *data, size_t len)
{
	if (s->rc)
		return s->rc;
	if (yajl_parse(s->yajl, (const unsigned char *)data, len) != yajl_status_ok)
		return s->rc = yajl_failed(s, (const unsigned char *)data, len);
	s->offset += len;
	return PCREF_OK;
}

int pcref__json_stream_finish(pcref__json_stream *s)
{
	if (s->rc)
		return s->rc;
	if (yajl_complete_parse(s->yajl) != yajl_status_ok) {
		int rc = yajl_failed(s, (const unsigned char *)"", 0);
		if (rc == PCREF_EPROTOCOL && s->offset == 0)
			pcref__error(PCREF_EPROTOCOL, "%s is empty (expected JSON)", s->what);
		else if (rc == PCREF_EPROTOCOL)
			pcref__error(PCREF_EPROTOCOL,
				"%s is truncated: the JSON ends after %zu bytes in the middle of a value",
				s->what, s->offset);
		return s->rc = rc;
	}
	if (s->array_key && (!s->root || s->root->type != PCREF__JSON_OBJECT))
		return s->rc = pcref__error(PCREF_EPROTOCOL, "%s: expected a JSON object, got %s",
		                            s->what, s->root ? pcref__json_type_name(s->root->type) : "nothing");
	return PCREF_OK;
}

const pcref__json *pcref__json_stream_rest(const pcref__json_stream *s)
{
	return s->root;
}

int pcref__json_stream_found_array(const pcref__json_stream *s)
{
	return s->streamed != NULL;
}

/* The streamed array, if any, is owned by the stream (it is never attached to
 * the tree); free it here when the document was complete. */
void pcref__json_stream_free(pcref__json_stream *s)
{
	if (!s)
		return;
	if (s->yajl)
		yajl_free(s->yajl);
	for (size_t i = 0; i <= PCREF__JSON_MAX_DEPTH; i++)
		pcref__dealloc(s->keys[i]);
	/* when the parse stopped early, containers on the stack below the root
	 * are attached already, except open stream items: free those */
	if (s->cb && s->streamed)
		for (size_t i = 0; i < s->depth; i++)
			if (s->stack[i] == s->streamed && i + 1 < s->depth)
				pcref__json_free(s->stack[i + 1]);
	pcref__json_free(s->streamed);
	pcref__json_free(s->root);
	pcref__dealloc(s->array_key);
	pcref__dealloc(s);
}

int pcref__json_parse(pcref__json **out, const char *text, size_t len, const char *what)
{
	pcref__json_stream *s;
	int rc = pcref__json_stream_new(&s, NULL, NULL, NULL, what);
	if (rc < 0)
		return rc;
	if ((rc = pcref__json_stream_feed(s, text, len)) == 0 &&
	    (rc = pcref__json_stream_finish(s)) == 0) {
		*out = s->root;
		s->root = NULL;
	}
	pcref__json_stream_free(s);
	return rc;
}
