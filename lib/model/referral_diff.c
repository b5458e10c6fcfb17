/* pcref_referral_diff: RFC 6902 JSON Patch in the Referrals API's subset
 * (replace and add only; partner-center-api.md §2.6). */
#include <string.h>

#include "referral_internal.h"

/* Top-level members the service owns: never part of a patch. */
static int read_only(const char *key)
{
	static const char *const keys[] = {
		"eTag", "links", "id", "createdDateTime", "updatedDateTime",
	};
	if (strncmp(key, "@odata.", 7) == 0)
		return 1;
	for (size_t i = 0; i < PCREF__ARRAY_LEN(keys); i++)
		if (strcmp(key, keys[i]) == 0)
			return 1;
	return 0;
}

typedef struct patch {
	pcref__buf out;
	pcref__buf path;
	size_t ops;
} patch;

static void emit(patch *p, const char *op, const pcref__json *value)
{
	pcref__buf_puts(&p->out, p->ops++ ? ",{\"op\":\"" : "{\"op\":\"");
	pcref__buf_puts(&p->out, op);
	pcref__buf_puts(&p->out, "\",\"path\":");
	pcref__json_write_string(&p->out, p->path.data, p->path.len);
	pcref__buf_puts(&p->out, ",\"value\":");
	if (value)
		pcref__json_write(&p->out, value);
	else
		pcref__buf_puts(&p->out, "null");
	pcref__buf_putc(&p->out, '}');
}

static void diff_objects(patch *p, const pcref__json *a, const pcref__json *b, int top)
{
	size_t i, mark = p->path.len;
	for (i = 0; i < b->u.obj.len; i++) {
		const char *key = b->u.obj.keys[i];
		const pcref__json *bv = b->u.obj.values[i], *av = pcref__json_get(a, key);
		if (top && read_only(key))
			continue;
		if (av && pcref__json_equal(av, bv))
			continue;
		pcref__json_pointer_append(&p->path, key);
		if (!av)
			emit(p, "add", bv);
		else if (av->type == PCREF__JSON_OBJECT && bv->type == PCREF__JSON_OBJECT)
			diff_objects(p, av, bv, 0);
		else
			emit(p, "replace", bv);
		p->path.len = mark;
		if (p->path.data)
			p->path.data[mark] = '\0';
	}
	for (i = 0; i < a->u.obj.len; i++) {
		const char *key = a->u.obj.keys[i];
		if ((top && read_only(key)) || pcref__json_get(b, key) ||
		    a->u.obj.values[i]->type == PCREF__JSON_NULL)
			continue;
		/* no "remove" in the API: the closest is replacing with null */
		pcref__json_pointer_append(&p->path, key);
		emit(p, "replace", NULL);
		p->path.len = mark;
		if (p->path.data)
			p->path.data[mark] = '\0';
	}
}

int pcref_referral_diff(char **out, size_t *len, const pcref_referral *from, const pcref_referral *to)
{
	patch p = { PCREF__BUF_INIT, PCREF__BUF_INIT, 0 };
	int rc;
	if (!out || !from || !to)
		return pcref__error(PCREF_EINVALID, "pcref_referral_diff: arguments must not be NULL");
	pcref__buf_putc(&p.out, '[');
	pcref__buf_puts(&p.path, "");
	diff_objects(&p, from->doc, to->doc, 1);
	pcref__buf_putc(&p.out, ']');
	rc = p.path.failed ? pcref__error_nomem() : PCREF_OK;
	pcref__buf_dispose(&p.path);
	if (rc < 0) {
		pcref__buf_dispose(&p.out);
		return rc;
	}
	return pcref__buf_detach(&p.out, out, len);
}
