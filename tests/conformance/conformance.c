/* The CRM backend conformance suite (see conformance.h). Each test names the
 * connector rule it guards where one applies. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conformance.h"

static const pcref_conformance_target *target;
static pcref_crm *crm;

static void setup(void)
{
	if (target->reset)
		target->reset(target->ctx);
	crm = target->open(target->ctx);
	ck_assert_msg(crm != NULL, "target %s could not open a CRM: %s", target->name,
	              pcref_error_last()->message);
}

static void teardown(void)
{
	pcref_crm_free(crm);
	crm = NULL;
}

#define OK(expr) ck_assert_msg((expr) == PCREF_OK, "%s: %s", #expr, pcref_error_last()->message)

static pcref_opportunity *draft(const char *name, const char *referral_id)
{
	pcref_opportunity *o;
	OK(pcref_opportunity_new(&o));
	OK(pcref_opportunity_set_text(o, PCREF_FIELD_NAME, name));
	OK(pcref_opportunity_set_number(o, PCREF_FIELD_DEAL_VALUE, 50000));
	OK(pcref_opportunity_set_text(o, PCREF_FIELD_CURRENCY, "USD"));
	OK(pcref_opportunity_set_time(o, PCREF_FIELD_CLOSE_DATE, 1735603200000LL)); /* 2024-12-31 */
	OK(pcref_opportunity_set_text(o, PCREF_FIELD_NOTES, "Contoso wants Azure"));
	OK(pcref_opportunity_set_flag(o, PCREF_FIELD_SYNC, 1));
	if (referral_id)
		OK(pcref_opportunity_set_text(o, PCREF_FIELD_REFERRAL_ID, referral_id));
	return o;
}

static pcref_opportunity *create(const char *name, const char *referral_id)
{
	pcref_opportunity *d = draft(name, referral_id), *o = NULL;
	OK(pcref_crm_create_opportunity(&o, crm, d));
	pcref_opportunity_free(d);
	return o;
}

START_TEST(create_then_get_round_trips)
{
	pcref_opportunity *o = create("Round trip", "ref-1"), *g = NULL;
	ck_assert_ptr_nonnull(pcref_opportunity_text(o, PCREF_FIELD_ID));
	ck_assert_ptr_nonnull(pcref_opportunity_text(o, PCREF_FIELD_VERSION));
	ck_assert(pcref_opportunity_time(o, PCREF_FIELD_MODIFIED_TIME) != PCREF_TIME_NONE);
	OK(pcref_crm_get_opportunity(&g, crm, pcref_opportunity_text(o, PCREF_FIELD_ID)));
	ck_assert_str_eq(pcref_opportunity_text(g, PCREF_FIELD_NAME), "Round trip");
	ck_assert(pcref_opportunity_number(g, PCREF_FIELD_DEAL_VALUE) == 50000);
	ck_assert_str_eq(pcref_opportunity_text(g, PCREF_FIELD_CURRENCY), "USD");
	ck_assert_int_eq(pcref_opportunity_time(g, PCREF_FIELD_CLOSE_DATE), 1735603200000LL);
	ck_assert_str_eq(pcref_opportunity_text(g, PCREF_FIELD_NOTES), "Contoso wants Azure");
	ck_assert_int_eq(pcref_opportunity_flag(g, PCREF_FIELD_SYNC), 1);                 /* */
	ck_assert_str_eq(pcref_opportunity_text(g, PCREF_FIELD_REFERRAL_ID), "ref-1");    /* */
	ck_assert_str_eq(pcref_opportunity_text(g, PCREF_FIELD_STATE), "open");
	ck_assert_str_eq(pcref_opportunity_text(g, PCREF_FIELD_VERSION), pcref_opportunity_text(o, PCREF_FIELD_VERSION));
	pcref_opportunity_free(o);
	pcref_opportunity_free(g);
}
END_TEST

START_TEST(get_unknown_id_is_not_found)
{
	pcref_opportunity *g = NULL;
	ck_assert_int_eq(pcref_crm_get_opportunity(&g, crm, "00000000-0000-0000-0000-00000000dead"), PCREF_ENOTFOUND);
	ck_assert_ptr_null(g);
	ck_assert_str_ne(pcref_error_last()->message, "");
}
END_TEST

START_TEST(find_by_referral_id)
{
	pcref_opportunity *a = create("A", "ref-a"), *b = create("B", "ref-b"), *f = NULL;
	OK(pcref_crm_find_opportunity(&f, crm, "ref-b"));
	ck_assert_str_eq(pcref_opportunity_text(f, PCREF_FIELD_ID), pcref_opportunity_text(b, PCREF_FIELD_ID));
	pcref_opportunity_free(f);
	f = NULL;
	ck_assert_int_eq(pcref_crm_find_opportunity(&f, crm, "ref-none"), PCREF_ENOTFOUND);
	ck_assert_ptr_null(f);
	pcref_opportunity_free(a);
	pcref_opportunity_free(b);
}
END_TEST

START_TEST(update_writes_only_listed_fields_and_bumps_version)
{
	pcref_opportunity *o = create("Before", "ref-u"), *u = NULL, *g = NULL;
	const int fields[] = { PCREF_FIELD_DEAL_VALUE };
	OK(pcref_opportunity_set_number(o, PCREF_FIELD_DEAL_VALUE, 75000.5));
	OK(pcref_opportunity_set_text(o, PCREF_FIELD_NAME, "Not written"));
	OK(pcref_crm_update_opportunity(&u, crm, o, fields, 1));
	ck_assert_str_ne(pcref_opportunity_text(u, PCREF_FIELD_VERSION), pcref_opportunity_text(o, PCREF_FIELD_VERSION));
	ck_assert(pcref_opportunity_time(u, PCREF_FIELD_MODIFIED_TIME) >= pcref_opportunity_time(o, PCREF_FIELD_MODIFIED_TIME));
	OK(pcref_crm_get_opportunity(&g, crm, pcref_opportunity_text(o, PCREF_FIELD_ID)));
	ck_assert(pcref_opportunity_number(g, PCREF_FIELD_DEAL_VALUE) == 75000.5);
	ck_assert_str_eq(pcref_opportunity_text(g, PCREF_FIELD_NAME), "Before");
	pcref_opportunity_free(o);
	pcref_opportunity_free(u);
	pcref_opportunity_free(g);
}
END_TEST

START_TEST(stale_version_is_a_conflict_and_changes_nothing)
{
	pcref_opportunity *o = create("Conflict", "ref-c"), *first = NULL, *g = NULL, *out = NULL;
	const int fields[] = { PCREF_FIELD_NOTES };
	OK(pcref_opportunity_set_text(o, PCREF_FIELD_NOTES, "first writer"));
	OK(pcref_crm_update_opportunity(&first, crm, o, fields, 1));
	/* o still carries the version it read: a second writer with it loses */
	OK(pcref_opportunity_set_text(o, PCREF_FIELD_NOTES, "second writer"));
	ck_assert_int_eq(pcref_crm_update_opportunity(&out, crm, o, fields, 1), PCREF_ECONFLICT);
	ck_assert_ptr_null(out);
	OK(pcref_crm_get_opportunity(&g, crm, pcref_opportunity_text(o, PCREF_FIELD_ID)));
	ck_assert_str_eq(pcref_opportunity_text(g, PCREF_FIELD_NOTES), "first writer");
	pcref_opportunity_free(o);
	pcref_opportunity_free(first);
	pcref_opportunity_free(g);
}
END_TEST

struct listing { size_t count; int64_t last; int ordered; char first_name[64]; size_t stop_at; };

static int count_cb(const pcref_opportunity *o, void *payload)
{
	struct listing *l = payload;
	int64_t t = pcref_opportunity_time(o, PCREF_FIELD_MODIFIED_TIME);
	if (l->count == 0)
		snprintf(l->first_name, sizeof(l->first_name), "%s", pcref_opportunity_text(o, PCREF_FIELD_NAME));
	if (t < l->last)
		l->ordered = 0;
	l->last = t;
	l->count++;
	return l->stop_at && l->count == l->stop_at ? 99 : 0;
}

START_TEST(list_modified_since_watermark_oldest_first)
{
	pcref_opportunity *a = create("Old", NULL), *b, *c;
	struct listing l = { 0, PCREF_TIME_NONE, 1, "", 0 };
	int64_t mark;
	b = create("Newer", NULL);
	mark = pcref_opportunity_time(b, PCREF_FIELD_MODIFIED_TIME);
	c = create("Newest", NULL);
	OK(pcref_crm_list_modified(crm, mark, count_cb, &l));
	ck_assert_uint_ge(l.count, 2);                 /* b (at the mark) and c */
	ck_assert_uint_le(l.count, 3);                 /* a only if it shares b's timestamp */
	ck_assert(l.ordered);
	l = (struct listing){ 0, PCREF_TIME_NONE, 1, "", 0 };
	OK(pcref_crm_list_modified(crm, PCREF_TIME_NONE, count_cb, &l));
	ck_assert_uint_eq(l.count, 3);
	ck_assert_str_eq(l.first_name, "Old");
	l = (struct listing){ 0, PCREF_TIME_NONE, 1, "", 2 };
	ck_assert_int_eq(pcref_crm_list_modified(crm, PCREF_TIME_NONE, count_cb, &l), 99);
	ck_assert_uint_eq(l.count, 2);
	pcref_opportunity_free(a);
	pcref_opportunity_free(b);
	pcref_opportunity_free(c);
}
END_TEST

START_TEST(paging_across_many_opportunities)
{
	size_t n = target->paging_count ? target->paging_count : 12000;
	struct listing l = { 0, PCREF_TIME_NONE, 1, "", 0 };
	if (target->seed) {
		OK(target->seed(n, target->ctx));
	} else {
		pcref_opportunity *d = draft("bulk", NULL);
		OK(pcref_crm_batch_begin(crm));
		for (size_t i = 0; i < n; i++)
			OK(pcref_crm_create_opportunity(NULL, crm, d));
		OK(pcref_crm_batch_commit(crm));
		pcref_opportunity_free(d);
	}
	OK(pcref_crm_list_modified(crm, PCREF_TIME_NONE, count_cb, &l));
	ck_assert_uint_eq(l.count, n);
	ck_assert(l.ordered);
}
END_TEST

static pcref_opportunity *with_account(const char *name, const char *postal)
{
	pcref_opportunity *o = draft("Account test", NULL);
	OK(pcref_opportunity_set_text(o, PCREF_FIELD_ACCOUNT_NAME, name));
	OK(pcref_opportunity_set_text(o, PCREF_FIELD_ACCOUNT_POSTAL_CODE, postal));
	OK(pcref_opportunity_set_text(o, PCREF_FIELD_ACCOUNT_COUNTRY, "SE"));
	OK(pcref_opportunity_set_text(o, PCREF_FIELD_ACCOUNT_CITY, "Stockholm"));
	return o;
}

START_TEST(R27_account_matched_on_name_and_postal_code)
{
	pcref_opportunity *a = with_account("Fabrikam", "111 51"), *b = with_account("Fabrikam", "111 51");
	pcref_opportunity *c = with_account("Fabrikam", "411 01");
	OK(pcref_crm_ensure_account(crm, a, NULL, 0));
	OK(pcref_crm_ensure_account(crm, b, NULL, 0));   /* second run: no duplicate */
	OK(pcref_crm_ensure_account(crm, c, NULL, 0));
	ck_assert_str_eq(pcref_opportunity_text(a, PCREF_FIELD_ACCOUNT_ID), pcref_opportunity_text(b, PCREF_FIELD_ACCOUNT_ID));
	ck_assert_str_ne(pcref_opportunity_text(a, PCREF_FIELD_ACCOUNT_ID), pcref_opportunity_text(c, PCREF_FIELD_ACCOUNT_ID));
	pcref_opportunity_free(a);
	pcref_opportunity_free(b);
	pcref_opportunity_free(c);
}
END_TEST

START_TEST(R27_account_match_keys_are_configurable)
{
	const int by_name[] = { PCREF_FIELD_ACCOUNT_NAME };
	pcref_opportunity *a = with_account("Northwind", "100 00"), *b = with_account("Northwind", "999 99");
	OK(pcref_crm_ensure_account(crm, a, by_name, 1));
	OK(pcref_crm_ensure_account(crm, b, by_name, 1));
	ck_assert_str_eq(pcref_opportunity_text(a, PCREF_FIELD_ACCOUNT_ID), pcref_opportunity_text(b, PCREF_FIELD_ACCOUNT_ID));
	pcref_opportunity_free(a);
	pcref_opportunity_free(b);
}
END_TEST

START_TEST(contact_found_by_email_or_created)
{
	pcref_opportunity *a = with_account("Fabrikam", "111 51"), *b = with_account("Fabrikam", "111 51");
	OK(pcref_crm_ensure_account(crm, a, NULL, 0));
	OK(pcref_crm_ensure_account(crm, b, NULL, 0));
	OK(pcref_opportunity_set_text(a, PCREF_FIELD_CONTACT_FIRST_NAME, "Anna"));
	OK(pcref_opportunity_set_text(a, PCREF_FIELD_CONTACT_LAST_NAME, "Berg"));
	OK(pcref_opportunity_set_text(a, PCREF_FIELD_CONTACT_EMAIL, "anna.berg@fabrikam.example"));
	OK(pcref_opportunity_set_text(b, PCREF_FIELD_CONTACT_EMAIL, "anna.berg@fabrikam.example"));
	OK(pcref_opportunity_set_text(b, PCREF_FIELD_CONTACT_LAST_NAME, "Berg"));
	OK(pcref_crm_ensure_contact(crm, a));
	OK(pcref_crm_ensure_contact(crm, b));
	ck_assert_ptr_nonnull(pcref_opportunity_text(a, PCREF_FIELD_CONTACT_ID));
	ck_assert_str_eq(pcref_opportunity_text(a, PCREF_FIELD_CONTACT_ID), pcref_opportunity_text(b, PCREF_FIELD_CONTACT_ID));
	pcref_opportunity_free(a);
	pcref_opportunity_free(b);
}
END_TEST

START_TEST(R07_solutions_added_and_removed)
{
	pcref_opportunity *o = create("Solutions", NULL), *g = NULL;
	const char *id = pcref_opportunity_text(o, PCREF_FIELD_ID);
	OK(pcref_crm_add_solution(crm, id, "SOL-1", "One"));
	OK(pcref_crm_add_solution(crm, id, "SOL-2", "Two"));
	OK(pcref_crm_remove_solution(crm, id, "SOL-1"));
	OK(pcref_crm_get_opportunity(&g, crm, id));
	ck_assert_uint_eq(pcref_opportunity_solution_count(g), 1);
	ck_assert_str_eq(pcref_opportunity_solution_id(g, 0), "SOL-2");
	pcref_opportunity_free(o);
	pcref_opportunity_free(g);
}
END_TEST

START_TEST(R31_close_won_and_lost_through_the_close_operation)
{
	pcref_opportunity *w = create("Winner", NULL), *l = create("Loser", NULL), *g = NULL, *out = NULL;
	const int state[] = { PCREF_FIELD_STATE };
	OK(pcref_crm_close_opportunity(crm, pcref_opportunity_text(w, PCREF_FIELD_ID), 1, NULL));
	OK(pcref_crm_close_opportunity(crm, pcref_opportunity_text(l, PCREF_FIELD_ID), 0, "Lost to competitor"));
	OK(pcref_crm_get_opportunity(&g, crm, pcref_opportunity_text(w, PCREF_FIELD_ID)));
	ck_assert_str_eq(pcref_opportunity_text(g, PCREF_FIELD_STATE), "won");
	pcref_opportunity_free(g);
	OK(pcref_crm_get_opportunity(&g, crm, pcref_opportunity_text(l, PCREF_FIELD_ID)));
	ck_assert_str_eq(pcref_opportunity_text(g, PCREF_FIELD_STATE), "lost");
	pcref_opportunity_free(g);
	/* closing twice is refused, and so is writing the state directly */
	ck_assert_int_lt(pcref_crm_close_opportunity(crm, pcref_opportunity_text(w, PCREF_FIELD_ID), 0, NULL), 0);
	pcref_opportunity_free(l);
	l = create("Direct", NULL);
	OK(pcref_opportunity_set_text(l, PCREF_FIELD_STATE, "won"));
	ck_assert_int_eq(pcref_crm_update_opportunity(&out, crm, l, state, 1), PCREF_EINVALID);
	pcref_opportunity_free(w);
	pcref_opportunity_free(l);
}
END_TEST

START_TEST(R22_leads_created_found_and_updated)
{
	pcref_opportunity *d = draft("Lead topic", "ref-lead"), *lead = NULL, *f = NULL, *u = NULL, *opp = NULL;
	const int fields[] = { PCREF_FIELD_NOTES };
	OK(pcref_opportunity_set_text(d, PCREF_FIELD_ACCOUNT_NAME, "Litware"));
	OK(pcref_crm_create_lead(&lead, crm, d));
	ck_assert_int_eq(pcref_opportunity_flag(lead, PCREF_FIELD_IS_LEAD), 1);
	OK(pcref_crm_find_lead(&f, crm, "ref-lead"));
	ck_assert_str_eq(pcref_opportunity_text(f, PCREF_FIELD_ID), pcref_opportunity_text(lead, PCREF_FIELD_ID));
	/* a lead is not an opportunity */
	ck_assert_int_eq(pcref_crm_find_opportunity(&opp, crm, "ref-lead"), PCREF_ENOTFOUND);
	OK(pcref_opportunity_set_text(f, PCREF_FIELD_NOTES, "called back"));
	OK(pcref_crm_update_lead(&u, crm, f, fields, 1));
	ck_assert_str_eq(pcref_opportunity_text(u, PCREF_FIELD_NOTES), "called back");
	pcref_opportunity_free(d);
	pcref_opportunity_free(lead);
	pcref_opportunity_free(f);
	pcref_opportunity_free(u);
}
END_TEST

START_TEST(R29_missing_currency_and_user_are_named)
{
	pcref_opportunity *d = draft("Swiss deal", NULL), *o = NULL;
	OK(pcref_crm_resolve_currency(crm, "EUR"));
	ck_assert_int_eq(pcref_crm_resolve_currency(crm, "CHF"), PCREF_ENOTFOUND);
	ck_assert_ptr_nonnull(strstr(pcref_error_last()->message, "CHF"));
	OK(pcref_crm_resolve_user(crm, "seller@contoso.example"));
	ck_assert_int_eq(pcref_crm_resolve_user(crm, "nobody@contoso.example"), PCREF_ENOTFOUND);
	ck_assert_ptr_nonnull(strstr(pcref_error_last()->message, "nobody@contoso.example"));
	/* creating in a missing currency fails the same way, and creates nothing */
	OK(pcref_opportunity_set_text(d, PCREF_FIELD_CURRENCY, "CHF"));
	ck_assert_int_eq(pcref_crm_create_opportunity(&o, crm, d), PCREF_ENOTFOUND);
	ck_assert_ptr_nonnull(strstr(pcref_error_last()->message, "CHF"));
	ck_assert_ptr_null(o);
	pcref_opportunity_free(d);
}
END_TEST

START_TEST(batch_applies_every_write)
{
	pcref_opportunity *d = draft("batched", NULL);
	struct listing l = { 0, PCREF_TIME_NONE, 1, "", 0 };
	OK(pcref_crm_batch_begin(crm));
	for (int i = 0; i < 50; i++)
		OK(pcref_crm_create_opportunity(NULL, crm, d));
	OK(pcref_crm_batch_commit(crm));
	OK(pcref_crm_list_modified(crm, PCREF_TIME_NONE, count_cb, &l));
	ck_assert_uint_eq(l.count, 50);
	pcref_opportunity_free(d);
}
END_TEST

int pcref_conformance_run(const pcref_conformance_target *t)
{
	Suite *s = suite_create(t->name);
	TCase *tc;
	SRunner *sr;
	int failed;
	target = t;
	tc = tcase_create("records");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, create_then_get_round_trips);
	tcase_add_test(tc, get_unknown_id_is_not_found);
	tcase_add_test(tc, find_by_referral_id);
	tcase_add_test(tc, update_writes_only_listed_fields_and_bumps_version);
	tcase_add_test(tc, stale_version_is_a_conflict_and_changes_nothing);
	tcase_add_test(tc, list_modified_since_watermark_oldest_first);
	tcase_add_test(tc, R22_leads_created_found_and_updated);
	tcase_add_test(tc, R31_close_won_and_lost_through_the_close_operation);
	suite_add_tcase(s, tc);
	tc = tcase_create("related");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, R27_account_matched_on_name_and_postal_code);
	tcase_add_test(tc, R27_account_match_keys_are_configurable);
	tcase_add_test(tc, contact_found_by_email_or_created);
	tcase_add_test(tc, R07_solutions_added_and_removed);
	tcase_add_test(tc, R29_missing_currency_and_user_are_named);
	suite_add_tcase(s, tc);
	tc = tcase_create("volume");
	tcase_set_timeout(tc, 300);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, batch_applies_every_write);
	tcase_add_test(tc, paging_across_many_opportunities);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed;
}
