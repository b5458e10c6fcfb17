/* pcref-sync: the handles built from the configuration, error reporting and
 * exit codes, signals. */
#ifndef PCREF_SYNC_APP_H
#define PCREF_SYNC_APP_H

#include <signal.h>

#include <pcref/pcref.h>

#include "config.h"

/* Exit codes (documented in doc/pcref-sync.md). */
#define PS_EXIT_OK 0
#define PS_EXIT_ITEMS_FAILED 1  /* the pass completed; some items failed and wait in the retry queue */
#define PS_EXIT_USAGE 2         /* bad command line */
#define PS_EXIT_CONFIG 3        /* configuration: file, JSON, setting, mapping, secret, backend */
#define PS_EXIT_AUTH 4          /* credentials refused or expired ("connector disconnected", R-35) */
#define PS_EXIT_SERVICE 5       /* a service unreachable, failing, throttling or answering nonsense */
#define PS_EXIT_STORE 6         /* the state store cannot be opened, read or written */
#define PS_EXIT_LISTENER 7      /* the webhook listener cannot start (address, port) */
#define PS_EXIT_SOFTWARE 9      /* anything else (out of memory, a library error) */
#define PS_EXIT_INTERRUPTED 130 /* stopped by SIGINT/SIGTERM before the end (state kept: run it again) */


typedef struct app {
	sync_config cfg;
	int verbose;               /* also report unchanged items */
	int quiet;                 /* only failures and the summary */
	int plan;                  /* events are a plan (dry run) */

	pcref_connection *pc_conn, *pc_webhooks_conn, *crm_conn;
	pcref_partner_center *pc;
	pcref_mapping *mapping;
	pcref_crm *crm;
	pcref_store *store;
	pcref_sync *sync;

	/* the current backfill's progress display */
	int progress_tty;
	int64_t progress_last_ms;
	uint64_t progress_last_done, progress_total;
	int progress_shown;
	unsigned progress_last_decile;
} app;

/* Print "pcref-sync: <doing>: <message>" and what to do for the failure in
 * pcref_error_last() (which returned `code`); return the exit code. */
int app_fail(const char *doing, int code);

/* Print a configuration problem (already worded) and return PS_EXIT_CONFIG. */
int app_config_error(const char *message);

/* The exit code of a library error code. */
int app_exit_code(int code);

/* Open the state store only (status). */
int app_open_store(app *a);

/* Build everything a sync needs. Returns PS_EXIT_OK or the exit code (the
 * failure was printed). */
int app_open(app *a);

/* Free whatever was built (NULL-safe, idempotent). */
void app_close(app *a);

/* ---- signals ------------------------------------------------------------------- */

/* SIGINT/SIGTERM ask to stop after the current item; a second one stops at
 * once (the store is transactional, so that loses nothing either). SIGPIPE is
 * ignored. */
void app_signals_install(void);
/* Non-zero once a stop was asked for: the signal number. */
int app_stop_requested(void);
/* A descriptor that becomes readable when a stop is asked for (for select). */
int app_stop_fd(void);

#endif
