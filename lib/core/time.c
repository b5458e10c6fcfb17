/* ISO 8601 date-times <-> int64 epoch milliseconds, without the C library's
 * time zone state (timegm is not standard; mktime depends on TZ). */
#include <time.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* Days since 1970-01-01 of a proleptic Gregorian date (civil-from-days
 * inverse; valid for any year representable here). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;
	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;
	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static int bad(const char *text)
{
	return pcref__error(PCREF_EINVALID,
		"'%.64s' is not an ISO 8601 date-time (expected e.g. 2024-11-14T00:00:00Z)", text);
}

static int days_in_month(int y, int m)
{
	static const int dim[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : dim[m - 1];
}

int pcref__time_parse(const char *text, int64_t *ms)
{
	const char *p = text;
	int y, mo, d, h = 0, mi = 0, s = 0, frac = 0, oh = 0, om = 0;
	int64_t total;

	if (!text)
		return bad("(null)");
	if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
	    digits(&p, 2, &d))
		return bad(text);
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		return bad(text);
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi))
			return bad(text);
		if (*p == ':') {
			p++;
			if (digits(&p, 2, &s))
				return bad(text);
			if (*p == '.' || *p == ',') {
				int n = 0, scale = 100;
				p++;
				/* up to 7 digits (Partner Center) or more; keep ms */
				while (*p >= '0' && *p <= '9') {
					if (n < 3) {
						frac += (*p - '0') * scale;
						scale /= 10;
					}
					n++, p++;
				}
				if (n == 0 || n > 9)
					return bad(text);
			}
		}
		if (h > 23 || mi > 59 || s > 60)
			return bad(text);
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1;
		if (digits(&p, 2, &oh))
			return bad(text);
		if (*p == ':')
			p++;
		if (*p && digits(&p, 2, &om))
			return bad(text);
		if (oh > 23 || om > 59)
			return bad(text);
		oh *= sign, om *= sign;
	}
	if (*p)
		return bad(text);
	if (s == 60)
		s = 59; /* leap second: clamp */
	total = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - (oh * 3600 + om * 60);
	*ms = total * 1000 + frac;
	return PCREF_OK;
}

int pcref__time_format(int64_t ms, char *out)
{
	int64_t secs, days, y;
	int m, d, rem, millis;

	if (ms == PCREF__TIME_NONE)
		return pcref__error(PCREF_EINVALID, "no date-time to format");
	secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
	millis = (int)(ms - secs * 1000);
	days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
	rem = (int)(secs - days * 86400);
	civil_from_days(days, &y, &m, &d);
	if (y < 0 || y > 9999)
		return pcref__error(PCREF_EINVALID, "date-time %lld ms is outside years 0000-9999",
		                    (long long)ms);
	if (millis)
		snprintf(out, PCREF__TIME_BUFSZ, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (int)y, m, d,
		         rem / 3600, rem / 60 % 60, rem % 60, millis);
	else
		snprintf(out, PCREF__TIME_BUFSZ, "%04d-%02d-%02dT%02d:%02d:%02dZ", (int)y, m, d,
		         rem / 3600, rem / 60 % 60, rem % 60);
	return PCREF_OK;
}

int pcref__time_format_http(int64_t ms, char *out)
{
	static const char *const wday[] = { "Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed" };
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	int64_t secs, days, y;
	int m, d, rem;

	if (ms == PCREF__TIME_NONE)
		return pcref__error(PCREF_EINVALID, "no date-time to format");
	secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
	days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
	rem = (int)(secs - days * 86400);
	civil_from_days(days, &y, &m, &d);
	if (y < 1000 || y > 9999)
		return pcref__error(PCREF_EINVALID, "date-time %lld ms is outside years 1000-9999",
		                    (long long)ms);
	snprintf(out, PCREF__TIME_BUFSZ, "%s, %02d %s %04d %02d:%02d:%02d GMT", wday[((days % 7) + 7) % 7], d,
	         mon[m - 1], (int)y, rem / 3600, rem / 60 % 60, rem % 60);
	return PCREF_OK;
}

int64_t pcref__now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
