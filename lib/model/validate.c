/* Validation helpers: status/substatus table (partner-center-api.md §4.2),
 * ISO 3166-1 alpha-2 countries, ISO 4217 currencies, and the
 * pre-flight check of a referral before it is sent. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "referral_internal.h"
#include "iso_tables.h"

static const struct status_row {
	const char *status;
	const char *substatuses[5];
	const char *next[4];   /* statuses it may move to */
} status_table[] = {
	{ "None", { "None", NULL }, { "None", "New", "Active", "Closed" } },
	{ "New", { "Pending", "Received", NULL }, { "New", "Active", "Closed", NULL } },
	{ "Active", { "Accepted", NULL }, { "Active", "Closed", NULL } },
	{ "Closed", { "Won", "Lost", "Declined", "Expired", NULL }, { NULL } },
};

static const struct status_row *find_status(const char *status)
{
	for (size_t i = 0; status && i < PCREF__ARRAY_LEN(status_table); i++)
		if (strcmp(status, status_table[i].status) == 0)
			return &status_table[i];
	return NULL;
}

int pcref_status_check(const char *status, const char *substatus)
{
	const struct status_row *row = find_status(status);
	pcref__buf allowed = PCREF__BUF_INIT;
	int rc;
	if (!row)
		return pcref__error(PCREF_EINVALID,
			"referral status '%s' is not valid (use New, Active or Closed)",
			status ? status : "(null)");
	for (size_t i = 0; row->substatuses[i]; i++) {
		if (substatus && strcmp(substatus, row->substatuses[i]) == 0) {
			pcref__buf_dispose(&allowed);
			return PCREF_OK;
		}
		pcref__buf_printf(&allowed, "%s%s", i ? ", " : "", row->substatuses[i]);
	}
	rc = pcref__error(PCREF_EINVALID,
		"referral substatus '%s' does not go with status '%s' (allowed: %s)",
		substatus ? substatus : "(null)", status, allowed.data ? allowed.data : "");
	pcref__buf_dispose(&allowed);
	return rc;
}

int pcref_status_is_terminal(const char *status)
{
	return status && strcmp(status, "Closed") == 0;
}

int pcref_status_transition_check(const char *from_status, const char *from_substatus,
                                  const char *to_status, const char *to_substatus)
{
	const struct status_row *from;
	int rc;
	if ((rc = pcref_status_check(to_status, to_substatus)) < 0)
		return rc;
	if (!(from = find_status(from_status)))
		return pcref__error(PCREF_EINVALID, "referral status '%s' is not valid (use New, Active or Closed)",
		                    from_status ? from_status : "(null)");
	if (strcmp(from_status, to_status) == 0 && from_substatus && strcmp(from_substatus, to_substatus) == 0)
		return PCREF_OK;
	if (pcref_status_is_terminal(from_status))
		return pcref__error(PCREF_EINVALID,
			"the referral is Closed/%s, a terminal state: Partner Center allows no further change "
			"(it cannot become %s/%s)", from_substatus ? from_substatus : "?", to_status, to_substatus);
	for (size_t i = 0; i < PCREF__ARRAY_LEN(from->next) && from->next[i]; i++)
		if (strcmp(from->next[i], to_status) == 0)
			return PCREF_OK;
	return pcref__error(PCREF_EINVALID,
		"a referral cannot move from %s/%s back to %s/%s (allowed: New → New, Active or Closed; "
		"Active → Active or Closed)", from_status, from_substatus ? from_substatus : "?",
		to_status, to_substatus);
}

static int cmp_code(const void *key, const void *elem)
{
	return strcmp(key, elem);
}

static int check_code(const char *code, size_t width, const void *table, size_t n,
                      const char *what, const char *example)
{
	char upper[4];
	size_t len = code ? strlen(code) : 0;
	if (len == width) {
		if (bsearch(code, table, n, width + 1, cmp_code))
			return PCREF_OK;
		for (size_t i = 0; i < width; i++)
			upper[i] = (char)toupper((unsigned char)code[i]);
		upper[width] = '\0';
		if (strcmp(upper, code) != 0 && bsearch(upper, table, n, width + 1, cmp_code))
			return pcref__error(PCREF_EINVALID, "'%s' is not an %s code: write it in upper case, '%s'",
			                    code, what, upper);
	}
	return pcref__error(PCREF_EINVALID, "'%s' is not an %s code (expected %zu letters, e.g. %s)",
	                    code ? code : "(null)", what, width, example);
}

int pcref_country_check(const char *code)
{
	return check_code(code, 2, iso_countries, PCREF__ARRAY_LEN(iso_countries),
	                  "ISO 3166-1 alpha-2 country", "US or SE; Partner Center needs the two-letter code (R-12)");
}

int pcref_currency_check(const char *code)
{
	return check_code(code, 3, iso_currencies, PCREF__ARRAY_LEN(iso_currencies),
	                  "ISO 4217 currency", "USD or SEK");
}

int pcref_referral_validate(const pcref_referral *r, uint32_t flags)
{
	static const char *const required[] = { "/type", "/customerProfile", "/consent", "/details" };
	const char *status, *country, *currency;
	double value;
	int rc;

	if (!r)
		return pcref__error(PCREF_EINVALID, "pcref_referral_validate: referral is NULL");
	if (flags)
		return pcref__error(PCREF_EINVALID, "pcref_referral_validate: flags must be 0");
	for (size_t i = 0; i < PCREF__ARRAY_LEN(required); i++) {
		const pcref__json *v = pcref__json_pointer(r->doc, required[i]);
		if (!v || v->type == PCREF__JSON_NULL)
			return pcref__error(PCREF_EINVALID,
				"the referral has no %s: Partner Center requires type, customerProfile, consent "
				"and details to create a referral", required[i]);
	}
	if ((rc = pcref__referral_check(r->doc)) < 0)
		return pcref__error_prefix(PCREF_EINVALID, "the referral is malformed");
	if ((status = pcref_referral_status(r)) &&
	    (rc = pcref_status_check(status, pcref_referral_substatus(r))) < 0)
		return rc;
	if (!(country = pcref_referral_address_country(r)))
		return pcref__error(PCREF_EINVALID,
			"the referral has no customer country (/customerProfile/address/country): Partner Center "
			"requires the two-letter ISO 3166 code (R-12)");
	if ((rc = pcref_country_check(country)) < 0)
		return pcref__error_prefix(rc, "customer country (/customerProfile/address/country)");
	if ((currency = pcref_referral_currency(r)) && (rc = pcref_currency_check(currency)) < 0)
		return pcref__error_prefix(rc, "deal currency (/details/currency)");
	value = pcref_referral_deal_value(r);
	if (!isnan(value) && value < 0)
		return pcref__error(PCREF_EINVALID, "the deal value (/details/dealValue) is negative (%g)", value);
	return PCREF_OK;
}
