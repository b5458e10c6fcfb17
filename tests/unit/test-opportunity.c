/* The Opportunity handle and the CRM handle's vtable rules. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pcref/pcref.h"
#include "pcref/sys/crm_backend.h"
#include "testutil.h"

START_TEST(fields_are_typed_and_named)
{
	pcref_opportunity *o;
	ck_assert_int_eq(pcref_opportunity_field_count(), PCREF_FIELD_IS_LEAD + 1);
	ck_assert_str_eq(pcref_opportunity_field_name(PCREF_FIELD_DEAL_VALUE), "deal_value");
	ck_assert_int_eq(pcref_opportunity_field_kind(PCREF_FIELD_CLOSE_DATE), PCREF_KIND_TIME);
	ck_assert_int_eq(pcref_opportunity_field_lookup("referral_id"), PCREF_FIELD_REFERRAL_ID);
	ck_assert_int_eq(pcref_opportunity_field_lookup("nope"), -1);
	ck_assert_ptr_null(pcref_opportunity_field_name(999));
	for (int f = 0; f < pcref_opportunity_field_count(); f++)
		ck_assert_int_eq(pcref_opportunity_field_lookup(pcref_opportunity_field_name(f)), f);
	ck_assert_int_eq(pcref_opportunity_new(&o), PCREF_OK);
	ck_assert(!pcref_opportunity_has(o, PCREF_FIELD_NAME));
	ck_assert_ptr_null(pcref_opportunity_text(o, PCREF_FIELD_NAME));
	ck_assert(isnan(pcref_opportunity_number(o, PCREF_FIELD_DEAL_VALUE)));
	ck_assert_int_eq(pcref_opportunity_time(o, PCREF_FIELD_CLOSE_DATE), PCREF_TIME_NONE);
	ck_assert_int_eq(pcref_opportunity_flag(o, PCREF_FIELD_SYNC), -1);
	tu_assert_error(pcref_opportunity_set_text(o, PCREF_FIELD_DEAL_VALUE, "5"), PCREF_EINVALID, "holds a number");
	tu_assert_error(pcref_opportunity_set_number(o, PCREF_FIELD_NAME, 5), PCREF_EINVALID, "holds a text");
	tu_assert_error(pcref_opportunity_set_text(o, 77, "x"), PCREF_EINVALID, "unknown opportunity field");
	tu_assert_error(pcref_opportunity_set_text(o, PCREF_FIELD_CURRENCY, "dollars"), PCREF_EINVALID, "currency");
	tu_assert_error(pcref_opportunity_set_text(o, PCREF_FIELD_ACCOUNT_COUNTRY, "Sweden"), PCREF_EINVALID,
	                "account_country");
	tu_assert_error(pcref_opportunity_set_text(o, PCREF_FIELD_STATE, "closed"), PCREF_EINVALID, "open, won or lost");
	tu_assert_error(pcref_opportunity_set_flag(o, PCREF_FIELD_SYNC, 2), PCREF_EINVALID, "0 or 1");
	tu_assert_error(pcref_opportunity_set_number(o, PCREF_FIELD_DEAL_VALUE, INFINITY), PCREF_EINVALID, "finite");
	ck_assert_int_eq(pcref_opportunity_set_text(o, PCREF_FIELD_CURRENCY, "SEK"), PCREF_OK);
	ck_assert_int_eq(pcref_opportunity_set_number(o, PCREF_FIELD_DEAL_VALUE, NAN), PCREF_OK); /* unsets */
	ck_assert(!pcref_opportunity_has(o, PCREF_FIELD_DEAL_VALUE));
	pcref_opportunity_free(o);
}
END_TEST

START_TEST(json_round_trip_and_equality)
{
	pcref_opportunity *o, *back, *copy;
	char *json, *json2;
	ck_assert_int_eq(pcref_opportunity_new(&o), PCREF_OK);
	pcref_opportunity_set_text(o, PCREF_FIELD_NAME, "Fabrikam \"cloud\" deal");
	pcref_opportunity_set_number(o, PCREF_FIELD_DEAL_VALUE, 125000.5);
	pcref_opportunity_set_text(o, PCREF_FIELD_CURRENCY, "SEK");
	pcref_opportunity_set_time(o, PCREF_FIELD_CLOSE_DATE, 1656547200000LL);
	pcref_opportunity_set_flag(o, PCREF_FIELD_SYNC, 1);
	pcref_opportunity_solution_add(o, "SOL-1", "One");
	pcref_opportunity_solution_add(o, "SOL-2", NULL);
	pcref_opportunity_solution_add(o, "SOL-1", "One, renamed");
	pcref_opportunity_extra_set(o, "new_budget", "{\"q\":[1,2]}", 11);
	ck_assert_int_eq(pcref_opportunity_to_json(o, &json, NULL), PCREF_OK);
	ck_assert_str_eq(json, "{\"fields\":{\"name\":\"Fabrikam \\\"cloud\\\" deal\",\"deal_value\":125000.5,"
	                       "\"currency\":\"SEK\",\"close_date\":\"2022-06-30T00:00:00Z\",\"sync\":true},"
	                       "\"solutions\":[{\"id\":\"SOL-1\",\"name\":\"One, renamed\"},{\"id\":\"SOL-2\"}],"
	                       "\"extra\":{\"new_budget\":{\"q\":[1,2]}}}");
	ck_assert_int_eq(pcref_opportunity_from_json(&back, json, strlen(json)), PCREF_OK);
	ck_assert_int_eq(pcref_opportunity_to_json(back, &json2, NULL), PCREF_OK);
	ck_assert_str_eq(json, json2);
	ck_assert_int_eq(pcref_opportunity_dup(&copy, back), PCREF_OK);
	for (int f = 0; f < pcref_opportunity_field_count(); f++)
		ck_assert(pcref_opportunity_field_equal(o, copy, f));
	ck_assert(pcref_opportunity_solutions_equal(o, copy));
	pcref_opportunity_solution_remove(copy, "SOL-2");
	ck_assert(!pcref_opportunity_solutions_equal(o, copy));
	tu_assert_error(pcref_opportunity_solution_remove(copy, "SOL-9"), PCREF_ENOTFOUND, "SOL-9");
	pcref_opportunity_set_number(copy, PCREF_FIELD_DEAL_VALUE, 1);
	ck_assert(!pcref_opportunity_field_equal(o, copy, PCREF_FIELD_DEAL_VALUE));
	ck_assert_str_eq(pcref_opportunity_extra_name(copy, 0), "new_budget");
	tu_assert_error(pcref_opportunity_from_json(&back, "{\"fields\":{\"bogus\":1}}", 22), PCREF_EINVALID, "bogus");
	tu_assert_error(pcref_opportunity_from_json(&back, "{\"fields\":{\"sync\":\"yes\"}}", 25), PCREF_EINVALID,
	                "cannot hold a JSON string");
	pcref_free(json);
	pcref_free(json2);
	pcref_opportunity_free(o);
	pcref_opportunity_free(back);
	pcref_opportunity_free(copy);
}
END_TEST

static int destroyed;
static void destroy(void *payload) { (void)payload; destroyed++; }

START_TEST(backend_vtable_rules)
{
	pcref_crm_backend b;
	pcref_crm *crm = NULL;
	pcref_opportunity *o = NULL;
	ck_assert_int_eq(pcref_crm_backend_init(&b, PCREF_CRM_BACKEND_VERSION), PCREF_OK);
	tu_assert_error(pcref_crm_new(&crm, &b), PCREF_EINVALID, "destroy");
	b.version = PCREF_CRM_BACKEND_VERSION + 1;
	b.destroy = destroy;
	tu_assert_error(pcref_crm_new(&crm, &b), PCREF_EVERSION, "rebuild the backend");
	tu_assert_error(pcref_crm_backend_init(&b, 0), PCREF_EVERSION, "version 0");
	b.version = PCREF_CRM_BACKEND_VERSION;
	b.name = "minimal";
	ck_assert_int_eq(pcref_crm_new(&crm, &b), PCREF_OK);
	ck_assert_str_eq(pcref_crm_name(crm), "minimal");
	/* only destroy given: everything else is "not supported", batching is a no-op */
	tu_assert_error(pcref_crm_get_opportunity(&o, crm, "x"), PCREF_ENOTSUPPORTED, "get_opportunity");
	tu_assert_error(pcref_crm_resolve_currency(crm, "USD"), PCREF_ENOTSUPPORTED, "minimal");
	ck_assert_int_eq(pcref_crm_batch_begin(crm), PCREF_OK);
	ck_assert_int_eq(pcref_crm_batch_commit(crm), PCREF_OK);
	pcref_crm_free(crm);
	ck_assert_int_eq(destroyed, 1);
}
END_TEST

static int silent_failure(const char *iso, void *payload) { (void)iso; (void)payload; return PCREF_ESTORE; }

START_TEST(a_failing_member_without_a_message_gets_one)
{
	pcref_crm_backend b;
	pcref_crm *crm;
	pcref_crm_backend_init(&b, PCREF_CRM_BACKEND_VERSION);
	b.name = "quiet";
	b.destroy = destroy;
	b.resolve_currency = silent_failure;
	ck_assert_int_eq(pcref_crm_new(&crm, &b), PCREF_OK);
	tu_assert_error(pcref_crm_resolve_currency(crm, "USD"), PCREF_ESTORE, "'quiet' CRM backend failed in resolve_currency");
	pcref_crm_free(crm);
}
END_TEST

START_TEST(memory_config_is_validated)
{
	pcref_crm *crm = NULL;
	tu_assert_error(pcref_crm_memory_new(&crm, "[1]"), PCREF_EINVALID, "JSON object");
	tu_assert_error(pcref_crm_memory_new(&crm, "{\"currencies\":[\"USD\",\"dollar\"]}"), PCREF_EINVALID, "dollar");
	tu_assert_error(pcref_crm_memory_new(&crm, "{\"users\":[1]}"), PCREF_EINVALID, "users");
	ck_assert_ptr_null(crm);
	ck_assert_int_eq(pcref_crm_memory_new(&crm, NULL), PCREF_OK);
	ck_assert_int_eq(pcref_crm_resolve_currency(crm, "JPY"), PCREF_OK);
	ck_assert_int_eq(pcref_crm_resolve_user(crm, "anyone@example.com"), PCREF_OK);
	pcref_crm_free(crm);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("opportunity");
	TCase *tc = tu_tcase(s, "opportunity");
	tcase_add_test(tc, fields_are_typed_and_named);
	tcase_add_test(tc, json_round_trip_and_equality);
	tc = tu_tcase(s, "crm");
	tcase_add_test(tc, backend_vtable_rules);
	tcase_add_test(tc, a_failing_member_without_a_message_gets_one);
	tcase_add_test(tc, memory_config_is_validated);
	return tu_run(s);
}
