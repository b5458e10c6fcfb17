/* The Referral handle (partner-center-api.md §3, §2.6, §4.2). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "pcref/pcref.h"
#include "testutil.h"

static pcref_referral *load(const char *fixture)
{
	size_t len;
	char *json = tu_fixture(fixture, &len);
	pcref_referral *r = NULL;
	ck_assert_msg(pcref_referral_parse(&r, json, len) == PCREF_OK, "%s: %s", fixture,
	              pcref_error_last()->message);
	free(json);
	return r;
}

static pcref_referral *parse_str(const char *json)
{
	pcref_referral *r = NULL;
	ck_assert_msg(pcref_referral_parse(&r, json, strlen(json)) == PCREF_OK, "%s",
	              pcref_error_last()->message);
	return r;
}

static char *diff(const pcref_referral *a, const pcref_referral *b)
{
	char *patch;
	ck_assert_int_eq(pcref_referral_diff(&patch, NULL, a, b), PCREF_OK);
	return patch;
}

START_TEST(canonical_example_getters)
{
	pcref_referral *r = load("referral-canonical.json");
	ck_assert_str_eq(pcref_referral_id(r), "61c65491-2f2c-461a-84b4-3654499bc1d9");
	ck_assert_str_eq(pcref_referral_engagement_id(r), "b1c40bb4-6d36-4eca-baa3-e1460cf2a454");
	ck_assert_str_eq(pcref_referral_organization_name(r), "Contoso Company");
	ck_assert_str_eq(pcref_referral_status(r), "New");
	ck_assert_str_eq(pcref_referral_substatus(r), "Pending");
	ck_assert_ptr_null(pcref_referral_status_reason(r)); /* explicit null */
	ck_assert_ptr_null(pcref_referral_name(r));           /* absent */
	ck_assert_str_eq(pcref_referral_type(r), "Independent");
	ck_assert_str_eq(pcref_referral_qualification(r), "SalesQualified");
	ck_assert_str_eq(pcref_referral_etag(r), "\"2500ec5a-0000-0000-0000-5bf4967d0000\"");
	ck_assert_int_eq(pcref_referral_created_time(r), 1540848292040LL);
	ck_assert_int_eq(pcref_referral_expiration_time(r), 1541462400000LL);
	ck_assert_int_eq(pcref_referral_closed_time(r), PCREF_TIME_NONE);
	ck_assert_str_eq(pcref_referral_customer_name(r), "Contoso Customer Inc");
	ck_assert_str_eq(pcref_referral_address_line1(r), "One Microsoft Way");
	ck_assert_str_eq(pcref_referral_address_city(r), "Redmond");
	ck_assert_str_eq(pcref_referral_address_postal_code(r), "98052");
	ck_assert_str_eq(pcref_referral_address_country(r), "US");
	ck_assert_str_eq(pcref_referral_address_region(r), "Washington");
	ck_assert_str_eq(pcref_referral_customer_size(r), "10to50employees");
	ck_assert_int_eq(pcref_referral_consent(r, PCREF_CONSENT_SHARE_INFO_WITH_OTHERS), 1);
	ck_assert_int_eq(pcref_referral_consent(r, PCREF_CONSENT_SHARE_WITH_MICROSOFT_SELLERS), -1);
	ck_assert_int_eq(pcref_referral_consent(r, 99), -1);
	ck_assert(pcref_referral_deal_value(r) == 50000.0);
	ck_assert_str_eq(pcref_referral_currency(r), "USD");
	ck_assert_int_eq(pcref_referral_closing_time(r), PCREF_TIME_NONE);
	ck_assert_uint_eq(pcref_referral_solution_count(r), 1);
	ck_assert_str_eq(pcref_referral_solution_id(r, 0), "Dynamics365forFieldService");
	ck_assert_str_eq(pcref_referral_solution_type(r, 0), "Category");
	ck_assert_ptr_null(pcref_referral_solution_id(r, 1));
	ck_assert_uint_eq(pcref_referral_member_count(r, PCREF_MEMBERS_CUSTOMER), 1);
	ck_assert_str_eq(pcref_referral_member_email(r, PCREF_MEMBERS_CUSTOMER, 0), "sue.smith@contoso.com");
	ck_assert_str_eq(pcref_referral_member_first_name(r, PCREF_MEMBERS_PARTNER, 0), "John");
	ck_assert_uint_eq(pcref_referral_member_count(r, 7), 0);
	ck_assert_str_eq(pcref_referral_invited_by_organization_id(r), "msft");
	ck_assert_str_eq(pcref_referral_invite_notes(r), "Hi ABC Partner, ...");
	ck_assert_uint_eq(pcref_referral_target_count(r), 1);
	ck_assert_str_eq(pcref_referral_target_type(r, 0), "BusinessProfileLocation");
	ck_assert_str_eq(pcref_referral_get_string(r, "/customerProfile/ids/0/profileType"), "Duns");
	pcref_referral_free(r);
}
END_TEST

START_TEST(real_2022_response_getters)
{
	pcref_referral *r = load("referral-2022.json");
	ck_assert_str_eq(pcref_referral_direction(r), "Incoming");
	ck_assert_str_eq(pcref_referral_microsoft_msx_id(r), "7-3ABCDEF12");
	ck_assert_str_eq(pcref_referral_assistance_request_code(r), "CustomerTechnicalArchitecture");
	ck_assert_str_eq(pcref_referral_invited_by_organization_name(r), "Microsoft");
	/* +01:00 offset and 7 fractional digits */
	ck_assert_int_eq(pcref_referral_updated_time(r), 1646647374457LL);
	ck_assert_int_eq(pcref_referral_accepted_time(r), 1644912000000LL);
	ck_assert(pcref_referral_deal_value(r) == 125000.5);
	/* mixed-case consent member, as in the service's own samples */
	ck_assert_int_eq(pcref_referral_consent(r, PCREF_CONSENT_SHARE_WITH_MICROSOFT_SELLERS), 1);
	ck_assert_int_eq(pcref_referral_closing_time(r), 1656547200000LL);
	pcref_referral_free(r);
}
END_TEST

START_TEST(compact_referral_round_trips_byte_for_byte)
{
	size_t len, outlen;
	char *in = tu_fixture("referral-canonical.json", &len), *out;
	pcref_referral *r;
	while (len && (in[len - 1] == '\n' || in[len - 1] == ' '))
		in[--len] = '\0';
	ck_assert_int_eq(pcref_referral_parse(&r, in, len), PCREF_OK);
	ck_assert_int_eq(pcref_referral_to_json(r, &out, &outlen), PCREF_OK);
	ck_assert_uint_eq(outlen, len);
	ck_assert_str_eq(out, in);
	pcref_free(out);
	pcref_referral_free(r);
	free(in);
}
END_TEST

START_TEST(unknown_fields_and_nulls_survive_an_edit)
{
	pcref_referral *r = load("referral-2022.json"), *back;
	pcref__json *orig, *written;
	size_t len;
	char *in = tu_fixture("referral-2022.json", &len), *out, *patch;

	ck_assert_int_eq(pcref_referral_set_notes(r, "edited"), PCREF_OK);
	ck_assert_int_eq(pcref_referral_to_json(r, &out, NULL), PCREF_OK);
	/* everything the library does not model is still there, verbatim */
	/* (\u00e9 comes back as UTF-8: the same string; NUL stays escaped) */
	ck_assert_ptr_nonnull(strstr(out, "\"futureField\":{\"nested\":[1,2.50,-3e-7,\"x\xc3\xa9\\u0000y\"]"
	                                  ",\"flag\":true,\"nothing\":null}"));
	ck_assert_ptr_nonnull(strstr(out, "\"salesStage\":\"100\""));
	ck_assert_ptr_nonnull(strstr(out, "\"incentiveLevel\":null"));
	ck_assert_ptr_nonnull(strstr(out, "\"registrations\":[{\"id\":\"reg-1\""));
	ck_assert_ptr_nonnull(strstr(out, "\"title\":\"CIO\""));
	ck_assert_ptr_nonnull(strstr(out, "\"dealValue\":125000.50"));
	/* and only the edited field differs from the input */
	ck_assert_int_eq(pcref__json_parse(&orig, in, len, "in"), 0);
	ck_assert_int_eq(pcref__json_parse(&written, out, strlen(out), "out"), 0);
	ck_assert(!pcref__json_equal(orig, written));
	pcref__json_pointer_set(written, "/details/notes",
	                        pcref__json_new_string("Customer wants to move 40 VMs to Azure.", 39));
	ck_assert(pcref__json_equal(orig, written));
	/* written back and parsed again, the diff is exactly the edit */
	ck_assert_int_eq(pcref_referral_parse(&back, out, strlen(out)), PCREF_OK);
	pcref_referral_free(r);
	r = load("referral-2022.json");
	patch = diff(r, back);
	ck_assert_str_eq(patch, "[{\"op\":\"replace\",\"path\":\"/details/notes\",\"value\":\"edited\"}]");
	pcref_free(patch);
	pcref__json_free(orig);
	pcref__json_free(written);
	pcref_free(out);
	free(in);
	pcref_referral_free(back);
	pcref_referral_free(r);
}
END_TEST

START_TEST(deal_value_change_is_exactly_one_replace)
{
	pcref_referral *a = load("referral-canonical.json"), *b;
	char *patch;
	ck_assert_int_eq(pcref_referral_dup(&b, a), PCREF_OK);
	patch = diff(a, b);
	ck_assert_str_eq(patch, "[]");
	pcref_free(patch);
	ck_assert_int_eq(pcref_referral_set_deal_value(b, 60000), PCREF_OK);
	patch = diff(a, b);
	ck_assert_str_eq(patch, "[{\"op\":\"replace\",\"path\":\"/details/dealValue\",\"value\":60000}]");
	pcref_free(patch);
	pcref_referral_free(a);
	pcref_referral_free(b);
}
END_TEST

START_TEST(diff_adds_replaces_and_skips_read_only)
{
	pcref_referral *a = parse_str("{\"id\":\"1\",\"eTag\":\"\\\"a\\\"\",\"name\":\"x\",\"details\":"
	                              "{\"notes\":\"n\"},\"team\":[{\"email\":\"a@b\"}],\"gone\":1,"
	                              "\"a/b\":1,\"@odata.context\":\"c\"}");
	pcref_referral *b = parse_str("{\"id\":\"2\",\"eTag\":\"\\\"b\\\"\",\"name\":\"y\",\"details\":"
	                              "{\"notes\":\"n\",\"currency\":\"EUR\"},\"team\":[{\"email\":\"c@d\"}],"
	                              "\"a/b\":2,\"status\":\"Closed\"}");
	char *patch = diff(a, b);
	ck_assert_str_eq(patch,
		"[{\"op\":\"replace\",\"path\":\"/name\",\"value\":\"y\"},"
		"{\"op\":\"add\",\"path\":\"/details/currency\",\"value\":\"EUR\"},"
		"{\"op\":\"replace\",\"path\":\"/team\",\"value\":[{\"email\":\"c@d\"}]},"
		"{\"op\":\"replace\",\"path\":\"/a~1b\",\"value\":2},"
		"{\"op\":\"add\",\"path\":\"/status\",\"value\":\"Closed\"},"
		"{\"op\":\"replace\",\"path\":\"/gone\",\"value\":null}]");
	pcref_free(patch);
	pcref_referral_free(a);
	pcref_referral_free(b);
}
END_TEST

START_TEST(setters_write_and_validate)
{
	pcref_referral *r;
	char *json;
	ck_assert_int_eq(pcref_referral_new(&r), PCREF_OK);
	ck_assert_int_eq(pcref_referral_set_name(r, "Deal"), PCREF_OK);
	ck_assert_int_eq(pcref_referral_set_type(r, "Shared"), PCREF_OK);
	tu_assert_error(pcref_referral_set_type(r, "shared"), PCREF_EINVALID, "Independent, Shared");
	ck_assert_int_eq(pcref_referral_set_qualification(r, "SalesQualified"), PCREF_OK);
	ck_assert_int_eq(pcref_referral_set_status(r, "New", "Pending"), PCREF_OK);
	tu_assert_error(pcref_referral_set_status(r, "Active", "Won"), PCREF_EINVALID, "allowed: Accepted");
	ck_assert_str_eq(pcref_referral_status(r), "New");
	ck_assert_int_eq(pcref_referral_set_customer_name(r, "Fabrikam"), PCREF_OK);
	ck_assert_int_eq(pcref_referral_set_address_country(r, "SE"), PCREF_OK);
	tu_assert_error(pcref_referral_set_address_country(r, "Sweden"), PCREF_EINVALID, "two-letter");
	tu_assert_error(pcref_referral_set_address_country(r, "se"), PCREF_EINVALID, "'SE'");
	ck_assert_int_eq(pcref_referral_set_address_postal_code(r, "111 51"), PCREF_OK);
	ck_assert_int_eq(pcref_referral_set_currency(r, "SEK"), PCREF_OK);
	tu_assert_error(pcref_referral_set_currency(r, "XXX"), PCREF_EINVALID, "ISO 4217");
	ck_assert_int_eq(pcref_referral_set_deal_value(r, 1234.5), PCREF_OK);
	tu_assert_error(pcref_referral_set_deal_value(r, -1), PCREF_EINVALID, "0 or more");
	tu_assert_error(pcref_referral_set_deal_value(r, INFINITY), PCREF_EINVALID, "finite");
	ck_assert_int_eq(pcref_referral_set_closing_time(r, 1709164800000LL), PCREF_OK);
	ck_assert_int_eq(pcref_referral_set_consent(r, PCREF_CONSENT_SHARE_WITH_MICROSOFT_SELLERS, 1), PCREF_OK);
	tu_assert_error(pcref_referral_set_consent(r, 12, 1), PCREF_EINVALID, "PCREF_CONSENT_");
	ck_assert_int_eq(pcref_referral_member_add(r, PCREF_MEMBERS_CUSTOMER, "Anna", "Berg",
	                                           "anna@fabrikam.example", NULL), PCREF_OK);
	tu_assert_error(pcref_referral_member_add(r, 5, "a", NULL, NULL, NULL), PCREF_EINVALID, "member list");
	ck_assert_int_eq(pcref_referral_solution_add(r, "SOL-1", "One", NULL), PCREF_OK);
	ck_assert_int_eq(pcref_referral_solution_add(r, "SOL-2", NULL, "Category"), PCREF_OK);
	tu_assert_error(pcref_referral_solution_add(r, "", NULL, NULL), PCREF_EINVALID, "needs an id");
	tu_assert_error(pcref_referral_solution_add(r, "S", NULL, "Bogus"), PCREF_EINVALID, "Bogus");
	ck_assert_int_eq(pcref_referral_solution_remove(r, 0), PCREF_OK);
	tu_assert_error(pcref_referral_solution_remove(r, 5), PCREF_ENOTFOUND, "element 5");
	ck_assert_int_eq(pcref_referral_target_add(r, "BusinessProfileLocation", "msft"), PCREF_OK);
	tu_assert_error(pcref_referral_target_add(r, "Elsewhere", "x"), PCREF_EINVALID, "target");
	ck_assert_int_eq(pcref_referral_set_invited_by_organization_id(r, "msft"), PCREF_OK);
	ck_assert_int_eq(pcref_referral_set_assistance_request_code(r, "ProofOfConceptOrDemo"), PCREF_OK);
	ck_assert_int_eq(pcref_referral_to_json(r, &json, NULL), PCREF_OK);
	ck_assert_str_eq(json,
		"{\"name\":\"Deal\",\"type\":\"Shared\",\"qualification\":\"SalesQualified\",\"status\":\"New\","
		"\"substatus\":\"Pending\",\"customerProfile\":{\"name\":\"Fabrikam\",\"address\":{\"country\":\"SE\","
		"\"postalCode\":\"111 51\"},\"team\":[{\"firstName\":\"Anna\",\"lastName\":\"Berg\",\"email\":"
		"\"anna@fabrikam.example\"}]},\"details\":{\"currency\":\"SEK\",\"dealValue\":1234.5,"
		"\"closingDateTime\":\"2024-02-29T00:00:00Z\",\"requirements\":{\"solutions\":[{\"id\":\"SOL-2\","
		"\"type\":\"Category\"}]}},\"consent\":{\"consentToShareReferralWithMicrosoftSellers\":true},"
		"\"target\":[{\"type\":\"BusinessProfileLocation\",\"id\":\"msft\"}],\"inviteContext\":{\"invitedBy\":"
		"{\"organizationId\":\"msft\"},\"assistanceRequestCode\":\"ProofOfConceptOrDemo\"}}");
	ck_assert_int_eq(pcref_referral_validate(r, 0), PCREF_OK);
	pcref_free(json);
	/* NULL writes null; NaN deal value writes null */
	ck_assert_int_eq(pcref_referral_set_name(r, NULL), PCREF_OK);
	ck_assert_ptr_null(pcref_referral_name(r));
	ck_assert_int_eq(pcref_referral_set_deal_value(r, NAN), PCREF_OK);
	ck_assert(isnan(pcref_referral_deal_value(r)));
	pcref_referral_free(r);
}
END_TEST

START_TEST(consent_keeps_the_services_spelling)
{
	pcref_referral *r = parse_str("{\"consent\":{\"ConsentToContact\":false}}");
	char *json;
	ck_assert_int_eq(pcref_referral_consent(r, PCREF_CONSENT_CONTACT), 0);
	ck_assert_int_eq(pcref_referral_set_consent(r, PCREF_CONSENT_CONTACT, 1), PCREF_OK);
	ck_assert_int_eq(pcref_referral_to_json(r, &json, NULL), PCREF_OK);
	ck_assert_str_eq(json, "{\"consent\":{\"ConsentToContact\":true}}");
	pcref_free(json);
	pcref_referral_free(r);
}
END_TEST

START_TEST(json_pointer_access)
{
	pcref_referral *r = load("referral-2022.json");
	char *json;
	ck_assert_int_eq(pcref_referral_get_json(r, "/registrations/0/contract/term", &json), PCREF_OK);
	ck_assert_str_eq(json, "\"Perpetual\"");
	pcref_free(json);
	tu_assert_error(pcref_referral_get_json(r, "/nope", &json), PCREF_ENOTFOUND, "/nope");
	ck_assert_int_eq(pcref_referral_set_json(r, "/custom/crm/score", "{\"v\":7}", 7), PCREF_OK);
	ck_assert_int_eq(pcref_referral_get_json(r, "/custom/crm/score/v", &json), PCREF_OK);
	ck_assert_str_eq(json, "7");
	pcref_free(json);
	tu_assert_error(pcref_referral_set_json(r, "/x", "{", 1), PCREF_EPROTOCOL, "truncated");
	tu_assert_error(pcref_referral_set_json(r, "/x", "{]", 2), PCREF_EPROTOCOL, "not valid JSON");
	tu_assert_error(pcref_referral_set_json(r, "", "1", 1), PCREF_EINVALID, "must name a field");
	pcref_referral_free(r);
}
END_TEST

START_TEST(malformed_wrong_type_truncated_and_huge_input)
{
	static const struct { const char *json; int code; const char *needle; } cases[] = {
		{ "", PCREF_EPROTOCOL, "empty" },
		{ "{\"id\":\"abc\",\"details\":{\"dealValue\":", PCREF_EPROTOCOL, "truncated" },
		{ "{\"id\":\"abc\"", PCREF_EPROTOCOL, "truncated" },
		{ "[1,2]", PCREF_EPROTOCOL, "must be a JSON object" },
		{ "{\"id\":5}", PCREF_EPROTOCOL, "/id should be a string" },
		{ "{\"details\":{\"dealValue\":\"lots\"}}", PCREF_EPROTOCOL, "/details/dealValue should be a number" },
		{ "{\"details\":[]}", PCREF_EPROTOCOL, "/details should be an object" },
		{ "{\"createdDateTime\":\"last tuesday\"}", PCREF_EPROTOCOL, "/createdDateTime" },
		{ "{\"team\":[\"bob\"]}", PCREF_EPROTOCOL, "/team/0 should be an object" },
		{ "{\"customerProfile\":{\"team\":[{\"email\":true}]}}", PCREF_EPROTOCOL, "/customerProfile/team/0/email" },
		{ "{\"id\":\"a\"} trailing", PCREF_EPROTOCOL, "not valid JSON" },
	};
	pcref_referral *r = NULL;
	char *huge;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = pcref_referral_parse(&r, cases[i].json, strlen(cases[i].json));
		ck_assert_msg(rc == cases[i].code, "case %zu: rc %d", i, rc);
		ck_assert_msg(strstr(pcref_error_last()->message, cases[i].needle), "case %zu: '%s'", i,
		              pcref_error_last()->message);
		ck_assert_ptr_null(r);
	}
	/* a dealValue sent as a numeric string (the service's PATCH sample) is accepted */
	r = parse_str("{\"details\":{\"dealValue\":\"10000\"}}");
	ck_assert(pcref_referral_deal_value(r) == 10000.0);
	pcref_referral_free(r);
	huge = malloc(PCREF_REFERRAL_MAX_SIZE + 2);
	memset(huge, ' ', PCREF_REFERRAL_MAX_SIZE + 1);
	huge[0] = '{';
	huge[PCREF_REFERRAL_MAX_SIZE] = '}';
	tu_assert_error(pcref_referral_parse(&r, huge, PCREF_REFERRAL_MAX_SIZE + 1), PCREF_EINVALID,
	                "larger than");
	/* just under the limit: a huge string value parses fine */
	huge[0] = '{', huge[1] = '"', huge[2] = 'n', huge[3] = '"', huge[4] = ':', huge[5] = '"';
	memset(huge + 6, 'x', PCREF_REFERRAL_MAX_SIZE - 8);
	huge[PCREF_REFERRAL_MAX_SIZE - 2] = '"';
	huge[PCREF_REFERRAL_MAX_SIZE - 1] = '}';
	ck_assert_int_eq(pcref_referral_parse(&r, huge, PCREF_REFERRAL_MAX_SIZE), PCREF_OK);
	ck_assert_uint_eq(strlen(pcref_referral_get_string(r, "/n")), PCREF_REFERRAL_MAX_SIZE - 8);
	pcref_referral_free(r);
	free(huge);
	tu_assert_error(pcref_referral_parse(&r, NULL, 0), PCREF_EINVALID, "NULL");
}
END_TEST

START_TEST(status_table_and_transitions)
{
	ck_assert_int_eq(pcref_status_check("New", "Pending"), PCREF_OK);
	ck_assert_int_eq(pcref_status_check("New", "Received"), PCREF_OK);
	ck_assert_int_eq(pcref_status_check("Active", "Accepted"), PCREF_OK);
	ck_assert_int_eq(pcref_status_check("Closed", "Expired"), PCREF_OK);
	tu_assert_error(pcref_status_check("Closed", "Accepted"), PCREF_EINVALID, "Won, Lost, Declined, Expired");
	tu_assert_error(pcref_status_check("Open", "Pending"), PCREF_EINVALID, "'Open'");
	ck_assert_int_eq(pcref_status_transition_check("New", "Pending", "Active", "Accepted"), PCREF_OK);
	ck_assert_int_eq(pcref_status_transition_check("New", "Pending", "Closed", "Declined"), PCREF_OK);
	ck_assert_int_eq(pcref_status_transition_check("Active", "Accepted", "Closed", "Won"), PCREF_OK);
	ck_assert_int_eq(pcref_status_transition_check("Closed", "Won", "Closed", "Won"), PCREF_OK);
	tu_assert_error(pcref_status_transition_check("Active", "Accepted", "New", "Pending"),
	                PCREF_EINVALID, "cannot move");
	tu_assert_error(pcref_status_transition_check("Closed", "Won", "Closed", "Lost"),
	                PCREF_EINVALID, "terminal");
	tu_assert_error(pcref_status_transition_check("Closed", "Lost", "Active", "Accepted"),
	                PCREF_EINVALID, "terminal");
	ck_assert(pcref_status_is_terminal("Closed"));
	ck_assert(!pcref_status_is_terminal("Active"));
	ck_assert(!pcref_status_is_terminal(NULL));
}
END_TEST

START_TEST(country_and_currency_codes)
{
	ck_assert_int_eq(pcref_country_check("US"), PCREF_OK);
	ck_assert_int_eq(pcref_country_check("SE"), PCREF_OK);
	ck_assert_int_eq(pcref_country_check("ZW"), PCREF_OK);
	tu_assert_error(pcref_country_check("USA"), PCREF_EINVALID, "two-letter");
	tu_assert_error(pcref_country_check("QQ"), PCREF_EINVALID, "'QQ'");
	tu_assert_error(pcref_country_check(NULL), PCREF_EINVALID, "(null)");
	ck_assert_int_eq(pcref_currency_check("USD"), PCREF_OK);
	ck_assert_int_eq(pcref_currency_check("SEK"), PCREF_OK);
	ck_assert_int_eq(pcref_currency_check("EUR"), PCREF_OK);
	tu_assert_error(pcref_currency_check("usd"), PCREF_EINVALID, "'USD'");
	tu_assert_error(pcref_currency_check("XAU"), PCREF_EINVALID, "ISO 4217");
	tu_assert_error(pcref_currency_check("DOLLARS"), PCREF_EINVALID, "3 letters");
}
END_TEST

START_TEST(validate_names_the_first_problem)
{
	pcref_referral *r = load("referral-canonical.json");
	ck_assert_int_eq(pcref_referral_validate(r, 0), PCREF_OK);
	tu_assert_error(pcref_referral_validate(r, 1), PCREF_EINVALID, "flags must be 0");
	pcref_referral_set_json(r, "/customerProfile/address/country", "\"USA\"", 5);
	tu_assert_error(pcref_referral_validate(r, 0), PCREF_EINVALID, "customer country");
	pcref_referral_set_json(r, "/customerProfile/address/country", "null", 4);
	tu_assert_error(pcref_referral_validate(r, 0), PCREF_EINVALID, "R-12");
	pcref_referral_set_address_country(r, "US");
	pcref_referral_set_json(r, "/substatus", "\"Won\"", 5);
	tu_assert_error(pcref_referral_validate(r, 0), PCREF_EINVALID, "does not go with status 'New'");
	pcref_referral_set_json(r, "/consent", "null", 4);
	tu_assert_error(pcref_referral_validate(r, 0), PCREF_EINVALID, "/consent");
	pcref_referral_free(r);
}
END_TEST

struct seen { int count; char ids[8][64]; int stop_after; };

static int on_referral(const pcref_referral *r, void *payload)
{
	struct seen *s = payload;
	snprintf(s->ids[s->count], sizeof(s->ids[0]), "%s", pcref_referral_id(r));
	s->count++;
	return s->stop_after && s->count == s->stop_after ? 7 : 0;
}

START_TEST(list_page_streams_referrals)
{
	size_t len;
	char *page = tu_fixture("referral-page.json", &len), *next;
	struct seen s = { 0 };
	pcref_referral_stream *st;
	ck_assert_int_eq(pcref_referral_list_parse(page, len, on_referral, &s, &next), PCREF_OK);
	ck_assert_int_eq(s.count, 3);
	ck_assert_str_eq(s.ids[0], "61c65491-2f2c-461a-84b4-3654499bc1d9");
	ck_assert_str_eq(s.ids[1], "3f1e6b0c-9d1a-4a53-8d8c-2a4e4b7f9c01");
	ck_assert_str_eq(s.ids[2], "00000000-0000-0000-0000-000000000003");
	ck_assert_str_eq(next, "https://api.partner.microsoft.com/v1.0/engagements/referrals?$skiptoken=k181pEdP0ykypk%3D%3D");
	pcref_free(next);
	/* in small chunks through the stream API */
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(pcref_referral_stream_new(&st, on_referral, &s), PCREF_OK);
	for (size_t off = 0; off < len; off += 7)
		ck_assert_int_eq(pcref_referral_stream_feed(st, page + off, len - off < 7 ? len - off : 7), PCREF_OK);
	ck_assert_int_eq(pcref_referral_stream_finish(st), PCREF_OK);
	ck_assert_uint_eq(pcref_referral_stream_count(st), 3);
	ck_assert_ptr_nonnull(pcref_referral_stream_next_link(st));
	pcref_referral_stream_free(st);
	/* a callback that stops: its value comes back, with a message */
	memset(&s, 0, sizeof(s));
	s.stop_after = 2;
	ck_assert_int_eq(pcref_referral_list_parse(page, len, on_referral, &s, NULL), 7);
	ck_assert_int_eq(pcref_error_last()->code, PCREF_EUSER);
	ck_assert_ptr_nonnull(strstr(pcref_error_last()->message, "stopped the list at referral #2"));
	ck_assert_int_eq(s.count, 2);
	free(page);
}
END_TEST

START_TEST(list_page_errors)
{
	struct seen s = { 0 };
	char *next = (char *)"x";
	const char last[] = "{\"value\":[]}";
	ck_assert_int_eq(pcref_referral_list_parse(last, strlen(last), on_referral, &s, &next), PCREF_OK);
	ck_assert_ptr_null(next);
	tu_assert_error(pcref_referral_list_parse("{\"value\":[{\"id\":1}]}", 19, on_referral, &s, NULL),
	                PCREF_EPROTOCOL, "referral #1 of the list page");
	tu_assert_error(pcref_referral_list_parse("{\"error\":{\"code\":\"accessDenied\",\"message\":\"no\"}}", 48,
	                                          on_referral, &s, NULL), PCREF_EPROTOCOL, "error body: no");
	tu_assert_error(pcref_referral_list_parse("{\"value\":[{\"id\":\"a\"},", 21, on_referral, &s, NULL),
	                PCREF_EPROTOCOL, "truncated");
	tu_assert_error(pcref_referral_list_parse("[]", 2, on_referral, &s, NULL), PCREF_EPROTOCOL,
	                "expected a JSON object");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("referral");
	TCase *tc = tu_tcase(s, "getters");
	tcase_add_test(tc, canonical_example_getters);
	tcase_add_test(tc, real_2022_response_getters);
	tcase_add_test(tc, json_pointer_access);
	tc = tu_tcase(s, "lossless");
	tcase_add_test(tc, compact_referral_round_trips_byte_for_byte);
	tcase_add_test(tc, unknown_fields_and_nulls_survive_an_edit);
	tc = tu_tcase(s, "diff");
	tcase_add_test(tc, deal_value_change_is_exactly_one_replace);
	tcase_add_test(tc, diff_adds_replaces_and_skips_read_only);
	tc = tu_tcase(s, "setters");
	tcase_add_test(tc, setters_write_and_validate);
	tcase_add_test(tc, consent_keeps_the_services_spelling);
	tc = tu_tcase(s, "validation");
	tcase_add_test(tc, malformed_wrong_type_truncated_and_huge_input);
	tcase_add_test(tc, status_table_and_transitions);
	tcase_add_test(tc, country_and_currency_codes);
	tcase_add_test(tc, validate_names_the_first_problem);
	tc = tu_tcase(s, "list");
	tcase_add_test(tc, list_page_streams_referrals);
	tcase_add_test(tc, list_page_errors);
	return tu_run(s);
}
