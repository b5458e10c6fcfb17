/*
 * referral-inspect: print a Partner Center referral (or every referral of a
 * Referrals API list page) in a readable form, and say whether it would be
 * accepted by Partner Center as it is.
 *
 *   referral-inspect referral.json
 *   referral-inspect --page page.json
 *
 * A starting point for code that reads referrals with libpcref.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcref/pcref.h>

static const char *or_dash(const char *s) { return s ? s : "-"; }

static int print_referral(const pcref_referral *r, void *payload)
{
	double value = pcref_referral_deal_value(r);
	(void)payload;
	printf("%s  %s\n", or_dash(pcref_referral_id(r)), or_dash(pcref_referral_name(r)));
	printf("  status     %s/%s (%s, %s)\n", or_dash(pcref_referral_status(r)),
	       or_dash(pcref_referral_substatus(r)), or_dash(pcref_referral_type(r)),
	       or_dash(pcref_referral_direction(r)));
	printf("  customer   %s, %s %s %s\n", or_dash(pcref_referral_customer_name(r)),
	       or_dash(pcref_referral_address_postal_code(r)), or_dash(pcref_referral_address_city(r)),
	       or_dash(pcref_referral_address_country(r)));
	if (isnan(value))
		printf("  deal value -\n");
	else
		printf("  deal value %.2f %s\n", value, or_dash(pcref_referral_currency(r)));
	for (size_t i = 0; i < pcref_referral_member_count(r, PCREF_MEMBERS_CUSTOMER); i++)
		printf("  contact    %s %s <%s>\n",
		       or_dash(pcref_referral_member_first_name(r, PCREF_MEMBERS_CUSTOMER, i)),
		       or_dash(pcref_referral_member_last_name(r, PCREF_MEMBERS_CUSTOMER, i)),
		       or_dash(pcref_referral_member_email(r, PCREF_MEMBERS_CUSTOMER, i)));
	for (size_t i = 0; i < pcref_referral_solution_count(r); i++)
		printf("  solution   %s (%s)\n", or_dash(pcref_referral_solution_id(r, i)),
		       or_dash(pcref_referral_solution_name(r, i)));
	if (pcref_referral_validate(r, 0) == PCREF_OK)
		printf("  valid for a create\n");
	else
		printf("  not valid for a create: %s\n", pcref_error_last()->message);
	return 0;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	size_t cap = 0, n;
	*len = 0;
	if (!f)
		return NULL;
	do {
		char *grown;
		cap = cap ? cap * 2 : 65536;
		if (!(grown = realloc(data, cap))) {
			free(data);
			fclose(f);
			return NULL;
		}
		data = grown;
		n = fread(data + *len, 1, cap - *len, f);
		*len += n;
	} while (*len == cap);
	fclose(f);
	return data;
}

int main(int argc, char **argv)
{
	int page = argc == 3 && strcmp(argv[1], "--page") == 0;
	const char *path = argv[argc - 1];
	size_t len;
	char *json, *next = NULL;
	int rc;

	if (argc != 2 && !page) {
		fprintf(stderr, "usage: %s [--page] FILE.json\n", argv[0]);
		return 2;
	}
	if (!(json = slurp(path, &len))) {
		perror(path);
		return 1;
	}
	pcref_init();
	if (page) {
		rc = pcref_referral_list_parse(json, len, print_referral, NULL, &next);
		if (rc == PCREF_OK && next)
			printf("next page: %s\n", next);
		pcref_free(next);
	} else {
		pcref_referral *r;
		if ((rc = pcref_referral_parse(&r, json, len)) == PCREF_OK) {
			print_referral(r, NULL);
			pcref_referral_free(r);
		}
	}
	if (rc < 0)
		fprintf(stderr, "%s: %s\n", path, pcref_error_last()->message);
	pcref_shutdown();
	free(json);
	return rc < 0 ? 1 : 0;
}
