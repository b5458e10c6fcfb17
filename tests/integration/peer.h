/* Start, call and stop the emulators of tests/peers/ from a C test program.
 *
 * An integration suite starts its emulator once (an unchecked fixture, so it
 * runs in the parent process and survives Check's forks), resets it before
 * each test (a checked fixture) and stops it at the end. The emulator is a
 * child process: SIGTERM ends it cleanly, and it also gets SIGTERM if the
 * test program dies first. */
#ifndef PCREF_TEST_PEER_H
#define PCREF_TEST_PEER_H

#include <stddef.h>
#include <sys/types.h>

#include <pcref/pcref.h>

struct pcref__json;

typedef struct peer {
	pid_t pid;          /* 0 while not running */
	char base[64];      /* "http://127.0.0.1:<port>" */
	char dir[64];       /* temporary directory of the port file */
} peer;

/* Exit with 77 (Meson's "skipped") when python3 is not on PATH. */
void peer_require_python(void);

/* Start $PCREF_SOURCE_ROOT/tests/peers/<name>.py on a free loopback port and
 * wait (at most ~10 s) until it listens. Returns 0, or -1 with the reason on
 * stderr (the child is stopped again). */
int peer_start(peer *p, const char *name);

/* Stop it (SIGTERM, then SIGKILL after 5 s) and reap it. Idempotent. */
void peer_stop(peer *p);

/* One request to the emulator's control API (libcurl directly, no proxy).
 * `json_body` may be NULL. Returns the HTTP status, or -1 when the request
 * failed; *response (if response is not NULL) receives the body, to free(). */
long peer_control(const char *base, const char *method, const char *path, const char *json_body,
                  char **response);

/* A control call that must answer 200 (the test fails otherwise). */
void peer_post(const char *base, const char *path, const char *json_body);

/* The emulator's request log (a JSON array; free with pcref__json_free).
 * Emulators log a request before answering it, so the log read after a
 * call always holds that call. */
struct pcref__json *peer_log(const char *base);
/* Empty the request log. */
void peer_log_clear(const char *base);
/* peer_log_count() over a fresh read of the log. */
size_t peer_requests(const char *base, const char *method, const char *path);
/* A string member of a log entry by JSON Pointer ("/path", "/headers/if-match"). */
const char *peer_log_str(const struct pcref__json *entry, const char *pointer);
/* The HTTP status of a log entry, 0 when it was not answered. */
int peer_log_status(const struct pcref__json *entry);
/* The n-th entry (0-based) with this method (NULL: any) whose path contains `path`. */
const struct pcref__json *peer_log_nth(const struct pcref__json *log, const char *method, const char *path,
                                       size_t n);
/* How many entries have this method (NULL: any) and a path containing `path`. */
size_t peer_log_count(const struct pcref__json *log, const char *method, const char *path);

/* A connection to the Partner Center emulator `p` with its demo credentials
 * (password grant for `resource`), quick retries; NULL if it cannot be made
 * (the reason in pcref_error_last()). */
pcref_connection *peer_partner_center_connection(const peer *p, const char *resource);
/* A connection to the Dataverse emulator `p` (client credentials, v2 token). */
pcref_connection *peer_dataverse_connection(const peer *p);
/* A connection to the Salesforce emulator `p`: `auth` is
 * PCREF_AUTH_CLIENT_CREDENTIALS or PCREF_AUTH_REFRESH_TOKEN. */
pcref_connection *peer_salesforce_connection(const peer *p, int32_t auth);

#endif
