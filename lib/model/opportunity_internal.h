/* The Opportunity handle's representation. */
#ifndef PCREF_MODEL_OPPORTUNITY_INTERNAL_H
#define PCREF_MODEL_OPPORTUNITY_INTERNAL_H

#include "pcref/opportunity.h"
#include "../core/json.h"

/* One more than the highest PCREF_FIELD_* id. */
#define PCREF__OPP_FIELDS (PCREF_FIELD_IS_LEAD + 1)

typedef struct pcref__opp_value {
	int set;
	char *text;
	double number;
	int64_t time;
	int flag;
} pcref__opp_value;

struct pcref_opportunity {
	pcref__opp_value values[PCREF__OPP_FIELDS];
	struct pcref__opp_solution { char *id; char *name; } *solutions;
	size_t nsolutions, solution_cap;
	pcref__json *extra; /* object: name -> any JSON */
};

/* Copy field `f` of `src` into `dst` (unset in `dst` when unset in `src`). */
int pcref__opportunity_copy_field(pcref_opportunity *dst, const pcref_opportunity *src, int f);

#endif
