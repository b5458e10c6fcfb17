/*
 * Private to lib/net: the connection's insides, shared by connection.c
 * (options, lifetime, counters), http.c (one logical call with its retries)
 * and token.c (token providers and the token cache). Only this folder
 * includes libcurl.
 */
#ifndef PCREF_NET_NET_H
#define PCREF_NET_NET_H

#include <curl/curl.h>
#include <stdatomic.h>

#include "http.h"

/* Size of the buffer handed to a host token callback (connection.h says 16 KiB). */
#define PCREF__NET_TOKEN_MAX 16384
/* Headers kept per response; more are ignored. */
#define PCREF__NET_MAX_HEADERS 200
/* Longest exponential backoff step, before jitter. */
#define PCREF__NET_BACKOFF_CAP_MS 30000

/* A parsed absolute URL: what the security rules and the origin checks need. */
typedef struct pcref__net_url {
	char *scheme;   /* "http" or "https" (lower case) */
	char *host;     /* as curl prints it: IPv6 in brackets */
	long port;      /* explicit or the scheme's default */
	int loopback;   /* 127.0.0.0/8, ::1 or localhost */
} pcref__net_url;

struct pcref_connection {
	atomic_uint refs;

	/* options (copied) */
	char *base_url;          /* without trailing '/' */
	char *service;           /* for messages */
	pcref__net_url base;
	int32_t auth;
	char *static_token;
	char *token_url;
	pcref__net_url token_origin;
	char *client_id;
	char *client_secret;
	char *username;
	char *password;
	char *refresh_token;     /* the option's, then the latest the endpoint returned */
	char *resource;
	char *scope;
	pcref_token_cb token_cb;
	void *token_payload;
	int64_t connect_timeout_ms;
	int64_t timeout_ms;
	int retry_max;
	int64_t retry_deadline_ms;
	int64_t retry_base_ms;
	int64_t retry_after_max_ms;
	int verify_tls;          /* 1 or 0 (0 only for loopback hosts) */
	char *ca_file;
	char *ca_path;
	char *proxy;
	int64_t max_response_bytes;

	CURL *easy;              /* one handle, reused: it keeps the connection cache */
	char user_agent[48];

	/* token cache */
	char *access_token;      /* NULL: none cached */
	int64_t token_refresh_at;/* wall-clock ms after which a new one is fetched; 0 = never */
	char *instance_url;      /* from the token endpoint (Salesforce) */
	pcref__net_url instance_origin;

	pcref_connection_stats stats;
};

/* ---- small utilities (connection.c) ---------------------------------------- */
int64_t pcref__net_wall_ms(void);
void pcref__net_sleep_ms(int64_t ms);
/* Fill buf with random bytes (getrandom(); /dev/urandom as a fall-back). */
void pcref__net_random(void *buf, size_t len);
/* A random integer in [0, bound]. */
uint64_t pcref__net_random_upto(uint64_t bound);
/* Overwrite memory that held a secret, then free it. NULL is ignored. */
void pcref__net_wipe(void *ptr, size_t len);
void pcref__net_free_secret(char *s);

/* Parse an absolute http(s) URL. `what` names it in messages ("base_url").
 * EINVALID for anything else (and for user:password@ in the URL). */
int pcref__net_url_parse(pcref__net_url *out, const char *url, const char *what);
void pcref__net_url_dispose(pcref__net_url *u);
/* Same scheme, host (case-insensitive) and port. */
int pcref__net_url_same_origin(const pcref__net_url *a, const pcref__net_url *b);
int pcref__net_host_is_loopback(const char *host);
/* The https/loopback rules of connection.h for a URL that credentials or
 * tokens will be sent to: EINVALID with an actionable message. */
int pcref__net_url_check_secure(const pcref__net_url *u, const char *url, const char *what,
                                int verify_tls);

/* ---- one HTTP exchange (http.c) ----------------------------------------------- */
typedef struct pcref__net_exchange {
	/* in */
	const char *method;
	const char *url;                /* absolute */
	int loopback;                   /* of the URL's host (proxy bypass) */
	struct curl_slist *headers;
	const char *bearer;             /* Authorization: Bearer, or NULL */
	const char *body;
	size_t body_len;
	int fresh_connect;              /* never let libcurl resend this one silently */
	int token_request;              /* counted in token_requests, not in the byte counters */
	pcref__http_sink sink;
	void *sink_payload;
	int64_t timeout_ms;             /* whole attempt */
	/* out */
	CURLcode result;
	char errbuf[CURL_ERROR_SIZE];
	int status;
	pcref__buf body_buf;
	pcref__http_header *resp_headers;
	size_t header_count;
	uint64_t received;              /* body bytes of the final response */
	uint64_t sink_bytes;            /* bytes handed to the sink */
	int oversize;
	int nomem;
	int sink_rc;
	pcref_connection *conn;
} pcref__net_exchange;

/* Perform one attempt on the connection's handle; counts bytes and new
 * connections. Returns 0 when an HTTP response arrived (x->status), or -1
 * (x->result and x->errbuf say why). */
int pcref__net_exchange_run(pcref_connection *conn, pcref__net_exchange *x);
/* Release the out fields (keeps the in fields). */
void pcref__net_exchange_reset(pcref__net_exchange *x);
const char *pcref__net_exchange_header(const pcref__net_exchange *x, const char *name);

/* The state of one logical call, shared by its API and token requests. */
typedef struct pcref__net_call {
	const char *what;               /* "listing referrals" */
	int64_t deadline;               /* monotonic ms */
	char correlation_id[37];
	char request_id[37];
} pcref__net_call;

/* What to do after a failed attempt (transport error or non-2xx). */
typedef struct pcref__net_verdict {
	int retryable;                  /* the policy allows another attempt */
	int64_t wait_ms;                /* how long to wait first */
	int64_t retry_after_ms;         /* what Retry-After asked for, -1 if nothing */
	int too_long;                   /* Retry-After beyond retry_after_max_ms */
} pcref__net_verdict;

/* `unsafe`: repeating the request could duplicate its effect. `attempt`:
 * 1 for the first. */
void pcref__net_decide(const pcref_connection *conn, const pcref__net_exchange *x, int unsafe,
                       int attempt, pcref__net_verdict *v);
/* Milliseconds Retry-After asks for (delta-seconds or an HTTP-date), or -1
 * when the value is neither. */
int64_t pcref__net_retry_after_ms(const char *value, int64_t now_wall_ms);

/* How a failed call went, for the message. */
typedef struct pcref__net_failure {
	int attempts;
	int64_t elapsed_ms;
	int gave_up_deadline;           /* the deadline, not retry_max, ended the retries */
	int authed;                     /* the request carried a token */
	const pcref__net_verdict *verdict;
} pcref__net_failure;

/* Record the error for a final non-2xx status / for an attempt without a
 * usable response. `svc` names the peer in the message. Return the code. */
int pcref__net_fail_http(pcref_connection *c, const char *svc, const char *what,
                         const pcref__net_exchange *x, const pcref__net_failure *f);
int pcref__net_fail_transport(pcref_connection *c, const char *svc, const char *what,
                              const pcref__net_exchange *x, const pcref__net_failure *f);

/* The service's error, from any of the known error bodies. */
typedef struct pcref__net_service_error {
	char code[128];
	char inner[128];
	char message[400];              /* one line, trimmed */
	char fields[200];               /* Salesforce: "Name, CloseDate" */
} pcref__net_service_error;

void pcref__net_service_error_parse(pcref__net_service_error *out, const char *body, size_t len);
/* Replace every occurrence of the connection's secrets in s by "[redacted]". */
void pcref__net_redact(const pcref_connection *conn, char *s, size_t cap);

/* ---- tokens (token.c) ---------------------------------------------------------- */
typedef struct pcref__net_token {
	char *access_token;
	int64_t lifetime_ms;            /* -1: not given */
	char *refresh_token;
	char *instance_url;
} pcref__net_token;

/* Parse a token endpoint's 2xx answer (expires_in/expires_on as strings or
 * numbers). EPROTOCOL when it carries no usable access_token. */
int pcref__net_token_parse(pcref__net_token *out, const char *body, size_t len, int64_t now_wall_ms);
void pcref__net_token_dispose(pcref__net_token *t);
/* When a token obtained now, living lifetime_ms, should be replaced (5
 * minutes before expiry, or 10 % of the lifetime when that is shorter); 0
 * when the lifetime is unknown. */
int64_t pcref__net_token_refresh_at(int64_t now_wall_ms, int64_t lifetime_ms);

/* The bearer token to send (cached or fetched now). `flags`: PCREF_TOKEN_REFRESH
 * after a 401. The pointer stays valid until the token is replaced. */
int pcref__net_token_get(pcref_connection *conn, pcref__net_call *call, uint32_t flags,
                         const char **token);
void pcref__net_token_forget(pcref_connection *conn);
/* Whether the auth kind can produce a new token after a 401. */
int pcref__net_token_renewable(const pcref_connection *conn);

#endif /* PCREF_NET_NET_H */
