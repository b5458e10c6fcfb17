#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <check.h>

#include "core/json.h"
#include "peer.h"

#define START_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 5000

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int on_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[4096];
	while (path && *path) {
		size_t n = strcspn(path, ":");
		snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, prog);
		if (n && access(buf, X_OK) == 0)
			return 1;
		path += n + (path[n] == ':');
	}
	return 0;
}

void peer_require_python(void)
{
	if (!on_path("python3")) {
		fprintf(stderr, "SKIP: python3 is not on PATH; the emulators need it\n");
		exit(77);
	}
}

static int read_port(const char *file)
{
	FILE *f = fopen(file, "r");
	int port = 0;
	if (!f)
		return 0;
	if (fscanf(f, "%d", &port) != 1)
		port = 0;
	fclose(f);
	return port;
}

int peer_start(peer *p, const char *name)
{
	const char *root = getenv("PCREF_SOURCE_ROOT");
	char script[4096], port_file[128];
	pid_t parent = getpid();
	int port = 0, status;

	memset(p, 0, sizeof(*p));
	snprintf(script, sizeof(script), "%s/tests/peers/%s.py", root ? root : ".", name);
	if (access(script, R_OK) != 0) {
		fprintf(stderr, "peer: cannot read %s (set PCREF_SOURCE_ROOT)\n", script);
		return -1;
	}
	snprintf(p->dir, sizeof(p->dir), "/tmp/pcref-peer-XXXXXX");
	if (!mkdtemp(p->dir)) {
		fprintf(stderr, "peer: mkdtemp: %s\n", strerror(errno));
		return -1;
	}
	snprintf(port_file, sizeof(port_file), "%s/port", p->dir);
	fflush(NULL);
	p->pid = fork();
	if (p->pid < 0) {
		fprintf(stderr, "peer: fork: %s\n", strerror(errno));
		rmdir(p->dir);
		return -1;
	}
	if (p->pid == 0) {
#ifdef __linux__
		prctl(PR_SET_PDEATHSIG, SIGTERM);   /* do not outlive a crashed test */
#endif
		if (getppid() != parent)
			_exit(1);
		if (!freopen("/dev/null", "w", stdout))   /* the READY line */
			_exit(1);
		execlp("python3", "python3", script, "--port", "0", "--port-file", port_file, "--quiet",
		       (char *)NULL);
		fprintf(stderr, "peer: exec python3: %s\n", strerror(errno));
		_exit(127);
	}
	for (int waited = 0; waited < START_TIMEOUT_MS; waited += 20) {
		if ((port = read_port(port_file)) > 0)
			break;
		if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
			fprintf(stderr, "peer: %s exited (status %d) before listening\n", name,
			        WIFEXITED(status) ? WEXITSTATUS(status) : -1);
			p->pid = 0;
			peer_stop(p);
			return -1;
		}
		nap_ms(20);
	}
	if (port <= 0) {
		fprintf(stderr, "peer: %s did not listen within %d ms\n", name, START_TIMEOUT_MS);
		peer_stop(p);
		return -1;
	}
	snprintf(p->base, sizeof(p->base), "http://127.0.0.1:%d", port);
	return 0;
}

void peer_stop(peer *p)
{
	char port_file[128];
	if (p->pid > 0) {
		int status, waited = 0;
		kill(p->pid, SIGTERM);
		while (waitpid(p->pid, &status, WNOHANG) == 0) {
			if (waited >= STOP_TIMEOUT_MS) {
				kill(p->pid, SIGKILL);
				waitpid(p->pid, &status, 0);
				break;
			}
			nap_ms(20);
			waited += 20;
		}
		p->pid = 0;
	}
	if (p->dir[0]) {
		snprintf(port_file, sizeof(port_file), "%s/port", p->dir);
		unlink(port_file);
		rmdir(p->dir);
		p->dir[0] = '\0';
	}
}

typedef struct body {
	char *data;
	size_t len;
} body;

static size_t collect(char *data, size_t size, size_t n, void *ud)
{
	body *b = ud;
	char *grown = realloc(b->data, b->len + size * n + 1);
	if (!grown)
		return 0;
	memcpy(grown + b->len, data, size * n);
	b->data = grown;
	b->len += size * n;
	b->data[b->len] = '\0';
	return size * n;
}

long peer_control(const char *base, const char *method, const char *path, const char *json_body,
                  char **response)
{
	CURL *h = curl_easy_init();
	struct curl_slist *headers = NULL;
	body b = { NULL, 0 };
	char url[1024];
	long status = -1;

	if (response)
		*response = NULL;
	if (!h)
		return -1;
	snprintf(url, sizeof(url), "%s%s", base, path);
	headers = curl_slist_append(headers, "Content-Type: application/json");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	if (json_body)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, json_body);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	curl_slist_free_all(headers);
	if (response && status >= 0)
		*response = b.data ? b.data : calloc(1, 1);
	else
		free(b.data);
	return status;
}

void peer_post(const char *base, const char *path, const char *json_body)
{
	char *answer = NULL;
	long status = peer_control(base, "POST", path, json_body, &answer);
	ck_assert_msg(status == 200, "POST %s %s -> %ld %s", path, json_body ? json_body : "", status,
	              answer ? answer : "");
	free(answer);
}

pcref__json *peer_log(const char *base)
{
	char *text = NULL;
	pcref__json *doc = NULL;
	ck_assert_int_eq(peer_control(base, "GET", "/_control/requests", NULL, &text), 200);
	ck_assert_int_eq(pcref__json_parse(&doc, text, strlen(text), "request log"), PCREF_OK);
	ck_assert_int_eq(doc->type, PCREF__JSON_ARRAY);
	free(text);
	return doc;
}

const char *peer_log_str(const pcref__json *e, const char *pointer)
{
	return pcref__json_string(pcref__json_pointer(e, pointer));
}

int peer_log_status(const pcref__json *e)
{
	double n;
	return pcref__json_number(pcref__json_get(e, "status"), &n) == 0 ? (int)n : 0;
}

const pcref__json *peer_log_nth(const pcref__json *log, const char *method, const char *path, size_t n)
{
	for (size_t i = 0; i < log->u.arr.len; i++) {
		const pcref__json *e = log->u.arr.items[i];
		if ((!method || strcmp(peer_log_str(e, "/method"), method) == 0) &&
		    strstr(peer_log_str(e, "/path"), path) && n-- == 0)
			return e;
	}
	return NULL;
}

size_t peer_log_count(const pcref__json *log, const char *method, const char *path)
{
	size_t n = 0;
	while (peer_log_nth(log, method, path, n))
		n++;
	return n;
}

void peer_log_clear(const char *base)
{
	ck_assert_int_eq(peer_control(base, "DELETE", "/_control/requests", NULL, NULL), 200);
}

size_t peer_requests(const char *base, const char *method, const char *path)
{
	pcref__json *log = peer_log(base);
	size_t n = peer_log_count(log, method, path);
	pcref__json_free(log);
	return n;
}

/* ---- connections with the emulators' demo credentials ---------------------------- */

pcref_connection *peer_partner_center_connection(const peer *p, const char *resource)
{
	pcref_connection_options o = PCREF_CONNECTION_OPTIONS_INIT;
	pcref_connection *c = NULL;
	char token_url[128];
	snprintf(token_url, sizeof(token_url), "%s/common/oauth2/token", p->base);
	o.base_url = p->base;
	o.service_name = "Partner Center";
	o.auth = PCREF_AUTH_PASSWORD;
	o.token_url = token_url;
	o.resource = resource;
	o.client_id = "pcref-demo-client";
	o.client_secret = "pcref-demo-secret";
	o.username = "admin@contoso.onmicrosoft.com";
	o.password = "demo-password";
	o.retry_base_ms = 20;
	return pcref_connection_new(&c, &o) == PCREF_OK ? c : NULL;
}

pcref_connection *peer_dataverse_connection(const peer *p)
{
	pcref_connection_options o = PCREF_CONNECTION_OPTIONS_INIT;
	pcref_connection *c = NULL;
	char token_url[128], scope[128];
	snprintf(token_url, sizeof(token_url), "%s/contoso.onmicrosoft.com/oauth2/v2.0/token", p->base);
	snprintf(scope, sizeof(scope), "%s/.default", p->base);
	o.base_url = p->base;
	o.service_name = "Dynamics 365";
	o.auth = PCREF_AUTH_CLIENT_CREDENTIALS;
	o.token_url = token_url;
	o.scope = scope;
	o.client_id = "pcref-demo-client";
	o.client_secret = "pcref-demo-secret";
	o.retry_base_ms = 20;
	return pcref_connection_new(&c, &o) == PCREF_OK ? c : NULL;
}

pcref_connection *peer_salesforce_connection(const peer *p, int32_t auth)
{
	pcref_connection_options o = PCREF_CONNECTION_OPTIONS_INIT;
	pcref_connection *c = NULL;
	char token_url[128];
	snprintf(token_url, sizeof(token_url), "%s/services/oauth2/token", p->base);
	o.base_url = p->base;
	o.service_name = "Salesforce";
	o.auth = auth;
	o.token_url = token_url;
	o.client_id = "pcref-demo-client";
	if (auth == PCREF_AUTH_REFRESH_TOKEN)
		o.refresh_token = "pcref-demo-refresh";
	else
		o.client_secret = "pcref-demo-secret";
	o.retry_base_ms = 20;
	return pcref_connection_new(&c, &o) == PCREF_OK ? c : NULL;
}
