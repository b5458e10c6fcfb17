/* The Partner Center client against the Partner Center emulator: listing
 * with paging and bounded memory, read, create, apply (JSON Patch with
 * If-Match), conflicts, related referrals, co-sell and the webhook
 * registration's overwrite rule. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "pcref/pcref.h"
#include "peer.h"
#include "testutil.h"

static peer emu;
static pcref_connection *referrals_conn, *webhooks_conn;
static pcref_partner_center *pc;

/* ---- a counting allocator: the listing's memory must stay bounded ---------- */
static size_t live_bytes, peak_bytes;

typedef struct { size_t size; size_t pad; } block;

static void *count_alloc(size_t n, void *p)
{
	block *b = malloc(sizeof(block) + n);
	(void)p;
	if (!b)
		return NULL;
	b->size = n;
	live_bytes += n;
	if (live_bytes > peak_bytes)
		peak_bytes = live_bytes;
	return b + 1;
}

static void count_free(void *ptr, void *p)
{
	(void)p;
	if (!ptr)
		return;
	live_bytes -= ((block *)ptr - 1)->size;
	free((block *)ptr - 1);
}

static void *count_realloc(void *ptr, size_t n, void *p)
{
	void *q;
	if (!ptr)
		return count_alloc(n, p);
	if (!(q = count_alloc(n, p)))
		return NULL;
	memcpy(q, ptr, ((block *)ptr - 1)->size < n ? ((block *)ptr - 1)->size : n);
	count_free(ptr, p);
	return q;
}

/* ---- fixtures ------------------------------------------------------------------ */

static pcref_connection *connect_to(const char *resource)
{
	pcref_connection *c = peer_partner_center_connection(&emu, resource);
	ck_assert_msg(c != NULL, "%s", pcref_error_last()->message);
	return c;
}

static void emulator_up(void)
{
	pcref_allocator a = PCREF_ALLOCATOR_INIT;
	a.alloc_fn = count_alloc;
	a.realloc_fn = count_realloc;
	a.free_fn = count_free;
	ck_assert_int_eq(pcref_allocator_set(&a), PCREF_OK);
	pcref_init();
	ck_assert_msg(peer_start(&emu, "partnercenter") == 0, "the Partner Center emulator did not start");
}

static void emulator_down(void)
{
	peer_stop(&emu);
	pcref_shutdown();
}

static void client_up(void)
{
	peer_post(emu.base, "/_control/reset", NULL);
	referrals_conn = connect_to("https://api.partner.microsoft.com");
	webhooks_conn = connect_to("https://api.partnercenter.microsoft.com");
	ck_assert_int_eq(pcref_partner_center_new(&pc, referrals_conn, webhooks_conn), PCREF_OK);
	/* the client keeps its own references */
	pcref_connection_free(referrals_conn);
	pcref_connection_free(webhooks_conn);
}

static void client_down(void)
{
	pcref_partner_center_free(pc);
	pc = NULL;
}

static pcref_referral *new_deal(const char *name)
{
	pcref_referral *r;
	ck_assert_int_eq(pcref_referral_new(&r), PCREF_OK);
	ck_assert_int_eq(pcref_referral_set_name(r, name), PCREF_OK);
	ck_assert_int_eq(pcref_referral_set_type(r, "Independent"), PCREF_OK);
	ck_assert_int_eq(pcref_referral_set_qualification(r, "SalesQualified"), PCREF_OK);
	ck_assert_int_eq(pcref_referral_set_customer_name(r, "Fabrikam Ltd"), PCREF_OK);
	ck_assert_int_eq(pcref_referral_set_address_country(r, "SE"), PCREF_OK);
	ck_assert_int_eq(pcref_referral_set_address_postal_code(r, "111 51"), PCREF_OK);
	ck_assert_int_eq(pcref_referral_set_address_city(r, "Stockholm"), PCREF_OK);
	ck_assert_int_eq(pcref_referral_set_consent(r, PCREF_CONSENT_SHARE_INFO_WITH_OTHERS, 1), PCREF_OK);
	ck_assert_int_eq(pcref_referral_set_consent(r, PCREF_CONSENT_CONTACT, 1), PCREF_OK);
	ck_assert_int_eq(pcref_referral_set_deal_value(r, 50000), PCREF_OK);
	ck_assert_int_eq(pcref_referral_set_currency(r, "SEK"), PCREF_OK);
	ck_assert_int_eq(pcref_referral_set_closing_time(r, 1767139200000LL), PCREF_OK);
	ck_assert_int_eq(pcref_referral_member_add(r, PCREF_MEMBERS_CUSTOMER, "Anna", "Berg",
	                                           "anna.berg@fabrikam.example", "+46 8 123"), PCREF_OK);
	ck_assert_int_eq(pcref_referral_solution_add(r, "SOL-34104-EBB", "Fabrikam Migrate", "Name"), PCREF_OK);
	return r;
}

static pcref_referral *create(const char *name)
{
	pcref_referral *d = new_deal(name), *r = NULL;
	ck_assert_msg(pcref_partner_center_create_referral(&r, pc, d) == PCREF_OK, "%s", pcref_error_last()->message);
	pcref_referral_free(d);
	return r;
}

/* ---- listing --------------------------------------------------------------------- */

struct seen { size_t count; size_t distinct_check; char last_id[64]; int stop_at; };

static int on_referral(const pcref_referral *r, void *payload)
{
	struct seen *s = payload;
	ck_assert_ptr_nonnull(pcref_referral_id(r));
	ck_assert_str_ne(pcref_referral_id(r), s->last_id);
	snprintf(s->last_id, sizeof(s->last_id), "%s", pcref_referral_id(r));
	s->count++;
	return s->stop_at && (int)s->count == s->stop_at ? 5 : 0;
}

START_TEST(paging_across_1050_referrals_with_bounded_memory)
{
	struct seen s;
	memset(&s, 0, sizeof(s));
	pcref_connection_stats st;
	size_t before;
	memset(&st, 0, sizeof(st));
	st.version = PCREF_CONNECTION_STATS_VERSION;
	peer_post(emu.base, "/_control/generate", "{\"count\":1050}");
	/* warm up: the token and the connection's buffers stay cached afterwards */
	s.stop_at = 1;
	ck_assert_int_eq(pcref_partner_center_list_referrals(pc, NULL, on_referral, &s), 5);
	memset(&s, 0, sizeof(s));
	peer_log_clear(emu.base);
	pcref_connection_stats_reset(referrals_conn);
	before = live_bytes;
	peak_bytes = live_bytes;
	ck_assert_msg(pcref_partner_center_list_referrals(pc, NULL, on_referral, &s) == PCREF_OK, "%s",
	              pcref_error_last()->message);
	ck_assert_uint_eq(s.count, 1050);
	ck_assert_uint_eq(peer_requests(emu.base, "GET", "/engagements/referrals"), 11); /* 10 pages of 100 and one of 50 */
	ck_assert_int_eq(pcref_connection_stats_get(referrals_conn, &st), PCREF_OK);
	/* The pages were megabytes; the library never held more than a small
	 * fraction of them at once (one referral, the page's framing and the
	 * connection's own buffers). */
	ck_assert_uint_gt(st.bytes_received, 1000000);
	ck_assert_msg(peak_bytes - before < st.bytes_received / 20,
	              "peak %zu bytes for %llu bytes received", peak_bytes - before,
	              (unsigned long long)st.bytes_received);
	ck_assert_uint_eq(live_bytes, before); /* and released it all */
}
END_TEST

START_TEST(filter_orderby_top_and_stop)
{
	struct seen s;
	memset(&s, 0, sizeof(s));
	pcref_referral_query q = PCREF_REFERRAL_QUERY_INIT;
	peer_post(emu.base, "/_control/generate", "{\"count\":30,\"type\":\"Shared\"}");
	peer_post(emu.base, "/_control/generate", "{\"count\":20,\"type\":\"Independent\"}");
	q.filter = "type eq 'Shared'";
	q.orderby = "createdDateTime desc";
	ck_assert_int_eq(pcref_partner_center_list_referrals(pc, &q, on_referral, &s), PCREF_OK);
	ck_assert_uint_eq(s.count, 30);
	memset(&s, 0, sizeof(s));
	q.top = 7;
	ck_assert_int_eq(pcref_partner_center_list_referrals(pc, &q, on_referral, &s), PCREF_OK);
	ck_assert_uint_eq(s.count, 7);
	memset(&s, 0, sizeof(s));
	q.top = 0;
	s.stop_at = 3;
	ck_assert_int_eq(pcref_partner_center_list_referrals(pc, &q, on_referral, &s), 5);
	ck_assert_uint_eq(s.count, 3);
	q.filter = "type eq";
	tu_assert_error(pcref_partner_center_list_referrals(pc, &q, on_referral, &s), PCREF_EINVALID, "Partner Center");
	ck_assert_int_eq(pcref_error_last()->http_status, 400);
}
END_TEST

/* ---- single referrals ------------------------------------------------------------ */

START_TEST(create_then_get)
{
	pcref_referral *r = create("Fabrikam Azure migration"), *g = NULL;
	ck_assert_ptr_nonnull(pcref_referral_id(r));
	ck_assert_ptr_nonnull(pcref_referral_etag(r));
	ck_assert_ptr_nonnull(pcref_referral_engagement_id(r));
	ck_assert_str_eq(pcref_referral_status(r), "Active");       /* §2.3: outgoing creates are accepted */
	ck_assert_str_eq(pcref_referral_substatus(r), "Accepted");
	ck_assert_int_eq(pcref_partner_center_get_referral(&g, pc, pcref_referral_id(r)), PCREF_OK);
	ck_assert_str_eq(pcref_referral_name(g), "Fabrikam Azure migration");
	ck_assert(pcref_referral_deal_value(g) == 50000);
	ck_assert_str_eq(pcref_referral_member_email(g, PCREF_MEMBERS_CUSTOMER, 0), "anna.berg@fabrikam.example");
	pcref_referral_free(g);
	g = NULL;
	tu_assert_error(pcref_partner_center_get_referral(&g, pc, "00000000-0000-0000-0000-000000000000"),
	                PCREF_ENOTFOUND, "Partner Center");
	ck_assert_ptr_null(g);
	pcref_referral_free(r);
}
END_TEST

START_TEST(R12_invalid_referral_is_not_sent)
{
	pcref_referral *d = new_deal("No country"), *r = NULL;
	pcref_referral_set_json(d, "/customerProfile/address/country", "null", 4);
	peer_log_clear(emu.base);
	tu_assert_error(pcref_partner_center_create_referral(&r, pc, d), PCREF_EINVALID, "R-12");
	ck_assert_ptr_null(r);
	ck_assert_uint_eq(peer_requests(emu.base, "POST", "/engagements/referrals"), 0);
	pcref_referral_free(d);
}
END_TEST

START_TEST(apply_sends_one_patch_with_if_match_and_nothing_when_equal)
{
	pcref_referral *r = create("Patch me"), *want, *stored = NULL, *same = NULL;
	pcref__json *log;
	const pcref__json *patch;
	ck_assert_int_eq(pcref_referral_dup(&want, r), PCREF_OK);
	ck_assert_int_eq(pcref_referral_set_deal_value(want, 65000), PCREF_OK);
	peer_log_clear(emu.base);
	ck_assert_msg(pcref_partner_center_apply(&stored, pc, r, want) == PCREF_OK, "%s", pcref_error_last()->message);
	ck_assert(pcref_referral_deal_value(stored) == 65000);
	ck_assert_str_ne(pcref_referral_etag(stored), pcref_referral_etag(r));
	log = peer_log(emu.base);
	ck_assert_uint_eq(peer_log_count(log, "PATCH", "/engagements/referrals/"), 1);
	ck_assert_uint_eq(peer_log_count(log, "GET", "/engagements/referrals"), 0); /* representation came back */
	patch = peer_log_nth(log, "PATCH", "/engagements/referrals/", 0);
	ck_assert_str_eq(peer_log_str(patch, "/headers/if-match"), pcref_referral_etag(r));
	pcref__json_free(log);
	/* nothing differs: nothing is sent */
	peer_log_clear(emu.base);
	ck_assert_int_eq(pcref_partner_center_apply(&same, pc, stored, stored), PCREF_OK);
	ck_assert_str_eq(pcref_referral_etag(same), pcref_referral_etag(stored));
	ck_assert_uint_eq(peer_requests(emu.base, NULL, "/engagements/referrals"), 0);
	pcref_referral_free(r);
	pcref_referral_free(want);
	pcref_referral_free(stored);
	pcref_referral_free(same);
}
END_TEST

START_TEST(stale_etag_is_a_conflict)
{
	pcref_referral *r = create("Contended"), *first, *second, *out = NULL, *tmp = NULL;
	pcref_referral_dup(&first, r);
	pcref_referral_dup(&second, r);
	pcref_referral_set_notes(first, "first writer");
	pcref_referral_set_notes(second, "second writer");
	ck_assert_int_eq(pcref_partner_center_apply(&tmp, pc, r, first), PCREF_OK);
	/* `r` still carries the eTag from before the first write */
	tu_assert_error(pcref_partner_center_apply(&out, pc, r, second), PCREF_ECONFLICT, "re-read");
	ck_assert_int_eq(pcref_error_last()->http_status, 412);
	ck_assert_str_eq(pcref_error_last()->service_code, "preconditionFailed");
	ck_assert_str_eq(pcref_error_last()->service_inner_code, "99918");
	ck_assert_ptr_null(out);
	pcref_referral_free(tmp);
	ck_assert_int_eq(pcref_partner_center_get_referral(&tmp, pc, pcref_referral_id(r)), PCREF_OK);
	ck_assert_str_eq(pcref_referral_notes(tmp), "first writer");
	pcref_referral_free(tmp);
	pcref_referral_free(r);
	pcref_referral_free(first);
	pcref_referral_free(second);
}
END_TEST

START_TEST(R31_won_and_terminal_state)
{
	pcref_referral *r = create("To win"), *want, *won = NULL, *back = NULL;
	pcref_referral_dup(&want, r);
	ck_assert_int_eq(pcref_referral_set_status(want, "Closed", "Won"), PCREF_OK);
	ck_assert_int_eq(pcref_partner_center_apply(&won, pc, r, want), PCREF_OK);
	ck_assert_str_eq(pcref_referral_substatus(won), "Won");
	/* a closed referral is terminal: the client refuses before sending */
	pcref_referral_free(want);
	pcref_referral_dup(&want, won);
	pcref_referral_set_status(want, "Active", "Accepted");
	peer_log_clear(emu.base);
	tu_assert_error(pcref_partner_center_apply(&back, pc, won, want), PCREF_EINVALID, "terminal");
	ck_assert_uint_eq(peer_requests(emu.base, "PATCH", "/engagements/referrals"), 0);
	pcref_referral_free(r);
	pcref_referral_free(want);
	pcref_referral_free(won);
}
END_TEST

START_TEST(cosell_is_two_related_referrals_and_invite_is_idempotent)
{
	pcref_referral *d = new_deal("Co-sell with Microsoft"), *mine = NULL, *ms = NULL, *again = NULL;
	struct seen s;
	memset(&s, 0, sizeof(s));
	pcref_referral_set_type(d, "Shared");
	pcref_referral_set_assistance_request_code(d, "CustomerTechnicalArchitecture");
	ck_assert_msg(pcref_partner_center_create_cosell(&mine, &ms, pc, d) == PCREF_OK, "%s",
	              pcref_error_last()->message);
	ck_assert_str_eq(pcref_referral_engagement_id(ms), pcref_referral_engagement_id(mine));
	ck_assert_str_ne(pcref_referral_id(ms), pcref_referral_id(mine));
	ck_assert_uint_eq(pcref_referral_target_count(ms), 1);
	ck_assert_str_eq(pcref_referral_target_id(ms, 0), "msft");
	ck_assert_int_eq(pcref_partner_center_list_related(pc, pcref_referral_engagement_id(mine), on_referral, &s),
	                 PCREF_OK);
	ck_assert_uint_eq(s.count, 2);
	peer_log_clear(emu.base);
	ck_assert_int_eq(pcref_partner_center_invite_microsoft(&again, pc, mine), PCREF_OK);
	ck_assert_str_eq(pcref_referral_id(again), pcref_referral_id(ms));
	ck_assert_uint_eq(peer_requests(emu.base, "POST", "/engagements/referrals"), 0);
	tu_assert_error(pcref_partner_center_list_related(pc, "x' or '1' eq '1", on_referral, &s), PCREF_EINVALID,
	                "engagement id");
	pcref_referral_free(d);
	pcref_referral_free(mine);
	pcref_referral_free(ms);
	pcref_referral_free(again);
}
END_TEST

START_TEST(throttled_list_is_retried)
{
	struct seen s;
	memset(&s, 0, sizeof(s));
	peer_post(emu.base, "/_control/generate", "{\"count\":5}");
	peer_post(emu.base, "/_control/faults",
	          "{\"method\":\"GET\",\"path\":\"/engagements/referrals$\",\"status\":429,"
	          "\"headers\":{\"Retry-After\":\"1\"},\"count\":1}");
	ck_assert_int_eq(pcref_partner_center_list_referrals(pc, NULL, on_referral, &s), PCREF_OK);
	ck_assert_uint_eq(s.count, 5);
}
END_TEST

/* ---- webhook registration (R-33) ----------------------------------------------- */

START_TEST(R33_registration_never_replaces_silently)
{
	pcref_webhook_registration *reg = NULL;
	const char *url1 = "http://127.0.0.1:9/first", *url2 = "http://127.0.0.1:9/second";
	tu_assert_error(pcref_partner_center_webhook_get(&reg, pc), PCREF_ENOTFOUND, "no webhook registration");
	ck_assert_int_eq(pcref_partner_center_webhook_register(&reg, pc, url1, NULL, 0), PCREF_OK);
	ck_assert_str_eq(pcref_webhook_registration_url(reg), url1);
	ck_assert_uint_eq(pcref_webhook_registration_event_count(reg), 4);
	ck_assert_str_eq(pcref_webhook_registration_event(reg, 0), "referral-created");
	ck_assert_ptr_null(pcref_webhook_registration_replaced_url(reg));
	pcref_webhook_registration_free(reg);
	reg = NULL;
	/* another URL: refused without the overwrite flag, naming what is registered */
	tu_assert_error(pcref_partner_center_webhook_register(&reg, pc, url2, NULL, 0), PCREF_EEXISTS, url1);
	ck_assert_ptr_null(reg);
	ck_assert_int_eq(pcref_partner_center_webhook_register(&reg, pc, url2, NULL, PCREF_WEBHOOK_OVERWRITE), PCREF_OK);
	ck_assert_str_eq(pcref_webhook_registration_url(reg), url2);
	ck_assert_str_eq(pcref_webhook_registration_replaced_url(reg), url1);
	pcref_webhook_registration_free(reg);
	reg = NULL;
	ck_assert_int_eq(pcref_partner_center_webhook_get(&reg, pc), PCREF_OK);
	ck_assert_str_eq(pcref_webhook_registration_url(reg), url2);
	pcref_webhook_registration_free(reg);
	reg = NULL;
	tu_assert_error(pcref_partner_center_webhook_register(&reg, pc, "http://partner.example/hook", NULL, 0),
	                PCREF_EINVALID, "webhook URL");
	tu_assert_error(pcref_partner_center_webhook_register(&reg, pc, url1, NULL, 8), PCREF_EINVALID, "flags");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("partnercenter");
	TCase *tc;
	SRunner *sr;
	int failed;
	peer_require_python();
	tc = tu_tcase(s, "referrals");
	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, emulator_up, emulator_down);
	tcase_add_checked_fixture(tc, client_up, client_down);
	tcase_add_test(tc, paging_across_1050_referrals_with_bounded_memory);
	tcase_add_test(tc, filter_orderby_top_and_stop);
	tcase_add_test(tc, create_then_get);
	tcase_add_test(tc, R12_invalid_referral_is_not_sent);
	tcase_add_test(tc, apply_sends_one_patch_with_if_match_and_nothing_when_equal);
	tcase_add_test(tc, stale_etag_is_a_conflict);
	tcase_add_test(tc, R31_won_and_terminal_state);
	tcase_add_test(tc, cosell_is_two_related_referrals_and_invite_is_idempotent);
	tcase_add_test(tc, throttled_list_is_retried);
	tcase_add_test(tc, R33_registration_never_replaces_silently);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
