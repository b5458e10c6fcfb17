/*
 * The set-up the sync examples share: a Partner Center client, a CRM, a
 * Mapping and a state store, built from environment variables, and one
 * way to print an event. Each example then does one thing with the
 * engine; read them for that, and this file once.
 *
 * Partner Center (the Referrals API, password grant):
 *   PCREF_PC_URL            default https://api.partner.microsoft.com
 *   PCREF_PC_TOKEN_URL      default https://login.microsoftonline.com/common/oauth2/token
 *   PCREF_PC_CLIENT_ID, PCREF_PC_CLIENT_SECRET, PCREF_PC_USERNAME, PCREF_PC_PASSWORD
 * The CRM:
 *   PCREF_CRM               "dynamics" or "memory" (default; forgotten at exit)
 *   PCREF_CRM_URL           Dynamics 365: https://ORG.crm.dynamics.com
 *   PCREF_CRM_TOKEN_URL     https://login.microsoftonline.com/TENANT/oauth2/v2.0/token
 *   PCREF_CRM_CLIENT_ID, PCREF_CRM_CLIENT_SECRET
 *   PCREF_MAPPING           a mapping file (doc/mapping.md); default: the CRM's defaults
 * The state store:
 *   PCREF_STORE             SQLite file; default pcref-state.db (":memory:" keeps nothing)
 *
 * Plain http:// URLs are accepted for loopback addresses only (the
 * emulators of tests/peers/; doc/quickstart.md shows them in use).
 */
#ifndef PCREF_EXAMPLE_SYNC_SETUP_H
#define PCREF_EXAMPLE_SYNC_SETUP_H

#include <pcref/pcref.h>

/* What the examples use; free with example_close(). */
typedef struct example {
	pcref_partner_center *pc;
	pcref_crm *crm;
	pcref_mapping *mapping;
	pcref_store *store;
	pcref_sync *sync;
} example;

/*
 * pcref_init(), then everything above from the environment, the engine
 * with `options` (NULL for the defaults). On failure prints what failed
 * (pcref_error_last()) to stderr, frees what was made and returns < 0.
 */
int example_open(example *ex, const pcref_sync_options *options);

/* The same with a CRM of the host's own instead of PCREF_CRM; example_close() frees it
 * and balances the pcref_init() the caller made before making `crm`. */
int example_open_with_crm(example *ex, pcref_crm *crm, const char *mapping_backend,
                          const pcref_sync_options *options);

/* Free everything example_open() made, then pcref_shutdown(). */
void example_close(example *ex);

/* Print `what` and pcref_error_last() to stderr; returns `rc`. */
int example_fail(const char *what, int rc);

/* "create", "update", ... for a PCREF_ACTION_*. */
const char *example_action_name(int action);

/* One line for an event: direction, action, ids, changes or message. */
void example_print_event(const pcref_sync_event *ev);

/* One line for a report. */
void example_print_report(const char *what, const pcref_sync_report *r);

#endif
