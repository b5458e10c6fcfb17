/* The sync engine against the Partner Center emulator and a CRM — the
 * in-memory CRM, Dynamics 365 through the Dataverse emulator, or Salesforce
 * through its emulator (argv[1]: the same tests on every CRM, parameterised,
 * not copied). Each test is named after the rule of
 * ../shared/reference/connector-behaviour.md it checks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/json.h"
#include "pcref/pcref.h"
#include "peer.h"
#include "testutil.h"

#define OK(expr) ck_assert_msg((expr) == PCREF_OK, "%s: %s", #expr, pcref_error_last()->message)
#define SELLER "seller@contoso.example"

static const char *crm_kind = "memory";   /* argv[1] */
static peer pc_emu, crm_emu;
static char ca_file[64], cert_host[sizeof(((peer *)0)->base)];

static pcref_connection *pc_conn, *crm_conn;
static pcref_partner_center *pc;
static pcref_crm *crm;
static pcref_mapping *map;
static pcref_store *store;
static pcref_sync *sync_;

/* ---- events ------------------------------------------------------------------------ */

typedef struct seen {
	int direction, action, code, nconflicts;
	char message[512], changes[512], crm_id[80], referral_id[80];
	uint32_t flags;
} seen;

static seen events[256];
static size_t nevents;

static void on_event(const pcref_sync_event *ev, void *payload)
{
	seen *s;
	(void)payload;
	if (nevents >= sizeof(events) / sizeof(events[0]))
		return;
	s = &events[nevents++];
	memset(s, 0, sizeof(*s));
	s->direction = ev->direction;
	s->action = ev->action;
	s->code = ev->code;
	s->flags = ev->flags;
	s->nconflicts = (int)ev->nconflicts;
	snprintf(s->message, sizeof(s->message), "%s", ev->message ? ev->message : "");
	snprintf(s->changes, sizeof(s->changes), "%s", ev->changes ? ev->changes : "");
	snprintf(s->crm_id, sizeof(s->crm_id), "%s", ev->crm_id ? ev->crm_id : "");
	snprintf(s->referral_id, sizeof(s->referral_id), "%s", ev->referral_id ? ev->referral_id : "");
	if (getenv("PCREF_TEST_VERBOSE"))
		fprintf(stderr, "event dir=%d action=%d code=%d ref=%s crm=%s changes=%s msg=%s\n", ev->direction,
		        ev->action, ev->code, s->referral_id, s->crm_id, s->changes, s->message);
}

/* The last event with this action (NULL if none). */
static const seen *event(int action)
{
	for (size_t i = nevents; i-- > 0;)
		if (events[i].action == action)
			return &events[i];
	return NULL;
}

/* The last event with this action; the test fails when there is none. */
static const seen *must(int action)
{
	const seen *e = event(action);
	if (!e) {
		ck_abort_msg("no event with action %d", action);
		abort();
	}
	return e;
}

static size_t count_events(int action)
{
	size_t n = 0;
	for (size_t i = 0; i < nevents; i++)
		n += events[i].action == action;
	return n;
}

/* ---- connections ---------------------------------------------------------------------- */

static pcref_connection *pc_connect(const char *resource)
{
	pcref_connection *c = peer_partner_center_connection(&pc_emu, resource);
	ck_assert_msg(c != NULL, "%s", pcref_error_last()->message);
	return c;
}

static pcref_connection *dataverse_connect(void)
{
	pcref_connection *c = peer_dataverse_connection(&crm_emu);
	ck_assert_msg(c != NULL, "%s", pcref_error_last()->message);
	return c;
}

static int crm_is(const char *kind)
{
	return strcmp(crm_kind, kind) == 0;
}

/* ---- fixtures --------------------------------------------------------------------------- */

static void emulators_up(void)
{
	char *pem = NULL;
	FILE *f;
	int fd;
	pcref_init();
	ck_assert_msg(peer_start(&pc_emu, "partnercenter") == 0, "the Partner Center emulator did not start");
	if (!crm_is("memory"))
		ck_assert_msg(peer_start(&crm_emu, crm_is("dynamics") ? "dataverse" : crm_kind) == 0,
		              "the %s emulator did not start", crm_kind);
	snprintf(cert_host, sizeof(cert_host), "%.*s", (int)sizeof(cert_host) - 1, pc_emu.base + strlen("http://"));
	ck_assert_int_eq(peer_control(pc_emu.base, "GET", "/_control/webhook/ca.pem", NULL, &pem), 200);
	snprintf(ca_file, sizeof(ca_file), "/tmp/pcref-sync-ca-XXXXXX");
	ck_assert_int_ge(fd = mkstemp(ca_file), 0);
	ck_assert_ptr_nonnull(f = fdopen(fd, "w"));
	fputs(pem, f);
	fclose(f);
	free(pem);
}

static void emulators_down(void)
{
	peer_stop(&pc_emu);
	peer_stop(&crm_emu);
	unlink(ca_file);
	pcref_shutdown();
}

/* A mapping document over this CRM's defaults: `{"backend":"<crm>", <settings>}`. */
static const char *mapping_for(const char *settings)
{
	static char doc[512];
	snprintf(doc, sizeof(doc), "{\"backend\":\"%s\",%s}", crm_kind, settings);
	return doc;
}

/* A sync over fresh services, with `mapping_json` over the backend's defaults (or NULL). */
static void setup_with(const char *mapping_json)
{
	pcref_sync_options o = PCREF_SYNC_OPTIONS_INIT;
	peer_post(pc_emu.base, "/_control/reset", NULL);
	pc_conn = pc_connect("https://api.partner.microsoft.com");
	OK(pcref_partner_center_new(&pc, pc_conn, NULL));
	if (mapping_json)
		OK(pcref_mapping_load(&map, mapping_json, strlen(mapping_json)));
	else
		OK(pcref_mapping_new(&map, crm_kind));
	if (crm_is("dynamics")) {
		peer_post(crm_emu.base, "/_control/reset", NULL);
		crm_conn = dataverse_connect();
		OK(pcref_crm_dynamics_new(&crm, crm_conn, map));
	} else if (crm_is("salesforce")) {
		peer_post(crm_emu.base, "/_control/reset", NULL);
		crm_conn = peer_salesforce_connection(&crm_emu, PCREF_AUTH_CLIENT_CREDENTIALS);
		ck_assert_msg(crm_conn != NULL, "%s", pcref_error_last()->message);
		OK(pcref_crm_salesforce_new(&crm, crm_conn, map));
	} else {
		OK(pcref_crm_memory_new(&crm, "{\"currencies\":[\"USD\",\"EUR\"],\"users\":[\"" SELLER "\"]}"));
	}
	OK(pcref_store_memory_new(&store));
	o.on_event = on_event;
	o.retry_delay_ms = 1;
	o.overlap_ms = 1;
	OK(pcref_sync_new(&sync_, pc, crm, map, store, &o));
	nevents = 0;
}

static void setup(void)
{
	setup_with(NULL);
}

static void teardown(void)
{
	pcref_sync_free(sync_);
	pcref_store_free(store);
	pcref_crm_free(crm);
	pcref_mapping_free(map);
	pcref_partner_center_free(pc);
	pcref_connection_free(pc_conn);
	pcref_connection_free(crm_conn);
	sync_ = NULL;
	store = NULL;
	crm = NULL;
	map = NULL;
	pc = NULL;
	pc_conn = crm_conn = NULL;
}

/* ---- the two sides --------------------------------------------------------------------- */

/* Microsoft shares a co-sell referral (New/Pending) in USD with our seller. */
static char *pc_share(const char *extra_json)
{
	char body[1024], *answer = NULL, *id;
	pcref__json *doc = NULL;
	snprintf(body, sizeof(body),
	         "{\"details\":{\"currency\":\"USD\",\"dealValue\":50000},"
	         "\"team\":[{\"firstName\":\"Sam\",\"lastName\":\"Seller\",\"email\":\"" SELLER "\"}]%s%s}",
	         extra_json ? "," : "", extra_json ? extra_json : "");
	ck_assert_int_eq(peer_control(pc_emu.base, "POST", "/_control/microsoft/share", body, &answer), 200);
	OK(pcref__json_parse(&doc, answer, strlen(answer), "share"));
	id = strdup(pcref__json_string(pcref__json_get(doc, "id")));
	pcref__json_free(doc);
	free(answer);
	return id;
}

static pcref_referral *pc_get(const char *id)
{
	pcref_referral *r = NULL;
	OK(pcref_partner_center_get_referral(&r, pc, id));
	return r;
}

/* An edit in Partner Center (JSON Patch), as Microsoft or the partner makes it there. */
static void pc_patch(const char *id, const char *patch)
{
	pcref_referral *r = pc_get(id);
	OK(pcref_partner_center_update_referral(NULL, pc, id, patch, strlen(patch), NULL));
	pcref_referral_free(r);
}

static pcref_opportunity *crm_find(const char *referral_id)
{
	pcref_opportunity *o = NULL;
	int rc = pcref_crm_find_opportunity(&o, crm, referral_id);
	return rc == PCREF_OK ? o : NULL;
}

/* Whether the CRM has an opportunity for this referral. */
static int crm_has(const char *referral_id)
{
	pcref_opportunity *o = crm_find(referral_id);
	pcref_opportunity_free(o);
	return o != NULL;
}

static pcref_opportunity *crm_get(const char *id)
{
	pcref_opportunity *o = NULL;
	OK(pcref_crm_get_opportunity(&o, crm, id));
	return o;
}

/* A seller's edit in the CRM: one field. */
static void crm_set(const char *id, int field, const char *text, double number)
{
	pcref_opportunity *o = crm_get(id), *upd = NULL;
	int fields[1] = { field };
	OK(pcref_opportunity_new(&upd));
	OK(pcref_opportunity_set_text(upd, PCREF_FIELD_ID, id));
	OK(pcref_opportunity_set_text(upd, PCREF_FIELD_VERSION, pcref_opportunity_text(o, PCREF_FIELD_VERSION)));
	if (text)
		OK(pcref_opportunity_set_text(upd, field, text));
	else
		OK(pcref_opportunity_set_number(upd, field, number));
	OK(pcref_crm_update_opportunity(NULL, crm, upd, fields, 1));
	pcref_opportunity_free(upd);
	pcref_opportunity_free(o);
	usleep(2000); /* a distinct modification time */
}

/* A seller's new opportunity with Sync = Yes. */
static char *crm_new_shared(const char *name, const char *country, const char *help, int with_contact)
{
	pcref_opportunity *o = NULL, *out = NULL;
	char *id;
	OK(pcref_opportunity_new(&o));
	OK(pcref_opportunity_set_text(o, PCREF_FIELD_NAME, name));
	OK(pcref_opportunity_set_number(o, PCREF_FIELD_DEAL_VALUE, 120000));
	OK(pcref_opportunity_set_text(o, PCREF_FIELD_CURRENCY, "USD"));
	OK(pcref_opportunity_set_time(o, PCREF_FIELD_CLOSE_DATE, 1798675200000LL)); /* 2027-01-01 */
	OK(pcref_opportunity_set_text(o, PCREF_FIELD_STAGE, pcref_mapping_stage(map, PCREF_STAGE_ACTIVE)));
	OK(pcref_opportunity_set_flag(o, PCREF_FIELD_SYNC, 1));
	OK(pcref_opportunity_set_text(o, PCREF_FIELD_ACCOUNT_NAME, "Fabrikam Ltd"));
	OK(pcref_opportunity_set_text(o, PCREF_FIELD_ACCOUNT_POSTAL_CODE, "98052"));
	if (country)
		OK(pcref_opportunity_set_text(o, PCREF_FIELD_ACCOUNT_COUNTRY, country));
	if (help)
		OK(pcref_opportunity_set_text(o, PCREF_FIELD_HELP, help));
	if (with_contact) {
		OK(pcref_opportunity_set_text(o, PCREF_FIELD_CONTACT_FIRST_NAME, "Ada"));
		OK(pcref_opportunity_set_text(o, PCREF_FIELD_CONTACT_LAST_NAME, "Buyer"));
		OK(pcref_opportunity_set_text(o, PCREF_FIELD_CONTACT_EMAIL, "ada@fabrikam.example"));
		OK(pcref_crm_ensure_contact(crm, o));
	}
	{
		int match[2] = { PCREF_FIELD_ACCOUNT_NAME, PCREF_FIELD_ACCOUNT_POSTAL_CODE };
		OK(pcref_crm_ensure_account(crm, o, match, 2));
	}
	OK(pcref_crm_create_opportunity(&out, crm, o));
	id = strdup(pcref_opportunity_text(out, PCREF_FIELD_ID));
	pcref_opportunity_free(o);
	pcref_opportunity_free(out);
	return id;
}

/* A column of the stored CRM record as JSON text (to free()), NULL if unset:
 * what the CRM holds, read behind the backend's back. */
static char *stored_column(const char *crm_id, const char *column)
{
	char path[200], *body = NULL, *out = NULL;
	pcref__json *row = NULL;
	const pcref__json *v;
	pcref__buf b = PCREF__BUF_INIT;
	if (crm_is("memory")) {
		pcref_opportunity *o = crm_get(crm_id);
		char *json = NULL;
		if (pcref_opportunity_extra_get(o, column, &json) == PCREF_OK)
			out = strdup(json);
		pcref_free(json);
		pcref_opportunity_free(o);
		return out;
	}
	snprintf(path, sizeof(path), "/_control/rows/%s/%s", crm_is("dynamics") ? "opportunities" : "Opportunity", crm_id);
	ck_assert_int_eq(peer_control(crm_emu.base, "GET", path, NULL, &body), 200);
	OK(pcref__json_parse(&row, body, strlen(body), "row"));
	if ((v = pcref__json_get(row, column)) && v->type != PCREF__JSON_NULL && pcref__json_write(&b, v) == PCREF_OK)
		out = strdup(b.data);
	pcref__buf_dispose(&b);
	pcref__json_free(row);
	free(body);
	return out;
}

/* Writes the CRM received (-1 when the CRM keeps no request log). */
static long crm_writes(void)
{
	pcref__json *log;
	long n;
	if (!crm_emu.pid)
		return -1;
	log = peer_log(crm_emu.base);
	/* Dataverse under /api/data, Salesforce under /services/data */
	n = (long)(peer_log_count(log, "POST", "/data/") + peer_log_count(log, "PATCH", "/data/") +
	           peer_log_count(log, "DELETE", "/data/"));
	pcref__json_free(log);
	return n;
}

static void logs_clear(void)
{
	peer_log_clear(pc_emu.base);
	if (crm_emu.pid)
		peer_log_clear(crm_emu.base);
}

static size_t pc_writes(void)
{
	pcref__json *log = peer_log(pc_emu.base);
	size_t n = peer_log_count(log, "POST", "/referrals") + peer_log_count(log, "PATCH", "/referrals") +
	           peer_log_count(log, "PUT", "/referrals");
	pcref__json_free(log);
	return n;
}

static void poll_ok(void)
{
	pcref_sync_report r = PCREF_SYNC_REPORT_INIT;
	OK(pcref_sync_poll(sync_, 0, &r));
	usleep(2000);
}

static int has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* A shared referral synced once: its id and the CRM record's id. */
static char *shared_and_synced(char **crm_id)
{
	char *id = pc_share(NULL);
	pcref_opportunity *o;
	poll_ok();
	o = crm_find(id);
	ck_assert_msg(o != NULL, "the referral was not created in the CRM");
	*crm_id = strdup(pcref_opportunity_text(o, PCREF_FIELD_ID));
	pcref_opportunity_free(o);
	return id;
}

/* A referral accepted by the seller and synced. */
static char *accepted_and_synced(char **crm_id)
{
	char *id = shared_and_synced(crm_id);
	crm_set(*crm_id, PCREF_FIELD_STAGE, pcref_mapping_stage(map, PCREF_STAGE_ACTIVE), 0);
	poll_ok();
	return id;
}

/* ---- Partner Center → CRM ------------------------------------------------------------------ */

START_TEST(test_R20_R21_shared_referral_lands_on_hold)
{
	char *id = pc_share(NULL);
	pcref_opportunity *o;
	pcref_referral *r;
	poll_ok();
	ck_assert_ptr_nonnull(o = crm_find(id));
	ck_assert_int_eq(pcref_opportunity_flag(o, PCREF_FIELD_SYNC), 1);                       /* */
	ck_assert_str_eq(pcref_opportunity_text(o, PCREF_FIELD_REFERRAL_ID), id);               /* */
	ck_assert_ptr_nonnull(strstr(pcref_opportunity_text(o, PCREF_FIELD_REFERRAL_LINK), id)); /* */
	ck_assert_str_eq(pcref_opportunity_text(o, PCREF_FIELD_STAGE), pcref_mapping_stage(map, PCREF_STAGE_ON_HOLD));
	ck_assert_double_eq_tol(pcref_opportunity_number(o, PCREF_FIELD_DEAL_VALUE), 50000, 0.01);
	ck_assert_ptr_nonnull(event(PCREF_ACTION_CREATE));
	/* the linkage in Partner Center too */
	r = pc_get(id);
	ck_assert_str_eq(pcref_referral_external_reference_id(r), pcref_opportunity_text(o, PCREF_FIELD_ID));
	ck_assert_str_eq(pcref_referral_status(r), "New");  /* not accepted by the create */
	pcref_referral_free(r);
	pcref_opportunity_free(o);
	free(id);
}
END_TEST

START_TEST(test_R21_onhold_changes_not_pushed)
{
	char *crm_id, *id = shared_and_synced(&crm_id);
	pcref_referral *r;
	crm_set(crm_id, PCREF_FIELD_DEAL_VALUE, NULL, 77000);
	logs_clear();
	poll_ok();
	ck_assert_uint_eq(pc_writes(), 0);
	r = pc_get(id);
	ck_assert_double_eq_tol(pcref_referral_deal_value(r), 50000, 0.01);
	ck_assert_str_eq(pcref_referral_status(r), "New");
	pcref_referral_free(r);
	free(id);
	free(crm_id);
}
END_TEST

START_TEST(test_R21_accept_by_stage_then_edits_flow_both_ways)
{
	char *crm_id, *id = shared_and_synced(&crm_id);
	pcref_referral *r;
	pcref_opportunity *o;
	crm_set(crm_id, PCREF_FIELD_DEAL_VALUE, NULL, 65000);   /* on hold: kept back ... */
	crm_set(crm_id, PCREF_FIELD_STAGE, pcref_mapping_stage(map, PCREF_STAGE_ACTIVE), 0);
	poll_ok();
	r = pc_get(id);
	ck_assert_str_eq(pcref_referral_status(r), "Active");   /* accepted */
	ck_assert_str_eq(pcref_referral_substatus(r), "Accepted");
	ck_assert_double_eq_tol(pcref_referral_deal_value(r), 65000, 0.01); /* ... and sent with the acceptance */
	ck_assert_ptr_nonnull(event(PCREF_ACTION_ACCEPT));
	pcref_referral_free(r);
	/* CRM → PC */
	crm_set(crm_id, PCREF_FIELD_DEAL_VALUE, NULL, 80000);
	poll_ok();
	r = pc_get(id);
	ck_assert_double_eq_tol(pcref_referral_deal_value(r), 80000, 0.01);
	pcref_referral_free(r);
	/* PC → CRM */
	pc_patch(id, "[{\"op\":\"replace\",\"path\":\"/details/notes\",\"value\":\"Customer wants a pilot in May\"}]");
	poll_ok();
	o = crm_get(crm_id);
	ck_assert_str_eq(pcref_opportunity_text(o, PCREF_FIELD_NOTES), "Customer wants a pilot in May");
	ck_assert_double_eq_tol(pcref_opportunity_number(o, PCREF_FIELD_DEAL_VALUE), 80000, 0.01);
	pcref_opportunity_free(o);
	free(id);
	free(crm_id);
}
END_TEST

START_TEST(test_R21_decline_from_on_hold)
{
	char *crm_id, *id = shared_and_synced(&crm_id);
	pcref_referral *r;
	OK(pcref_crm_close_opportunity(crm, crm_id, 0, "No budget"));
	poll_ok();
	r = pc_get(id);
	ck_assert_str_eq(pcref_referral_status(r), "Closed");
	ck_assert_str_eq(pcref_referral_substatus(r), "Declined");
	ck_assert_ptr_nonnull(event(PCREF_ACTION_DECLINE));
	pcref_referral_free(r);
	free(id);
	free(crm_id);
}
END_TEST

START_TEST(test_R21_onhold_cannot_be_won_directly)
{
	char *crm_id, *id = shared_and_synced(&crm_id);
	pcref_referral *r;
	pcref_opportunity *o;
	OK(pcref_crm_close_opportunity(crm, crm_id, 1, NULL));
	poll_ok();
	r = pc_get(id);
	ck_assert_str_eq(pcref_referral_status(r), "New");
	pcref_referral_free(r);
	/* refused and said so (a closed CRM record is read-only, so the event
	 * carries it rather than the audit field) */
	ck_assert_ptr_nonnull(strstr(must(PCREF_ACTION_SKIP)->message, "R-21"));
	o = crm_get(crm_id);
	ck_assert_str_eq(pcref_opportunity_text(o, PCREF_FIELD_STATE), "won");
	pcref_opportunity_free(o);
	free(id);
	free(crm_id);
}
END_TEST

START_TEST(test_R31_won_in_partner_center_closes_the_opportunity)
{
	char *crm_id, *id = accepted_and_synced(&crm_id);
	pcref_opportunity *o;
	pc_patch(id, "[{\"op\":\"replace\",\"path\":\"/status\",\"value\":\"Closed\"},"
	             "{\"op\":\"replace\",\"path\":\"/substatus\",\"value\":\"Won\"}]");
	poll_ok();
	o = crm_get(crm_id);
	ck_assert_str_eq(pcref_opportunity_text(o, PCREF_FIELD_STATE), "won");
	ck_assert_ptr_nonnull(event(PCREF_ACTION_CLOSE));
	pcref_opportunity_free(o);
	free(id);
	free(crm_id);
}
END_TEST

START_TEST(test_R31_lost_in_crm_closes_the_referral)
{
	char *crm_id, *id = accepted_and_synced(&crm_id);
	pcref_referral *r;
	OK(pcref_crm_close_opportunity(crm, crm_id, 0, "Went with a competitor"));
	poll_ok();
	r = pc_get(id);
	ck_assert_str_eq(pcref_referral_status(r), "Closed");
	ck_assert_str_eq(pcref_referral_substatus(r), "Lost");
	pcref_referral_free(r);
	free(id);
	free(crm_id);
}
END_TEST

START_TEST(test_R31_won_in_crm_closes_the_referral)
{
	char *crm_id, *id = accepted_and_synced(&crm_id);
	pcref_referral *r;
	OK(pcref_crm_close_opportunity(crm, crm_id, 1, NULL));
	poll_ok();
	r = pc_get(id);
	ck_assert_str_eq(pcref_referral_substatus(r), "Won");
	pcref_referral_free(r);
	free(id);
	free(crm_id);
}
END_TEST

START_TEST(test_R25_never_synced_closed_referral_not_created)
{
	peer_post(pc_emu.base, "/_control/generate",
	          "{\"count\":1,\"type\":\"Shared\",\"status\":\"Closed\",\"substatus\":\"Won\",\"direction\":\"Incoming\"}");
	poll_ok();
	ck_assert_uint_eq(count_events(PCREF_ACTION_CREATE), 0);
	ck_assert_ptr_nonnull(event(PCREF_ACTION_SKIP));
	ck_assert_ptr_nonnull(strstr(must(PCREF_ACTION_SKIP)->message, "R-25"));
}
END_TEST

START_TEST(test_R24_unknown_crm_id_ignored)
{
	char *id = pc_share("\"externalReferenceId\":\"00000000-0000-4000-8000-00000000dead\"");
	poll_ok();
	ck_assert(!crm_has(id));
	ck_assert_ptr_nonnull(event(PCREF_ACTION_SKIP));
	ck_assert_ptr_nonnull(strstr(must(PCREF_ACTION_SKIP)->message, "R-24"));
	free(id);
}
END_TEST

START_TEST(test_R26_lost_seller_inbound_without_email)
{
	char *crm_id, *id = accepted_and_synced(&crm_id);
	pcref_opportunity *o;
	pc_patch(id, "[{\"op\":\"replace\",\"path\":\"/customerProfile/team\",\"value\":[{\"firstName\":\"Ada\"}]},"
	             "{\"op\":\"replace\",\"path\":\"/status\",\"value\":\"Closed\"},"
	             "{\"op\":\"replace\",\"path\":\"/substatus\",\"value\":\"Lost\"}]");
	poll_ok();
	ck_assert_uint_eq(count_events(PCREF_ACTION_FAIL), 0);
	o = crm_get(crm_id);
	ck_assert_str_eq(pcref_opportunity_text(o, PCREF_FIELD_STATE), "lost");
	pcref_opportunity_free(o);
	free(id);
	free(crm_id);
}
END_TEST

START_TEST(test_R29_missing_currency_reported)
{
	char *id = pc_share("\"customerProfile\":{\"address\":{\"country\":\"CH\"}},\"details\":{\"currency\":\"CHF\"}");
	pcref_sync_report r = PCREF_SYNC_REPORT_INIT;
	OK(pcref_sync_poll(sync_, 0, &r));
	ck_assert_uint_eq(r.failed, 1);
	ck_assert_ptr_nonnull(event(PCREF_ACTION_FAIL));
	ck_assert_ptr_nonnull(strstr(must(PCREF_ACTION_FAIL)->message, "CHF"));
	ck_assert(!crm_has(id));
	free(id);
}
END_TEST

static const char *first_id(const pcref__json *doc)
{
	const pcref__json *ids = pcref__json_get(doc, "ids");
	ck_assert_msg(ids && ids->type == PCREF__JSON_ARRAY && ids->u.arr.len > 0, "no ids generated");
	return pcref__json_string(ids->u.arr.items[0]);
}

START_TEST(test_R22_leads_only_when_cosell_only_is_off)
{
	pcref_opportunity *lead = NULL;
	char *answer = NULL;
	pcref__json *doc = NULL;
	const char *id;
	teardown();
	setup_with(mapping_for("\"sync_cosell_only\":true"));
	ck_assert_int_eq(peer_control(pc_emu.base, "POST", "/_control/generate",
	                              "{\"count\":1,\"type\":\"Independent\",\"status\":\"New\",\"direction\":\"Incoming\"}",
	                              &answer), 200);
	OK(pcref__json_parse(&doc, answer, strlen(answer), "generate"));
	id = first_id(doc);
	poll_ok();
	ck_assert_ptr_nonnull(event(PCREF_ACTION_SKIP));
	ck_assert_ptr_nonnull(strstr(must(PCREF_ACTION_SKIP)->message, "R-22"));
	ck_assert_int_eq(pcref_crm_find_lead(&lead, crm, id), PCREF_ENOTFOUND);
	/* the same referral, with leads wanted (and the referral's currency known) */
	teardown();
	setup_with(mapping_for("\"sync_cosell_only\":false"));
	free(answer);
	pcref__json_free(doc);
	ck_assert_int_eq(peer_control(pc_emu.base, "POST", "/_control/generate",
	                              "{\"count\":1,\"type\":\"Independent\",\"status\":\"New\",\"direction\":\"Incoming\","
	                              "\"seed\":7}", &answer), 200);
	OK(pcref__json_parse(&doc, answer, strlen(answer), "generate"));
	id = first_id(doc);
	pc_patch(id, "[{\"op\":\"replace\",\"path\":\"/details/currency\",\"value\":\"USD\"}]");
	poll_ok();
	OK(pcref_crm_find_lead(&lead, crm, id));
	ck_assert_int_eq(pcref_opportunity_flag(lead, PCREF_FIELD_IS_LEAD), 1);
	pcref_opportunity_free(lead);
	free(answer);
	pcref__json_free(doc);
}
END_TEST

/* ---- CRM → Partner Center -------------------------------------------------------------------- */

START_TEST(test_R10_shared_opportunity_creates_referral)
{
	char *crm_id = crm_new_shared("Fabrikam rollout", "US", NULL, 1);
	pcref_opportunity *o;
	pcref_referral *r;
	poll_ok();
	o = crm_get(crm_id);
	ck_assert_ptr_nonnull(pcref_opportunity_text(o, PCREF_FIELD_REFERRAL_ID));       /* written back */
	ck_assert_ptr_nonnull(strstr(pcref_opportunity_text(o, PCREF_FIELD_REFERRAL_LINK),
	                             pcref_opportunity_text(o, PCREF_FIELD_REFERRAL_ID)));
	ck_assert(has_suffix(pcref_opportunity_text(o, PCREF_FIELD_NAME), "\xE2\x9C\x94")); /* */
	r = pc_get(pcref_opportunity_text(o, PCREF_FIELD_REFERRAL_ID));
	ck_assert_str_eq(pcref_referral_external_reference_id(r), crm_id);
	ck_assert_str_eq(pcref_referral_name(r), "Fabrikam rollout");   /* no mark in Partner Center */
	ck_assert_double_eq_tol(pcref_referral_deal_value(r), 120000, 0.01);
	ck_assert_str_eq(pcref_referral_address_country(r), "US");
	ck_assert_ptr_nonnull(strstr(pcref_opportunity_text(o, PCREF_FIELD_AUDIT), "created Partner Center referral"));
	/* a second poll changes nothing on either side */
	logs_clear();
	poll_ok();
	ck_assert_uint_eq(pc_writes(), 0);
	if (crm_writes() >= 0)
		ck_assert_int_eq(crm_writes(), 0);
	pcref_referral_free(r);
	pcref_opportunity_free(o);
	free(crm_id);
}
END_TEST

START_TEST(test_R04_R10_cosell_opportunity_invites_microsoft_once)
{
	char *crm_id = crm_new_shared("Fabrikam co-sell", "US", "GeneralOrOther", 1);
	pcref_opportunity *o;
	pcref_referral *r;
	OK(pcref_crm_add_solution(crm, crm_id, "SOL-34104-EBB", "Contoso Cloud Backup"));
	poll_ok();
	o = crm_get(crm_id);
	ck_assert_ptr_nonnull(pcref_opportunity_text(o, PCREF_FIELD_REFERRAL_ID));
	r = pc_get(pcref_opportunity_text(o, PCREF_FIELD_REFERRAL_ID));
	ck_assert_str_eq(pcref_referral_type(r), "Shared");              /* co-sell */
	ck_assert_str_eq(pcref_referral_assistance_request_code(r), "GeneralOrOther");
	/* the invitation to Microsoft is not a second deal: the next polls link
	 * nothing else and write nothing */
	logs_clear();
	nevents = 0;
	poll_ok();
	poll_ok();
	ck_assert_uint_eq(count_events(PCREF_ACTION_LINK) + count_events(PCREF_ACTION_CREATE), 0);
	ck_assert_uint_eq(pc_writes(), 0);
	if (crm_writes() >= 0)
		ck_assert_int_eq(crm_writes(), 0);
	pcref_referral_free(r);
	pcref_opportunity_free(o);
	free(crm_id);
}
END_TEST

START_TEST(test_R28_required_defaults_fill_new_records)
{
	/* a column Partner Center gives nothing for, on each CRM, and its default */
	const char *column = crm_is("salesforce") ? "NextStep" : crm_is("dynamics") ? "closeprobability" : "new_region";
	const char *value = crm_is("dynamics") ? "25" : "\"Call the customer\"";
	char settings[200], *id, *crm_id, *stored;
	pcref_opportunity *o;
	teardown();
	snprintf(settings, sizeof(settings), "\"required_defaults\":{\"opportunity\":{\"%s\":%s}}", column, value);
	setup_with(mapping_for(settings));
	id = pc_share(NULL);
	poll_ok();
	ck_assert_ptr_nonnull(o = crm_find(id));
	crm_id = strdup(pcref_opportunity_text(o, PCREF_FIELD_ID));
	pcref_opportunity_free(o);
	stored = stored_column(crm_id, column);
	ck_assert_ptr_nonnull(stored);
	ck_assert_str_eq(stored, value);
	free(stored);
	free(crm_id);
	free(id);
}
END_TEST

START_TEST(test_R05_visibility_never_reverts)
{
	char *crm_id, *id = accepted_and_synced(&crm_id);
	pcref_referral *r;
	pcref_opportunity *o;
	int fields[1] = { PCREF_FIELD_VISIBILITY };
	pcref_opportunity *upd = NULL;
	o = crm_get(crm_id);
	ck_assert_int_eq(pcref_opportunity_flag(o, PCREF_FIELD_VISIBILITY), 1);  /* shared by Microsoft: visible */
	OK(pcref_opportunity_new(&upd));
	OK(pcref_opportunity_set_text(upd, PCREF_FIELD_ID, crm_id));
	OK(pcref_opportunity_set_text(upd, PCREF_FIELD_VERSION, pcref_opportunity_text(o, PCREF_FIELD_VERSION)));
	OK(pcref_opportunity_set_flag(upd, PCREF_FIELD_VISIBILITY, 0));
	OK(pcref_crm_update_opportunity(NULL, crm, upd, fields, 1));
	pcref_opportunity_free(upd);
	pcref_opportunity_free(o);
	usleep(2000);
	poll_ok();
	r = pc_get(id);
	ck_assert_int_eq(pcref_referral_consent(r, PCREF_CONSENT_SHARE_WITH_MICROSOFT_SELLERS), 1);
	o = crm_get(crm_id);
	ck_assert_int_eq(pcref_opportunity_flag(o, PCREF_FIELD_VISIBILITY), 1);  /* put back */
	ck_assert_ptr_nonnull(strstr(pcref_opportunity_text(o, PCREF_FIELD_AUDIT), "R-05"));
	pcref_opportunity_free(o);
	pcref_referral_free(r);
	free(id);
	free(crm_id);
}
END_TEST

START_TEST(test_R06_microsoft_crm_id_reaches_the_crm)
{
	char *crm_id, *id = accepted_and_synced(&crm_id);
	pcref_opportunity *o;
	pc_patch(id, "[{\"op\":\"add\",\"path\":\"/trackingInfo\",\"value\":{\"microsoftMsxId\":\"7-3FJ9K2LQ\"}}]");
	poll_ok();
	o = crm_get(crm_id);
	ck_assert_str_eq(pcref_opportunity_text(o, PCREF_FIELD_MICROSOFT_CRM_ID), "7-3FJ9K2LQ");
	pcref_opportunity_free(o);
	free(id);
	free(crm_id);
}
END_TEST

START_TEST(test_R14_zero_deal_value_refused)
{
	char *crm_id = crm_new_shared("Fabrikam zero", "US", NULL, 1);
	pcref_opportunity *o;
	crm_set(crm_id, PCREF_FIELD_DEAL_VALUE, NULL, 0);
	logs_clear();
	poll_ok();
	ck_assert_uint_eq(pc_writes(), 0);
	o = crm_get(crm_id);
	ck_assert_ptr_nonnull(strstr(pcref_opportunity_text(o, PCREF_FIELD_AUDIT), "R-14"));
	pcref_opportunity_free(o);
	free(crm_id);
}
END_TEST

START_TEST(test_R11_cosell_without_contact_refused)
{
	char *crm_id = crm_new_shared("Fabrikam co-sell", "US", "GeneralOrOther", 0);
	pcref_opportunity *o;
	logs_clear();
	poll_ok();
	ck_assert_uint_eq(pc_writes(), 0);                       /* nothing sent */
	o = crm_get(crm_id);
	ck_assert_ptr_null(pcref_opportunity_text(o, PCREF_FIELD_REFERRAL_ID));
	ck_assert_ptr_nonnull(strstr(pcref_opportunity_text(o, PCREF_FIELD_AUDIT), "R-11"));
	ck_assert(has_suffix(pcref_opportunity_text(o, PCREF_FIELD_NAME), "\xE2\x9C\x96"));
	/* refused once, not on every poll */
	logs_clear();
	poll_ok();
	if (crm_writes() >= 0)
		ck_assert_int_eq(crm_writes(), 0);
	pcref_opportunity_free(o);
	free(crm_id);
}
END_TEST

START_TEST(test_R12_country_code_required)
{
	char *crm_id = crm_new_shared("Fabrikam no country", NULL, NULL, 1);
	pcref_opportunity *o;
	poll_ok();
	o = crm_get(crm_id);
	ck_assert_ptr_null(pcref_opportunity_text(o, PCREF_FIELD_REFERRAL_ID));
	ck_assert_ptr_nonnull(strstr(pcref_opportunity_text(o, PCREF_FIELD_AUDIT), "R-12"));
	pcref_opportunity_free(o);
	free(crm_id);
}
END_TEST

START_TEST(test_R30_check_mark_off)
{
	char *crm_id;
	pcref_opportunity *o;
	teardown();
	setup_with(mapping_for("\"check_mark\":false"));
	crm_id = crm_new_shared("Plain name", "US", NULL, 1);
	poll_ok();
	o = crm_get(crm_id);
	ck_assert_str_eq(pcref_opportunity_text(o, PCREF_FIELD_NAME), "Plain name");
	pcref_opportunity_free(o);
	free(crm_id);
}
END_TEST

/* A custom mapping onto a column every CRM here has: the connector's
 * deprecated text field "Products". */
START_TEST(test_R32_custom_field_mapping_followed)
{
	char *id, *crm_id;
	pcref_opportunity *o;
	const char *column = crm_is("salesforce") ? "Products__c" : "msft_microsoftpartnercentersolutions";
	char settings[256];
	teardown();
	snprintf(settings, sizeof(settings),
	         "\"extra\":[{\"referral\":\"/customerProfile/size\",\"crm\":\"%s\",\"direction\":\"to_crm\"}]", column);
	setup_with(mapping_for(settings));
	id = shared_and_synced(&crm_id);
	o = crm_get(crm_id);
	ck_assert_ptr_nonnull(pcref_opportunity_extra_text(o, column));
	pcref_opportunity_free(o);
	/* an update of the mapped referral field reaches the CRM column, once */
	pc_patch(id, "[{\"op\":\"replace\",\"path\":\"/customerProfile/size\",\"value\":\"1000to9999employees\"}]");
	poll_ok();
	o = crm_get(crm_id);
	ck_assert_str_eq(pcref_opportunity_extra_text(o, column), "1000to9999employees");
	pcref_opportunity_free(o);
	logs_clear();
	poll_ok();
	if (crm_writes() >= 0)
		ck_assert_int_eq(crm_writes(), 0);
	free(id);
	free(crm_id);
}
END_TEST

/* ---- both ways ---------------------------------------------------------------------------------- */

START_TEST(test_R13_R23_conflict_settled_by_policy_and_audited)
{
	char *crm_id, *id = accepted_and_synced(&crm_id);
	pcref_referral *r;
	pcref_opportunity *o;
	crm_set(crm_id, PCREF_FIELD_DEAL_VALUE, NULL, 90000);
	sleep(1); /* Partner Center's change is the newer one */
	pc_patch(id, "[{\"op\":\"replace\",\"path\":\"/details/dealValue\",\"value\":95000}]");
	poll_ok();
	r = pc_get(id);
	o = crm_get(crm_id);
	/* newest wins by default for the deal value; both sides agree afterwards */
	ck_assert_double_eq_tol(pcref_referral_deal_value(r), 95000, 0.01);
	ck_assert_double_eq_tol(pcref_opportunity_number(o, PCREF_FIELD_DEAL_VALUE), 95000, 0.01);
	ck_assert_ptr_nonnull(strstr(pcref_opportunity_text(o, PCREF_FIELD_AUDIT), "changed on both sides"));
	pcref_referral_free(r);
	pcref_opportunity_free(o);
	free(id);
	free(crm_id);
}
END_TEST

START_TEST(test_R08_audit_records_every_attempt)
{
	char *crm_id, *id = accepted_and_synced(&crm_id);
	pcref_opportunity *o = crm_get(crm_id);
	const char *audit = pcref_opportunity_text(o, PCREF_FIELD_AUDIT);
	ck_assert_ptr_nonnull(strstr(audit, "created from Partner Center referral"));
	ck_assert_ptr_nonnull(strstr(audit, "accepted"));
	ck_assert_ptr_null(strstr(audit, "demo-secret"));   /* never a secret */
	ck_assert_ptr_null(strstr(audit, "demo-password"));
	pcref_opportunity_free(o);
	free(id);
	free(crm_id);
}
END_TEST

START_TEST(test_steady_poll_makes_no_writes)
{
	char *crm_id, *id = accepted_and_synced(&crm_id);
	logs_clear();
	poll_ok();
	poll_ok();
	ck_assert_uint_eq(pc_writes(), 0);
	if (crm_writes() >= 0)
		ck_assert_int_eq(crm_writes(), 0);
	free(id);
	free(crm_id);
}
END_TEST

START_TEST(test_R36_dry_run_writes_nothing)
{
	char *id = pc_share(NULL);
	pcref_sync_report r = PCREF_SYNC_REPORT_INIT;
	int64_t wm = 0;
	logs_clear();
	OK(pcref_sync_poll(sync_, PCREF_SYNC_DRY_RUN, &r));
	ck_assert_uint_eq(r.created, 1);
	ck_assert_ptr_nonnull(event(PCREF_ACTION_CREATE));
	ck_assert_uint_eq(must(PCREF_ACTION_CREATE)->flags, PCREF_SYNC_DRY_RUN);
	ck_assert_ptr_nonnull(strstr(must(PCREF_ACTION_CREATE)->changes, "deal_value"));
	ck_assert(!crm_has(id));
	ck_assert_uint_eq(pc_writes(), 0);
	if (crm_writes() >= 0)
		ck_assert_int_eq(crm_writes(), 0);
	OK(pcref_store_watermark_get(store, PCREF_SYNC_WATERMARK_PARTNER_CENTER, &wm));
	ck_assert(wm == PCREF_TIME_NONE);
	/* and the real run does it */
	poll_ok();
	ck_assert(crm_has(id));
	free(id);
}
END_TEST

/* ---- webhooks --------------------------------------------------------------------------------- */

typedef struct delivery {
	pcref__json *doc;
	pcref_webhook_delivery d;
} delivery;

static const char *header(const pcref__json *doc, const char *name)
{
	return pcref__json_string(pcref__json_get(pcref__json_get(doc, "headers"), name));
}

static delivery sign_for(const char *referral_id)
{
	delivery s;
	char req[256], *answer = NULL;
	const pcref__json *body;
	snprintf(req, sizeof(req), "{\"referral_id\":\"%s\",\"key\":\"good\",\"header\":\"authorization\"}", referral_id);
	ck_assert_int_eq(peer_control(pc_emu.base, "POST", "/_control/webhook/sign", req, &answer), 200);
	OK(pcref__json_parse(&s.doc, answer, strlen(answer), "sign answer"));
	free(answer);
	body = pcref__json_get(s.doc, "body");
	OK(pcref_webhook_delivery_init(&s.d, PCREF_WEBHOOK_DELIVERY_VERSION));
	s.d.body = body->u.str.text;
	s.d.body_len = body->u.str.len;
	s.d.authorization = header(s.doc, "Authorization");
	s.d.certificate_url = header(s.doc, "X-MS-Certificate-Url");
	s.d.signature_algorithm = header(s.doc, "X-MS-Signature-Algorithm");
	return s;
}

static pcref_webhook_verifier *verifier(void)
{
	const char *hosts[] = { cert_host, NULL };
	pcref_webhook_options o = PCREF_WEBHOOK_OPTIONS_INIT;
	pcref_webhook_verifier *v = NULL;
	o.certificate_hosts = hosts;
	o.trust_anchors_file = ca_file;
	OK(pcref_webhook_verifier_new(&v, &o));
	return v;
}

START_TEST(test_R37_webhook_change_one_read_one_write)
{
	char *crm_id, *id = accepted_and_synced(&crm_id);
	pcref_webhook_verifier *v = verifier();
	delivery s = sign_for(id);
	pcref_opportunity *o;
	pcref__json *log;
	pc_patch(id, "[{\"op\":\"replace\",\"path\":\"/details/dealValue\",\"value\":150000}]");
	logs_clear();
	OK(pcref_sync_handle_webhook(sync_, v, &s.d, 0, NULL));
	/* applied before the call returned */
	o = crm_get(crm_id);
	ck_assert_double_eq_tol(pcref_opportunity_number(o, PCREF_FIELD_DEAL_VALUE), 150000, 0.01);
	log = peer_log(pc_emu.base);
	ck_assert_uint_eq(peer_log_count(log, "GET", "/referrals/"), 1);   /* one read on Partner Center */
	ck_assert_uint_eq(peer_log_count(log, "PATCH", "/referrals"), 0);
	pcref__json_free(log);
	if (crm_writes() >= 0)
		ck_assert_int_eq(crm_writes(), 1);                             /* one write to the CRM */
	pcref_opportunity_free(o);
	pcref__json_free(s.doc);
	pcref_webhook_verifier_free(v);
	free(id);
	free(crm_id);
}
END_TEST

START_TEST(test_R33_R34_webhook_delivered_twice_applied_once)
{
	char *crm_id, *id = accepted_and_synced(&crm_id);
	pcref_webhook_verifier *v1 = verifier(), *v2 = verifier();
	delivery s = sign_for(id);
	pc_patch(id, "[{\"op\":\"replace\",\"path\":\"/details/notes\",\"value\":\"from the webhook\"}]");
	OK(pcref_sync_handle_webhook(sync_, v1, &s.d, 0, NULL));
	logs_clear();
	/* the same delivery again — even through a fresh verifier (a restarted
	 * receiver): the store remembers it */
	OK(pcref_sync_handle_webhook(sync_, v2, &s.d, 0, NULL));
	ck_assert_uint_eq(peer_requests(pc_emu.base, "GET", "/referrals/"), 0);
	if (crm_writes() >= 0)
		ck_assert_int_eq(crm_writes(), 0);
	pcref__json_free(s.doc);
	pcref_webhook_verifier_free(v1);
	pcref_webhook_verifier_free(v2);
	free(id);
	free(crm_id);
}
END_TEST

START_TEST(test_R34_missed_webhook_repaired_by_poll)
{
	char *crm_id, *id = accepted_and_synced(&crm_id);
	pcref_opportunity *o;
	/* a change whose webhook never arrived */
	pc_patch(id, "[{\"op\":\"replace\",\"path\":\"/details/dealValue\",\"value\":123000}]");
	poll_ok();
	o = crm_get(crm_id);
	ck_assert_double_eq_tol(pcref_opportunity_number(o, PCREF_FIELD_DEAL_VALUE), 123000, 0.01);
	pcref_opportunity_free(o);
	free(id);
	free(crm_id);
}
END_TEST

START_TEST(test_R34_failed_work_is_retried)
{
	char *id = pc_share("\"customerProfile\":{\"address\":{\"country\":\"CH\"}},\"details\":{\"currency\":\"CHF\"}");
	pcref_sync_report r = PCREF_SYNC_REPORT_INIT;
	poll_ok();
	ck_assert(!crm_has(id));
	/* the partner fixes the referral's currency: the queued item is retried
	 * (its watermark has moved on) */
	pc_patch(id, "[{\"op\":\"replace\",\"path\":\"/details/currency\",\"value\":\"EUR\"}]");
	usleep(5000);
	OK(pcref_sync_poll(sync_, 0, &r));
	ck_assert_uint_ge(r.retried + r.created, 1);
	ck_assert(crm_has(id));
	free(id);
}
END_TEST

/* ---- crash safety ------------------------------------------------------------------------------- */

START_TEST(test_crash_between_create_and_link_leaves_no_duplicate)
{
	char *id = pc_share(NULL), *crm_id;
	pcref_opportunity *o;
	size_t creates;
	poll_ok();
	ck_assert_ptr_nonnull(o = crm_find(id));
	crm_id = strdup(pcref_opportunity_text(o, PCREF_FIELD_ID));
	pcref_opportunity_free(o);
	/* the run that created it died before recording the link */
	OK(pcref_store_link_delete(store, id, NULL));
	nevents = 0;
	poll_ok();
	creates = count_events(PCREF_ACTION_CREATE);
	ck_assert_uint_eq(creates, 0);
	ck_assert_ptr_nonnull(event(PCREF_ACTION_LINK));
	ck_assert_str_eq(must(PCREF_ACTION_LINK)->crm_id, crm_id);
	free(crm_id);
	free(id);
}
END_TEST

START_TEST(test_crash_after_referral_create_leaves_no_duplicate)
{
	char *crm_id = crm_new_shared("Contoso crash", "US", NULL, 1);
	pcref_link pending = PCREF_LINK_INIT;
	pcref_opportunity *o;
	char *ref_id;
	poll_ok();
	o = crm_get(crm_id);
	ref_id = strdup(pcref_opportunity_text(o, PCREF_FIELD_REFERRAL_ID));
	pcref_opportunity_free(o);
	/* as if the POST had gone through and nothing else: the pending intent
	 * only, and the CRM without the referral id */
	OK(pcref_store_link_delete(store, ref_id, NULL));
	pending.crm_id = crm_id;
	pending.flags = PCREF_LINK_PENDING;
	pending.started_ms = 0;
	OK(pcref_store_link_put(store, &pending));
	crm_set(crm_id, PCREF_FIELD_REFERRAL_ID, "", 0);
	logs_clear();
	nevents = 0;
	poll_ok();
	ck_assert_uint_eq(peer_requests(pc_emu.base, "POST", "/referrals"), 0);  /* no second referral */
	o = crm_get(crm_id);
	ck_assert_str_eq(pcref_opportunity_text(o, PCREF_FIELD_REFERRAL_ID), ref_id);
	pcref_opportunity_free(o);
	free(ref_id);
	free(crm_id);
}
END_TEST

START_TEST(test_R35_expired_credentials_reported_as_disconnected)
{
	pcref_sync_report r = PCREF_SYNC_REPORT_INIT;
	{
		/* a password the emulator refuses */
		char token_url[128];
		pcref_connection_options o = PCREF_CONNECTION_OPTIONS_INIT;
		pcref_connection *bad = NULL;
		pcref_partner_center *bad_pc = NULL;
		pcref_sync *bad_sync = NULL;
		snprintf(token_url, sizeof(token_url), "%s/common/oauth2/token", pc_emu.base);
		o.base_url = pc_emu.base;
		o.service_name = "Partner Center";
		o.auth = PCREF_AUTH_PASSWORD;
		o.token_url = token_url;
		o.resource = "https://api.partner.microsoft.com";
		o.client_id = "pcref-demo-client";
		o.client_secret = "pcref-demo-secret";
		o.username = "admin@contoso.onmicrosoft.com";
		o.password = "expired-password";
		OK(pcref_connection_new(&bad, &o));
		OK(pcref_partner_center_new(&bad_pc, bad, NULL));
		OK(pcref_sync_new(&bad_sync, bad_pc, crm, map, store, NULL));
		tu_assert_error(pcref_sync_poll(bad_sync, 0, &r), PCREF_EAUTH, "disconnected");
		pcref_sync_free(bad_sync);
		pcref_partner_center_free(bad_pc);
		pcref_connection_free(bad);
	}
}
END_TEST

/* ---- API contract --------------------------------------------------------------------------------- */

START_TEST(test_sync_refuses_bad_arguments)
{
	pcref_sync *s = NULL;
	pcref_sync_options o = PCREF_SYNC_OPTIONS_INIT;
	pcref_sync_report r = PCREF_SYNC_REPORT_INIT;
	tu_assert_error(pcref_sync_new(&s, NULL, crm, map, store, NULL), PCREF_EINVALID, "required");
	o.version = 99;
	tu_assert_error(pcref_sync_new(&s, pc, crm, map, store, &o), PCREF_EVERSION, "99");
	tu_assert_error(pcref_sync_poll(sync_, 0x80, &r), PCREF_EINVALID, "flags");
	r.version = 0;
	tu_assert_error(pcref_sync_poll(sync_, 0, &r), PCREF_EVERSION, "PCREF_SYNC_REPORT_INIT");
	tu_assert_error(pcref_sync_referral(sync_, "", 0, NULL), PCREF_EINVALID, "referral id");
}
END_TEST

START_TEST(test_sync_keeps_its_parents_alive)
{
	char *id = pc_share(NULL);
	/* the host frees its Partner Center client and store: the sync still works */
	pcref_partner_center_free(pc);
	pcref_store_free(store);
	pc = NULL;
	store = NULL;
	OK(pcref_sync_referral(sync_, id, 0, NULL));
	ck_assert_ptr_nonnull(event(PCREF_ACTION_CREATE));
	free(id);
}
END_TEST

/* PCREF_TEST_ONLY=<test name> runs one test (for debugging). */
#define ADD(tc, fn) do { \
	const char *only_ = getenv("PCREF_TEST_ONLY"); \
	if (!only_ || strcmp(only_, #fn) == 0) \
		tcase_add_test((tc), fn); \
} while (0)

int main(int argc, char **argv)
{
	Suite *s;
	TCase *tc;
	if (argc > 1)
		crm_kind = argv[1];
	peer_require_python();
	s = suite_create(crm_kind);
	tc = tu_tcase(s, "sync");
	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, emulators_up, emulators_down);
	tcase_add_checked_fixture(tc, setup, teardown);
	ADD(tc, test_R20_R21_shared_referral_lands_on_hold);
	ADD(tc, test_R21_onhold_changes_not_pushed);
	ADD(tc, test_R21_accept_by_stage_then_edits_flow_both_ways);
	ADD(tc, test_R21_decline_from_on_hold);
	ADD(tc, test_R21_onhold_cannot_be_won_directly);
	ADD(tc, test_R31_won_in_partner_center_closes_the_opportunity);
	ADD(tc, test_R31_lost_in_crm_closes_the_referral);
	ADD(tc, test_R31_won_in_crm_closes_the_referral);
	ADD(tc, test_R25_never_synced_closed_referral_not_created);
	ADD(tc, test_R24_unknown_crm_id_ignored);
	ADD(tc, test_R26_lost_seller_inbound_without_email);
	ADD(tc, test_R29_missing_currency_reported);
	ADD(tc, test_R22_leads_only_when_cosell_only_is_off);
	ADD(tc, test_R10_shared_opportunity_creates_referral);
	ADD(tc, test_R04_R10_cosell_opportunity_invites_microsoft_once);
	ADD(tc, test_R11_cosell_without_contact_refused);
	ADD(tc, test_R28_required_defaults_fill_new_records);
	ADD(tc, test_R05_visibility_never_reverts);
	ADD(tc, test_R06_microsoft_crm_id_reaches_the_crm);
	ADD(tc, test_R14_zero_deal_value_refused);
	ADD(tc, test_R12_country_code_required);
	ADD(tc, test_R30_check_mark_off);
	ADD(tc, test_R32_custom_field_mapping_followed);
	ADD(tc, test_R13_R23_conflict_settled_by_policy_and_audited);
	ADD(tc, test_R08_audit_records_every_attempt);
	ADD(tc, test_steady_poll_makes_no_writes);
	ADD(tc, test_R36_dry_run_writes_nothing);
	ADD(tc, test_R37_webhook_change_one_read_one_write);
	ADD(tc, test_R33_R34_webhook_delivered_twice_applied_once);
	ADD(tc, test_R34_missed_webhook_repaired_by_poll);
	ADD(tc, test_R34_failed_work_is_retried);
	ADD(tc, test_crash_between_create_and_link_leaves_no_duplicate);
	ADD(tc, test_crash_after_referral_create_leaves_no_duplicate);
	ADD(tc, test_R35_expired_credentials_reported_as_disconnected);
	ADD(tc, test_sync_refuses_bad_arguments);
	ADD(tc, test_sync_keeps_its_parents_alive);
	return tu_run(s);
}
