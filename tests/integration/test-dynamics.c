/* The Dynamics 365 backend against the Dataverse emulator: what the
 * conformance suite cannot see — the requests themselves ($batch, the close
 * actions, @odata.bind, the OData headers), service protection, a changed
 * column mapping, missing currencies and whole-second timestamps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "pcref/pcref.h"
#include "peer.h"
#include "testutil.h"

#define SELLER_ID "5a7e0000-0000-4000-8000-000000000002"
#define EUR_ID "7c2e0000-0000-4000-8000-000000000978"

static peer emu;
static pcref_connection *conn;
static pcref_crm *crm;

#define OK(expr) ck_assert_msg((expr) == PCREF_OK, "%s: %s", #expr, pcref_error_last()->message)

/* ---- fixtures ------------------------------------------------------------------ */

static pcref_connection *dv_connect(void)
{
	pcref_connection *c = peer_dataverse_connection(&emu);
	ck_assert_msg(c != NULL, "%s", pcref_error_last()->message);
	return c;
}

static void emulator_up(void)
{
	pcref_init();
	ck_assert_msg(peer_start(&emu, "dataverse") == 0, "the Dataverse emulator did not start");
}

static void emulator_down(void)
{
	peer_stop(&emu);
	pcref_shutdown();
}

static void crm_up(void)
{
	peer_post(emu.base, "/_control/reset", NULL);
	conn = dv_connect();
	OK(pcref_crm_dynamics_new(&crm, conn, NULL));
}

static void crm_down(void)
{
	pcref_crm_free(crm);
	pcref_connection_free(conn);
	crm = NULL;
	conn = NULL;
}

/* A stored row of the emulator (free with pcref__json_free), NULL if absent. */
static pcref__json *stored(const char *set, const char *id)
{
	char path[160], *body = NULL;
	pcref__json *row = NULL;
	long status;
	snprintf(path, sizeof(path), "/_control/rows/%s/%s", set, id);
	status = peer_control(emu.base, "GET", path, NULL, &body);
	if (status == 200)
		ck_assert_int_eq(pcref__json_parse(&row, body, strlen(body), "row"), 0);
	free(body);
	return row;
}

static size_t stored_count(const char *set)
{
	char path[96], *body = NULL;
	pcref__json *rows = NULL;
	size_t n;
	snprintf(path, sizeof(path), "/_control/rows/%s", set);
	ck_assert_int_eq(peer_control(emu.base, "GET", path, NULL, &body), 200);
	ck_assert_int_eq(pcref__json_parse(&rows, body, strlen(body), "rows"), 0);
	free(body);
	n = rows->u.arr.len;
	pcref__json_free(rows);
	return n;
}

static const char *str_of(const pcref__json *row, const char *key)
{
	return pcref__json_string(pcref__json_get(row, key));
}

static pcref_opportunity *draft(const char *name, const char *currency)
{
	pcref_opportunity *o;
	OK(pcref_opportunity_new(&o));
	OK(pcref_opportunity_set_text(o, PCREF_FIELD_NAME, name));
	OK(pcref_opportunity_set_number(o, PCREF_FIELD_DEAL_VALUE, 1234.5));
	OK(pcref_opportunity_set_text(o, PCREF_FIELD_CURRENCY, currency));
	OK(pcref_opportunity_set_text(o, PCREF_FIELD_STAGE, "Qualify"));
	OK(pcref_opportunity_set_time(o, PCREF_FIELD_CLOSE_DATE, 1767139200000LL)); /* 2025-12-31 */
	return o;
}

static pcref_opportunity *create(const char *name)
{
	pcref_opportunity *d = draft(name, "USD"), *o = NULL;
	OK(pcref_crm_create_opportunity(&o, crm, d));
	pcref_opportunity_free(d);
	return o;
}

struct collect { size_t count; char **ids; size_t cap; int ordered; int64_t last; };

static int collect_cb(const pcref_opportunity *o, void *payload)
{
	struct collect *c = payload;
	int64_t t = pcref_opportunity_time(o, PCREF_FIELD_MODIFIED_TIME);
	if (c->count == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 256;
		c->ids = realloc(c->ids, c->cap * sizeof(*c->ids));
		ck_assert_ptr_nonnull(c->ids);
	}
	c->ids[c->count++] = strdup(pcref_opportunity_text(o, PCREF_FIELD_ID));
	if (t < c->last)
		c->ordered = 0;
	c->last = t;
	return 0;
}

static int by_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every id once: sort and compare neighbours. */
static void assert_distinct(struct collect *c)
{
	qsort(c->ids, c->count, sizeof(*c->ids), by_str);
	for (size_t i = 1; i < c->count; i++)
		ck_assert_msg(strcmp(c->ids[i - 1], c->ids[i]) != 0, "%s listed twice", c->ids[i]);
}

static void collect_free(struct collect *c)
{
	for (size_t i = 0; i < c->count; i++)
		free(c->ids[i]);
	free(c->ids);
	memset(c, 0, sizeof(*c));
}

/* ---- requests ------------------------------------------------------------------------ */

START_TEST(a_batch_of_500_creates_is_one_request)
{
	pcref_opportunity *d = draft("batched", "EUR");
	const pcref__json *entry;
	pcref__json *log;
	double ops = 0;
	OK(pcref_crm_resolve_currency(crm, "EUR")); /* the look-up is cached */
	peer_log_clear(emu.base);
	OK(pcref_crm_batch_begin(crm));
	for (int i = 0; i < 500; i++)
		OK(pcref_crm_create_opportunity(NULL, crm, d));
	ck_assert_uint_eq(peer_requests(emu.base, NULL, "/api/"), 0); /* nothing sent before the commit */
	OK(pcref_crm_batch_commit(crm));
	log = peer_log(emu.base);
	ck_assert_uint_eq(peer_log_count(log, NULL, "/api/"), 1);
	entry = peer_log_nth(log, "POST", "/api/data/v9.2/$batch", 0);
	ck_assert_ptr_nonnull(entry);
	ck_assert_int_eq(peer_log_status(entry), 200);
	ck_assert_int_eq(pcref__json_number(pcref__json_get(entry, "batch_ops"), &ops), 0);
	ck_assert(ops == 500);
	ck_assert_ptr_nonnull(strstr(peer_log_str(entry, "/headers/content-type"), "multipart/mixed"));
	pcref__json_free(log);
	ck_assert_uint_eq(stored_count("opportunities"), 500);
	/* an empty batch sends nothing */
	peer_log_clear(emu.base);
	OK(pcref_crm_batch_begin(crm));
	OK(pcref_crm_batch_commit(crm));
	ck_assert_uint_eq(peer_requests(emu.base, NULL, "/api/"), 0);
	pcref_opportunity_free(d);
}
END_TEST

START_TEST(a_failed_write_fails_the_whole_batch)
{
	pcref_opportunity *o = create("Read once"), *u = NULL, *d = draft("never made", "USD");
	const int fields[] = { PCREF_FIELD_NOTES };
	char what[96];
	OK(pcref_opportunity_set_text(o, PCREF_FIELD_NOTES, "first writer"));
	OK(pcref_crm_update_opportunity(&u, crm, o, fields, 1));
	OK(pcref_crm_batch_begin(crm));
	OK(pcref_crm_create_opportunity(NULL, crm, d));
	OK(pcref_opportunity_set_text(o, PCREF_FIELD_NOTES, "stale writer"));
	OK(pcref_crm_update_opportunity(NULL, crm, o, fields, 1)); /* held back */
	snprintf(what, sizeof(what), "updating opportunity %s", pcref_opportunity_text(o, PCREF_FIELD_ID));
	tu_assert_error(pcref_crm_batch_commit(crm), PCREF_ECONFLICT, what);
	ck_assert_ptr_nonnull(strstr(pcref_error_last()->message, "re-read"));
	ck_assert_int_eq(pcref_error_last()->http_status, 412);
	ck_assert_uint_eq(stored_count("opportunities"), 1); /* the create was rolled back with it */
	pcref_opportunity_free(o);
	pcref_opportunity_free(u);
	pcref_opportunity_free(d);
}
END_TEST

START_TEST(odata_headers_representation_and_if_match)
{
	pcref_opportunity *o, *u = NULL;
	const int fields[] = { PCREF_FIELD_NAME };
	const pcref__json *post, *patch;
	pcref__json *log;
	peer_log_clear(emu.base);
	o = create("Headers");
	OK(pcref_opportunity_set_text(o, PCREF_FIELD_NAME, "Headers, renamed"));
	OK(pcref_crm_update_opportunity(&u, crm, o, fields, 1));
	log = peer_log(emu.base);
	post = peer_log_nth(log, "POST", "/api/data/v9.2/opportunities", 0);
	patch = peer_log_nth(log, "PATCH", "/api/data/v9.2/opportunities(", 0);
	ck_assert_ptr_nonnull(post);
	ck_assert_ptr_nonnull(patch);
	ck_assert_str_eq(peer_log_str(post, "/headers/odata-version"), "4.0");
	ck_assert_str_eq(peer_log_str(post, "/headers/odata-maxversion"), "4.0");
	ck_assert_str_eq(peer_log_str(post, "/headers/prefer"), "return=representation");
	ck_assert_str_eq(peer_log_str(patch, "/headers/prefer"), "return=representation");
	ck_assert_str_eq(peer_log_str(patch, "/headers/if-match"), pcref_opportunity_text(o, PCREF_FIELD_VERSION));
	/* the answers carried the records: no GET after either write */
	ck_assert_uint_eq(peer_log_count(log, "GET", "/api/data/v9.2/opportunities"), 0);
	pcref__json_free(log);
	ck_assert_str_eq(pcref_opportunity_text(u, PCREF_FIELD_NAME), "Headers, renamed");
	pcref_opportunity_free(o);
	pcref_opportunity_free(u);
}
END_TEST

START_TEST(service_protection_429_is_retried)
{
	pcref_opportunity *o;
	const pcref__json *first;
	pcref__json *log;
	peer_post(emu.base, "/_control/throttle", "{\"count\":1,\"retry_after\":1,\"path\":\"opportunities\"}");
	peer_log_clear(emu.base);
	o = create("Throttled once");
	log = peer_log(emu.base);
	ck_assert_uint_eq(peer_log_count(log, "POST", "/api/data/v9.2/opportunities"), 2);
	first = peer_log_nth(log, "POST", "/api/data/v9.2/opportunities", 0);
	ck_assert_int_eq(peer_log_status(first), 429);
	ck_assert_int_eq(peer_log_status(peer_log_nth(log, "POST", "/api/data/v9.2/opportunities", 1)), 201);
	pcref__json_free(log);
	ck_assert_uint_eq(stored_count("opportunities"), 1); /* refused, then made once */
	pcref_opportunity_free(o);
}
END_TEST

START_TEST(R31_closing_uses_the_actions_never_a_statecode_patch)
{
	pcref_opportunity *w = create("Win me"), *l = create("Lose me");
	pcref__json *row, *closes;
	char *body = NULL;
	const char *wid = pcref_opportunity_text(w, PCREF_FIELD_ID), *lid = pcref_opportunity_text(l, PCREF_FIELD_ID);
	int found = 0;
	peer_log_clear(emu.base);
	OK(pcref_crm_close_opportunity(crm, wid, 1, NULL));
	OK(pcref_crm_close_opportunity(crm, lid, 0, "Lost to a competitor"));
	ck_assert_uint_eq(peer_requests(emu.base, "POST", "/api/data/v9.2/WinOpportunity"), 1);
	ck_assert_uint_eq(peer_requests(emu.base, "POST", "/api/data/v9.2/LoseOpportunity"), 1);
	ck_assert_uint_eq(peer_requests(emu.base, "PATCH", "/api/"), 0);
	row = stored("opportunities", wid);
	ck_assert(pcref__json_get(row, "statecode")->u.str.text[0] == '1');
	pcref__json_free(row);
	row = stored("opportunities", lid);
	ck_assert(pcref__json_get(row, "statecode")->u.str.text[0] == '2');
	pcref__json_free(row);
	/* the reason went to the close activity */
	ck_assert_int_eq(peer_control(emu.base, "GET", "/_control/rows/opportunitycloses", NULL, &body), 200);
	ck_assert_int_eq(pcref__json_parse(&closes, body, strlen(body), "rows"), 0);
	free(body);
	for (size_t i = 0; i < closes->u.arr.len; i++) {
		const char *desc = str_of(closes->u.arr.items[i], "description");
		if (desc && strcmp(desc, "Lost to a competitor") == 0 &&
		    strcmp(str_of(closes->u.arr.items[i], "_opportunityid_value"), lid) == 0)
			found = 1;
	}
	ck_assert(found);
	pcref__json_free(closes);
	pcref_opportunity_free(w);
	pcref_opportunity_free(l);
}
END_TEST

START_TEST(lookups_are_bound_on_create_and_read_back)
{
	pcref_opportunity *d = draft("Bound", "EUR"), *o = NULL, *g = NULL;
	pcref__json *row;
	const char *id;
	OK(pcref_opportunity_set_text(d, PCREF_FIELD_ACCOUNT_NAME, "Fabrikam"));
	OK(pcref_opportunity_set_text(d, PCREF_FIELD_ACCOUNT_POSTAL_CODE, "111 51"));
	OK(pcref_opportunity_set_text(d, PCREF_FIELD_ACCOUNT_COUNTRY, "SE"));
	OK(pcref_opportunity_set_text(d, PCREF_FIELD_CONTACT_FIRST_NAME, "Anna"));
	OK(pcref_opportunity_set_text(d, PCREF_FIELD_CONTACT_LAST_NAME, "Berg"));
	OK(pcref_opportunity_set_text(d, PCREF_FIELD_CONTACT_EMAIL, "anna.berg@fabrikam.example"));
	OK(pcref_opportunity_set_text(d, PCREF_FIELD_OWNER_EMAIL, "seller@contoso.example"));
	OK(pcref_crm_ensure_account(crm, d, NULL, 0));
	OK(pcref_crm_ensure_contact(crm, d));
	OK(pcref_crm_create_opportunity(&o, crm, d));
	id = pcref_opportunity_text(o, PCREF_FIELD_ID);
	row = stored("opportunities", id);
	ck_assert_ptr_nonnull(row);
	ck_assert_str_eq(str_of(row, "_parentaccountid_value"), pcref_opportunity_text(d, PCREF_FIELD_ACCOUNT_ID));
	ck_assert_str_eq(str_of(row, "_parentcontactid_value"), pcref_opportunity_text(d, PCREF_FIELD_CONTACT_ID));
	ck_assert_str_eq(str_of(row, "_transactioncurrencyid_value"), EUR_ID);
	ck_assert_str_eq(str_of(row, "_ownerid_value"), SELLER_ID);
	ck_assert_str_eq(str_of(row, "estimatedclosedate"), "2025-12-31");
	pcref__json_free(row);
	/* the contact belongs to the account */
	row = stored("contacts", pcref_opportunity_text(d, PCREF_FIELD_CONTACT_ID));
	ck_assert_str_eq(str_of(row, "_parentcustomerid_value"), pcref_opportunity_text(d, PCREF_FIELD_ACCOUNT_ID));
	pcref__json_free(row);
	/* read back: ids from _x_value, the currency's code, the owner's email,
	 * and the account's and contact's details */
	OK(pcref_crm_get_opportunity(&g, crm, id));
	ck_assert_str_eq(pcref_opportunity_text(g, PCREF_FIELD_ACCOUNT_ID), pcref_opportunity_text(d, PCREF_FIELD_ACCOUNT_ID));
	ck_assert_str_eq(pcref_opportunity_text(g, PCREF_FIELD_CURRENCY), "EUR");
	ck_assert_str_eq(pcref_opportunity_text(g, PCREF_FIELD_OWNER_EMAIL), "seller@contoso.example");
	ck_assert_str_eq(pcref_opportunity_text(g, PCREF_FIELD_ACCOUNT_NAME), "Fabrikam");
	ck_assert_str_eq(pcref_opportunity_text(g, PCREF_FIELD_ACCOUNT_COUNTRY), "SE");
	ck_assert_str_eq(pcref_opportunity_text(g, PCREF_FIELD_CONTACT_EMAIL), "anna.berg@fabrikam.example");
	ck_assert_str_eq(pcref_opportunity_text(g, PCREF_FIELD_STAGE), "Qualify");
	pcref_opportunity_free(d);
	pcref_opportunity_free(o);
	pcref_opportunity_free(g);
}
END_TEST

START_TEST(a_changed_column_mapping_is_honoured)
{
	pcref_mapping *m, *sf;
	pcref_crm *custom = NULL;
	pcref_opportunity *d = draft("Mapped", "USD"), *o = NULL, *g = NULL;
	const pcref__json *get;
	pcref__json *row, *log;
	OK(pcref_mapping_new(&m, "dynamics"));
	OK(pcref_mapping_set_column(m, PCREF_FIELD_DEAL_VALUE, "actualvalue"));
	OK(pcref_mapping_set_column(m, PCREF_FIELD_STAGE, NULL));
	OK(pcref_crm_dynamics_new(&custom, conn, m));
	pcref_mapping_free(m); /* the CRM keeps its own copy */
	OK(pcref_crm_create_opportunity(&o, custom, d));
	row = stored("opportunities", pcref_opportunity_text(o, PCREF_FIELD_ID));
	ck_assert_ptr_nonnull(strstr(pcref__json_get(row, "actualvalue")->u.str.text, "1234.5"));
	ck_assert(pcref__json_get(row, "estimatedvalue")->type == PCREF__JSON_NULL);
	ck_assert(pcref__json_get(row, "stepname")->type == PCREF__JSON_NULL); /* unmapped: not written */
	pcref__json_free(row);
	peer_log_clear(emu.base);
	OK(pcref_crm_get_opportunity(&g, custom, pcref_opportunity_text(o, PCREF_FIELD_ID)));
	ck_assert(pcref_opportunity_number(g, PCREF_FIELD_DEAL_VALUE) == 1234.5);
	ck_assert(!pcref_opportunity_has(g, PCREF_FIELD_STAGE));                  /* ... nor read */
	log = peer_log(emu.base);
	get = peer_log_nth(log, "GET", "/api/data/v9.2/opportunities(", 0);
	ck_assert_ptr_nonnull(strstr(peer_log_str(get, "/query/$select"), "actualvalue"));
	ck_assert_ptr_null(strstr(peer_log_str(get, "/query/$select"), "stepname"));
	pcref__json_free(log);
	pcref_crm_free(custom);
	/* a mapping for another backend is refused */
	OK(pcref_mapping_new(&sf, "salesforce"));
	tu_assert_error(pcref_crm_dynamics_new(&custom, conn, sf), PCREF_EINVALID, "salesforce");
	pcref_mapping_free(sf);
	pcref_opportunity_free(d);
	pcref_opportunity_free(o);
	pcref_opportunity_free(g);
}
END_TEST

START_TEST(R32_custom_columns_are_written_on_create_and_read_back)
{
	static const char doc[] = "{\"backend\":\"dynamics\",\"extra\":[{\"referral\":\"/customerProfile/size\","
	                          "\"crm\":\"closeprobability\"}]}";
	pcref_mapping *m;
	pcref_crm *custom = NULL;
	pcref_opportunity *d = draft("Custom", "USD"), *o = NULL, *g = NULL;
	pcref__json *row;
	char *json = NULL;
	OK(pcref_mapping_load(&m, doc, sizeof(doc) - 1));
	OK(pcref_crm_dynamics_new(&custom, conn, m));
	pcref_mapping_free(m);
	OK(pcref_opportunity_extra_set(d, "closeprobability", "40", 2));
	OK(pcref_crm_create_opportunity(&o, custom, d));
	row = stored("opportunities", pcref_opportunity_text(o, PCREF_FIELD_ID));
	ck_assert_str_eq(pcref__json_get(row, "closeprobability")->u.str.text, "40");
	pcref__json_free(row);
	OK(pcref_crm_get_opportunity(&g, custom, pcref_opportunity_text(o, PCREF_FIELD_ID)));
	OK(pcref_opportunity_extra_get(g, "closeprobability", &json));
	ck_assert_str_eq(json, "40");
	pcref_free(json);
	pcref_crm_free(custom);
	pcref_opportunity_free(d);
	pcref_opportunity_free(o);
	pcref_opportunity_free(g);
}
END_TEST

START_TEST(more_than_1000_writes_go_in_requests_of_1000)
{
	pcref_opportunity *d = draft("many", "USD");
	OK(pcref_crm_resolve_currency(crm, "USD"));
	peer_log_clear(emu.base);
	OK(pcref_crm_batch_begin(crm));
	for (int i = 0; i < 1001; i++)
		OK(pcref_crm_create_opportunity(NULL, crm, d));
	OK(pcref_crm_batch_commit(crm));
	ck_assert_uint_eq(peer_requests(emu.base, "POST", "/api/data/v9.2/$batch"), 2);
	ck_assert_uint_eq(peer_requests(emu.base, NULL, "/api/"), 2);
	ck_assert_uint_eq(stored_count("opportunities"), 1001);
	pcref_opportunity_free(d);
}
END_TEST

START_TEST(R29_a_missing_currency_is_named_and_nothing_is_created)
{
	pcref_opportunity *d = draft("Swiss deal", "CHF"), *o = NULL;
	peer_log_clear(emu.base);
	tu_assert_error(pcref_crm_create_opportunity(&o, crm, d), PCREF_ENOTFOUND, "CHF");
	ck_assert_ptr_nonnull(strstr(pcref_error_last()->message, "add it"));
	ck_assert_ptr_null(o);
	/* in a batch too: refused at once, nothing held back */
	OK(pcref_crm_batch_begin(crm));
	tu_assert_error(pcref_crm_create_opportunity(NULL, crm, d), PCREF_ENOTFOUND, "CHF");
	OK(pcref_crm_batch_commit(crm));
	ck_assert_uint_eq(peer_requests(emu.base, "POST", "/api/"), 0);
	ck_assert_uint_eq(stored_count("opportunities"), 0);
	/* an owner who is not a user is named the same way */
	OK(pcref_opportunity_set_text(d, PCREF_FIELD_CURRENCY, "USD"));
	OK(pcref_opportunity_set_text(d, PCREF_FIELD_OWNER_EMAIL, "nobody@contoso.example"));
	tu_assert_error(pcref_crm_create_opportunity(&o, crm, d), PCREF_ENOTFOUND, "nobody@contoso.example");
	ck_assert_uint_eq(stored_count("opportunities"), 0);
	pcref_opportunity_free(d);
}
END_TEST

START_TEST(whole_second_timestamps_list_every_row_once)
{
	struct collect all, since;
	pcref_opportunity *probe;
	int64_t mark;
	size_t later;
	memset(&all, 0, sizeof(all));
	memset(&since, 0, sizeof(since));
	all.ordered = since.ordered = 1;
	all.last = since.last = PCREF_TIME_NONE;
	peer_post(emu.base, "/_control/config", "{\"datetime_digits\":0}");
	peer_post(emu.base, "/_control/generate", "{\"set\":\"opportunities\",\"count\":1200}");
	OK(pcref_crm_list_modified(crm, PCREF_TIME_NONE, collect_cb, &all));
	ck_assert_uint_eq(all.count, 1200);
	ck_assert(all.ordered);
	assert_distinct(&all);
	/* a watermark with whole seconds still lists what came at or after it */
	probe = create("After the generated ones");
	mark = pcref_opportunity_time(probe, PCREF_FIELD_MODIFIED_TIME);
	ck_assert_int_eq(mark % 1000, 0);
	OK(pcref_crm_list_modified(crm, mark, collect_cb, &since));
	ck_assert_uint_ge(since.count, 1);
	later = since.count;
	assert_distinct(&since);
	ck_assert_uint_le(later, 1201);
	pcref_opportunity_free(probe);
	collect_free(&all);
	collect_free(&since);
}
END_TEST

struct with_solutions { size_t count, linked; const char *first, *last; };

static int solutions_cb(const pcref_opportunity *o, void *payload)
{
	struct with_solutions *w = payload;
	const char *id = pcref_opportunity_text(o, PCREF_FIELD_ID);
	w->count++;
	if (strcmp(id, w->first) == 0 || strcmp(id, w->last) == 0) {
		ck_assert_uint_eq(pcref_opportunity_solution_count(o), 1);
		ck_assert_str_eq(pcref_opportunity_solution_name(o, 0), strcmp(id, w->first) == 0 ? "First" : "Last");
		w->linked++;
	} else {
		ck_assert_uint_eq(pcref_opportunity_solution_count(o), 0);
	}
	return 0;
}

START_TEST(R07_listing_carries_every_opportunitys_solutions)
{
	char *body = NULL;
	pcref__json *gen;
	const pcref__json *ids;
	struct with_solutions w = { 0, 0, NULL, NULL };
	ck_assert_int_eq(peer_control(emu.base, "POST", "/_control/generate",
	                              "{\"set\":\"opportunities\",\"count\":650}", &body), 200);
	ck_assert_int_eq(pcref__json_parse(&gen, body, strlen(body), "generated"), 0);
	free(body);
	ids = pcref__json_get(gen, "ids");
	w.first = pcref__json_string(ids->u.arr.items[0]);
	w.last = pcref__json_string(ids->u.arr.items[649]); /* on the second page, past the first 100 */
	OK(pcref_crm_add_solution(crm, w.first, "SOL-1", "First"));
	OK(pcref_crm_add_solution(crm, w.last, "SOL-2", "Last"));
	OK(pcref_crm_add_solution(crm, w.last, "SOL-2", "Last")); /* no duplicate */
	ck_assert_uint_eq(stored_count("msft_mpcsolutions"), 2);
	OK(pcref_crm_list_modified(crm, PCREF_TIME_NONE, solutions_cb, &w));
	ck_assert_uint_eq(w.count, 650);
	ck_assert_uint_eq(w.linked, 2);
	pcref__json_free(gen);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dynamics");
	TCase *tc;
	SRunner *sr;
	int failed;
	peer_require_python();
	tc = tu_tcase(s, "dataverse");
	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, emulator_up, emulator_down);
	tcase_add_checked_fixture(tc, crm_up, crm_down);
	tcase_add_test(tc, a_batch_of_500_creates_is_one_request);
	tcase_add_test(tc, a_failed_write_fails_the_whole_batch);
	tcase_add_test(tc, odata_headers_representation_and_if_match);
	tcase_add_test(tc, service_protection_429_is_retried);
	tcase_add_test(tc, R31_closing_uses_the_actions_never_a_statecode_patch);
	tcase_add_test(tc, lookups_are_bound_on_create_and_read_back);
	tcase_add_test(tc, a_changed_column_mapping_is_honoured);
	tcase_add_test(tc, R29_a_missing_currency_is_named_and_nothing_is_created);
	tcase_add_test(tc, R32_custom_columns_are_written_on_create_and_read_back);
	tcase_add_test(tc, more_than_1000_writes_go_in_requests_of_1000);
	tcase_add_test(tc, whole_second_timestamps_list_every_row_once);
	tcase_add_test(tc, R07_listing_carries_every_opportunitys_solutions);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
