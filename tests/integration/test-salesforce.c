/* The Salesforce backend against the Salesforce emulator: what the
 * conformance suite cannot see — the requests themselves (Collections and
 * Composite batches, nextRecordsUrl paging, the upsert, If-Unmodified-Since,
 * the API version, the instance URL), the org's API limit and the error
 * arrays' field names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "pcref/pcref.h"
#include "peer.h"
#include "testutil.h"

#define SELLER_ID "005000000000000002"

static peer emu;
static pcref_connection *conn;
static pcref_crm *crm;

#define OK(expr) ck_assert_msg((expr) == PCREF_OK, "%s: %s", #expr, pcref_error_last()->message)

/* ---- fixtures ------------------------------------------------------------------ */

static pcref_connection *sf_connect(int32_t auth)
{
	pcref_connection *c = peer_salesforce_connection(&emu, auth);
	ck_assert_msg(c != NULL, "%s", pcref_error_last()->message);
	return c;
}

static void emulator_up(void)
{
	pcref_init();
	ck_assert_msg(peer_start(&emu, "salesforce") == 0, "the Salesforce emulator did not start");
}

static void emulator_down(void)
{
	peer_stop(&emu);
	pcref_shutdown();
}

static void crm_up(void)
{
	peer_post(emu.base, "/_control/reset", NULL);
	conn = sf_connect(PCREF_AUTH_CLIENT_CREDENTIALS);
	OK(pcref_crm_salesforce_new(&crm, conn, NULL));
}

static void crm_down(void)
{
	pcref_crm_free(crm);
	pcref_connection_free(conn);
	crm = NULL;
	conn = NULL;
}

/* A CRM on the same connection with a mapping document. */
static pcref_crm *with_mapping(const char *json)
{
	pcref_mapping *m = NULL;
	pcref_crm *c = NULL;
	OK(pcref_mapping_load(&m, json, strlen(json)));
	OK(pcref_crm_salesforce_new(&c, conn, m));
	pcref_mapping_free(m);
	return c;
}

static pcref__json *rows(const char *object)
{
	char path[96], *body = NULL;
	pcref__json *out = NULL;
	snprintf(path, sizeof(path), "/_control/rows/%s", object);
	ck_assert_int_eq(peer_control(emu.base, "GET", path, NULL, &body), 200);
	ck_assert_int_eq(pcref__json_parse(&out, body, strlen(body), "rows"), 0);
	free(body);
	return out;
}

static size_t row_count(const char *object)
{
	pcref__json *r = rows(object);
	size_t n = r->u.arr.len;
	pcref__json_free(r);
	return n;
}

static pcref_opportunity *draft(const char *name, const char *referral_id)
{
	pcref_opportunity *o;
	OK(pcref_opportunity_new(&o));
	OK(pcref_opportunity_set_text(o, PCREF_FIELD_NAME, name));
	OK(pcref_opportunity_set_number(o, PCREF_FIELD_DEAL_VALUE, 1234.5));
	OK(pcref_opportunity_set_text(o, PCREF_FIELD_CURRENCY, "EUR"));
	OK(pcref_opportunity_set_time(o, PCREF_FIELD_CLOSE_DATE, 1767139200000LL)); /* 2025-12-31 */
	if (referral_id)
		OK(pcref_opportunity_set_text(o, PCREF_FIELD_REFERRAL_ID, referral_id));
	return o;
}

static pcref_opportunity *create(const char *name)
{
	pcref_opportunity *d = draft(name, NULL), *o = NULL;
	OK(pcref_crm_create_opportunity(&o, crm, d));
	pcref_opportunity_free(d);
	return o;
}

/* Make a record look modified by someone else, `seconds` from now. */
static void touch(const char *id, int seconds)
{
	char body[160];
	snprintf(body, sizeof(body), "{\"object\":\"Opportunity\",\"id\":\"%s\",\"seconds\":%d}", id, seconds);
	peer_post(emu.base, "/_control/touch", body);
}

static double batch_ops(const pcref__json *entry)
{
	double ops = -1;
	pcref__json_number(pcref__json_get(entry, "batch_ops"), &ops);
	return ops;
}

static int count_cb(const pcref_opportunity *o, void *payload)
{
	(void)o;
	(*(size_t *)payload)++;
	return 0;
}

/* ---- tests -------------------------------------------------------------------------- */

START_TEST(batched_creates_go_as_collections_of_200)
{
	pcref_opportunity *d = draft("batched", NULL);
	const pcref__json *first, *second;
	pcref__json *log;
	OK(pcref_crm_resolve_currency(crm, "EUR")); /* the look-up is cached */
	peer_log_clear(emu.base);
	OK(pcref_crm_batch_begin(crm));
	for (int i = 0; i < 250; i++)
		OK(pcref_crm_create_opportunity(NULL, crm, d));
	ck_assert_uint_eq(peer_requests(emu.base, NULL, "/services/data/"), 0); /* nothing before the commit */
	OK(pcref_crm_batch_commit(crm));
	log = peer_log(emu.base);
	ck_assert_uint_eq(peer_log_count(log, NULL, "/services/data/"), 2);
	first = peer_log_nth(log, "POST", "/services/data/v60.0/composite/sobjects", 0);
	second = peer_log_nth(log, "POST", "/services/data/v60.0/composite/sobjects", 1);
	ck_assert_ptr_nonnull(first);
	ck_assert_ptr_nonnull(second);
	ck_assert(batch_ops(first) == 200);
	ck_assert(batch_ops(second) == 50);
	pcref__json_free(log);
	ck_assert_uint_eq(row_count("Opportunity"), 250);
	pcref_opportunity_free(d);
}
END_TEST

START_TEST(a_failed_record_fails_its_collection_and_names_the_field)
{
	pcref_crm *bad = with_mapping("{\"backend\":\"salesforce\",\"columns\":{\"notes\":\"Notes__x\"}}");
	pcref_opportunity *d = draft("never made", NULL);
	OK(pcref_opportunity_set_text(d, PCREF_FIELD_NOTES, "text"));
	OK(pcref_crm_batch_begin(bad));
	OK(pcref_crm_create_opportunity(NULL, bad, d));
	tu_assert_error(pcref_crm_batch_commit(bad), PCREF_EINVALID, "Notes__x");
	ck_assert_ptr_nonnull(strstr(pcref_error_last()->message, "INVALID_FIELD"));
	ck_assert_str_eq(pcref_error_last()->service_code, "INVALID_FIELD");
	/* the same outside a batch: the error array's field is named */
	tu_assert_error(pcref_crm_create_opportunity(NULL, bad, d), PCREF_EINVALID, "fields: Notes__x");
	ck_assert_uint_eq(row_count("Opportunity"), 0);
	pcref_opportunity_free(d);
	pcref_crm_free(bad);
}
END_TEST

START_TEST(listing_follows_next_records_url)
{
	size_t n = 0;
	peer_post(emu.base, "/_control/generate", "{\"object\":\"Opportunity\",\"count\":4500}");
	peer_log_clear(emu.base);
	OK(pcref_crm_list_modified(crm, PCREF_TIME_NONE, count_cb, &n));
	ck_assert_uint_eq(n, 4500);
	/* 2000 + 2000 + 500: the query, then its nextRecordsUrl twice */
	ck_assert_uint_eq(peer_requests(emu.base, "GET", "/services/data/v60.0/query/01g"), 2);
}
END_TEST

START_TEST(updates_are_conditional_on_last_modified_date)
{
	pcref_opportunity *o = create("Versioned"), *u = NULL, *out = NULL;
	const int fields[] = { PCREF_FIELD_NOTES };
	const pcref__json *patch;
	pcref__json *log;
	OK(pcref_opportunity_set_text(o, PCREF_FIELD_NOTES, "first"));
	peer_log_clear(emu.base);
	OK(pcref_crm_update_opportunity(&u, crm, o, fields, 1));
	log = peer_log(emu.base);
	patch = peer_log_nth(log, "PATCH", "/sobjects/Opportunity/", 0);
	ck_assert_ptr_nonnull(patch);
	ck_assert_ptr_nonnull(peer_log_str(patch, "/headers/if-unmodified-since"));
	ck_assert_ptr_nonnull(strstr(peer_log_str(patch, "/headers/if-unmodified-since"), " GMT"));
	pcref__json_free(log);
	/* someone else changes it a few seconds later: the stale version loses */
	touch(pcref_opportunity_text(u, PCREF_FIELD_ID), 3);
	peer_log_clear(emu.base);
	tu_assert_error(pcref_crm_update_opportunity(&out, crm, u, fields, 1), PCREF_ECONFLICT, "re-read");
	ck_assert_ptr_null(out);
	ck_assert_uint_eq(peer_requests(emu.base, "PATCH", "/services/data/"), 0);
	/* in a batch the If-Unmodified-Since header itself is the check: 412 */
	OK(pcref_crm_batch_begin(crm));
	OK(pcref_crm_update_opportunity(NULL, crm, u, fields, 1));
	tu_assert_error(pcref_crm_batch_commit(crm), PCREF_ECONFLICT, "re-read the record");
	ck_assert_int_eq(pcref_error_last()->http_status, 412);
	log = peer_log(emu.base);
	ck_assert_ptr_nonnull(peer_log_nth(log, "POST", "/services/data/v60.0/composite", 0));
	pcref__json_free(log);
	pcref_opportunity_free(o);
	pcref_opportunity_free(u);
}
END_TEST

START_TEST(request_limit_exceeded_pauses_calls)
{
	peer_post(emu.base, "/_control/limits", "{\"used\":5000,\"max\":5000}");
	tu_assert_error(pcref_crm_resolve_currency(crm, "USD"), PCREF_ETHROTTLED, "api-usage=5001/5000");
	ck_assert_str_eq(pcref_error_last()->service_code, "REQUEST_LIMIT_EXCEEDED");
	peer_log_clear(emu.base);
	tu_assert_error(pcref_crm_resolve_currency(crm, "EUR"), PCREF_ETHROTTLED, "paused");
	ck_assert_uint_eq(peer_requests(emu.base, NULL, "/services/data/"), 0); /* not sent */
}
END_TEST

START_TEST(concurrent_request_limit_is_throttled_not_paused)
{
	peer_post(emu.base, "/_control/throttle", "{\"count\":1}");
	tu_assert_error(pcref_crm_resolve_currency(crm, "USD"), PCREF_ETHROTTLED, "concurrent");
	OK(pcref_crm_resolve_currency(crm, "USD"));
}
END_TEST

START_TEST(calls_go_to_the_instance_url_of_the_token)
{
	const pcref__json *entry;
	pcref__json *log;
	pcref_crm_free(crm);
	pcref_connection_free(conn);
	peer_post(emu.base, "/_control/config", "{\"instance_host\":\"localhost\"}");
	conn = sf_connect(PCREF_AUTH_CLIENT_CREDENTIALS);
	OK(pcref_crm_salesforce_new(&crm, conn, NULL));
	peer_log_clear(emu.base);
	OK(pcref_crm_resolve_currency(crm, "USD"));
	log = peer_log(emu.base);
	entry = peer_log_nth(log, "GET", "/services/data/v60.0/query", 0);
	ck_assert_ptr_nonnull(entry);
	ck_assert_msg(strncmp(peer_log_str(entry, "/headers/host"), "localhost:", 10) == 0, "host %s",
	              peer_log_str(entry, "/headers/host"));
	pcref__json_free(log);
}
END_TEST

START_TEST(the_api_version_comes_from_the_mapping)
{
	pcref_crm *old = with_mapping("{\"backend\":\"salesforce\",\"api_version\":\"v58.0\"}");
	pcref_mapping *m = NULL;
	const char *bad = "{\"backend\":\"salesforce\",\"api_version\":\"58\"}";
	peer_log_clear(emu.base);
	OK(pcref_crm_resolve_user(old, "seller@contoso.example"));
	ck_assert_uint_eq(peer_requests(emu.base, "GET", "/services/data/v58.0/query"), 1);
	ck_assert_uint_eq(peer_requests(emu.base, "GET", "/services/data/v60.0/"), 0);
	pcref_crm_free(old);
	tu_assert_error(pcref_mapping_load(&m, bad, strlen(bad)), PCREF_EINVALID, "/api_version");
}
END_TEST

START_TEST(creates_with_a_referral_id_upsert_on_it)
{
	pcref_opportunity *d = draft("Upserted", "ref-up"), *a = NULL, *b = NULL;
	OK(pcref_crm_create_opportunity(&a, crm, d));
	OK(pcref_crm_create_opportunity(&b, crm, d)); /* a repeated create: no duplicate */
	ck_assert_str_eq(pcref_opportunity_text(a, PCREF_FIELD_ID), pcref_opportunity_text(b, PCREF_FIELD_ID));
	ck_assert_str_eq(pcref_opportunity_text(b, PCREF_FIELD_REFERRAL_ID), "ref-up");
	ck_assert_uint_eq(peer_requests(emu.base, "PATCH", "/sobjects/Opportunity/Referral_Identifier__c/ref-up"), 2);
	ck_assert_uint_eq(row_count("Opportunity"), 1);
	pcref_opportunity_free(a);
	pcref_opportunity_free(b);
	pcref_opportunity_free(d);
}
END_TEST

START_TEST(R40_owner_joins_the_team_and_contact_becomes_primary_role)
{
	pcref_opportunity *d = draft("Team", NULL), *o = NULL, *u = NULL;
	const int fields[] = { PCREF_FIELD_CONTACT_ID };
	pcref__json *members, *roles;
	OK(pcref_opportunity_set_text(d, PCREF_FIELD_OWNER_EMAIL, "seller@contoso.example"));
	OK(pcref_opportunity_set_text(d, PCREF_FIELD_ACCOUNT_NAME, "Fabrikam"));
	OK(pcref_opportunity_set_text(d, PCREF_FIELD_ACCOUNT_COUNTRY, "SE"));
	OK(pcref_crm_ensure_account(crm, d, NULL, 0));
	OK(pcref_crm_create_opportunity(&o, crm, d));
	ck_assert_str_eq(pcref_opportunity_text(o, PCREF_FIELD_OWNER_EMAIL), "seller@contoso.example");
	ck_assert_str_eq(pcref_opportunity_text(o, PCREF_FIELD_ACCOUNT_NAME), "Fabrikam"); /* Account.Name */
	ck_assert_str_eq(pcref_opportunity_text(o, PCREF_FIELD_ACCOUNT_COUNTRY), "SE");
	members = rows("OpportunityTeamMember");
	ck_assert_uint_eq(members->u.arr.len, 1);
	ck_assert_str_eq(pcref__json_string(pcref__json_get(members->u.arr.items[0], "UserId")), SELLER_ID);
	pcref__json_free(members);
	OK(pcref_opportunity_set_text(o, PCREF_FIELD_CONTACT_LAST_NAME, "Berg"));
	OK(pcref_opportunity_set_text(o, PCREF_FIELD_CONTACT_EMAIL, "anna.berg@fabrikam.example"));
	OK(pcref_crm_ensure_contact(crm, o));
	OK(pcref_crm_update_opportunity(&u, crm, o, fields, 1));
	ck_assert_str_eq(pcref_opportunity_text(u, PCREF_FIELD_CONTACT_ID), pcref_opportunity_text(o, PCREF_FIELD_CONTACT_ID));
	ck_assert_str_eq(pcref_opportunity_text(u, PCREF_FIELD_CONTACT_EMAIL), "anna.berg@fabrikam.example");
	roles = rows("OpportunityContactRole");
	ck_assert_uint_eq(roles->u.arr.len, 1);
	ck_assert(pcref__json_get(roles->u.arr.items[0], "IsPrimary")->u.boolean);
	pcref__json_free(roles);
	pcref_opportunity_free(d);
	pcref_opportunity_free(o);
	pcref_opportunity_free(u);
}
END_TEST

START_TEST(R42_closing_writes_the_mappings_stage_names)
{
	pcref_crm *custom = with_mapping("{\"backend\":\"salesforce\",\"stages\":{\"lost\":\"No Such Stage\"}}");
	pcref_opportunity *w = create("Winner"), *l = create("Loser");
	pcref__json *row;
	char *body = NULL, path[96];
	OK(pcref_crm_close_opportunity(crm, pcref_opportunity_text(w, PCREF_FIELD_ID), 1, NULL));
	snprintf(path, sizeof(path), "/_control/rows/Opportunity/%s", pcref_opportunity_text(w, PCREF_FIELD_ID));
	ck_assert_int_eq(peer_control(emu.base, "GET", path, NULL, &body), 200);
	ck_assert_int_eq(pcref__json_parse(&row, body, strlen(body), "row"), 0);
	ck_assert_str_eq(pcref__json_string(pcref__json_get(row, "StageName")), "Closed Won");
	pcref__json_free(row);
	free(body);
	tu_assert_error(pcref_crm_close_opportunity(custom, pcref_opportunity_text(l, PCREF_FIELD_ID), 0, NULL),
	                PCREF_EINVALID, "stages.lost");
	pcref_crm_free(custom);
	pcref_opportunity_free(w);
	pcref_opportunity_free(l);
}
END_TEST

START_TEST(a_refresh_token_connection_works)
{
	pcref_connection *c = sf_connect(PCREF_AUTH_REFRESH_TOKEN);
	pcref_crm *r = NULL;
	OK(pcref_crm_salesforce_new(&r, c, NULL));
	pcref_connection_free(c);
	OK(pcref_crm_resolve_user(r, "seller@contoso.example"));
	tu_assert_error(pcref_crm_resolve_user(r, "nobody@contoso.example"), PCREF_ENOTFOUND, "nobody@contoso.example");
	pcref_crm_free(r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("salesforce");
	TCase *tc;
	SRunner *sr;
	int failed;
	peer_require_python();
	tc = tu_tcase(s, "salesforce");
	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, emulator_up, emulator_down);
	tcase_add_checked_fixture(tc, crm_up, crm_down);
	tcase_add_test(tc, batched_creates_go_as_collections_of_200);
	tcase_add_test(tc, a_failed_record_fails_its_collection_and_names_the_field);
	tcase_add_test(tc, listing_follows_next_records_url);
	tcase_add_test(tc, updates_are_conditional_on_last_modified_date);
	tcase_add_test(tc, request_limit_exceeded_pauses_calls);
	tcase_add_test(tc, concurrent_request_limit_is_throttled_not_paused);
	tcase_add_test(tc, calls_go_to_the_instance_url_of_the_token);
	tcase_add_test(tc, the_api_version_comes_from_the_mapping);
	tcase_add_test(tc, creates_with_a_referral_id_upsert_on_it);
	tcase_add_test(tc, R40_owner_joins_the_team_and_contact_becomes_primary_role);
	tcase_add_test(tc, R42_closing_writes_the_mappings_stage_names);
	tcase_add_test(tc, a_refresh_token_connection_works);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
