/* The internal lossless JSON model: round trips, pointers, streaming,
 * hostile input. */
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "testutil.h"

static char *roundtrip(const char *in)
{
	pcref__json *doc;
	pcref__buf buf = PCREF__BUF_INIT;
	char *out;
	ck_assert_int_eq(pcref__json_parse(&doc, in, strlen(in), "test"), 0);
	ck_assert_int_eq(pcref__json_write(&buf, doc), 0);
	ck_assert_int_eq(pcref__buf_detach(&buf, &out, NULL), 0);
	pcref__json_free(doc);
	return out;
}

START_TEST(round_trip_is_exact_for_compact_input)
{
	static const char *docs[] = {
		"{\"b\":1,\"a\":null,\"c\":[true,false,null,50000,50000.0,1e-7,-0.5],\"d\":{}}",
		"[\"\\\"q\\\\\\n\\t\\u0001\",{\"x\":[]}]",
		"\"caf\xc3\xa9\"",
		"123456789012345678901234567890",
	};
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		char *out = roundtrip(docs[i]);
		ck_assert_str_eq(out, docs[i]);
		pcref__dealloc(out);
	}
}
END_TEST

START_TEST(nul_inside_strings_survives)
{
	pcref__json *doc;
	const char in[] = "{\"k\":\"a\\u0000b\"}";
	ck_assert_int_eq(pcref__json_parse(&doc, in, strlen(in), "test"), 0);
	ck_assert_uint_eq(pcref__json_get(doc, "k")->u.str.len, 3);
	ck_assert_int_eq(memcmp(pcref__json_get(doc, "k")->u.str.text, "a\0b", 3), 0);
	pcref__json_free(doc);
}
END_TEST

START_TEST(pointer_get_and_set)
{
	pcref__json *doc, *v;
	const char in[] = "{\"a\":{\"b/c\":[10,{\"~d\":\"x\"}]},\"n\":null}";
	ck_assert_int_eq(pcref__json_parse(&doc, in, strlen(in), "test"), 0);
	ck_assert_str_eq(pcref__json_string(pcref__json_pointer(doc, "/a/b~1c/1/~0d")), "x");
	ck_assert_ptr_null(pcref__json_pointer(doc, "/a/b~1c/2"));
	ck_assert_ptr_null(pcref__json_pointer(doc, "/a/b~1c/01"));
	ck_assert_ptr_eq(pcref__json_pointer(doc, ""), doc);
	ck_assert_int_eq(pcref__json_pointer_set(doc, "/n/deep/er", pcref__json_new_bool(1)), 0);
	v = pcref__json_pointer(doc, "/n/deep/er");
	ck_assert(v && v->type == PCREF__JSON_BOOL && v->u.boolean);
	ck_assert_int_eq(pcref__json_pointer_set(doc, "/a/b~1c/-", pcref__json_new_number(2.5)), 0);
	ck_assert_str_eq(pcref__json_pointer(doc, "/a/b~1c/2")->u.str.text, "2.5");
	tu_assert_error(pcref__json_pointer_set(doc, "/a/b~1c/0/x", pcref__json_new_bool(0)),
	                PCREF_EINVALID, "not an object");
	tu_assert_error(pcref__json_pointer_set(doc, "no-slash", pcref__json_new_bool(0)),
	                PCREF_EINVALID, "not a valid JSON pointer");
	pcref__json_free(doc);
}
END_TEST

START_TEST(equality_compares_numbers_by_value_and_ignores_order)
{
	pcref__json *a, *b;
	const char x[] = "{\"v\":50000,\"w\":[1,2]}", y[] = "{\"w\":[1,2.0],\"v\":5e4}";
	const char z[] = "{\"w\":[2,1],\"v\":5e4}";
	ck_assert_int_eq(pcref__json_parse(&a, x, strlen(x), "a"), 0);
	ck_assert_int_eq(pcref__json_parse(&b, y, strlen(y), "b"), 0);
	ck_assert(pcref__json_equal(a, b));
	pcref__json_free(b);
	ck_assert_int_eq(pcref__json_parse(&b, z, strlen(z), "b"), 0);
	ck_assert(!pcref__json_equal(a, b));
	pcref__json_free(a);
	pcref__json_free(b);
}
END_TEST

START_TEST(malformed_input_is_a_protocol_error)
{
	static const char *bad[] = { "", "{", "{\"a\":}", "[1,]", "{\"a\":1}}", "nul", "{'a':1}",
		"\"\xff\xfe\"", "{\"a\":1} {\"b\":2}" };
	pcref__json *doc = NULL;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(pcref__json_parse(&doc, bad[i], strlen(bad[i]), "the test document"),
		                 PCREF_EPROTOCOL);
		ck_assert_msg(strstr(pcref_error_last()->message, "the test document"),
		              "message: %s", pcref_error_last()->message);
	}
	ck_assert_ptr_null(doc);
}
END_TEST

START_TEST(deep_nesting_is_refused_not_overflowed)
{
	size_t n = 100000;
	char *deep = malloc(2 * n + 1);
	pcref__json *doc = NULL;
	memset(deep, '[', n);
	memset(deep + n, ']', n);
	deep[2 * n] = '\0';
	tu_assert_error(pcref__json_parse(&doc, deep, 2 * n, "deep"), PCREF_EPROTOCOL, "nested deeper");
	ck_assert_ptr_null(doc);
	free(deep);
}
END_TEST

struct collect { int count; int stop_at; };

static int collect_item(pcref__json *item, int *steal, void *payload)
{
	struct collect *c = payload;
	(void)steal;
	ck_assert_int_eq(item->type, PCREF__JSON_OBJECT);
	ck_assert_int_eq((int)pcref__json_get(item, "i")->u.str.text[0] - '0', c->count % 10);
	if (++c->count == c->stop_at)
		return 42;
	return 0;
}

START_TEST(stream_delivers_items_and_keeps_the_rest)
{
	pcref__json_stream *s;
	struct collect c = { 0, 0 };
	const char doc[] = "{\"@odata.count\":3,\"value\":[{\"i\":0,\"x\":[{}]},{\"i\":1},{\"i\":2}],"
	                   "\"@odata.nextLink\":\"http://x/?$skiptoken=a\"}";
	ck_assert_int_eq(pcref__json_stream_new(&s, "value", collect_item, &c, "page"), 0);
	/* one byte at a time: items must still come out whole */
	for (size_t i = 0; i < strlen(doc); i++)
		ck_assert_int_eq(pcref__json_stream_feed(s, doc + i, 1), 0);
	ck_assert_int_eq(pcref__json_stream_finish(s), 0);
	ck_assert_int_eq(c.count, 3);
	ck_assert(pcref__json_stream_found_array(s));
	ck_assert_str_eq(pcref__json_string(pcref__json_get(pcref__json_stream_rest(s), "@odata.nextLink")),
	                 "http://x/?$skiptoken=a");
	ck_assert_ptr_null(pcref__json_get(pcref__json_stream_rest(s), "value"));
	pcref__json_stream_free(s);
}
END_TEST

START_TEST(stream_stops_when_the_callback_says_so)
{
	pcref__json_stream *s;
	struct collect c = { 0, 2 };
	const char doc[] = "{\"value\":[{\"i\":0},{\"i\":1,\"deep\":{\"a\":[1]}},{\"i\":2}]}";
	ck_assert_int_eq(pcref__json_stream_new(&s, "value", collect_item, &c, "page"), 0);
	ck_assert_int_eq(pcref__json_stream_feed(s, doc, strlen(doc)), 42);
	ck_assert_int_eq(c.count, 2);
	pcref__json_stream_free(s); /* no leak of the half-built tree (valgrind/ASan) */
}
END_TEST

START_TEST(stream_truncated_page_frees_partial_item)
{
	pcref__json_stream *s;
	struct collect c = { 0, 0 };
	const char doc[] = "{\"value\":[{\"i\":0},{\"i\":1,\"deep\":{\"a\":[1,";
	ck_assert_int_eq(pcref__json_stream_new(&s, "value", collect_item, &c, "the page"), 0);
	ck_assert_int_eq(pcref__json_stream_feed(s, doc, strlen(doc)), 0);
	tu_assert_error(pcref__json_stream_finish(s), PCREF_EPROTOCOL, "truncated");
	ck_assert_int_eq(c.count, 1);
	pcref__json_stream_free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tu_tcase(s, "model");
	tcase_add_test(tc, round_trip_is_exact_for_compact_input);
	tcase_add_test(tc, nul_inside_strings_survives);
	tcase_add_test(tc, pointer_get_and_set);
	tcase_add_test(tc, equality_compares_numbers_by_value_and_ignores_order);
	tc = tu_tcase(s, "hostile");
	tcase_add_test(tc, malformed_input_is_a_protocol_error);
	tcase_add_test(tc, deep_nesting_is_refused_not_overflowed);
	tc = tu_tcase(s, "stream");
	tcase_add_test(tc, stream_delivers_items_and_keeps_the_rest);
	tcase_add_test(tc, stream_stops_when_the_callback_says_so);
	tcase_add_test(tc, stream_truncated_page_frees_partial_item);
	return tu_run(s);
}
