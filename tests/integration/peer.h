/* Start, call and stop the emulators of tests/peers/ from a C test program.
 *
 * An integration suite starts its emulator once (an unchecked fixture, so it
 * runs in the parent process and survives Check's forks), resets it before
 * each test (a checked fixture) and stops it at the end. The emulator is a
 * child process: SIGTERM ends it cleanly, and it also gets SIGTERM if the
 * test program dies first. */
#ifndef PCREF_TEST_PEER_H
#define PCREF_TEST_PEER_H

#include <sys/types.h>

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

#endif
