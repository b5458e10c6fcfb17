/* Core: init/shutdown counting, the error record, the allocator hook, time. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "pcref/pcref.h"
#include "testutil.h"

START_TEST(init_is_reference_counted)
{
	ck_assert_int_eq(pcref_init(), 1);
	ck_assert_int_eq(pcref_init(), 2);
	ck_assert_int_eq(pcref_shutdown(), 1);
	ck_assert_int_eq(pcref_shutdown(), 0);
	tu_assert_error(pcref_shutdown(), PCREF_ESTATE, "more often than pcref_init");
}
END_TEST

static void *init_many(void *arg)
{
	(void)arg;
	for (int i = 0; i < 1000; i++)
		if (pcref_init() < 1)
			return (void *)1;
	for (int i = 0; i < 1000; i++)
		if (pcref_shutdown() < 0)
			return (void *)1;
	return NULL;
}

START_TEST(init_is_thread_safe)
{
	pthread_t t[4];
	void *res;
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, init_many, NULL), 0);
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], &res);
		ck_assert_ptr_null(res);
	}
	/* every init was undone: the count is back at zero */
	ck_assert_int_eq(pcref_init(), 1);
	ck_assert_int_eq(pcref_shutdown(), 0);
}
END_TEST

START_TEST(version_matches_headers)
{
	ck_assert_str_eq(pcref_version_string(), PCREF_VERSION_STRING);
	ck_assert(PCREF_CHECK_VERSION(0, 1, 0));
	ck_assert(!PCREF_CHECK_VERSION(PCREF_VERSION_MAJOR + 1, 0, 0));
}
END_TEST

START_TEST(error_record_is_never_null_and_clears)
{
	const pcref_error *e;
	pcref_error_clear();
	e = pcref_error_last();
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(e->version, PCREF_ERROR_VERSION);
	ck_assert_int_eq(e->code, PCREF_OK);
	ck_assert_str_eq(e->message, "");
	ck_assert_str_eq(e->service_code, "");
	ck_assert_int_eq(pcref__error_http(PCREF_ECONFLICT, 412, "preconditionFailed", "99918",
	                                   "referral %s changed", "abc"), PCREF_ECONFLICT);
	ck_assert_int_eq(e->code, PCREF_ECONFLICT);
	ck_assert_int_eq(e->http_status, 412);
	ck_assert_str_eq(e->message, "referral abc changed");
	ck_assert_str_eq(e->service_code, "preconditionFailed");
	ck_assert_str_eq(e->service_inner_code, "99918");
	pcref__error_prefix(PCREF_ECONFLICT, "updating %s", "x");
	ck_assert_str_eq(e->message, "updating x: referral abc changed");
	pcref_error_clear();
	ck_assert_int_eq(e->code, PCREF_OK);
	ck_assert_int_eq(e->http_status, 0);
}
END_TEST

static void *other_thread_error(void *arg)
{
	(void)arg;
	pcref__error(PCREF_ENOTFOUND, "only in the other thread");
	return NULL;
}

START_TEST(error_record_is_thread_local)
{
	pthread_t t;
	pcref__error(PCREF_EAUTH, "here");
	pthread_create(&t, NULL, other_thread_error, NULL);
	pthread_join(t, NULL);
	ck_assert_int_eq(pcref_error_last()->code, PCREF_EAUTH);
	ck_assert_str_eq(pcref_error_last()->message, "here");
}
END_TEST

START_TEST(long_messages_are_truncated_safely)
{
	char big[5000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	pcref__error(PCREF_EINVALID, "%s", big);
	ck_assert_uint_eq(strlen(pcref_error_last()->message), 1023);
}
END_TEST

START_TEST(strerror_covers_every_code)
{
	for (int code = PCREF_OK; code >= PCREF_EREPLAY; code--)
		ck_assert_str_ne(pcref_strerror(code), "unknown error code");
	ck_assert_str_eq(pcref_strerror(-9999), "unknown error code");
	ck_assert_str_eq(pcref_strerror(PCREF_EAUTH), "credentials refused or expired");
}
END_TEST

/* ---- allocator hook ---- */
static size_t live_allocs, total_allocs;
static void *count_alloc(size_t n, void *p) { (void)p; live_allocs++; total_allocs++; return malloc(n); }
static void *count_realloc(void *ptr, size_t n, void *p)
{
	(void)p;
	if (!ptr) { live_allocs++; total_allocs++; }
	return realloc(ptr, n);
}
static void count_free(void *ptr, void *p) { (void)p; if (ptr) live_allocs--; free(ptr); }

START_TEST(allocator_hook_is_used_and_balanced)
{
	pcref_allocator a;
	pcref_referral *r;
	char *json;
	size_t len;
	ck_assert_int_eq(pcref_allocator_init(&a, PCREF_ALLOCATOR_VERSION), PCREF_OK);
	a.alloc_fn = count_alloc;
	a.realloc_fn = count_realloc;
	a.free_fn = count_free;
	ck_assert_int_eq(pcref_allocator_set(&a), PCREF_OK);
	ck_assert_int_eq(pcref_init(), 1);
	ck_assert_int_eq(pcref_referral_parse(&r, "{\"name\":\"x\",\"a\":[1,{}]}", 23), PCREF_OK);
	ck_assert_int_eq(pcref_referral_to_json(r, &json, &len), PCREF_OK);
	pcref_free(json);
	pcref_referral_free(r);
	ck_assert_uint_gt(total_allocs, 5); /* yajl's allocations go through it too */
	ck_assert_uint_eq(live_allocs, 0);
	tu_assert_error(pcref_allocator_set(NULL), PCREF_ESTATE, "before pcref_init");
	ck_assert_int_eq(pcref_shutdown(), 0);
	ck_assert_int_eq(pcref_allocator_set(NULL), PCREF_OK);
}
END_TEST

START_TEST(allocator_rejects_bad_structs)
{
	pcref_allocator a = PCREF_ALLOCATOR_INIT;
	tu_assert_error(pcref_allocator_set(&a), PCREF_EINVALID, "must all be set");
	a.version = 99;
	tu_assert_error(pcref_allocator_set(&a), PCREF_EVERSION, "version 99");
	tu_assert_error(pcref_allocator_init(&a, 2), PCREF_EVERSION, "version 2");
	tu_assert_error(pcref_allocator_init(NULL, 1), PCREF_EINVALID, "NULL");
}
END_TEST

/* ---- time ---- */
START_TEST(time_parses_partner_center_forms)
{
	int64_t ms;
	ck_assert_int_eq(pcref__time_parse("1970-01-01T00:00:00Z", &ms), 0);
	ck_assert_int_eq(ms, 0);
	ck_assert_int_eq(pcref__time_parse("2018-10-30T21:03:42.4579542Z", &ms), 0);
	ck_assert_int_eq(ms, 1540933422457LL);
	ck_assert_int_eq(pcref__time_parse("2018-02-17T00:05:39.5485487+00:00", &ms), 0);
	ck_assert_int_eq(ms, 1518825939548LL);
	ck_assert_int_eq(pcref__time_parse("2022-03-07T11:02:54+01:00", &ms), 0);
	ck_assert_int_eq(ms, 1646647374000LL);
	ck_assert_int_eq(pcref__time_parse("2022-03-07T05:02:54-0500", &ms), 0);
	ck_assert_int_eq(ms, 1646647374000LL);
	ck_assert_int_eq(pcref__time_parse("2017-12-08T21:39:48.2386997", &ms), 0); /* no offset: UTC */
	ck_assert_int_eq(ms, 1512769188238LL);
	ck_assert_int_eq(pcref__time_parse("2024-02-29", &ms), 0);
	ck_assert_int_eq(ms, 1709164800000LL);
	ck_assert_int_eq(pcref__time_parse("1969-12-31T23:59:59.5Z", &ms), 0);
	ck_assert_int_eq(ms, -500);
}
END_TEST

START_TEST(time_rejects_garbage)
{
	static const char *bad[] = { "", "2018", "2018-13-01T00:00:00Z", "2023-02-29T00:00:00Z",
		"2018-10-30T25:00:00Z", "2018-10-30T21:03:42.Z", "2018-10-30T21:03:42Zjunk",
		"2018/10/30", "yesterday", "2018-10-30T21:03:42+25:00" };
	int64_t ms;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		tu_assert_error(pcref__time_parse(bad[i], &ms), PCREF_EINVALID, "ISO 8601");
}
END_TEST

START_TEST(time_formats_round_trip)
{
	char text[PCREF__TIME_BUFSZ];
	int64_t back;
	static const int64_t values[] = { 0, 1540933422457LL, 1709164800000LL, -500, 253402300799000LL };
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		ck_assert_int_eq(pcref__time_format(values[i], text), 0);
		ck_assert_int_eq(pcref__time_parse(text, &back), 0);
		ck_assert_int_eq(back, values[i]);
	}
	pcref__time_format(1709164800000LL, text);
	ck_assert_str_eq(text, "2024-02-29T00:00:00Z");
	pcref__time_format(1540933422457LL, text);
	ck_assert_str_eq(text, "2018-10-30T21:03:42.457Z");
}
END_TEST

START_TEST(time_formats_http_dates)
{
	char text[PCREF__TIME_BUFSZ];
	/* the date of the crm-apis.md B.4 example (10 Aug 2015 was a Monday), and a
	 * leap day; milliseconds are dropped */
	ck_assert_int_eq(pcref__time_format_http(1439164800000LL, text), 0);
	ck_assert_str_eq(text, "Mon, 10 Aug 2015 00:00:00 GMT");
	ck_assert_int_eq(pcref__time_format_http(1709164800999LL + 3723000, text), 0);
	ck_assert_str_eq(text, "Thu, 29 Feb 2024 01:02:03 GMT");
	ck_assert_int_eq(pcref__time_format_http(PCREF__TIME_NONE, text), PCREF_EINVALID);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("core");
	TCase *tc = tu_tcase(s, "global");
	tcase_add_test(tc, init_is_reference_counted);
	tcase_add_test(tc, init_is_thread_safe);
	tcase_add_test(tc, version_matches_headers);
	tc = tu_tcase(s, "errors");
	tcase_add_test(tc, error_record_is_never_null_and_clears);
	tcase_add_test(tc, error_record_is_thread_local);
	tcase_add_test(tc, long_messages_are_truncated_safely);
	tcase_add_test(tc, strerror_covers_every_code);
	tc = tu_tcase(s, "allocator");
	tcase_add_test(tc, allocator_hook_is_used_and_balanced);
	tcase_add_test(tc, allocator_rejects_bad_structs);
	tc = tu_tcase(s, "time");
	tcase_add_test(tc, time_parses_partner_center_forms);
	tcase_add_test(tc, time_rejects_garbage);
	tcase_add_test(tc, time_formats_round_trip);
	tcase_add_test(tc, time_formats_http_dates);
	return tu_run(s);
}
