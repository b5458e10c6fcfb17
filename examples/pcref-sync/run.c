/* pcref-sync run: the daemon. A reconciliation pass every
 * poll_interval_seconds and, when the configuration has a "webhook" section,
 * an HTTP listener (libmicrohttpd) for Partner Center's webhook deliveries,
 * each verified and applied before it is answered.
 *
 * One thread does everything, so the engine is never used by two threads
 * at once (handles are not locked, see doc/threading.md): libmicrohttpd runs
 * in its "external select" mode inside our own select(), which also watches
 * the self-pipe of SIGINT/SIGTERM. A stop request lets the current webhook
 * or pass item finish (a backfill stops at the next item), then the
 * listener and the store are closed and run exits 0. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "commands.h"
#include "report.h"
#include "util.h"

#define MAX_WEBHOOK_BODY (1024 * 1024)

typedef struct listener {
	app *a;
	struct MHD_Daemon *daemon;
	pcref_webhook_verifier *verifier;
	int fd;
	char url[512];      /* where it listens: http://host:port/path */
} listener;

typedef struct request {
	char *body;
	size_t len;
	int too_big;
} request;

static void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void log_line(const char *fmt, ...)
{
	char when[32];
	va_list ap;
	report_clear_progress_line();
	printf("%s ", util_format_time(util_now_ms(), when, sizeof(when)));
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

/* ---- the webhook endpoint ----------------------------------------------------------- */

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *text)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, "Allow", "POST");
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result handle_delivery(listener *l, struct MHD_Connection *c, request *req)
{
	pcref_webhook_delivery d = PCREF_WEBHOOK_DELIVERY_INIT;
	pcref_sync_report r = PCREF_SYNC_REPORT_INIT;
	int64_t started = util_monotonic_ms();
	unsigned status;
	char text[1024];
	int rc;

	d.body = req->body ? req->body : "";
	d.body_len = req->len;
	d.authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	d.x_ms_signature = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "x-ms-signature");
	d.certificate_url = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-MS-Certificate-Url");
	d.signature_algorithm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-MS-Signature-Algorithm");
	rc = pcref_sync_handle_webhook(l->a->sync, l->verifier, &d, 0, &r);
	if (rc == PCREF_OK) {
		status = MHD_HTTP_OK;
		snprintf(text, sizeof(text), "ok\n");
		log_line("webhook: handled in %lld ms (%u created, %u updated, %u unchanged, %u failed)",
		         (long long)(util_monotonic_ms() - started), r.created, r.updated + r.accepted + r.closed +
		         r.declined, r.unchanged, r.failed);
	} else {
		const pcref_error *e = pcref_error_last();
		status = e->http_status >= 200 && e->http_status <= 599 ? (unsigned)e->http_status : 500;
		snprintf(text, sizeof(text), "%s\n", e->message);
		log_line("webhook: answered %u: %s%s", status, e->message,
		         rc == PCREF_ESTORE ? " (the next pass repairs what this delivery announced)" : "");
	}
	return answer(c, status, text);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	listener *l = cls;
	request *req = *con_cls;
	(void)version;

	if (strcmp(url, "/healthz") == 0 && strcmp(method, "GET") == 0)
		return answer(c, MHD_HTTP_OK, "ok\n");
	if (strcmp(url, l->a->cfg.webhook_path) != 0)
		return answer(c, MHD_HTTP_NOT_FOUND, "not found\n");
	if (strcmp(method, "POST") != 0)
		return answer(c, MHD_HTTP_METHOD_NOT_ALLOWED, "POST only\n");
	if (!req) {
		if (!(req = calloc(1, sizeof(*req))))
			return MHD_NO;
		*con_cls = req;
		return MHD_YES;
	}
	if (*upload_size) {
		if (req->too_big || req->len + *upload_size > MAX_WEBHOOK_BODY) {
			req->too_big = 1;
		} else {
			char *grown = realloc(req->body, req->len + *upload_size + 1);
			if (!grown)
				return MHD_NO;
			memcpy(grown + req->len, upload, *upload_size);
			req->body = grown;
			req->len += *upload_size;
			req->body[req->len] = '\0';
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (req->too_big)
		return answer(c, MHD_HTTP_CONTENT_TOO_LARGE, "body too large\n");
	return handle_delivery(l, c, req);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t)
{
	request *req = *con_cls;
	(void)cls;
	(void)c;
	(void)t;
	if (req) {
		free(req->body);
		free(req);
		*con_cls = NULL;
	}
}

/* Bind the listening socket ourselves, for a precise error message. */
static int listen_socket(listener *l, int *family)
{
	const sync_config *cfg = &l->a->cfg;
	struct addrinfo hints, *res = NULL;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	char port[16], host[INET6_ADDRSTRLEN];
	int fd, one = 1, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%d", cfg->port);
	if ((rc = getaddrinfo(cfg->listen, port, &hints, &res)) != 0) {
		fprintf(stderr, "pcref-sync: configuration: %s: /webhook/listen: cannot use the address \"%s\": %s\n",
		        cfg->path, cfg->listen, gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 64) < 0) {
		int e = errno;
		fprintf(stderr, "pcref-sync: the webhook listener cannot listen on %s port %d: %s\n"
		        "  what to do: %s\n", cfg->listen, cfg->port, strerror(e),
		        e == EADDRINUSE ? "another program uses that port: stop it or change /webhook/port"
		                        : "check /webhook/listen and /webhook/port in the configuration");
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return -1;
	}
	*family = res->ai_family;
	freeaddrinfo(res);
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == 0) {
		int p;
		if (ss.ss_family == AF_INET6) {
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof(host));
			p = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
			snprintf(l->url, sizeof(l->url), "http://[%s]:%d%s", host, p, cfg->webhook_path);
		} else {
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof(host));
			p = ntohs(((struct sockaddr_in *)&ss)->sin_port);
			snprintf(l->url, sizeof(l->url), "http://%s:%d%s", host, p, cfg->webhook_path);
		}
	}
	return fd;
}

static int listener_start(listener *l)
{
	const sync_config *cfg = &l->a->cfg;
	pcref_webhook_options o = PCREF_WEBHOOK_OPTIONS_INIT;
	int family = AF_INET, rc;
	unsigned flags = MHD_USE_ERROR_LOG;

	o.certificate_hosts = cfg->certificate_hosts;
	o.trust_anchors_file = cfg->trust_anchors_file;
	o.max_age_ms = cfg->max_age_ms;
	if ((rc = pcref_webhook_verifier_new(&l->verifier, &o)) < 0) {
		if (rc == PCREF_EINVALID) {
			char msg[1024];
			snprintf(msg, sizeof(msg), "%s: /webhook: %s", cfg->path, pcref_error_last()->message);
			return app_config_error(msg);
		}
		return app_fail("the webhook verifier", rc);
	}
	if ((l->fd = listen_socket(l, &family)) < 0)
		return PS_EXIT_LISTENER;
	if (family == AF_INET6)
		flags |= MHD_USE_IPv6;
	l->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, l,
	                             MHD_OPTION_LISTEN_SOCKET, l->fd,
	                             MHD_OPTION_NOTIFY_COMPLETED, on_completed, l,
	                             MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
	                             MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
	                             MHD_OPTION_END);
	if (!l->daemon) {
		fprintf(stderr, "pcref-sync: the webhook listener (libmicrohttpd) did not start on %s\n", l->url);
		close(l->fd);
		l->fd = -1;
		return PS_EXIT_LISTENER;
	}
	log_line("listening for Partner Center webhooks on %s", l->url);
	return PS_EXIT_OK;
}

static void listener_stop(listener *l)
{
	if (l->daemon)
		MHD_stop_daemon(l->daemon); /* closes the listening socket too */
	else if (l->fd >= 0)
		close(l->fd);
	pcref_webhook_verifier_free(l->verifier);
	l->daemon = NULL;
	l->verifier = NULL;
	l->fd = -1;
}

static int register_webhook(listener *l)
{
	const sync_config *cfg = &l->a->cfg;
	pcref_webhook_registration *reg = NULL;
	const char *url = cfg->public_url ? cfg->public_url : l->url;
	int rc = pcref_partner_center_webhook_register(&reg, l->a->pc, url, NULL,
	                                               cfg->overwrite ? PCREF_WEBHOOK_OVERWRITE : 0);
	if (rc == PCREF_EEXISTS) {
		fprintf(stderr, "pcref-sync: registering the webhook: %s\n  what to do: Partner Center keeps one URL "
		        "per event (R-33); set /webhook/overwrite to true to replace it, or /webhook/register to false\n",
		        pcref_error_last()->message);
		return PS_EXIT_CONFIG;
	}
	if (rc < 0)
		return app_fail("registering the webhook", rc);
	if (pcref_webhook_registration_replaced_url(reg))
		log_line("registered %s for the referral events (replacing %s)", pcref_webhook_registration_url(reg),
		         pcref_webhook_registration_replaced_url(reg));
	else
		log_line("registered %s for the referral events", pcref_webhook_registration_url(reg));
	pcref_webhook_registration_free(reg);
	return PS_EXIT_OK;
}

/* ---- the loop -------------------------------------------------------------------------- */

/* Wait until `deadline` (monotonic ms), serving webhooks; returns early on a stop request. */
static void serve_until(listener *l, int64_t deadline)
{
	while (!app_stop_requested()) {
		int64_t now = util_monotonic_ms(), wait_ms = deadline - now;
		fd_set rs, ws, es;
		MHD_socket max = -1;
		MHD_UNSIGNED_LONG_LONG mhd_timeout;
		struct timeval tv;
		int stop_fd = app_stop_fd();
		char drain[16];

		if (wait_ms <= 0)
			return;
		FD_ZERO(&rs);
		FD_ZERO(&ws);
		FD_ZERO(&es);
		if (l->daemon) {
			if (MHD_get_fdset(l->daemon, &rs, &ws, &es, &max) != MHD_YES)
				max = -1;
			if (MHD_get_timeout(l->daemon, &mhd_timeout) == MHD_YES && (int64_t)mhd_timeout < wait_ms)
				wait_ms = (int64_t)mhd_timeout;
		}
		if (stop_fd >= 0) {
			FD_SET(stop_fd, &rs);
			if (stop_fd > max)
				max = stop_fd;
		}
		tv.tv_sec = (time_t)(wait_ms / 1000);
		tv.tv_usec = (suseconds_t)(wait_ms % 1000) * 1000;
		if (select(max + 1, &rs, &ws, &es, &tv) < 0) {
			if (errno == EINTR)
				continue;
			log_line("select: %s", strerror(errno));
			return;
		}
		if (stop_fd >= 0 && FD_ISSET(stop_fd, &rs))
			while (read(stop_fd, drain, sizeof(drain)) > 0)
				;
		if (l->daemon)
			MHD_run_from_select(l->daemon, &rs, &ws, &es);
	}
}

int cmd_run(app *a, int start_backfill)
{
	listener l;
	target t = { 0, NULL, NULL };
	int64_t pc_wm = PCREF_TIME_NONE, crm_wm = PCREF_TIME_NONE;
	int code = PS_EXIT_OK, rc;

	memset(&l, 0, sizeof(l));
	l.a = a;
	l.fd = -1;
	report_set_timestamps(1);
	if (a->cfg.have_webhook) {
		if ((code = listener_start(&l)) != PS_EXIT_OK)
			goto out;
		if (a->cfg.register_webhook && (code = register_webhook(&l)) != PS_EXIT_OK)
			goto out;
	}
	/* Until a pass has completed (the engine sets its watermarks at the end
	 * of one), start with a full comparison: a backfill, interruptible item
	 * by item — also after a crash or a kill in the middle of the first one.
	 * Afterwards the passes follow the watermarks. */
	if ((rc = pcref_store_watermark_get(a->store, PCREF_SYNC_WATERMARK_PARTNER_CENTER, &pc_wm)) < 0 ||
	    (rc = pcref_store_watermark_get(a->store, PCREF_SYNC_WATERMARK_CRM, &crm_wm)) < 0) {
		app_fail("reading the state store", rc);
		code = PS_EXIT_STORE;
		goto out;
	}
	t.backfill = start_backfill || pc_wm == PCREF_TIME_NONE || crm_wm == PCREF_TIME_NONE;
	log_line("syncing every %.1f s (store %s)%s", (double)a->cfg.poll_interval_ms / 1000.0, a->cfg.store_path,
	         t.backfill ? "; starting with a backfill" : "");
	while (!app_stop_requested()) {
		int64_t next = util_monotonic_ms() + a->cfg.poll_interval_ms;
		int pass = sync_pass(a, &t, 0, t.backfill ? "backfill" : "poll");
		if (pass == PS_EXIT_STORE) {
			code = pass;
			break;
		}
		if (pass == PS_EXIT_INTERRUPTED)
			break;
		if (pass != PS_EXIT_OK && pass != PS_EXIT_ITEMS_FAILED)
			log_line("the pass failed; trying again in %.1f s", (double)a->cfg.poll_interval_ms / 1000.0);
		else
			t.backfill = 0;
		serve_until(&l, next);
	}
	if (app_stop_requested())
		log_line("stopping (%s): the state is saved in %s", app_stop_requested() == 15 ? "SIGTERM" : "SIGINT",
		         a->cfg.store_path);
out:
	listener_stop(&l);
	return code;
}
