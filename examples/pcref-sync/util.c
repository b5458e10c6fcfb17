/* pcref-sync: small helpers shared by its files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pcref/pcref.h>

#include "util.h"

char *util_strndup(const char *s, size_t n)
{
	char *out = malloc(n + 1);
	if (out) {
		memcpy(out, s, n);
		out[n] = '\0';
	}
	return out;
}

int64_t util_now_ms(void)
{
	return (int64_t)time(NULL) * 1000;
}

int64_t util_monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *util_format_time(int64_t ms, char *buf, size_t size)
{
	time_t t;
	struct tm tm;
	if (ms == PCREF_TIME_NONE) {
		snprintf(buf, size, "never");
		return buf;
	}
	t = (time_t)(ms / 1000);
	if (!gmtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, size, "%lld ms", (long long)ms);
	return buf;
}
