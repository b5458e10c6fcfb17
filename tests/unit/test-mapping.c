/* The Mapping handle: per-backend defaults and document overrides. */
#include <string.h>

#include "pcref/pcref.h"
#include "testutil.h"

START_TEST(R50_dynamics_defaults)
{
	pcref_mapping *m;
	ck_assert_int_eq(pcref_mapping_new(&m, "dynamics"), PCREF_OK);
	ck_assert_str_eq(pcref_mapping_backend(m), "dynamics");
	ck_assert_str_eq(pcref_mapping_column(m, PCREF_FIELD_DEAL_VALUE), "estimatedvalue");
	ck_assert_str_eq(pcref_mapping_column(m, PCREF_FIELD_ACCOUNT_COUNTRY), "address1_country");
	ck_assert_str_eq(pcref_mapping_column(m, PCREF_FIELD_CURRENCY), "transactioncurrencyid");
	ck_assert_str_eq(pcref_mapping_column(m, PCREF_FIELD_REFERRAL_ID), "msft_microsoftpartnercenterreferralidentifier");
	ck_assert_str_eq(pcref_mapping_entity(m, "solution"), "msft_mpcsolutions");
	ck_assert_ptr_null(pcref_mapping_entity(m, "nope"));
	ck_assert_int_eq(pcref_mapping_option(m, PCREF_OPTION_CHECK_MARK), 1);          /* */
	ck_assert_int_eq(pcref_mapping_option(m, PCREF_OPTION_SYNC_COSELL_ONLY), 0);    /* */
	ck_assert_int_eq(pcref_mapping_option(m, 9), -1);
	ck_assert_uint_eq(pcref_mapping_account_match_count(m), 2);                     /* */
	ck_assert_int_eq(pcref_mapping_account_match(m, 0), PCREF_FIELD_ACCOUNT_NAME);
	ck_assert_int_eq(pcref_mapping_account_match(m, 1), PCREF_FIELD_ACCOUNT_POSTAL_CODE);
	ck_assert_int_eq(pcref_mapping_conflict_winner(m, PCREF_FIELD_REFERRAL_LINK), PCREF_WINNER_PARTNER_CENTER);
	ck_assert_int_eq(pcref_mapping_conflict_winner(m, PCREF_FIELD_STAGE), PCREF_WINNER_CRM);
	ck_assert_int_eq(pcref_mapping_conflict_winner(m, PCREF_FIELD_DEAL_VALUE), PCREF_WINNER_NEWEST);
	pcref_mapping_free(m);
}
END_TEST

START_TEST(R41_R42_salesforce_defaults)
{
	pcref_mapping *m;
	ck_assert_int_eq(pcref_mapping_new(&m, "salesforce"), PCREF_OK);
	ck_assert_str_eq(pcref_mapping_column(m, PCREF_FIELD_DEAL_VALUE), "Amount");
	ck_assert_str_eq(pcref_mapping_column(m, PCREF_FIELD_CURRENCY), "CurrencyIsoCode");
	ck_assert_str_eq(pcref_mapping_column(m, PCREF_FIELD_ACCOUNT_COUNTRY), "BillingCountry");
	ck_assert_str_eq(pcref_mapping_stage(m, PCREF_STAGE_WON), "Closed Won");
	ck_assert_int_eq(pcref_mapping_option(m, PCREF_OPTION_SYNC_COSELL_ONLY), 1); /* Salesforce default Yes */
	ck_assert_str_eq(pcref_mapping_entity(m, "team_member"), "OpportunityTeamMember");         /* */
	ck_assert_str_eq(pcref_mapping_entity(m, "contact_role"), "OpportunityContactRole");
	ck_assert_str_eq(pcref_mapping_required_default(m, "opportunity", "StageName"), "Qualification"); /* */
	pcref_mapping_free(m);
	tu_assert_error(pcref_mapping_new(&m, "sap"), PCREF_EINVALID, "'sap'");
}
END_TEST

START_TEST(R12_R14_R32_documents_override_defaults)
{
	const char doc[] =
		"{\"backend\":\"dynamics\",\"columns\":{\"deal_value\":\"new_calculatedrevenue\","
		"\"account_country\":\"new_countrycode\",\"help\":null},"
		"\"stages\":{\"on_hold\":\"Waiting for Microsoft\"},\"check_mark\":false,\"sync_cosell_only\":true,"
		"\"account_match\":[\"account_name\"],"
		"\"required_defaults\":{\"opportunity\":{\"new_region\":\"EMEA\",\"new_priority\":2}},"
		"\"extra\":[{\"referral\":\"/customerProfile/size\",\"crm\":\"new_customersize\",\"direction\":\"to_crm\"},"
		"{\"referral\":\"/details/notes\",\"crm\":\"new_pcnotes\"}],"
		"\"conflicts\":{\"default\":\"partner_center\",\"crm\":[\"deal_value\"]}}";
	pcref_mapping *m, *again;
	char *json;
	ck_assert_int_eq(pcref_mapping_load(&m, doc, strlen(doc)), PCREF_OK);
	ck_assert_str_eq(pcref_mapping_column(m, PCREF_FIELD_DEAL_VALUE), "new_calculatedrevenue");
	ck_assert_str_eq(pcref_mapping_column(m, PCREF_FIELD_ACCOUNT_COUNTRY), "new_countrycode");
	ck_assert_ptr_null(pcref_mapping_column(m, PCREF_FIELD_HELP));            /* unmapped */
	ck_assert_str_eq(pcref_mapping_column(m, PCREF_FIELD_NAME), "name");       /* default kept */
	ck_assert_str_eq(pcref_mapping_stage(m, PCREF_STAGE_ON_HOLD), "Waiting for Microsoft");
	ck_assert_str_eq(pcref_mapping_stage(m, PCREF_STAGE_ACTIVE), "Qualify");
	ck_assert_int_eq(pcref_mapping_option(m, PCREF_OPTION_CHECK_MARK), 0);
	ck_assert_int_eq(pcref_mapping_option(m, PCREF_OPTION_SYNC_COSELL_ONLY), 1);
	ck_assert_uint_eq(pcref_mapping_account_match_count(m), 1);
	ck_assert_uint_eq(pcref_mapping_required_default_count(m, "opportunity"), 2);
	ck_assert_str_eq(pcref_mapping_required_default_column(m, "opportunity", 0), "new_region");
	ck_assert_str_eq(pcref_mapping_required_default(m, "opportunity", "new_region"), "EMEA");
	ck_assert_str_eq(pcref_mapping_required_default(m, "opportunity", "new_priority"), "2");
	ck_assert_uint_eq(pcref_mapping_required_default_count(m, "lead"), 0);
	ck_assert_uint_eq(pcref_mapping_extra_count(m), 2);
	ck_assert_str_eq(pcref_mapping_extra_referral(m, 0), "/customerProfile/size");
	ck_assert_int_eq(pcref_mapping_extra_direction(m, 0), PCREF_DIRECTION_TO_CRM);
	ck_assert_int_eq(pcref_mapping_extra_direction(m, 1), PCREF_DIRECTION_BOTH);
	ck_assert_int_eq(pcref_mapping_conflict_winner(m, PCREF_FIELD_DEAL_VALUE), PCREF_WINNER_CRM);
	ck_assert_int_eq(pcref_mapping_conflict_winner(m, PCREF_FIELD_NOTES), PCREF_WINNER_PARTNER_CENTER);
	ck_assert_int_eq(pcref_mapping_set_column(m, PCREF_FIELD_NOTES, "new_notes"), PCREF_OK);
	/* the written document loads back to the same configuration */
	ck_assert_int_eq(pcref_mapping_to_json(m, &json, NULL), PCREF_OK);
	ck_assert_int_eq(pcref_mapping_load(&again, json, strlen(json)), PCREF_OK);
	ck_assert_str_eq(pcref_mapping_column(again, PCREF_FIELD_NOTES), "new_notes");
	ck_assert_str_eq(pcref_mapping_stage(again, PCREF_STAGE_ON_HOLD), "Waiting for Microsoft");
	pcref_free(json);
	pcref_mapping_free(m);
	pcref_mapping_free(again);
}
END_TEST

START_TEST(bad_documents_name_the_offending_value)
{
	static const struct { const char *doc; const char *needle; } cases[] = {
		{ "{\"columns\":{}}", "/backend" },
		{ "{\"backend\":7}", "/backend" },
		{ "{\"backend\":\"dynamics\",\"colums\":{}}", "/colums: unknown setting" },
		{ "{\"backend\":\"dynamics\",\"columns\":{\"deal_valu\":\"x\"}}", "/columns/deal_valu" },
		{ "{\"backend\":\"dynamics\",\"columns\":{\"deal_value\":5}}", "/columns/deal_value" },
		{ "{\"backend\":\"dynamics\",\"stages\":{\"on_hold\":\"\"}}", "/stages/on_hold" },
		{ "{\"backend\":\"dynamics\",\"check_mark\":\"yes\"}", "/check_mark" },
		{ "{\"backend\":\"dynamics\",\"account_match\":[\"account_name\",\"notes\"]}", "/account_match/1" },
		{ "{\"backend\":\"dynamics\",\"account_match\":[]}", "/account_match" },
		{ "{\"backend\":\"dynamics\",\"required_defaults\":{\"quote\":{}}}", "/required_defaults/quote" },
		{ "{\"backend\":\"dynamics\",\"extra\":[{\"referral\":\"size\",\"crm\":\"x\"}]}", "/extra/0/referral" },
		{ "{\"backend\":\"dynamics\",\"extra\":[{\"referral\":\"/a\",\"crm\":\"x\",\"direction\":\"up\"}]}", "/extra/0/direction" },
		{ "{\"backend\":\"dynamics\",\"conflicts\":{\"default\":\"loudest\"}}", "/conflicts/default" },
		{ "{\"backend\":\"dynamics\",\"conflicts\":{\"crm\":[\"bogus\"]}}", "/conflicts/crm/0" },
		{ "{\"backend\":\"salesforce\",\"api_version\":\"60.0\"}", "/api_version" },
		{ "{\"backend\":\"salesforce\",\"api_version\":\"v60.\"}", "/api_version" },
		{ "{\"backend\":\"salesforce\",\"external_id\":\"\"}", "/external_id" },
		{ "{\"backend\":\"salesforce\",\"solution_columns\":{\"opp\":\"X__c\"}}", "/solution_columns/opp" },
		{ "[1]", "JSON object" },
	};
	pcref_mapping *m = NULL;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_msg(pcref_mapping_load(&m, cases[i].doc, strlen(cases[i].doc)) == PCREF_EINVALID, "case %zu", i);
		ck_assert_msg(strstr(pcref_error_last()->message, cases[i].needle), "case %zu: %s", i,
		              pcref_error_last()->message);
		ck_assert_ptr_null(m);
	}
	tu_assert_error(pcref_mapping_load(&m, "{", 1), PCREF_EPROTOCOL, "mapping document");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mapping");
	TCase *tc = tu_tcase(s, "defaults");
	tcase_add_test(tc, R50_dynamics_defaults);
	tcase_add_test(tc, R41_R42_salesforce_defaults);
	tc = tu_tcase(s, "documents");
	tcase_add_test(tc, R12_R14_R32_documents_override_defaults);
	tcase_add_test(tc, bad_documents_name_the_offending_value);
	return tu_run(s);
}
