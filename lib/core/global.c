/* pcref_init / pcref_shutdown (reference-counted, thread-safe; the first
 * and the last also set up and release libcurl) and the library version.
 * Nothing runs in constructors. */
#include <pthread.h>

#include "internal.h"
#include "pcref/version.h"

static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static int init_count;

int pcref__initialised(void)
{
	int n;
	pthread_mutex_lock(&init_lock);
	n = init_count;
	pthread_mutex_unlock(&init_lock);
	return n > 0;
}

int pcref_init(void)
{
	int n;
	pthread_mutex_lock(&init_lock);
	if (init_count == 0) {
		int rc = pcref__net_global_init();
		if (rc < 0) {
			pthread_mutex_unlock(&init_lock);
			return rc;
		}
	}
	n = ++init_count;
	pthread_mutex_unlock(&init_lock);
	return n;
}

int pcref_shutdown(void)
{
	int n;
	pthread_mutex_lock(&init_lock);
	if (init_count == 0) {
		pthread_mutex_unlock(&init_lock);
		return pcref__error(PCREF_ESTATE,
			"pcref_shutdown: called more often than pcref_init()");
	}
	n = --init_count;
	if (n == 0)
		pcref__net_global_cleanup();
	pthread_mutex_unlock(&init_lock);
	return n;
}

const char *pcref_version_string(void)
{
	return PCREF_VERSION_STRING;
}
