#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

char *tu_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *data;
	long size;

	ck_assert_msg(f != NULL, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, 0, SEEK_SET);
	data = malloc((size_t)size + 1);
	ck_assert_ptr_nonnull(data);
	ck_assert_int_eq(fread(data, 1, (size_t)size, f), (size_t)size);
	data[size] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)size;
	return data;
}

char *tu_fixture(const char *name, size_t *len)
{
	const char *dir = getenv("PCREF_FIXTURES");
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/fixtures", name);
	return tu_read_file(path, len);
}

TCase *tu_tcase(Suite *suite, const char *name)
{
	TCase *tc = tcase_create(name);
	tcase_set_timeout(tc, TU_TIMEOUT);
	suite_add_tcase(suite, tc);
	return tc;
}

int tu_run(Suite *suite)
{
	SRunner *sr = srunner_create(suite);
	int failed;
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
