/*
 * pcref-sync: keep Partner Center co-sell referrals and a CRM in sync — the
 * program a partner runs (as a service, from cron, or by hand), built on
 * libpcref. See doc/pcref-sync.md for the configuration file, the commands
 * and the exit codes.
 *
 *   pcref-sync --config /etc/pcref-sync/config.json once
 *   pcref-sync --config ... run
 *   pcref-sync --config ... backfill
 *   pcref-sync --config ... plan
 *   pcref-sync --config ... status
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "commands.h"

static void usage(FILE *out)
{
	fputs("usage: pcref-sync [OPTIONS] COMMAND [COMMAND OPTIONS]\n"
	      "\n"
	      "Keeps Microsoft Partner Center co-sell referrals and a CRM's opportunities in sync.\n"
	      "\n"
	      "Commands:\n"
	      "  once      one reconciliation pass (or one item with --referral ID / --opportunity ID)\n"
	      "  run       a pass every poll_interval_seconds, and the webhook listener, until SIGINT/SIGTERM\n"
	      "            (--backfill: start with a full comparison)\n"
	      "  backfill  compare every referral and every CRM record (a progress bar on a terminal)\n"
	      "  plan      dry run: the writes a pass would make, field by field; writes nothing\n"
	      "            (--backfill, --referral ID, --opportunity ID: plan those instead)\n"
	      "  status    the state store: watermarks, links and their last outcome, the retry queue\n"
	      "\n"
	      "Options:\n"
	      "  -c, --config FILE   the configuration (default: $PCREF_SYNC_CONFIG, else ./pcref-sync.json)\n"
	      "      --crm BACKEND   sync with this CRM section of the configuration: dynamics, salesforce, memory\n"
	      "  -v, --verbose       also list the items found unchanged\n"
	      "  -q, --quiet         print only failures and summaries\n"
	      "  -h, --help          this help\n"
	      "  -V, --version       versions of pcref-sync and libpcref\n"
	      "\n"
	      "Exit codes: 0 done, 1 some items failed (queued for retry), 2 usage, 3 configuration,\n"
	      "4 credentials refused, 5 service unreachable or failing, 6 state store, 7 webhook listener,\n"
	      "9 other error, 130 interrupted (state kept). See doc/pcref-sync.md.\n",
	      out);
}

static void version(void)
{
	printf("pcref-sync %s (libpcref %s; CRM backends: dynamics, salesforce, memory)\n", PCREF_VERSION_STRING,
	       pcref_version_string());
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;
	fputs("pcref-sync: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'pcref-sync --help'.\n", stderr);
	return PS_EXIT_USAGE;
}

/* "--name VALUE" or "--name=VALUE": the value, or NULL when `arg` is not that option. */
static const char *option_value(int argc, char **argv, int *i, const char *name, const char *short_name,
                                int *missing)
{
	const char *arg = argv[*i];
	size_t n = strlen(name);
	if (strncmp(arg, name, n) == 0 && arg[n] == '=')
		return arg + n + 1;
	if (strcmp(arg, name) != 0 && !(short_name && strcmp(arg, short_name) == 0))
		return NULL;
	if (*i + 1 >= argc) {
		*missing = 1;
		return NULL;
	}
	return argv[++*i];
}

int main(int argc, char **argv)
{
	static app a;
	const char *config = NULL, *crm = NULL, *command = NULL;
	target t = { 0, NULL, NULL };
	char err[2048];
	int code;

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *v;
		int missing = 0;
		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			usage(stdout);
			return PS_EXIT_OK;
		}
		if (strcmp(arg, "-V") == 0 || strcmp(arg, "--version") == 0) {
			version();
			return PS_EXIT_OK;
		}
		if ((v = option_value(argc, argv, &i, "--config", "-c", &missing)))
			config = v;
		else if ((v = option_value(argc, argv, &i, "--crm", NULL, &missing)))
			crm = v;
		else if ((v = option_value(argc, argv, &i, "--referral", NULL, &missing)))
			t.referral_id = v;
		else if ((v = option_value(argc, argv, &i, "--opportunity", NULL, &missing)))
			t.crm_id = v;
		else if (missing)
			return usage_error("option %s needs a value", arg);
		else if (strcmp(arg, "--backfill") == 0)
			t.backfill = 1;
		else if (strcmp(arg, "-v") == 0 || strcmp(arg, "--verbose") == 0)
			a.verbose = 1;
		else if (strcmp(arg, "-q") == 0 || strcmp(arg, "--quiet") == 0)
			a.quiet = 1;
		else if (arg[0] == '-')
			return usage_error("unknown option %s", arg);
		else if (command)
			return usage_error("one command at a time (got another: %s)", arg);
		else
			command = arg;
	}
	if (!command)
		return usage_error("%s", "no command given: once, run, backfill, plan or status");
	if (strcmp(command, "once") && strcmp(command, "run") && strcmp(command, "backfill") &&
	    strcmp(command, "plan") && strcmp(command, "status"))
		return usage_error("unknown command %s (once, run, backfill, plan, status)", command);
	if (t.referral_id && t.crm_id)
		return usage_error("%s", "give --referral or --opportunity, not both");
	if ((t.referral_id || t.crm_id) && strcmp(command, "once") && strcmp(command, "plan"))
		return usage_error("--referral and --opportunity go with once and plan, not %s", command);
	if ((t.referral_id || t.crm_id) && t.backfill)
		return usage_error("%s", "--backfill compares everything: no --referral or --opportunity with it");
	if (t.backfill && strcmp(command, "plan") && strcmp(command, "run"))
		return usage_error("--backfill goes with plan and run (use the backfill command), not %s", command);

	if (!config)
		config = getenv("PCREF_SYNC_CONFIG");
	if (!config || !*config)
		config = "pcref-sync.json";
	if (config_load(&a.cfg, config, err, sizeof(err)) < 0) {
		code = app_config_error(err);
		config_free(&a.cfg);
		return code;
	}
	if (crm && config_select_crm(&a.cfg, crm, err, sizeof(err)) < 0) {
		code = app_config_error(err);
		config_free(&a.cfg);
		return code;
	}

	if (pcref_init() < 0) {
		code = app_fail("starting libpcref", pcref_error_last()->code);
		config_free(&a.cfg);
		return code;
	}
	app_signals_install();
	if (strcmp(command, "status") == 0) {
		code = cmd_status(&a);
	} else if ((code = app_open(&a)) == PS_EXIT_OK) {
		if (strcmp(command, "once") == 0)
			code = cmd_once(&a, &t);
		else if (strcmp(command, "plan") == 0)
			code = cmd_plan(&a, &t);
		else if (strcmp(command, "backfill") == 0)
			code = cmd_backfill(&a);
		else
			code = cmd_run(&a, t.backfill);
	}
	app_close(&a);
	pcref_shutdown();
	config_free(&a.cfg);
	return code;
}
