/* pcref-sync: the configuration file (JSON; schema in doc/pcref-sync.md).
 *
 * The whole file is checked when it is read: an unknown setting, a value of
 * the wrong type or an impossible value is refused with the JSON Pointer of
 * the offending value ("/crm/backend: ..."), a syntax error with its line
 * and column. Secrets may be given inline or, better, through environment
 * variables the file names (`client_secret_env`, ...); those are read only
 * when a connection is made (so `status` needs none) and never printed. */
#ifndef PCREF_SYNC_CONFIG_H
#define PCREF_SYNC_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_tree.h>

/* How to reach one service (a pcref_connection_options in JSON). Strings are
 * borrowed from the parsed document or from the config's arena. */
typedef struct conn_config {
	const char *pointer;        /* where it is in the file, for messages: "/partner_center" */
	const char *url;
	const char *service_name;
	int auth;                   /* PCREF_AUTH_* */
	const char *token_url;
	const char *client_id;
	const char *resource;
	const char *scope;
	const char *username;
	const char *ca_file;
	const char *ca_path;
	const char *proxy;
	int verify_tls;             /* 1 (default) or -1 (only for loopback hosts) */
	int32_t connect_timeout_ms, timeout_ms, retry_max;
	/* Each secret: the value itself, or the name of the environment variable
	 * that holds it (the *_env setting); at most one of the two. */
	const char *client_secret, *client_secret_env;
	const char *password, *password_env;
	const char *refresh_token, *refresh_token_env;
	const char *token, *token_env;
} conn_config;

typedef struct crm_config {
	const char *pointer;        /* "/crm/dynamics" */
	int present;                /* the section exists in the file */
	conn_config conn;           /* dynamics, salesforce */
	const char *mapping_path;   /* NULL: the backend's defaults */
	char *memory_json;          /* memory backend: its config object, re-serialised (or NULL) */
} crm_config;

typedef struct sync_config {
	const char *path;           /* the config file */
	const char *store_path;     /* absolute, or ":memory:" */
	int64_t poll_interval_ms;

	conn_config pc;             /* Referrals API */
	conn_config pc_webhooks;    /* webhook registration API (inherits from pc) */
	int have_pc_webhooks;

	const char *backend;        /* "dynamics", "salesforce", "memory" */
	crm_config dynamics, salesforce, memory;

	/* pcref_sync_options */
	const char *referral_link_base;
	uint32_t retry_max_attempts;
	int64_t retry_delay_ms;
	int64_t overlap_ms;

	/* the webhook listener of `run` */
	int have_webhook;
	const char *listen;         /* address to bind, default 127.0.0.1 */
	int port;                   /* 0: any free port */
	const char *webhook_path;   /* default /webhooks/partner-center */
	const char *trust_anchors_file;
	const char **certificate_hosts; /* NULL-terminated, or NULL for Partner Center's */
	int64_t max_age_ms;
	int register_webhook;       /* register the listener's URL with Partner Center at start */
	const char *public_url;     /* the URL to register (default: the listener's own) */
	int overwrite;              /* replace another URL's registration */

	/* internals */
	yajl_val doc;
	char **arena;
	size_t narena;
} sync_config;

/* Read and check `path`. On failure returns -1 and fills `err` with a
 * message naming the file and what is wrong (and `*exit_code`). */
int config_load(sync_config *cfg, const char *path, char *err, size_t errsize);

/* Switch to another CRM backend (the --crm option): it must have its own
 * section in the file (except "memory"). */
int config_select_crm(sync_config *cfg, const char *backend, char *err, size_t errsize);

/* The section of the selected backend. */
const crm_config *config_crm(const sync_config *cfg);

/* Read a secret: the inline value, or the environment variable the file
 * names. NULL with a message in `err` when the variable is not set. Never
 * logs or prints the value. `what` is the setting's name ("client_secret"). */
int config_secret(const conn_config *c, const char *what, const char *value, const char *env_name,
                  const char **out, char *err, size_t errsize);

void config_free(sync_config *cfg);

#endif
