/* Shared helpers of the Check unit suites. */
#ifndef PCREF_TESTUTIL_H
#define PCREF_TESTUTIL_H

#include <check.h>
#include <stddef.h>

/* Seconds each test may take (Check's default of 4 s is too tight under
 * valgrind; raised by PCREF_TEST_TIMEOUT_SCALE). */
#define TU_TIMEOUT 20

/* Read a whole file (NUL-terminated, free()); fails the test if absent. */
char *tu_read_file(const char *path, size_t *len);
/* Read a file from tests/fixtures ($PCREF_FIXTURES); fails the test if absent. */
char *tu_fixture(const char *name, size_t *len);
/* A test case with the explicit timeout, added to the suite. */
TCase *tu_tcase(Suite *suite, const char *name);
/* Run a suite (fork mode unless CK_FORK=no) and return the process exit code. */
int tu_run(Suite *suite);

/* Assert a libpcref call failed with `code` and a message mentioning `needle`. */
#define tu_assert_error(expr, want, needle) do { \
	int tu_rc_ = (expr); \
	ck_assert_int_eq(tu_rc_, (want)); \
	ck_assert_int_eq(pcref_error_last()->code, (want)); \
	ck_assert_msg(strstr(pcref_error_last()->message, (needle)) != NULL, \
	              "message '%s' does not mention '%s'", pcref_error_last()->message, (needle)); \
} while (0)

#endif
