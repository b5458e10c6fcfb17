/* The field-level 3-way merge (DESIGN.md "Sync semantics"): each side's
 * canonical values against the base last synced. A field changed on one
 * side is copied to the other; changed on both, the Mapping's conflict
 * policy decides and the audit says so; nothing is written when nothing
 * differs (no echoes). */
#include <string.h>

#include "sync_internal.h"

static int copy_solutions(pcref_opportunity *dst, const pcref_opportunity *src)
{
	int rc = PCREF_OK;
	while (pcref_opportunity_solution_count(dst) > 0 && rc == PCREF_OK)
		rc = pcref_opportunity_solution_remove(dst, pcref_opportunity_solution_id(dst, 0));
	for (size_t i = 0, n = pcref_opportunity_solution_count(src); i < n && rc == PCREF_OK; i++)
		rc = pcref_opportunity_solution_add(dst, pcref_opportunity_solution_id(src, i),
		                                    pcref_opportunity_solution_name(src, i));
	return rc;
}

static int copy_extra(pcref_opportunity *dst, const pcref_opportunity *src, const char *name)
{
	char *json = NULL;
	int rc = pcref_opportunity_extra_get(src, name, &json);
	if (rc == PCREF_ENOTFOUND) {
		pcref_error_clear();
		return pcref_opportunity_extra_set(dst, name, NULL, 0);
	}
	if (rc == PCREF_OK)
		rc = pcref_opportunity_extra_set(dst, name, json, strlen(json));
	pcref_free(json);
	return rc;
}

static int extra_equal(const pcref_opportunity *a, const pcref_opportunity *b, const char *name)
{
	const char *ta, *tb;
	char *ja = NULL, *jb = NULL;
	int ra = pcref_opportunity_extra_get(a, name, &ja), rb = pcref_opportunity_extra_get(b, name, &jb), same;
	if (ra == PCREF_ENOTFOUND || rb == PCREF_ENOTFOUND)
		pcref_error_clear();
	ta = ra == PCREF_OK ? ja : NULL;
	tb = rb == PCREF_OK ? jb : NULL;
	same = (!ta && !tb) || (ta && tb && strcmp(ta, tb) == 0);
	pcref_free(ja);
	pcref_free(jb);
	return same;
}

/* Who wins a field changed on both sides. */
static int pc_wins(const pcref_mapping *m, int field, int64_t pc_time, int64_t crm_time)
{
	switch (pcref_mapping_conflict_winner(m, field)) {
	case PCREF_WINNER_PARTNER_CENTER: return 1;
	case PCREF_WINNER_CRM: return 0;
	default: return pc_time >= crm_time; /* newest; a tie goes to Partner Center */
	}
}

static const char *side_name(int pc)
{
	return pc ? "Partner Center" : "the CRM";
}

/* Lifecycle: which moves are made, and which refused. */
static int merge_lifecycle(pcref__merge *mg, int pl, int cl, int bl)
{
	int result = pl;
	if (pcref__lc_same(pl, cl)) {
		result = pl;
	} else if (pcref__lc_same(cl, bl)) {
		mg->lc_to_crm = pl;               /* Partner Center moved */
	} else if (pcref__lc_same(pl, bl) || pcref__lc_terminal(cl)) {
		/* the CRM moved (or both did and the CRM closed it) */
		if (pcref__lc_terminal(pl)) {
			pcref__buf_printf(&mg->notes, "the referral is already %s in Partner Center: the CRM's move to %s "
			                  "is not sent (closed referrals cannot change); ", pcref__lc_name(pl),
			                  pcref__lc_name(cl));
			mg->lc_to_crm = pl;
			mg->refused = 1;
		} else if (pl == PCREF__LC_PENDING && cl == PCREF__LC_WON) {
			pcref__buf_puts(&mg->notes, "an on-hold opportunity cannot be won directly: accept the referral "
			                "(move it to the active stage) first, then close it (R-21); ");
			mg->refused = 1;
		} else if (pl == PCREF__LC_PENDING && cl == PCREF__LC_LOST) {
			mg->lc_to_pc = result = PCREF__LC_DECLINED;  /* declining from on hold */
		} else if (cl == PCREF__LC_PENDING) {
			pcref__buf_puts(&mg->notes, "a referral cannot go back on hold in Partner Center: the stage "
			                "change is not sent; ");
			mg->refused = 1;
		} else {
			mg->lc_to_pc = result = cl;
		}
	} else {
		/* both moved, differently, neither closed in the CRM: Partner Center's status stands */
		pcref__buf_printf(&mg->notes, "status changed on both sides (%s in Partner Center, %s in the CRM): "
		                  "Partner Center's is kept; ", pcref__lc_name(pl), pcref__lc_name(cl));
		mg->conflicts[mg->n_conflicts++] = PCREF_FIELD_STAGE;
		mg->lc_to_crm = pl;
	}
	return result;
}

int pcref__merge_run(pcref__merge *mg, const pcref_opportunity *pc, const pcref_opportunity *crm,
                     const pcref_opportunity *base, const pcref_mapping *m, int64_t pc_time, int64_t crm_time)
{
	int pl = pcref__canon_lc(pc), cl = pcref__canon_lc(crm), bl = pcref__canon_lc(base), lc, rc;
	memset(mg, 0, sizeof(*mg));
	if ((rc = pcref_opportunity_dup(&mg->result, base)) < 0)
		return rc;
	lc = merge_lifecycle(mg, pl, cl, bl);
	if ((rc = pcref__canon_set_lc(mg->result, lc)) < 0)
		goto fail;
	/* CRM → PC changes wait while the referral is on hold and are
	 * impossible once it is closed */
	mg->held = lc == PCREF__LC_PENDING || pcref__lc_terminal(pl);

	for (size_t i = 0; i < pcref__merge_field_count; i++) {
		int f = pcref__merge_fields[i], from_pc;
		if (pcref__canon_equal(pc, crm, f)) {
			from_pc = 1;
		} else if (pcref__canon_equal(crm, base, f)) {
			from_pc = 1;
			mg->to_crm[mg->n_to_crm++] = f;
		} else if (pcref__canon_equal(pc, base, f)) {
			from_pc = 0;
		} else {
			from_pc = pc_wins(m, f, pc_time, crm_time);
			mg->conflicts[mg->n_conflicts++] = f;
			pcref__buf_printf(&mg->notes, "%s changed on both sides: %s's value kept; ",
			                  pcref_opportunity_field_name(f), side_name(from_pc));
			if (from_pc)
				mg->to_crm[mg->n_to_crm++] = f;
		}
		if (!from_pc) {
			if (f == PCREF_FIELD_MICROSOFT_CRM_ID) {
				/* Microsoft's, read-only in the CRM: put it back */
				from_pc = 1;
				mg->to_crm[mg->n_to_crm++] = f;
			} else if (f == PCREF_FIELD_VISIBILITY && pcref_opportunity_flag(pc, f) == 1 &&
			           pcref_opportunity_flag(crm, f) != 1) {
				/* once visible to Microsoft sellers, always visible */
				pcref__buf_puts(&mg->notes, "visibility cannot be reverted once the referral is visible to "
				                "Microsoft sellers (R-05); ");
				from_pc = 1;
				mg->to_crm[mg->n_to_crm++] = f;
			} else if (mg->held) {
				from_pc = 1;   /* the base keeps Partner Center's value: sent once allowed */
			} else {
				mg->to_pc[mg->n_to_pc++] = f;
			}
		}
		if ((rc = pcref__opportunity_copy_field(mg->result, from_pc ? pc : crm, f)) < 0)
			goto fail;
	}

	/* the solution list, as one value */
	{
		int pc_crm = pcref_opportunity_solutions_equal(pc, crm);
		int from_pc = 1;
		if (!pc_crm) {
			if (pcref_opportunity_solutions_equal(crm, base))
				mg->solutions_to_crm = 1;
			else if (pcref_opportunity_solutions_equal(pc, base))
				from_pc = 0;
			else if ((from_pc = pc_wins(m, -1, pc_time, crm_time)) != 0)
				mg->solutions_to_crm = 1;
			if (!from_pc) {
				if (mg->held)
					from_pc = 1;
				else
					mg->solutions_to_pc = 1;
			}
		}
		if ((rc = copy_solutions(mg->result, from_pc ? pc : crm)) < 0)
			goto fail;
	}

	/* custom mappings, each in its direction */
	for (size_t i = 0, n = pcref_mapping_extra_count(m); i < n; i++) {
		const char *name = pcref_mapping_extra_crm(m, i);
		int dir = pcref_mapping_extra_direction(m, i), from_pc = 1;
		if (!extra_equal(pc, crm, name)) {
			if (dir == PCREF_DIRECTION_TO_CRM)
				from_pc = 1;
			else if (dir == PCREF_DIRECTION_TO_PC)
				from_pc = 0;
			else if (extra_equal(crm, base, name))
				from_pc = 1;
			else if (extra_equal(pc, base, name))
				from_pc = 0;
			else
				from_pc = pc_wins(m, -1, pc_time, crm_time);
			if (from_pc) {
				if (mg->n_extra_to_crm < PCREF__MAX_FIELDS)
					mg->extra_to_crm[mg->n_extra_to_crm++] = (char *)name;
			} else if (mg->held) {
				from_pc = 1;
			} else if (mg->n_extra_to_pc < PCREF__MAX_FIELDS) {
				mg->extra_to_pc[mg->n_extra_to_pc++] = (char *)name;
			}
		}
		if ((rc = copy_extra(mg->result, from_pc ? pc : crm, name)) < 0)
			goto fail;
	}
	if (mg->held && !pcref__lc_terminal(pl) &&
	    (mg->n_to_pc == 0 && mg->lc_to_pc == PCREF__LC_NONE)) {
		/* say once, when there was something to hold back */
		for (size_t i = 0; i < pcref__merge_field_count; i++) {
			int f = pcref__merge_fields[i];
			if (!pcref__canon_equal(crm, mg->result, f) && f != PCREF_FIELD_MICROSOFT_CRM_ID) {
				pcref__buf_puts(&mg->notes, "the referral is on hold: CRM changes are sent once it is "
				                "accepted (R-21); ");
				break;
			}
		}
	}
	return PCREF_OK;
fail:
	pcref__merge_dispose(mg);
	return rc;
}

int pcref__merge_empty(const pcref__merge *mg)
{
	return !mg->n_to_crm && !mg->n_to_pc && !mg->solutions_to_crm && !mg->solutions_to_pc &&
	       !mg->n_extra_to_crm && !mg->n_extra_to_pc && mg->lc_to_crm == PCREF__LC_NONE &&
	       mg->lc_to_pc == PCREF__LC_NONE;
}

void pcref__merge_dispose(pcref__merge *mg)
{
	pcref_opportunity_free(mg->result);
	mg->result = NULL;
	pcref__buf_dispose(&mg->notes);
}
