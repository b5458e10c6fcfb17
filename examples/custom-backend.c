/*
 * custom-backend: a CRM libpcref does not ship, plugged in from C through
 * pcref_crm_new() — here a directory with one JSON file per opportunity
 * (the form of pcref_opportunity_to_json()) — and one sync pass with it.
 *
 *   custom-backend DIRECTORY                      one sync pass
 *   custom-backend DIRECTORY set ID FIELD VALUE   the seller's edit, e.g.
 *                                                 set opp-… stage Active
 *
 * Partner Center and the store are configured by the environment (see
 * sync-setup.h; PCREF_CRM is not used). Referrals Microsoft shares appear as
 * DIRECTORY/<id>.json. Change one with `set` — the CRM's user interface,
 * which writes through the backend so that the record's version and
 * modification time move — and the next pass sends the change to Partner
 * Center (moving the stage out of "On Hold" accepts the referral, R-21).
 *
 * What a backend must do is in pcref/sys/crm_backend.h and doc/backends.md:
 * return PCREF_OK or a negative code with pcref_error_set(), hand records
 * back as new pcref_opportunity objects carrying id, version and modified
 * time, refuse a stale version with PCREF_ECONFLICT. Members left NULL
 * answer PCREF_ENOTSUPPORTED; the engine does without account and contact
 * records (ensure_account, ensure_contact), which this CRM has not. Prove a
 * real backend with the conformance suite (doc/backends.md). This one reads
 * the whole directory to list or find records: fine for a demonstration,
 * not for 10,000 opportunities.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pcref/sys/crm_backend.h>

#include "sync-setup.h"

typedef struct dircrm {
	char dir[1024];
	int64_t last_ms;   /* modification times strictly increase: the poll's watermark needs it */
	unsigned serial;
} dircrm;

static int64_t tick(dircrm *c)
{
	struct timespec ts;
	int64_t ms;
	clock_gettime(CLOCK_REALTIME, &ts);
	ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	c->last_ms = ms > c->last_ms ? ms : c->last_ms + 1;
	return c->last_ms;
}

static int load(dircrm *c, const char *id, pcref_opportunity **out)
{
	char path[1200], buf[65536];
	size_t len;
	FILE *f;
	int rc;
	snprintf(path, sizeof(path), "%s/%s.json", c->dir, id);
	if (!(f = fopen(path, "rb"))) {
		snprintf(buf, sizeof(buf), "opportunity %s: no file %s", id, path);
		return pcref_error_set(errno == ENOENT ? PCREF_ENOTFOUND : PCREF_ERROR, buf);
	}
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	rc = pcref_opportunity_from_json(out, buf, len);
	return rc;   /* pcref_error_last() already says what is wrong with the file */
}

/* Stamp a new version and modification time on `opp`, write it, hand back a copy. */
static int save(dircrm *c, pcref_opportunity *opp, pcref_opportunity **out)
{
	char path[1200], tmp[1210], version[32];
	char *json;
	size_t len;
	FILE *f;
	int rc;
	snprintf(version, sizeof(version), "%lld", (long long)tick(c));
	pcref_opportunity_set_text(opp, PCREF_FIELD_VERSION, version);
	pcref_opportunity_set_time(opp, PCREF_FIELD_MODIFIED_TIME, c->last_ms);
	if ((rc = pcref_opportunity_to_json(opp, &json, &len)) < 0)
		return rc;
	snprintf(path, sizeof(path), "%s/%s.json", c->dir, pcref_opportunity_text(opp, PCREF_FIELD_ID));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (!(f = fopen(tmp, "wb")) || fwrite(json, 1, len, f) != len || fclose(f) != 0 || rename(tmp, path) != 0)
		rc = pcref_error_set(PCREF_ERROR, "cannot write the opportunity file (disk full? permissions?)");
	pcref_free(json);
	if (rc == 0 && out)
		rc = pcref_opportunity_dup(out, opp);
	return rc;
}

static void copy_field(pcref_opportunity *dst, const pcref_opportunity *src, int field)
{
	if (!pcref_opportunity_has(src, field)) {
		pcref_opportunity_unset(dst, field);
		return;
	}
	switch (pcref_opportunity_field_kind(field)) {
	case PCREF_KIND_TEXT: pcref_opportunity_set_text(dst, field, pcref_opportunity_text(src, field)); break;
	case PCREF_KIND_NUMBER: pcref_opportunity_set_number(dst, field, pcref_opportunity_number(src, field)); break;
	case PCREF_KIND_TIME: pcref_opportunity_set_time(dst, field, pcref_opportunity_time(src, field)); break;
	case PCREF_KIND_FLAG: pcref_opportunity_set_flag(dst, field, pcref_opportunity_flag(src, field)); break;
	}
}

/* ---- the members -------------------------------------------------------------------- */

static void destroy(void *payload)
{
	free(payload);
}

static int get_opportunity(pcref_opportunity **out, const char *id, void *payload)
{
	return load(payload, id, out);
}

static int create(pcref_opportunity **out, const pcref_opportunity *opp, int lead, dircrm *c)
{
	pcref_opportunity *rec;
	char id[64];
	int rc;
	if ((rc = pcref_opportunity_dup(&rec, opp)) < 0)
		return rc;
	snprintf(id, sizeof(id), "opp-%lld-%u", (long long)tick(c), ++c->serial);
	pcref_opportunity_set_text(rec, PCREF_FIELD_ID, id);
	pcref_opportunity_set_flag(rec, PCREF_FIELD_IS_LEAD, lead);
	rc = save(c, rec, out);
	pcref_opportunity_free(rec);
	return rc;
}

static int create_opportunity(pcref_opportunity **out, const pcref_opportunity *opp, void *payload)
{
	return create(out, opp, 0, payload);
}

static int create_lead(pcref_opportunity **out, const pcref_opportunity *lead, void *payload)
{
	return create(out, lead, 1, payload);
}

/* The listed fields and the extra fields, only if the version is still the one read. */
static int update(pcref_opportunity **out, const pcref_opportunity *opp, const int *fields, size_t nfields,
                  void *payload)
{
	const char *id = pcref_opportunity_text(opp, PCREF_FIELD_ID);
	const char *seen = pcref_opportunity_text(opp, PCREF_FIELD_VERSION);
	pcref_opportunity *rec;
	int rc;
	if (!id)
		return pcref_error_set(PCREF_EINVALID, "update without an id");
	if ((rc = load(payload, id, &rec)) < 0)
		return rc;
	if (seen && strcmp(seen, pcref_opportunity_text(rec, PCREF_FIELD_VERSION)) != 0) {
		pcref_opportunity_free(rec);
		return pcref_error_set(PCREF_ECONFLICT, "the opportunity file changed since it was read");
	}
	for (size_t i = 0; i < nfields; i++)
		copy_field(rec, opp, fields[i]);
	for (size_t i = 0; i < pcref_opportunity_extra_count(opp); i++) {
		char *json = NULL;
		const char *name = pcref_opportunity_extra_name(opp, i);
		if (pcref_opportunity_extra_get(opp, name, &json) == 0)
			pcref_opportunity_extra_set(rec, name, json, strlen(json));
		pcref_free(json);
	}
	rc = save(payload, rec, out);
	pcref_opportunity_free(rec);
	return rc;
}

/* Every record, oldest first, for list_modified and the finds. */
typedef struct records {
	pcref_opportunity **items;
	size_t n;
} records;

static int by_time(const void *a, const void *b)
{
	int64_t x = pcref_opportunity_time(*(pcref_opportunity *const *)a, PCREF_FIELD_MODIFIED_TIME);
	int64_t y = pcref_opportunity_time(*(pcref_opportunity *const *)b, PCREF_FIELD_MODIFIED_TIME);
	return (x > y) - (x < y);
}

static void records_free(records *r)
{
	for (size_t i = 0; i < r->n; i++)
		pcref_opportunity_free(r->items[i]);
	free(r->items);
}

static int read_all(dircrm *c, records *r)
{
	DIR *d = opendir(c->dir);
	struct dirent *e;
	r->items = NULL;
	r->n = 0;
	if (!d)
		return pcref_error_set(PCREF_ERROR, "cannot read the CRM directory");
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		char id[256];
		pcref_opportunity *opp, **grown;
		if (len < 6 || len - 5 >= sizeof(id) || strcmp(e->d_name + len - 5, ".json") != 0)
			continue;
		snprintf(id, sizeof(id), "%.*s", (int)(len - 5), e->d_name);
		if (load(c, id, &opp) < 0)
			continue;   /* a file being edited: it is read again on the next pass */
		if (!(grown = realloc(r->items, (r->n + 1) * sizeof(*grown)))) {
			pcref_opportunity_free(opp);
			closedir(d);
			records_free(r);
			return pcref_error_set(PCREF_ENOMEM, NULL);
		}
		r->items = grown;
		r->items[r->n++] = opp;
	}
	closedir(d);
	if (r->n > 1)   /* qsort() wants a non-NULL array even for none */
		qsort(r->items, r->n, sizeof(*r->items), by_time);
	return 0;
}

static int list_modified(int64_t since_ms, pcref_opportunity_cb cb, void *cb_payload, void *payload)
{
	records r;
	int rc = read_all(payload, &r);
	for (size_t i = 0; rc == 0 && i < r.n; i++)
		if (since_ms == PCREF_TIME_NONE || pcref_opportunity_time(r.items[i], PCREF_FIELD_MODIFIED_TIME) >= since_ms)
			rc = cb(r.items[i], cb_payload);
	records_free(&r);
	return rc;
}

static int find(pcref_opportunity **out, const char *referral_id, int lead, dircrm *c)
{
	records r;
	int rc = read_all(c, &r);
	if (rc < 0)
		return rc;
	rc = PCREF_ENOTFOUND;
	for (size_t i = 0; rc == PCREF_ENOTFOUND && i < r.n; i++) {
		const char *ref = pcref_opportunity_text(r.items[i], PCREF_FIELD_REFERRAL_ID);
		if (ref && strcmp(ref, referral_id) == 0 && pcref_opportunity_flag(r.items[i], PCREF_FIELD_IS_LEAD) == lead)
			rc = pcref_opportunity_dup(out, r.items[i]);
	}
	records_free(&r);
	return rc == PCREF_ENOTFOUND ? pcref_error_set(rc, "no record has this referral id") : rc;
}

static int find_opportunity(pcref_opportunity **out, const char *referral_id, void *payload)
{
	return find(out, referral_id, 0, payload);
}

static int find_lead(pcref_opportunity **out, const char *referral_id, void *payload)
{
	return find(out, referral_id, 1, payload);
}

static int add_solution(const char *id, const char *solution_id, const char *name, void *payload)
{
	pcref_opportunity *rec;
	int rc = load(payload, id, &rec);
	if (rc == 0 && (rc = pcref_opportunity_solution_add(rec, solution_id, name)) == 0)
		rc = save(payload, rec, NULL);
	pcref_opportunity_free(rec);
	return rc;
}

static int remove_solution(const char *id, const char *solution_id, void *payload)
{
	pcref_opportunity *rec;
	int rc = load(payload, id, &rec);
	if (rc == 0 && (rc = pcref_opportunity_solution_remove(rec, solution_id)) == 0)
		rc = save(payload, rec, NULL);
	pcref_opportunity_free(rec);
	return rc;
}

static int close_opportunity(const char *id, int won, const char *reason, void *payload)
{
	pcref_opportunity *rec;
	int rc = load(payload, id, &rec);
	if (rc == 0) {
		pcref_opportunity_set_text(rec, PCREF_FIELD_STATE, won ? "won" : "lost");
		if (reason)
			pcref_opportunity_set_text(rec, PCREF_FIELD_CLOSE_REASON, reason);
		rc = save(payload, rec, NULL);
	}
	pcref_opportunity_free(rec);
	return rc;
}

/* This CRM takes every currency and every user (R-29 checks pass). */
static int accept_any(const char *what, void *payload)
{
	(void)what;
	(void)payload;
	return PCREF_OK;
}

static void on_event(const pcref_sync_event *ev, void *payload)
{
	(void)payload;
	if (ev->action != PCREF_ACTION_NONE)
		example_print_event(ev);
}

/* `set`: read the record, change one field, write it back — through the pcref_crm API. */
static int set_field(pcref_crm *crm, const char *id, const char *name, const char *value)
{
	int field = pcref_opportunity_field_lookup(name), rc;
	pcref_opportunity *opp, *stored = NULL;
	if (field < 0 || pcref_opportunity_field_kind(field) == PCREF_KIND_TIME) {
		fprintf(stderr, "set: %s is not a text, number or flag field\n", name);
		return PCREF_EINVALID;
	}
	if ((rc = pcref_crm_get_opportunity(&opp, crm, id)) < 0)
		return example_fail(id, rc);
	if (pcref_opportunity_field_kind(field) == PCREF_KIND_NUMBER)
		rc = pcref_opportunity_set_number(opp, field, strtod(value, NULL));
	else if (pcref_opportunity_field_kind(field) == PCREF_KIND_FLAG)
		rc = pcref_opportunity_set_flag(opp, field, strcmp(value, "true") == 0 || strcmp(value, "1") == 0);
	else
		rc = pcref_opportunity_set_text(opp, field, value);
	if (rc == 0 && (rc = pcref_crm_update_opportunity(&stored, crm, opp, &field, 1)) == 0)
		printf("%s: %s = %s (version %s)\n", id, name, value, pcref_opportunity_text(stored, PCREF_FIELD_VERSION));
	else
		example_fail("set", rc);
	pcref_opportunity_free(stored);
	pcref_opportunity_free(opp);
	return rc;
}

int main(int argc, char **argv)
{
	pcref_crm_backend b;
	pcref_sync_options options = PCREF_SYNC_OPTIONS_INIT;
	pcref_sync_report report = PCREF_SYNC_REPORT_INIT;
	dircrm *state;
	pcref_crm *crm;
	example ex;
	int rc;

	if (argc != 2 && (argc != 6 || strcmp(argv[2], "set") != 0)) {
		fprintf(stderr, "usage: %s DIRECTORY [set ID FIELD VALUE]\n", argv[0]);
		return 2;
	}
	if (!(state = calloc(1, sizeof(*state))))
		return 2;
	snprintf(state->dir, sizeof(state->dir), "%s", argv[1]);
	pcref_init();
	pcref_crm_backend_init(&b, PCREF_CRM_BACKEND_VERSION);   /* every member NULL */
	b.name = "json-directory";
	b.payload = state;   /* the CRM owns it from here: destroy() frees it */
	b.destroy = destroy;
	b.get_opportunity = get_opportunity;
	b.find_opportunity = find_opportunity;
	b.create_opportunity = create_opportunity;
	b.update_opportunity = update;
	b.list_modified = list_modified;
	b.add_solution = add_solution;
	b.remove_solution = remove_solution;
	b.close_opportunity = close_opportunity;
	b.find_lead = find_lead;
	b.create_lead = create_lead;
	b.update_lead = update;
	b.resolve_currency = accept_any;
	b.resolve_user = accept_any;

	if ((rc = pcref_crm_new(&crm, &b)) < 0) {   /* copies `b`: it may live on the stack */
		example_fail("pcref_crm_new", rc);
		destroy(state);
		pcref_shutdown();
		return 2;
	}
	if (argc == 6) {
		rc = set_field(crm, argv[3], argv[4], argv[5]);
		pcref_crm_free(crm);
		pcref_shutdown();
		return rc < 0 ? 1 : 0;
	}
	options.on_event = on_event;
	if (example_open_with_crm(&ex, crm, "memory", &options) < 0)   /* "memory": canonical field names */
		return 2;
	if ((rc = pcref_sync_poll(ex.sync, 0, &report)) < 0)
		example_fail("poll", rc);
	example_print_report("poll", &report);
	example_close(&ex);
	return rc < 0 ? 2 : report.failed ? 1 : 0;
}
